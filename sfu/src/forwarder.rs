//! One subscription's receive slot: picks packets of a publisher's layers and rewrites them.
//!
//! A slot is one negotiated RTP stream towards a subscriber with a fixed SSRC and
//! payload type. What it carries changes — layer, hall, muted — without renegotiation:
//! the [`LayerSelector`] decides which packets pass, [`SeqMap`] and [`TimestampMap`]
//! make the result look like one continuous stream to the browser.
//!
//! Nothing is copied per slot: a packet comes in as its header fields and a shared
//! payload ([`IncomingPacket`]), and goes out as the slot's header on that same payload
//! ([`OutgoingPacket`]), which the driver hands to its connection without re-parsing.

use crate::layer::{LayerConfig, LayerSelector, NUM_LAYERS};
use crate::packetmap::{SeqMap, TimestampMap};
use crate::rtp::RtpHeader;
use crate::switch::{Feed, LayerEvent, LayerState, PacketAction};
use crate::StreamId;
use std::collections::VecDeque;
use std::time::Instant;

mod packet;

pub use packet::{IncomingPacket, OutgoingPacket};

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

/// What the slot's owner must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwarderOutput {
    /// Send this packet to the subscriber: the slot's header on the publisher's payload.
    Packet(OutgoingPacket),
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

    /// A slot starting on `source` whose numbering continues `previous` (the slot's last
    /// forwarder, whatever it carried): its first keyframe follows the last packet
    /// `previous` sent in sequence number and, by wall time, in timestamp. A browser
    /// discards packets whose numbers go back on an SSRC it knows (SRTP replay
    /// protection), so a slot's numbering must outlive its subscriptions.
    pub fn continuing(
        now: Instant,
        config: ForwarderConfig,
        source: StreamId,
        previous: &Forwarder,
    ) -> Self {
        let mut f = Self::new(now, config, source);
        f.seq = previous.seq.clone();
        f.seq.switch_source();
        if previous.config.clock_rate == config.clock_rate {
            f.ts = previous.ts.clone();
            f.ts.switch_source();
        }
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

    /// Handles one packet of a publisher stream arriving at `now`.
    pub fn handle_packet(&mut self, now: Instant, packet: &IncomingPacket) {
        if self.paused {
            return;
        }
        let feed = Feed {
            source: packet.source,
            layer: packet.layer,
        };
        match self.layers.handle_packet(feed, packet.keyframe) {
            PacketAction::Drop => {}
            PacketAction::SwitchAndForward => {
                self.seq.switch_source();
                self.ts.switch_source();
                self.forward(now, packet);
            }
            PacketAction::Forward => self.forward(now, packet),
        }
        self.drain_layer_events();
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

    /// The bandwidth estimate towards the subscriber the layer choice uses (`None`: no cap).
    pub fn bandwidth(&self) -> Option<u64> {
        self.layers.bandwidth()
    }

    /// The highest layer the subscriber's role wants now.
    pub fn max_layer(&self) -> u8 {
        self.layers.max_layer()
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

    /// Queues `packet` with the slot's header: its SSRC and payload type, the next
    /// sequence number and the mapped timestamp; the payload is shared, not copied.
    fn forward(&mut self, now: Instant, packet: &IncomingPacket) {
        let h = packet.header;
        if packet.payload.is_empty() {
            // Padding-only (bandwidth probe): not worth sending on; close its gap.
            self.seq.skip(h.sequence_number);
            return;
        }
        let Some(sequence_number) = self.seq.map(h.sequence_number) else {
            return;
        };
        let header = RtpHeader {
            marker: h.marker,
            payload_type: self.config.payload_type,
            sequence_number,
            timestamp: self.ts.map(now, h.timestamp),
            ssrc: self.config.ssrc,
        };
        self.output
            .push_back(ForwarderOutput::Packet(OutgoingPacket {
                header,
                payload: packet.payload.clone(),
            }));
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
mod tests;
