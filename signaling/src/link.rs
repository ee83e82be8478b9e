//! The room's line to one socket's writer: queued messages, a close, and a way to cut a stalled one.

use crate::protocol::{ErrorCode, ServerMessage};
use std::sync::Arc;
use tokio::sync::{mpsc, Notify};

/// WebSocket close codes the server uses.
pub mod close {
    /// Normal closure: the hall left.
    pub const NORMAL: u16 = 1000;
    /// The server is going away.
    pub const GOING_AWAY: u16 = 1001;
    /// Policy violation: refused token, flood, wrong version.
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

/// What a socket's writer does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// Send a message.
    Message(ServerMessage),
    /// Send a close frame with this code and reason, then stop.
    Close {
        /// The WebSocket close code.
        code: u16,
        /// The reason (an error code or `left`).
        reason: String,
    },
}

/// How many messages may wait for one socket's writer before it counts as stalled.
pub const OUTBOX: usize = 256;

/// A sender to one socket's writer. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SessionLink {
    outbox: mpsc::Sender<Outgoing>,
    /// Wakes the writer to close at once when its queue is full (a stalled page must
    /// never hold the room up).
    cut: Arc<Notify>,
}

/// The writer's end of a [`SessionLink`].
#[derive(Debug)]
pub struct LinkReceiver {
    /// Queued messages.
    pub outbox: mpsc::Receiver<Outgoing>,
    /// Notified when the link was cut.
    pub cut: Arc<Notify>,
}

impl SessionLink {
    /// A link and the writer's end of it.
    pub fn new() -> (SessionLink, LinkReceiver) {
        let (outbox, rx) = mpsc::channel(OUTBOX);
        let cut = Arc::new(Notify::new());
        (
            SessionLink {
                outbox,
                cut: Arc::clone(&cut),
            },
            LinkReceiver { outbox: rx, cut },
        )
    }

    /// Queues a message without waiting; a full queue cuts the socket.
    pub fn send(&self, message: ServerMessage) {
        self.push(Outgoing::Message(message));
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
        if let Err(mpsc::error::TrySendError::Full(_)) = self.outbox.try_send(out) {
            tracing::warn!("a hall's socket is not reading; closing it");
            self.cut.notify_one();
        }
    }

    /// Resolves once the socket's writer has ended (its close frame sent, or the socket gone).
    pub async fn closed(&self) {
        self.outbox.closed().await;
    }

    /// Queues a message, waiting for room in the queue (the session's own replies).
    pub async fn send_wait(&self, out: Outgoing) {
        let _ = self.outbox.send(out).await;
    }
}
