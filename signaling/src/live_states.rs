//! The writer of the rooms' live states (docs/cluster.md, "The room's live state"): a
//! room hands its floor, hands, mutes… here when they change and goes on; this task
//! writes each meeting's latest state to the store at most every [`EVERY`] (a burst of
//! 200 hands raised is a few writes, not 200), off the rooms' own loops, so a room never
//! waits for the database. Each write names the lease epoch the room was opened under,
//! and the store refuses it once another node took the meeting over (fencing).
//!
//! What is not written yet when the node dies is lost (at most the last [`EVERY`]); a
//! node that stops (drain or restart) [`flushes`](LiveStates::flush) first.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use scheduler::Store;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// The least time between two writes of one meeting's state.
pub const EVERY: Duration = Duration::from_millis(200);
/// How long a write that failed (the database away) waits before it is tried again.
const RETRY: Duration = Duration::from_secs(1);

enum Msg {
    Save {
        meeting_id: i64,
        epoch: Option<i64>,
        state: String,
    },
    Flush(oneshot::Sender<()>),
}

/// One meeting's state waiting to be written.
struct Pending {
    epoch: Option<i64>,
    state: String,
    /// Not before this.
    due: Instant,
}

/// The node's writer of live states. Cheap to share.
#[derive(Debug)]
pub struct LiveStates {
    queue: mpsc::UnboundedSender<Msg>,
}

impl LiveStates {
    /// Spawns the writer over `store` (whose node id is this node's).
    pub fn start(store: Store) -> Arc<LiveStates> {
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(store, rx));
        Arc::new(LiveStates { queue })
    }

    /// Takes meeting `meeting_id`'s state as its room (opened under lease `epoch`;
    /// `None` without a cluster) has it now; never waits.
    pub fn save(&self, meeting_id: i64, epoch: Option<i64>, state: String) {
        let msg = Msg::Save {
            meeting_id,
            epoch,
            state,
        };
        if self.queue.send(msg).is_err() {
            tracing::error!("the live-state writer has stopped");
        }
    }

    /// Writes every state taken so far now; false if that took longer than `within`.
    pub async fn flush(&self, within: Duration) -> bool {
        let (tx, rx) = oneshot::channel();
        if self.queue.send(Msg::Flush(tx)).is_err() {
            return false;
        }
        matches!(tokio::time::timeout(within, rx).await, Ok(Ok(())))
    }
}

async fn run(store: Store, mut rx: mpsc::UnboundedReceiver<Msg>) {
    let mut pending: HashMap<i64, Pending> = HashMap::new();
    // When each meeting's state was last written (a new change waits until EVERY after).
    let mut written: HashMap<i64, Instant> = HashMap::new();
    loop {
        let next = pending.values().map(|p| p.due).min();
        let msg = tokio::select! {
            msg = rx.recv() => msg,
            () = sleep_until(next) => {
                write_due(&store, &mut pending, &mut written, Instant::now()).await;
                continue;
            }
        };
        match msg {
            Some(Msg::Save {
                meeting_id,
                epoch,
                state,
            }) => {
                let due = written
                    .get(&meeting_id)
                    .map_or_else(Instant::now, |&at| at + EVERY);
                let due = pending.get(&meeting_id).map_or(due, |p| p.due.max(due));
                pending.insert(meeting_id, Pending { epoch, state, due });
            }
            Some(Msg::Flush(done)) => {
                let far = Instant::now() + Duration::from_secs(3600);
                write_due(&store, &mut pending, &mut written, far).await;
                let _ = done.send(());
            }
            None => {
                let far = Instant::now() + Duration::from_secs(3600);
                write_due(&store, &mut pending, &mut written, far).await;
                return;
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Writes the pending states due by `now`; one that fails waits [`RETRY`] (unless a
/// newer one replaces it meanwhile).
async fn write_due(
    store: &Store,
    pending: &mut HashMap<i64, Pending>,
    written: &mut HashMap<i64, Instant>,
    now: Instant,
) {
    let due: Vec<i64> = pending
        .iter()
        .filter(|(_, p)| p.due <= now)
        .map(|(&m, _)| m)
        .collect();
    for meeting_id in due {
        let Some(p) = pending.remove(&meeting_id) else {
            continue;
        };
        let at = scheduler::time::now();
        match store
            .save_live_state(meeting_id, p.epoch, at, &p.state)
            .await
        {
            Ok(true) => {
                written.insert(meeting_id, Instant::now());
            }
            Ok(false) => tracing::warn!(
                meeting = meeting_id,
                epoch = p.epoch,
                "live state not written: another node is the meeting's home now"
            ),
            Err(e) => {
                tracing::warn!(meeting = meeting_id, error = %e, "writing the live state failed; tried again");
                pending.insert(
                    meeting_id,
                    Pending {
                        due: Instant::now() + RETRY,
                        ..p
                    },
                );
            }
        }
    }
    // Meetings not written for a while need no entry (a new change is written at once).
    let stale = Instant::now() - Duration::from_secs(60);
    written.retain(|_, at| *at > stale);
}
