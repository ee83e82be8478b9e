//! The event loop of the media port: one task owns the socket, every connection and the
//! media path, and runs turns driven by `now`.
//!
//! A turn: wait for a command, a readable socket or the earliest timeout → read a batch
//! of datagrams into one pooled buffer and `handle_read` each into its connection (found
//! by [`Demux`]) → `handle_timeout` what is due → for each connection that was fed,
//! drain its events and media, forwarding RTP through the [`Router`] straight into the
//! subscribers' connections → for each connection that has something to send,
//! `poll_write` into the [`SendQueue`], sent in batches (`sendmmsg` on Linux), then
//! refresh its cached `poll_timeout`. What a full send buffer does not take waits in
//! the queue (bounded, drops counted) while the loop goes on reading.

mod batch;

use super::command::{Command, PortStats};
use super::demux::{ConnIndex, Demux};
use super::events;
use super::router::Router;
use super::table::Table;
use crate::config::SfuConfig;
use crate::event::SfuEvent;
use batch::SendQueue;
use bytes::BytesMut;
use rtc::peer_connection::certificate::RTCCertificate;
use rtc::peer_connection::message::RTCMessage;
use rtc::rtcp;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// Datagrams read per turn at most, so timers and commands are not starved.
const READ_BATCH: usize = 64;
/// Room for one datagram (larger ones are truncated and then fail to decrypt).
const MAX_DATAGRAM: usize = 2048;
/// Receive pool: datagrams are split off one zeroed allocation of this size.
const POOL: usize = 64 * 1024;
/// Datagrams waiting for a full send buffer at most. The queue holds fewer than
/// [`batch::PER_CALL`] while the socket takes them; 4,096 is ~94 ms of the output at
/// N = 250 (43.5k datagrams/s), older than that is not worth sending late.
const SEND_QUEUE: usize = 4096;
/// Sleep when nothing at all is scheduled.
const IDLE: Duration = Duration::from_secs(3600);

/// The owner of the media port.
pub struct Driver {
    pub(super) socket: UdpSocket,
    /// The addresses announced as host candidates: the port on `bind_ip`, or on each
    /// of `announced_ips` (1:1 NAT). Datagrams are handed to `rtc` as received on the
    /// first, so its ICE agent finds its local candidate.
    pub(super) advertised: Vec<SocketAddr>,
    /// The DTLS certificate of every connection ([`conn::certificate`](super::conn::certificate)).
    pub(super) certificate: RTCCertificate,
    pub(super) config: SfuConfig,
    pub(super) table: Table,
    pub(super) demux: Demux,
    pub(super) router: Router,
    pub(super) events: mpsc::Sender<SfuEvent>,
    /// Next published stream id.
    pub(super) next_stream: u64,
    /// Connections to remove at the end of the turn (failed or closed).
    pub(super) doomed: Vec<ConnIndex>,
    pub(super) stats: PortStats,
    /// When the next [`SfuEvent::Stats`] round (and layer-rate refresh) is due.
    next_stats: Instant,
    pool: BytesMut,
    /// Outgoing datagrams of the turn, sent in batches; the rest while the socket's send
    /// buffer is full.
    out: SendQueue,
    /// Reused index lists (no allocation per turn).
    list: Vec<ConnIndex>,
}

impl Driver {
    /// A driver owning `socket` (already bound to `local`).
    pub fn new(
        socket: UdpSocket,
        (local, certificate): (SocketAddr, RTCCertificate),
        config: SfuConfig,
        events: mpsc::Sender<SfuEvent>,
    ) -> Self {
        let router = Router::new(config.keyframe_throttle);
        let advertised = if config.announced_ips.is_empty() {
            vec![local]
        } else {
            let port = local.port();
            config
                .announced_ips
                .iter()
                .map(|&ip| SocketAddr::new(ip, port))
                .collect()
        };
        let next_stats = Instant::now() + config.stats_interval;
        Self {
            next_stats,
            socket,
            advertised,
            certificate,
            config,
            table: Table::default(),
            demux: Demux::default(),
            router,
            events,
            next_stream: 1,
            doomed: Vec::new(),
            stats: PortStats::default(),
            pool: BytesMut::zeroed(POOL),
            out: SendQueue::new(SEND_QUEUE),
            list: Vec::new(),
        }
    }

    /// Runs until the command channel closes.
    pub async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        loop {
            let deadline = self.next_deadline();
            tokio::select! {
                biased;
                command = commands.recv() => match command {
                    Some(c) => self.command(Instant::now(), c),
                    None => break,
                },
                ready = self.socket.readable() => {
                    if ready.is_ok() {
                        self.read_batch(Instant::now());
                    }
                }
                // Only while datagrams wait for a full send buffer.
                _ = self.socket.writable(), if !self.out.is_empty() => {}
                () = tokio::time::sleep_until(deadline.into()) => {}
            }
            let now = Instant::now();
            self.timeouts(now);
            self.drain(now);
            self.write();
            self.reap();
        }
        for (_, conn) in self.table.iter_mut() {
            let _ = conn.pc.close();
        }
    }

    fn next_deadline(&self) -> Instant {
        let conns = self.table.next_timeout();
        let media = self.router.poll_timeout();
        conns
            .into_iter()
            .chain(media)
            .chain([self.next_stats])
            .min()
            .unwrap_or_else(|| Instant::now() + IDLE)
    }

    fn read_batch(&mut self, now: Instant) {
        for _ in 0..READ_BATCH {
            if self.pool.len() < MAX_DATAGRAM {
                self.pool = BytesMut::zeroed(POOL);
            }
            match self.socket.try_recv_from(&mut self.pool[..MAX_DATAGRAM]) {
                Ok((n, from)) => {
                    let datagram = self.pool.split_to(n);
                    self.datagram(now, from, datagram);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::debug!(error = %e, "sfu: recv failed");
                    break;
                }
            }
        }
    }

    fn datagram(&mut self, now: Instant, from: SocketAddr, datagram: BytesMut) {
        self.stats.datagrams_in += 1;
        let index = match self.demux.route(from, &datagram) {
            Ok(i) => i,
            Err(why) => {
                let ufrag = super::stun::local_ufrag(&datagram);
                let head = datagram.get(..2).map(|h| u16::from_be_bytes([h[0], h[1]]));
                tracing::debug!(%from, ?why, ?ufrag, ?head, "sfu: datagram dropped");
                self.stats.unrouted += 1;
                return;
            }
        };
        let Some(conn) = self.table.get_mut(index) else {
            return;
        };
        let transport = TransportContext {
            local_addr: self.advertised[0],
            peer_addr: from,
            transport_protocol: TransportProtocol::UDP,
            ecn: None,
        };
        let message = TaggedBytesMut {
            now,
            transport,
            message: datagram,
        };
        if let Err(e) = conn.pc.handle_read(message) {
            tracing::debug!(error = %e, peer = conn.id.0, "sfu: datagram refused");
        }
        self.table.reads.mark(index);
        self.table.writes.mark(index);
    }

    fn timeouts(&mut self, now: Instant) {
        for (index, conn) in self.table.iter_mut() {
            if conn.timeout.is_some_and(|t| t <= now) {
                conn.timeout = None;
                if let Err(e) = conn.pc.handle_timeout(now) {
                    tracing::debug!(error = %e, peer = conn.id.0, "sfu: timeout failed");
                }
                self.list.push(index);
            }
        }
        for &index in &self.list {
            self.table.reads.mark(index);
            self.table.writes.mark(index);
        }
        self.list.clear();
        if self.router.poll_timeout().is_some_and(|t| t <= now) {
            self.router.handle_timeout(now, &mut self.table);
        }
        if self.next_stats <= now {
            self.next_stats = now + self.config.stats_interval;
            self.publish_stats(now);
        }
    }

    /// Events and media of every connection that was fed this turn.
    fn drain(&mut self, now: Instant) {
        let mut reads = std::mem::take(&mut self.list);
        self.table.reads.take(&mut reads);
        for &index in &reads {
            events::drain(self, index);
            while let Some(conn) = self.table.get_mut(index) {
                let Some(message) = conn.pc.poll_read() else {
                    break;
                };
                match message.message {
                    RTCMessage::RtpPacket(_, packet) => {
                        let Some(&track) = conn.track(packet.header.ssrc) else {
                            tracing::debug!(ssrc = packet.header.ssrc, "sfu: RTP of no open track");
                            continue;
                        };
                        let key = (track.stream, track.layer);
                        self.router.forward(now, key, &packet, &mut self.table);
                    }
                    RTCMessage::RtcpPacket(_, packets) => self.feedback(now, index, &packets),
                    _ => {}
                }
            }
        }
        reads.clear();
        self.list = reads;
    }

    /// A hall's RTCP that reached the application: keyframe requests for its slots,
    /// report blocks and REMBs for their layer choice and its statistics.
    fn feedback(&mut self, now: Instant, index: ConnIndex, packets: &[Box<dyn rtcp::Packet>]) {
        self.router
            .link_reports(now, index, packets, &mut self.table);
        for p in packets {
            if crate::driver::rtcpfwd::is_keyframe_request(p.as_ref()) {
                for ssrc in p.destination_ssrc() {
                    self.router
                        .keyframe_request(now, index, ssrc, &mut self.table);
                }
            }
        }
    }

    /// Sends what every touched connection has queued and refreshes its timeout.
    fn write(&mut self) {
        let mut writes = std::mem::take(&mut self.list);
        self.table.writes.take(&mut writes);
        for &index in &writes {
            while let Some(out) = self.table.get_mut(index).and_then(|c| c.pc.poll_write()) {
                let to = out.transport.peer_addr;
                self.demux.confirm(index, to, &out.message);
                if !self.out.push(to, out.message) && self.out.dropped.is_power_of_two() {
                    tracing::warn!(dropped = self.out.dropped, "sfu: send queue full");
                }
                if self.out.len() >= batch::PER_CALL {
                    self.out.flush(&self.socket);
                }
            }
            if let Some(conn) = self.table.get_mut(index) {
                conn.timeout = conn.pc.poll_timeout();
            }
        }
        self.out.flush(&self.socket);
        self.stats.datagrams_out = self.out.sent;
        writes.clear();
        self.list = writes;
    }

    /// Datagrams dropped on the way out: queue full while the send buffer was, or
    /// refused by the kernel (for `PortStats`, which lives in `command.rs`).
    pub(super) fn send_dropped(&self) -> u64 {
        self.out.dropped + self.out.failed
    }

    /// Removes the connections that failed or closed this turn.
    fn reap(&mut self) {
        for index in std::mem::take(&mut self.doomed) {
            if let Some(mut conn) = self.table.remove(index) {
                let _ = conn.pc.close();
            }
            self.demux.remove(index);
            self.router.remove_conn(index);
        }
    }
}
