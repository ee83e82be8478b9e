//! Test harness: a hall's page as two channels into [`signaling::serve`], a token table,
//! the messages tests wait for, a recorder that keeps what it is given, media through
//! `sfu::testclient`, and ([`store`]) a live meeting over a real store.
#![allow(dead_code)] // each test binary uses part of it

pub mod nodes;
pub mod recording;
pub mod slowlink;
pub mod store;
pub mod ws;

use futures::channel::mpsc;
use futures::stream::BoxStream;
use futures::{FutureExt, SinkExt, StreamExt};
use sfu::testclient::{Publishing, TestClient};
use sfu::SfuConfig;
use signaling::protocol::{
    Action, Actor, ErrorCode, HallInfo, MeetingInfo, MeetingState, ProtocolError, Reason,
    ServerMessage, Slot,
};
use signaling::{Admission, Admit, Signaling, SignalingConfig, WsMessage};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The meeting of these tests; hall 1 hosts.
pub fn meeting() -> MeetingInfo {
    MeetingInfo {
        id: 42,
        title: "Giao ban trực tuyến".into(),
        host_hall_id: 1,
        host_hall_name: "Hội trường UBND tỉnh".into(),
        starts_at: 1_800_000_000,
        ends_at: 1_800_007_200,
        kind: "routine".into(),
    }
}

/// The service's settings when pages do not ping: a heartbeat longer than any test.
pub fn quiet() -> SignalingConfig {
    SignalingConfig {
        heartbeat: Duration::from_secs(3600),
        ..SignalingConfig::default()
    }
}

/// A service over a default SFU with [`quiet`] settings.
pub fn start_quiet() -> Signaling {
    Signaling::start(SfuConfig::default(), quiet()).expect("valid config")
}

/// The participant id of the guest `tok-guest` admits (a guest's id is negative).
pub const GUEST: i64 = -7;

/// Join tokens and what they grant (`tok-1` → hall 1, the host; `tok-2` … `tok-4`;
/// `tok-guest` → the guest [`GUEST`]).
#[derive(Clone)]
pub struct Tokens(Arc<HashMap<String, Result<Admission, ProtocolError>>>);

impl Default for Tokens {
    fn default() -> Self {
        Tokens::halls(4)
    }
}

impl Tokens {
    /// Tokens `tok-1` (the host) to `tok-<n>`, and `tok-expired`.
    pub fn halls(n: i64) -> Tokens {
        let mut table = HashMap::new();
        for id in 1..=n {
            let name = match id {
                1 => "Hội trường UBND tỉnh".to_owned(),
                2 => "Điểm cầu xã A".to_owned(),
                3 => "Điểm cầu xã B".to_owned(),
                4 => "Điểm cầu xã C".to_owned(),
                _ => format!("Điểm cầu xã số {id}"),
            };
            let admission = Admission {
                meeting: meeting(),
                hall: HallInfo { id, name },
            };
            table.insert(format!("tok-{id}"), Ok(admission));
        }
        let guest = Admission {
            meeting: meeting(),
            hall: HallInfo {
                id: GUEST,
                name: "Phóng viên Báo Phú Thọ".into(),
            },
        };
        table.insert("tok-guest".into(), Ok(guest));
        let expired = ProtocolError::new(ErrorCode::TokenExpired, "the meeting has ended");
        table.insert("tok-expired".into(), Err(expired));
        Tokens(Arc::new(table))
    }
}

impl Admit for Tokens {
    async fn admit(&self, token: &str) -> Result<Admission, ProtocolError> {
        self.0.get(token).cloned().unwrap_or_else(|| {
            Err(ProtocolError::new(
                ErrorCode::JoinRefused,
                "unknown join token",
            ))
        })
    }
}

/// One page: what it sends to the server and what the server sent it.
pub struct Page {
    to_server: mpsc::UnboundedSender<Result<WsMessage, Infallible>>,
    from_server: BoxStream<'static, WsMessage>,
    /// Set once the server's close frame arrived.
    pub closed: Option<(u16, String)>,
}

/// How long a page waits for an expected message (virtual time in paused tests), and
/// [`wait_until`] for a condition (real time).
pub const WAIT: Duration = Duration::from_secs(20);

/// Pages that opened and joined with `tokens` (e.g. the host and halls 2 and 3).
pub async fn joined<const N: usize>(
    signaling: &Signaling,
    tokens: &Tokens,
    joins: [&str; N],
) -> [Page; N] {
    let mut pages = joins.map(|_| Page::open(signaling, tokens));
    for (page, token) in pages.iter_mut().zip(joins) {
        page.join(token).await;
    }
    pages
}

/// Waits until `done` holds, polling in real time; panics with `what` after [`WAIT`].
pub async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Who left and why, if `m` is a `participant_left`.
pub fn left(m: &ServerMessage) -> Option<(i64, Reason)> {
    match m {
        ServerMessage::ParticipantLeft {
            hall_id, reason, ..
        } => Some((*hall_id, *reason)),
        _ => None,
    }
}

impl Page {
    /// Opens a socket to `signaling`.
    pub fn open(signaling: &Signaling, tokens: &Tokens) -> Page {
        Page::open_with(signaling, tokens.clone())
    }

    /// Opens a socket to `signaling` whose tokens `admit` checks.
    pub fn open_with(signaling: &Signaling, admit: impl Admit + 'static) -> Page {
        let (to_server, incoming) = mpsc::unbounded();
        let (outgoing, from_server) = mpsc::unbounded();
        tokio::spawn(signaling::serve(
            outgoing,
            incoming,
            admit,
            signaling.clone(),
        ));
        Page {
            to_server,
            from_server: from_server.boxed(),
            closed: None,
        }
    }

    /// Opens a socket whose page takes at most `frames` unread frames: once they wait,
    /// the server's writes wait too (a socket buffer full because the page reads slowly,
    /// or not at all).
    pub fn open_bounded(signaling: &Signaling, tokens: &Tokens, frames: usize) -> Page {
        Page::open_bounded_with(signaling, tokens.clone(), frames)
    }

    /// [`Page::open_bounded`] with tokens checked by `admit`.
    pub fn open_bounded_with(
        signaling: &Signaling,
        admit: impl Admit + 'static,
        frames: usize,
    ) -> Page {
        let (to_server, incoming) = mpsc::unbounded();
        let (outgoing, from_server) = mpsc::channel(frames);
        tokio::spawn(signaling::serve(
            outgoing,
            incoming,
            admit,
            signaling.clone(),
        ));
        Page {
            to_server,
            from_server: from_server.boxed(),
            closed: None,
        }
    }

    /// Sends a raw text frame.
    pub fn send_text(&mut self, text: &str) {
        let _ = self
            .to_server
            .unbounded_send(Ok(WsMessage::Text(text.to_owned())));
    }

    /// Sends a JSON value.
    pub fn send(&mut self, value: serde_json::Value) {
        self.send_text(&value.to_string());
    }

    /// Sends a binary frame.
    pub fn send_binary(&mut self) {
        let _ = self
            .to_server
            .unbounded_send(Ok(WsMessage::Binary(vec![1, 2])));
    }

    /// Drops the socket without a close (the network went away).
    pub async fn vanish(mut self) {
        let _ = self.to_server.close().await;
    }

    /// The next message, or `None` if the socket closed (the close is kept in `closed`).
    pub async fn next(&mut self) -> Option<ServerMessage> {
        self.next_within(WAIT)
            .await
            .expect("the server said something in time")
    }

    /// The next message if one comes within `wait` (`Some(None)`: the socket closed).
    pub async fn next_within(&mut self, wait: Duration) -> Option<Option<ServerMessage>> {
        if self.closed.is_some() {
            return Some(None);
        }
        let frame = tokio::time::timeout(wait, self.from_server.next())
            .await
            .ok()?;
        Some(match frame {
            Some(WsMessage::Text(text)) => {
                Some(serde_json::from_str(&text).expect("the server sends valid messages"))
            }
            Some(WsMessage::Close(close)) => {
                self.closed = Some(close.unwrap_or((1005, String::new())));
                None
            }
            Some(WsMessage::Binary(_)) => panic!("the server sent a binary frame"),
            None => {
                self.closed = Some((1006, String::new()));
                None
            }
        })
    }

    /// Skips messages until one matches; panics if the socket closes first.
    pub async fn expect<T>(
        &mut self,
        what: &str,
        mut want: impl FnMut(&ServerMessage) -> Option<T>,
    ) -> T {
        loop {
            match self.next().await {
                Some(m) => {
                    if let Some(t) = want(&m) {
                        return t;
                    }
                }
                None => panic!("socket closed ({:?}) while waiting for {what}", self.closed),
            }
        }
    }

    /// The next `error`'s code, skipping other messages.
    pub async fn error(&mut self) -> ErrorCode {
        self.expect("an error", |m| match m {
            ServerMessage::Error { code, .. } => Some(*code),
            _ => None,
        })
        .await
    }

    /// Reads until the server closes; returns its close code and reason.
    pub async fn close_frame(&mut self) -> (u16, String) {
        while self.next().await.is_some() {}
        self.closed.clone().expect("closed")
    }

    /// Sends `join` and returns the `welcome`'s session id and participant hall ids.
    pub async fn join(&mut self, token: &str) -> (String, Vec<i64>) {
        self.send_join(token);
        self.welcome().await
    }

    /// Sends `join` without waiting for the answer.
    pub fn send_join(&mut self, token: &str) {
        self.send(serde_json::json!({"type": "join", "v": 1, "token": token}));
    }

    /// The `welcome`'s session id and participant hall ids.
    pub async fn welcome(&mut self) -> (String, Vec<i64>) {
        self.expect("welcome", |m| match m {
            ServerMessage::Welcome {
                session_id,
                participants,
                ..
            } => Some((
                session_id.clone(),
                participants.iter().map(|p| p.hall_id).collect(),
            )),
            _ => None,
        })
        .await
    }

    /// A ping answered by a pong (other messages before it are skipped).
    pub async fn ping(&mut self, ts: f64) {
        self.send(serde_json::json!({"type": "ping", "ts": ts}));
        self.expect("pong", |m| match m {
            ServerMessage::Pong { ts: t } if *t == ts => Some(()),
            _ => None,
        })
        .await;
    }

    /// The next `meeting_state`.
    pub async fn state(&mut self) -> MeetingState {
        self.expect("meeting_state", |m| match m {
            ServerMessage::MeetingState(s) => Some((**s).clone()),
            _ => None,
        })
        .await
    }

    /// The next `control`: what, to which hall, by whom.
    pub async fn control(&mut self) -> (Action, Option<i64>, Actor) {
        self.expect("control", |m| match m {
            ServerMessage::Control {
                action,
                hall_id,
                by,
                ..
            } => Some((*action, *hall_id, *by)),
            _ => None,
        })
        .await
    }

    /// Who did `want`, from the next `control` announcing it.
    pub async fn control_of(&mut self, want: Action) -> Actor {
        self.expect("control", |m| match m {
            ServerMessage::Control { action, by, .. } if *action == want => Some(*by),
            _ => None,
        })
        .await
    }

    /// Whether nothing is waiting from the server right now.
    pub fn quiet(&mut self) -> bool {
        !matches!(self.from_server.next().now_or_never(), Some(Some(_)))
    }
}

/// Keeps what a room recorded (a [`Recorder`](signaling::Recorder) for the tests).
#[derive(Default)]
pub struct Log(std::sync::Mutex<Vec<signaling::PresenceKind>>);

impl signaling::Recorder for Log {
    fn record(&self, change: signaling::PresenceChange) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(change.kind);
    }
}

impl Log {
    /// What was recorded, in order.
    pub fn kinds(&self) -> Vec<signaling::PresenceKind> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// A page joined with `token` that publishes a synthetic camera and microphone: the page,
/// its media client and what keeps the media flowing (drop it to stop).
pub async fn publishing(
    signaling: &Signaling,
    tokens: &Tokens,
    token: &str,
) -> (Page, TestClient, Publishing) {
    let mut page = Page::open(signaling, tokens);
    page.join(token).await;
    let media = TestClient::publisher().await.expect("publisher");
    assert!(negotiate(&mut page, &media).await.is_empty(), "no slots");
    let sending = media.start_publishing().await.expect("sending");
    (page, media, sending)
}

/// Offers `client`'s media through `page`, applies the answer, waits (bounded) until
/// connected; returns the negotiated receive slots.
pub async fn negotiate(page: &mut Page, client: &TestClient) -> Vec<Slot> {
    let offer = client.offer().await.expect("offer");
    page.send(serde_json::json!({"type": "offer", "sdp": offer}));
    let (sdp, slots) = page
        .expect("answer", |m| match m {
            ServerMessage::Answer { sdp, slots } => Some((sdp.clone(), slots.clone())),
            _ => None,
        })
        .await;
    client.accept(sdp).await.expect("the answer applies");
    assert!(client.wait_connected(WAIT).await, "media connects");
    slots
}
