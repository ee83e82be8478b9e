//! Which simulcast layers each hall's camera must send: only those someone watches.
//!
//! After the slots are refilled, each publishing hall is told (`send_layers`) how many
//! of its layers, from the lowest, fill a slot anywhere; its page pauses the rest. The
//! lowest layer is always asked for, so a hall can appear in the host's grid or take
//! the floor at once while its larger layers start (each with a keyframe).

use super::{Member, Room};
use crate::protocol::ServerMessage;
use sfu::StreamId;
use std::collections::HashMap;

impl Room {
    /// Tells every publishing hall whose demand changed how many layers to send.
    pub(super) fn tell_send_layers(&mut self) {
        let demand = highest_shown(&self.members);
        for m in &self.members {
            let Some(track) = m.video else {
                continue;
            };
            let shown = demand.get(&(m.hall.id, track));
            let layers = shown.map_or(1, |&top| top.saturating_add(1));
            if self.layers_told.get(&m.hall.id) != Some(&layers) {
                self.layers_told.insert(m.hall.id, layers);
                m.tell(ServerMessage::SendLayers { layers });
            }
        }
    }

    /// Forgets what a hall was told (its camera is new: a fresh page sends all layers).
    pub(super) fn forget_send_layers(&mut self, hall_id: i64) {
        self.layers_told.remove(&hall_id);
    }
}

/// The highest layer each hall's video track is shown at, over every member's slots (by
/// hall and track: halls on different media nodes may publish tracks of the same id).
fn highest_shown(members: &[Member]) -> HashMap<(i64, StreamId), u8> {
    let mut top: HashMap<(i64, StreamId), u8> = HashMap::new();
    let placed = members
        .iter()
        .flat_map(|m| &m.slots)
        .filter(|s| s.info.kind == sfu::MediaKind::Video)
        .filter_map(|s| s.planned());
    for p in placed {
        let layer = top.entry((p.hall_id, p.track)).or_insert(p.layer);
        *layer = (*layer).max(p.layer);
    }
    top
}
