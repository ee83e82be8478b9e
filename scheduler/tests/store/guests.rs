//! Guests (khách mời): added, listed and revoked by the meeting's staff only; their link
//! works for their meeting within its window; their intervals are kept apart from the halls'.

use scheduler::attendance::{JoinKind, LeaveReason};
use scheduler::guests::participant_id;
use scheduler::time::now;
use scheduler::{Backend, Error, JoinRefusal, Level, MeetingDraft, MeetingKind, NewGuest};

use crate::support::{demo_db, hall_of, scope, unit_id, who};

const GRACE: i64 = 30;

fn journalist() -> NewGuest {
    NewGuest {
        name: "Phóng viên Báo Phú Thọ".into(),
        organisation: Some("Báo Phú Thọ".into()),
        phone: Some("0912 345 678".into()),
        email: None,
    }
}

/// A meeting of the Tân Sơn district, hosted by its hall, starting at `start`.
async fn tan_son_meeting(s: &scheduler::Store, start: i64) -> i64 {
    let admin = who(s, "admin").await;
    let district = unit_id(s, "240").await;
    let host = hall_of(s, "240").await.id;
    let draft = MeetingDraft {
        title: "Giao ban huyện Tân Sơn".into(),
        description: String::new(),
        kind: MeetingKind::Routine,
        host_hall_id: host,
        starts_at: start,
        ends_at: start + 7200,
        scope: scope(district, &[Level::District, Level::Commune]),
        recurrence: None,
    };
    s.schedule(&admin, draft, None).await.unwrap().remove(0).id
}

pub async fn guests_are_the_owners_to_add_list_and_revoke(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let start = now() + 600;
    let m = tan_son_meeting(s, start).await;
    let owner = who(s, "vp.tanson").await;
    let foreign = who(s, "vp.doanhung").await;
    let hall = who(s, "dc.240").await;

    let g = s.add_guest(&owner, m, &journalist()).await.unwrap();
    assert_eq!(g.name, "Phóng viên Báo Phú Thọ");
    assert_eq!(g.participant_id, -g.id);
    assert_eq!(g.join_token.len(), 64);
    assert!(g.revoked_at.is_none());

    assert!(
        matches!(
            s.add_guest(&foreign, m, &journalist()).await,
            Err(Error::NotFound(_))
        ),
        "another district's secretariat does not see the meeting"
    );
    assert!(
        matches!(s.guests(&hall, m).await, Err(Error::Forbidden(_))),
        "an invited hall sees the meeting but not its guests"
    );
    let bad = NewGuest {
        name: "Sở\u{7}Y tế".into(),
        ..journalist()
    };
    assert!(matches!(
        s.add_guest(&owner, m, &bad).await,
        Err(Error::Invalid { field, .. }) if field == "name"
    ));

    // The link is the guest's, for this meeting, within its window.
    let grant = s
        .check_join_token(&g.join_token, None, now())
        .await
        .unwrap();
    assert!(grant.guest);
    assert_eq!(grant.hall_id, g.participant_id);
    assert_eq!(grant.meeting.id, m);
    assert!(matches!(
        s.check_join_token(&g.join_token, None, start + 7200).await,
        Err(Error::JoinRefused(JoinRefusal::Expired))
    ));
    assert!(matches!(
        s.check_join_token(&g.join_token, None, start - 3600).await,
        Err(Error::JoinRefused(JoinRefusal::TooEarly))
    ));
    // A room account opening it is no reason to refuse: the guest joins, not the hall.
    assert!(s
        .check_join_token(&g.join_token, Some(&hall), now())
        .await
        .is_ok());

    let listed = s.guests(&owner, m).await.unwrap();
    assert_eq!(listed, vec![g.clone()]);

    assert!(matches!(
        s.revoke_guest(&foreign, m, g.id).await,
        Err(Error::NotFound(_))
    ));
    let revoked = s.revoke_guest(&owner, m, g.id).await.unwrap();
    let at = revoked.revoked_at.expect("revoked");
    assert_eq!(
        s.revoke_guest(&owner, m, g.id).await.unwrap().revoked_at,
        Some(at),
        "revoking again changes nothing"
    );
    assert!(matches!(
        s.check_join_token(&g.join_token, None, now()).await,
        Err(Error::JoinRefused(JoinRefusal::GuestRevoked))
    ));
    // A guest of another meeting is not found under this one.
    let other = tan_son_meeting(s, start + 86_400).await;
    assert!(matches!(
        s.revoke_guest(&owner, other, g.id).await,
        Err(Error::NotFound(_))
    ));

    // A cancelled meeting takes no guests.
    s.cancel_meeting(&owner, other, "hoãn").await.unwrap();
    assert!(matches!(
        s.add_guest(&owner, other, &journalist()).await,
        Err(Error::JoinRefused(JoinRefusal::Cancelled))
    ));
}

pub async fn guest_intervals_are_recorded_apart_from_the_halls(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let start = now() + 600;
    let m = tan_son_meeting(s, start).await;
    let owner = who(s, "vp.tanson").await;
    let host = hall_of(s, "240").await.id;
    let g = s.add_guest(&owner, m, &journalist()).await.unwrap();
    let p = participant_id(g.id);

    s.record_join(m, host, start - 60, GRACE).await.unwrap();
    s.meeting_started(m, start, None).await.unwrap();
    assert_eq!(
        s.record_join(m, p, start + 60, GRACE).await.unwrap(),
        JoinKind::New
    );
    s.record_heartbeats(m, &[host, p], start + 300)
        .await
        .unwrap();
    s.record_disconnect(m, p, start + 600).await.unwrap();
    assert_eq!(
        s.record_join(m, p, start + 610, GRACE).await.unwrap(),
        JoinKind::Reconnected
    );
    s.record_leave(m, p, start + 1260, LeaveReason::Left)
        .await
        .unwrap();
    s.record_join(m, p, start + 1800, GRACE).await.unwrap();
    s.meeting_ended(m, start + 2400, None).await.unwrap();

    let guests = s.guest_attendance(&owner, m).await.unwrap();
    assert_eq!(guests.len(), 1);
    let r = &guests[0];
    let timeline: Vec<_> = r
        .timeline
        .iter()
        .map(|i| {
            (
                i.joined_at,
                i.left_at,
                i.end_reason.as_deref(),
                i.reconnects,
            )
        })
        .collect();
    assert_eq!(
        timeline,
        vec![
            (start + 60, Some(start + 1260), Some("left"), 1),
            (start + 1800, Some(start + 2400), Some("meeting_ended"), 0),
        ]
    );
    assert_eq!(r.minutes_present, (1200 + 600) / 60);
    assert_eq!(r.first_join, Some(start + 60));
    assert_eq!(r.last_leave_reason.as_deref(), Some("meeting_ended"));

    // The halls' report has no guest row: guests are counted apart.
    let halls = s.meeting_attendance(&owner, m).await.unwrap();
    assert!(halls.iter().all(|h| h.hall.hall_id > 0));
    let host_row = halls.iter().find(|h| h.hall.hall_id == host).unwrap();
    assert_eq!(host_row.intervals, 1);

    // The log names the guest by its participant id.
    let events = s.live_events(m).await.unwrap();
    let guest_kinds: Vec<&str> = events
        .iter()
        .filter(|e| e.hall_id == Some(p))
        .map(|e| e.kind.as_str())
        .collect();
    assert_eq!(
        guest_kinds,
        ["join", "disconnect", "reconnect", "leave", "join", "leave"]
    );
}

pub async fn a_crash_closes_guest_intervals_too(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let start = now() + 600;
    let m = tan_son_meeting(s, start).await;
    let owner = who(s, "vp.tanson").await;
    let g = s.add_guest(&owner, m, &journalist()).await.unwrap();
    let p = participant_id(g.id);
    s.record_join(m, p, start, GRACE).await.unwrap();
    s.record_heartbeats(m, &[p], start + 120).await.unwrap();
    assert_eq!(s.recover_open_sessions().await.unwrap(), 1);
    let r = s.guest_attendance(&owner, m).await.unwrap().remove(0);
    assert_eq!(r.last_leave, Some(start + 120));
    assert_eq!(r.last_leave_reason.as_deref(), Some("server_restart"));
}
