//! Meeting recordings (bản ghi hình) as records: one row per recording, written when it
//! starts and finished when it ends, listed to the staff who own the meeting (as its
//! attendance report), deleted only by an administrator (logged in the meeting's
//! history), and kept tidy by the node that wrote them: at start-up its rows left
//! `recording` by a crash become `interrupted`, and rows past the retention period lose
//! their file and become `expired`.
//!
//! A row names its file relative to the recordings directory (setting
//! `[recordings] dir`); [`file_path`] is the one way from a row to a path, and takes
//! only plain relative names, so no row can point outside the directory.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use sqlx::Row;

use crate::accounts::Principal;
use crate::history::{log_event, log_system_event};
use crate::time::{self, Timestamp};
use crate::{Error, Result, Store};

/// Where a recording is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingState {
    /// Being written now.
    Recording,
    /// Ended normally: the file is complete.
    Finished,
    /// Ended on an error (`error_code`); the file holds what was written before it.
    Failed,
    /// Its node stopped (a crash) while it was being written; the file may lack its end.
    Interrupted,
    /// Deleted by an administrator: the file is gone.
    Deleted,
    /// Older than the retention period: the file is gone.
    Expired,
}

impl RecordingState {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingState::Recording => "recording",
            RecordingState::Finished => "finished",
            RecordingState::Failed => "failed",
            RecordingState::Interrupted => "interrupted",
            RecordingState::Deleted => "deleted",
            RecordingState::Expired => "expired",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "recording" => RecordingState::Recording,
            "finished" => RecordingState::Finished,
            "failed" => RecordingState::Failed,
            "interrupted" => RecordingState::Interrupted,
            "deleted" => RecordingState::Deleted,
            "expired" => RecordingState::Expired,
            other => return Err(Error::Internal(format!("recording status {other:?}"))),
        })
    }

    /// Whether the file is still there to be played or downloaded.
    pub fn has_file(self) -> bool {
        !matches!(self, RecordingState::Deleted | RecordingState::Expired)
    }
}

/// One recording of a meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recording {
    pub id: i64,
    pub meeting_id: i64,
    /// The WebM's path relative to the recordings directory.
    pub file: String,
    /// The node that wrote it (the file is in that node's directory).
    pub node_id: String,
    /// Who started it, as the room names them (a hall, staff, or the kind's default).
    pub started_by: String,
    pub started_at: Timestamp,
    /// When it ended; none while it is being written.
    pub ended_at: Option<Timestamp>,
    /// How long the recording is; none while written, or when a crash cut it short.
    pub duration_ms: Option<i64>,
    /// The file's size when it ended.
    pub bytes: Option<i64>,
    pub status: RecordingState,
    /// Why it failed (`recording_write_failed` …).
    pub error_code: Option<String>,
    /// The administrator who deleted it (display name), and when.
    pub deleted_by: Option<String>,
    pub deleted_at: Option<Timestamp>,
}

/// The path of a row's file under `dir`, if `file` is a plain relative path (no root, no
/// `..`, no `.`): anything else is refused, so a row can never name a file elsewhere.
pub fn file_path(dir: &Path, file: &str) -> Option<PathBuf> {
    let rel = Path::new(file);
    let plain = !file.is_empty() && rel.components().all(|c| matches!(c, Component::Normal(_)));
    plain.then(|| dir.join(rel))
}

const SELECT: &str = "SELECT r.id, r.meeting_id, r.file, r.node_id, r.started_by, r.started_at,
    r.ended_at, r.duration_ms, r.bytes, r.status, r.error_code, a.display_name AS deleted_by_name,
    r.deleted_at FROM recordings r LEFT JOIN accounts a ON a.id = r.deleted_by";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Recording> {
    Ok(Recording {
        id: r.try_get("id")?,
        meeting_id: r.try_get("meeting_id")?,
        file: r.try_get("file")?,
        node_id: r.try_get("node_id")?,
        started_by: r.try_get("started_by")?,
        started_at: r.try_get("started_at")?,
        ended_at: r.try_get("ended_at")?,
        duration_ms: r.try_get("duration_ms")?,
        bytes: r.try_get("bytes")?,
        status: RecordingState::parse(&r.try_get::<String, _>("status")?)?,
        error_code: r.try_get("error_code")?,
        deleted_by: r.try_get("deleted_by_name")?,
        deleted_at: r.try_get("deleted_at")?,
    })
}

/// Removes a recording's file; one already gone is fine (a crash between the removal and
/// the row's update, or a file never written).
fn remove_file(dir: &Path, file: &str) -> Result<()> {
    let Some(path) = file_path(dir, file) else {
        return Ok(());
    };
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::Internal(format!(
            "cannot remove recording {}: {e}",
            path.display()
        ))),
    }
}

impl Store {
    /// Writes down a recording that starts now into `file` (relative to the recordings
    /// directory), started by `started_by`; answers its id, for [`Store::recording_ended`].
    pub async fn recording_started(
        &self,
        meeting_id: i64,
        file: &str,
        started_by: &str,
    ) -> Result<i64, Error> {
        if file_path(Path::new(""), file).is_none() {
            return Err(Error::invalid(
                "file",
                "a recording's file must be a plain path relative to the recordings directory",
            ));
        }
        let row = sqlx::query(
            "INSERT INTO recordings (meeting_id, file, node_id, started_by, started_at, status)
             VALUES ($1, $2, $3, $4, $5, 'recording') RETURNING id",
        )
        .bind(meeting_id)
        .bind(file)
        .bind(&*self.node)
        .bind(started_by)
        .bind(time::now())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Writes down that recording `id` ended now: `finished`, or `failed` with
    /// `error_code`. A recording that already ended is left as it is.
    pub async fn recording_ended(
        &self,
        id: i64,
        duration: Duration,
        bytes: u64,
        error_code: Option<&str>,
    ) -> Result<(), Error> {
        let status = match error_code {
            None => RecordingState::Finished,
            Some(_) => RecordingState::Failed,
        };
        let done = sqlx::query(
            "UPDATE recordings SET status = $1, ended_at = $2, duration_ms = $3, bytes = $4,
             error_code = $5 WHERE id = $6 AND status = 'recording'",
        )
        .bind(status.as_str())
        .bind(time::now())
        .bind(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX))
        .bind(i64::try_from(bytes).unwrap_or(i64::MAX))
        .bind(error_code)
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            self.recording_row(id).await?;
        }
        Ok(())
    }

    /// The recordings of meeting `meeting_id`, oldest first, for staff who may see its
    /// attendance report (a room account is refused; another unit's meeting is not found).
    pub async fn recordings(&self, who: &Principal, meeting_id: i64) -> Result<Vec<Recording>> {
        who.require_staff()?;
        self.meeting_for(who, meeting_id).await?;
        let rows = sqlx::query(&format!("{SELECT} WHERE r.meeting_id = $1 ORDER BY r.id"))
            .bind(meeting_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// One recording, for staff who may see its meeting (as [`Store::recordings`]).
    pub async fn recording(&self, who: &Principal, id: i64) -> Result<Recording> {
        who.require_staff()?;
        let r = self.recording_row(id).await?;
        self.meeting_for(who, r.meeting_id).await?;
        Ok(r)
    }

    async fn recording_row(&self, id: i64) -> Result<Recording> {
        let row = sqlx::query(&format!("{SELECT} WHERE r.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound("recording"))?;
        from_row(&row)
    }

    /// Deletes a recording (administrators only): its file under `dir` is removed, the
    /// row kept as `deleted` with who and when, and the meeting's history says so. One
    /// being written cannot be deleted (stop it first); a deleted or expired one is gone.
    pub async fn delete_recording(
        &self,
        who: &Principal,
        id: i64,
        dir: &Path,
    ) -> Result<Recording> {
        who.require_admin()?;
        let r = self.recording_row(id).await?;
        match r.status {
            RecordingState::Recording => return Err(Error::WrongState("recording_in_progress")),
            RecordingState::Deleted => return Err(Error::Gone("recording_deleted")),
            RecordingState::Expired => return Err(Error::Gone("recording_expired")),
            _ => {}
        }
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query(
            "UPDATE recordings SET status = 'deleted', deleted_by = $1, deleted_at = $2
             WHERE id = $3 AND status = $4",
        )
        .bind(who.account.id)
        .bind(time::now())
        .bind(id)
        .bind(r.status.as_str())
        .execute(&mut *tx)
        .await?;
        if changed.rows_affected() == 0 {
            // Deleted or expired in between.
            return Err(Error::Gone("recording_deleted"));
        }
        let detail = recording_detail(&r);
        log_event(
            &mut tx,
            r.meeting_id,
            who.account.id,
            "recording_deleted",
            &detail,
        )
        .await?;
        // The file goes before the commit: if it cannot be removed, nothing changes.
        remove_file(dir, &r.file)?;
        tx.commit().await?;
        tracing::info!(recording = id, meeting = r.meeting_id, admin = who.account.id, file = %r.file, "recording deleted");
        self.recording_row(id).await
    }

    /// At start-up: the rows this node left `recording` (it stopped without ending them)
    /// become `interrupted`, with their file's size and last write under `dir` (now, if
    /// the file is missing). Answers how many.
    pub async fn interrupt_recordings(&self, dir: &Path) -> Result<usize> {
        let rows = sqlx::query(&format!(
            "{SELECT} WHERE r.status = 'recording' AND r.node_id = $1 ORDER BY r.id"
        ))
        .bind(&*self.node)
        .fetch_all(&self.pool)
        .await?;
        let mut n = 0;
        for row in &rows {
            let r = from_row(row)?;
            let meta = file_path(dir, &r.file).and_then(|p| std::fs::metadata(p).ok());
            let bytes = meta.as_ref().map_or(0, |m| m.len());
            let last_write = meta
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .and_then(|d| i64::try_from(d.as_secs()).ok())
                .map_or_else(time::now, |t| t.max(r.started_at));
            let mut tx = self.begin_write().await?;
            sqlx::query(
                "UPDATE recordings SET status = 'interrupted', ended_at = $1, bytes = $2
                 WHERE id = $3 AND status = 'recording'",
            )
            .bind(last_write)
            .bind(i64::try_from(bytes).unwrap_or(i64::MAX))
            .bind(r.id)
            .execute(&mut *tx)
            .await?;
            let detail = recording_detail(&r);
            log_system_event(&mut tx, r.meeting_id, "recording_interrupted", &detail).await?;
            tx.commit().await?;
            tracing::warn!(recording = r.id, meeting = r.meeting_id, file = %r.file, bytes, "recording interrupted by a stop of this node");
            n += 1;
        }
        Ok(n)
    }

    /// The retention sweep: this node's recordings that started more than
    /// `retention_days` before `now` and still have a file lose it (under `dir`) and
    /// become `expired`, each logged in its meeting's history. 0 days keeps them forever.
    /// Answers how many expired.
    pub async fn expire_recordings(
        &self,
        dir: &Path,
        retention_days: u32,
        now: Timestamp,
    ) -> Result<usize> {
        if retention_days == 0 {
            return Ok(0);
        }
        let before = now - i64::from(retention_days) * 86_400;
        let rows = sqlx::query(&format!(
            "{SELECT} WHERE r.status IN ('finished', 'failed', 'interrupted') AND r.node_id = $1
             AND r.started_at < $2 ORDER BY r.id"
        ))
        .bind(&*self.node)
        .bind(before)
        .fetch_all(&self.pool)
        .await?;
        let mut n = 0;
        for row in &rows {
            let r = from_row(row)?;
            let mut tx = self.begin_write().await?;
            let changed = sqlx::query(
                "UPDATE recordings SET status = 'expired' WHERE id = $1 AND status = $2",
            )
            .bind(r.id)
            .bind(r.status.as_str())
            .execute(&mut *tx)
            .await?;
            if changed.rows_affected() == 0 {
                continue;
            }
            let detail = recording_detail(&r);
            log_system_event(&mut tx, r.meeting_id, "recording_expired", &detail).await?;
            remove_file(dir, &r.file)?;
            tx.commit().await?;
            tracing::info!(recording = r.id, meeting = r.meeting_id, file = %r.file, retention_days, "recording expired; its file is removed");
            n += 1;
        }
        Ok(n)
    }
}

/// What the meeting's history says about a recording: its file and when it started.
fn recording_detail(r: &Recording) -> String {
    format!("{} ({})", r.file, time::display_local(r.started_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_files_have_a_path() {
        let dir = Path::new("/srv/rec");
        assert_eq!(
            file_path(dir, "7/7-1.webm"),
            Some(PathBuf::from("/srv/rec/7/7-1.webm"))
        );
        for bad in ["", "/etc/passwd", "../x.webm", "7/../../x", "./7.webm"] {
            assert_eq!(file_path(dir, bad), None, "{bad}");
        }
    }
}
