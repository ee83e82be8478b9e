//! Real media for the recording tests: a publisher's tracks, real VP8 and Opus made by
//! GStreamer and sent paced through the test client, and a hall page showing a picture.

use super::{negotiate, Page, Tokens};
use media_recorder::testing::{generate_picture, probe, Picture, Probe, Produced};
use sfu::testclient::{RawSender, TestClient, TrackSpec};
use sfu::{MediaKind, RtpPacket, SfuEvent, StreamId};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub const WAIT: Duration = Duration::from_secs(20);
pub const SECONDS: u32 = 5;

/// The publisher's tracks, published: (video, audio).
pub async fn published(events: &mut mpsc::Receiver<SfuEvent>) -> (StreamId, StreamId) {
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

/// The tracks a real-media publisher sends: camera, then microphone.
pub fn real_tracks() -> [TrackSpec; 2] {
    [
        TrackSpec {
            kind: MediaKind::Video,
            ssrc: 0x1111,
        },
        TrackSpec {
            kind: MediaKind::Audio,
            ssrc: 0x2222,
        },
    ]
}

/// Sends `SECONDS` of real VP8 and Opus through `senders` (camera, microphone): the
/// generator (ends when all was produced) and the writer (the packets written).
pub fn send_real_media(senders: Vec<RawSender>) -> (JoinHandle<()>, JoinHandle<u32>) {
    send_picture(senders, SECONDS, Picture::default())
}

/// [`send_real_media`] of `picture` for `seconds`.
pub fn send_picture(
    senders: Vec<RawSender>,
    seconds: u32,
    picture: Picture,
) -> (JoinHandle<()>, JoinHandle<u32>) {
    // Real media, from GStreamer's threads to the publisher's connection.
    let (tx, mut rx) = mpsc::unbounded_channel::<(Produced, Vec<u8>)>();
    let generator = tokio::task::spawn_blocking(move || {
        generate_picture(seconds, picture, move |what, packet| {
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
    (generator, writer)
}

/// A hall page joined with `token` that publishes `picture` for `seconds`.
pub async fn hall_showing(
    signaling: &signaling::Signaling,
    tokens: &Tokens,
    token: &str,
    picture: Picture,
    seconds: u32,
) -> (Page, TestClient, JoinHandle<()>, JoinHandle<u32>) {
    let mut page = Page::open(signaling, tokens);
    page.join(token).await;
    let media = TestClient::publisher_with(&real_tracks())
        .await
        .expect("publisher");
    assert!(
        negotiate(&mut page, &media).await.is_empty(),
        "a send-only hall"
    );
    let senders = media.raw_senders().await.expect("senders");
    let (generator, writer) = send_picture(senders, seconds, picture);
    (page, media, generator, writer)
}

/// A red picture at 320×240 (the host's in the floor-change tests).
pub const RED: Picture = Picture {
    pattern: "red",
    width: 320,
    height: 240,
};
/// A blue picture at 640×360 (the hall given the floor).
pub const BLUE: Picture = Picture {
    pattern: "blue",
    width: 640,
    height: 360,
};

/// A recording that shows a red picture in its first 2 s and, in its last 1.5 s, a blue
/// one of `size` (the floor moved from the red hall to the blue one).
pub fn assert_red_then_blue(found: &Probe, size: (u32, u32)) {
    let end = found.duration.expect("a declared duration");
    let frames = &found.frames;
    let before: Vec<_> = frames
        .iter()
        .filter(|f| f.pts < Duration::from_secs(2))
        .collect();
    let after: Vec<_> = frames
        .iter()
        .filter(|f| f.pts + Duration::from_millis(1_500) > end)
        .collect();
    assert!(
        !before.is_empty() && !after.is_empty(),
        "frames before and after: {frames:?}"
    );
    assert!(
        before.iter().all(|f| reddish(f.centre)),
        "red first: {before:?}"
    );
    assert!(
        after.iter().all(|f| bluish(f.centre)),
        "blue at the end: {after:?}"
    );
    assert!(
        after.iter().all(|f| (f.width, f.height) == size),
        "the blue hall's own size {size:?}: {after:?}"
    );
}

pub fn reddish([r, g, b]: [u8; 3]) -> bool {
    r > 150 && g < 100 && b < 100
}

pub fn bluish([r, g, b]: [u8; 3]) -> bool {
    b > 150 && r < 100 && g < 100
}

/// The finished file at `path` as a player sees it (probed off the runtime's threads);
/// it must play to its end.
pub async fn played(path: PathBuf) -> Probe {
    tokio::task::spawn_blocking(move || probe(&path))
        .await
        .expect("the probe runs")
        .expect("the file plays to its end")
}

/// One audio and one video stream, as the issue asks of a recording.
pub fn assert_audio_and_video(found: &Probe) {
    let mut streams = found.streams.clone();
    streams.sort_unstable();
    assert_eq!(streams, ["audio", "video"], "{found:?}");
}

/// Staff (account 7, over the HTTP live path) give the floor of the test meeting to `hall_id`.
pub async fn give_floor(signaling: &signaling::Signaling, hall_id: i64) {
    let floor = signaling::protocol::ClientMessage::GiveFloor {
        hall_id,
        speaking_limit_secs: None,
    };
    signaling
        .act(&super::meeting(), 7, floor)
        .await
        .expect("the floor is given");
}

/// Waits (real time, bounded) until the room's recording is finished: its file and
/// length. A failed recording fails the test with its code.
pub async fn finished(room: &signaling::RoomHandle) -> (PathBuf, Duration) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        match room.recording_status().await.expect("the room answers") {
            signaling::RecordingStatus::Finished { path, duration } => return (path, duration),
            signaling::RecordingStatus::Failed { code, message, .. } => {
                panic!("{code}: {message}")
            }
            _ => {}
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the recording finishes in time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
