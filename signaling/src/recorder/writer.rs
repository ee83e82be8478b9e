//! The attendance writer task: takes the rooms' changes in order, journals them (one
//! fsync per batch), writes each to the store exactly once (many per transaction), and
//! while the database is away keeps them — retrying the oldest with backoff, never
//! skipping it — until it is back. Its state is shared with `/healthz` through [`WriterHealth`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use scheduler::changes::RecordedChange;
use scheduler::Store;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::journal::Journal;

/// What the rooms (and the server's shutdown) send the writer.
#[derive(Debug)]
pub(crate) enum Msg {
    /// A change to write.
    Change(RecordedChange),
    /// Answer once every change sent before this one is written.
    Flush(oneshot::Sender<()>),
}

/// The writer's state, for `/healthz`, `/metrics` and tests.
#[derive(Debug)]
pub struct WriterHealth {
    degraded: AtomicBool,
    journal_full: AtomicBool,
    pending: AtomicU64,
    written: AtomicU64,
    failed_attempts: AtomicU64,
    journal_bytes: AtomicU64,
    /// Seconds each successful write of one change to the database took (a batch written
    /// in one transaction counts each of its changes an equal share).
    write_seconds: prometheus_client::metrics::histogram::Histogram,
}

impl Default for WriterHealth {
    fn default() -> Self {
        WriterHealth {
            degraded: AtomicBool::default(),
            journal_full: AtomicBool::default(),
            pending: AtomicU64::default(),
            written: AtomicU64::default(),
            failed_attempts: AtomicU64::default(),
            journal_bytes: AtomicU64::default(),
            write_seconds: prometheus_client::metrics::histogram::Histogram::new(
                crate::metrics::latency_buckets(),
            ),
        }
    }
}

/// A snapshot of [`WriterHealth`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct WriterReport {
    /// Writes are failing, or changes from a failure or a previous run are still waiting.
    pub degraded: bool,
    /// The journal reached its size limit: newer changes are held in memory only.
    pub journal_full: bool,
    /// Changes taken but not yet in the database.
    pub pending: u64,
    /// Changes written since start-up.
    pub written: u64,
    /// Write attempts that failed since start-up.
    pub failed_attempts: u64,
    /// Bytes in the journal.
    pub journal_bytes: u64,
}

impl WriterHealth {
    /// How long attendance writes take (for `/metrics`).
    pub fn write_seconds(&self) -> &prometheus_client::metrics::histogram::Histogram {
        &self.write_seconds
    }

    /// The state now.
    pub fn report(&self) -> WriterReport {
        WriterReport {
            degraded: self.degraded.load(Ordering::Relaxed),
            journal_full: self.journal_full.load(Ordering::Relaxed),
            pending: self.pending.load(Ordering::Relaxed),
            written: self.written.load(Ordering::Relaxed),
            failed_attempts: self.failed_attempts.load(Ordering::Relaxed),
            journal_bytes: self.journal_bytes.load(Ordering::Relaxed),
        }
    }
}

/// The first wait after a failed write; doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The most changes taken from the queue into one journal append.
const BATCH: usize = 512;
/// The most changes written to the database in one transaction (one commit).
const WRITE_BATCH: usize = 128;

pub(crate) struct Writer {
    pub store: Store,
    pub journal: Option<Journal>,
    /// Taken, journaled (if it fit), not yet written; the front is the next to write.
    pub backlog: VecDeque<RecordedChange>,
    pub health: Arc<WriterHealth>,
    /// Flushes waiting, with the number of changes that must be done first.
    flushes: Vec<(u64, oneshot::Sender<()>)>,
    /// Changes taken so far, and changes done (written, or refused for good).
    taken: u64,
    done: u64,
    backoff: Duration,
    /// The start-up recovery (closing this node's intervals a previous run left open),
    /// due once this many changes at the front of the backlog — the previous run's
    /// journal — are done; nothing taken after them is written before it.
    recovery: Option<usize>,
}

impl Writer {
    /// A writer that writes `replay` first; with `recover`, it then closes the intervals
    /// this node left open (`Store::recover_open_sessions`) before anything newer — never
    /// beside a replay still running, which would close an interval the replay was about
    /// to end with its real reason.
    pub fn new(
        store: Store,
        journal: Option<Journal>,
        replay: Vec<RecordedChange>,
        recover: bool,
    ) -> Writer {
        let health = Arc::new(WriterHealth::default());
        let bytes = journal.as_ref().map_or(0, Journal::bytes);
        health.journal_bytes.store(bytes, Ordering::Relaxed);
        if !replay.is_empty() {
            // Left by a previous run: degraded until they are written.
            health.degraded.store(true, Ordering::Relaxed);
            tracing::warn!(
                changes = replay.len(),
                journal_bytes = bytes,
                "attendance changes from a previous run are being written"
            );
        }
        let taken = replay.len() as u64;
        health.pending.store(taken, Ordering::Relaxed);
        let recovery = recover.then_some(replay.len());
        Writer {
            store,
            journal,
            backlog: replay.into(),
            health,
            flushes: Vec::new(),
            taken,
            done: 0,
            backoff: FIRST_BACKOFF,
            recovery,
        }
    }

    /// Something to write: changes, or the start-up recovery.
    fn has_work(&self) -> bool {
        !self.backlog.is_empty() || self.recovery.is_some()
    }

    /// Runs until the queue closes and everything taken is written.
    pub async fn run(mut self, mut queue: mpsc::UnboundedReceiver<Msg>) {
        let mut open = true;
        let mut retry_at: Option<Instant> = None;
        loop {
            // Take what is queued: wait for it only when there is nothing else to do.
            let mut fresh = Vec::new();
            if open && !self.has_work() {
                match queue.recv().await {
                    Some(m) => self.take(m, &mut fresh),
                    None => open = false,
                }
            } else if let Some(at) = retry_at {
                if open {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => retry_at = None,
                        m = queue.recv() => match m {
                            Some(m) => self.take(m, &mut fresh),
                            None => open = false,
                        },
                    }
                } else {
                    tokio::time::sleep_until(at).await;
                    retry_at = None;
                }
            }
            while open && fresh.len() < BATCH {
                match queue.try_recv() {
                    Ok(m) => self.take(m, &mut fresh),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => open = false,
                }
            }
            self.journal_append(fresh).await;
            if retry_at.is_none() {
                retry_at = self.write_backlog(&mut queue, &mut open).await;
            }
            if self.backlog.is_empty() {
                self.journal_clear().await;
            }
            self.answer_flushes();
            if !self.has_work() && !open {
                return;
            }
        }
    }

    fn take(&mut self, m: Msg, fresh: &mut Vec<RecordedChange>) {
        match m {
            Msg::Change(c) => {
                self.taken += 1;
                self.health.pending.fetch_add(1, Ordering::Relaxed);
                fresh.push(c);
            }
            Msg::Flush(answer) => {
                if self.done >= self.taken && self.recovery.is_none() {
                    let _ = answer.send(());
                } else {
                    self.flushes.push((self.taken, answer));
                }
            }
        }
    }

    /// Writes the backlog front to back, up to [`WRITE_BATCH`] changes per transaction;
    /// on a failure that may pass, returns when to retry. At most [`BATCH`] changes per
    /// call. While a write runs (on a slow database, or waiting for a pooled connection,
    /// that can be long), what the rooms queue is journaled at once, so a change they
    /// acknowledged is on disk within moments (kill -9 safe).
    async fn write_backlog(
        &mut self,
        queue: &mut mpsc::UnboundedReceiver<Msg>,
        open: &mut bool,
    ) -> Option<Instant> {
        let mut left = BATCH;
        while left > 0 && self.has_work() {
            if self.recovery == Some(0) {
                let store = self.store.clone();
                let recover = async move { store.recover_open_sessions().await };
                match self.journaling(queue, open, recover).await {
                    Ok(_) => self.recovery = None,
                    Err(e) if e.is_transient() => return Some(self.failed(&e)),
                    Err(e) => {
                        tracing::error!(error = ?e, "attendance left open by a previous run not closed");
                        self.recovery = None;
                    }
                }
                continue;
            }
            let before_recovery = self.recovery.unwrap_or(usize::MAX);
            let n = self
                .backlog
                .len()
                .min(WRITE_BATCH)
                .min(left)
                .min(before_recovery);
            left -= n;
            let started = Instant::now();
            let batch: Vec<RecordedChange> = self.backlog.iter().take(n).cloned().collect();
            let store = self.store.clone();
            let write = async move {
                if n == 1 {
                    store.write_change(&batch[0]).await.map(drop)
                } else {
                    store.write_changes(&batch).await.map(drop)
                }
            };
            let result = self.journaling(queue, open, write).await;
            match result {
                Ok(()) => {
                    // One transaction for them all: each change is counted its share.
                    let each = started.elapsed().as_secs_f64() / n as f64;
                    for _ in 0..n {
                        self.health.write_seconds.observe(each);
                        self.health.written.fetch_add(1, Ordering::Relaxed);
                        self.finish_one();
                    }
                }
                Err(e) if e.is_transient() => return Some(self.failed(&e)),
                // The database refuses one of them (the batch wrote nothing): one by
                // one, the others are written and the refused one is named.
                Err(_) => {
                    if let Some(at) = self.write_singly(n, queue, open).await {
                        return Some(at);
                    }
                }
            }
        }
        self.backoff = FIRST_BACKOFF;
        if self.backlog.is_empty() && self.health.degraded.swap(false, Ordering::Relaxed) {
            tracing::info!(
                written = self.health.written.load(Ordering::Relaxed),
                "attendance writes recovered: every kept change is written"
            );
        }
        None
    }

    /// Writes the first `n` changes of the backlog one transaction each; on a failure that
    /// may pass, returns when to retry.
    async fn write_singly(
        &mut self,
        n: usize,
        queue: &mut mpsc::UnboundedReceiver<Msg>,
        open: &mut bool,
    ) -> Option<Instant> {
        for _ in 0..n {
            let Some(change) = self.backlog.front().cloned() else {
                break;
            };
            let started = Instant::now();
            let store = self.store.clone();
            let one = change.clone();
            let write = async move { store.write_change(&one).await };
            match self.journaling(queue, open, write).await {
                Ok(_) => {
                    let took = started.elapsed().as_secs_f64();
                    self.health.write_seconds.observe(took);
                    self.health.written.fetch_add(1, Ordering::Relaxed);
                    self.finish_one();
                }
                Err(e) if e.is_transient() => return Some(self.failed(&e)),
                Err(e) => {
                    // The database refuses this change itself (a hall or meeting that no
                    // longer exists, an invalid value): no retry can write it.
                    tracing::error!(error = ?e, ?change, "attendance change refused by the database");
                    self.finish_one();
                }
            }
        }
        None
    }

    /// Runs one database write; what the rooms queue meanwhile goes to the journal at
    /// once instead of waiting for the write to end.
    async fn journaling<T>(
        &mut self,
        queue: &mut mpsc::UnboundedReceiver<Msg>,
        open: &mut bool,
        write: impl std::future::Future<Output = T>,
    ) -> T {
        tokio::pin!(write);
        loop {
            tokio::select! {
                r = &mut write => break r,
                m = queue.recv(), if *open => {
                    let mut fresh = Vec::new();
                    match m {
                        Some(m) => self.take(m, &mut fresh),
                        None => *open = false,
                    }
                    while *open && fresh.len() < BATCH {
                        match queue.try_recv() {
                            Ok(m) => self.take(m, &mut fresh),
                            Err(mpsc::error::TryRecvError::Empty) => break,
                            Err(mpsc::error::TryRecvError::Disconnected) => *open = false,
                        }
                    }
                    self.journal_append(fresh).await;
                }
            }
        }
    }

    /// Counts a failed write (logged when writes start failing); returns when to retry.
    fn failed(&mut self, e: &scheduler::Error) -> Instant {
        self.health.failed_attempts.fetch_add(1, Ordering::Relaxed);
        if !self.health.degraded.swap(true, Ordering::Relaxed) {
            tracing::warn!(error = ?e, pending = self.backlog.len(),
                "attendance writes failing: changes are kept in the journal and retried");
        }
        let at = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        at
    }

    fn finish_one(&mut self) {
        self.backlog.pop_front();
        if let Some(k) = self.recovery.as_mut() {
            *k = k.saturating_sub(1);
        }
        self.done += 1;
        self.health.pending.fetch_sub(1, Ordering::Relaxed);
    }

    /// Answers the flushes whose changes are all done (after the journal was emptied,
    /// when it could be).
    fn answer_flushes(&mut self) {
        if self.recovery.is_some() {
            return;
        }
        let done = self.done;
        let (ready, waiting) = std::mem::take(&mut self.flushes)
            .into_iter()
            .partition::<Vec<_>, _>(|(until, _)| *until <= done);
        self.flushes = waiting;
        for (_, answer) in ready {
            let _ = answer.send(());
        }
    }

    async fn journal_append(&mut self, fresh: Vec<RecordedChange>) {
        if fresh.is_empty() {
            return;
        }
        let Some(mut journal) = self.journal.take() else {
            self.backlog.extend(fresh);
            return;
        };
        {
            let (journal, fresh, result) = tokio::task::spawn_blocking(move || {
                let result = journal.append(&fresh);
                (journal, fresh, result)
            })
            .await
            .expect("the journal append does not panic"); // plain file IO; a panic is a bug
            let full = match result {
                Ok(fit) => !fit,
                Err(e) => {
                    tracing::error!(error = %e, path = %journal.path().display(), "attendance journal not written");
                    true
                }
            };
            if self.health.journal_full.swap(full, Ordering::Relaxed) != full && full {
                tracing::error!(path = %journal.path().display(), bytes = journal.bytes(),
                    "attendance journal full: newer changes are held in memory only");
            }
            self.health
                .journal_bytes
                .store(journal.bytes(), Ordering::Relaxed);
            self.journal = Some(journal);
            self.backlog.extend(fresh);
        }
    }

    async fn journal_clear(&mut self) {
        let Some(mut journal) = self.journal.take() else {
            return;
        };
        if journal.bytes() > 0 {
            journal = tokio::task::spawn_blocking(move || {
                if let Err(e) = journal.clear() {
                    tracing::error!(error = %e, path = %journal.path().display(), "attendance journal not emptied");
                }
                journal
            })
            .await
            .expect("the journal clear does not panic"); // plain file IO; a panic is a bug
        }
        self.health.journal_full.store(false, Ordering::Relaxed);
        self.health
            .journal_bytes
            .store(journal.bytes(), Ordering::Relaxed);
        self.journal = Some(journal);
    }
}
