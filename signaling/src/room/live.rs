//! The room's live state kept across a move of its home (docs/cluster.md, "The room's
//! live state"): after every change of the chair the room hands its floor, spotlight,
//! hands, mutes, lock, removals, the halls seen, the roll call's number and a running
//! recording to the node's writer ([`crate::live_states`], coalesced, fenced by the
//! lease epoch the room was opened under); a room that opens on a new home (a drain's
//! adopt, a fail-over's take, a restart) takes them up before it serves anyone, with the
//! latest roll call and its answers and the headcounts from their own rows.
//!
//! Halls named in the floor, spotlight or hands that are not back yet keep their place
//! for the reconnect grace period from the room's opening, as a hall whose link dropped
//! does; those still away then lose it, as a hall whose grace period ends does. Mutes,
//! removals and the lock stay until the host changes them; halls that were in the
//! meeting may come back through the lock within that grace period.

use super::chair::Floor;
use super::Room;
use crate::protocol::{Actor, FloorInfo, Phase, ServerMessage};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::time::Instant;

/// What a room writes and the next room takes up (JSON in `meeting_live_states`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct LiveState {
    pub floor: Option<FloorInfo>,
    pub spotlight: Option<i64>,
    pub locked: bool,
    pub hands: Vec<i64>,
    pub muted: Vec<i64>,
    pub may_unmute: Vec<i64>,
    pub removed: Vec<i64>,
    /// Halls that joined at least once (a first join may start muted; a return does not).
    pub seen: Vec<i64>,
    /// The pages' number of the roll call in progress, or of the last one once ended
    /// (the roll call itself and its answers are rows of their own).
    pub roll_call: Option<u64>,
    pub ended_roll_call: Option<u64>,
    /// Who started the recording running now, if one runs.
    pub recording: Option<Actor>,
    /// The halls in the room (a locked meeting lets them back after the move).
    pub present: Vec<i64>,
}

/// Under which lease the room writes its live state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Tenure {
    /// Not settled yet, or a cluster node holding no lease of the meeting: nothing written.
    #[default]
    None,
    /// A node without a cluster: home to every meeting, nothing to fence.
    Alone,
    /// Opened under this lease epoch.
    Epoch(i64),
}

/// The room's bookkeeping of its live state.
#[derive(Debug, Default)]
pub(crate) struct LiveKeeping {
    pub tenure: Tenure,
    /// The state last handed to the writer.
    saved: Option<LiveState>,
    /// The room is closing (stop, hand-over, fence): what it was stays written.
    pub frozen: bool,
    /// Until when halls named in a restored floor, spotlight or hands, and the halls
    /// that were in the previous room, may come back to their place.
    pub absent_until: Option<Instant>,
    /// The halls that were in the previous room: a lock does not keep them out.
    pub returning: std::collections::HashSet<i64>,
}

impl Room {
    /// The live state now.
    fn live_state(&self) -> LiveState {
        let chair = &self.chair;
        let info = self.recording_info();
        let mut seen: Vec<i64> = self.seen.iter().copied().collect();
        seen.sort_unstable();
        let present = self
            .members
            .iter()
            .filter(|m| m.feed.is_none())
            .map(|m| m.hall.id)
            .collect();
        LiveState {
            floor: chair.floor.map(|f| FloorInfo {
                hall_id: f.hall_id,
                until: f.until,
            }),
            spotlight: chair.spotlight,
            locked: chair.locked,
            hands: chair.hands.clone(),
            muted: chair.muted.iter().copied().collect(),
            may_unmute: chair.may_unmute.iter().copied().collect(),
            removed: chair.removed.iter().copied().collect(),
            seen,
            roll_call: chair.roll_call,
            ended_roll_call: chair.ended_roll_call,
            recording: if info.on { info.by } else { None },
            present,
        }
    }

    /// Settles under which lease this room writes (the opener set the epoch before it
    /// spawned the room).
    pub(super) async fn settle_tenure(&mut self) {
        self.live.tenure = match self.shared.home() {
            None => Tenure::Alone,
            Some(home) => match home.epoch_of(self.meeting.id).await {
                Some(epoch) => Tenure::Epoch(epoch),
                None => Tenure::None,
            },
        };
    }

    /// Hands the live state to the writer if it changed since last time.
    pub(super) fn keep_live_state(&mut self) {
        let epoch = match self.live.tenure {
            _ if self.live.frozen => return,
            Tenure::None => return,
            Tenure::Alone => None,
            Tenure::Epoch(epoch) => Some(epoch),
        };
        let Some(writer) = self.shared.live_states() else {
            return;
        };
        let state = self.live_state();
        if self.live.saved.as_ref() == Some(&state) {
            return;
        }
        match serde_json::to_string(&state) {
            Ok(json) => writer.save(self.meeting.id, epoch, json),
            Err(e) => tracing::error!(error = %e, "the live state cannot be written as JSON"),
        }
        self.live.saved = Some(state);
    }

    /// Takes the meeting up where its previous room left it, after its recorded phase:
    /// the live state, and the recording — the one that ran then (a new file, logged as
    /// started by whoever started that one), else, with no state left, the recording of
    /// a kind recorded by default once started.
    pub(super) async fn take_up(&mut self) {
        if self.chair.phase == Phase::Ended {
            return;
        }
        match self.restore_live_state().await {
            Some(Some(Actor::Server)) => self.record_by_default().await,
            Some(Some(by)) => {
                if let Err(e) = self.record(by).await {
                    tracing::warn!(meeting = self.meeting.id, code = e.code.as_str(), error = %e.message, "the recording that ran before the move did not start again");
                }
            }
            Some(None) => {}
            None if self.chair.phase == Phase::Started => self.record_by_default().await,
            None => {}
        }
        // What it took up is what it writes from now on, under its own lease.
        self.live.saved = None;
        self.keep_live_state();
    }

    /// Takes up the live state the meeting's previous room left (see the module's
    /// notes). Returns the recording that ran then (`Some(None)`: none ran), or `None`
    /// when no room left a state (the meeting's first room).
    pub(super) async fn restore_live_state(&mut self) -> Option<Option<Actor>> {
        let store = self.shared.roster.get()?.clone();
        let meeting = self.meeting.id;
        // The database may be away for a moment (a fail-over often comes with trouble).
        let mut read = store.live_state(meeting).await;
        if read.is_err() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            read = store.live_state(meeting).await;
        }
        // A state that cannot be read is not overwritten by this room's: the next room
        // may read it.
        let saved = match read {
            Ok(saved) => saved?,
            Err(e) => {
                tracing::error!(meeting, error = ?e, "live state not read; this room writes none");
                self.live.frozen = true;
                return None;
            }
        };
        let state: LiveState = match serde_json::from_str(&saved.state) {
            Ok(state) => state,
            Err(e) => {
                tracing::error!(meeting, error = %e, "live state not understood; this room writes none");
                self.live.frozen = true;
                return None;
            }
        };
        let chair = &mut self.chair;
        let now = scheduler::time::now();
        chair.floor = state.floor.map(|f| Floor {
            hall_id: f.hall_id,
            deadline: f.until.map(|until| {
                let left = u64::try_from(until - now).unwrap_or(0);
                Instant::now() + Duration::from_secs(left)
            }),
            until: f.until,
        });
        chair.spotlight = state.spotlight;
        chair.locked = state.locked;
        chair.hands = state.hands.clone();
        chair.muted = state.muted.iter().copied().collect();
        chair.may_unmute = state.may_unmute.iter().copied().collect();
        chair.removed = state.removed.iter().copied().collect();
        self.seen = state.seen.iter().copied().collect();
        self.restore_roll_call(&store, &state).await;
        match store.latest_headcounts(meeting).await {
            Ok(counts) => {
                self.chair.headcounts = counts
                    .into_iter()
                    .filter_map(|(hall, people)| Some((hall, u32::try_from(people).ok()?)))
                    .collect();
            }
            Err(e) => tracing::warn!(meeting, error = ?e, "headcounts not read"),
        }
        self.live.returning = state.present.iter().copied().collect();
        let chair = &self.chair;
        if chair.floor.is_some()
            || chair.spotlight.is_some()
            || !chair.hands.is_empty()
            || !self.live.returning.is_empty()
        {
            self.live.absent_until = Some(Instant::now() + self.shared.config.grace);
        }
        tracing::info!(
            meeting,
            from = %saved.node_id,
            epoch = saved.epoch,
            floor = ?self.chair.floor.map(|f| f.hall_id),
            hands = self.chair.hands.len(),
            muted = self.chair.muted.len(),
            roll_call = ?self.chair.roll_call,
            "live state taken up"
        );
        Some(state.recording)
    }

    /// The latest roll call from its rows: open (answers go on into it) or ended (marks
    /// still taken), under the number the pages knew it by, and its answers so far.
    async fn restore_roll_call(&mut self, store: &scheduler::Store, state: &LiveState) {
        let meeting = self.meeting.id;
        let latest = match store.latest_roll_call(meeting).await {
            Ok(Some(latest)) => latest,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(meeting, error = ?e, "the latest roll call not read");
                return;
            }
        };
        // Answers name the roll call by the change that started it.
        let Some(key) = latest.change_id else {
            return;
        };
        let number = state
            .roll_call
            .or(state.ended_roll_call)
            .unwrap_or_else(|| self.shared.new_roll_call());
        self.shared.resume_roll_call(meeting, number, key);
        if latest.ended {
            self.chair.ended_roll_call = Some(number);
        } else {
            self.chair.roll_call = Some(number);
        }
        self.chair.answers = latest.answers.into_iter().collect();
    }

    /// Halls of a restored floor, spotlight or hands not back within the grace period
    /// lose them, as a hall whose grace period ends does.
    pub(super) async fn expire_absent(&mut self, now: Instant) {
        if self.live.absent_until.is_none_or(|t| t > now) {
            return;
        }
        self.live.absent_until = None;
        self.live.returning.clear();
        let chair = &self.chair;
        let mut named: Vec<i64> = chair.hands.clone();
        named.extend(chair.floor.map(|f| f.hall_id));
        named.extend(chair.spotlight);
        named.retain(|&h| self.member_by_hall(h).is_none());
        let had_floor = self.chair.floor.is_some();
        let mut changed = false;
        for hall_id in named {
            changed |= self.chair.forget(hall_id);
        }
        if !changed {
            return;
        }
        tracing::info!(
            meeting = self.meeting.id,
            "halls not back after the move lose the floor, spotlight or hand"
        );
        if had_floor && self.chair.floor.is_none() {
            self.broadcast(ServerMessage::Floor {
                hall_id: None,
                until: None,
            });
        }
        self.broadcast_meeting_state();
        self.refill_all().await;
    }
}
