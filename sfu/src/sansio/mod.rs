//! The muxed-port SFU driver on the sans-IO `rtc` core: every hall's connection on ONE
//! UDP port, one task for all of them (`SfuConfig::udp_port`; docs/sfu-sansio.md).
//!
//! [`SansioSfu::start`] binds the port and spawns the [`driver`] task, which owns the
//! socket, every `RTCPeerConnection` and the media path; the handle's methods send it
//! [`command`]s. A datagram finds its connection through [`demux`] (remote address, or
//! the STUN USERNAME of a first check — [`stun`]); [`conn`] answers an offer with the
//! port's host candidate; [`events`] turns connection events into [`SfuEvent`]s; the
//! [`router`] forwards a publisher's RTP into subscribers' connections with the core
//! [`Forwarder`](crate::Forwarder) (one per slot, choosing among the [`publish`]ed
//! stream's simulcast layers), [`feedback`] carries keyframe requests back to the
//! publisher's right layer, [`reports`] takes halls' receiver reports and REMBs into
//! the forwarders, [`stats`] publishes per-peer statistics; [`slots`] changes what a
//! slot shows (subscribe, unsubscribe, layer, unpublish); [`table`] holds the
//! connections. Audio levels (RFC 6464) feed the shared
//! [`SpeakerDetector`](crate::SpeakerDetector) in the router.
//!
//! A hall's new offer on its connection is [`renegotiate`]d in place.
//!
//! Not yet: RTX towards subscribers, TWCC, ICE-TCP.

mod command;
mod conn;
mod demux;
mod driver;
mod events;
mod feedback;
mod plan;
mod publish;
mod renegotiate;
mod reports;
mod router;
mod slots;
mod stats;
mod stun;
mod table;

pub use command::SansioStats;
pub use router::RouterStats;

use crate::config::SfuConfig;
use crate::event::{PeerAnswer, PeerId, SfuEvent, SlotId};
use crate::{IceCandidate, SfuError, SlotChange, StreamId};
use command::Command;
use std::net::SocketAddr;
use tokio::sync::{mpsc, oneshot};

/// Commands waiting for the driver at most; callers wait (`await`) beyond that.
const COMMAND_QUEUE: usize = 1024;
/// Events waiting for the caller at most; beyond that they are dropped and counted
/// (`SansioStats::events_dropped`), statistics first.
const EVENT_QUEUE: usize = 4096;

/// Kernel receive buffer asked for the muxed socket. Every hall's media arrives on this
/// one socket, read by one task between turns of forwarding; the default (~208 KiB,
/// ~100 datagrams on loopback) overflowed in the 221-hall meeting (a quarter of the
/// halls' packets dropped at the socket). Linux caps the request at
/// `net.core.rmem_max`. The send buffer stays as it is: a larger one cost ~20% more CPU
/// per forwarded packet in sfu-bench, and what it refuses waits in the driver's queue.
const RECV_BUFFER: usize = 8 << 20;

/// Asks for [`RECV_BUFFER`]; says so when the system gives much less.
fn size_buffers(socket: &std::net::UdpSocket) {
    let s = socket2::SockRef::from(socket);
    let _ = s.set_recv_buffer_size(RECV_BUFFER);
    // Linux reports twice what it grants (bookkeeping included).
    let recv = s.recv_buffer_size().unwrap_or(0);
    if recv < RECV_BUFFER / 4 {
        tracing::warn!(
            recv,
            "sfu: small UDP receive buffer on the media port; raise net.core.rmem_max \
             to 4194304 or more"
        );
    } else {
        tracing::info!(recv, "sfu: media port receive buffer");
    }
}

/// Handle to a running muxed-port SFU; cheap to clone.
#[derive(Clone)]
pub struct SansioSfu {
    commands: mpsc::Sender<Command>,
    local: SocketAddr,
}

impl SansioSfu {
    /// Binds `config.bind_ip:port` (0: ephemeral) and spawns the driver on the current
    /// tokio runtime. Events come out of the returned receiver.
    pub async fn start(
        config: SfuConfig,
        port: u16,
    ) -> Result<(Self, mpsc::Receiver<SfuEvent>), SfuError> {
        config
            .validate()
            .map_err(|e| SfuError::Webrtc(e.to_string()))?;
        Self::spawn(config, port).map_err(SfuError::NoPort)
    }

    /// [`start`](Self::start) without waiting (the caller is inside a tokio runtime and
    /// has validated `config`); the error says which address could not be bound.
    pub fn spawn(config: SfuConfig, port: u16) -> Result<(Self, mpsc::Receiver<SfuEvent>), String> {
        let addr = SocketAddr::new(config.bind_ip, port);
        let bind = || {
            let socket = std::net::UdpSocket::bind(addr)?;
            socket.set_nonblocking(true)?;
            size_buffers(&socket);
            let local = socket.local_addr()?;
            Ok::<_, std::io::Error>((tokio::net::UdpSocket::from_std(socket)?, local))
        };
        let (socket, local) = bind().map_err(|e| format!("{addr}: {e}"))?;
        let certificate = conn::certificate().map_err(|e| e.to_string())?;
        let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
        let (commands, commands_rx) = mpsc::channel(COMMAND_QUEUE);
        let driver = driver::Driver::new(socket, (local, certificate), config, events_tx);
        tokio::spawn(driver.run(commands_rx));
        Ok((Self { commands, local }, events))
    }

    /// The muxed port every hall's media uses.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Answers a hall's offer; its connection comes up when the hall applies the answer.
    pub async fn add_peer(&self, peer: PeerId, offer: String) -> Result<PeerAnswer, SfuError> {
        self.call(|reply| Command::AddPeer { peer, offer, reply })
            .await?
    }

    /// Applies a connected hall's new offer to its connection (tracks added or removed,
    /// slots added; the existing slots keep what they show); the answer lists every slot.
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
    /// its simulcast layers up to `max_layer` (0–2) that arrives and the link carries.
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

    /// Empties `slot` of `peer`: nothing more is sent on it (its numbering is kept for
    /// its next subscription).
    pub async fn unsubscribe(&self, peer: PeerId, slot: SlotId) -> Result<(), SfuError> {
        self.call(|reply| Command::Unsubscribe { peer, slot, reply })
            .await?
    }

    /// Changes the highest simulcast layer `slot` of `peer` may carry; the slot keeps
    /// its source and moves on the new layer's next keyframe.
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

    /// Applies slot changes in order, in one command (one turn of the driver); one
    /// result per change, as [`Sfu::apply`](crate::Sfu::apply).
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

    /// Closes a hall's connection without waiting for the driver (no error for an
    /// unknown peer); its tracks are unpublished.
    pub async fn remove_peer(&self, peer: PeerId) -> Result<(), SfuError> {
        self.send(Command::RemovePeer { peer }).await
    }

    /// Closes a hall's connection, as [`Sfu::close_peer`](crate::Sfu::close_peer): its
    /// tracks are unpublished (`TrackUnpublished`, their slots go dark), then
    /// `PeerDisconnected(ClosedByServer)`; `UnknownPeer` if it is not there.
    pub async fn close_peer(&self, peer: PeerId) -> Result<(), SfuError> {
        self.call(|reply| Command::ClosePeer { peer, reply })
            .await?
    }

    /// The port's counters.
    pub async fn stats(&self) -> Result<SansioStats, SfuError> {
        self.call(|reply| Command::Stats { reply }).await
    }

    async fn call<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, SfuError> {
        let (reply, answer) = oneshot::channel();
        self.send(command(reply)).await?;
        answer.await.map_err(|_| SfuError::Stopped)
    }

    async fn send(&self, command: Command) -> Result<(), SfuError> {
        self.commands
            .send(command)
            .await
            .map_err(|_| SfuError::Stopped)
    }
}
