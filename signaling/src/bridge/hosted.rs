//! The home node's side: halls whose sockets are on other nodes, joined into rooms here.
//!
//! Each bridged hall joins its room over a [`SessionLink`] like a local socket's; its
//! writer is [`crate::link::writer::write`] into a sink that publishes on the hall's link
//! subject, so the same outbox, coalescing and write timeout apply (a link NATS does not
//! take for the write timeout is cut as a page that stopped reading). What the page sends
//! arrives on `hoinghi.room.<meeting>.<home>.in`, subscribed while this node hosts links
//! of the meeting.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::{Sink, StreamExt};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::beats::Beats;
use super::wire::{self, InBody, Inbound, JoinReply, JoinRequest};
use super::Bridge;
use crate::link::writer::{write, Timing};
use crate::link::{close, SessionLink};
use crate::protocol::{ClientMessage, ErrorCode};
use crate::registry::Signaling;
use crate::room::{Command, RoomHandle, SessionId};
use crate::session::{command_of, WsMessage};
use crate::Admission;

/// How often an idle meeting subscription checks whether it is still needed.
const IDLE_CHECK: Duration = Duration::from_secs(5);

/// A bridged hall's link: its node and link id there.
type Key = (String, u64);

/// One bridged hall in a room here.
#[derive(Debug)]
struct Entry {
    meeting: i64,
    room: RoomHandle,
    session: SessionId,
    /// The bridging node's run, and when the link was made.
    run: u64,
    since: Instant,
    /// Ends the link's writer.
    end: Arc<Notify>,
}

/// The links this node hosts, and the meetings whose inbound subject it reads.
#[derive(Debug, Default)]
pub(super) struct Hosted {
    links: Mutex<HashMap<Key, Entry>>,
    /// Held across a subscribe, so a join is answered only once its meeting's messages
    /// are read.
    meetings: tokio::sync::Mutex<HashSet<i64>>,
}

impl Hosted {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        self.links.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets a link; its writer ends.
    fn remove(&self, key: &Key) -> Option<Entry> {
        let entry = self.lock().remove(key);
        if let Some(e) = &entry {
            e.end.notify_one();
        }
        entry
    }

    /// Ends the links whose node went silent or restarted, as sockets lost.
    pub async fn sweep(&self, beats: &Beats, now: Instant) {
        let gone: Vec<Entry> = {
            let mut links = self.lock();
            let dead: Vec<Key> = links
                .iter()
                .filter(|((node, _), e)| !beats.alive(node, e.run, e.since, now))
                .map(|(k, _)| k.clone())
                .collect();
            dead.iter().filter_map(|k| links.remove(k)).collect()
        };
        for e in gone {
            tracing::warn!(
                meeting = e.meeting,
                "a bridging node went silent: its hall's link is lost"
            );
            e.end.notify_one();
            let _ = e.room.send(Command::Lost { session: e.session }).await;
        }
    }

    /// Stops reading `meeting`'s subject if no link of it is left; whether it stopped.
    async fn unwatch_if_idle(&self, meeting: i64) -> bool {
        let mut meetings = self.meetings.lock().await;
        let idle = !self.lock().values().any(|e| e.meeting == meeting);
        if idle {
            meetings.remove(&meeting);
        }
        idle
    }
}

/// Takes this node's bridged joins, each in its own task.
pub(super) async fn take_joins(
    bridge: Arc<Bridge>,
    signaling: Signaling,
    mut joins: async_nats::Subscriber,
) {
    while let Some(msg) = joins.next().await {
        tokio::spawn(answer(Arc::clone(&bridge), signaling.clone(), msg));
    }
}

async fn answer(bridge: Arc<Bridge>, signaling: Signaling, msg: async_nats::Message) {
    let Some(reply_to) = msg.reply else {
        return;
    };
    let reply = match serde_json::from_slice::<JoinRequest>(&msg.payload) {
        Ok(request) => join(&bridge, &signaling, request).await,
        Err(e) => JoinReply::Refused {
            code: ErrorCode::Internal,
            message: format!("a bridged join this node cannot read: {e}"),
        },
    };
    let Ok(payload) = serde_json::to_vec(&reply) else {
        return;
    };
    if let Err(e) = bridge.nats.publish(reply_to, payload.into()).await {
        tracing::warn!(error = %e, "a bridged join's answer was not sent");
    }
}

/// Joins a hall bridged from another node into its room here.
async fn join(bridge: &Arc<Bridge>, signaling: &Signaling, request: JoinRequest) -> JoinReply {
    if signaling.is_stopping() {
        // Named (when another node is alive), the page goes there at once.
        let message = match signaling.moved_to(request.meeting.id).await {
            Some(next) if next != request.node => crate::drain::moved(&bridge.node, &next),
            _ => format!("node {} is stopping", bridge.node),
        };
        return JoinReply::Refused {
            code: ErrorCode::HomeElsewhere,
            message,
        };
    }
    let key: Key = (request.node, request.link);
    let meeting = request.meeting.id;
    let admission = Admission {
        meeting: request.meeting,
        hall: request.hall,
    };
    let (link, link_rx) = SessionLink::new();
    link.set_via(&key.0);
    let (room, session) = match signaling.join(admission, request.resume, link).await {
        Ok(Ok(joined)) => joined,
        Ok(Err(refused)) => {
            return JoinReply::Refused {
                code: refused.code,
                message: refused.message,
            }
        }
        Err(_) => {
            return JoinReply::Refused {
                code: ErrorCode::Internal,
                message: "the meeting room is not available".into(),
            }
        }
    };
    let end = Arc::new(Notify::new());
    let entry = Entry {
        meeting,
        room,
        session,
        run: request.incarnation,
        since: Instant::now(),
        end: Arc::clone(&end),
    };
    bridge.hosted.lock().insert(key.clone(), entry);
    watch(bridge, meeting).await;
    let timing = Timing {
        write_timeout: signaling.config().write_timeout,
        state_interval: signaling.config().state_interval,
    };
    let sink = link_sink(bridge.nats.clone(), wire::link_subject(&key.0, key.1));
    tokio::spawn(serve_link(Arc::clone(bridge), key, end, async move {
        write(sink, link_rx, timing).await;
    }));
    JoinReply::Joined {
        incarnation: bridge.incarnation,
    }
}

/// Runs a bridged hall's writer until it ends (the room closed the link, or NATS did not
/// take a message for the write timeout) or the link is forgotten (left, lost).
async fn serve_link(
    bridge: Arc<Bridge>,
    key: Key,
    end: Arc<Notify>,
    writer: impl std::future::Future<Output = ()>,
) {
    tokio::select! {
        () = writer => {}
        () = end.notified() => {}
    }
    // Ended by itself: as a local socket ending, the room is told the link is lost.
    if let Some(e) = bridge.hosted.remove(&key) {
        let _ = e.room.send(Command::Lost { session: e.session }).await;
    }
}

/// A sink of a socket's frames that publishes them on a link subject (a close frame as
/// an empty message with the close header).
fn link_sink(
    nats: async_nats::Client,
    subject: String,
) -> impl Sink<WsMessage, Error = async_nats::PublishError> + Unpin {
    Box::pin(futures::sink::unfold(
        (nats, subject),
        |(nats, subject), frame: WsMessage| async move {
            match frame {
                WsMessage::Text(text) => nats.publish(subject.clone(), text.into()).await?,
                WsMessage::Close(closing) => {
                    let (code, reason) = closing.unwrap_or((close::NORMAL, String::new()));
                    let mut headers = async_nats::HeaderMap::new();
                    headers.insert(wire::CLOSE_HEADER, format!("{code} {reason}").as_str());
                    nats.publish_with_headers(subject.clone(), headers, "".into())
                        .await?;
                }
                WsMessage::Binary(_) => {}
            }
            Ok((nats, subject))
        },
    ))
}

/// Reads `meeting`'s inbound subject (once) while this node hosts links of it.
async fn watch(bridge: &Arc<Bridge>, meeting: i64) {
    let mut meetings = bridge.hosted.meetings.lock().await;
    if meetings.contains(&meeting) {
        return;
    }
    match bridge
        .nats
        .subscribe(wire::room_subject(meeting, &bridge.node))
        .await
    {
        Ok(sub) => {
            meetings.insert(meeting);
            tokio::spawn(inbox(Arc::clone(bridge), meeting, sub));
        }
        Err(e) => tracing::error!(meeting, error = %e, "cannot read a meeting's bridged halls"),
    }
}

/// Hands what bridged pages send to the room, until no link of the meeting is left.
async fn inbox(bridge: Arc<Bridge>, meeting: i64, mut sub: async_nats::Subscriber) {
    let mut check = tokio::time::interval(IDLE_CHECK);
    check.tick().await;
    loop {
        tokio::select! {
            msg = sub.next() => match msg {
                Some(msg) => arrived(&bridge, &msg.payload).await,
                None => {
                    bridge.hosted.meetings.lock().await.remove(&meeting);
                    return;
                }
            },
            _ = check.tick() => {
                if bridge.hosted.unwatch_if_idle(meeting).await {
                    return;
                }
            }
        }
    }
}

/// One message of a bridged page.
async fn arrived(bridge: &Bridge, payload: &[u8]) {
    let inbound = match serde_json::from_slice::<Inbound>(payload) {
        Ok(inbound) => inbound,
        Err(e) => {
            tracing::warn!(error = %e, "a bridged message this node cannot read");
            return;
        }
    };
    let key: Key = (inbound.node, inbound.link);
    let message = match inbound.body {
        InBody::Lost => {
            if let Some(e) = bridge.hosted.remove(&key) {
                let _ = e.room.send(Command::Lost { session: e.session }).await;
            }
            return;
        }
        InBody::Message { message } => message,
    };
    if let ClientMessage::Leave = message {
        if let Some(e) = bridge.hosted.remove(&key) {
            let _ = e.room.send(Command::Leave { session: e.session }).await;
        }
        return;
    }
    let route = {
        let links = bridge.hosted.lock();
        links.get(&key).map(|e| (e.room.clone(), e.session.clone()))
    };
    let Some((room, session)) = route else {
        // A link this node does not know (it restarted): the page joins again.
        let mut headers = async_nats::HeaderMap::new();
        let reason = format!("{} server_restart", close::SERVICE_RESTART);
        headers.insert(wire::CLOSE_HEADER, reason.as_str());
        let subject = wire::link_subject(&key.0, key.1);
        let _ = bridge
            .nats
            .publish_with_headers(subject, headers, "".into())
            .await;
        return;
    };
    if let Some(command) = command_of(session, message) {
        // A room that ended closed its links: the writer ends and forgets this one.
        let _ = room.send(command).await;
    }
}
