//! The bridging node's side: sockets on this node whose meeting's home room is on another
//! node. The session's reader publishes what the page sends; the room's messages arrive
//! on this node's link subjects and are queued to the socket's own writer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use tokio::time::Instant;

use super::beats::Beats;
use super::wire::{self, InBody, Inbound, JoinReply, JoinRequest};
use super::{Bridge, JOIN_TIMEOUT};
use crate::link::{close, Frame, SessionLink};
use crate::protocol::{ClientMessage, ProtocolError};
use crate::Admission;

/// A socket bridged to a room on another node.
#[derive(Debug)]
struct Bridged {
    link: SessionLink,
    meeting: i64,
    /// The home node, and its run once it has answered the join.
    home: String,
    home_run: Option<u64>,
    since: Instant,
}

/// This node's bridged sockets, by link id.
#[derive(Debug)]
pub(super) struct Remotes {
    links: Mutex<HashMap<u64, Bridged>>,
    /// Link ids start at a random number: a restarted node does not reuse its old ones.
    next: AtomicU64,
}

impl Default for Remotes {
    fn default() -> Self {
        Remotes {
            links: Mutex::default(),
            next: AtomicU64::new(uuid::Uuid::new_v4().as_u64_pair().1 >> 16),
        }
    }
}

impl Remotes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Bridged>> {
        self.links.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn remove(&self, id: u64) -> Option<Bridged> {
        self.lock().remove(&id)
    }

    /// Closes (1012) the sockets whose home node went silent or restarted: their pages
    /// join again at once, and are bridged to wherever the meeting's home is then.
    pub fn sweep(&self, beats: &Beats, now: Instant) {
        let mut links = self.lock();
        links.retain(|_, b| {
            let alive = match b.home_run {
                Some(run) => beats.alive(&b.home, run, b.since, now),
                None => true, // still joining: the join's own timeout applies
            };
            if !alive {
                tracing::warn!(home = %b.home, meeting = b.meeting, "the home node of a bridged hall went silent");
                b.link.close(close::SERVICE_RESTART, "server_restart");
            }
            alive
        });
    }

    /// Sends every bridged socket's page to its home node (`home_elsewhere` naming it,
    /// close 1013) and tells each home room the link is lost.
    pub async fn move_all(&self, bridge: &Bridge) -> Vec<SessionLink> {
        let all: Vec<(u64, Bridged)> = self.lock().drain().collect();
        let mut links = Vec::with_capacity(all.len());
        for (id, b) in all {
            b.link.error(
                crate::protocol::ErrorCode::HomeElsewhere,
                crate::drain::moved(&bridge.node, &b.home),
            );
            b.link.close(close::TRY_AGAIN_LATER, "home_elsewhere");
            bridge
                .publish_in(b.meeting, &b.home, id, InBody::Lost)
                .await;
            links.push(b.link);
        }
        links
    }

    /// Closes every bridged socket (1012) and tells each home room the link is lost.
    pub async fn close_all(&self, bridge: &Bridge) -> Vec<SessionLink> {
        let all: Vec<(u64, Bridged)> = self.lock().drain().collect();
        let mut links = Vec::with_capacity(all.len());
        for (id, b) in all {
            b.link.close(close::SERVICE_RESTART, "server_restart");
            bridge
                .publish_in(b.meeting, &b.home, id, InBody::Lost)
                .await;
            links.push(b.link);
        }
        links
    }
}

/// The session's end of a bridged socket: what the page sends goes to the home room.
#[derive(Debug)]
pub struct RemoteLink {
    bridge: Arc<Bridge>,
    id: u64,
    meeting: i64,
    home: String,
}

impl RemoteLink {
    /// Sends a message of the page to the home room (in order).
    pub(crate) async fn send(&self, message: ClientMessage) {
        let body = InBody::Message { message };
        self.bridge
            .publish_in(self.meeting, &self.home, self.id, body)
            .await;
    }

    /// The page left: the home room is told, the link forgotten.
    pub(crate) async fn leave(self) {
        self.bridge.remote.remove(self.id);
        let body = InBody::Message {
            message: ClientMessage::Leave,
        };
        self.bridge
            .publish_in(self.meeting, &self.home, self.id, body)
            .await;
    }

    /// The socket ended without `leave`: the home room starts the hall's grace period
    /// (unless the room closed the link itself).
    pub(crate) async fn lost(self) {
        if self.bridge.remote.remove(self.id).is_some() {
            self.bridge
                .publish_in(self.meeting, &self.home, self.id, InBody::Lost)
                .await;
        }
    }
}

impl Bridge {
    /// Publishes a bridged socket's message to its meeting's home room.
    async fn publish_in(&self, meeting: i64, home: &str, link: u64, body: InBody) {
        let inbound = Inbound {
            node: self.node.clone(),
            link,
            body,
        };
        let Ok(payload) = serde_json::to_vec(&inbound) else {
            return;
        };
        if let Err(e) = self
            .nats
            .publish(wire::room_subject(meeting, home), payload.into())
            .await
        {
            tracing::warn!(meeting, error = %e, "a bridged message was not sent");
        }
    }

    /// Joins the hall of `admission` into its meeting's room on the node whose lease
    /// refused it here (`refused`, returned when that node cannot be reached). `link` is
    /// the socket's: the room's messages are queued to it.
    pub(crate) async fn join(
        self: &Arc<Self>,
        admission: Admission,
        resume: Option<String>,
        link: SessionLink,
        refused: ProtocolError,
    ) -> Result<RemoteLink, ProtocolError> {
        let meeting = admission.meeting.id;
        let now = scheduler::time::now();
        let (home, expires_at) = match self.store.lease(meeting).await {
            Ok(Some(lease)) if lease.node_id != self.node && lease.is_live(now) => {
                (lease.node_id, lease.expires_at)
            }
            // The lease moved or lapsed meanwhile: the page tries again.
            _ => return Err(refused),
        };
        let id = self.remote.next.fetch_add(1, Ordering::Relaxed);
        let request = JoinRequest {
            node: self.node.clone(),
            incarnation: self.incarnation,
            link: id,
            meeting: admission.meeting,
            hall: admission.hall,
            resume,
        };
        let Ok(payload) = serde_json::to_vec(&request) else {
            return Err(refused);
        };
        // Registered first: the room's welcome may come before the join's answer.
        self.remote.lock().insert(
            id,
            Bridged {
                link,
                meeting,
                home: home.clone(),
                home_run: None,
                since: Instant::now(),
            },
        );
        let asked = tokio::time::timeout(
            JOIN_TIMEOUT,
            self.nats.request(wire::join_subject(&home), payload.into()),
        )
        .await;
        // Whether the home node is gone: NATS (reached) says nobody listens on its join
        // subject — its process died and the server dropped its subscriptions. (No answer
        // in time may as well be this node's NATS being away: not counted.)
        let mut gone = false;
        let reply = match asked {
            Ok(Ok(msg)) => serde_json::from_slice::<JoinReply>(&msg.payload).ok(),
            Ok(Err(e)) => {
                gone = e.kind() == async_nats::RequestErrorKind::NoResponders;
                tracing::warn!(meeting, %home, error = %e, "the home node did not take a bridged join");
                None
            }
            Err(_) => {
                tracing::warn!(meeting, %home, "the home node did not answer a bridged join in time");
                None
            }
        };
        match reply {
            Some(JoinReply::Joined { incarnation }) => {
                if let Some(b) = self.remote.lock().get_mut(&id) {
                    b.home_run = Some(incarnation);
                }
                tracing::info!(meeting, %home, link = id, "hall bridged to its home room");
                Ok(RemoteLink {
                    bridge: Arc::clone(self),
                    id,
                    meeting,
                    home,
                })
            }
            Some(JoinReply::Refused { code, message }) => {
                self.remote.remove(id);
                Err(ProtocolError::new(code, message))
            }
            None => {
                self.remote.remove(id);
                // It may have joined after all: no socket is behind it.
                self.publish_in(meeting, &home, id, InBody::Lost).await;
                // A gone home's lease lapses by itself: the page waits here until then,
                // and the session's join once more takes the lease (or finds the node
                // that took it) — rather than being sent to the dead node, bouncing
                // between it and a living one with a growing retry delay.
                if let Some(wait) = gone.then(|| until_lapsed(expires_at)).flatten() {
                    tracing::info!(meeting, %home, wait_ms = wait.as_millis() as u64,
                        "the home node is gone: the join waits until its lease lapses");
                    tokio::time::sleep(wait).await;
                }
                Err(refused)
            }
        }
    }
}

/// The longest a join waits for a gone home node's lease to lapse (a lease lasts at most
/// 300 s; a join held longer would outlast the page's patience).
const MAX_LAPSE_WAIT: Duration = Duration::from_secs(30);

/// How long from now until a lease expiring at `expires_at` (UTC seconds) has lapsed for
/// every node (a moment after that second); `None` if that is more than
/// [`MAX_LAPSE_WAIT`] away.
fn until_lapsed(expires_at: i64) -> Option<Duration> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let wait = Duration::from_millis((expires_at * 1000 + 100 - now_ms).max(0) as u64);
    (wait <= MAX_LAPSE_WAIT).then_some(wait)
}

/// Queues what home rooms send on this node's link subjects to the sockets' writers.
pub(super) async fn deliver(bridge: Arc<Bridge>, mut links: async_nats::Subscriber) {
    while let Some(msg) = links.next().await {
        let Some(id) = wire::link_of_subject(msg.subject.as_str()) else {
            continue;
        };
        let closing = msg
            .headers
            .as_ref()
            .and_then(|h| h.get(wire::CLOSE_HEADER))
            .map(|v| v.as_str().to_owned());
        match closing {
            Some(close) => {
                let (code, reason) = close.split_once(' ').unwrap_or((&close, ""));
                let code = code.parse().unwrap_or(close::GOING_AWAY);
                // The room closed it: nothing to tell the room when the socket ends.
                if let Some(b) = bridge.remote.remove(id) {
                    b.link.close(code, reason);
                }
            }
            None => {
                let link = bridge.remote.lock().get(&id).map(|b| b.link.clone());
                match (link, std::str::from_utf8(&msg.payload)) {
                    (Some(link), Ok(text)) => link.send_frame(Frame::from_text(text)),
                    _ => continue,
                }
            }
        }
    }
}
