//! Starting and stopping the meeting's recording over the live control path, over real
//! UDP on 127.0.0.1 with real VP8 and Opus from a Rust publisher: the host's page (or
//! the secretariat over HTTP) starts it, every page — a late one too — is told
//! `recording`, other halls are refused, the file lands under the recordings directory
//! and plays; a server without that directory refuses `recording_unavailable`; a
//! meeting kind recorded by default starts by itself when the meeting starts; a write
//! error, the meeting's end and the room closing after the last hall left end it; with
//! a store, each recording is a row saying who started it, how long it is and its size.

mod common;

use common::recording::{
    assert_audio_and_video, hall_showing, played, real_tracks, send_picture, WAIT,
};
use common::{negotiate, Log, Page, Tokens};
use media_recorder::testing::Picture;
use media_recorder::RecordingSpec;
use scheduler::recordings::RecordingState;
use scheduler::testing::{demo_db, province_meeting_now, test_backend};
use scheduler::Level;
use serde_json::json;
use sfu::testclient::TestClient;
use signaling::protocol::{Actor, ClientMessage, ErrorCode, Phase, RecordingInfo, ServerMessage};
use signaling::{PresenceKind, RecordingEvent, Signaling, SignalingConfig, StoreRecorder};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const HOST: Actor = Actor::Hall { hall_id: 1 };
const STAFF: Actor = Actor::Staff { account_id: 7 };

/// A service recording into `dir` (if any) with `config`'s other settings, and its log.
fn server(dir: Option<&Path>, config: SignalingConfig) -> (Signaling, Arc<Log>) {
    let log = Arc::new(Log::default());
    let config = SignalingConfig {
        recordings_dir: dir.map(Path::to_path_buf),
        ..config
    };
    let signaling = Signaling::start(sfu::SfuConfig::default(), config)
        .expect("valid config")
        .record_with(log.clone());
    (signaling, log)
}

/// The next `recording` a page is told.
async fn recording(page: &mut Page) -> RecordingInfo {
    page.expect("recording", |m| match m {
        ServerMessage::Recording(info) => Some(info.clone()),
        _ => None,
    })
    .await
}

/// Waits (real time, bounded) until the room's recording is finished; its file.
async fn finished(signaling: &Signaling) -> PathBuf {
    let room = signaling
        .room(common::meeting().id)
        .expect("the room is open");
    common::recording::finished(&room).await.0
}

/// The recording events in the log: (event, who, detail).
fn logged(log: &Log) -> Vec<(RecordingEvent, Actor, String)> {
    log.kinds()
        .into_iter()
        .filter_map(|k| match k {
            PresenceKind::Recording { event, by, detail } => Some((event, by, detail)),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_records_every_page_is_told_and_other_halls_are_refused() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (signaling, log) = server(Some(dir.path()), common::quiet());
    let tokens = Tokens::halls(3);
    let (mut host, _media, generator, _) =
        hall_showing(&signaling, &tokens, "tok-1", Picture::default(), 4).await;
    let mut hall = Page::open(&signaling, &tokens);
    hall.join("tok-2").await;

    hall.send(json!({"type": "start_recording"}));
    assert_eq!(hall.error().await, ErrorCode::Forbidden, "only the host");
    host.send(json!({"type": "start_recording"}));
    let mut since = None;
    for page in [&mut host, &mut hall] {
        let on = recording(page).await;
        assert!(on.on, "{on:?}");
        assert_eq!(on.by, Some(HOST));
        assert!(on.since.is_some(), "{on:?}");
        since = on.since;
    }
    host.send(json!({"type": "start_recording"}));
    assert_eq!(host.error().await, ErrorCode::AlreadyRecording);

    // A page that comes in late is told right after its welcome.
    let mut late = Page::open(&signaling, &tokens);
    late.join("tok-3").await;
    let told = recording(&mut late).await;
    assert_eq!((told.on, told.since, told.by), (true, since, Some(HOST)));

    generator.await.expect("the generator ends");
    host.send(json!({"type": "stop_recording"}));
    for page in [&mut host, &mut hall, &mut late] {
        let off = recording(page).await;
        assert_eq!((off.on, off.by, off.code), (false, Some(HOST), None));
    }
    host.send(json!({"type": "stop_recording"}));
    assert_eq!(host.error().await, ErrorCode::NotRecording);

    let path = finished(&signaling).await;
    let name = path
        .strip_prefix(dir.path())
        .expect("under the recordings directory")
        .display()
        .to_string();
    assert!(
        name.starts_with("42/42-") && name.ends_with("Z.webm"),
        "{name}"
    );
    let found = played(path).await;
    assert_audio_and_video(&found);
    assert!(found.video_frames >= 30, "the host's picture: {found:?}");
    assert_eq!(
        logged(&log),
        [
            (RecordingEvent::Started, HOST, name.clone()),
            (RecordingEvent::Stopped, HOST, name)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_a_recordings_directory_refuses_and_a_bad_one_fails() {
    let (signaling, log) = server(None, common::quiet());
    let tokens = Tokens::halls(2);
    let mut host = Page::open(&signaling, &tokens);
    host.join("tok-1").await;
    host.send(json!({"type": "start_recording"}));
    assert_eq!(host.error().await, ErrorCode::RecordingUnavailable);
    let staff = signaling
        .act(&common::meeting(), 7, ClientMessage::StartRecording)
        .await;
    assert_eq!(
        staff.map_err(|e| e.code),
        Err(ErrorCode::RecordingUnavailable)
    );

    // A directory that cannot be made (a file is in its place).
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, b"").expect("written");
    let (signaling, _) = server(Some(&file), common::quiet());
    let mut host = Page::open(&signaling, &tokens);
    host.join("tok-1").await;
    host.send(json!({"type": "start_recording"}));
    assert_eq!(host.error().await, ErrorCode::RecordingFailed);
    host.send(json!({"type": "stop_recording"}));
    assert_eq!(host.error().await, ErrorCode::NotRecording);
    assert!(logged(&log).is_empty(), "nothing was recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_recorded_by_default_records_from_the_start_to_the_end() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = SignalingConfig {
        record_kinds: vec!["routine".into()],
        ..common::quiet()
    };
    let (signaling, log) = server(Some(dir.path()), config);
    let tokens = Tokens::halls(2);
    let (mut host, _media, generator, _) =
        hall_showing(&signaling, &tokens, "tok-1", Picture::default(), 3).await;
    let mut hall = Page::open(&signaling, &tokens);
    hall.join("tok-2").await;
    let set = |phase| ClientMessage::SetPhase { phase };
    signaling
        .act(&common::meeting(), 7, set(Phase::Test))
        .await
        .expect("the test starts");
    signaling
        .act(&common::meeting(), 7, set(Phase::Started))
        .await
        .expect("the meeting starts");
    for page in [&mut host, &mut hall] {
        let on = recording(page).await;
        assert_eq!((on.on, on.by), (true, Some(Actor::Server)));
    }
    generator.await.expect("the generator ends");
    signaling
        .act(&common::meeting(), 7, set(Phase::Ended))
        .await
        .expect("the meeting ends");
    let off = recording(&mut hall).await;
    assert_eq!((off.on, off.by), (false, Some(STAFF)));
    let events = logged(&log);
    assert_eq!(
        events
            .iter()
            .map(|(event, by, _)| (*event, *by))
            .collect::<Vec<_>>(),
        [
            (RecordingEvent::Started, Actor::Server),
            (RecordingEvent::Stopped, STAFF)
        ]
    );
    let file = dir.path().join(&events[0].2);
    wait_for(&file.with_extension("vtt")).await;
    assert_audio_and_video(&played(file).await);
}

/// Waits (real time, bounded) until `path` exists: the recorder writes the chapters
/// when it closes, after the file.
async fn wait_for(path: &Path) {
    let deadline = std::time::Instant::now() + WAIT;
    while !path.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} in time",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recording_is_finished_when_the_room_closes_after_the_last_hall_left() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = SignalingConfig {
        linger: Duration::from_millis(500),
        ..common::quiet()
    };
    let (signaling, log) = server(Some(dir.path()), config);
    let tokens = Tokens::halls(2);
    let (mut host, _media, generator, _) =
        hall_showing(&signaling, &tokens, "tok-1", Picture::default(), 3).await;
    signaling
        .act(&common::meeting(), 7, ClientMessage::StartRecording)
        .await
        .expect("the secretariat starts the recording");
    let on = recording(&mut host).await;
    assert_eq!((on.on, on.by), (true, Some(STAFF)));
    generator.await.expect("the generator ends");
    host.send(json!({"type": "leave"}));
    host.close_frame().await;
    // The recording alone keeps no room open: it closes, and the file is finished.
    let deadline = std::time::Instant::now() + WAIT;
    while signaling.room(common::meeting().id).is_some() {
        assert!(std::time::Instant::now() < deadline, "the room closes");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let events = logged(&log);
    assert_eq!(
        events
            .iter()
            .map(|(event, by, _)| (*event, *by))
            .collect::<Vec<_>>(),
        [
            (RecordingEvent::Started, STAFF),
            (RecordingEvent::Stopped, Actor::Server)
        ]
    );
    let file = dir.path().join(&events[0].2);
    wait_for(&file.with_extension("vtt")).await;
    assert_audio_and_video(&played(file).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_error_ends_the_recording_and_every_page_is_told_why() {
    let (signaling, log) = server(None, common::quiet());
    let tokens = Tokens::halls(2);
    let (mut host, _media, generator, _) =
        hall_showing(&signaling, &tokens, "tok-1", Picture::default(), 8).await;
    let mut hall = Page::open(&signaling, &tokens);
    hall.join("tok-2").await;
    let room = signaling
        .room(common::meeting().id)
        .expect("the meeting's room is open");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("full.webm");
    // Every write to /dev/full fails with ENOSPC, as a full disk does.
    std::os::unix::fs::symlink("/dev/full", &path).expect("a symlink");
    let spec = RecordingSpec::new(&path, 3);
    assert_eq!(room.start_recording(spec).await, Ok(Ok(())));
    for page in [&mut host, &mut hall] {
        assert!(recording(page).await.on);
        let off = recording(page).await;
        assert_eq!(
            (off.on, off.by, off.code, off.detail.as_deref()),
            (
                false,
                Some(Actor::Server),
                Some(ErrorCode::RecordingFailed),
                Some("recording_write_failed")
            )
        );
    }
    let events = logged(&log);
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1].0, RecordingEvent::Failed);
    assert!(events[1].2.contains("recording_write_failed"), "{events:?}");
    // The meeting goes on: the host may start a new recording (refused here: this
    // server has no recordings directory).
    host.send(json!({"type": "start_recording"}));
    assert_eq!(host.error().await, ErrorCode::RecordingUnavailable);
    generator.await.expect("the generator ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_keeps_each_recording_with_who_started_it_its_length_and_size() {
    let db = demo_db(test_backend()).await.expect("demo database");
    let store = &db.store;
    let levels = [Level::Province, Level::District];
    let m = province_meeting_now(store, "Giao ban có ghi hình", &levels)
        .await
        .expect("scheduled");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = SignalingConfig {
        recordings_dir: Some(dir.path().to_path_buf()),
        ..common::quiet()
    };
    let signaling = Signaling::start(sfu::SfuConfig::default(), config)
        .expect("valid config")
        .record_with(StoreRecorder::spawn(store.clone(), 10))
        .with_roster(store.clone());
    let mut host = common::store::invited(&signaling, store, m.id, m.host_hall_id).await;
    host.welcome().await;
    let media = TestClient::publisher_with(&real_tracks())
        .await
        .expect("publisher");
    assert!(negotiate(&mut host, &media).await.is_empty(), "send-only");
    let senders = media.raw_senders().await.expect("senders");
    let (generator, _) = send_picture(senders, 3, Picture::default());

    host.send(json!({"type": "start_recording"}));
    assert!(recording(&mut host).await.on);
    generator.await.expect("the generator ends");
    host.send(json!({"type": "stop_recording"}));
    assert!(!recording(&mut host).await.on);

    let admin = store.principal_by_username("admin").await.expect("admin");
    let deadline = std::time::Instant::now() + WAIT;
    let row = loop {
        let rows = store.recordings(&admin, m.id).await.expect("listed");
        if let [row] = rows.as_slice() {
            if row.status != RecordingState::Recording {
                break row.clone();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "ended in time: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(row.status, RecordingState::Finished, "{row:?}");
    assert_eq!(row.started_by, m.host_hall_name);
    let prefix = format!("{0}/{0}-", m.id);
    assert!(row.file.starts_with(&prefix), "{row:?}");
    let path = dir.path().join(&row.file);
    let size = std::fs::metadata(&path).expect("the file is there").len();
    assert_eq!(row.bytes, i64::try_from(size).ok(), "{row:?}");
    let found = played(path).await;
    let declared = found.duration.expect("a declared duration");
    let stored = Duration::from_millis(row.duration_ms.expect("a duration").unsigned_abs());
    assert!(
        declared.abs_diff(stored) < Duration::from_secs(1),
        "the file lasts {declared:?}, the row says {stored:?}"
    );
    db.cleanup().await;
}
