//! WHIP ingest and WHEP egress sessions (`docs/protocol.md`, "WHIP and WHEP"): the
//! service's side of them.
//!
//! An ingest (a national conference, OBS, a presentation PC) joins the live meeting's
//! room as a named *source*: it publishes like a hall, shows on the host's board and grid
//! and may be given the floor or the spotlight, but it is not a hall (no attendance, no
//! roll call). A viewer (a TV station, a lobby screen) receives the main picture and the
//! audio halls hear; it is counted and listed apart, never as a participant. Both come
//! from one SDP offer over HTTP and leave by `DELETE` of their session resource; the
//! session ids are kept here ([`Sessions`]) so that any request can find the room.

use crate::protocol::MeetingInfo;
use crate::registry::Signaling;
use crate::room::{Command, Gone};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, PoisonError};
use tokio::sync::oneshot;

/// What a feed is in the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedRole {
    /// Publishes (WHIP); `main_by_default`: the meeting's main picture while nobody
    /// holds the floor or the spotlight (a `national_relay` meeting).
    Source { main_by_default: bool },
    /// Receives (WHEP).
    Viewer,
}

/// An offer from a feed token.
#[derive(Debug, Clone)]
pub struct FeedOffer {
    /// The token's feed (`scheduler::feeds`).
    pub feed_id: i64,
    /// Its name, as staff gave it.
    pub name: String,
    pub role: FeedRole,
    /// The SDP offer, as sent.
    pub sdp: String,
}

/// The answer to a feed's offer.
#[derive(Debug, Clone)]
pub struct FeedAnswer {
    /// The session resource's id (`/whip/session/{id}`).
    pub session: String,
    /// The live room's id of the feed.
    pub participant_id: i64,
    /// The SDP answer, with the media port's candidates.
    pub sdp: String,
}

/// Why a feed's offer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedRefusal {
    /// The meeting ended (or the server is stopping).
    #[error("the meeting has ended")]
    Ended,
    /// The node carries all it can.
    #[error("{0}")]
    Capacity(String),
    /// The SDP offer was not usable.
    #[error("{0}")]
    InvalidSdp(String),
    /// Ours: logged where it happened.
    #[error("{0}")]
    Internal(String),
}

/// A WHEP viewer in a room.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ViewerInfo {
    /// Its viewer token.
    pub feed_id: i64,
    /// The token's name.
    pub name: String,
    /// When it connected (UTC Unix seconds).
    pub since: i64,
    /// Whether its media connection is up.
    pub connected: bool,
}

/// One live feed session.
#[derive(Debug, Clone)]
struct Entry {
    meeting_id: i64,
    feed_id: i64,
    participant_id: i64,
}

/// The live feed sessions of the server, by session id.
#[derive(Debug)]
pub(crate) struct Sessions {
    by_id: Mutex<HashMap<String, Entry>>,
    next_viewer: AtomicI64,
}

impl Default for Sessions {
    fn default() -> Self {
        Self {
            by_id: Mutex::default(),
            next_viewer: AtomicI64::new(scheduler::feeds::VIEWER_BASE),
        }
    }
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.by_id.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new viewer's participant id (never written anywhere).
    pub(crate) fn new_viewer(&self) -> i64 {
        self.next_viewer.fetch_add(1, Ordering::Relaxed)
    }

    /// Forgets the session of a participant that left the room.
    pub(crate) fn forget_participant(&self, participant_id: i64) {
        self.lock()
            .retain(|_, e| e.participant_id != participant_id);
    }
}

impl Signaling {
    /// Puts a feed into the room of a live meeting (opened if no hall is in it yet);
    /// answers its offer.
    pub async fn feed_join(
        &self,
        meeting: &MeetingInfo,
        offer: FeedOffer,
    ) -> Result<FeedAnswer, FeedRefusal> {
        let shared = self.shared();
        if shared.is_stopping() || shared.is_ended(meeting.id) {
            return Err(FeedRefusal::Ended);
        }
        let participant_id = match offer.role {
            FeedRole::Source { .. } => scheduler::feeds::source_participant(offer.feed_id),
            FeedRole::Viewer => shared.feeds.new_viewer(),
        };
        let feed_id = offer.feed_id;
        for _ in 0..3 {
            let room = self.open_room(meeting);
            let (reply, answer) = oneshot::channel();
            let command = Command::FeedJoin {
                participant_id,
                offer: offer.clone(),
                reply,
            };
            if room.send(command).await.is_err() {
                shared.forget_room(meeting.id, room.id);
                continue;
            }
            let Ok(answered) = answer.await else {
                shared.forget_room(meeting.id, room.id);
                continue;
            };
            let sdp = answered?;
            let session = uuid::Uuid::new_v4().simple().to_string();
            let entry = Entry {
                meeting_id: meeting.id,
                feed_id,
                participant_id,
            };
            let mut sessions = shared.feeds.lock();
            // A source joins once: its earlier session (replaced in the room) is gone.
            sessions.retain(|_, e| e.participant_id != participant_id);
            sessions.insert(session.clone(), entry);
            return Ok(FeedAnswer {
                session,
                participant_id,
                sdp,
            });
        }
        Err(FeedRefusal::Internal(Gone.to_string()))
    }

    /// Ends a feed session (`DELETE` of its resource); `false` if there is none (never
    /// was, already ended, or its connection failed and the room let it go).
    pub async fn feed_end(&self, session: &str) -> bool {
        let shared = self.shared();
        let Some(entry) = shared.feeds.lock().remove(session) else {
            return false;
        };
        if let Some(room) = self.room(entry.meeting_id) {
            let participant_id = entry.participant_id;
            let _ = room.send(Command::FeedLeave { participant_id }).await;
        }
        true
    }

    /// Ends every session of a feed token that was revoked.
    pub async fn shut_out_feed(&self, feed_id: i64) {
        let shared = self.shared();
        let ended: Vec<Entry> = {
            let mut sessions = shared.feeds.lock();
            let ended = sessions
                .values()
                .filter(|e| e.feed_id == feed_id)
                .cloned()
                .collect();
            sessions.retain(|_, e| e.feed_id != feed_id);
            ended
        };
        for e in ended {
            if let Some(room) = self.room(e.meeting_id) {
                let participant_id = e.participant_id;
                let _ = room.send(Command::FeedLeave { participant_id }).await;
            }
        }
    }

    /// The WHEP viewers of a meeting now (none if it has no live room).
    pub async fn viewers(&self, meeting_id: i64) -> Vec<ViewerInfo> {
        let Some(room) = self.room(meeting_id) else {
            return Vec::new();
        };
        let (reply, answer) = oneshot::channel();
        if room.send(Command::Viewers(reply)).await.is_err() {
            return Vec::new();
        }
        answer.await.unwrap_or_default()
    }
}
