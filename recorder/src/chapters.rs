//! Chapters of a recording (floor changes, roll calls) as a WebVTT side file: each mark
//! opens a cue that lasts until the next mark or the end of the recording.

use std::fmt::Write as _;
use std::time::Duration;

/// The chapters marked so far, in the recording's own time (from its start).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Chapters {
    marks: Vec<(Duration, String)>,
}

impl Chapters {
    /// Marks a chapter starting at `at`. A mark earlier than the previous one is moved up
    /// to it, so that cues never go backwards (marks come from one thread, in order; this
    /// only absorbs clock rounding).
    pub fn mark(&mut self, at: Duration, title: &str) {
        let at = self.marks.last().map_or(at, |(last, _)| at.max(*last));
        // A cue's text may not hold a blank line nor "-->": keep it on one line.
        let title = title
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace("-->", "→");
        self.marks.push((at, title));
    }

    /// How many chapters were marked.
    pub fn len(&self) -> usize {
        self.marks.len()
    }

    /// Whether no chapter was marked.
    pub fn is_empty(&self) -> bool {
        self.marks.is_empty()
    }

    /// The WebVTT text, the last chapter ending at `end` (the recording's length).
    pub fn to_webvtt(&self, end: Duration) -> String {
        let mut out = String::from("WEBVTT\n");
        for (i, (start, title)) in self.marks.iter().enumerate() {
            let stop = self
                .marks
                .get(i + 1)
                .map_or(end, |(next, _)| *next)
                .max(*start);
            // Writing into a String cannot fail.
            let _ = write!(
                out,
                "\n{}\n{} --> {}\n{}\n",
                i + 1,
                stamp(*start),
                stamp(stop),
                title
            );
        }
        out
    }
}

/// `hh:mm:ss.ttt`, as WebVTT wants it.
fn stamp(at: Duration) -> String {
    let ms = at.as_millis();
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cues_run_from_mark_to_next_mark_and_the_last_to_the_end() {
        let mut chapters = Chapters::default();
        chapters.mark(Duration::from_millis(1_500), "Phát biểu: UBND xã A");
        chapters.mark(Duration::from_secs(3_725), "Điểm danh\n\nlần 1 --> 2");
        let vtt = chapters.to_webvtt(Duration::from_secs(4_000));
        assert_eq!(
            vtt,
            "WEBVTT\n\n1\n00:00:01.500 --> 01:02:05.000\nPhát biểu: UBND xã A\n\n\
             2\n01:02:05.000 --> 01:06:40.000\nĐiểm danh lần 1 → 2\n"
        );
    }

    #[test]
    fn a_mark_before_the_previous_one_does_not_go_back() {
        let mut chapters = Chapters::default();
        chapters.mark(Duration::from_secs(5), "A");
        chapters.mark(Duration::from_secs(4), "B");
        assert!(chapters
            .to_webvtt(Duration::from_secs(3))
            .contains("00:00:05.000 --> 00:00:05.000\nB"));
        assert_eq!(chapters.len(), 2);
    }

    #[test]
    fn no_marks_is_a_header_only() {
        assert_eq!(Chapters::default().to_webvtt(Duration::ZERO), "WEBVTT\n");
    }
}
