//! The IO loop of a media worker: one task runs the [`Driver`] state machine over the
//! UDP socket. The only worker reads the socket itself; with several, the
//! [`front`](super::front) reads it and hands each worker its datagrams, and workers
//! hand each other [`Relay`] batches (all send on the one socket).
//!
//! A turn: wait for a command, a readable socket, a writable one (only while datagrams
//! wait) or the driver's deadline; take one `now`; hand the driver the command, or a
//! batch of datagrams read into one pooled buffer, and the time; then send what it
//! polls out through the [`SendQueue`] (in batches, `sendmmsg` on Linux) and pass its
//! events to the caller. What a full send buffer does not take waits in the queue
//! (bounded, drops counted) while the loop goes on reading.

mod batch;

use super::command::{Command, PortStats};
use super::front::Inbox;
use super::machine::Driver;
use super::shared::Shared;
use crate::event::SfuEvent;
use batch::SendQueue;
use bytes::BytesMut;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// Datagrams read per turn at most, so timers and commands are not starved.
pub(super) const READ_BATCH: usize = 64;
/// Room for one datagram (larger ones are truncated and then fail to decrypt).
pub(super) const MAX_DATAGRAM: usize = 2048;
/// Receive pool: datagrams are split off one zeroed allocation of this size.
pub(super) const POOL: usize = 64 * 1024;
/// Inbox batches taken per turn at most (each up to [`READ_BATCH`] datagrams or a
/// worker's turn of relays).
const INBOX_BATCH: usize = 8;
/// Datagrams waiting for a full send buffer at most. The queue holds fewer than
/// [`batch::PER_CALL`] while the socket takes them; 4,096 is ~94 ms of the output at
/// N = 250 (43.5k datagrams/s), older than that is not worth sending late.
const SEND_QUEUE: usize = 4096;
/// Sleep when nothing at all is scheduled.
const IDLE: Duration = Duration::from_secs(3600);

/// Kernel receive buffer asked for the media socket. Every hall's media arrives on this
/// one socket, read by one task between turns of forwarding; the default (~208 KiB,
/// ~100 datagrams on loopback) overflowed in the 221-hall meeting (a quarter of the
/// halls' packets dropped at the socket). Linux caps the request at
/// `net.core.rmem_max`. The send buffer stays as it is: a larger one cost ~20% more CPU
/// per forwarded packet in sfu-bench, and what it refuses waits in the send queue.
const RECV_BUFFER: usize = 8 << 20;

/// Binds the media port at `addr` (non-blocking, with [`RECV_BUFFER`]); returns the
/// socket and its address.
pub fn bind(addr: SocketAddr) -> std::io::Result<(UdpSocket, SocketAddr)> {
    let socket = std::net::UdpSocket::bind(addr)?;
    socket.set_nonblocking(true)?;
    size_buffers(&socket);
    let local = socket.local_addr()?;
    Ok((UdpSocket::from_std(socket)?, local))
}

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

/// What woke the loop.
enum Wake {
    Command(Option<Command>),
    Readable,
    Inbox(Option<Inbox>),
    Other,
}

/// A worker's links to the front and the other workers (several workers only).
pub struct Links {
    /// What the front and the other workers hand this one.
    pub inbox: mpsc::Receiver<Inbox>,
    /// Every worker's inbox, by index (its own unused).
    pub peers: Vec<mpsc::Sender<Inbox>>,
    pub shared: Arc<Shared>,
}

impl Links {
    async fn recv(links: &mut Option<Links>) -> Option<Inbox> {
        match links {
            Some(l) => l.inbox.recv().await,
            None => std::future::pending().await,
        }
    }
}

/// The socket side of the port: what the driver does not know.
struct Io {
    socket: Arc<UdpSocket>,
    pool: BytesMut,
    /// Outgoing datagrams, sent in batches; the rest while the send buffer is full.
    out: SendQueue,
    events: mpsc::Sender<SfuEvent>,
    /// Events dropped because the caller's queue was full.
    events_dropped: u64,
    /// Time spent in turns (not waiting), for the busy ratio.
    busy: Duration,
}

/// Runs `driver` on `socket` until the command channel closes, then closes every
/// connection. Without `links` it reads the socket; with them, its inbox.
pub async fn run(
    socket: Arc<UdpSocket>,
    mut driver: Driver,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<SfuEvent>,
    mut links: Option<Links>,
) {
    let reads_socket = links.is_none();
    let mut io = Io {
        socket,
        pool: BytesMut::zeroed(POOL),
        out: SendQueue::new(SEND_QUEUE),
        events,
        events_dropped: 0,
        busy: Duration::ZERO,
    };
    loop {
        let deadline = driver
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + IDLE);
        let wake = tokio::select! {
            biased;
            command = commands.recv() => Wake::Command(command),
            ready = io.socket.readable(), if reads_socket => match ready {
                Ok(()) => Wake::Readable,
                Err(_) => Wake::Other,
            },
            inbox = Links::recv(&mut links), if !reads_socket => Wake::Inbox(inbox),
            // Only while datagrams wait for a full send buffer.
            _ = io.socket.writable(), if !io.out.is_empty() => Wake::Other,
            () = tokio::time::sleep_until(deadline.into()) => Wake::Other,
        };
        let now = Instant::now();
        match wake {
            Wake::Command(None) => break,
            Wake::Command(Some(Command::Stats { reply })) => {
                let _ = reply.send(io.stats(&driver));
            }
            Wake::Command(Some(command)) => driver.handle_command(now, command),
            Wake::Readable => io.read_batch(now, &mut driver),
            Wake::Inbox(None) => break,
            Wake::Inbox(Some(first)) => {
                take(now, &mut driver, first);
                // What else waits, up to a bound, in the same turn.
                for _ in 1..INBOX_BATCH {
                    let Some(Ok(more)) = links.as_mut().map(|l| l.inbox.try_recv()) else {
                        break;
                    };
                    take(now, &mut driver, more);
                }
            }
            Wake::Other => {}
        }
        driver.handle_timeout(now);
        // Relays first, so the other workers encrypt and send their share while this
        // one does its own; then what the turn's end (removed connections) adds.
        if let Some(links) = &links {
            hand_relays(&mut driver, links);
        }
        io.transmit(&mut driver);
        if let Some(links) = &links {
            hand_relays(&mut driver, links);
        }
        io.deliver(&mut driver);
        io.busy += now.elapsed();
    }
    driver.close();
}

/// Feeds the driver what its inbox held.
fn take(now: Instant, driver: &mut Driver, inbox: Inbox) {
    match inbox {
        Inbox::Datagrams(datagrams) => {
            for (from, datagram) in datagrams {
                driver.handle_datagram(now, from, datagram);
            }
        }
        Inbox::Relays(relays) => driver.handle_relays(now, relays),
    }
}

/// Hands the driver's relay batches to the other workers (a full inbox drops the
/// batch, counted).
fn hand_relays(driver: &mut Driver, links: &Links) {
    while let Some((to, batch)) = driver.poll_relay() {
        let Some(peer) = links.peers.get(to) else {
            continue;
        };
        if peer.try_send(Inbox::Relays(batch)).is_err() {
            links.shared.relay_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Io {
    /// Reads what the socket has (at most [`READ_BATCH`] datagrams) into the driver.
    fn read_batch(&mut self, now: Instant, driver: &mut Driver) {
        for _ in 0..READ_BATCH {
            if self.pool.len() < MAX_DATAGRAM {
                self.pool = BytesMut::zeroed(POOL);
            }
            match self.socket.try_recv_from(&mut self.pool[..MAX_DATAGRAM]) {
                Ok((n, from)) => driver.handle_datagram(now, from, self.pool.split_to(n)),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::debug!(error = %e, "sfu: recv failed");
                    break;
                }
            }
        }
    }

    /// Sends what the driver has to send, a batch at a time.
    fn transmit(&mut self, driver: &mut Driver) {
        while let Some(t) = driver.poll_transmit() {
            if !self.out.push(t.to, t.contents) && self.out.dropped.is_power_of_two() {
                tracing::warn!(dropped = self.out.dropped, "sfu: send queue full");
            }
            if self.out.len() >= batch::PER_CALL {
                self.out.flush(&self.socket);
            }
        }
        self.out.flush(&self.socket);
    }

    /// Hands the driver's events to the caller; statistics are the first thing dropped
    /// when the caller falls behind, anything is once its queue is full.
    fn deliver(&mut self, driver: &mut Driver) {
        while let Some(event) = driver.poll_event() {
            let crowded = self.events.capacity() <= self.events.max_capacity() / 4;
            if crowded && matches!(event, SfuEvent::Stats(_)) {
                self.events_dropped += 1;
                continue;
            }
            if self.events.try_send(event).is_err() {
                self.events_dropped += 1;
            }
        }
    }

    /// The port's counters: the driver's and the socket's.
    fn stats(&self, driver: &Driver) -> PortStats {
        let mut stats = driver.stats();
        stats.datagrams_out = self.out.sent;
        stats.send_dropped = self.out.dropped + self.out.failed;
        stats.events_dropped = self.events_dropped;
        stats.busy = self.busy;
        stats
    }
}
