//! Host controls: phase, floor (with an optional speaking limit), mutes, spotlight,
//! removal, lock and raised hands. Every change is announced to all pages (`control`,
//! then `meeting_state`) and logged through the recorder with who did it.
//!
//! Only the host hall's page or staff over HTTP may use host controls; any hall may raise
//! or lower its own hand, mute itself, and unmute itself when allowed (or holding the
//! floor). Muting is enforced in media too: the policy forwards a muted hall's audio to
//! no one, whatever its page does.

use super::{By, Room};
use crate::link::{Frame, StateKey};
use crate::protocol::{
    Action, Actor, ClientMessage, ErrorCode, FloorInfo, MeetingState, Phase, ProtocolError,
    ServerMessage,
};
use crate::recorder::PresenceKind;
use std::collections::BTreeSet;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// The chair's state of one meeting.
#[derive(Debug, Default)]
pub(crate) struct Chair {
    pub phase: Phase,
    pub floor: Option<Floor>,
    pub spotlight: Option<i64>,
    pub locked: bool,
    /// Raised hands, first raised first.
    pub hands: Vec<i64>,
    pub muted: BTreeSet<i64>,
    pub may_unmute: BTreeSet<i64>,
    pub removed: BTreeSet<i64>,
    /// The roll call in progress, its answers and the latest headcounts.
    pub roll_call: Option<u64>,
    /// The last roll call, once ended: answers to it are refused, marks still taken.
    pub ended_roll_call: Option<u64>,
    pub answers: std::collections::HashMap<i64, crate::protocol::RollCallStatus>,
    pub headcounts: std::collections::HashMap<i64, u32>,
}

/// Who speaks, and when the server takes the floor back.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Floor {
    pub hall_id: i64,
    pub deadline: Option<Instant>,
    /// The same moment as UTC Unix seconds, for pages.
    pub until: Option<i64>,
}

impl Chair {
    /// The state pages see.
    pub fn state(&self) -> MeetingState {
        MeetingState {
            phase: self.phase,
            floor: self.floor.map(|f| FloorInfo {
                hall_id: f.hall_id,
                until: f.until,
            }),
            spotlight: self.spotlight,
            locked: self.locked,
            hands: self.hands.clone(),
            muted: self.muted.iter().copied().collect(),
            may_unmute: self.may_unmute.iter().copied().collect(),
            removed: self.removed.iter().copied().collect(),
            roll_call: self.roll_call,
        }
    }

    /// A hall left: it no longer holds the floor, the spotlight or a raised hand.
    /// Returns whether anything changed.
    pub fn forget(&mut self, hall_id: i64) -> bool {
        let mut changed = false;
        if self.floor.is_some_and(|f| f.hall_id == hall_id) {
            self.floor = None;
            changed = true;
        }
        if self.spotlight == Some(hall_id) {
            self.spotlight = None;
            changed = true;
        }
        let hands = self.hands.len();
        self.hands.retain(|&h| h != hall_id);
        changed || hands != self.hands.len()
    }
}

/// Whether `action` is a hall's report that other pages see as state (the latest of each
/// action is enough for them; the sum is in `meeting_state` and on the board): a
/// headcount, a roll-call answer or mark, a hand raised or lowered.
fn is_hall_report(action: Action) -> bool {
    matches!(
        action,
        Action::Headcount
            | Action::RollCallAnswer
            | Action::RollCallMark
            | Action::RaiseHand
            | Action::LowerHand
    )
}

/// What an action came to: done, or refused with a code.
pub(super) type Outcome = Result<(), ProtocolError>;

pub(super) fn forbidden(message: &str) -> ProtocolError {
    ProtocolError::new(ErrorCode::Forbidden, message)
}

fn host_only(host: bool) -> Outcome {
    if host {
        Ok(())
    } else {
        Err(forbidden(
            "only the host hall or its secretariat may do this",
        ))
    }
}

impl Room {
    /// Runs one host control or hall action; a page is told of a refusal, staff get it back.
    pub(super) async fn act(
        &mut self,
        by: By,
        request: ClientMessage,
        reply: Option<oneshot::Sender<Outcome>>,
    ) {
        let (actor, host, session) = match &by {
            By::Session(session) => {
                let Some(m) = self.member_of(session) else {
                    return; // replaced or gone meanwhile
                };
                let hall_id = m.hall.id;
                let host = hall_id == self.meeting.host_hall_id;
                (Actor::Hall { hall_id }, host, Some(session.clone()))
            }
            By::Staff { account_id } => (
                Actor::Staff {
                    account_id: *account_id,
                },
                true,
                None,
            ),
        };
        let outcome = self.apply(actor, host, session.as_deref(), request).await;
        match (reply, outcome, session) {
            (Some(reply), outcome, _) => {
                let _ = reply.send(outcome);
            }
            (None, Err(e), Some(session)) => {
                if let Some(m) = self.member_of(&session) {
                    m.tell(e.to_message());
                }
            }
            _ => {}
        }
    }

    async fn apply(
        &mut self,
        by: Actor,
        host: bool,
        session: Option<&str>,
        request: ClientMessage,
    ) -> Outcome {
        let own = match by {
            Actor::Hall { hall_id } => Some(hall_id),
            _ => None,
        };
        let hall_only = || own.ok_or_else(|| forbidden("only a hall's page can do this"));
        match request {
            ClientMessage::SetPhase { phase } => {
                host_only(host)?;
                self.set_phase(phase, by).await
            }
            ClientMessage::GiveFloor {
                hall_id,
                speaking_limit_secs,
            } => {
                host_only(host)?;
                self.give_floor(hall_id, speaking_limit_secs, by).await
            }
            ClientMessage::TakeFloor => {
                host_only(host)?;
                self.take_floor(by, Action::TakeFloor).await;
                Ok(())
            }
            ClientMessage::Mute { hall_id, muted } => {
                if !host {
                    if own != Some(hall_id) {
                        return Err(forbidden("only the host may mute another hall"));
                    }
                    let floor = self.chair.floor.is_some_and(|f| f.hall_id == hall_id);
                    if !muted && !floor && !self.chair.may_unmute.contains(&hall_id) {
                        return Err(forbidden(
                            "the host has not allowed this hall to unmute itself",
                        ));
                    }
                }
                if self.set_muted(hall_id, muted, by) {
                    let action = if muted { Action::Mute } else { Action::Unmute };
                    self.announce(action, Some(hall_id), by, true);
                    self.refill_all().await;
                }
                Ok(())
            }
            ClientMessage::AllowUnmute { hall_id, allowed } => {
                host_only(host)?;
                let changed = if allowed {
                    self.chair.may_unmute.insert(hall_id)
                } else {
                    self.chair.may_unmute.remove(&hall_id)
                };
                if changed {
                    let action = if allowed {
                        Action::AllowUnmute
                    } else {
                        Action::DisallowUnmute
                    };
                    self.announce(action, Some(hall_id), by, true);
                }
                Ok(())
            }
            ClientMessage::MuteAll => {
                host_only(host)?;
                let floor = self.chair.floor.map(|f| f.hall_id);
                let halls: Vec<i64> = self
                    .members
                    .iter()
                    .map(|m| m.hall.id)
                    .filter(|&h| h != self.meeting.host_hall_id && Some(h) != floor)
                    .collect();
                for hall_id in halls {
                    self.set_muted(hall_id, true, by);
                }
                self.announce(Action::MuteAll, None, by, true);
                self.refill_all().await;
                Ok(())
            }
            ClientMessage::Spotlight { hall_id } => {
                host_only(host)?;
                if let Some(h) = hall_id {
                    self.present(h)?;
                }
                if self.chair.spotlight != hall_id {
                    self.chair.spotlight = hall_id;
                    self.announce(Action::Spotlight, hall_id, by, true);
                    self.refill_all().await;
                }
                Ok(())
            }
            ClientMessage::Remove { hall_id } => {
                host_only(host)?;
                self.remove_hall(hall_id, by).await
            }
            ClientMessage::Readmit { hall_id } => {
                host_only(host)?;
                if self.chair.removed.remove(&hall_id) {
                    self.announce(Action::Readmit, Some(hall_id), by, true);
                }
                Ok(())
            }
            ClientMessage::Lock { locked } => {
                host_only(host)?;
                if self.chair.locked != locked {
                    self.chair.locked = locked;
                    let action = if locked { Action::Lock } else { Action::Unlock };
                    self.announce(action, None, by, true);
                }
                Ok(())
            }
            ClientMessage::RaiseHand => {
                let hall_id = hall_only()?;
                if hall_id == self.meeting.host_hall_id {
                    return Err(forbidden("the host gives the floor; it raises no hand"));
                }
                if !self.chair.hands.contains(&hall_id) {
                    self.chair.hands.push(hall_id);
                    self.announce(Action::RaiseHand, Some(hall_id), by, true);
                }
                Ok(())
            }
            ClientMessage::LowerHand { hall_id } => {
                let target = match (hall_id, own) {
                    (Some(h), _) => h,
                    (None, Some(h)) => h,
                    (None, None) => return Err(forbidden("name the hall whose hand to lower")),
                };
                if own != Some(target) {
                    host_only(host)?;
                }
                if self.chair.hands.contains(&target) {
                    self.chair.hands.retain(|&h| h != target);
                    self.announce(Action::LowerHand, Some(target), by, true);
                }
                Ok(())
            }
            ClientMessage::GridPage { page } => {
                let hall_id = hall_only()?;
                host_only(hall_id == self.meeting.host_hall_id)?;
                if let Some(i) = self.members.iter().position(|m| m.hall.id == hall_id) {
                    self.members[i].grid_page = usize::try_from(page).unwrap_or(usize::MAX);
                    self.refill(i).await;
                }
                Ok(())
            }
            ClientMessage::StartRollCall => {
                host_only(host)?;
                self.start_roll_call(by);
                Ok(())
            }
            ClientMessage::EndRollCall => {
                host_only(host)?;
                self.end_roll_call(by)
            }
            ClientMessage::RollCallAnswer { status } => self.answer_roll_call(hall_only()?, status),
            ClientMessage::MarkRollCall {
                hall_id,
                status,
                reason,
            } => {
                host_only(host)?;
                self.mark_roll_call(hall_id, status, reason, by)
            }
            ClientMessage::Headcount { people } => self.headcount(hall_only()?, people),
            ClientMessage::StartRecording => {
                host_only(host)?;
                self.record(by).await
            }
            ClientMessage::StopRecording => {
                host_only(host)?;
                self.stop_record(by).await
            }
            ClientMessage::Readiness => {
                let hall_id = hall_only()?;
                host_only(hall_id == self.meeting.host_hall_id)?;
                if let Some(session) = session {
                    self.watch_readiness(session);
                }
                Ok(())
            }
            _ => Err(ProtocolError::new(
                ErrorCode::OutOfOrder,
                "not a meeting action",
            )),
        }
    }

    pub(super) fn present(&self, hall_id: i64) -> Outcome {
        match self.member_by_hall(hall_id) {
            Some(m) if !m.is_viewer() => Ok(()),
            _ => Err(ProtocolError::new(
                ErrorCode::UnknownHall,
                format!("hall {hall_id} is not in the meeting"),
            )),
        }
    }

    /// Tells every page what happened and the new state; logs it if `log`.
    ///
    /// A hall's own action is acknowledged to it in order, like every host control; other
    /// halls' reports (headcounts, roll-call answers and marks, hands) are state to the
    /// rest, coalesced to the latest of each action (what they add up to is in
    /// `meeting_state` and the board), so that 220 halls answering at once cost each page
    /// a few messages. `meeting_state` follows, coalesced, when the action changed it.
    pub(super) fn announce(&self, action: Action, hall_id: Option<i64>, by: Actor, log: bool) {
        let at = scheduler::time::now();
        let control = Frame::of(&ServerMessage::Control {
            action,
            hall_id,
            by,
            at,
        });
        let report = is_hall_report(action);
        for m in &self.members {
            let Some(link) = &m.link else { continue };
            let own = by == Actor::Hall { hall_id: m.hall.id };
            if report && !own {
                link.set_state(StateKey::Control(action), control.clone());
            } else {
                link.send_frame(control.clone());
            }
        }
        // Answers, marks and headcounts change nothing in `meeting_state` (they are on
        // the board): no page needs it again for them.
        let state_unchanged = matches!(
            action,
            Action::Headcount | Action::RollCallAnswer | Action::RollCallMark
        );
        if !state_unchanged {
            self.broadcast_meeting_state();
        }
        if log {
            let change = PresenceKind::Control {
                action,
                hall_id,
                by,
            };
            self.shared.record(self.meeting.id, change);
        }
    }
}
