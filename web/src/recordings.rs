//! The recordings directory at start-up and its retention sweep: the directory is made
//! (an error names the setting), this node's recordings a crash left open become
//! `interrupted`, and — when `recordings.retention_days` is set — a task expires old
//! recordings at start-up and then hourly (their files removed, each logged).

use std::path::{Path, PathBuf};
use std::time::Duration;

use scheduler::Store;
use tokio::task::JoinHandle;

/// Makes the recordings directory and closes what the previous run left `recording`.
pub async fn prepare(store: &Store, dir: &Path) -> anyhow::Result<()> {
    tokio::fs::create_dir_all(dir).await.map_err(|e| {
        anyhow::anyhow!(
            "recordings directory {} (setting recordings.dir): {e}",
            dir.display()
        )
    })?;
    let n = store
        .interrupt_recordings(dir)
        .await
        .map_err(|e| anyhow::anyhow!("closing recordings left open: {e:?}"))?;
    if n > 0 {
        tracing::warn!(
            recordings = n,
            "recordings left open by the previous run are marked interrupted"
        );
    }
    Ok(())
}

/// Starts the retention sweep (none when `retention_days` is 0): once now, then every
/// `every`. A failed sweep is logged and tried again at the next one.
pub fn spawn_sweeper(
    store: Store,
    dir: PathBuf,
    retention_days: u32,
    every: Duration,
) -> Option<JoinHandle<()>> {
    if retention_days == 0 {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = scheduler::time::now();
            match store.expire_recordings(&dir, retention_days, now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    recordings = n,
                    retention_days,
                    "recordings past their retention expired"
                ),
                Err(e) => tracing::warn!(error = ?e, "the recordings' retention sweep failed"),
            }
        }
    }))
}
