//! A recording through the SFU over real UDP on 127.0.0.1: a Rust publisher sends real
//! VP8 and Opus (encoded by GStreamer, paced in real time), the SFU forwards them into
//! a recording's tap, and the finished WebM opens in a player-like probe with one video
//! and one audio stream lasting as long as was sent.

use media_recorder::testing::{generate, probe, Produced};
use media_recorder::{Event, RecordingSpec};
use sfu::testclient::{TestClient, TrackSpec};
use sfu::{MediaKind, PeerId, RtpPacket, Sfu, SfuConfig, SfuEvent, SlotId, StreamId};
use std::time::Duration;
use tokio::sync::mpsc;

const PUBLISHER: PeerId = PeerId(1);
const RECORDING: PeerId = PeerId(1_000_001);
const WAIT: Duration = Duration::from_secs(20);
const SECONDS: u32 = 5;

/// The publisher's tracks, published: (video, audio).
async fn published(events: &mut mpsc::Receiver<SfuEvent>) -> (StreamId, StreamId) {
    let (mut video, mut audio) = (None, None);
    while video.is_none() || audio.is_none() {
        let event = tokio::time::timeout(WAIT, events.recv())
            .await
            .expect("the tracks are published in time")
            .expect("the SFU runs");
        if let SfuEvent::TrackPublished { kind, track, .. } = event {
            match kind {
                MediaKind::Video => video = Some(track),
                MediaKind::Audio => audio = Some(track),
            }
        }
    }
    (video.expect("video"), audio.expect("audio"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_tap_writes_what_the_sfu_forwards_into_a_webm_that_plays() {
    let (sfu, mut events) = Sfu::start(SfuConfig::default()).expect("valid config");
    let specs = [
        TrackSpec {
            kind: MediaKind::Video,
            ssrc: 0x1111,
        },
        TrackSpec {
            kind: MediaKind::Audio,
            ssrc: 0x2222,
        },
    ];
    let publisher = TestClient::publisher_with(&specs).await.expect("publisher");
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

    // Real media, from GStreamer's threads to the publisher's connection.
    let (tx, mut rx) = mpsc::unbounded_channel::<(Produced, Vec<u8>)>();
    let generator = tokio::task::spawn_blocking(move || {
        generate(SECONDS, move |what, packet| {
            let _ = tx.send((what, packet.to_vec()));
        });
    });
    let writer = tokio::spawn(async move {
        let mut written = 0u32;
        while let Some((what, bytes)) = rx.recv().await {
            let sender = match what {
                Produced::Video => &senders[0],
                Produced::Audio(0) => &senders[1],
                Produced::Audio(_) => continue,
            };
            let Ok(parsed) = RtpPacket::parse(&bytes) else {
                continue;
            };
            let h = parsed.header;
            let packet = rtc::rtp::Packet {
                header: rtc::rtp::header::Header {
                    version: 2,
                    marker: h.marker,
                    payload_type: sender.payload_type(),
                    sequence_number: h.sequence_number,
                    timestamp: h.timestamp,
                    ssrc: sender.ssrc(),
                    ..Default::default()
                },
                payload: bytes::Bytes::copy_from_slice(parsed.payload()),
            };
            if sender.write(packet).await.is_ok() {
                written += 1;
            }
        }
        written
    });
    let (video, audio) = published(&mut events).await;

    let dir = tempfile::tempdir().expect("a temporary directory");
    let spec = RecordingSpec::new(dir.path().join("meeting.webm"), 2);
    let path = spec.path.clone();
    let (slots, mut recording) = signaling::recording::start(&sfu, RECORDING, spec)
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
    let found = tokio::task::spawn_blocking(move || probe(&path))
        .await
        .expect("the probe runs")
        .expect("the file plays to its end");
    let mut streams = found.streams.clone();
    streams.sort_unstable();
    assert_eq!(streams, ["audio", "video"], "{found:?}");
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
