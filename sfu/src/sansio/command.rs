//! What the handle asks of the driver task, how the driver answers, and its counters.

use super::conn;
use super::driver::Driver;
use super::router::RouterStats;
use crate::event::{PeerAnswer, PeerId, SlotId};
use crate::{SfuError, StreamId};
use std::time::Instant;
use tokio::sync::oneshot;

/// A request to the driver task; each carries its reply channel.
pub enum Command {
    /// Answer a hall's offer on the muxed port.
    AddPeer {
        peer: PeerId,
        offer: String,
        reply: oneshot::Sender<Result<PeerAnswer, SfuError>>,
    },
    /// Show a published stream in a receive slot (from its next keyframe).
    Subscribe {
        peer: PeerId,
        slot: SlotId,
        track: StreamId,
        /// The highest simulcast layer the slot may carry.
        max_layer: u8,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    /// Close a hall's connection.
    RemovePeer { peer: PeerId },
    /// Read the counters.
    Stats { reply: oneshot::Sender<SansioStats> },
}

/// Counters of the muxed port since start.
#[derive(Debug, Default, Clone, Copy)]
pub struct SansioStats {
    /// Connections on the port.
    pub connections: usize,
    /// Remote addresses bound to connections.
    pub addresses: usize,
    /// Datagrams received.
    pub datagrams_in: u64,
    /// Datagrams sent.
    pub datagrams_out: u64,
    /// Datagrams dropped because no connection claimed them.
    pub unrouted: u64,
    /// Events dropped because the caller's event queue was full.
    pub events_dropped: u64,
    /// The media path's counters.
    pub router: RouterStats,
}

impl Driver {
    /// Carries out one command at `now`.
    pub(super) fn command(&mut self, now: Instant, command: Command) {
        match command {
            Command::AddPeer { peer, offer, reply } => {
                let _ = reply.send(self.add_peer(now, peer, offer));
            }
            Command::Subscribe {
                peer,
                slot,
                track,
                max_layer,
                reply,
            } => {
                let _ = reply.send(self.subscribe(now, peer, slot, (track, max_layer)));
            }
            Command::RemovePeer { peer } => {
                if let Some(index) = self.table.index_of(peer) {
                    self.doomed.push(index);
                }
            }
            Command::Stats { reply } => {
                let mut stats = self.stats;
                stats.connections = self.table.len();
                stats.addresses = self.demux.addresses();
                stats.router = self.router.stats;
                let _ = reply.send(stats);
            }
        }
    }

    fn add_peer(
        &mut self,
        now: Instant,
        peer: crate::PeerId,
        offer: String,
    ) -> Result<crate::PeerAnswer, SfuError> {
        if self.table.contains(peer) {
            return Err(SfuError::DuplicatePeer(peer));
        }
        let (conn, answer) = conn::answer(peer, offer, &self.config, self.local, now)?;
        let ufrag = conn.ufrag.clone();
        let index = self
            .table
            .insert(conn)
            .ok_or(SfuError::DuplicatePeer(peer))?;
        if !self.demux.add(&ufrag, index) {
            self.table.remove(index);
            return Err(SfuError::Webrtc("ICE ufrag collision; offer again".into()));
        }
        self.table.writes.mark(index);
        Ok(answer)
    }

    fn subscribe(
        &mut self,
        now: Instant,
        peer: crate::PeerId,
        slot: crate::SlotId,
        track: (crate::StreamId, u8),
    ) -> Result<(), SfuError> {
        let index = self
            .table
            .index_of(peer)
            .ok_or(SfuError::UnknownPeer(peer))?;
        let conn = self.table.get(index).ok_or(SfuError::UnknownPeer(peer))?;
        let out = conn
            .slots
            .get(usize::from(slot.0))
            .ok_or(SfuError::UnknownSlot(peer, slot))?;
        let out = out.clone();
        self.router.subscribe(now, (index, peer), &out, track)?;
        // Sends the first keyframe request now rather than at the next timeout.
        self.router.handle_timeout(now, &mut self.table);
        Ok(())
    }
}
