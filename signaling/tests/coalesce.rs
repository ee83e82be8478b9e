//! Broadcast under load, over channels with virtual time (issue 12, defect C): a page that
//! reads slowly while halls report headcounts stays connected and ends with the latest
//! state; a page that stops reading is cut only after the write timeout, with 1008
//! `not_reading`, and nobody else notices; messages that must arrive are never merged and
//! keep their order while state around them is coalesced.

mod common;

use common::{joined, Page, Tokens};
use serde_json::json;
use signaling::protocol::{Action, Actor, MeetingState, Readiness, Reason, ServerMessage};
use signaling::Signaling;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::{sleep, Instant};

const MEETING: i64 = 42;

/// What a page that reads at its own pace saw.
#[derive(Default)]
struct Seen {
    messages: usize,
    state: Option<MeetingState>,
    board: Option<Readiness>,
    closed: Option<(u16, String)>,
}

/// Reads one message every `every` until `until`, then everything left, keeping the latest
/// `meeting_state` and readiness board.
async fn read_slowly(mut page: Page, every: Duration, until: Instant) -> (Page, Seen) {
    let mut seen = Seen::default();
    loop {
        let settle = Instant::now() >= until;
        let next = if settle {
            match page.next_within(Duration::from_secs(2)).await {
                Some(next) => next,
                None => break, // quiet: everything read
            }
        } else {
            sleep(every).await;
            page.next().await
        };
        match next {
            Some(ServerMessage::MeetingState(s)) => seen.state = Some(*s),
            Some(ServerMessage::Readiness(b)) => seen.board = Some(*b),
            Some(_) => {}
            None => {
                seen.closed = page.closed.clone();
                break;
            }
        }
        seen.messages += 1;
    }
    (page, seen)
}

/// Each of `pages` reports a headcount every 50 ms (20/s, within the rate limit) for
/// `secs` seconds, and raises or lowers its hand every 2 s; returns each hall's last count.
async fn report(pages: &mut [(i64, Page)], secs: u32) -> HashMap<i64, u32> {
    let mut last = HashMap::new();
    for tick in 0..secs * 20 {
        for (hall, page) in pages.iter_mut() {
            let people = tick * 3 + u32::try_from(*hall).unwrap_or(0);
            page.send(json!({"type": "headcount", "people": people}));
            last.insert(*hall, people);
            if tick % 40 == 0 {
                let hand = if tick % 80 == 0 {
                    "raise_hand"
                } else {
                    "lower_hand"
                };
                page.send(json!({"type": hand}));
            }
        }
        sleep(Duration::from_millis(50)).await;
    }
    last
}

/// Halls `first..=last` joined (over unbounded sockets that always read).
async fn halls(signaling: &Signaling, tokens: &Tokens, first: i64, last: i64) -> Vec<(i64, Page)> {
    let mut pages = Vec::new();
    for hall in first..=last {
        let mut page = Page::open(signaling, tokens);
        page.join(&format!("tok-{hall}")).await;
        pages.push((hall, page));
    }
    pages
}

#[tokio::test(start_paused = true)]
async fn a_page_reading_200_a_second_under_16_halls_reporting_stays_and_ends_up_to_date() {
    let signaling = common::start_quiet();
    let tokens = Tokens::halls(18);
    // The host and hall 18 read 200 messages a second through a small socket buffer.
    let mut host = Page::open_bounded(&signaling, &tokens, 16);
    host.join("tok-1").await;
    host.send(json!({"type": "readiness"}));
    let mut slow = Page::open_bounded(&signaling, &tokens, 16);
    slow.join("tok-18").await;
    let mut reporters = halls(&signaling, &tokens, 2, 17).await;

    let start = Instant::now();
    let until = start + Duration::from_secs(12);
    let every = Duration::from_millis(5);
    let host_reads = tokio::spawn(read_slowly(host, every, until));
    let slow_reads = tokio::spawn(read_slowly(slow, every, until));
    let last = report(&mut reporters, 12).await;
    let (_host, host_seen) = host_reads.await.expect("host reader");
    let (_slow, slow_seen) = slow_reads.await.expect("slow reader");

    assert!(Instant::now() - start >= Duration::from_secs(12));
    assert_eq!(host_seen.closed, None, "the host stays connected");
    assert_eq!(slow_seen.closed, None, "the slow hall stays connected");
    let room = signaling.room(MEETING).expect("room");
    let state = room.state().await.expect("state");
    assert_eq!(
        slow_seen.state.as_ref(),
        Some(&state),
        "the latest meeting_state"
    );
    assert_eq!(host_seen.state.as_ref(), Some(&state));
    let board = host_seen.board.expect("the host got the board");
    for (hall, people) in &last {
        let row = board.halls.iter().find(|h| h.hall_id == *hall);
        assert_eq!(row.and_then(|h| h.people), Some(*people), "hall {hall}");
    }
    println!(
        "16 halls × 20 headcounts/s for 12 s: the host read {} messages, hall 18 {}",
        host_seen.messages, slow_seen.messages
    );
}

#[tokio::test(start_paused = true)]
async fn a_page_that_stops_reading_is_cut_after_the_write_timeout_and_no_one_else_is() {
    let signaling = common::start_quiet();
    let timeout = signaling.config().write_timeout;
    let tokens = Tokens::halls(6);
    let mut host = Page::open(&signaling, &tokens);
    host.join("tok-1").await;
    let mut stalled = Page::open_bounded(&signaling, &tokens, 8);
    stalled.join("tok-2").await;
    let mut reporters = halls(&signaling, &tokens, 3, 6).await;

    // Not reading for half the write timeout while four halls report: nothing is cut.
    report(&mut reporters, timeout.as_secs() as u32 / 2).await;
    stalled.ping(1.0).await;
    assert!(stalled.closed.is_none(), "a pause is no reason to cut");

    // Not reading for longer: cut with 1008 not_reading once the write timeout passed.
    report(&mut reporters, timeout.as_secs() as u32 + 2).await;
    assert_eq!(stalled.close_frame().await, (1008, "not_reading".into()));

    // The others were not disturbed: still joined, answered, and told hall 2 is gone
    // once its grace period ran out.
    let gone = host.expect("hall 2 left", common::left).await;
    assert_eq!(gone, (2, Reason::NetworkLost));
    host.ping(2.0).await;
    for (_, page) in &mut reporters {
        page.ping(3.0).await;
        assert!(page.closed.is_none());
    }
}

#[tokio::test(start_paused = true)]
async fn messages_that_must_arrive_keep_their_order_while_state_is_coalesced() {
    let signaling = common::start_quiet();
    let tokens = Tokens::halls(5);
    let [mut host, mut own] = joined(&signaling, &tokens, ["tok-1", "tok-2"]).await;
    let mut reporters = halls(&signaling, &tokens, 3, 5).await;

    // While three halls report, the host locks and unlocks, gives and takes the floor,
    // and hall 2 reports 30 headcounts at once.
    for i in 0..10 {
        host.send(json!({"type": "lock", "locked": i % 2 == 0}));
        host.send(json!({"type": "give_floor", "hall_id": 3 + i % 3}));
    }
    host.send(json!({"type": "take_floor"}));
    for people in 0..30 {
        own.send(json!({"type": "headcount", "people": people}));
    }
    report(&mut reporters, 2).await;

    let host_acts = |m: &ServerMessage| match m {
        ServerMessage::Control {
            action,
            hall_id,
            by: Actor::Hall { hall_id: 1 },
            ..
        } if *action != Action::Headcount => Some((*action, *hall_id)),
        _ => None,
    };
    let mut want = Vec::new();
    for i in 0..10 {
        want.push((
            if i % 2 == 0 {
                Action::Lock
            } else {
                Action::Unlock
            },
            None,
        ));
        want.push((Action::GiveFloor, Some(3 + i % 3)));
    }
    want.push((Action::TakeFloor, Some(3)));
    let floors: Vec<Option<i64>> = (0..10).map(|i| Some(3 + i % 3)).chain([None]).collect();
    // Hall 2 gets each of its 30 reports acknowledged; the host may see them coalesced.
    for (page, own_acks) in [(&mut host, 0), (&mut own, 30)] {
        let mut acts = Vec::new();
        let mut floor = Vec::new();
        let mut acks = 0;
        while acts.len() < want.len() || floor.len() < floors.len() || acks < own_acks {
            let m = page.next().await.expect("still open");
            if let Some(act) = host_acts(&m) {
                acts.push(act);
            }
            match m {
                ServerMessage::Floor { hall_id, .. } => floor.push(hall_id),
                ServerMessage::Control {
                    action: Action::Headcount,
                    hall_id: Some(2),
                    ..
                } => acks += 1,
                _ => {}
            }
        }
        assert_eq!(acts, want, "every host control, in order");
        assert_eq!(floor, floors, "every floor change, in order");
    }
}
