//! The public async handle: [`Sfu::start`] spawns the owner task, methods send it commands.

use crate::config::{ConfigError, SfuConfig};
use crate::engine::{Command, Engine, Reply};
use crate::error::SfuError;
use crate::event::{PeerAnswer, PeerId, SfuEvent, SlotId};
use crate::StreamId;
use tokio::sync::{mpsc, oneshot};
use webrtc::peer_connection::RTCIceCandidateInit;

/// Capacity of the command queue into the owner task.
const COMMAND_QUEUE: usize = 1024;
/// Capacity of the event queue out of it; statistics are dropped first when it fills.
const EVENT_QUEUE: usize = 4096;

/// A remote ICE candidate as a browser's `RTCIceCandidate.toJSON()` gives it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IceCandidate {
    /// The `candidate:…` attribute.
    pub candidate: String,
    /// The m-line's media id.
    pub sdp_mid: Option<String>,
    /// The m-line's index.
    pub sdp_mline_index: Option<u16>,
    /// The ICE username fragment.
    pub username_fragment: Option<String>,
}

/// One change of a receive slot, for [`Sfu::apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotChange {
    /// Shows `track` in the slot, up to `max_layer` (as [`Sfu::subscribe`]).
    Show {
        /// The viewing peer.
        peer: PeerId,
        /// Its slot.
        slot: SlotId,
        /// The track shown.
        track: StreamId,
        /// The highest simulcast layer.
        max_layer: u8,
    },
    /// Changes the highest layer of what the slot shows (as [`Sfu::set_layer`]).
    Layer {
        /// The viewing peer.
        peer: PeerId,
        /// Its slot.
        slot: SlotId,
        /// The highest simulcast layer.
        max_layer: u8,
    },
    /// Empties the slot (as [`Sfu::unsubscribe`]).
    Clear {
        /// The viewing peer.
        peer: PeerId,
        /// Its slot.
        slot: SlotId,
    },
}

/// A handle to one SFU instance; cheap to clone. The instance stops (closing every
/// peer connection) when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct Sfu {
    commands: mpsc::Sender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

impl Sfu {
    /// Starts an instance on the current tokio runtime; events arrive on the receiver,
    /// which the caller must keep draining.
    pub fn start(config: SfuConfig) -> Result<(Self, mpsc::Receiver<SfuEvent>), ConfigError> {
        config.validate()?;
        let (commands, commands_rx) = mpsc::channel(COMMAND_QUEUE);
        let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
        Engine::spawn(config, commands_rx, events_tx);
        Ok((Self { commands }, events))
    }

    async fn call<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, SfuError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| SfuError::Stopped)?;
        answer.await.map_err(|_| SfuError::Stopped)?
    }

    /// Adds a hall from its SDP offer (its sending tracks and `recvonly` m-lines for the
    /// slots it wants); returns the answer and the negotiated slots.
    pub async fn add_peer(&self, peer: PeerId, offer: String) -> Result<PeerAnswer, SfuError> {
        self.call(|r| Command::AddPeer(peer, offer, r)).await
    }

    /// Applies a new offer from a connected hall to its existing connection (tracks
    /// added or removed, receive slots added): no new socket, no new DTLS handshake, its
    /// slots keep what they show. The answer lists all its slots, old ones first.
    /// `NotReady` while its first offer or another renegotiation is being applied.
    pub async fn renegotiate(&self, peer: PeerId, offer: String) -> Result<PeerAnswer, SfuError> {
        self.call(|r| Command::Renegotiate(peer, offer, r)).await
    }

    /// Adds a candidate the hall trickled.
    pub async fn add_ice_candidate(
        &self,
        peer: PeerId,
        candidate: IceCandidate,
    ) -> Result<(), SfuError> {
        let init = RTCIceCandidateInit {
            candidate: candidate.candidate,
            sdp_mid: candidate.sdp_mid,
            sdp_mline_index: candidate.sdp_mline_index,
            username_fragment: candidate.username_fragment,
            ..Default::default()
        };
        self.call(|r| Command::AddIceCandidate(peer, init, r)).await
    }

    /// Shows `track` in `slot` of `peer`, up to simulcast layer `max_layer` (0 lowest).
    /// Switching a slot to another track keeps its SSRC and numbering: no renegotiation.
    pub async fn subscribe(
        &self,
        peer: PeerId,
        slot: SlotId,
        track: StreamId,
        max_layer: u8,
    ) -> Result<(), SfuError> {
        self.call(|reply| Command::Subscribe {
            peer,
            slot,
            track,
            max_layer,
            reply,
        })
        .await
    }

    /// Empties a slot.
    pub async fn unsubscribe(&self, peer: PeerId, slot: SlotId) -> Result<(), SfuError> {
        self.call(|r| Command::Unsubscribe(peer, slot, r)).await
    }

    /// Changes the highest layer a slot may show (the hall's role changed).
    pub async fn set_layer(
        &self,
        peer: PeerId,
        slot: SlotId,
        max_layer: u8,
    ) -> Result<(), SfuError> {
        self.call(|r| Command::SetLayer(peer, slot, max_layer, r))
            .await
    }

    /// Applies many slot changes in one round trip to the owner task, in order; one
    /// result per change. A floor change in a meeting of 200 halls is one call, so
    /// every hall's slot switches within the same turn of the media loop.
    pub async fn apply(
        &self,
        changes: Vec<SlotChange>,
    ) -> Result<Vec<Result<(), SfuError>>, SfuError> {
        self.call(|r| Command::Apply(changes, r)).await
    }

    /// Asks the publisher of `track` for a keyframe on `layer` (throttled).
    pub async fn request_keyframe(&self, track: StreamId, layer: u8) -> Result<(), SfuError> {
        self.call(|r| Command::RequestKeyframe(track, layer, r))
            .await
    }

    /// Closes a hall's connection; its tracks are unpublished.
    pub async fn close_peer(&self, peer: PeerId) -> Result<(), SfuError> {
        self.call(|r| Command::ClosePeer(peer, r)).await
    }
}
