//! A connection's interceptors as one element of `rtc`'s chain, so that an RTP packet
//! we send visits only the interceptors that read it.
//!
//! `rtc`'s chain (`rtc-interceptor`'s `chain.rs`) hands every message to every
//! interceptor in turn: per forwarded packet a `handle_write` and a `poll_write` on each
//! of the seven, each moving the message struct, though five of them only queue it (the
//! NACK generator, the TWCC receiver and the receiver reports act on what arrives; our
//! [`FeedbackForwarder`](super::rtcpfwd::FeedbackForwarder) on feedback that arrives; the
//! registry's no-op terminus ends inbound RTCP). [`Interceptors`] holds the same
//! interceptors in the same order, wire first, and walks them the way the chain does,
//! with one exception: an outgoing RTP packet goes through the stages that
//! [`record`](Stage::reads_sent_rtp) what is sent — the sender reports (packet and octet
//! counts) and the NACK responder (its retransmission buffer) — and past the others,
//! which would only have queued it. Everything else — what arrives, the RTCP we send,
//! what the interceptors make on their timers — goes through every stage, in order.
//! The skipped stages are not polled either unless a read, a timer or a binding may
//! have left them something (`dirty`): moving the message struct in and out of their
//! queues, and polling all of them, is what `rtc`'s chain spends (BENCHMARKS.md).
//! The registry puts its terminus after this element as before.
//!
//! It also tells the driver when sending moved the connection's deadline ([`Moved`]):
//! the sender reports arm their timer on the first packet sent, and nothing else on the
//! send path of a forwarded packet changes `poll_timeout`, so the driver asks `rtc` for
//! it after a turn that only forwarded into the connection just when this says so.

use rtc::interceptor::{Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::sansio::Protocol;
use rtc::shared::error::Error;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Set when an RTP packet we sent moved an interceptor's timeout; shared between the
/// chain (inside `rtc`) and the driver's connection.
#[derive(Debug, Clone, Default)]
pub struct Moved(Arc<AtomicBool>);

impl Moved {
    /// Whether a deadline moved since the last call (and clears it).
    pub fn take(&self) -> bool {
        self.0.swap(false, Ordering::Relaxed)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// One interceptor and whether it must see the RTP we send.
pub struct Stage {
    interceptor: Box<dyn Interceptor>,
    /// It records outgoing RTP (rather than only passing it on).
    reads_sent_rtp: bool,
}

impl Stage {
    /// An interceptor that records what is sent (sender reports, NACK responder).
    pub fn sending(interceptor: impl Interceptor + 'static) -> Self {
        Self {
            interceptor: Box::new(interceptor),
            reads_sent_rtp: true,
        }
    }

    /// An interceptor that only passes outgoing RTP on (it acts on what arrives, on
    /// RTCP, or on its timers).
    pub fn receiving(interceptor: impl Interceptor + 'static) -> Self {
        Self {
            interceptor: Box::new(interceptor),
            reads_sent_rtp: false,
        }
    }
}

/// The interceptors of a connection, wire first, as one chain element.
pub struct Interceptors {
    stages: Vec<Stage>,
    read_outs: VecDeque<TaggedPacket>,
    write_outs: VecDeque<TaggedPacket>,
    /// The messages between two stages (reused: no allocation per packet).
    belt: VecDeque<TaggedPacket>,
    moved: Moved,
    /// A stage may hold messages of its own (after a read, a timeout, a binding):
    /// `poll_write` must walk every stage. Sending alone leaves nothing behind.
    dirty: bool,
}

impl Interceptors {
    /// `stages` wire first, as the registry orders its slots; `moved` is set when
    /// sending moves a stage's timeout.
    pub fn new(stages: Vec<Stage>, moved: Moved) -> Self {
        Self {
            stages,
            read_outs: VecDeque::new(),
            write_outs: VecDeque::new(),
            belt: VecDeque::new(),
            moved,
            dirty: true,
        }
    }

    /// Runs the belt's messages up through every stage, wire to application.
    fn walk_read(&mut self) {
        for stage in &mut self.stages {
            let i = stage.interceptor.as_mut();
            for msg in self.belt.drain(..) {
                if let Err(e) = i.handle_read(msg) {
                    tracing::warn!(error = %e, "sfu: interceptor refused a packet");
                }
            }
            while let Some(msg) = i.poll_read() {
                self.belt.push_back(msg);
            }
        }
        self.read_outs.append(&mut self.belt);
    }

    /// Runs the belt's messages down, application to wire; outgoing RTP skips the
    /// stages that do not read it (and comes out ahead of what they make themselves).
    /// With `everywhere` false (only sent RTP on the belt, no stage dirty) a skipped
    /// stage is not even polled: it has nothing of its own.
    fn walk_write(&mut self, everywhere: bool) {
        for stage in self.stages.iter_mut().rev() {
            if !everywhere && !stage.reads_sent_rtp {
                continue;
            }
            let i = stage.interceptor.as_mut();
            for _ in 0..self.belt.len() {
                let Some(msg) = self.belt.pop_front() else {
                    break;
                };
                let rtp = matches!(msg.message.packet, Packet::Rtp(_));
                if rtp && !stage.reads_sent_rtp {
                    self.belt.push_back(msg);
                    continue;
                }
                let before = rtp.then(|| i.poll_timeout());
                if let Err(e) = i.handle_write(msg) {
                    tracing::warn!(error = %e, "sfu: interceptor refused a packet");
                }
                if before.is_some_and(|t| t != i.poll_timeout()) {
                    self.moved.set();
                }
            }
            while let Some(msg) = i.poll_write() {
                self.belt.push_back(msg);
            }
        }
        self.write_outs.append(&mut self.belt);
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for Interceptors {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Error> {
        self.dirty = true; // a NACK makes retransmissions, a report feedback
        self.belt.push_back(msg);
        self.walk_read();
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        if self.read_outs.is_empty() {
            self.walk_read();
        }
        self.read_outs.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Error> {
        let everywhere = self.dirty || !matches!(msg.message.packet, Packet::Rtp(_));
        self.dirty = false;
        self.belt.push_back(msg);
        self.walk_write(everywhere);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        if self.write_outs.is_empty() && self.dirty {
            self.dirty = false;
            self.walk_write(true);
        }
        self.write_outs.pop_front()
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        self.dirty = true; // reports, NACKs, feedback made on their timers
        for stage in &mut self.stages {
            stage.interceptor.handle_timeout(now)?;
        }
        Ok(())
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        let stages = self.stages.iter_mut();
        stages.filter_map(|s| s.interceptor.poll_timeout()).min()
    }

    fn close(&mut self) -> Result<(), Error> {
        self.dirty = true;
        for stage in &mut self.stages {
            stage.interceptor.close()?;
        }
        Ok(())
    }
}

impl Interceptor for Interceptors {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        self.dirty = true;
        for stage in &mut self.stages {
            stage.interceptor.bind_local_stream(info);
        }
    }

    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.dirty = true;
        for stage in &mut self.stages {
            stage.interceptor.unbind_local_stream(info);
        }
    }

    fn bind_remote_stream(&mut self, info: &StreamInfo) {
        self.dirty = true;
        for stage in &mut self.stages {
            stage.interceptor.bind_remote_stream(info);
        }
    }

    fn unbind_remote_stream(&mut self, info: &StreamInfo) {
        self.dirty = true;
        for stage in &mut self.stages {
            stage.interceptor.unbind_remote_stream(info);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::interceptor::AttributedPacket;
    use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
    use rtc::shared::{TransportContext, TransportProtocol};
    use std::sync::Mutex;
    use std::time::Duration;

    type Log = Arc<Mutex<Vec<String>>>;

    /// Queues what it is given and logs it; a "sending" one arms a timer on the first
    /// RTP packet it sends, as the sender reports do.
    struct Probe {
        name: &'static str,
        log: Log,
        arms: bool,
        timer: Option<Instant>,
        reads: VecDeque<TaggedPacket>,
        writes: VecDeque<TaggedPacket>,
    }

    fn kind(msg: &TaggedPacket) -> &'static str {
        match msg.message.packet {
            Packet::Rtp(_) => "rtp",
            _ => "rtcp",
        }
    }

    impl Protocol<TaggedPacket, TaggedPacket, ()> for Probe {
        type Rout = TaggedPacket;
        type Wout = TaggedPacket;
        type Eout = ();
        type Error = Error;
        type Time = Instant;

        fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Error> {
            let line = format!("{} read {}", self.name, kind(&msg));
            self.log.lock().unwrap().push(line);
            self.reads.push_back(msg);
            Ok(())
        }
        fn poll_read(&mut self) -> Option<TaggedPacket> {
            self.reads.pop_front()
        }
        fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Error> {
            let line = format!("{} write {}", self.name, kind(&msg));
            self.log.lock().unwrap().push(line);
            if self.arms && kind(&msg) == "rtp" && self.timer.is_none() {
                self.timer = Some(msg.now + Duration::from_secs(1));
            }
            self.writes.push_back(msg);
            Ok(())
        }
        fn poll_write(&mut self) -> Option<TaggedPacket> {
            self.writes.pop_front()
        }
        fn poll_timeout(&mut self) -> Option<Instant> {
            self.timer
        }
    }

    impl Interceptor for Probe {
        fn bind_local_stream(&mut self, _: &StreamInfo) {}
        fn unbind_local_stream(&mut self, _: &StreamInfo) {}
        fn bind_remote_stream(&mut self, _: &StreamInfo) {}
        fn unbind_remote_stream(&mut self, _: &StreamInfo) {}
    }

    fn chain(log: &Log) -> (Interceptors, Moved) {
        let probe = |name, arms| Probe {
            name,
            log: log.clone(),
            arms,
            timer: None,
            reads: VecDeque::new(),
            writes: VecDeque::new(),
        };
        let moved = Moved::default();
        let stages = vec![
            Stage::sending(probe("nack-responder", false)),
            Stage::receiving(probe("nack-generator", false)),
            Stage::sending(probe("sender-reports", true)),
            Stage::receiving(probe("feedback", false)),
        ];
        (Interceptors::new(stages, moved.clone()), moved)
    }

    fn message(now: Instant, packet: Packet) -> TaggedPacket {
        let addr = "198.18.0.1:5000".parse().unwrap();
        TaggedPacket {
            now,
            transport: TransportContext {
                local_addr: addr,
                peer_addr: addr,
                transport_protocol: TransportProtocol::UDP,
                ecn: None,
            },
            message: AttributedPacket::new(packet),
        }
    }

    fn rtcp() -> Packet {
        Packet::Rtcp(vec![Box::new(PictureLossIndication::default())])
    }

    fn drain(log: &Log) -> Vec<String> {
        std::mem::take(&mut *log.lock().unwrap())
    }

    #[test]
    fn sent_rtp_visits_only_the_stages_that_record_it_and_the_rest_visits_all() {
        let log = Log::default();
        let (mut chain, _) = chain(&log);
        let now = Instant::now();
        chain
            .handle_write(message(now, Packet::Rtp(Default::default())))
            .unwrap();
        assert_eq!(
            kind(&chain.poll_write().expect("the packet goes out")),
            "rtp"
        );
        assert!(chain.poll_write().is_none());
        let sending = ["sender-reports write rtp", "nack-responder write rtp"];
        assert_eq!(drain(&log), sending);

        chain.handle_write(message(now, rtcp())).unwrap();
        assert!(chain.poll_write().is_some());
        let all = [
            "feedback write rtcp",
            "sender-reports write rtcp",
            "nack-generator write rtcp",
            "nack-responder write rtcp",
        ];
        assert_eq!(drain(&log), all);

        chain
            .handle_read(message(now, Packet::Rtp(Default::default())))
            .unwrap();
        assert!(chain.poll_read().is_some());
        let up = [
            "nack-responder read rtp",
            "nack-generator read rtp",
            "sender-reports read rtp",
            "feedback read rtp",
        ];
        assert_eq!(drain(&log), up);
    }

    #[test]
    fn moved_says_when_sending_changed_a_timeout() {
        let log = Log::default();
        let (mut chain, moved) = chain(&log);
        let now = Instant::now();
        assert!(!moved.take());
        chain
            .handle_write(message(now, Packet::Rtp(Default::default())))
            .unwrap();
        assert!(moved.take(), "the first packet arms the reports' timer");
        assert!(!moved.take(), "taking clears it");
        assert_eq!(chain.poll_timeout(), Some(now + Duration::from_secs(1)));
        let later = now + Duration::from_millis(20);
        chain
            .handle_write(message(later, Packet::Rtp(Default::default())))
            .unwrap();
        chain.handle_write(message(later, rtcp())).unwrap();
        assert!(!moved.take(), "an armed timer stays where it is");
    }
}
