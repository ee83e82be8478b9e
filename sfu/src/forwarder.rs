//! One subscription's receive slot: picks packets of a publisher's layers and rewrites them.
//!
//! A slot is one negotiated RTP stream towards a subscriber with a fixed SSRC and
//! payload type. What it carries changes — layer, hall, muted — without renegotiation:
//! the [`LayerSelector`] decides which packets pass, [`SeqMap`] and [`TimestampMap`]
//! make the result look like one continuous stream to the browser.

use crate::layer::{LayerConfig, LayerSelector, NUM_LAYERS};
use crate::packetmap::{SeqMap, TimestampMap};
use crate::rtp::{rewrite_header, RtpError, RtpHeader, RtpPacket};
use crate::switch::{Feed, LayerEvent, LayerState, PacketAction};
use crate::StreamId;
use std::collections::VecDeque;
use std::time::Instant;

/// What the subscriber side negotiated for the slot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForwarderConfig {
    /// The slot's SSRC towards the subscriber; fixed for its lifetime.
    pub ssrc: u32,
    /// The payload type the subscriber negotiated for the codec.
    pub payload_type: u8,
    /// RTP clock rate of the codec (90 000 video, 48 000 Opus).
    pub clock_rate: u32,
    /// Highest simulcast layer the subscriber's role wants (0 for audio).
    pub max_layer: u8,
    /// Layer-switching thresholds.
    pub layer: LayerConfig,
}

/// A packet of one of the publisher's streams, classified once by the publisher side.
#[derive(Debug, Clone, Copy)]
pub struct IncomingPacket<'a> {
    /// The publisher track it belongs to.
    pub source: StreamId,
    /// Its simulcast layer (0 for audio and non-simulcast video).
    pub layer: u8,
    /// Whether it starts a keyframe (always `true` for audio).
    pub keyframe: bool,
    /// The RTP packet as received.
    pub data: &'a [u8],
}

/// What the slot's owner must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwarderOutput {
    /// Send this rewritten RTP packet to the subscriber.
    Packet(Vec<u8>),
    /// Ask the publisher for a keyframe on this feed (through its throttle).
    RequestKeyframe(Feed),
    /// The slot now carries another layer or source (for logs and the dashboard).
    Switched {
        /// The previous feed, `None` when starting.
        from: Option<Feed>,
        /// The feed now carried.
        to: Feed,
    },
}

/// The slot's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwarderState {
    /// Muted by the subscriber or the host; nothing is forwarded.
    Paused,
    /// Forwarding, or waiting for a keyframe to start or switch.
    Active(LayerState),
}

/// The forwarding state of one subscriber slot.
#[derive(Debug, Clone)]
pub struct Forwarder {
    config: ForwarderConfig,
    layers: LayerSelector,
    seq: SeqMap,
    ts: TimestampMap,
    /// Muted: packets are dropped and a keyframe is awaited on resume.
    paused: bool,
    output: VecDeque<ForwarderOutput>,
}

impl Forwarder {
    /// A slot starting on `source`; it asks for a keyframe and forwards from the first one.
    pub fn new(now: Instant, config: ForwarderConfig, source: StreamId) -> Self {
        let mut f = Self {
            layers: LayerSelector::new(now, source, config.max_layer, config.layer),
            seq: SeqMap::new(),
            ts: TimestampMap::new(config.clock_rate),
            paused: false,
            output: VecDeque::new(),
            config,
        };
        f.drain_layer_events();
        f
    }

    /// What the subscriber side negotiated for the slot.
    pub fn config(&self) -> &ForwarderConfig {
        &self.config
    }

    /// The slot's state.
    pub fn state(&self) -> ForwarderState {
        if self.paused {
            ForwarderState::Paused
        } else {
            ForwarderState::Active(self.layers.state())
        }
    }

    /// Handles one packet of a publisher stream arriving at `now`; an error means the
    /// packet was malformed and was dropped.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        packet: IncomingPacket<'_>,
    ) -> Result<(), RtpError> {
        if self.paused {
            return Ok(());
        }
        let rtp = RtpPacket::parse(packet.data)?;
        let feed = Feed {
            source: packet.source,
            layer: packet.layer,
        };
        match self.layers.handle_packet(feed, packet.keyframe) {
            PacketAction::Drop => {}
            PacketAction::SwitchAndForward => {
                self.seq.switch_source();
                self.ts.switch_source();
                self.forward(now, &rtp)?;
            }
            PacketAction::Forward => self.forward(now, &rtp)?,
        }
        self.drain_layer_events();
        Ok(())
    }

    /// Carries another publisher track from its next keyframe on, keeping the slot's SSRC;
    /// `bitrates` are the new track's layer bitrates (`None`: layer not arriving).
    pub fn switch_source(
        &mut self,
        now: Instant,
        source: StreamId,
        bitrates: [Option<u64>; NUM_LAYERS],
    ) {
        self.layers.set_source(now, source, bitrates);
        self.drain_layer_events();
    }

    /// Mutes the slot.
    pub fn pause(&mut self) {
        self.paused = true;
    }

    /// Unmutes the slot; forwarding restarts at the next keyframe, numbering continuous.
    pub fn resume(&mut self, now: Instant) {
        if self.paused {
            self.paused = false;
            self.layers.restart(now);
            self.drain_layer_events();
        }
    }

    /// The subscriber asked for a keyframe (PLI/FIR), e.g. after unrecoverable loss.
    pub fn request_keyframe(&mut self) {
        if !self.paused {
            let feed = self.layers.state().current();
            self.output
                .push_back(ForwarderOutput::RequestKeyframe(feed));
        }
    }

    /// New bitrates of the current source's layers, from the publisher's estimators.
    pub fn set_layer_bitrates(&mut self, now: Instant, bitrates: [Option<u64>; NUM_LAYERS]) {
        self.layers.set_layer_bitrates(now, bitrates);
        self.drain_layer_events();
    }

    /// New bandwidth estimate towards the subscriber.
    pub fn set_bandwidth(&mut self, now: Instant, bps: Option<u64>) {
        self.layers.set_bandwidth(now, bps);
        self.drain_layer_events();
    }

    /// New loss fraction reported by the subscriber.
    pub fn set_loss(&mut self, now: Instant, loss: f32) {
        self.layers.set_loss(now, loss);
        self.drain_layer_events();
    }

    /// The subscriber's role changed (e.g. it now shows this hall full-screen).
    pub fn set_max_layer(&mut self, now: Instant, layer: u8) {
        self.layers.set_max_layer(now, layer);
        self.drain_layer_events();
    }

    /// Repeats keyframe requests that went unanswered.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !self.paused {
            self.layers.handle_timeout(now);
            self.drain_layer_events();
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.paused {
            None
        } else {
            self.layers.poll_timeout()
        }
    }

    /// The next thing to send or do.
    pub fn poll_output(&mut self) -> Option<ForwarderOutput> {
        self.output.pop_front()
    }

    fn forward(&mut self, now: Instant, rtp: &RtpPacket<'_>) -> Result<(), RtpError> {
        let h = rtp.header;
        if rtp.payload().is_empty() {
            // Padding-only (bandwidth probe): not worth sending on; close its gap.
            self.seq.skip(h.sequence_number);
            return Ok(());
        }
        let Some(sequence_number) = self.seq.map(h.sequence_number) else {
            return Ok(());
        };
        let out = RtpHeader {
            marker: h.marker,
            payload_type: self.config.payload_type,
            sequence_number,
            timestamp: self.ts.map(now, h.timestamp),
            ssrc: self.config.ssrc,
        };
        let mut buf = rtp.as_bytes().to_vec();
        rewrite_header(&mut buf, &out)?;
        self.output.push_back(ForwarderOutput::Packet(buf));
        Ok(())
    }

    fn drain_layer_events(&mut self) {
        while let Some(event) = self.layers.poll_output() {
            self.output.push_back(match event {
                LayerEvent::RequestKeyframe(feed) => ForwarderOutput::RequestKeyframe(feed),
                LayerEvent::Switched { from, to } => ForwarderOutput::Switched { from, to },
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const HALL: StreamId = StreamId(3);
    const FEED: Feed = Feed {
        source: HALL,
        layer: 0,
    };

    fn config() -> ForwarderConfig {
        ForwarderConfig {
            ssrc: 0xABCD,
            payload_type: 100,
            clock_rate: 90_000,
            max_layer: 0,
            layer: LayerConfig::default(),
        }
    }

    fn packet(seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
        RtpHeader {
            marker: false,
            payload_type: 96,
            sequence_number: seq,
            timestamp: ts,
            ssrc: 1,
        }
        .write(payload)
    }

    fn push(f: &mut Forwarder, now: Instant, seq: u16, keyframe: bool, payload: &[u8]) {
        let data = packet(seq, u32::from(seq) * 3000, payload);
        let (source, layer) = (HALL, 0);
        let incoming = IncomingPacket {
            source,
            layer,
            keyframe,
            data: &data,
        };
        f.handle_packet(now, incoming).unwrap(); // well-formed: built just above
    }

    /// (seq, ts, ssrc, pt) of a packet sent to the subscriber.
    type Sent = (u16, u32, u32, u8);

    /// The packets sent, and the other outputs.
    fn drain(f: &mut Forwarder) -> (Vec<Sent>, Vec<ForwarderOutput>) {
        let (mut sent, mut other) = (Vec::new(), Vec::new());
        while let Some(o) = f.poll_output() {
            match o {
                ForwarderOutput::Packet(p) => {
                    let h = RtpPacket::parse(&p).unwrap().header;
                    sent.push((h.sequence_number, h.timestamp, h.ssrc, h.payload_type));
                }
                o => other.push(o),
            }
        }
        (sent, other)
    }

    #[test]
    fn starts_on_a_keyframe_and_rewrites_ssrc_and_payload_type() {
        let t0 = Instant::now();
        let mut f = Forwarder::new(t0, config(), HALL);
        assert_eq!(drain(&mut f).1, [ForwarderOutput::RequestKeyframe(FEED)]);
        push(&mut f, t0, 10, false, b"delta");
        push(&mut f, t0, 11, true, b"key");
        push(&mut f, t0, 12, false, b"delta");
        let (sent, other) = drain(&mut f);
        assert_eq!(sent, [(11, 33_000, 0xABCD, 100), (12, 36_000, 0xABCD, 100)]);
        assert_eq!(
            other,
            [ForwarderOutput::Switched {
                from: None,
                to: FEED
            }]
        );
        let forwarding = LayerState::Forwarding { feed: FEED };
        assert_eq!(f.state(), ForwarderState::Active(forwarding));
    }

    #[test]
    fn pause_and_resume_keep_numbering_continuous() {
        let t0 = Instant::now();
        let mut f = Forwarder::new(t0, config(), HALL);
        push(&mut f, t0, 1, true, b"k");
        push(&mut f, t0, 2, false, b"d");
        f.pause();
        assert_eq!(f.state(), ForwarderState::Paused);
        push(&mut f, t0, 3, true, b"k");
        drain(&mut f);
        let later = t0 + Duration::from_secs(2);
        f.resume(later);
        push(&mut f, later, 40, false, b"d");
        push(&mut f, later, 41, true, b"k");
        let (sent, other) = drain(&mut f);
        assert_eq!(
            sent,
            [(3, 6000 + 180_000, 0xABCD, 100)],
            "2 s later on the 90 kHz clock"
        );
        assert!(matches!(other[0], ForwarderOutput::RequestKeyframe(_)));
    }

    #[test]
    fn padding_only_packets_are_skipped_without_a_gap_and_garbage_is_an_error() {
        let t0 = Instant::now();
        let mut f = Forwarder::new(t0, config(), HALL);
        push(&mut f, t0, 1, true, b"k");
        push(&mut f, t0, 2, false, b"");
        push(&mut f, t0, 3, false, b"d");
        let seqs: Vec<u16> = drain(&mut f).0.into_iter().map(|p| p.0).collect();
        assert_eq!(seqs, [1, 2]);
        let (source, layer, keyframe) = (HALL, 0, false);
        let bad = IncomingPacket {
            source,
            layer,
            keyframe,
            data: &[0x80, 1, 2],
        };
        assert!(f.handle_packet(t0, bad).is_err());
    }
}
