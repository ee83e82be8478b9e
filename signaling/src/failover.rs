//! The lease watcher of a cluster node (docs/cluster.md, fail-over): every third of the
//! lease length it looks for lapsed leases of live meetings — their home node died or
//! lost the database — and takes them over (one node wins each: the store's take is a
//! compare-and-set on the epoch). The new home opens the meeting's room at once, which
//! takes up the recorded phase (a started meeting is `started` again with nothing
//! written anew); the dead node's open intervals of the meeting were closed by the take.
//! Halls reconnecting to any node are sent here (`home_elsewhere` names this node).
//!
//! It also closes this node's rooms whose lease another node took over (found by a
//! failed renewal): their pages are told to come back (1012), nothing is recorded; and
//! closes the intervals a draining node handed over with its meetings that no hall came
//! back to continue (at their last presence write, once the grace period is over).

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::protocol::MeetingInfo;
use crate::registry::{Shared, Signaling};

/// How long past the grace period a handed-over interval stays open before the sweep
/// closes it (the watcher looks every third of the lease length).
const STRAY_SLACK_SECS: i64 = 10;

impl Signaling {
    /// Starts the lease watcher (a node of a cluster; without home leases, nothing).
    pub fn watch_leases(&self) {
        let Some(home) = self.home() else {
            return;
        };
        let Some(lost) = home.take_lost() else {
            tracing::warn!("the lease watcher was already started");
            return;
        };
        let every = (home.lease() / 3).max(Duration::from_millis(100));
        tokio::spawn(watch(Arc::downgrade(self.shared()), every, lost));
    }

    /// Takes over every lapsed lease of a live meeting that no other node took first,
    /// opening its room here. Returns the meetings taken.
    pub async fn take_over_lapsed(&self) -> Vec<i64> {
        let Some(home) = self.home() else {
            return Vec::new();
        };
        if self.is_stopping() {
            return Vec::new();
        }
        let store = home.store();
        let lapsed = match store.lapsed_leases(scheduler::time::now()).await {
            Ok(lapsed) => lapsed,
            Err(e) => {
                tracing::warn!(error = %e, "looking for lapsed leases failed");
                return Vec::new();
            }
        };
        let mut taken = Vec::new();
        for found in lapsed {
            let meeting = match store.leased_meeting(found.meeting_id).await {
                Ok(m) => MeetingInfo::from(m),
                Err(e) => {
                    tracing::warn!(meeting = found.meeting_id, error = %e, "a lapsed lease's meeting not read");
                    continue;
                }
            };
            let opened = home
                .take_over(&found, || {
                    let room = self.open_room(&meeting);
                    let id = room.id;
                    (room, id)
                })
                .await;
            match opened {
                Ok(Some((_, over))) => {
                    tracing::warn!(
                        meeting = found.meeting_id,
                        from = %over.from.node_id,
                        epoch = over.lease.epoch,
                        closed = over.closed,
                        lapsed_for = over.lease.taken_at - over.from.expires_at,
                        "took over the meeting of a node that stopped renewing its lease"
                    );
                    taken.push(found.meeting_id);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(meeting = found.meeting_id, error = %e, "taking over a lapsed lease failed")
                }
            }
        }
        taken
    }

    /// Closes the intervals a previous home of this node's meetings left open that no
    /// hall came back to continue within the grace period (a drain's hand-over whose
    /// hall never rejoined): at their last presence write, `network_lost`. Waits while
    /// the attendance writer holds changes back (one of them may be that hall's rejoin).
    pub async fn close_strays(&self) -> u64 {
        let Some(home) = self.home() else {
            return 0;
        };
        let recorder = self.shared().recorder.get();
        if self.is_stopping() || recorder.is_some_and(|r| !r.caught_up()) {
            return 0;
        }
        let grace = self.shared().config.grace.as_secs() as i64;
        // A rejoin the writer has taken but not yet written is at most a few seconds old.
        let slack = STRAY_SLACK_SECS;
        match home
            .store()
            .close_strays(scheduler::time::now(), grace, slack)
            .await
        {
            Ok(0) => 0,
            Ok(closed) => {
                tracing::info!(
                    closed,
                    "closed intervals no hall came back to after a hand-over"
                );
                closed
            }
            Err(e) => {
                tracing::warn!(error = %e, "closing intervals no hall came back to failed");
                0
            }
        }
    }

    /// Sends every hall of `meeting`'s room here away, recording nothing: another node
    /// took its lease over.
    async fn fence(&self, meeting: i64) {
        let Some(room) = self.room(meeting) else {
            return;
        };
        tracing::error!(
            meeting,
            "another node is the meeting's home now: this node's room closes"
        );
        if let Ok(links) = room.fence().await {
            let sent = async {
                for link in links {
                    link.closed().await;
                }
            };
            // A page that reads nothing is cut by its write timeout anyway.
            let _ = tokio::time::timeout(Duration::from_secs(5), sent).await;
        }
        self.shared().forget_room(meeting, room.id);
    }
}

async fn watch(shared: Weak<Shared>, every: Duration, mut lost: mpsc::UnboundedReceiver<i64>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let fenced = tokio::select! {
            _ = tick.tick() => None,
            Some(meeting) = lost.recv() => Some(meeting),
        };
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let signaling = Signaling::from_shared(shared);
        match fenced {
            Some(meeting) => signaling.fence(meeting).await,
            None => {
                signaling.take_over_lapsed().await;
                signaling.close_strays().await;
            }
        }
    }
}
