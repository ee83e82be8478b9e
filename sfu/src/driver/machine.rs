//! The driver as a state machine, in str0m's shape: datagrams, commands and time go in
//! with the `now` at which they happen; datagrams to send, events for the caller and
//! the next deadline come out. No socket, task or clock here: [`port`](super::port)
//! runs it over UDP, the tests in memory.
//!
//! A turn: [`handle_datagram`](Driver::handle_datagram),
//! [`handle_command`](Driver::handle_command) or [`handle_timeout`](Driver::handle_timeout),
//! then [`poll_transmit`](Driver::poll_transmit) until `None`,
//! [`poll_event`](Driver::poll_event) until `None`, and
//! [`poll_timeout`](Driver::poll_timeout) for when to call `handle_timeout` next.
//!
//! An input is carried through at once: a datagram goes into its connection (found by
//! [`Demux`]), which is then drained of its events and media, its RTP forwarded through
//! the [`Router`] straight into the subscribers' connections. Which connections have
//! something to send is marked in the [`Table`]; `poll_transmit` drains them one by one
//! and, when one is empty, refreshes its cached timeout if the turn fed it more than
//! forwarded RTP (or its interceptors say sending moved it). Connections that failed or
//! closed are removed once the turn's datagrams are out.
//!
//! The state machine owns every part and lends the children the parts each needs:
//! [`Commands`] carries out a command (a hall added, renegotiated or closed, a slot
//! changed) over the table, demultiplexer and router, [`events`] reads one connection's
//! `rtc` events, [`renegotiate`] applies a new offer or a trickled candidate to one
//! connection; what a turn means for the rest (events, routes, removal) is done here.

mod commands;
mod events;
mod renegotiate;

use super::command::{Command, PortStats};
use super::conn::Local;
use super::demux::{ConnIndex, Demux};
use super::nack::NackCounts;
use super::relay::Relay;
use super::router::Router;
use super::shared::{Shared, WorkerIndex};
use super::table::Table;
use crate::config::SfuConfig;
use crate::event::SfuEvent;
use bytes::BytesMut;
use commands::Commands;
use events::Outcome;
use rtc::peer_connection::certificate::RTCCertificate;
use rtc::peer_connection::message::RTCMessage;
use rtc::rtcp;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// A datagram to send.
#[derive(Debug)]
pub struct Transmit {
    /// The hall's address.
    pub to: SocketAddr,
    /// The datagram.
    pub contents: BytesMut,
}

/// Every hall's connection and the media path between them, driven by `now`.
pub struct Driver {
    /// The addresses announced as host candidates: the port on `bind_ip`, or on each
    /// of `announced_ips` (1:1 NAT). Datagrams are handed to `rtc` as received on the
    /// first, so its ICE agent finds its local candidate.
    advertised: Vec<SocketAddr>,
    /// The DTLS certificate of every connection ([`conn::certificate`](super::conn::certificate)).
    certificate: RTCCertificate,
    config: SfuConfig,
    table: Table,
    demux: Demux,
    router: Router,
    /// Connections to remove at the end of the turn (failed or closed).
    doomed: Vec<ConnIndex>,
    /// Datagrams in and unrouted (the port adds what it counts itself).
    stats: PortStats,
    /// When the next [`SfuEvent::Stats`] round (and layer-rate refresh) is due.
    next_stats: Instant,
    /// Events for the caller, oldest first.
    events: VecDeque<SfuEvent>,
    /// Connections `poll_transmit` is draining, and how far it got.
    writing: Vec<ConnIndex>,
    cursor: usize,
    /// Connections whose timeout is due (reused, no allocation per turn).
    due: Vec<ConnIndex>,
    /// The `now` of the latest input.
    now: Instant,
    /// What every connection's NACK interceptors counted.
    nacks: NackCounts,
}

impl Driver {
    /// Worker `index` of an SFU whose workers share `shared`: its connections announce
    /// `local` (or the configured public addresses on its port) and present
    /// `certificate`, starting at `now`.
    pub fn worker(
        (local, certificate): (SocketAddr, RTCCertificate),
        config: SfuConfig,
        now: Instant,
        (index, shared): (WorkerIndex, Arc<Shared>),
    ) -> Self {
        let demux = Demux::for_worker(&shared, index);
        let router = Router::new(config.keyframe_throttle, index, shared);
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
        Self {
            next_stats: now + config.stats_interval,
            advertised,
            certificate,
            config,
            table: Table::default(),
            demux,
            router,
            doomed: Vec::new(),
            stats: PortStats::default(),
            events: VecDeque::new(),
            writing: Vec::new(),
            cursor: 0,
            due: Vec::new(),
            now,
            nacks: NackCounts::default(),
        }
    }

    /// A datagram from `from` arrived at `now`.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: BytesMut) {
        self.now = now;
        self.stats.datagrams_in += 1;
        if self.router.nodes.is_link(from) {
            let table = &mut self.table;
            self.router
                .handle_node_datagram(now, from, &datagram, table);
            return;
        }
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
        self.drain(now, index);
        self.table.touch(index);
    }

    /// Messages from another worker arrived at `now`.
    pub fn handle_relays(&mut self, now: Instant, relays: Vec<Relay>) {
        self.now = now;
        for relay in relays {
            self.router.handle_relay(now, relay, &mut self.table);
        }
    }

    /// The next batch of messages for another worker (after a turn's inputs).
    pub fn poll_relay(&mut self) -> Option<(WorkerIndex, Vec<Relay>)> {
        self.router.relays.pop()
    }

    /// Time is `now`: connections, keyframe requests, speaker detection and statistics
    /// that are due. Cheap when nothing is.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        let mut due = std::mem::take(&mut self.due);
        for (index, conn) in self.table.iter_mut() {
            if conn.timeout.is_some_and(|t| t <= now) {
                conn.timeout = None;
                if let Err(e) = conn.pc.handle_timeout(now) {
                    tracing::debug!(error = %e, peer = conn.id.0, "sfu: timeout failed");
                }
                due.push(index);
            }
        }
        for &index in &due {
            self.drain(now, index);
            self.table.touch(index);
        }
        due.clear();
        self.due = due;
        if self.router.poll_timeout().is_some_and(|t| t <= now) {
            self.router.handle_timeout(now, &mut self.table);
        }
        if self.next_stats <= now {
            self.next_stats = now + self.config.stats_interval;
            self.publish_stats(now);
        }
    }

    /// The next datagram to send; `None` once everything of this turn is out (the
    /// connections that failed or closed are then removed).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(relayed) = self.router.nodes.out.pop_front() {
            return Some(relayed);
        }
        loop {
            if self.cursor >= self.writing.len() {
                self.table.writes.take(&mut self.writing);
                self.cursor = 0;
                if self.writing.is_empty() {
                    self.reap();
                    return None;
                }
            }
            let index = self.writing[self.cursor];
            let Some(conn) = self.table.get_mut(index) else {
                self.cursor += 1;
                continue;
            };
            if let Some(out) = conn.pc.poll_write() {
                let to = out.transport.peer_addr;
                self.demux.confirm(index, to, &out.message);
                return Some(Transmit {
                    to,
                    contents: out.message,
                });
            }
            // Forwarding alone moves no deadline unless the interceptors say so.
            let moved = conn.deadline.take();
            if std::mem::take(&mut conn.fed) || moved {
                conn.timeout = conn.pc.poll_timeout();
            }
            self.cursor += 1;
        }
    }

    /// The next event for the caller.
    pub fn poll_event(&mut self) -> Option<SfuEvent> {
        self.flush_router_events();
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due (the latest `now` while
    /// datagrams wait for [`poll_transmit`](Self::poll_transmit)).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let relaying = !self.router.nodes.out.is_empty();
        if relaying || self.cursor < self.writing.len() || !self.table.writes.is_empty() {
            return Some(self.now);
        }
        let conns = self.table.next_timeout();
        let media = self.router.poll_timeout();
        conns
            .into_iter()
            .chain(media)
            .chain([self.next_stats])
            .min()
    }

    /// The counters of the state machine: connections, addresses, datagrams in and
    /// unrouted, the media path (the port adds what it sent and dropped).
    pub fn stats(&self) -> PortStats {
        let mut stats = self.stats;
        stats.connections = self.table.len();
        stats.addresses = self.demux.addresses();
        stats.router = self.router.stats;
        stats.nacks = self.nacks.read();
        stats.nodes = self.router.nodes.figures;
        let routes = self.router.routes.values();
        stats.mirrors = routes.filter(|r| r.publisher().is_none()).count();
        stats.streams = self.router.routes.len() - stats.mirrors;
        stats.workers = 1;
        stats
    }

    /// Closes every connection (the SFU stops).
    pub fn close(&mut self) {
        for (_, conn) in self.table.iter_mut() {
            let _ = conn.pc.close();
        }
    }

    /// Carries out one command at `now`; its answer goes back on its reply channel
    /// ([`Commands`], given the parts it may change; the counters are read here).
    pub fn handle_command(&mut self, now: Instant, command: Command) {
        if let Command::Stats { reply } = command {
            let _ = reply.send(self.stats());
            return;
        }
        let commands = Commands {
            local: Local {
                config: &self.config,
                advertised: &self.advertised,
                certificate: &self.certificate,
                nacks: &self.nacks,
            },
            table: &mut self.table,
            demux: &mut self.demux,
            router: &mut self.router,
            doomed: &mut self.doomed,
            events: &mut self.events,
        };
        commands.handle(now, command);
    }

    /// Handles every pending `rtc` event of connection `index` ([`events::read`]).
    fn drain_events(&mut self, now: Instant, index: ConnIndex) {
        while let Some(conn) = self.table.get_mut(index) {
            let Some(event) = conn.pc.poll_event() else {
                return;
            };
            let (peer, shared) = (conn.id, &self.router.shared);
            match events::read(conn, event, shared) {
                Some(Outcome::Tell(event)) => self.emit(event),
                Some(Outcome::Remove(event)) => {
                    self.emit(event);
                    self.doom(index);
                }
                Some(Outcome::Layer {
                    track,
                    audio_level_id,
                    published,
                }) => {
                    let publisher = (index, peer);
                    self.router
                        .open_layer(now, publisher, &track, audio_level_id);
                    self.events.extend(published);
                }
                None => {}
            }
        }
    }

    /// Events and media of connection `index`, just fed.
    fn drain(&mut self, now: Instant, index: ConnIndex) {
        self.drain_events(now, index);
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

    /// Publishes every connected hall's statistics and refreshes the layer selectors.
    fn publish_stats(&mut self, now: Instant) {
        for stats in super::stats::collect(now, &mut self.table, &mut self.router) {
            self.emit(SfuEvent::Stats(stats));
        }
    }

    /// Hands an event to the caller.
    fn emit(&mut self, event: SfuEvent) {
        self.events.push_back(event);
    }

    /// Hands the router's events (unpublished tracks, speaker changes) to the caller.
    fn flush_router_events(&mut self) {
        commands::flush_router_events(&mut self.router, &mut self.events);
    }

    /// Removes connection `index` at the end of the turn ([`commands::doom`]).
    fn doom(&mut self, index: ConnIndex) {
        let (table, router) = (&self.table, &mut self.router);
        commands::doom(index, table, router, &mut self.doomed, &mut self.events);
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
