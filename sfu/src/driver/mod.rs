//! The SFU driver on the sans-IO `rtc` core: every hall's connection on ONE
//! UDP port, one task for all of them (`SfuConfig::udp_port`; docs/sfu-driver.md).
//!
//! [`Sfu::start`](crate::Sfu::start) binds the port and spawns the [`port`] task, which owns the
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
#[path = "machine/events.rs"]
mod events;
mod feedback;
pub(crate) mod handle;
pub(crate) mod negotiate;
pub(crate) mod peer;
mod plan;
mod port;
mod publish;
#[path = "machine/renegotiate.rs"]
mod renegotiate;
mod reports;
mod router;
pub(crate) mod rtcpfwd;
mod slots;
mod stats;
mod stun;
mod table;

pub use command::PortStats;
pub use router::RouterStats;

pub(crate) use command::Command;

use crate::config::SfuConfig;
use crate::event::SfuEvent;
use std::net::SocketAddr;
use tokio::sync::mpsc;

/// Commands waiting for the driver at most; callers wait (`await`) beyond that.
const COMMAND_QUEUE: usize = 1024;
/// Events waiting for the caller at most; beyond that they are dropped and counted
/// (`PortStats::events_dropped`), statistics first.
const EVENT_QUEUE: usize = 4096;

/// Kernel receive buffer asked for the media socket. Every hall's media arrives on this
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

/// Binds `config.bind_ip:port` (0: ephemeral) and spawns the driver on the current
/// tokio runtime (the caller has validated `config`): the command sender, the port's
/// address and the events. The error says which address could not be bound.
pub(crate) fn spawn(
    config: SfuConfig,
    port: u16,
) -> Result<(mpsc::Sender<Command>, SocketAddr, mpsc::Receiver<SfuEvent>), String> {
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
    let driver = port::Driver::new(socket, (local, certificate), config, events_tx);
    tokio::spawn(driver.run(commands_rx));
    Ok((commands, local, events))
}
