//! The public async handle: [`Sfu::start`] spawns the owner task, methods send it commands.

use crate::config::{ConfigError, SfuConfig};
use crate::engine::{Command, Engine, Reply};
use crate::error::SfuError;
use crate::event::{PeerAnswer, PeerId, SfuEvent, SlotId};
use crate::sansio::SansioSfu;
use crate::StreamId;
use std::net::SocketAddr;
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
#[derive(Clone)]
pub struct Sfu {
    driver: Driver,
}

/// Which driver carries the media (`SfuConfig::udp_mux_port`).
#[derive(Clone)]
enum Driver {
    /// The `webrtc` crate: an owner task, a socket and tasks per connection.
    Tasks(mpsc::Sender<Command>),
    /// The sans-IO `rtc` core on one muxed UDP port, one task for every connection.
    Muxed(SansioSfu),
}

impl std::fmt::Debug for Sfu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.driver {
            Driver::Tasks(_) => f.write_str("Sfu(webrtc)"),
            Driver::Muxed(m) => write!(f, "Sfu(muxed {})", m.local_addr()),
        }
    }
}

async fn call<T>(
    commands: &mpsc::Sender<Command>,
    command: impl FnOnce(Reply<T>) -> Command,
) -> Result<T, SfuError> {
    let (reply, answer) = oneshot::channel();
    commands
        .send(command(reply))
        .await
        .map_err(|_| SfuError::Stopped)?;
    answer.await.map_err(|_| SfuError::Stopped)?
}

impl Sfu {
    /// Starts an instance on the current tokio runtime; events arrive on the receiver,
    /// which the caller must keep draining. With `udp_mux_port` set, every hall's media
    /// goes through that one port (bound here: a port in use is a `ConfigError::Bind`).
    pub fn start(config: SfuConfig) -> Result<(Self, mpsc::Receiver<SfuEvent>), ConfigError> {
        config.validate()?;
        if let Some(port) = config.udp_mux_port {
            let (muxed, events) = SansioSfu::spawn(config, port).map_err(ConfigError::Bind)?;
            tracing::info!(addr = %muxed.local_addr(), "sfu: every hall's media on one UDP port");
            let driver = Driver::Muxed(muxed);
            return Ok((Self { driver }, events));
        }
        let (commands, commands_rx) = mpsc::channel(COMMAND_QUEUE);
        let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
        Engine::spawn(config, commands_rx, events_tx);
        let driver = Driver::Tasks(commands);
        Ok((Self { driver }, events))
    }

    /// The muxed UDP port's address, when the instance has one.
    pub fn mux_addr(&self) -> Option<SocketAddr> {
        match &self.driver {
            Driver::Tasks(_) => None,
            Driver::Muxed(m) => Some(m.local_addr()),
        }
    }

    /// Adds a hall from its SDP offer (its sending tracks and `recvonly` m-lines for the
    /// slots it wants); returns the answer and the negotiated slots.
    pub async fn add_peer(&self, peer: PeerId, offer: String) -> Result<PeerAnswer, SfuError> {
        match &self.driver {
            Driver::Tasks(c) => call(c, |r| Command::AddPeer(peer, offer, r)).await,
            Driver::Muxed(m) => m.add_peer(peer, offer).await,
        }
    }

    /// Applies a new offer from a connected hall to its existing connection (tracks
    /// added or removed, receive slots added): no new socket, no new DTLS handshake, its
    /// slots keep what they show. The answer lists all its slots, old ones first.
    /// `NotReady` while its first offer or another renegotiation is being applied.
    pub async fn renegotiate(&self, peer: PeerId, offer: String) -> Result<PeerAnswer, SfuError> {
        match &self.driver {
            Driver::Tasks(c) => call(c, |r| Command::Renegotiate(peer, offer, r)).await,
            Driver::Muxed(m) => m.renegotiate(peer, offer).await,
        }
    }

    /// Adds a candidate the hall trickled.
    pub async fn add_ice_candidate(
        &self,
        peer: PeerId,
        candidate: IceCandidate,
    ) -> Result<(), SfuError> {
        let commands = match &self.driver {
            Driver::Tasks(c) => c,
            Driver::Muxed(m) => return m.add_ice_candidate(peer, candidate).await,
        };
        let init = RTCIceCandidateInit {
            candidate: candidate.candidate,
            sdp_mid: candidate.sdp_mid,
            sdp_mline_index: candidate.sdp_mline_index,
            username_fragment: candidate.username_fragment,
            ..Default::default()
        };
        call(commands, |r| Command::AddIceCandidate(peer, init, r)).await
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
        let change = SlotChange::Show {
            peer,
            slot,
            track,
            max_layer,
        };
        self.apply_one(change).await
    }

    /// Empties a slot.
    pub async fn unsubscribe(&self, peer: PeerId, slot: SlotId) -> Result<(), SfuError> {
        self.apply_one(SlotChange::Clear { peer, slot }).await
    }

    /// Changes the highest layer a slot may show (the hall's role changed).
    pub async fn set_layer(
        &self,
        peer: PeerId,
        slot: SlotId,
        max_layer: u8,
    ) -> Result<(), SfuError> {
        let change = SlotChange::Layer {
            peer,
            slot,
            max_layer,
        };
        self.apply_one(change).await
    }

    async fn apply_one(&self, change: SlotChange) -> Result<(), SfuError> {
        let Driver::Tasks(c) = &self.driver else {
            let results = self.apply(vec![change]).await?;
            return results.into_iter().next().unwrap_or(Err(SfuError::Stopped));
        };
        match change {
            SlotChange::Show {
                peer,
                slot,
                track,
                max_layer,
            } => {
                call(c, |reply| Command::Subscribe {
                    peer,
                    slot,
                    track,
                    max_layer,
                    reply,
                })
                .await
            }
            SlotChange::Layer {
                peer,
                slot,
                max_layer,
            } => call(c, |r| Command::SetLayer(peer, slot, max_layer, r)).await,
            SlotChange::Clear { peer, slot } => {
                call(c, |r| Command::Unsubscribe(peer, slot, r)).await
            }
        }
    }

    /// Applies many slot changes in one round trip to the owner task, in order; one
    /// result per change. A floor change in a meeting of 200 halls is one call, so
    /// every hall's slot switches within the same turn of the media loop.
    pub async fn apply(
        &self,
        changes: Vec<SlotChange>,
    ) -> Result<Vec<Result<(), SfuError>>, SfuError> {
        match &self.driver {
            Driver::Tasks(c) => call(c, |r| Command::Apply(changes, r)).await,
            Driver::Muxed(m) => m.apply(changes).await,
        }
    }

    /// Asks the publisher of `track` for a keyframe on `layer` (throttled).
    pub async fn request_keyframe(&self, track: StreamId, layer: u8) -> Result<(), SfuError> {
        match &self.driver {
            Driver::Tasks(c) => call(c, |r| Command::RequestKeyframe(track, layer, r)).await,
            Driver::Muxed(m) => m.request_keyframe(track, layer).await,
        }
    }

    /// Closes a hall's connection; its tracks are unpublished.
    pub async fn close_peer(&self, peer: PeerId) -> Result<(), SfuError> {
        match &self.driver {
            Driver::Tasks(c) => call(c, |r| Command::ClosePeer(peer, r)).await,
            Driver::Muxed(m) => m.close_peer(peer).await,
        }
    }
}
