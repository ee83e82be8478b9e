//! Two meetings live at once on one SFU, each hall speaking with simulated audio levels
//! (the test client's microphone sends RFC 6464 levels): every hall is told the active
//! speaker of its own meeting, and never a hall of the other meeting.
//! Bounded waits only; nothing asserts on speed.

mod common;

use common::{negotiate, Page};
use serde_json::json;
use sfu::testclient::speaking::Speaking;
use sfu::testclient::TestClient;
use sfu::SfuConfig;
use signaling::protocol::{ErrorCode, HallInfo, MeetingInfo, ProtocolError, ServerMessage};
use signaling::{Admission, Admit, Signaling, SignalingConfig};
use std::time::Duration;

/// Meeting A (`common::meeting()`, halls 1 and 2, hall 1 hosts) and meeting B (halls 11
/// and 12, hall 11 hosts); a token is `"{meeting}-{hall}"`.
#[derive(Clone)]
struct TwoMeetings;

fn meeting_b() -> MeetingInfo {
    MeetingInfo {
        id: 43,
        title: "Họp đột xuất phòng chống dịch".into(),
        host_hall_id: 11,
        host_hall_name: "Hội trường UBND huyện".into(),
        ..common::meeting()
    }
}

impl Admit for TwoMeetings {
    async fn admit(&self, token: &str) -> Result<Admission, ProtocolError> {
        let (meeting, hall) = match token {
            "42-1" => (common::meeting(), 1),
            "42-2" => (common::meeting(), 2),
            "43-11" => (meeting_b(), 11),
            "43-12" => (meeting_b(), 12),
            _ => return Err(ProtocolError::new(ErrorCode::JoinRefused, "unknown token")),
        };
        let name = format!("Điểm cầu {hall}");
        Ok(Admission {
            meeting,
            hall: HallInfo { id: hall, name },
        })
    }
}

/// A hall in a meeting: its page and its microphone.
struct Hall {
    page: Page,
    media: TestClient,
}

/// Reads the page until `stop` matches; returns every `active_speaker` it was told on
/// the way (the stopping message included).
async fn speakers_until(
    page: &mut Page,
    stop: impl Fn(&ServerMessage) -> bool,
) -> Vec<Option<i64>> {
    let mut told = Vec::new();
    loop {
        let m = page.next().await.expect("the socket stays open");
        if let ServerMessage::ActiveSpeaker { hall_id } = m {
            told.push(hall_id);
        }
        if stop(&m) {
            return told;
        }
    }
}

/// What the page is told up to now: a ping's pong marks the end.
async fn speakers_so_far(page: &mut Page) -> Vec<Option<i64>> {
    page.send(json!({"type": "ping", "ts": 1.0}));
    speakers_until(page, |m| matches!(m, ServerMessage::Pong { .. })).await
}

/// Reads each page until it is told that `hall` speaks; returns what each was told.
async fn told_until(halls: &mut [Hall], hall: i64) -> Vec<Vec<Option<i64>>> {
    let mut told = Vec::new();
    for h in halls {
        let speaks = |m: &ServerMessage| matches!(m, ServerMessage::ActiveSpeaker { hall_id: Some(id) } if *id == hall);
        told.push(speakers_until(&mut h.page, speaks).await);
    }
    told
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_meetings_each_hear_of_their_own_active_speaker_only() {
    let config = SignalingConfig {
        heartbeat: Duration::from_secs(600), // pages here do not ping on their own
        halls_join_muted: false,             // every hall may speak
        ..SignalingConfig::default()
    };
    let signaling = Signaling::start(SfuConfig::default(), config).expect("valid config");
    let mut halls = Vec::new();
    for token in ["42-1", "42-2", "43-11", "43-12"] {
        let mut page = Page::open_with(&signaling, TwoMeetings);
        page.join(token).await;
        let media = TestClient::publisher().await.expect("publisher");
        negotiate(&mut page, &media).await;
        halls.push(Hall { page, media });
    }
    assert_eq!(signaling.room_count(), 2, "one room per meeting");
    // Levels in -dBov (0 loudest): the loudest hall of all is in meeting A; meeting B
    // speaks more softly and must still have a speaker of its own.
    let mut mics: Vec<Speaking> = Vec::new();
    for (hall, level) in halls.iter().zip([10, 40, 30, 45]) {
        mics.push(hall.media.start_speaking(level).await.expect("speaking"));
    }
    let (a, b) = halls.split_at_mut(2);
    assert_eq!(told_until(a, 1).await, [[Some(1)], [Some(1)]]);
    assert_eq!(told_until(b, 11).await, [[Some(11)], [Some(11)]]);

    // In meeting B hall 11 falls silent and hall 12 speaks up: B's halls are told.
    mics[2].set_level(127);
    mics[3].set_level(20);
    assert_eq!(told_until(b, 12).await, [[Some(12)], [Some(12)]]);

    // Then in meeting A hall 1 falls silent and hall 2 speaks up: A's halls were told
    // nothing of meeting B's change in between.
    mics[0].set_level(127);
    mics[1].set_level(5);
    assert_eq!(told_until(a, 2).await, [[Some(2)], [Some(2)]]);
    // Nor are B's halls told of A's (the room had time to pass on a stray event).
    tokio::time::sleep(Duration::from_millis(500)).await;
    for hall in b.iter_mut() {
        assert_eq!(speakers_so_far(&mut hall.page).await, []);
    }
    for mic in mics {
        mic.stop().await;
    }
}
