//! Draining a cluster node that stops (SIGTERM; docs/cluster.md, "Draining"): the node
//! refuses new joins, naming the node that goes on with the meeting (`home_elsewhere`,
//! which the page follows at once); hands each meeting it is home to over to a living
//! node — the halls taken out of the room with nothing recorded, the lease given up and
//! the other node asked (over NATS) to take it and open the room in its recorded phase
//! and live state (written out first: floor, hands, mutes, the roll call's answers…) —
//! then tells each hall's page to go there. Its halls' intervals stay open: their joins
//! through the new home come within the grace period and continue them. Sockets bridged
//! from here to other homes are sent to those homes. A node with no other node alive
//! stops as a single node does (every interval ended `server_restart`, close 1012).

use std::time::Duration;

use futures::future::join_all;

use crate::link::{close, SessionLink};
use crate::protocol::ErrorCode;
use crate::registry::Signaling;

/// How long a hand-over waits for the meeting's live state and attendance to be written.
const FLUSH: Duration = Duration::from_secs(3);

/// What a page is told when its node stops and node `next` goes on with its meeting
/// (the page's rule reads the node after "on node").
pub(crate) fn moved(me: &str, next: &str) -> String {
    format!("this node ({me}) is stopping; the meeting is hosted on node {next} from now on")
}

impl Signaling {
    /// The node a hall of `meeting_id` goes to while this node stops: the meeting's
    /// living home on another node, else the node that takes this node's meeting over.
    /// None: not a cluster, or no other node alive.
    pub(crate) async fn moved_to(&self, meeting_id: i64) -> Option<String> {
        let bridge = self.bridge()?;
        match bridge.home_of(meeting_id).await {
            Some(home) => Some(home),
            None => bridge.successor(meeting_id),
        }
    }

    /// Whether this node stops by handing its meetings over: a cluster node with
    /// another node alive.
    pub(crate) fn drains(&self) -> bool {
        match (self.home(), self.bridge()) {
            (Some(_), Some(bridge)) => bridge.successor(0).is_some(),
            _ => false,
        }
    }

    /// Hands every meeting this node is home to over to a living node (see the module's
    /// notes); the links told to go there, to wait for their close frames.
    pub(crate) async fn hand_over_all(&self) -> Vec<SessionLink> {
        let (Some(home), Some(bridge)) = (self.home(), self.bridge()) else {
            return Vec::new();
        };
        let me = bridge.node().to_owned();
        let handed = self.live_rooms().into_iter().map(|room| {
            let (home, bridge, me) = (home.clone(), bridge.clone(), me.clone());
            async move {
                let Ok((meeting, links)) = room.hand_over().await else {
                    return Vec::new();
                };
                // The room's live state and its roll-call answers are in the database
                // before the successor reads them (still under this node's lease).
                if !self.shared().flush_records(FLUSH).await {
                    tracing::warn!(meeting = meeting.id, "stopping: the live state or attendance not all written before the hand-over");
                }
                home.give_up(meeting.id).await;
                self.shared().forget_room(meeting.id, room.id);
                let Some(next) = bridge.successor(meeting.id) else {
                    // The other nodes went silent meanwhile: the pages come back as
                    // after a restart (a rejoin within the grace period continues their
                    // intervals).
                    for link in &links {
                        link.close(close::SERVICE_RESTART, "server_restart");
                    }
                    return links;
                };
                let adopted = bridge.hand_to(&next, &meeting).await;
                tracing::info!(
                    meeting = meeting.id,
                    %next,
                    adopted,
                    halls = links.len(),
                    "stopping: the meeting is handed to another node"
                );
                for link in &links {
                    link.error(ErrorCode::HomeElsewhere, moved(&me, &next));
                    link.close(close::TRY_AGAIN_LATER, ErrorCode::HomeElsewhere.as_str());
                }
                links
            }
        });
        join_all(handed).await.into_iter().flatten().collect()
    }
}
