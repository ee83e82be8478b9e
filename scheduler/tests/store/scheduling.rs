//! Scheduling on the Phú Thọ demo tree: scopes, roles, conflicts, tokens, series, changes, sessions.

use scheduler::time::now;
use scheduler::{
    Backend, Error, JoinRefusal, Level, MeetingChange, MeetingDraft, MeetingFilter, MeetingKind,
    MeetingStatus, Scope,
};

use crate::support::{demo_db, demo_hash, hall_of, scope, today, unit_id, who};

const ALL: [Level; 3] = [Level::Province, Level::District, Level::Commune];

fn draft(host_hall_id: i64, scope: Scope, starts_in_hours: i64, hours: i64) -> MeetingDraft {
    let start = now() + starts_in_hours * 3600;
    MeetingDraft {
        title: "Giao ban trực tuyến".into(),
        description: String::new(),
        kind: MeetingKind::Routine,
        host_hall_id,
        starts_at: start,
        ends_at: start + hours * 3600,
        scope,
        recurrence: None,
    }
}

pub async fn phu_tho_scopes_invite_the_right_halls(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let province = unit_id(s, "25").await;
    let host = hall_of(s, "25").await.id;
    let all = s
        .resolve_scope(&scope(province, &ALL), Some(host), today())
        .await
        .unwrap();
    assert_eq!(all.total, 221);
    assert_eq!(all.per_level.get("commune"), Some(&207));
    let upper = s
        .resolve_scope(
            &scope(province, &[Level::Province, Level::District]),
            Some(host),
            today(),
        )
        .await
        .unwrap();
    assert_eq!(upper.total, 14);
    let tan_son = unit_id(s, "240").await;
    let tan_son_hall = hall_of(s, "240").await.id;
    let district = s
        .resolve_scope(
            &scope(tan_son, &[Level::District, Level::Commune]),
            Some(tan_son_hall),
            today(),
        )
        .await
        .unwrap();
    assert_eq!(district.total, 18);

    let excluded = hall_of(s, "08578").await.id; // Xã Tân Sơn
    let mut without = scope(province, &ALL);
    without.exclude_halls.insert(excluded);
    let fewer = s
        .resolve_scope(&without, Some(host), today())
        .await
        .unwrap();
    assert_eq!(fewer.total, 220);
    let removed: Vec<i64> = all
        .hall_ids
        .iter()
        .copied()
        .filter(|h| !fewer.hall_ids.contains(h))
        .collect();
    assert_eq!(removed, vec![excluded]);

    // Scheduling freezes exactly that set as invitations.
    let admin = who(s, "admin").await;
    let m = s
        .schedule(&admin, draft(host, without, 2, 2), None)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(m.invited, 220);
    let invited = s.invitations(&admin, m.id).await.unwrap();
    assert!(invited
        .iter()
        .all(|i| i.hall_id != excluded && i.join_token.as_ref().is_some_and(|t| t.len() == 64)));
    db.cleanup().await;
}

pub async fn district_secretariat_stays_in_its_district(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let vp_tan_son = who(s, "vp.tanson").await;
    let province = unit_id(s, "25").await;
    let province_hall = hall_of(s, "25").await.id;
    let refused = s
        .schedule(
            &vp_tan_son,
            draft(province_hall, scope(province, &ALL), 2, 1),
            None,
        )
        .await;
    assert!(matches!(refused, Err(Error::Forbidden(_))), "{refused:?}");

    let tan_son = unit_id(s, "240").await;
    let own = s
        .schedule(
            &vp_tan_son,
            draft(
                hall_of(s, "240").await.id,
                scope(tan_son, &[Level::District, Level::Commune]),
                2,
                1,
            ),
            None,
        )
        .await
        .unwrap();
    assert_eq!(own[0].invited, 18);

    // Another district's meeting is invisible: not found, not forbidden.
    let vp_other = who(s, "vp.doanhung").await;
    let doan_hung = unit_id(s, "230").await;
    let theirs = s
        .schedule(
            &vp_other,
            draft(
                hall_of(s, "230").await.id,
                scope(doan_hung, &[Level::District]),
                5,
                1,
            ),
            None,
        )
        .await
        .unwrap();
    assert!(matches!(
        s.meeting_for(&vp_tan_son, theirs[0].id).await,
        Err(Error::NotFound(_))
    ));
    let listed = s
        .meetings_for(&vp_tan_son, MeetingFilter::default())
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![own[0].id]
    );
    // The province secretariat sees both.
    assert_eq!(
        s.meetings_for(&who(s, "vp.tinh").await, MeetingFilter::default())
            .await
            .unwrap()
            .len(),
        2
    );
    db.cleanup().await;
}

pub async fn hall_accounts_see_only_their_meetings(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let admin = who(s, "admin").await;
    let tan_son = unit_id(s, "240").await;
    let m = s
        .schedule(
            &admin,
            draft(
                hall_of(s, "240").await.id,
                scope(tan_son, &[Level::District, Level::Commune]),
                2,
                1,
            ),
            None,
        )
        .await
        .unwrap()
        .remove(0);
    let commune = who(s, "dc.08578").await;
    let outsider = who(s, "dc.227").await; // Thành phố Việt Trì
    assert_eq!(
        s.meetings_for(&commune, MeetingFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(s
        .meetings_for(&outsider, MeetingFilter::default())
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        s.meeting_for(&outsider, m.id).await,
        Err(Error::NotFound(_))
    ));
    // A hall sees only its own token among the invitations.
    let inv = s.invitations(&commune, m.id).await.unwrap();
    assert_eq!(inv.iter().filter(|i| i.join_token.is_some()).count(), 1);
    assert!(matches!(
        s.schedule(
            &commune,
            draft(
                hall_of(s, "08578").await.id,
                scope(tan_son, &[Level::Commune]),
                9,
                1
            ),
            None
        )
        .await,
        Err(Error::Forbidden(_))
    ));
    db.cleanup().await;
}

pub async fn overlapping_meetings_conflict_unless_overridden(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let admin = who(s, "admin").await;
    let province = unit_id(s, "25").await;
    let host = hall_of(s, "25").await.id;
    let first = s
        .schedule(&admin, draft(host, scope(province, &ALL), 2, 2), None)
        .await
        .unwrap()
        .remove(0);
    let tan_son = unit_id(s, "240").await;
    let overlapping = draft(
        hall_of(s, "240").await.id,
        scope(tan_son, &[Level::District, Level::Commune]),
        3,
        2,
    );
    match s.schedule(&admin, overlapping.clone(), None).await {
        Err(Error::Conflict(c)) => {
            assert_eq!(c.len(), 1);
            assert_eq!(c[0].meeting_id, Some(first.id));
            assert_eq!(c[0].halls, 18);
            assert_eq!(c[0].title, "Giao ban trực tuyến");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let forced = s
        .schedule(&admin, overlapping, Some("Họp khẩn phòng chống dịch"))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        forced.override_reason.as_deref(),
        Some("Họp khẩn phòng chống dịch")
    );
    let events = s.meeting_events(&admin, forced.id).await.unwrap();
    assert!(events[0].detail.contains("Họp khẩn"), "{events:?}");
    // Right after the first meeting is free.
    assert!(s
        .schedule(
            &admin,
            draft(host, scope(province, &[Level::Province]), 4, 1),
            None
        )
        .await
        .is_ok());
    db.cleanup().await;
}

pub async fn join_tokens_are_for_their_hall_and_time(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let admin = who(s, "admin").await;
    let tan_son = unit_id(s, "240").await;
    let m = s
        .schedule(
            &admin,
            draft(
                hall_of(s, "240").await.id,
                scope(tan_son, &[Level::District, Level::Commune]),
                2,
                1,
            ),
            None,
        )
        .await
        .unwrap()
        .remove(0);
    let commune_hall = hall_of(s, "08578").await.id;
    let token = s
        .join_token_of(m.id, commune_hall)
        .await
        .unwrap()
        .expect("invited");
    let own = who(s, "dc.08578").await;
    let during = m.starts_at + 60;
    let grant = s
        .check_join_token(&token, Some(&own), during)
        .await
        .unwrap();
    assert_eq!((grant.meeting.id, grant.hall_id), (m.id, commune_hall));
    let foreign = who(s, "dc.08545").await;
    assert!(matches!(
        s.check_join_token(&token, Some(&foreign), during).await,
        Err(Error::JoinRefused(JoinRefusal::ForeignHall))
    ));
    assert!(matches!(
        s.check_join_token(&token, None, m.ends_at).await,
        Err(Error::JoinRefused(JoinRefusal::Expired))
    ));
    assert!(matches!(
        s.check_join_token(&token, None, m.starts_at - 3600).await,
        Err(Error::JoinRefused(JoinRefusal::TooEarly))
    ));
    assert!(
        s.check_join_token(&token, None, m.starts_at - 600)
            .await
            .is_ok(),
        "opens a little before the start"
    );
    let forged = "0".repeat(64);
    assert!(matches!(
        s.check_join_token(&forged, None, during).await,
        Err(Error::NotFound(_))
    ));
    s.cancel_meeting(&admin, m.id, "hoãn").await.unwrap();
    assert!(matches!(
        s.check_join_token(&token, None, during).await,
        Err(Error::JoinRefused(JoinRefusal::Cancelled))
    ));
    db.cleanup().await;
}

pub async fn weekly_series_creates_one_meeting_per_week(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let admin = who(s, "admin").await;
    let province = unit_id(s, "25").await;
    let mut d = draft(hall_of(s, "25").await.id, scope(province, &ALL), 24, 2);
    d.recurrence = Some("FREQ=WEEKLY;COUNT=4".into());
    let series = s.schedule(&admin, d, None).await.unwrap();
    assert_eq!(series.len(), 4);
    assert!(series
        .iter()
        .all(|m| m.invited == 221 && m.series_id == series[0].series_id));
    assert_eq!(series[1].starts_at - series[0].starts_at, 7 * 24 * 3600);
    db.cleanup().await;
}

pub async fn postpone_and_cancel_are_visible_to_halls(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let admin = who(s, "admin").await;
    let tan_son = unit_id(s, "240").await;
    let m = s
        .schedule(
            &admin,
            draft(
                hall_of(s, "240").await.id,
                scope(tan_son, &[Level::District, Level::Commune]),
                2,
                1,
            ),
            None,
        )
        .await
        .unwrap()
        .remove(0);
    let hall = hall_of(s, "08578").await.id;
    let token = s.join_token_of(m.id, hall).await.unwrap();
    let later = MeetingChange {
        starts_at: Some(m.starts_at + 86400),
        ends_at: Some(m.ends_at + 86400),
        ..Default::default()
    };
    let moved = s.update_meeting(&admin, m.id, later, None).await.unwrap();
    assert_eq!(moved.sequence, 1);
    assert_eq!(
        s.join_token_of(m.id, hall).await.unwrap(),
        token,
        "tokens survive a postponement"
    );
    let commune = who(s, "dc.08578").await;
    let seen = s
        .meetings_for(&commune, MeetingFilter::default())
        .await
        .unwrap();
    assert_eq!(seen[0].starts_at, m.starts_at + 86400);
    // Narrowing the scope to the district alone withdraws the communes' invitations.
    let narrower = MeetingChange {
        scope: Some(crate::support::scope(tan_son, &[Level::District])),
        ..Default::default()
    };
    assert_eq!(
        s.update_meeting(&admin, m.id, narrower, None)
            .await
            .unwrap()
            .invited,
        1
    );
    assert!(s
        .meetings_for(&commune, MeetingFilter::default())
        .await
        .unwrap()
        .is_empty());
    let cancelled = s.cancel_meeting(&admin, m.id, "Trùng lịch").await.unwrap();
    assert_eq!(cancelled.status, MeetingStatus::Cancelled);
    let kinds: Vec<String> = s
        .meeting_events(&admin, m.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, ["scheduled", "rescheduled", "edited", "cancelled"]);
    db.cleanup().await;
}

pub async fn sessions_expire_and_logout_revokes(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let _ = demo_hash();
    let (token, who) = s.login("VP.TINH", "hoinghi-demo", 3600).await.unwrap();
    assert_eq!(who.account.username, "vp.tinh");
    assert!(who.scope_path.as_deref() == Some("/25/"));
    assert!(s.authenticate(&token).await.is_ok());
    assert!(matches!(
        s.login("vp.tinh", "sai mật khẩu", 3600).await,
        Err(Error::BadCredentials)
    ));
    assert!(matches!(
        s.login("khong.co", "hoinghi-demo", 3600).await,
        Err(Error::BadCredentials)
    ));
    s.logout(&token).await.unwrap();
    assert!(matches!(
        s.authenticate(&token).await,
        Err(Error::Unauthenticated)
    ));
    let (expired, _) = s.login("admin", "hoinghi-demo", 0).await.unwrap();
    assert!(matches!(
        s.authenticate(&expired).await,
        Err(Error::Unauthenticated)
    ));
    db.cleanup().await;
}

pub async fn concurrent_overlapping_schedules_book_once(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let admin = who(s, "admin").await;
    let vp = who(s, "vp.tanson").await;
    let tan_son = unit_id(s, "240").await;
    let host = hall_of(s, "240").await.id;
    let one = draft(
        host,
        scope(tan_son, &[Level::District, Level::Commune]),
        2,
        1,
    );
    let two = draft(host, scope(tan_son, &[Level::District]), 2, 1);
    let other = s.clone();
    let (a, b) = tokio::join!(
        s.schedule(&admin, one, None),
        other.schedule(&vp, two, None)
    );
    let booked = [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count();
    assert_eq!(
        booked, 1,
        "exactly one of two overlapping meetings is booked: {a:?} / {b:?}"
    );
    assert!(matches!(a, Err(Error::Conflict(_))) || matches!(b, Err(Error::Conflict(_))));
    db.cleanup().await;
}
