//! A prototype SFU driver on the sans-IO `rtc` core: every hall's connection on ONE UDP
//! port, one task for all of them (feature `sansio`; see docs/sfu-sansio.md).
//!
//! [`SansioSfu::start`] binds the port and spawns the [`driver`] task, which owns the
//! socket, every `RTCPeerConnection` and the media path; the handle's methods send it
//! [`command`]s. A datagram finds its connection through [`demux`] (remote address, or
//! the STUN USERNAME of a first check — [`stun`]); [`conn`] answers an offer with the
//! port's host candidate; [`events`] turns connection events into [`SfuEvent`]s; the
//! [`router`] forwards a publisher's RTP into subscribers' connections with the core
//! [`Forwarder`](crate::Forwarder), [`feedback`] carries keyframe requests back to the
//! publisher; [`table`] holds the connections.
//!
//! Not yet: simulcast layers, RTX/NACK relaying, TWCC/REMB, ICE-TCP, renegotiation,
//! ICE restart, statistics events.

mod command;
mod conn;
mod demux;
mod driver;
mod events;
mod feedback;
mod router;
mod stun;
mod table;

pub use command::SansioStats;
pub use router::RouterStats;

use crate::config::SfuConfig;
use crate::event::{PeerAnswer, PeerId, SfuEvent, SlotId};
use crate::{SfuError, StreamId};
use command::Command;
use std::net::SocketAddr;
use tokio::sync::{mpsc, oneshot};

/// Handle to a running muxed-port SFU; cheap to clone.
#[derive(Clone)]
pub struct SansioSfu {
    commands: mpsc::UnboundedSender<Command>,
    local: SocketAddr,
}

impl SansioSfu {
    /// Binds `config.bind_ip:port` (0: ephemeral) and spawns the driver on the current
    /// tokio runtime. Events come out of the returned receiver.
    pub async fn start(
        config: SfuConfig,
        port: u16,
    ) -> Result<(Self, mpsc::UnboundedReceiver<SfuEvent>), SfuError> {
        config
            .validate()
            .map_err(|e| SfuError::Webrtc(e.to_string()))?;
        let socket = tokio::net::UdpSocket::bind(SocketAddr::new(config.bind_ip, port))
            .await
            .map_err(|e| SfuError::NoPort(e.to_string()))?;
        let local = socket
            .local_addr()
            .map_err(|e| SfuError::NoPort(e.to_string()))?;
        let (events_tx, events) = mpsc::unbounded_channel();
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let driver = driver::Driver::new(socket, local, config, events_tx);
        tokio::spawn(driver.run(commands_rx));
        Ok((Self { commands, local }, events))
    }

    /// The muxed port every hall's media uses.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Answers a hall's offer; its connection comes up when the hall applies the answer.
    pub async fn add_peer(&self, peer: PeerId, offer: String) -> Result<PeerAnswer, SfuError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::AddPeer { peer, offer, reply })?;
        answer.await.map_err(|_| SfuError::Stopped)?
    }

    /// Shows `track` in `slot` of `peer` from the track's next keyframe.
    pub async fn subscribe(
        &self,
        peer: PeerId,
        slot: SlotId,
        track: StreamId,
    ) -> Result<(), SfuError> {
        let (reply, done) = oneshot::channel();
        self.send(Command::Subscribe {
            peer,
            slot,
            track,
            reply,
        })?;
        done.await.map_err(|_| SfuError::Stopped)?
    }

    /// Closes a hall's connection.
    pub fn remove_peer(&self, peer: PeerId) -> Result<(), SfuError> {
        self.send(Command::RemovePeer { peer })
    }

    /// The port's counters.
    pub async fn stats(&self) -> Result<SansioStats, SfuError> {
        let (reply, stats) = oneshot::channel();
        self.send(Command::Stats { reply })?;
        stats.await.map_err(|_| SfuError::Stopped)
    }

    fn send(&self, command: Command) -> Result<(), SfuError> {
        self.commands.send(command).map_err(|_| SfuError::Stopped)
    }
}
