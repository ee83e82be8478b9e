//! A meeting's recording as an SFU tap: the tap's slots — 0 the main picture, 1… the
//! audio halls hear, pointed by the room as a WHEP viewer's are — go into a
//! [`media_recorder::Recorder`], which writes the WebM file off the media path.
//!
//! The SFU calls [`RecordingTap::packet`] on its media task for every packet: it only
//! hands the packet to the recorder's bounded queue (a full queue drops and counts it).
//! What happens to the recording (started, keyframe wanted, finished, failed) comes on
//! the events receiver [`start`] returns. Closing the tap (`Sfu::close_tap`) drops the
//! recorder, which finishes the file.

use media_recorder::{Event, RecordError, Recorder, RecordingSpec};
use sfu::{MediaKind, PeerId, RtpTap, Sfu, SfuError, SlotId, SlotInfo};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc::UnboundedReceiver;

/// A recorder fed by an SFU tap.
#[derive(Debug)]
pub struct RecordingTap {
    recorder: Recorder,
}

impl RecordingTap {
    /// Marks a chapter (a floor change, a roll call) starting now.
    pub fn mark_chapter(&self, title: String) {
        // An ended recording has nothing to mark.
        let _ = self.recorder.mark_chapter(title, Instant::now());
    }
}

impl RtpTap for RecordingTap {
    fn packet(&self, slot: SlotId, kind: MediaKind, packet: &[u8], now: Instant) {
        // A full queue is counted by the recorder; an ended recording said why in its
        // events. Neither may disturb the media path.
        let _ = match kind {
            MediaKind::Video => self.recorder.push_video(packet, now),
            MediaKind::Audio => {
                // Audio slots are 1… on the tap, 0… in the recording.
                let index = slot.0.checked_sub(1).and_then(|i| u8::try_from(i).ok());
                match index {
                    Some(i) => self.recorder.push_audio(i, packet, now),
                    None => return,
                }
            }
        };
    }
}

/// Why a recording could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Recorder(#[from] RecordError),
    #[error("the SFU refused the recording's tap: {0}")]
    Sfu(#[from] SfuError),
}

/// Starts recording into `spec.path` as tap `peer` of `sfu` with `spec.audio_slots`
/// audio slots: the tap (for chapters; the recording ends when the SFU's share and this
/// one are dropped), its slots (show them with `Sfu::subscribe`/`apply`) and the
/// recording's events.
#[allow(clippy::type_complexity)] // the three parts are named in the doc above
pub async fn start(
    sfu: &Sfu,
    peer: PeerId,
    mut spec: RecordingSpec,
) -> Result<(Arc<RecordingTap>, Vec<SlotInfo>, UnboundedReceiver<Event>), StartError> {
    spec.video_payload_type = sfu::TAP_VIDEO_PAYLOAD_TYPE;
    spec.audio_payload_type = sfu::TAP_AUDIO_PAYLOAD_TYPE;
    let audio_slots = spec.audio_slots;
    let (recorder, events) = Recorder::open(spec)?;
    let tap = Arc::new(RecordingTap { recorder });
    let slots = sfu.open_tap(peer, audio_slots, tap.clone()).await?;
    Ok((tap, slots, events))
}
