//! Scheduling gaps (issue 13 item 7): cancelling a series from one occurrence on, the
//! cancellation reason halls are told, added and removed halls, units with several halls.

use scheduler::time::now;
use scheduler::{
    Backend, Error, Level, MeetingChange, MeetingDraft, MeetingKind, MeetingStatus, Scope,
};

use crate::support::{demo_db, hall_of, scope, today, unit_id, who};

fn weekly(host_hall_id: i64, scope: Scope, count: u32) -> MeetingDraft {
    let start = now() + 24 * 3600;
    MeetingDraft {
        title: "Giao ban tuần".into(),
        description: String::new(),
        kind: MeetingKind::Routine,
        host_hall_id,
        starts_at: start,
        ends_at: start + 3600,
        scope,
        recurrence: Some(format!("FREQ=WEEKLY;COUNT={count}")),
    }
}

pub async fn cancelling_this_and_following_keeps_the_earlier_occurrences(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let vp = who(s, "vp.tanson").await;
    let tan_son = unit_id(s, "240").await;
    let host = hall_of(s, "240").await.id;
    let commune = hall_of(s, "08578").await.id;
    let series = s
        .schedule(
            &vp,
            weekly(host, scope(tan_son, &[Level::District, Level::Commune]), 4),
            None,
        )
        .await
        .unwrap();
    assert_eq!(series.len(), 4);
    let token = s
        .join_token_of(series[2].id, commune)
        .await
        .unwrap()
        .unwrap();

    let cancelled = s
        .cancel_following(&vp, series[1].id, "  Chuyển sang họp trực tiếp  ")
        .await
        .unwrap();
    let ids: Vec<i64> = cancelled.iter().map(|m| m.id).collect();
    assert_eq!(ids, [series[1].id, series[2].id, series[3].id]);
    assert!(cancelled
        .iter()
        .all(|m| m.status == MeetingStatus::Cancelled && m.sequence == 1));
    let first = s.meeting_for(&vp, series[0].id).await.unwrap();
    assert_eq!(first.status, MeetingStatus::Scheduled);
    assert_eq!(s.cancel_reason(series[0].id).await.unwrap(), None);
    assert_eq!(
        s.cancel_reason(series[3].id).await.unwrap().as_deref(),
        Some("Chuyển sang họp trực tiếp")
    );
    // The hall holding a cancelled occurrence's link is told why.
    assert_eq!(
        s.cancel_reason_for_token(&token).await.unwrap().as_deref(),
        Some("Chuyển sang họp trực tiếp")
    );
    // Nothing left to cancel from there on.
    assert!(matches!(
        s.cancel_following(&vp, series[2].id, "lại").await,
        Err(Error::Invalid { .. })
    ));
    db.cleanup().await;
}

pub async fn another_units_secretariat_cannot_cancel_a_series(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let admin = who(s, "admin").await;
    let province = unit_id(s, "25").await;
    let host = hall_of(s, "25").await.id;
    let series = s
        .schedule(
            &admin,
            weekly(
                host,
                scope(province, &[Level::Province, Level::District]),
                3,
            ),
            None,
        )
        .await
        .unwrap();
    let district = who(s, "vp.tanson").await;
    assert!(matches!(
        s.cancel_following(&district, series[0].id, "x").await,
        Err(Error::NotFound("meeting"))
    ));
    assert!(series.iter().all(|m| m.status == MeetingStatus::Scheduled));
    // A single meeting (no series) cancels alone.
    let mut single = weekly(host, scope(province, &[Level::Province]), 1);
    single.recurrence = None;
    single.starts_at += 3 * 3600;
    single.ends_at += 3 * 3600;
    let one = s.schedule(&admin, single, None).await.unwrap().remove(0);
    let cancelled = s.cancel_following(&admin, one.id, "Hoãn").await.unwrap();
    assert_eq!(cancelled.len(), 1);
    assert_eq!(
        s.meeting_for(&admin, series[0].id).await.unwrap().status,
        MeetingStatus::Scheduled
    );
    db.cleanup().await;
}

pub async fn added_and_removed_halls_and_units_with_several_halls(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let admin = who(s, "admin").await;
    let tan_son = unit_id(s, "240").await;
    let host = hall_of(s, "240").await.id;
    let province_hall = hall_of(s, "25").await.id;
    let commune = hall_of(s, "08578").await;
    let communes = scope(tan_son, &[Level::Commune]);
    let base = s
        .resolve_scope(&communes, Some(host), today())
        .await
        .unwrap();
    assert!(base.hall_ids.contains(&commune.id) && base.hall_ids.contains(&host));

    // include_halls adds a hall from outside the subtree, exclude_halls removes one.
    let mut mixed = communes.clone();
    mixed.include_halls.insert(province_hall);
    mixed.exclude_halls.insert(commune.id);
    let preview = s.resolve_scope(&mixed, Some(host), today()).await.unwrap();
    assert_eq!(preview.total, base.total);
    assert!(preview.hall_ids.contains(&province_hall));
    assert!(!preview.hall_ids.contains(&commune.id));
    // Only halls alone: no level at all.
    let mut only = scope(tan_son, &[]);
    only.include_halls.insert(commune.id);
    let alone = s.resolve_scope(&only, Some(host), today()).await.unwrap();
    let mut ids = alone.hall_ids.clone();
    ids.sort();
    let mut want = vec![host, commune.id];
    want.sort();
    assert_eq!(ids, want);
    // A district secretariat may not add a hall outside its district.
    let vp = who(s, "vp.tanson").await;
    assert!(matches!(
        s.authorize_scope(&vp, &mixed, Some(host)).await,
        Err(Error::Forbidden(_))
    ));

    // A commune with a second room: both invited, each with its own link.
    let second = s
        .create_hall(commune.unit_id, "Phòng họp số 2")
        .await
        .unwrap();
    let grown = s
        .resolve_scope(&communes, Some(host), today())
        .await
        .unwrap();
    assert_eq!(grown.total, base.total + 1);
    assert_eq!(
        grown.per_level.get("commune"),
        base.per_level.get("commune").map(|n| n + 1).as_ref()
    );
    let mut one = weekly(host, communes.clone(), 1);
    one.recurrence = None;
    let m = s.schedule(&admin, one, None).await.unwrap().remove(0);
    assert_eq!(m.invited as usize, base.total + 1);
    let a = s.join_token_of(m.id, commune.id).await.unwrap().unwrap();
    let b = s.join_token_of(m.id, second.id).await.unwrap().unwrap();
    assert_ne!(a, b);
    // Excluding one of the two keeps the other.
    let mut without_second = communes.clone();
    without_second.exclude_halls.insert(second.id);
    let fewer = s
        .resolve_scope(&without_second, Some(host), today())
        .await
        .unwrap();
    assert!(fewer.hall_ids.contains(&commune.id) && !fewer.hall_ids.contains(&second.id));
    // A deactivated second room is no longer invited.
    s.update_hall(second.id, None, Some(false)).await.unwrap();
    let back = s
        .resolve_scope(&communes, Some(host), today())
        .await
        .unwrap();
    assert_eq!(back.total, base.total);
    db.cleanup().await;
}

pub async fn editing_this_and_following_moves_them_all_or_none(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let vp = who(s, "vp.tanson").await;
    let tan_son = unit_id(s, "240").await;
    let host = hall_of(s, "240").await.id;
    let commune = hall_of(s, "08578").await.id;
    let series = s
        .schedule(
            &vp,
            weekly(host, scope(tan_son, &[Level::District, Level::Commune]), 4),
            None,
        )
        .await
        .unwrap();
    let token = s.join_token_of(series[2].id, commune).await.unwrap();
    const H: i64 = 3600;
    // From the second on: six hours later, two hours long, a new title.
    let change = MeetingChange {
        title: Some("Giao ban chiều".into()),
        starts_at: Some(series[1].starts_at + 6 * H),
        ends_at: Some(series[1].starts_at + 8 * H),
        ..Default::default()
    };
    let edited = s
        .update_following(&vp, series[1].id, change, None)
        .await
        .unwrap();
    assert_eq!(
        edited.iter().map(|m| m.id).collect::<Vec<_>>(),
        [series[1].id, series[2].id, series[3].id]
    );
    for (m, before) in edited.iter().zip(&series[1..]) {
        assert_eq!(m.title, "Giao ban chiều");
        assert_eq!(m.starts_at, before.starts_at + 6 * H);
        assert_eq!(m.ends_at - m.starts_at, 2 * H);
        assert_eq!(m.sequence, 1);
    }
    let first = s.meeting_for(&vp, series[0].id).await.unwrap();
    assert_eq!(
        (first.title.as_str(), first.starts_at, first.sequence),
        ("Giao ban tuần", series[0].starts_at, 0)
    );
    assert_eq!(
        s.join_token_of(series[2].id, commune).await.unwrap(),
        token,
        "halls keep their links"
    );

    // A meeting the day after the last occurrence blocks moving them all a day later:
    // nothing moves unless the overlap is accepted with a reason.
    let admin = who(s, "admin").await;
    let mut blocker = weekly(host, scope(tan_son, &[Level::District]), 1);
    blocker.recurrence = None;
    blocker.starts_at = edited[2].starts_at + 24 * H;
    blocker.ends_at = blocker.starts_at + H;
    s.schedule(&admin, blocker, None).await.unwrap();
    let next_day = || MeetingChange {
        starts_at: Some(edited[0].starts_at + 24 * H),
        ..Default::default()
    };
    assert!(matches!(
        s.update_following(&vp, series[1].id, next_day(), None).await,
        Err(Error::Conflict(c)) if c.len() == 1
    ));
    for m in &edited {
        assert_eq!(
            s.meeting_for(&vp, m.id).await.unwrap().starts_at,
            m.starts_at
        );
    }
    let moved = s
        .update_following(&vp, series[1].id, next_day(), Some("Họp chung được"))
        .await
        .unwrap();
    assert!(moved
        .iter()
        .zip(&edited)
        .all(|(m, e)| m.starts_at == e.starts_at + 24 * H && m.ends_at - m.starts_at == 2 * H));
    // A cancelled occurrence is left out of later edits.
    s.cancel_following(&vp, series[3].id, "Nghỉ lễ")
        .await
        .unwrap();
    let retitled = s
        .update_following(
            &vp,
            series[1].id,
            MeetingChange {
                title: Some("Giao ban".into()),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(retitled.len(), 2);
    db.cleanup().await;
}
