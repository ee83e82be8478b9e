//! The recorder end to end: real VP8 and Opus RTP in, a WebM file out that a player
//! (GStreamer's decodebin) opens and decodes; write errors end the recording with an
//! event while the caller goes on.

use recorder::testing::{feed, probe, wait_for};
use recorder::{Event, PushError, RecordError, Recorder, RecordingSpec};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECONDS: u32 = 5;

fn started(event: &Event) -> Option<()> {
    matches!(event, Event::Started { .. }).then_some(())
}

fn failed(event: &Event) -> Option<RecordError> {
    match event {
        Event::Failed { error } => Some(error.clone()),
        _ => None,
    }
}

#[test]
fn picture_and_two_mixed_slots_make_a_webm_that_plays_for_as_long_as_was_recorded() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    // Three slots, the third never speaks: the mix must not wait for it.
    let spec = RecordingSpec::new(dir.path().join("hop-tinh.webm"), 3);
    let chapters_path = spec.chapters_path();
    let (recorder, mut events) = Recorder::open(spec.clone()).expect("the recorder thread starts");
    let mut seen = Vec::new();
    assert!(
        wait_for(&mut events, &mut seen, Duration::from_secs(10), started).is_some(),
        "{seen:?}"
    );

    let recorder = Arc::new(recorder);
    let began = Instant::now();
    let marker = {
        let recorder = Arc::clone(&recorder);
        std::thread::spawn(move || {
            recorder
                .mark_chapter("Phát biểu: UBND xã A", Instant::now())
                .expect("taken");
            std::thread::sleep(Duration::from_secs(2));
            recorder
                .mark_chapter("Điểm danh", Instant::now())
                .expect("taken");
        })
    };
    feed(&recorder, SECONDS);
    let fed = began.elapsed();
    // Written as it goes, not held until the end (the third slot never spoke).
    let written = std::fs::metadata(&spec.path).map_or(0, |m| m.len());
    assert!(
        written > 64 * 1024,
        "{written} bytes written while recording"
    );
    marker.join().expect("the marking thread ends");
    let recorder = Arc::into_inner(recorder).expect("the last handle");
    assert_eq!(recorder.dropped(), 0, "the recorder kept up");
    recorder.close();

    let finished = wait_for(
        &mut events,
        &mut seen,
        Duration::from_secs(20),
        |e| match e {
            Event::Finished {
                duration, dropped, ..
            } => Some((*duration, *dropped)),
            _ => None,
        },
    );
    let (duration, dropped) = finished.unwrap_or_else(|| panic!("no Finished event: {seen:?}"));
    assert_eq!(dropped, 0);
    assert!(
        duration.abs_diff(fed) < Duration::from_secs(1),
        "recorded {duration:?} of {fed:?} fed"
    );

    let found = probe(&spec.path).expect("the file plays to its end");
    let mut streams = found.streams.clone();
    streams.sort_unstable();
    assert_eq!(
        streams,
        ["audio", "video"],
        "one video and one audio stream: {found:?}"
    );
    let declared = found.duration.expect("the container declares its duration");
    assert!(
        declared.abs_diff(fed) < Duration::from_secs(1),
        "the file lasts {declared:?}, {fed:?} were recorded"
    );
    // 30 fps for five seconds; a few may be lost to the keyframe wait at the start.
    assert!(
        found.video_frames >= 140,
        "{} frames decoded",
        found.video_frames
    );
    assert!(found.audio_buffers > 0);
    // The tones are heard, not silence (a full-scale tone peaks near 32767).
    assert!(found.audio_peak > 4_000, "audio peak {}", found.audio_peak);

    let vtt = std::fs::read_to_string(&chapters_path).expect("the chapters were written");
    assert!(vtt.starts_with("WEBVTT\n"), "{vtt}");
    assert!(
        vtt.contains("\n1\n00:00:0") && vtt.contains("Phát biểu: UBND xã A"),
        "{vtt}"
    );
    assert!(
        vtt.contains("\n2\n00:00:0") && vtt.contains("Điểm danh"),
        "{vtt}"
    );
}

#[test]
fn a_file_that_cannot_be_created_ends_with_a_write_error_and_later_pushes_are_refused() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("no-such-directory").join("rec.webm");
    let (recorder, mut events) =
        Recorder::open(RecordingSpec::new(&path, 1)).expect("the thread starts");
    let mut seen = Vec::new();
    let error = wait_for(&mut events, &mut seen, Duration::from_secs(10), failed)
        .unwrap_or_else(|| panic!("no Failed event: {seen:?}"));
    assert_eq!(error.code(), "recording_write_failed", "{error}");
    assert!(!seen.iter().any(|e| started(e).is_some()), "{seen:?}");
    // The thread is gone: the caller is told, and is not blocked.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut refused = None;
    while Instant::now() < deadline {
        if let Err(e) =
            recorder.push_video(&[0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1], Instant::now())
        {
            refused = Some(e);
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(refused, Some(PushError::Ended));
}

#[test]
fn a_full_disk_midway_ends_the_recording_with_a_write_error_while_the_caller_goes_on() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("rec.webm");
    // Every write to /dev/full fails with ENOSPC, as a full disk does.
    std::os::unix::fs::symlink("/dev/full", &path).expect("a symlink in a temporary directory");
    let (recorder, mut events) =
        Recorder::open(RecordingSpec::new(&path, 1)).expect("the thread starts");
    let recorder = Arc::new(recorder);
    let began = Instant::now();
    // Enough to pass filesink's 64 KiB buffer several times over at this test picture's
    // bitrate (about 40 KB/s), so the write error comes while recording.
    feed(&recorder, 6);
    // Pushing never waited on the failing recording.
    assert!(
        began.elapsed() < Duration::from_secs(9),
        "fed in {:?}",
        began.elapsed()
    );
    let mut seen = Vec::new();
    let error = wait_for(&mut events, &mut seen, Duration::from_secs(10), failed)
        .unwrap_or_else(|| panic!("no Failed event: {seen:?}"));
    assert_eq!(error.code(), "recording_write_failed", "{error}");
    assert_eq!(
        recorder.push_audio(0, &[0x80, 111, 0, 1], Instant::now()),
        Err(PushError::Ended)
    );
    assert_eq!(
        recorder.push_audio(1, &[0x80, 111, 0, 1], Instant::now()),
        Err(PushError::NoSuchSlot { slot: 1, slots: 1 })
    );
}
