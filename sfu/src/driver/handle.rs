//! The public async handle: [`Sfu::start`] binds the media port and spawns its task,
//! methods send it commands.

use crate::config::{ConfigError, SfuConfig};
use crate::driver::{self, Command, PortStats};
use crate::error::SfuError;
use crate::event::{IceCandidate, PeerAnswer, PeerId, SfuEvent, SlotChange, SlotId, SpeakerGroup};
use crate::StreamId;
use std::net::SocketAddr;
use tokio::sync::{mpsc, oneshot};

/// A handle to one SFU instance; cheap to clone. The instance stops (closing every
/// peer connection) when the last handle is dropped.
#[derive(Clone)]
pub struct Sfu {
    commands: mpsc::Sender<Command>,
    local: SocketAddr,
}

impl std::fmt::Debug for Sfu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sfu({})", self.local)
    }
}

impl Sfu {
    /// Binds the media port (`udp_port` on `bind_ip`; a port in use is a
    /// `ConfigError::Bind`) and starts the instance on the current tokio runtime; events
    /// arrive on the receiver, which the caller must keep draining.
    pub fn start(config: SfuConfig) -> Result<(Self, mpsc::Receiver<SfuEvent>), ConfigError> {
        config.validate()?;
        let port = config.udp_port;
        let (commands, local, events) = driver::spawn(config, port).map_err(ConfigError::Bind)?;
        tracing::info!(addr = %local, "sfu: every hall's media on one UDP port");
        Ok((Self { commands, local }, events))
    }

    /// The UDP port every hall's media uses.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Adds a hall from its SDP offer (its sending tracks and `recvonly` m-lines for the
    /// slots it wants); returns the answer and the negotiated slots. Its connection
    /// comes up when the hall applies the answer.
    pub async fn add_peer(&self, peer: PeerId, offer: String) -> Result<PeerAnswer, SfuError> {
        self.call(|reply| Command::AddPeer { peer, offer, reply })
            .await?
    }

    /// Applies a new offer from a connected hall to its existing connection (tracks
    /// added or removed, receive slots added, an ICE restart): no new DTLS handshake, its
    /// slots keep what they show. The answer lists all its slots, old ones first.
    pub async fn renegotiate(&self, peer: PeerId, offer: String) -> Result<PeerAnswer, SfuError> {
        self.call(|reply| Command::Renegotiate { peer, offer, reply })
            .await?
    }

    /// Adds a candidate the hall trickled (the end-of-candidates marker is accepted).
    pub async fn add_ice_candidate(
        &self,
        peer: PeerId,
        candidate: IceCandidate,
    ) -> Result<(), SfuError> {
        self.call(|reply| Command::AddIceCandidate {
            peer,
            candidate,
            reply,
        })
        .await?
    }

    /// Shows `track` in `slot` of `peer` from the track's next keyframe, on the best of
    /// its simulcast layers up to `max_layer` (0 lowest) that arrives and the link
    /// carries. Switching a slot to another track keeps its SSRC and numbering: no
    /// renegotiation.
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
        .await?
    }

    /// Empties a slot: nothing more is sent on it (its numbering is kept for its next
    /// subscription).
    pub async fn unsubscribe(&self, peer: PeerId, slot: SlotId) -> Result<(), SfuError> {
        self.call(|reply| Command::Unsubscribe { peer, slot, reply })
            .await?
    }

    /// Changes the highest layer a slot may show (the hall's role changed); the slot
    /// keeps its source and moves on the new layer's next keyframe.
    pub async fn set_layer(
        &self,
        peer: PeerId,
        slot: SlotId,
        max_layer: u8,
    ) -> Result<(), SfuError> {
        self.call(|reply| Command::SetLayer {
            peer,
            slot,
            max_layer,
            reply,
        })
        .await?
    }

    /// Applies many slot changes in one round trip to the media task, in order; one
    /// result per change. A floor change in a meeting of 200 halls is one call, so
    /// every hall's slot switches within the same turn of the media loop.
    pub async fn apply(
        &self,
        changes: Vec<SlotChange>,
    ) -> Result<Vec<Result<(), SfuError>>, SfuError> {
        self.call(|reply| Command::Apply { changes, reply }).await
    }

    /// Asks the publisher of `track` for a keyframe on `layer` (throttled per layer).
    pub async fn request_keyframe(&self, track: StreamId, layer: u8) -> Result<(), SfuError> {
        self.call(|reply| Command::RequestKeyframe {
            track,
            layer,
            reply,
        })
        .await?
    }

    /// Puts a hall in a speaker group, e.g. one per meeting: the SFU finds one active
    /// speaker per group and names the group in `ActiveSpeakerChanged`. A hall is in the
    /// default group until placed; moved while speaking, its old group announces
    /// nobody. Place it right after `add_peer`, before its media flows.
    pub async fn set_speaker_group(
        &self,
        peer: PeerId,
        group: SpeakerGroup,
    ) -> Result<(), SfuError> {
        self.call(|reply| Command::SetSpeakerGroup { peer, group, reply })
            .await?
    }

    /// Closes a hall's connection: its tracks are unpublished (`TrackUnpublished`, their
    /// slots go dark), then `PeerDisconnected(ClosedByServer)`; `UnknownPeer` if it is
    /// not there.
    pub async fn close_peer(&self, peer: PeerId) -> Result<(), SfuError> {
        self.call(|reply| Command::ClosePeer { peer, reply })
            .await?
    }

    /// The media port's counters (datagrams, drops, forwarded packets).
    pub async fn port_stats(&self) -> Result<PortStats, SfuError> {
        self.call(|reply| Command::Stats { reply }).await
    }

    async fn call<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, SfuError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| SfuError::Stopped)?;
        answer.await.map_err(|_| SfuError::Stopped)
    }
}
