//! The SFU driver on the sans-IO `rtc` core: every hall's connection on ONE UDP port,
//! one task for all of them (`SfuConfig::udp_port`; docs/sfu-driver.md).
//!
//! In str0m's shape: the `machine` is a state machine — datagrams, commands and time
//! in, datagrams, events and its next deadline out, no socket, task or clock — and the
//! `port` is the small IO loop that owns the socket and runs it.
//! [`Sfu::start`](crate::Sfu::start) binds the port and spawns that loop; the
//! `handle`'s methods send it `command`s.
//!
//! Inside the machine, a datagram finds its connection through `demux` (remote
//! address, or the STUN USERNAME of a first check — `stun`); `conn` answers an offer
//! with the port's host candidates, `plan` adds the receive slots, `negotiate` reads
//! offers and `peer` says what every connection negotiates; the machine's `events`
//! turn connection events into [`SfuEvent`]s and its `renegotiate` applies a hall's new
//! offer in place. The `router` forwards a publisher's RTP into subscribers'
//! connections with the core [`Forwarder`](crate::Forwarder) (one per slot, choosing
//! among the simulcast layers of the stream `publish` describes); `feedback` carries keyframe
//! requests back to the publisher's right layer, `reports` takes halls' receiver
//! reports and REMBs (let through by `rtcpfwd`) into the forwarders, `slots`
//! changes what a slot shows; `stats` gathers per-peer statistics; `table` holds
//! the connections. Audio levels (RFC 6464) feed the router's `speakers`: one
//! [`SpeakerDetector`](crate::SpeakerDetector) per speaker group (a meeting).
//!
//! Between nodes, `node` relays streams over the same port (SRTP with our own
//! contexts, NACK, PLI, BYE) to routes on the watching node (the cascade).
//!
//! Not yet: RTX towards subscribers, TWCC, ICE-TCP.

mod command;
mod conn;
mod demux;
mod feedback;
mod front;
pub(crate) mod handle;
mod intercept;
mod machine;
mod nack;
pub(crate) mod negotiate;
mod node;
pub(crate) mod peer;
mod plan;
mod port;
mod publish;
pub(crate) mod relay;
mod reports;
mod router;
pub(crate) mod rtcpfwd;
pub(crate) mod shared;
mod slots;
mod speakers;
mod stats;
mod stun;
mod table;
pub(crate) mod tap;
#[cfg(test)]
mod tests;

pub use command::PortStats;
pub use nack::NackFigures;
pub use node::{NodeFigures, NodeKeys, RemoteStream, SrtpKey};
pub use peer::TrackCodec;
pub use router::RouterStats;
pub use tap::{RtpTap, MAX_TAP_AUDIO_SLOTS, TAP_AUDIO_PAYLOAD_TYPE, TAP_VIDEO_PAYLOAD_TYPE};

pub(crate) use command::Command;

use crate::config::SfuConfig;
use crate::event::SfuEvent;
use shared::Shared;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// Commands waiting for the driver at most; callers wait (`await`) beyond that.
const COMMAND_QUEUE: usize = 1024;
/// Events waiting for the caller at most; beyond that they are dropped and counted
/// (`PortStats::events_dropped`), statistics first.
const EVENT_QUEUE: usize = 4096;

/// What [`spawn`] started.
pub(crate) struct Spawned {
    /// Each worker's command channel.
    pub commands: Vec<mpsc::Sender<Command>>,
    /// The port's address.
    pub local: SocketAddr,
    /// Every worker's events.
    pub events: mpsc::Receiver<SfuEvent>,
    pub shared: Arc<Shared>,
}

/// Binds `config.bind_ip:port` (0: ephemeral) and spawns the workers (and, with
/// several, the front) on the current tokio runtime (the caller has validated
/// `config`). The error says which address could not be bound.
pub(crate) fn spawn(config: SfuConfig, port: u16) -> Result<Spawned, String> {
    let addr = SocketAddr::new(config.bind_ip, port);
    let (socket, local) = port::bind(addr).map_err(|e| format!("{addr}: {e}"))?;
    let socket = Arc::new(socket);
    let certificate = conn::certificate().map_err(|e| e.to_string())?;
    let workers = config.workers();
    let shared = Arc::new(Shared::new(workers));
    let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
    let now = Instant::now();
    let (peers, mut inboxes): (Vec<_>, Vec<_>) = if workers > 1 {
        (0..workers).map(|_| mpsc::channel(front::INBOX)).unzip()
    } else {
        (Vec::new(), Vec::new())
    };
    let mut commands = Vec::with_capacity(workers);
    for w in 0..workers {
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        commands.push(tx);
        let identity = (local, certificate.clone());
        let driver = machine::Driver::worker(identity, config.clone(), now, (w, shared.clone()));
        let links = (workers > 1).then(|| port::Links {
            inbox: inboxes.remove(0),
            peers: peers.clone(),
            shared: shared.clone(),
        });
        tokio::spawn(port::run(
            socket.clone(),
            driver,
            rx,
            events_tx.clone(),
            links,
        ));
    }
    if workers > 1 {
        tokio::spawn(front::run(socket, peers, shared.clone()));
    }
    Ok(Spawned {
        commands,
        local,
        events,
        shared,
    })
}
