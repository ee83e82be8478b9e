//! The simulated network of the in-memory tests: the [`Driver`] at one address, halls at
//! others, datagrams carried between them at once, and a clock that moves only when
//! told, from one deadline to the next.

use super::client::Hall;
use crate::config::SfuConfig;
use crate::driver::command::Command;
use crate::driver::conn;
use crate::driver::machine::{Driver, Transmit};
use crate::driver::shared::Shared;
use crate::event::{MediaKind, PeerAnswer, PeerId, SfuEvent};
use crate::StreamId;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The SFU's address (no socket is bound: it only names the port in the SDP).
pub const SFU: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(198, 18, 0, 1)),
    3478,
);

/// The media address of the second node of [`Net::nodes`].
pub const SFU_B: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(198, 18, 0, 2)),
    3478,
);

/// The media address of the third node of [`Net::nodes`].
pub const SFU_C: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(198, 18, 0, 3)),
    3478,
);

/// What happens to the next media datagram between two nodes ([`Net::relay_fault`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// It is lost.
    Lose,
    /// A byte of its payload is changed on the way.
    Tamper,
}

/// The longest simulated time a test waits for anything.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The SFU, the halls and the clock.
pub struct Net {
    /// Simulated time.
    pub now: Instant,
    /// Worker 0 (the only one unless made with [`Net::workers`]).
    pub sfu: Driver,
    /// Workers 1.. (they share worker 0's port address).
    pub others: Vec<Driver>,
    /// Which worker carries each hall (worker 0 unless joined elsewhere).
    placed: Vec<(SocketAddr, usize)>,
    /// Halls by peer id.
    pub halls: Vec<(PeerId, Hall)>,
    /// Everything the SFU told its caller, in order.
    pub events: Vec<SfuEvent>,
    /// While set, the SFU's datagrams to this hall are lost.
    pub lose_to: Option<SocketAddr>,
    /// While set, this hall's datagrams to the SFU are lost.
    pub lose_from: Option<SocketAddr>,
    /// Each driver's node: its media address, its first driver (workers 0..), and
    /// which node it is.
    nodes: Vec<(SocketAddr, usize, usize)>,
    /// Each node's shared state (its front's table).
    shared: Vec<Arc<Shared>>,
    /// Done to the next media (SRTP, not SRTCP) datagram from one node to another
    /// (to [`relay_fault_to`](Self::relay_fault_to) if set).
    pub relay_fault: Option<Fault>,
    pub relay_fault_to: Option<SocketAddr>,
    /// Datagrams carried from one node to another.
    pub relay_datagrams: usize,
}

impl Net {
    /// `peer` sends media every 20 ms until its camera and microphone are published:
    /// the published tracks by kind, and the running number of its next media packet.
    pub fn publish(&mut self, peer: PeerId) -> (Vec<(MediaKind, StreamId)>, u32) {
        let mut n = 0;
        loop {
            let tracks: Vec<_> = self
                .events
                .iter()
                .filter_map(|e| match e {
                    SfuEvent::TrackPublished { kind, track, .. } => Some((*kind, *track)),
                    _ => None,
                })
                .collect();
            if tracks.len() >= 2 {
                return (tracks, n);
            }
            assert!(n < 50, "the publisher's tracks open");
            let now = self.now;
            self.hall(peer).send_media(now, n, false);
            n += 1;
            self.advance(Duration::from_millis(20));
        }
    }

    /// An SFU with `config` and no halls.
    pub fn new(config: SfuConfig) -> Self {
        Self::workers(config, 1)
    }

    /// An SFU of `n` workers with `config` and no halls.
    pub fn workers(config: SfuConfig, n: usize) -> Self {
        Self::nodes(config, &[n])
    }

    /// Nodes of `workers[i]` workers each, at [`SFU`], [`SFU_B`], [`SFU_C`]; drivers are
    /// numbered across nodes (node A's workers first).
    pub fn nodes(config: SfuConfig, workers: &[usize]) -> Self {
        let now = Instant::now();
        let certificate = conn::certificate().expect("a certificate");
        let mut drivers = Vec::new();
        let (mut nodes, mut shareds) = (Vec::new(), Vec::new());
        for (i, &n) in workers.iter().enumerate() {
            let addr = [SFU, SFU_B, SFU_C][i];
            let shared = Arc::new(Shared::new(n));
            let first = drivers.len();
            for w in 0..n {
                let identity = (addr, certificate.clone());
                drivers.push(Driver::worker(
                    identity,
                    config.clone(),
                    now,
                    (w, shared.clone()),
                ));
                nodes.push((addr, first, i));
            }
            shareds.push(shared);
        }
        let mut drivers = drivers.into_iter();
        Self {
            now,
            sfu: drivers.next().expect("one worker at least"),
            others: drivers.collect(),
            placed: Vec::new(),
            halls: Vec::new(),
            events: Vec::new(),
            lose_to: None,
            lose_from: None,
            nodes,
            shared: shareds,
            relay_fault: None,
            relay_fault_to: None,
            relay_datagrams: 0,
        }
    }

    /// The driver a datagram from another node to `to` goes to, as the node's front
    /// routes it.
    fn front(&self, to: SocketAddr, from: SocketAddr, datagram: &[u8]) -> Option<usize> {
        let &(_, first, node) = self.nodes.iter().find(|n| n.0 == to)?;
        let w = self.shared[node]
            .front
            .as_ref()
            .and_then(|f| f.route(from, datagram));
        Some(first + w.unwrap_or(0))
    }

    /// Worker `w`.
    pub fn worker(&mut self, w: usize) -> &mut Driver {
        match w {
            0 => &mut self.sfu,
            w => &mut self.others[w - 1],
        }
    }

    fn drivers(&mut self) -> impl Iterator<Item = &mut Driver> {
        std::iter::once(&mut self.sfu).chain(self.others.iter_mut())
    }

    /// Gives worker 0 `command` and returns its answer.
    pub fn ask<T>(&mut self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> T {
        self.ask_on(0, command)
    }

    /// Gives worker `w` `command` and returns its answer.
    pub fn ask_on<T>(
        &mut self,
        w: usize,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> T {
        let (reply, mut answer) = oneshot::channel();
        let now = self.now;
        self.worker(w).handle_command(now, command(reply));
        self.carry();
        answer
            .try_recv()
            .expect("a command is answered in its turn")
    }

    /// Adds `hall` as `peer`: its offer, the SFU's answer, applied; not yet connected.
    pub fn join(&mut self, peer: PeerId, hall: Hall) -> PeerAnswer {
        self.join_on(0, peer, hall)
    }

    /// Adds `hall` as `peer` on worker `w`.
    pub fn join_on(&mut self, w: usize, peer: PeerId, mut hall: Hall) -> PeerAnswer {
        let offer = hall.offer(self.now);
        let answer = self
            .ask_on(w, |reply| Command::AddPeer { peer, offer, reply })
            .expect("the SFU answers");
        hall.accept(self.now, answer.sdp.clone());
        self.placed.push((hall.addr, w));
        self.halls.push((peer, hall));
        self.carry();
        answer
    }

    /// The hall of `peer`.
    pub fn hall(&mut self, peer: PeerId) -> &mut Hall {
        let (_, hall) = self
            .halls
            .iter_mut()
            .find(|(p, _)| *p == peer)
            .expect("a hall of the test");
        hall
    }

    /// Carries datagrams both ways until nobody has anything to send, and collects the
    /// SFU's events; no time passes.
    pub fn carry(&mut self) {
        loop {
            let mut moved = false;
            let now = self.now;
            // The front: a hall's datagrams to the worker carrying it.
            let mut inbound = Vec::new();
            for (_, hall) in &mut self.halls {
                while let Some(out) = hall.pc.poll_write() {
                    if self.lose_from != Some(hall.addr) {
                        inbound.push((hall.addr, out.message));
                    }
                }
            }
            for (from, datagram) in inbound {
                let w = self.placed.iter().find(|p| p.0 == from).map_or(0, |p| p.1);
                self.worker(w).handle_datagram(now, from, datagram);
                moved = true;
            }
            let mut out = Vec::new();
            let mut relays = Vec::new();
            let nodes = self.nodes.clone();
            for (i, d) in self.drivers().enumerate() {
                let (addr, first, _) = nodes[i];
                while let Some(t) = d.poll_transmit() {
                    out.push((addr, t));
                }
                while let Some((to, batch)) = d.poll_relay() {
                    relays.push((first + to, batch));
                }
            }
            for (to, batch) in relays {
                self.worker(to).handle_relays(now, batch);
                moved = true;
            }
            for (from, mut t) in out {
                if let Some(d) = self.front(t.to, from, &t.contents) {
                    self.relay_datagrams += 1;
                    let media = t.contents.get(1).is_some_and(|b| !(192..=223).contains(b))
                        && self.relay_fault_to.is_none_or(|to| to == t.to);
                    match self.relay_fault.filter(|_| media) {
                        Some(Fault::Lose) => {
                            self.relay_fault = None;
                            continue;
                        }
                        Some(Fault::Tamper) => {
                            self.relay_fault = None;
                            let last = t.contents.len() - 20;
                            t.contents[last] ^= 0x40;
                        }
                        None => {}
                    }
                    self.worker(d).handle_datagram(now, from, t.contents);
                    moved = true;
                    continue;
                }
                moved |= self.deliver(from, t);
            }
            for (_, hall) in &mut self.halls {
                hall.drain(self.now);
            }
            let mut events = Vec::new();
            for d in self.drivers() {
                events.extend(std::iter::from_fn(|| d.poll_event()));
            }
            self.events.extend(events);
            if !moved {
                return;
            }
        }
    }

    /// Hands a datagram the node at `from` sent to its hall (false: lost, or no such
    /// hall).
    pub fn deliver(&mut self, from: SocketAddr, t: Transmit) -> bool {
        if self.lose_to == Some(t.to) {
            return false;
        }
        let Some((_, hall)) = self.halls.iter_mut().find(|(_, h)| h.addr == t.to) else {
            return false; // a hall that left: the datagram is lost
        };
        let transport = TransportContext {
            local_addr: hall.addr,
            peer_addr: from,
            transport_protocol: TransportProtocol::UDP,
            ecn: None,
        };
        let message = TaggedBytesMut {
            now: self.now,
            transport,
            message: t.contents,
        };
        let _ = hall.pc.handle_read(message);
        true
    }

    /// Lets `span` of simulated time pass, stopping at every deadline of the SFU and the
    /// halls on the way.
    pub fn advance(&mut self, span: Duration) {
        let until = self.now + span;
        loop {
            self.carry();
            let halls = self
                .halls
                .iter_mut()
                .filter_map(|(_, h)| h.pc.poll_timeout());
            let sfu = std::iter::once(&self.sfu).chain(&self.others);
            let next = halls.chain(sfu.filter_map(Driver::poll_timeout)).min();
            // At least a millisecond a step, so nothing due "now" again stalls the clock.
            let next = next.map_or(until, |t| t.max(self.now + Duration::from_millis(1)));
            self.now = next.min(until);
            let now = self.now;
            for d in self.drivers() {
                d.handle_timeout(now);
            }
            for (_, hall) in &mut self.halls {
                let _ = hall.pc.handle_timeout(self.now);
            }
            if self.now >= until {
                self.carry();
                return;
            }
        }
    }

    /// Advances time in steps of 10 ms until `done` holds; false after [`PATIENCE`].
    pub fn run_until(&mut self, mut done: impl FnMut(&mut Self) -> bool) -> bool {
        let give_up = self.now + PATIENCE;
        while self.now < give_up {
            if done(self) {
                return true;
            }
            self.advance(Duration::from_millis(10));
        }
        done(self)
    }

    /// Runs until every hall and the SFU say the halls are connected.
    pub fn connect_all(&mut self) {
        let peers: Vec<PeerId> = self.halls.iter().map(|(p, _)| *p).collect();
        let up = self.run_until(|net| {
            net.halls.iter().all(|(_, h)| h.connected)
                && peers
                    .iter()
                    .all(|p| net.events.contains(&SfuEvent::PeerConnected(*p)))
        });
        assert!(
            up,
            "every hall connects within {PATIENCE:?} of simulated time"
        );
    }
}
