//! Who starts and stops the meeting's recording and what everyone is told: the host
//! hall or its secretariat (`start_recording` / `stop_recording`, checked in
//! `room::chair` like every host control), or the server for a meeting kind recorded by
//! default once the meeting starts. The file goes under the server's recordings
//! directory (`<dir>/<meeting id>/<meeting id>-<UTC yyyymmddThhmmssZ>.webm`); every
//! start, stop and failure is told to every page (`recording`, also after `welcome`)
//! and written in the meeting's log with who did it.

use super::ledger::{Ledger, StartedBy};
use super::{RecordingRefusal, RECORDING_HALL_ID};
use crate::protocol::{Actor, ErrorCode, ProtocolError, RecordingInfo, ServerMessage};
use crate::recorder::{PresenceKind, RecordingEvent};
use crate::room::chair::Outcome;
use crate::room::Room;
use media_recorder::RecordingSpec;
use std::path::{Path, PathBuf};

/// The audio slots a recording mixes: as many as a hall's page hears.
const AUDIO_SLOTS: u8 = 4;

impl RecordingRefusal {
    /// The protocol's code for it.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::AlreadyRecording => ErrorCode::AlreadyRecording,
            Self::NotRecording => ErrorCode::NotRecording,
            Self::Failed(_) => ErrorCode::RecordingFailed,
        }
    }
}

impl From<RecordingRefusal> for ProtocolError {
    fn from(refusal: RecordingRefusal) -> Self {
        ProtocolError::new(refusal.code(), refusal.to_string())
    }
}

/// Where a recording of `meeting_id` started at `now` goes under `dir`: a new file in
/// the meeting's own directory (a second recording in the same second gets `-2`, …).
pub(crate) fn recording_path(dir: &Path, meeting_id: i64, now: i64) -> PathBuf {
    let stamp = scheduler::time::to_utc(now).format("%Y%m%dT%H%M%SZ");
    let folder = dir.join(meeting_id.to_string());
    let mut path = folder.join(format!("{meeting_id}-{stamp}.webm"));
    let mut n = 2;
    while path.exists() {
        path = folder.join(format!("{meeting_id}-{stamp}-{n}.webm"));
        n += 1;
    }
    path
}

impl Room {
    /// `start_recording`: a new file under the recordings directory (made if missing).
    pub(in crate::room) async fn record(&mut self, by: Actor) -> Outcome {
        if self.recording.active.is_some() {
            return Err(RecordingRefusal::AlreadyRecording.into());
        }
        let Some(dir) = self.shared.config.recordings_dir.clone() else {
            return Err(ProtocolError::new(
                ErrorCode::RecordingUnavailable,
                "this server has no recordings directory",
            ));
        };
        let path = recording_path(&dir, self.meeting.id, scheduler::time::now());
        if let Some(folder) = path.parent() {
            if let Err(e) = tokio::fs::create_dir_all(folder).await {
                tracing::warn!(meeting = self.meeting.id, error = %e, folder = %folder.display(), "the recording's directory cannot be made");
                return Err(RecordingRefusal::Failed(format!(
                    "the recording's directory cannot be made: {e}"
                ))
                .into());
            }
        }
        let spec = RecordingSpec::new(path, AUDIO_SLOTS);
        Ok(self.start_recording(spec, by).await?)
    }

    /// `stop_recording`.
    pub(in crate::room) async fn stop_record(&mut self, by: Actor) -> Outcome {
        Ok(self.stop_recording(by).await?)
    }

    /// The meeting went live: a kind recorded by default starts recording, by the
    /// server (a server without a recordings directory says so in its log).
    pub(in crate::room) async fn record_by_default(&mut self) {
        let config = &self.shared.config;
        if !config.record_kinds.contains(&self.meeting.kind) || self.recording.active.is_some() {
            return;
        }
        if let Err(e) = self.record(Actor::Server).await {
            tracing::warn!(meeting = self.meeting.id, kind = %self.meeting.kind, code = e.code.as_str(), error = %e.message, "the meeting's kind is recorded by default, but its recording did not start");
            if e.code == ErrorCode::RecordingFailed {
                let detail = Some(e.message.clone());
                self.tell_recording(RecordingInfo {
                    on: false,
                    by: Some(Actor::Server),
                    code: Some(e.code),
                    detail,
                    ..RecordingInfo::default()
                });
                let change = PresenceKind::Recording {
                    event: RecordingEvent::Failed,
                    by: Actor::Server,
                    detail: e.message,
                };
                self.shared.record(self.meeting.id, change);
            }
        }
    }

    /// What pages are told of the recording now.
    pub(in crate::room) fn recording_info(&self) -> RecordingInfo {
        match &self.recording.active {
            Some(active) => RecordingInfo {
                on: true,
                since: Some(active.since),
                by: Some(active.by),
                ..RecordingInfo::default()
            },
            None => RecordingInfo::default(),
        }
    }

    /// A recording started: every page is told, the log says who and which file.
    pub(super) fn recording_started(&self, path: &Path, by: Actor) {
        self.tell_recording(self.recording_info());
        let change = PresenceKind::Recording {
            event: RecordingEvent::Started,
            by,
            detail: self.file_name(path),
        };
        self.shared.record(self.meeting.id, change);
    }

    /// A recording ended: stopped by `by`, or (`failure`: the recorder's code) on an
    /// error. Every page is told, the log says who and why.
    pub(super) fn recording_stopped(&self, path: &Path, by: Actor, failure: Option<&str>) {
        let file = self.file_name(path);
        self.tell_recording(RecordingInfo {
            on: false,
            by: Some(by),
            code: failure.map(|_| ErrorCode::RecordingFailed),
            detail: failure.map(str::to_owned),
            ..RecordingInfo::default()
        });
        let (event, detail) = match failure {
            Some(code) => (RecordingEvent::Failed, format!("{file} ({code})")),
            None => (RecordingEvent::Stopped, file),
        };
        let change = PresenceKind::Recording { event, by, detail };
        self.shared.record(self.meeting.id, change);
    }

    fn tell_recording(&self, info: RecordingInfo) {
        self.broadcast(ServerMessage::Recording(info));
    }

    /// The store's row of a recording into `path`, started by `by`: only for a file in
    /// the recordings directory, on a server with a store.
    pub(super) fn ledger(&self, path: &Path, by: Actor) -> Ledger {
        let dir = self.shared.config.recordings_dir.as_deref();
        let Some(file) = dir.and_then(|d| path.strip_prefix(d).ok()) else {
            return Ledger::default();
        };
        let by = match by {
            Actor::Hall { hall_id } => StartedBy::Named(match self.member_by_hall(hall_id) {
                Some(m) => m.hall.name.clone(),
                None => format!("Điểm cầu {hall_id}"),
            }),
            Actor::Staff { account_id } => StartedBy::Account(account_id),
            Actor::Server => StartedBy::Named("Tự động (theo loại cuộc họp)".into()),
        };
        let store = self.shared.roster.get().cloned();
        let file = file.display().to_string();
        Ledger::open(store, self.meeting.id, file, path.to_path_buf(), by)
    }

    /// The file as the log names it: relative to the recordings directory.
    fn file_name(&self, path: &Path) -> String {
        let dir = self.shared.config.recordings_dir.as_deref();
        let relative = dir.and_then(|d| path.strip_prefix(d).ok()).unwrap_or(path);
        relative.display().to_string()
    }

    /// Whether no one but the recording is left: the room may linger out (and the
    /// recording be finished when it closes).
    pub(in crate::room) fn only_recording_left(&self) -> bool {
        self.members.iter().all(|m| m.hall.id == RECORDING_HALL_ID)
    }
}

#[cfg(test)]
mod tests {
    use super::recording_path;

    #[test]
    fn a_recording_goes_into_its_meetings_folder_named_by_its_utc_start() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        // 2026-12-07 14:05:09 UTC.
        let at = 1_796_652_309;
        let first = recording_path(dir.path(), 42, at);
        assert_eq!(first, dir.path().join("42/42-20261207T140509Z.webm"));
        std::fs::create_dir_all(first.parent().expect("a folder")).expect("made");
        std::fs::write(&first, b"").expect("written");
        assert_eq!(
            recording_path(dir.path(), 42, at),
            dir.path().join("42/42-20261207T140509Z-2.webm"),
            "a second recording in the same second does not overwrite the first"
        );
    }
}
