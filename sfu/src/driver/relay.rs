//! What media workers tell each other (docs/sfu-driver.md, "Several media workers").
//!
//! A stream is published on one worker (its home); a worker with slots showing it keeps
//! a mirror route, told of it with [`Relay::Watch`]. The home hands every watching
//! worker each packet ONCE ([`Relay::Media`]: the header fields and the publisher's
//! payload `Bytes`, shared, not copied), and the mirror fans it out to its slots.
//! Keyframe requests go back home, throttled on both sides; an unpublished stream's
//! mirrors go dark. Audio levels go to the speaker group's home worker, so a meeting
//! spread over workers still has one active speaker.
//!
//! Messages go in batches, one per destination worker per turn, in order.

use super::publish::Origin;
use super::router::Router;
use super::shared::WorkerIndex;
use super::table::Table;
use crate::event::SpeakerGroup;
use crate::forwarder::IncomingPacket;
use crate::hdrext::AudioLevel;
use crate::StreamId;
use std::time::Instant;

/// One message from a worker to another.
#[derive(Debug, Clone)]
pub enum Relay {
    /// A packet of a stream published on the sender, for the receiver's slots.
    Media(IncomingPacket),
    /// Worker `from` has slots showing `stream`: send it the stream's packets.
    Watch { stream: StreamId, from: WorkerIndex },
    /// Worker `from` no longer shows `stream`.
    Unwatch { stream: StreamId, from: WorkerIndex },
    /// A slot on the sender needs a keyframe of `layer` of `stream` (already throttled
    /// there; the home throttles again with its own requests).
    Keyframe { stream: StreamId, layer: u8 },
    /// `stream` is gone: its mirror's slots go dark.
    Unpublished { stream: StreamId },
    /// An audio level of `stream` for `group`'s detector.
    Level {
        group: SpeakerGroup,
        stream: StreamId,
        level: AudioLevel,
    },
    /// `stream` no longer speaks in any group on the receiver (unpublished, or its hall
    /// moved to another group).
    Silent { stream: StreamId },
}

/// The worker whose detector serves speaker group `group`.
pub fn speaker_home(group: SpeakerGroup, workers: usize) -> WorkerIndex {
    (group.0 % workers.max(1) as u64) as WorkerIndex
}

/// Messages waiting to be sent, one batch per destination worker.
#[derive(Debug, Default)]
pub struct Outbox {
    batches: Vec<Vec<Relay>>,
    /// Destinations with something waiting, each once.
    pending: Vec<WorkerIndex>,
}

impl Outbox {
    /// An outbox towards `workers` workers.
    pub fn new(workers: usize) -> Self {
        Self {
            batches: vec![Vec::new(); workers],
            pending: Vec::new(),
        }
    }

    /// Queues `relay` for worker `to`.
    pub fn push(&mut self, to: WorkerIndex, relay: Relay) {
        let Some(batch) = self.batches.get_mut(to) else {
            return;
        };
        if batch.is_empty() {
            self.pending.push(to);
        }
        batch.push(relay);
    }

    /// The next worker's batch.
    pub fn pop(&mut self) -> Option<(WorkerIndex, Vec<Relay>)> {
        let to = self.pending.pop()?;
        Some((to, std::mem::take(&mut self.batches[to])))
    }
}

impl Router {
    /// A message from another worker, at `now`.
    pub(super) fn handle_relay(&mut self, now: Instant, relay: Relay, table: &mut Table) {
        match relay {
            Relay::Media(packet) => self.forward_relayed(now, &packet, table),
            Relay::Watch { stream, from } => match self.routes.get_mut(&stream) {
                Some(route) if route.is_home() => {
                    if !route.watchers.contains(&from) {
                        route.watchers.push(from);
                    }
                }
                // Gone meanwhile: the watcher's slots go dark.
                _ => self.relays.push(from, Relay::Unpublished { stream }),
            },
            Relay::Unwatch { stream, from } => {
                if let Some(route) = self.routes.get_mut(&stream) {
                    route.watchers.retain(|&w| w != from);
                }
            }
            Relay::Keyframe { stream, layer } => {
                if let Some(route) = self.routes.get_mut(&stream) {
                    if route.is_home() {
                        route.throttle.handle_request(now, layer);
                        let out = (&mut self.stats, &mut self.relays, &mut self.nodes);
                        Self::send_plis(now, route, table, out);
                    }
                }
            }
            Relay::Unpublished { stream } => {
                if let Some(Origin::Remote(_)) = self.routes.get(&stream).map(|r| r.origin) {
                    self.unpublish(stream);
                }
            }
            Relay::Level {
                group,
                stream,
                level,
            } => self.speakers.handle_level(now, group, stream, level),
            Relay::Silent { stream } => self.speakers.remove_stream(stream),
        }
    }
}
