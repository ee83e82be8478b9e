//! The room's line to one socket's writer: must-arrive messages in order, state coalesced
//! per key, a close, and the rule that cuts a page which stopped reading.
//!
//! The room (and the socket's own reader) never wait on a page: [`SessionLink`] queues into
//! the socket's [`Outbox`](outbox::Outbox) and wakes its writer ([`writer`]). What a page
//! may owe is bounded by coalescing, not by cutting it: a burst others made (220 halls
//! answering a roll call at once) only replaces the state a page has not read yet. A page
//! is cut (1008 `not_reading`) when a write to it has not gone through for
//! `SignalingConfig::write_timeout` — it has been unreadable for seconds.

mod outbox;
mod throttle;
pub(crate) mod writer;

pub use outbox::{StateKey, MUST_ARRIVE_CAP};

use crate::protocol::{to_text, ErrorCode, ServerMessage};
use outbox::{Outbox, Pushed};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{mpsc, Notify};

/// WebSocket close codes the server uses.
pub mod close {
    /// Normal closure: the hall left.
    pub const NORMAL: u16 = 1000;
    /// The server is going away.
    pub const GOING_AWAY: u16 = 1001;
    /// Policy violation: refused token, flood, wrong version, a page not reading.
    pub const POLICY: u16 = 1008;
    /// Our fault.
    pub const INTERNAL: u16 = 1011;
    /// The server is restarting (a graceful stop): come back at once.
    pub const SERVICE_RESTART: u16 = 1012;
    /// The same hall joined from another socket.
    pub const REPLACED: u16 = 4001;
    /// No message for three heartbeat intervals.
    pub const HEARTBEAT: u16 = 4002;
    /// The host removed the hall.
    pub const REMOVED: u16 = 4003;
    /// The meeting ended.
    pub const MEETING_ENDED: u16 = 4004;
    /// The server is full (`capacity`): try again later.
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

/// A message serialised once, shared by every page it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame(Arc<str>);

impl Frame {
    /// The text frame of `message`.
    pub fn of(message: &ServerMessage) -> Frame {
        Frame(to_text(message).into())
    }

    /// A frame already serialised (a home room's message, come over the NATS bridge).
    pub(crate) fn from_text(text: &str) -> Frame {
        Frame(text.into())
    }

    /// The JSON text.
    pub fn text(&self) -> &str {
        &self.0
    }
}

/// What a socket's writer sends next.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// A message.
    Frame(Frame),
    /// A close frame with this code and reason, then stop.
    Close {
        /// The WebSocket close code.
        code: u16,
        /// The reason (an error code or `left`).
        reason: String,
    },
}

impl Outgoing {
    /// The close of a page that stopped reading.
    pub fn not_reading() -> Outgoing {
        Outgoing::Close {
            code: close::POLICY,
            reason: "not_reading".into(),
        }
    }
}

/// What the link and its writer share.
#[derive(Debug, Default)]
struct Inner {
    outbox: Mutex<Outbox>,
    /// Wakes the writer: something was queued.
    wake: Notify,
    /// The node the socket is on, when it is bridged from another node.
    via: std::sync::OnceLock<String>,
}

impl Inner {
    fn outbox(&self) -> std::sync::MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A sender to one socket's writer. Cheap to clone; never waits.
#[derive(Debug, Clone)]
pub struct SessionLink {
    inner: Arc<Inner>,
    /// Closed once the writer has ended (its [`LinkReceiver`] dropped).
    alive: mpsc::Sender<()>,
}

/// The writer's end of a [`SessionLink`].
#[derive(Debug)]
pub struct LinkReceiver {
    inner: Arc<Inner>,
    _alive: mpsc::Receiver<()>,
}

impl SessionLink {
    /// A link and the writer's end of it.
    pub fn new() -> (SessionLink, LinkReceiver) {
        let inner = Arc::new(Inner::default());
        let (alive, alive_rx) = mpsc::channel(1);
        (
            SessionLink {
                inner: Arc::clone(&inner),
                alive,
            },
            LinkReceiver {
                inner,
                _alive: alive_rx,
            },
        )
    }

    /// Names the node this link's socket is on (a bridged hall's), for media placement.
    pub(crate) fn set_via(&self, node: &str) {
        let _ = self.inner.via.set(node.to_owned());
    }

    /// The node this link's socket is on, if it is bridged from another node.
    pub(crate) fn via(&self) -> Option<&str> {
        self.inner.via.get().map(String::as_str)
    }

    /// Queues a message that must arrive, in order.
    pub fn send(&self, message: ServerMessage) {
        self.push(Outgoing::Frame(Frame::of(&message)));
    }

    /// Queues a frame (serialised once for many pages) that must arrive, in order.
    pub fn send_frame(&self, frame: Frame) {
        self.push(Outgoing::Frame(frame));
    }

    /// Sets the latest state of `key`: it replaces one of the same key not yet sent.
    pub fn set_state(&self, key: StateKey, frame: Frame) {
        if self.alive.is_closed() {
            return;
        }
        // A burst of state wakes the writer once, not once per change.
        if self.inner.outbox().set(key, frame) {
            self.inner.wake.notify_one();
        }
    }

    /// Queues an `error` message.
    pub fn error(&self, code: ErrorCode, message: impl Into<String>) {
        self.send(ServerMessage::Error {
            code,
            message: message.into(),
        });
    }

    /// Queues a close frame; the writer stops after sending it.
    pub fn close(&self, code: u16, reason: &str) {
        self.push(Outgoing::Close {
            code,
            reason: reason.to_owned(),
        });
    }

    fn push(&self, out: Outgoing) {
        if self.alive.is_closed() {
            return;
        }
        let pushed = self.inner.outbox().push(out);
        if pushed == Pushed::Overflow {
            writer::warn_cut("a page owes too many messages");
        }
        self.inner.wake.notify_one();
    }

    /// How many messages wait for the socket (must-arrive and coalesced state).
    pub fn pending(&self) -> usize {
        self.inner.outbox().len()
    }

    /// Resolves once the socket's writer has ended (its close frame sent, or the socket gone).
    pub async fn closed(&self) {
        self.alive.closed().await;
    }
}
