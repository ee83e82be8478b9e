//! Feed tokens (WHIP ingest, WHEP viewer): made, listed and revoked by the meeting's
//! staff only, kept hashed, found by their clear token for their own kind only; a live
//! event about an ingest source names it apart from the halls.

use scheduler::feeds::{source_participant, FeedKind, NewFeed};
use scheduler::time::now;
use scheduler::{Backend, Error, Level, MeetingDraft, MeetingKind};

use crate::support::{demo_db, hall_of, scope, unit_id, who};

async fn tan_son_meeting(s: &scheduler::Store) -> i64 {
    let admin = who(s, "admin").await;
    let start = now() + 600;
    let draft = MeetingDraft {
        title: "Hội nghị trực tuyến toàn tỉnh".into(),
        description: String::new(),
        kind: MeetingKind::Routine,
        host_hall_id: hall_of(s, "240").await.id,
        starts_at: start,
        ends_at: start + 7200,
        scope: scope(unit_id(s, "240").await, &[Level::District, Level::Commune]),
        recurrence: None,
    };
    s.schedule(&admin, draft, None).await.unwrap().remove(0).id
}

fn named(kind: FeedKind, name: &str) -> NewFeed {
    NewFeed {
        kind,
        name: name.into(),
    }
}

pub async fn feed_tokens_are_the_owners_kept_hashed_and_revocable(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let m = tan_son_meeting(s).await;
    let owner = who(s, "vp.tanson").await;
    let foreign = who(s, "vp.doanhung").await;
    let hall = who(s, "dc.240").await;

    let ingest = s
        .add_feed(
            &owner,
            m,
            &named(FeedKind::Ingest, "Truyền hình hội nghị toàn quốc"),
        )
        .await
        .unwrap();
    let viewer = s
        .add_feed(&owner, m, &named(FeedKind::Viewer, " Màn hình sảnh "))
        .await
        .unwrap();
    assert_eq!(ingest.token.len(), 64);
    assert_eq!(
        ingest.feed.participant_id,
        Some(source_participant(ingest.feed.id))
    );
    assert_eq!(viewer.feed.participant_id, None);
    assert_eq!(viewer.feed.name, "Màn hình sảnh");

    // Found by its clear token, for its own kind only.
    let (found, meeting) = s
        .feed_by_token(&ingest.token, FeedKind::Ingest)
        .await
        .unwrap();
    assert_eq!((found.id, meeting.id), (ingest.feed.id, m));
    assert!(matches!(
        s.feed_by_token(&ingest.token, FeedKind::Viewer).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        s.feed_by_token("nope", FeedKind::Ingest).await,
        Err(Error::NotFound(_))
    ));

    // Others may not see or make them.
    assert!(matches!(
        s.feeds(&foreign, m).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        s.add_feed(&hall, m, &named(FeedKind::Ingest, "x")).await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        s.add_feed(&owner, m, &named(FeedKind::Ingest, "  ")).await,
        Err(Error::Invalid { field, .. }) if field == "name"
    ));
    let listed = s.feeds(&owner, m).await.unwrap();
    assert_eq!(listed, vec![ingest.feed.clone(), viewer.feed.clone()]);

    // Revoked: refused from now on; revoking again changes nothing.
    let revoked = s.revoke_feed(&owner, m, ingest.feed.id).await.unwrap();
    let at = revoked.revoked_at.expect("revoked");
    assert_eq!(
        s.revoke_feed(&owner, m, ingest.feed.id)
            .await
            .unwrap()
            .revoked_at,
        Some(at)
    );
    assert!(matches!(
        s.feed_by_token(&ingest.token, FeedKind::Ingest).await,
        Err(Error::NotFound(_))
    ));
    assert!(s
        .feed_by_token(&viewer.token, FeedKind::Viewer)
        .await
        .is_ok());

    // A live event about the source (given the floor) names it, not a hall.
    let source = source_participant(ingest.feed.id);
    s.record_live_event(m, Some(source), now(), "give_floor", "", None)
        .await
        .unwrap();
    let events = s.live_events(m).await.unwrap();
    let floor = events
        .iter()
        .find(|e| e.kind == "give_floor")
        .expect("logged");
    assert_eq!(floor.hall_id, Some(source));
}
