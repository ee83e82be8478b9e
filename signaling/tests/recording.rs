//! Recordings through the SFU over real UDP on 127.0.0.1: a Rust publisher sends real
//! VP8 and Opus (encoded by GStreamer, paced in real time), the SFU forwards them into
//! a recording's tap, and the finished WebM opens in a player-like probe with one video
//! and one audio stream lasting as long as was sent — driven by hand, then by the room
//! (the host's picture as the main picture, the floor given as a chapter).

mod common;

use common::recording::{
    assert_audio_and_video, assert_red_then_blue, finished, give_floor, hall_showing, played,
    published, real_tracks, send_real_media, BLUE, RED, WAIT,
};
use common::{negotiate, start_quiet, Page, Tokens};
use media_recorder::testing::Picture;
use media_recorder::{Event, RecordingSpec};
use sfu::testclient::TestClient;
use sfu::{PeerId, Sfu, SfuConfig, SlotId};
use signaling::protocol::{ClientMessage, Phase};
use signaling::{RecordingRefusal, RecordingStatus};
use std::time::Duration;

const PUBLISHER: PeerId = PeerId(1);
const RECORDING: PeerId = PeerId(1_000_001);
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_tap_writes_what_the_sfu_forwards_into_a_webm_that_plays() {
    let (sfu, mut events) = Sfu::start(SfuConfig::default()).expect("valid config");
    let publisher = TestClient::publisher_with(&real_tracks())
        .await
        .expect("publisher");
    let offer = publisher.offer().await.expect("offer");
    let answer = sfu
        .add_peer(PUBLISHER, offer)
        .await
        .expect("the SFU answers");
    publisher
        .accept(answer.sdp)
        .await
        .expect("the answer applies");
    assert!(
        publisher.wait_connected(WAIT).await,
        "the publisher connects"
    );
    let senders = publisher.raw_senders().await.expect("senders");

    let (generator, writer) = send_real_media(senders);
    let (video, audio) = published(&mut events).await;

    let dir = tempfile::tempdir().expect("a temporary directory");
    let spec = RecordingSpec::new(dir.path().join("meeting.webm"), 2);
    let path = spec.path.clone();
    let (tap, slots, mut recording) = signaling::recording::start(&sfu, RECORDING, spec)
        .await
        .expect("the recording starts");
    assert_eq!(slots.len(), 3, "a video slot and two audio slots");
    let started = tokio::time::timeout(WAIT, recording.recv())
        .await
        .expect("in time");
    assert!(
        matches!(started, Some(Event::Started { .. })),
        "{started:?}"
    );
    sfu.subscribe(RECORDING, SlotId(0), video, 2)
        .await
        .expect("the main picture");
    sfu.subscribe(RECORDING, SlotId(1), audio, 0)
        .await
        .expect("the hall audio");
    let began = std::time::Instant::now();

    generator.await.expect("the generator ends");
    let written = writer.await.expect("the writer ends");
    assert!(written > 300, "{written} packets published");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let recorded_for = began.elapsed();
    let stats = sfu.port_stats().await.expect("stats");
    // The recording ends when both shares of the tap are gone.
    drop(tap);
    sfu.close_tap(RECORDING).await.expect("the tap closes");

    let mut seen = Vec::new();
    let duration = loop {
        let event = tokio::time::timeout(WAIT, recording.recv())
            .await
            .expect("the recording finishes in time")
            .expect("the recorder reports its end");
        match event {
            Event::Finished { duration, .. } => break duration,
            Event::Failed { error } => panic!("the recording failed: {error} after {seen:?}"),
            other => seen.push(other),
        }
    };
    let found = played(path).await;
    assert_audio_and_video(&found);
    // The picture starts at the first keyframe (one a second) after the subscription.
    assert!(found.video_frames >= 100, "{found:?}; {stats:?}");
    assert!(
        found.audio_peak > 4_000,
        "the hall's tone is heard: {found:?}"
    );
    let declared = found.duration.expect("a declared duration");
    assert!(
        declared.abs_diff(duration) < Duration::from_secs(1),
        "the file lasts {declared:?}, the recorder wrote {duration:?}"
    );
    assert!(
        declared > recorded_for.saturating_sub(Duration::from_secs(1)),
        "the file lasts {declared:?} of {recorded_for:?} recorded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_room_records_the_host_as_the_main_picture_with_the_floor_as_a_chapter() {
    let signaling = start_quiet();
    let tokens = Tokens::halls(2);
    let mut host = Page::open(&signaling, &tokens);
    host.join("tok-1").await;
    let media = TestClient::publisher_with(&real_tracks())
        .await
        .expect("publisher");
    assert!(
        negotiate(&mut host, &media).await.is_empty(),
        "a send-only hall"
    );
    let senders = media.raw_senders().await.expect("senders");
    let (generator, writer) = send_real_media(senders);

    let room = signaling
        .room(common::meeting().id)
        .expect("the meeting's room is open");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("giao-ban.webm");
    let spec = RecordingSpec::new(&path, 3);
    let chapters = spec.chapters_path();
    assert_eq!(room.start_recording(spec.clone()).await, Ok(Ok(())));
    assert_eq!(
        room.start_recording(spec).await,
        Ok(Err(RecordingRefusal::AlreadyRecording))
    );
    assert_eq!(
        room.recording_status().await,
        Ok(RecordingStatus::Recording { path: path.clone() })
    );
    let participants = room.participants().await.expect("the room answers");
    assert_eq!(participants.len(), 1, "the recording is not a participant");
    tokio::time::sleep(Duration::from_secs(2)).await;
    give_floor(&signaling, 1).await;

    generator.await.expect("the generator ends");
    assert!(writer.await.expect("the writer ends") > 300);
    assert_eq!(room.stop_recording().await, Ok(Ok(())));
    assert_eq!(
        room.stop_recording().await,
        Ok(Err(RecordingRefusal::NotRecording))
    );
    let (_, duration) = finished(&room).await;
    let found = played(path).await;
    assert_audio_and_video(&found);
    assert!(found.video_frames >= 90, "the host's picture: {found:?}");
    assert!(found.audio_peak > 4_000, "the host is heard: {found:?}");
    let declared = found.duration.expect("a declared duration");
    assert!(
        declared.abs_diff(duration) < Duration::from_secs(1),
        "{declared:?} vs {duration:?}"
    );
    let vtt = std::fs::read_to_string(&chapters).expect("the chapters were written");
    assert!(vtt.contains("Phát biểu: Hội trường UBND tỉnh"), "{vtt}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_floor_moves_from_a_to_b_the_recording_shows_b_from_then_on() {
    let signaling = start_quiet();
    let tokens = Tokens::halls(2);
    let seconds = 6;
    // A is the host, in red at 320×240; B a commune, in blue at 640×360.
    let (_a, _a_media, a_gen, _) = hall_showing(&signaling, &tokens, "tok-1", RED, seconds).await;
    let (_b, _b_media, b_gen, _) = hall_showing(&signaling, &tokens, "tok-2", BLUE, seconds).await;

    let room = signaling
        .room(common::meeting().id)
        .expect("the meeting's room is open");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("a-then-b.webm");
    let spec = RecordingSpec::new(&path, 3);
    let chapters = spec.chapters_path();
    assert_eq!(room.start_recording(spec).await, Ok(Ok(())));
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    give_floor(&signaling, 2).await;
    a_gen.await.expect("A's generator ends");
    b_gen.await.expect("B's generator ends");
    assert_eq!(room.stop_recording().await, Ok(Ok(())));
    finished(&room).await;
    let found = played(path).await;
    assert!(found.frames.len() >= 90, "{} frames", found.frames.len());
    // A (red) first, B (blue, at its own size) from the floor on.
    assert_red_then_blue(&found, (640, 360));
    let vtt = std::fs::read_to_string(&chapters).expect("the chapters were written");
    assert!(vtt.contains("Phát biểu: Điểm cầu xã A"), "{vtt}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_ends_the_recording_with_its_code_and_the_meeting_goes_on() {
    let signaling = start_quiet();
    let tokens = Tokens::halls(2);
    let (mut host, _media, generator, _) =
        hall_showing(&signaling, &tokens, "tok-1", Picture::default(), 8).await;
    let room = signaling
        .room(common::meeting().id)
        .expect("the meeting's room is open");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("full.webm");
    // Every write to /dev/full fails with ENOSPC, as a full disk does.
    std::os::unix::fs::symlink("/dev/full", &path).expect("a symlink");
    assert_eq!(
        room.start_recording(RecordingSpec::new(&path, 3)).await,
        Ok(Ok(()))
    );
    let deadline = std::time::Instant::now() + WAIT;
    let code = loop {
        if let RecordingStatus::Failed { code, .. } =
            room.recording_status().await.expect("the room answers")
        {
            break code;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the recording fails in time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(code, "recording_write_failed");
    // The meeting goes on: the host is still there and may act; a new recording may start.
    assert_eq!(room.participants().await.map(|p| p.len()), Ok(1));
    assert_eq!(
        room.stop_recording().await,
        Ok(Err(RecordingRefusal::NotRecording))
    );
    give_floor(&signaling, 1).await;
    host.expect("the floor", |m| {
        matches!(
            m,
            signaling::protocol::ServerMessage::Floor {
                hall_id: Some(1),
                ..
            }
        )
        .then_some(())
    })
    .await;
    let again = dir.path().join("again.webm");
    assert_eq!(
        room.start_recording(RecordingSpec::new(&again, 3)).await,
        Ok(Ok(()))
    );
    assert_eq!(room.stop_recording().await, Ok(Ok(())));
    generator.await.expect("the generator ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_the_meeting_finishes_its_recording() {
    let signaling = start_quiet();
    let tokens = Tokens::halls(2);
    let (_host, _media, generator, _) =
        hall_showing(&signaling, &tokens, "tok-1", Picture::default(), 3).await;
    let room = signaling
        .room(common::meeting().id)
        .expect("the meeting's room is open");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("ended.webm");
    assert_eq!(
        room.start_recording(RecordingSpec::new(&path, 3)).await,
        Ok(Ok(()))
    );
    generator.await.expect("the generator ends");
    for phase in [Phase::Started, Phase::Ended] {
        let set = ClientMessage::SetPhase { phase };
        signaling
            .act(&common::meeting(), 7, set)
            .await
            .expect("the phase is set");
    }
    // The room may close soon after; what remains is the finished file, whose chapters
    // are written when the recorder closes.
    let chapters = path.with_extension("vtt");
    let deadline = std::time::Instant::now() + WAIT;
    while !chapters.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the recording is closed in time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let found = played(path).await;
    assert_audio_and_video(&found);
    assert!(found.video_frames >= 30, "{found:?}");
}
