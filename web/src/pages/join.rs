//! The join page (`/j/{token}`): checks a hall's join token and says, in large text, whether
//! the hall can go in now. When it can, the page is the meeting room itself: `room.js`
//! opens the camera and microphone, joins over `/ws` (docs/protocol.md) and shows the
//! other halls; the server only renders the frame and the texts the script needs. A
//! guest's link (khách mời) opens the same room, labelled as the guest's.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use minijinja::{context, Value};
use scheduler::time::now;
use scheduler::{Error, JoinRefusal, MeetingFilter, Principal};

use super::auth::Visitor;
use super::home::summary;
use super::i18n::{self, Lang};
use super::render::{page_with, script_json, PageResult};
use crate::state::AppState;

/// For a logged-in room account: its meeting this token belongs to, to show beside a refusal.
async fn own_meeting(state: &AppState, who: Option<&Principal>, token: &str) -> Option<Value> {
    let who = who?;
    let hall = who.hall_id()?;
    let filter = MeetingFilter {
        from: Some(now() - 7 * 24 * 3600),
        to: None,
        include_cancelled: true,
    };
    for m in state.store.meetings_for(who, filter).await.ok()? {
        if state.store.join_token_of(m.id, hall).await.ok()?.as_deref() == Some(token) {
            return Some(summary(&m));
        }
    }
    None
}

/// Texts `room.js` shows, by key, in the page's language.
fn room_texts(lang: Lang) -> serde_json::Value {
    let keys = [
        "room.connecting",
        "room.connected",
        "room.reconnecting",
        "room.left",
        "room.replaced",
        "room.refused",
        "room.no_media",
        "room.host",
        "room.waiting",
        "room.present",
        "room.no_video",
        "room.removed",
        "room.locked",
        "room.capacity",
        "room.home_elsewhere",
        "room.floor",
        "room.speaking",
        "room.mic_on",
        "room.mic_off",
        "join.ended",
        "join.cancelled",
        "join.too_early",
        "join.foreign",
        "join.unknown",
        "join.revoked",
        "room.guest",
        "room.source",
    ];
    let map: serde_json::Map<String, serde_json::Value> = keys
        .iter()
        .map(|k| (k.to_string(), i18n::text(lang, k).into()))
        .collect();
    serde_json::Value::Object(map)
}

/// The texts of the host console and the hall controls (`console.js`, `hall.js`).
pub(super) fn console_texts(lang: Lang) -> Value {
    script_json(&i18n::texts_with(
        lang,
        &["con.", "phase.", "hs.", "rc.", "hall."],
    ))
}

#[derive(serde::Deserialize)]
pub struct JoinQuery {
    /// Opened by the kiosk page (`/kiosk`), which the room goes back to afterwards.
    kiosk: Option<String>,
}

/// `GET /j/{token}`: "ready", or why not (too early, ended, cancelled, another hall's link).
pub async fn show(
    State(state): State<AppState>,
    Visitor { who, lang }: Visitor,
    Path(token): Path<String>,
    Query(q): Query<JoinQuery>,
) -> PageResult {
    let (status, key, meeting, hall, guest) = match state
        .store
        .check_join_token(&token, who.as_ref(), now())
        .await
    {
        Ok(grant) => (
            StatusCode::OK,
            "join.ready",
            Some(summary(&grant.meeting)),
            Some(grant.hall_name),
            grant.guest,
        ),
        Err(Error::JoinRefused(reason)) => {
            let (status, key) = match reason {
                JoinRefusal::TooEarly => (StatusCode::FORBIDDEN, "join.too_early"),
                JoinRefusal::Expired => (StatusCode::GONE, "join.ended"),
                JoinRefusal::Cancelled => (StatusCode::GONE, "join.cancelled"),
                JoinRefusal::ForeignHall => (StatusCode::FORBIDDEN, "join.foreign"),
                JoinRefusal::HallDisabled => (StatusCode::FORBIDDEN, "join.disabled"),
                JoinRefusal::GuestRevoked => (StatusCode::GONE, "join.revoked"),
            };
            let meeting = own_meeting(&state, who.as_ref(), &token).await;
            (status, key, meeting, None, false)
        }
        Err(Error::NotFound(_)) => (StatusCode::NOT_FOUND, "join.unknown", None, None, false),
        Err(e) => return Err(e.into()),
    };
    let ready = key == "join.ready";
    // A hall whose meeting was cancelled is told why.
    let cancel_reason = match key {
        "join.cancelled" => state.store.cancel_reason_for_token(&token).await?,
        _ => None,
    };
    let ctx = context! {
        cancel_reason => cancel_reason,
        state => key,
        ready => ready,
        // The room script needs the token (it is the page's own address) and its texts.
        token => ready.then_some(token.as_str()),
        texts => ready.then(|| script_json(&room_texts(lang))),
        console_texts => ready.then(|| console_texts(lang)),
        console_mode => "room",
        kiosk => q.kiosk.as_deref() == Some("1"),
        // A kiosk left on a "too early" page moves on by itself.
        refresh => key == "join.too_early",
        meeting => meeting,
        hall => hall,
        // A guest's page (khách mời): labelled so, no roll call or headcount.
        guest => guest,
        // In a cluster: this node and every node's public URL (where the page goes when
        // its connection is lost, or when another node is the meeting's home).
        node => state.settings.node_id(),
        nodes => ready.then(|| cluster_nodes(&state.settings)).flatten(),
    };
    page_with(status, lang, who.as_ref(), "join.html", ctx)
}

/// Every node's public base URL by node id, as JSON for the room page; none without a
/// cluster (or without `public_urls`).
fn cluster_nodes(settings: &crate::settings::Settings) -> Option<String> {
    let urls = settings.cluster_config().ok()??.public_urls;
    (!urls.is_empty()).then(|| serde_json::to_string(&urls).unwrap_or_default())
}
