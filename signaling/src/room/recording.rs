//! The meeting's recording in the room: a member that receives like a WHEP viewer (the
//! main picture, the audio halls hear; the policy re-points it on every floor and
//! spotlight change) whose peer is an SFU tap feeding a recorder
//! ([`crate::recording`]). Floor changes and roll calls become chapters. The
//! recording's events come back to the room: a keyframe wanted is asked of the main
//! picture's publisher; a failure ends the recording, never the meeting. Who may start
//! and stop it, where its file goes, what pages are told and the log in [`control`].

mod control;
mod ledger;

use super::feeds::Feed;
use super::{Command, Member, Room, SlotState};
use crate::feeds::FeedRole;
use crate::protocol::{Actor, HallInfo, ServerMessage};
use crate::recording::{self, RecordingTap};
use media_recorder::{Event, RecordingSpec};
use sfu::{MediaKind, PeerId, MAX_LAYER};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The recording member's hall id: never a participant's (those are positive).
pub(crate) const RECORDING_HALL_ID: i64 = -1;

/// What the meeting's recording is doing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RecordingStatus {
    /// Never started in this room.
    #[default]
    Idle,
    /// Recording into `path`.
    Recording { path: PathBuf },
    /// Stopped; the file is being finished.
    Finishing { path: PathBuf },
    /// The last recording's file is complete.
    Finished { path: PathBuf, duration: Duration },
    /// The last recording ended on an error (`code`: `recording_write_failed`, …).
    Failed {
        path: PathBuf,
        code: &'static str,
        message: String,
    },
}

/// Why the recording could not be started or stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordingRefusal {
    #[error("the meeting is already being recorded")]
    AlreadyRecording,
    #[error("the meeting is not being recorded")]
    NotRecording,
    #[error("the recording cannot start: {0}")]
    Failed(String),
}

/// The room's recording.
#[derive(Default)]
pub(crate) struct RoomRecording {
    /// The running one.
    active: Option<Active>,
    pub status: RecordingStatus,
}

/// A running recording.
struct Active {
    /// Its tap's peer.
    peer: PeerId,
    /// Its sink (for chapters; dropping the last share ends it).
    tap: Arc<RecordingTap>,
    /// When it started, UTC Unix seconds.
    since: i64,
    /// Who started it.
    by: Actor,
}

impl Room {
    /// Starts recording the meeting into `spec.path` (`by` checked who may); every page
    /// is told, the log says who.
    pub(super) async fn start_recording(
        &mut self,
        spec: RecordingSpec,
        by: Actor,
    ) -> Result<(), RecordingRefusal> {
        if self.recording.active.is_some() {
            return Err(RecordingRefusal::AlreadyRecording);
        }
        let path = spec.path.clone();
        let peer = self
            .shared
            .new_peer(self.me.clone(), super::media::speaker_group(self.id));
        let (tap, slots, mut events) = recording::start(&self.shared.sfu, peer, spec)
            .await
            .map_err(|e| RecordingRefusal::Failed(e.to_string()))?;
        tracing::info!(meeting = self.meeting.id, path = %path.display(), "recording started");
        let me = self.me.clone();
        let mut ledger = self.ledger(&path, by);
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                // The store hears of the end even once the room has closed.
                ledger.see(&event);
                if let Some(room) = me.upgrade() {
                    let _ = room.send(Command::Recording(event)).await;
                }
            }
        });
        let hall = HallInfo {
            id: RECORDING_HALL_ID,
            name: "Ghi hình".into(),
        };
        let mut member = Member::new(
            hall,
            "".into(),
            None,
            crate::load::Seat::take(&self.shared.load),
        );
        member.peer = Some(peer);
        member.ready = true;
        member.slots = slots
            .into_iter()
            .map(|info| SlotState {
                info,
                fill: None,
                asked: None,
                max_layer: MAX_LAYER,
            })
            .collect();
        member.feed = Some(Feed {
            feed_id: 0,
            role: FeedRole::Viewer,
            since: scheduler::time::now(),
            reply: None,
            recorder: true,
        });
        self.members.push(member);
        let since = scheduler::time::now();
        self.recording.active = Some(Active {
            peer,
            tap,
            since,
            by,
        });
        self.recording.status = RecordingStatus::Recording { path: path.clone() };
        self.recording_started(&path, by);
        let i = self.members.len() - 1;
        self.refill(i).await;
        if let Some(id) = self.chair.floor.map(|f| f.hall_id) {
            self.chapter_for(&ServerMessage::Floor {
                hall_id: Some(id),
                until: None,
            });
        }
        Ok(())
    }

    /// Stops the recording (`by` checked who may); its file is finished in the
    /// background ([`RecordingStatus::Finishing`], then `Finished`). Every page is told,
    /// the log says who.
    pub(super) async fn stop_recording(&mut self, by: Actor) -> Result<(), RecordingRefusal> {
        let path = self.end_recording().await?;
        self.recording_stopped(&path, by, None);
        Ok(())
    }

    /// Takes the recording's member out and closes its tap (the recorder then finishes
    /// the file); the file's path.
    async fn end_recording(&mut self) -> Result<PathBuf, RecordingRefusal> {
        let Some(Active { peer, tap, .. }) = self.recording.active.take() else {
            return Err(RecordingRefusal::NotRecording);
        };
        self.members.retain(|m| m.peer != Some(peer));
        // The SFU drops its share of the tap; ours goes now: the recorder then closes.
        drop(tap);
        if let Err(e) = self.shared.sfu.close_tap(peer).await {
            tracing::warn!(error = %e, "closing the recording's tap");
        }
        let path = match &self.recording.status {
            RecordingStatus::Recording { path } => path.clone(),
            _ => PathBuf::new(),
        };
        self.recording.status = RecordingStatus::Finishing { path: path.clone() };
        tracing::info!(meeting = self.meeting.id, "recording stopped");
        Ok(path)
    }

    /// What the recorder reported.
    pub(super) async fn recording_event(&mut self, event: Event) {
        match event {
            Event::KeyframeWanted => {
                let Some(active) = &self.recording.active else {
                    return;
                };
                let main = self
                    .members
                    .iter()
                    .find(|m| m.peer == Some(active.peer))
                    .and_then(|m| m.slots.iter().find(|s| s.info.kind == MediaKind::Video))
                    .and_then(|s| s.fill);
                if let Some(fill) = main {
                    let track = self.here(fill.hall_id, fill.track);
                    let _ = self.shared.sfu.request_keyframe(track, fill.layer).await;
                }
            }
            Event::Finished {
                path,
                duration,
                dropped,
                ..
            } => {
                tracing::info!(meeting = self.meeting.id, path = %path.display(), ?duration, dropped, "recording finished");
                if self.recording.active.is_none() {
                    self.recording.status = RecordingStatus::Finished { path, duration };
                }
            }
            Event::Failed { error } => {
                tracing::warn!(meeting = self.meeting.id, code = error.code(), %error, "recording failed");
                let path = match &self.recording.status {
                    RecordingStatus::Recording { path } | RecordingStatus::Finishing { path } => {
                        path.clone()
                    }
                    _ => PathBuf::new(),
                };
                let running = self.end_recording().await.is_ok();
                self.recording.status = RecordingStatus::Failed {
                    path: path.clone(),
                    code: error.code(),
                    message: error.to_string(),
                };
                if running {
                    self.recording_stopped(&path, Actor::Server, Some(error.code()));
                }
            }
            Event::Started { .. } => {}
            _ => {}
        }
    }

    /// A chapter for a message every page gets: the floor given, a roll call opened.
    pub(super) fn chapter_for(&self, message: &ServerMessage) {
        let Some(Active { tap, .. }) = &self.recording.active else {
            return;
        };
        let title = match message {
            ServerMessage::Floor {
                hall_id: Some(id), ..
            } => match self.member_by_hall(*id) {
                Some(m) => format!("Phát biểu: {}", m.hall.name),
                None => format!("Phát biểu: điểm cầu {id}"),
            },
            ServerMessage::RollCall { id } => format!("Điểm danh lần {id}"),
            _ => return,
        };
        tap.mark_chapter(title);
    }
}
