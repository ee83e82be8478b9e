//! Taps: subscribers inside the node (a meeting's recorder) that receive what a receive
//! slot would carry — the forwarder's RTP, switched on keyframes, with the slot's SSRC,
//! payload type and gap-free numbering — as plain bytes: no connection, ICE, DTLS or SRTP.
//!
//! A tap is opened with one video slot and some audio slots and is then named by its
//! `PeerId` in the ordinary slot commands (`Sfu::subscribe`, `apply`, `unsubscribe`), as a
//! WHEP viewer's slots are. Its slots join the routes' subscriber lists under a
//! connection index no table entry has (from [`FIRST_TAP`] up), so switching, keyframe
//! requests, parked numbering and mirrors of other workers' streams work as for a hall;
//! only the last step differs: the packet goes to the tap's [`RtpTap`] instead of `rtc`.

use super::conn::OutSlot;
use super::demux::ConnIndex;
use super::peer::TrackCodec;
use crate::event::{MediaKind, PeerId, SlotId, SlotInfo};
use crate::SfuError;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// The payload type of a tap's video slot (VP8; an H.264 stream cannot be shown there).
pub const TAP_VIDEO_PAYLOAD_TYPE: u8 = 96;
/// The payload type of a tap's audio slots (Opus).
pub const TAP_AUDIO_PAYLOAD_TYPE: u8 = 111;
/// At most this many audio slots per tap.
pub const MAX_TAP_AUDIO_SLOTS: u8 = 16;

/// Connection indices of taps start here, far above any table index.
const FIRST_TAP: ConnIndex = ConnIndex::MAX / 2;

/// Where a tap's packets go. Called on the media path, once per forwarded packet: it must
/// not block (hand the packet to another thread with a `try_send`).
pub trait RtpTap: Send + Sync + 'static {
    /// One RTP packet (fixed header and payload) of `slot`, at the driver's `now`.
    fn packet(&self, slot: SlotId, kind: MediaKind, packet: &[u8], now: Instant);
}

/// One open tap.
pub(super) struct Tap {
    pub peer: PeerId,
    pub slots: Vec<OutSlot>,
    pub sink: Arc<dyn RtpTap>,
}

/// The taps of one worker.
#[derive(Default)]
pub(super) struct Taps {
    by_index: HashMap<ConnIndex, Tap>,
    next: ConnIndex,
}

impl Taps {
    /// Whether `index` names a tap rather than a hall's connection.
    pub fn is_tap(index: ConnIndex) -> bool {
        index >= FIRST_TAP
    }

    /// Opens `peer`'s tap: slot 0 video, slots `1..=audio_slots` audio.
    pub fn open(
        &mut self,
        peer: PeerId,
        audio_slots: u8,
        sink: Arc<dyn RtpTap>,
    ) -> Result<(ConnIndex, Vec<SlotInfo>), SfuError> {
        if self.index_of(peer).is_some() {
            return Err(SfuError::DuplicatePeer(peer));
        }
        if audio_slots > MAX_TAP_AUDIO_SLOTS {
            return Err(SfuError::UnknownSlot(peer, SlotId(u16::from(audio_slots))));
        }
        let index = FIRST_TAP + self.next;
        self.next += 1;
        let slots: Vec<OutSlot> = (0..=u16::from(audio_slots))
            .map(|id| {
                let (kind, codec, pt) = if id == 0 {
                    (MediaKind::Video, TrackCodec::Vp8, TAP_VIDEO_PAYLOAD_TYPE)
                } else {
                    (MediaKind::Audio, TrackCodec::Opus, TAP_AUDIO_PAYLOAD_TYPE)
                };
                OutSlot {
                    info: SlotInfo {
                        id: SlotId(id),
                        kind,
                        mid: String::new(),
                        // Nobody outside the node sees it; distinct per slot.
                        ssrc: 0x7A50_0000 + u32::from(id),
                    },
                    payload_types: vec![(codec, pt)],
                }
            })
            .collect();
        let infos = slots.iter().map(|s| s.info.clone()).collect();
        self.by_index.insert(index, Tap { peer, slots, sink });
        Ok((index, infos))
    }

    /// The index of `peer`'s tap.
    pub fn index_of(&self, peer: PeerId) -> Option<ConnIndex> {
        self.by_index
            .iter()
            .find_map(|(&i, t)| (t.peer == peer).then_some(i))
    }

    /// The tap at `index`.
    pub fn get(&self, index: ConnIndex) -> Option<&Tap> {
        self.by_index.get(&index)
    }

    /// Closes `peer`'s tap; returns its index.
    pub fn close(&mut self, peer: PeerId) -> Option<ConnIndex> {
        let index = self.index_of(peer)?;
        self.by_index.remove(&index);
        Some(index)
    }
}
