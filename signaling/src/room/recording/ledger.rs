//! The meeting's recordings in the store (`recordings`, `scheduler::recordings`): a row
//! written when a recording starts, and ended — finished with its duration and size, or
//! failed with the recorder's code — when the recorder reports its end, even if the room
//! has closed by then. Off the room's loop: a task per recording, in that order; a store
//! that cannot be written to is logged and never disturbs the recording.

use media_recorder::Event;
use scheduler::Store;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Who started a recording, for its row's `started_by`.
#[derive(Debug, Clone)]
pub(super) enum StartedBy {
    /// A name the room knows (the host hall's, the server's default).
    Named(String),
    /// A staff account: its display name, looked up in the store.
    Account(i64),
}

/// How a recording ended.
#[derive(Debug)]
struct Ended {
    /// The recorder's duration, if it finished.
    duration: Option<Duration>,
    /// The recorder's code, if it failed.
    error: Option<&'static str>,
}

/// One recording's row, fed with its events; the row is ended once.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    end: Option<oneshot::Sender<Ended>>,
}

impl Ledger {
    /// Writes the row of a recording into `file` (relative to the recordings directory;
    /// its full path `path`) in the background; without a store, nothing.
    pub(super) fn open(
        store: Option<Store>,
        meeting_id: i64,
        file: String,
        path: PathBuf,
        by: StartedBy,
    ) -> Ledger {
        let Some(store) = store else {
            return Ledger::default();
        };
        let (end, ended) = oneshot::channel();
        tokio::spawn(write(store, meeting_id, file, path, by, ended));
        Ledger { end: Some(end) }
    }

    /// Ends the row on the recorder's last event (`Finished` or `Failed`).
    pub(super) fn see(&mut self, event: &Event) {
        let ended = match event {
            Event::Finished { duration, .. } => Ended {
                duration: Some(*duration),
                error: None,
            },
            Event::Failed { error } => Ended {
                duration: None,
                error: Some(error.code()),
            },
            _ => return,
        };
        if let Some(end) = self.end.take() {
            // The writer is gone only if the row could not be written at all.
            let _ = end.send(ended);
        }
    }
}

async fn write(
    store: Store,
    meeting_id: i64,
    file: String,
    path: PathBuf,
    by: StartedBy,
    ended: oneshot::Receiver<Ended>,
) {
    let began = Instant::now();
    let started_by = match by {
        StartedBy::Named(name) => name,
        StartedBy::Account(id) => match store.account(id).await {
            Ok(account) => account.display_name,
            Err(_) => format!("Tài khoản {id}"),
        },
    };
    let id = match store
        .recording_started(meeting_id, &file, &started_by)
        .await
    {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(meeting = meeting_id, %file, error = ?e, "the recording's row was not written");
            return;
        }
    };
    // The recorder always ends with `Finished` or `Failed`; a recorder that vanished
    // without either (a panic) leaves the row failed.
    let ended = ended.await.unwrap_or(Ended {
        duration: None,
        error: Some("recording_failed"),
    });
    let duration = ended.duration.unwrap_or_else(|| began.elapsed());
    let bytes = tokio::fs::metadata(&path)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    if let Err(e) = store
        .recording_ended(id, duration, bytes, ended.error)
        .await
    {
        tracing::error!(meeting = meeting_id, recording = id, error = ?e, "the recording's end was not written");
    }
}
