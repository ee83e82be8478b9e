//! One hall's socket: a reader and a writer over any `Sink`/`Stream` of [`WsMessage`]s.
//!
//! The web server adapts axum's socket to these; tests use channels. The reader parses
//! frames (size, rate, JSON, order), answers `ping`, checks the join token and forwards
//! the rest to the room; the writer ([`crate::link::writer`]) drains the [`SessionLink`]
//! the room and the reader write to. `select!` ends one when the other ends: a closed
//! socket ends the writer, a close frame sent (leave, replaced, refused) ends the reader.
//! When a joined socket ends without `leave`, the room is told, and the hall's grace
//! period starts.

use crate::admission::Admit;
use crate::bridge::RemoteLink;
use crate::link::writer::{write, Timing};
use crate::link::{close, SessionLink};
use crate::protocol::{parse_client, ClientMessage, ErrorCode, ProtocolError, ServerMessage};
use crate::ratelimit::{Bucket, Verdict};
use crate::registry::Signaling;
use crate::room::{By, Command, RoomHandle, SessionId};
use futures::{Sink, Stream, StreamExt};
use std::fmt::Display;
use tokio::time::Instant;

/// A WebSocket message as the session sees it; transport pings are the adapter's job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsMessage {
    /// A text frame: one protocol message.
    Text(String),
    /// A binary frame (refused: the protocol is JSON text).
    Binary(Vec<u8>),
    /// A close frame, with its code and reason if any.
    Close(Option<(u16, String)>),
}

/// Where the reader is in the protocol.
enum State {
    /// Only `join` (and `ping`) are accepted.
    AwaitingJoin,
    /// In a room.
    Joined {
        room: RoomHandle,
        session: SessionId,
    },
    /// In a room on another node, over the NATS bridge.
    Bridged(RemoteLink),
    /// Left, or the room is gone: nothing to tell the room at the end.
    Done,
}

/// Runs one socket until it closes. `admit` checks the join token.
pub async fn serve<Si, St, E, A>(sink: Si, stream: St, admit: A, signaling: Signaling)
where
    Si: Sink<WsMessage> + Unpin + Send,
    Si::Error: Display,
    St: Stream<Item = Result<WsMessage, E>> + Unpin + Send,
    E: Display,
    A: Admit,
{
    let (link, link_rx) = SessionLink::new();
    let timing = Timing {
        write_timeout: signaling.config().write_timeout,
        state_interval: signaling.config().state_interval,
    };
    let mut reader = Reader {
        bucket: Bucket::new(signaling.config().rate, Instant::now()),
        link,
        signaling,
        admit,
        state: State::AwaitingJoin,
    };
    tokio::select! {
        () = reader.run(stream) => {}
        () = write(sink, link_rx, timing) => {}
    }
    match reader.state {
        State::Joined { room, session } => {
            let _ = room.send(Command::Lost { session }).await;
        }
        State::Bridged(remote) => remote.lost().await,
        State::AwaitingJoin | State::Done => {}
    }
}

struct Reader<A> {
    link: SessionLink,
    signaling: Signaling,
    admit: A,
    state: State,
    bucket: Bucket,
}

/// Whether the reader goes on after a message.
enum Flow {
    Continue,
    /// A close frame was queued; wait for the writer to send it.
    Closing,
}

impl<A: Admit> Reader<A> {
    async fn run<St, E>(&mut self, mut stream: St)
    where
        St: Stream<Item = Result<WsMessage, E>> + Unpin,
        E: Display,
    {
        let silence = self.signaling.config().heartbeat * 3;
        let join_timeout = self.signaling.config().join_timeout;
        // A socket must join within the join timeout, whatever else it sends.
        let join_by = Instant::now() + join_timeout;
        loop {
            let awaiting_join = matches!(self.state, State::AwaitingJoin);
            let wait = match awaiting_join {
                true => silence.min(join_by.saturating_duration_since(Instant::now())),
                false => silence,
            };
            let frame = match tokio::time::timeout(wait, stream.next()).await {
                Err(_) if awaiting_join && Instant::now() >= join_by => {
                    self.signaling.metrics().join_timeouts.inc();
                    let message = format!("no join within {} s", join_timeout.as_secs());
                    self.fail(ErrorCode::JoinTimeout, message, close::POLICY);
                    break;
                }
                Err(_) => {
                    let message = format!("no message for {} s", silence.as_secs());
                    self.fail(ErrorCode::HeartbeatTimeout, message, close::HEARTBEAT);
                    break;
                }
                Ok(None | Some(Ok(WsMessage::Close(_)))) => return,
                Ok(Some(Err(e))) => {
                    tracing::debug!(error = %e, "socket read failed");
                    return;
                }
                Ok(Some(Ok(frame))) => frame,
            };
            match self.bucket.check(Instant::now()) {
                Verdict::Allow => {}
                Verdict::DropAndWarn => {
                    self.reply(error(
                        ErrorCode::RateLimited,
                        "too many messages; slow down",
                    ));
                    continue;
                }
                Verdict::Drop => continue,
                Verdict::Close => {
                    let message = "too many messages for too long";
                    self.fail(ErrorCode::RateLimited, message, close::POLICY);
                    break;
                }
            }
            let parsed = match frame {
                WsMessage::Text(text) => parse_client(&text),
                _ => Err(ProtocolError::new(
                    ErrorCode::InvalidJson,
                    "binary frames are not accepted; send JSON text",
                )),
            };
            let flow = match parsed {
                Ok(message) => self.handle(message).await,
                Err(e) if e.code == ErrorCode::UnsupportedVersion => {
                    self.fail(e.code, e.message, close::POLICY);
                    Flow::Closing
                }
                Err(e) => {
                    self.reply(e.to_message());
                    Flow::Continue
                }
            };
            if let Flow::Closing = flow {
                break;
            }
        }
        // The writer ends after sending the queued close frame; that ends the session.
        std::future::pending::<()>().await;
    }

    async fn handle(&mut self, message: ClientMessage) -> Flow {
        if let ClientMessage::Ping { ts } = message {
            self.reply(ServerMessage::Pong { ts });
            return Flow::Continue;
        }
        let (room, session) = match &self.state {
            State::Done => return Flow::Continue,
            State::Bridged(_) => return self.bridged(message).await,
            State::AwaitingJoin => {
                if let ClientMessage::Join { token, resume, .. } = message {
                    return self.join(&token, resume).await;
                }
                self.reply(error(ErrorCode::OutOfOrder, "send join first"));
                return Flow::Continue;
            }
            State::Joined { room, session } => (room.clone(), session.clone()),
        };
        let Some(command) = command_of(session, message) else {
            self.reply(error(ErrorCode::OutOfOrder, "already joined"));
            return Flow::Continue;
        };
        let leaving = matches!(command, Command::Leave { .. });
        if room.send(command).await.is_err() {
            self.state = State::Done;
            let message = "the meeting room has ended";
            self.fail(ErrorCode::NotJoined, message, close::GOING_AWAY);
            return Flow::Closing;
        }
        if leaving {
            self.state = State::Done;
            self.link.close(close::NORMAL, "left");
            return Flow::Closing;
        }
        Flow::Continue
    }

    /// A message of a page whose room is on another node: published to it.
    async fn bridged(&mut self, message: ClientMessage) -> Flow {
        let State::Bridged(remote) = &self.state else {
            return Flow::Continue;
        };
        match message {
            ClientMessage::Join { .. } => {
                self.reply(error(ErrorCode::OutOfOrder, "already joined"));
                Flow::Continue
            }
            ClientMessage::Leave => {
                if let State::Bridged(remote) = std::mem::replace(&mut self.state, State::Done) {
                    remote.leave().await;
                }
                self.link.close(close::NORMAL, "left");
                Flow::Closing
            }
            message => {
                remote.send(message).await;
                Flow::Continue
            }
        }
    }

    async fn join(&mut self, token: &str, resume: Option<String>) -> Flow {
        // A single node stopping: the page comes back at once (a cluster node names,
        // once the token says which meeting, the node that goes on with it).
        if self.signaling.is_stopping() && self.signaling.bridge().is_none() {
            return self.restarting(None).await;
        }
        let started = Instant::now();
        let metrics = self.signaling.metrics().clone();
        let admission = match self.admit.admit(token).await {
            Ok(admission) => admission,
            Err(e) => {
                metrics.join(e.code.as_str());
                tracing::info!(code = e.code.as_str(), "join refused");
                self.fail(e.code, e.message, refused_close(e.code));
                return Flow::Closing;
            }
        };
        if self.signaling.is_stopping() {
            return self.restarting(Some(admission.meeting.id)).await;
        }
        let mut joined = self
            .signaling
            .join(admission.clone(), resume.clone(), self.link.clone())
            .await;
        // Another node is the meeting's home: bridged to its room, if NATS is there. A
        // home that is stopping (handing the meeting over) refuses: once more, then.
        for again in [true, false] {
            let Some(bridge) = self.signaling.bridge() else {
                break;
            };
            let refused = match joined {
                Ok(Err(refused)) if refused.code == ErrorCode::HomeElsewhere => refused,
                _ => break,
            };
            match bridge
                .join(
                    admission.clone(),
                    resume.clone(),
                    self.link.clone(),
                    refused,
                )
                .await
            {
                Ok(remote) => {
                    metrics.join("welcome");
                    metrics
                        .join_seconds
                        .observe(started.elapsed().as_secs_f64());
                    self.state = State::Bridged(remote);
                    return Flow::Continue;
                }
                Err(refused) if again && refused.code == ErrorCode::HomeElsewhere => {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    joined = self
                        .signaling
                        .join(admission.clone(), resume.clone(), self.link.clone())
                        .await;
                }
                Err(refused) => {
                    joined = Ok(Err(refused));
                    break;
                }
            }
        }
        match joined {
            Ok(Ok((room, session))) => {
                metrics.join("welcome");
                let took = started.elapsed().as_secs_f64();
                metrics.join_seconds.observe(took);
                self.state = State::Joined { room, session };
                Flow::Continue
            }
            Ok(Err(_)) if self.signaling.is_stopping() => {
                self.restarting(Some(admission.meeting.id)).await
            }
            Ok(Err(refused)) => {
                metrics.join(refused.code.as_str());
                tracing::info!(code = refused.code.as_str(), "join refused by the room");
                let close_code = refused_close(refused.code);
                self.fail(refused.code, refused.message, close_code);
                Flow::Closing
            }
            Err(_) => {
                self.fail(
                    ErrorCode::Internal,
                    "the meeting room is not available",
                    close::INTERNAL,
                );
                Flow::Closing
            }
        }
    }

    /// The server is stopping: a cluster node sends the page to the node that goes on
    /// with `meeting` (`home_elsewhere` naming it, close 1013: the page goes there at
    /// once); otherwise close 1012, the page comes back at once.
    async fn restarting(&mut self, meeting: Option<i64>) -> Flow {
        let next = match meeting {
            Some(m) => self.signaling.moved_to(m).await,
            None => None,
        };
        match next {
            Some(next) => {
                let message = crate::drain::moved(&self.signaling.node_name(), &next);
                self.fail(ErrorCode::HomeElsewhere, message, close::TRY_AGAIN_LATER);
            }
            None => self.link.close(close::SERVICE_RESTART, "server_restart"),
        }
        Flow::Closing
    }

    fn reply(&self, message: ServerMessage) {
        self.link.send(message);
    }

    /// Tells the page why, then queues the close frame.
    fn fail(&self, code: ErrorCode, message: impl Into<String>, close_code: u16) {
        self.reply(error(code, message));
        self.link.close(close_code, code.as_str());
    }
}

/// The room's command for a page's message after its join; `None` for `join` and `ping`
/// (answered by the socket's reader). Also used for pages bridged from other nodes.
pub(crate) fn command_of(session: SessionId, message: ClientMessage) -> Option<Command> {
    let command = match message {
        ClientMessage::Offer { sdp, renegotiate } => Command::Offer {
            session,
            sdp,
            renegotiate,
        },
        ClientMessage::Candidate(candidate) => Command::Candidate { session, candidate },
        ClientMessage::SetLayer { slot, layer } => Command::SetLayer {
            session,
            slot,
            layer,
        },
        ClientMessage::Leave => Command::Leave { session },
        ClientMessage::Join { .. } | ClientMessage::Ping { .. } => return None,
        request => Command::Act {
            by: By::Session(session),
            request,
            reply: None,
        },
    };
    Some(command)
}

/// The close code of a refused join: 1011 when it was our fault (the database could not
/// check the token), 1013 when the server is full or another node is the meeting's home
/// (try again later), else 1008.
fn refused_close(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::Internal => close::INTERNAL,
        ErrorCode::Capacity | ErrorCode::HomeElsewhere => close::TRY_AGAIN_LATER,
        _ => close::POLICY,
    }
}

fn error(code: ErrorCode, message: impl Into<String>) -> ServerMessage {
    ServerMessage::Error {
        code,
        message: message.into(),
    }
}
