//! Which hall fills which receive slot: the one replaceable subscription policy.
//!
//! This version shows the host first and then the other halls in join order, as many
//! as the viewer has slots of each kind. The floor/grid policy for 200-hall meetings
//! replaces [`assign`] alone; the room only applies what it returns.

use sfu::StreamId;

/// A hall that may be shown: its identity, its place in the meeting and its tracks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The hall.
    pub hall_id: i64,
    /// Its camera, if published.
    pub video: Option<StreamId>,
    /// Its microphone, if published.
    pub audio: Option<StreamId>,
}

/// What one slot should show: a hall and its track.
pub type Fill = Option<(i64, StreamId)>;

/// The fill of a viewer's video and audio slots.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    /// One entry per video slot, in slot order.
    pub video: Vec<Fill>,
    /// One entry per audio slot, in slot order.
    pub audio: Vec<Fill>,
}

/// Fills `video_slots` and `audio_slots` of `viewer` from `sources` (in join order):
/// the host first, then the others in join order; never the viewer itself.
pub fn assign(
    viewer: i64,
    host: i64,
    sources: &[Source],
    video_slots: usize,
    audio_slots: usize,
) -> Assignment {
    let ordered = sources
        .iter()
        .filter(|s| s.hall_id == host)
        .chain(sources.iter().filter(|s| s.hall_id != host))
        .filter(|s| s.hall_id != viewer);
    let pick = |track: fn(&Source) -> Option<StreamId>, n: usize| -> Vec<Fill> {
        let mut fills: Vec<Fill> = ordered
            .clone()
            .filter_map(|s| track(s).map(|t| (s.hall_id, t)))
            .take(n)
            .map(Some)
            .collect();
        fills.resize(n, None);
        fills
    };
    Assignment {
        video: pick(|s| s.video, video_slots),
        audio: pick(|s| s.audio, audio_slots),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(hall_id: i64, video: bool, audio: bool) -> Source {
        let id = hall_id as u64 * 10;
        Source {
            hall_id,
            video: video.then_some(StreamId(id)),
            audio: audio.then_some(StreamId(id + 1)),
        }
    }

    #[test]
    fn host_first_then_join_order_without_the_viewer() {
        let sources = [
            source(5, true, true),
            source(1, true, true), // the host, joined second
            source(7, true, false),
            source(9, true, true),
        ];
        let a = assign(7, 1, &sources, 2, 4);
        assert_eq!(
            a.video,
            vec![Some((1, StreamId(10))), Some((5, StreamId(50)))]
        );
        assert_eq!(
            a.audio,
            vec![
                Some((1, StreamId(11))),
                Some((5, StreamId(51))),
                Some((9, StreamId(91))),
                None
            ]
        );
    }

    #[test]
    fn halls_without_tracks_leave_slots_dark() {
        let a = assign(
            1,
            1,
            &[source(1, true, true), source(2, false, false)],
            2,
            1,
        );
        assert_eq!(a.video, vec![None, None]);
        assert_eq!(a.audio, vec![None]);
    }
}
