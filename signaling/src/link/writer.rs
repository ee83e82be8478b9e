//! One socket's writer: must-arrive messages at once and in order, coalesced state a few
//! times a second, and the cut of a page that has not read for seconds.

use super::throttle::Throttle;
use super::{LinkReceiver, Outgoing};
use crate::session::WsMessage;
use futures::{Sink, SinkExt};
use std::fmt::Display;
use std::time::Duration;
use tokio::time::Instant;

/// How long the `not_reading` close frame may take once a page is cut.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Cuts are logged once per interval, with how many others there were.
static CUTS: Throttle = Throttle::new(Duration::from_secs(10));

/// The writer's timings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    /// How long one write may wait for the page to read before the page is cut.
    pub write_timeout: Duration,
    /// How often coalesced state is sent at most.
    pub state_interval: Duration,
}

/// Logs a cut socket, rate-limited.
pub(crate) fn warn_cut(why: &str) {
    if let Some(more) = CUTS.allow(std::time::Instant::now()) {
        tracing::warn!(
            others_since_last_line = more,
            "{why}: its socket is closed (1008 not_reading)"
        );
    }
}

/// A batch to send: must-arrive messages in order, then (if due) the coalesced state.
struct Batch {
    frames: Vec<Outgoing>,
    with_state: bool,
}

impl LinkReceiver {
    /// Waits for something to send: must-arrive messages at once, state once `state_due`.
    async fn next(&self, state_due: Instant) -> Batch {
        loop {
            let waiting_state = {
                let mut outbox = self.inner.outbox();
                let state_ready = outbox.has_state() && Instant::now() >= state_due;
                if outbox.has_must() || state_ready {
                    let mut frames = outbox.take_must();
                    if state_ready {
                        frames.extend(outbox.take_state().into_iter().map(Outgoing::Frame));
                    }
                    return Batch {
                        frames,
                        with_state: state_ready,
                    };
                }
                outbox.has_state()
            };
            if waiting_state {
                tokio::select! {
                    () = self.inner.wake.notified() => {}
                    () = tokio::time::sleep_until(state_due) => {}
                }
            } else {
                self.inner.wake.notified().await;
            }
        }
    }
}

/// Sends what the link queues until a close is sent, a write fails or the page is cut.
pub(crate) async fn write<Si>(mut sink: Si, rx: LinkReceiver, timing: Timing)
where
    Si: Sink<WsMessage> + Unpin,
    Si::Error: Display,
{
    // The first state goes at once; after that at most once per interval.
    let mut state_due = Instant::now();
    loop {
        let batch = rx.next(state_due).await;
        let mut last = false;
        for out in batch.frames {
            let frame = match out {
                Outgoing::Frame(f) => WsMessage::Text(f.text().to_owned()),
                Outgoing::Close { code, reason } => {
                    last = true;
                    WsMessage::Close(Some((code, reason)))
                }
            };
            if let Err(stop) = step(timing, sink.feed(frame)).await {
                return stop.end(sink).await;
            }
            if last {
                break;
            }
        }
        if let Err(stop) = step(timing, sink.flush()).await {
            return stop.end(sink).await;
        }
        if last {
            return;
        }
        if batch.with_state {
            state_due = Instant::now() + timing.state_interval;
        }
    }
}

/// Why the writer stops early.
enum Stop {
    /// The socket failed: nothing more can be sent.
    Failed,
    /// The page did not read within the write timeout.
    NotReading,
}

impl Stop {
    /// Ends the writer; a page that stopped reading is told, briefly, why.
    async fn end<Si>(self, mut sink: Si)
    where
        Si: Sink<WsMessage> + Unpin,
    {
        if let Stop::NotReading = self {
            warn_cut("a page has not read for the write timeout");
            if let Outgoing::Close { code, reason } = Outgoing::not_reading() {
                let close = WsMessage::Close(Some((code, reason)));
                let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(close)).await;
            }
        }
    }
}

/// One write (or flush) bounded by the write timeout.
async fn step<E: Display>(
    timing: Timing,
    op: impl std::future::Future<Output = Result<(), E>>,
) -> Result<(), Stop> {
    match tokio::time::timeout(timing.write_timeout, op).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "socket write failed");
            Err(Stop::Failed)
        }
        Err(_) => Err(Stop::NotReading),
    }
}
