//! The meeting: today's Phú Thọ (the demo's 303 halls) with more halls in its communes
//! until the province + commune meeting invites as many as asked, scheduled now as a
//! sudden meeting by the administrator; each invited hall's join token, host first.

use scheduler::{Level, MeetingDraft, MeetingKind, Scope, Store};

/// The meeting's id and `(hall, join token)` of `halls` invited halls, the host first.
pub async fn meeting(store: &Store, halls: usize) -> Result<(i64, Vec<(i64, String)>), String> {
    let e = |e: scheduler::Error| e.to_string();
    let now = scheduler::time::now();
    let today = scheduler::time::local_date(now);
    let province = store.unit_by_code("25", today).await.map_err(e)?;
    let present = store.halls_in(&province.path).await.map_err(e)?;
    let host = present
        .iter()
        .find(|h| h.unit_id == province.id)
        .ok_or("no province hall")?
        .id;
    let mut communes: Vec<i64> = present
        .iter()
        .filter(|h| h.unit_id != province.id)
        .map(|h| h.unit_id)
        .collect();
    communes.dedup();
    let active = present.iter().filter(|h| h.active).count();
    for n in active..halls {
        let unit = communes[n % communes.len()];
        let name = format!("Điểm cầu đo tải {n}");
        store.create_hall(unit, &name).await.map_err(e)?;
    }
    let admin = store.principal_by_username("admin").await.map_err(e)?;
    let draft = MeetingDraft {
        title: "Hội nghị trực tuyến toàn tỉnh (đo tải, ba nút)".into(),
        description: String::new(),
        kind: MeetingKind::Sudden,
        host_hall_id: host,
        starts_at: now,
        ends_at: now + 3 * 3600,
        scope: Scope {
            root_unit_id: province.id,
            levels: [Level::Province, Level::Commune].into_iter().collect(),
            include_halls: Default::default(),
            exclude_halls: Default::default(),
        },
        recurrence: None,
    };
    let m = store
        .schedule(&admin, draft, Some("đo tải"))
        .await
        .map_err(e)?
        .pop()
        .ok_or("no meeting scheduled")?;
    let invited = store.invited_halls(m.id).await.map_err(e)?;
    let mut ids: Vec<i64> = invited.iter().map(|h| h.hall_id).collect();
    ids.retain(|&h| h != host);
    ids.insert(0, host);
    ids.truncate(halls);
    let mut tokens = Vec::with_capacity(ids.len());
    for id in ids {
        let token = store.join_token_of(m.id, id).await.map_err(e)?;
        tokens.push((id, token.ok_or("an invited hall without a token")?));
    }
    Ok((m.id, tokens))
}
