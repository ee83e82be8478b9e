//! `rtc`'s two NACK interceptors, adapted to an SFU: a packet lost on the way to a
//! hall is sent again as it was, a packet a hall sent again on its repair stream (RTX)
//! counts as received, and both are counted ([`NackCounts`]).
//!
//! **Sent again as it was.** A slot's one SSRC carries VP8 or H.264, whichever the hall
//! it shows sends, but `rtc` binds the slot's stream to its responder once, with the
//! first codec's RTX payload type (`apt=` VP8): an H.264 packet sent again on RTX would be
//! read back as VP8. [`Responder`] binds the stream without its repair stream, so the
//! responder sends the packet it keeps, unchanged (same SSRC, sequence number and payload
//! type — RFC 4585 allows it, browsers take it as the late packet it is); that also
//! spares the copy `rtc` makes of each RTX payload.
//!
//! **A repair counts as received.** `rtc` reads an RTX packet back into its stream
//! only after the interceptors (`peer_connection/handler/endpoint.rs`,
//! `deencapsulate_rtx`), so its NACK generator never sees the sequence number it asked
//! for arrive and asks again every 100 ms until the number leaves its log (512 packets):
//! the sender resends the packet each time and the application receives it each time.
//! [`Generator`] tells its generator, for each RTX packet, that the original sequence
//! number arrived (a header-only packet it then drops), and keeps it from asking for
//! the repair stream's own gaps. Browsers answer our NACKs (to publishers) on RTX.
//!
//! Neither is on the path of a forwarded packet beyond what the responder does there
//! (it keeps each packet it sends for [`NACK_BUFFER`](super::peer::NACK_BUFFER) packets):
//! the counting looks at a retransmission flag or at RTCP only.

use rtc::interceptor::{
    Attribute, AttributedPacket, Interceptor, NackGeneratorInterceptor, NackResponderInterceptor,
    Packet, StreamInfo, TaggedPacket,
};
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::rtp;
use rtc::sansio::Protocol;
use rtc::shared::error::Error;
use rtc::shared::TransportContext;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// NACK counters of the connections that share them (a worker's), since start.
#[derive(Debug, Clone, Default)]
pub struct NackCounts(Arc<Counts>);

#[derive(Debug, Default)]
struct Counts {
    received: AtomicU64,
    retransmitted: AtomicU64,
    sent: AtomicU64,
}

/// A reading of [`NackCounts`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NackFigures {
    /// NACKs that halls sent us about what we sent them (RTCP NACK packets).
    pub received: u64,
    /// Packets sent again on those NACKs.
    pub retransmitted: u64,
    /// NACKs we sent halls about what they sent us (to publishers).
    pub sent: u64,
}

impl NackFigures {
    /// Adds another worker's figures.
    pub fn add(&mut self, o: &NackFigures) {
        self.received += o.received;
        self.retransmitted += o.retransmitted;
        self.sent += o.sent;
    }
}

impl NackCounts {
    /// The counters now.
    pub fn read(&self) -> NackFigures {
        let c = &self.0;
        NackFigures {
            received: c.received.load(Ordering::Relaxed),
            retransmitted: c.retransmitted.load(Ordering::Relaxed),
            sent: c.sent.load(Ordering::Relaxed),
        }
    }
}

/// The NACKs in a message, if it is RTCP.
fn nacks(packet: &Packet) -> u64 {
    let Packet::Rtcp(items) = packet else {
        return 0;
    };
    let nack = items
        .iter()
        .filter(|p| p.as_any().is::<TransportLayerNack>());
    nack.count() as u64
}

/// `rtc`'s NACK responder, answering with the packet as it was sent (module doc).
pub struct Responder {
    inner: NackResponderInterceptor,
    counts: NackCounts,
}

impl Responder {
    /// Wraps `inner`, counting into `counts`.
    pub fn new(inner: NackResponderInterceptor, counts: NackCounts) -> Self {
        Self { inner, counts }
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for Responder {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Error> {
        let n = nacks(&msg.message.packet);
        if n > 0 {
            self.counts.0.received.fetch_add(n, Ordering::Relaxed);
        }
        self.inner.handle_read(msg)
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.inner.poll_read()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Error> {
        self.inner.handle_write(msg)
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        let msg = self.inner.poll_write()?;
        if msg.message.has(&Attribute::Retransmission) {
            self.counts.0.retransmitted.fetch_add(1, Ordering::Relaxed);
        }
        Some(msg)
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        self.inner.handle_timeout(now)
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.inner.poll_timeout()
    }

    fn close(&mut self) -> Result<(), Error> {
        self.inner.close()
    }
}

impl Interceptor for Responder {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        let plain = StreamInfo {
            ssrc_rtx: None,
            payload_type_rtx: None,
            ..info.clone()
        };
        self.inner.bind_local_stream(&plain);
    }

    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.inner.unbind_local_stream(info);
    }

    fn bind_remote_stream(&mut self, info: &StreamInfo) {
        self.inner.bind_remote_stream(info);
    }

    fn unbind_remote_stream(&mut self, info: &StreamInfo) {
        self.inner.unbind_remote_stream(info);
    }
}

/// `rtc`'s NACK generator, told of the packets repaired on RTX (module doc).
pub struct Generator {
    inner: NackGeneratorInterceptor,
    /// Repair (RTX) SSRC → the SSRC it repairs.
    repairs: HashMap<u32, u32>,
    reads: VecDeque<TaggedPacket>,
    counts: NackCounts,
}

impl Generator {
    /// Wraps `inner`, counting into `counts`.
    pub fn new(inner: NackGeneratorInterceptor, counts: NackCounts) -> Self {
        Self {
            inner,
            repairs: HashMap::new(),
            reads: VecDeque::new(),
            counts,
        }
    }

    /// The stream and original sequence number an RTX packet repairs.
    fn repaired(&self, packet: &Packet) -> Option<(u32, u16)> {
        let Packet::Rtp(p) = packet else {
            return None;
        };
        let primary = *self.repairs.get(&p.header.ssrc)?;
        let osn = p.payload.get(..2)?; // none: a padding-only probe repairs nothing
        Some((primary, u16::from_be_bytes([osn[0], osn[1]])))
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for Generator {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Error> {
        let repaired = self.repaired(&msg.message.packet);
        let now = msg.now;
        self.inner.handle_read(msg)?;
        self.reads
            .extend(std::iter::from_fn(|| self.inner.poll_read()));
        if let Some((ssrc, sequence_number)) = repaired {
            let header = rtp::header::Header {
                version: 2,
                ssrc,
                sequence_number,
                ..Default::default()
            };
            let arrived = rtp::Packet {
                header,
                payload: Default::default(),
            };
            self.inner.handle_read(TaggedPacket {
                now,
                transport: TransportContext::default(),
                message: AttributedPacket::new(Packet::Rtp(arrived)),
            })?;
            while self.inner.poll_read().is_some() {} // only told, never passed on
        }
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.reads.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Error> {
        self.inner.handle_write(msg)
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        let msg = self.inner.poll_write()?;
        let n = nacks(&msg.message.packet);
        if n > 0 {
            self.counts.0.sent.fetch_add(n, Ordering::Relaxed);
        }
        Some(msg)
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        self.inner.handle_timeout(now)
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.inner.poll_timeout()
    }

    fn close(&mut self) -> Result<(), Error> {
        self.inner.close()
    }
}

/// Whether a bound stream is a repair stream (`video/rtx`, `audio/rtx`).
fn is_rtx(info: &StreamInfo) -> bool {
    let mime = info.mime_type.as_bytes();
    mime.len() >= 4 && mime[mime.len() - 4..].eq_ignore_ascii_case(b"/rtx")
}

impl Interceptor for Generator {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        self.inner.bind_local_stream(info);
    }

    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.inner.unbind_local_stream(info);
    }

    fn bind_remote_stream(&mut self, info: &StreamInfo) {
        if let Some(rtx) = info.ssrc_rtx {
            self.repairs.insert(rtx, info.ssrc);
        }
        if is_rtx(info) || self.repairs.contains_key(&info.ssrc) {
            return; // a repair stream's own gaps are not asked for
        }
        self.inner.bind_remote_stream(info);
    }

    fn unbind_remote_stream(&mut self, info: &StreamInfo) {
        if let Some(rtx) = info.ssrc_rtx {
            self.repairs.remove(&rtx);
        }
        self.inner.unbind_remote_stream(info);
    }
}

#[cfg(test)]
mod tests;
