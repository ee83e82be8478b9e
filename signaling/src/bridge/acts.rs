//! Staff actions through any node: a secretariat's HTTP action on a meeting (or its look
//! at the live state) that reaches a node which is not the meeting's home is asked of the
//! home node over NATS (request/reply on `hoinghi.node.<home>.act`); the home room acts as
//! if the request had reached its own node, and its answer is the HTTP answer.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use super::wire::{self, ActReply, ActRequest, Ask};
use super::Bridge;
use crate::protocol::{
    ClientMessage, ErrorCode, MeetingInfo, MeetingState, ProtocolError, Readiness, RecordingInfo,
};
use crate::registry::Signaling;

/// How long a staff action waits for the home node before it is given up.
const ACT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the home room answered a staff look: its state, readiness and recording (none:
/// no room).
pub type Shown = Option<(MeetingState, Readiness, RecordingInfo)>;

/// Answers other nodes' staff actions on the meetings this node is home to.
pub(super) async fn take_acts(
    bridge: Arc<Bridge>,
    signaling: Signaling,
    mut acts: async_nats::Subscriber,
) {
    while let Some(msg) = acts.next().await {
        let (bridge, signaling) = (Arc::clone(&bridge), signaling.clone());
        tokio::spawn(async move {
            let Some(reply_to) = msg.reply else {
                return;
            };
            let reply = match serde_json::from_slice::<ActRequest>(&msg.payload) {
                Ok(request) => act_here(&signaling, request).await,
                Err(e) => ActReply::Refused {
                    code: ErrorCode::Internal,
                    message: format!("a staff action this node cannot read: {e}"),
                },
            };
            let Ok(payload) = serde_json::to_vec(&reply) else {
                return;
            };
            if let Err(e) = bridge.nats.publish(reply_to, payload.into()).await {
                tracing::warn!(error = %e, "a staff action's answer was not sent");
            }
        });
    }
}

/// Acts (or looks) on this node's room of the meeting: never asks another node again.
async fn act_here(signaling: &Signaling, request: ActRequest) -> ActReply {
    if signaling.is_stopping() {
        return ActReply::Refused {
            code: ErrorCode::HomeElsewhere,
            message: "the meeting's home node is stopping; try again".into(),
        };
    }
    match request.ask {
        Ask::Act { message } => {
            match signaling
                .act_here(&request.meeting, request.account, message)
                .await
            {
                Ok(()) => ActReply::Done,
                Err(e) => ActReply::Refused {
                    code: e.code,
                    message: e.message,
                },
            }
        }
        Ask::Show => match signaling.show_here(request.meeting.id).await {
            Some((state, readiness, recording)) => ActReply::Shown {
                state: Some(Box::new(state)),
                readiness: Some(Box::new(readiness)),
                recording,
            },
            None => ActReply::Shown {
                state: None,
                readiness: None,
                recording: RecordingInfo::default(),
            },
        },
        Ask::Adopt => match signaling.adopt(&request.meeting).await {
            Ok(()) => ActReply::Done,
            Err(e) => ActReply::Refused {
                code: e.code,
                message: e.message,
            },
        },
    }
}

/// The home node did not answer: `home_elsewhere`, naming it.
fn unreachable(home: &str) -> ProtocolError {
    ProtocolError::new(
        ErrorCode::HomeElsewhere,
        format!("the meeting is hosted on node {home}, which did not answer; try again"),
    )
}

impl Bridge {
    /// The node other than this one that holds a live lease of `meeting`, if any.
    pub(crate) async fn home_of(&self, meeting: i64) -> Option<String> {
        let now = scheduler::time::now();
        match self.store.lease(meeting).await {
            Ok(Some(lease)) if lease.node_id != self.node && lease.is_live(now) => {
                Some(lease.node_id)
            }
            _ => None,
        }
    }

    /// Asks `home` to act or show for staff account `account`, or to adopt the meeting.
    async fn ask_home(
        &self,
        home: &str,
        meeting: &MeetingInfo,
        account: i64,
        ask: Ask,
    ) -> Result<ActReply, ProtocolError> {
        let request = ActRequest {
            meeting: meeting.clone(),
            account,
            ask,
        };
        let payload = serde_json::to_vec(&request).map_err(|e| {
            ProtocolError::new(ErrorCode::Internal, format!("a staff action not sent: {e}"))
        })?;
        let asked = tokio::time::timeout(
            ACT_TIMEOUT,
            self.nats.request(wire::act_subject(home), payload.into()),
        )
        .await;
        match asked {
            Ok(Ok(msg)) => {
                serde_json::from_slice::<ActReply>(&msg.payload).map_err(|_| unreachable(home))
            }
            Ok(Err(e)) => {
                tracing::warn!(meeting = meeting.id, %home, error = %e, "the home node did not take a staff action");
                Err(unreachable(home))
            }
            Err(_) => {
                tracing::warn!(meeting = meeting.id, %home, "the home node did not answer a staff action in time");
                Err(unreachable(home))
            }
        }
    }

    /// A staff action on the room of `meeting` on node `home`.
    pub(crate) async fn act(
        &self,
        home: &str,
        meeting: &MeetingInfo,
        account: i64,
        message: ClientMessage,
    ) -> Result<(), ProtocolError> {
        match self
            .ask_home(home, meeting, account, Ask::Act { message })
            .await?
        {
            ActReply::Done => Ok(()),
            ActReply::Refused { code, message } => Err(ProtocolError::new(code, message)),
            ActReply::Shown { .. } => Err(unreachable(home)),
        }
    }

    /// The state and readiness of the room of `meeting` on node `home`.
    pub(crate) async fn show(
        &self,
        home: &str,
        meeting: &MeetingInfo,
        account: i64,
    ) -> Result<Shown, ProtocolError> {
        match self.ask_home(home, meeting, account, Ask::Show).await? {
            ActReply::Shown {
                state: Some(s),
                readiness: Some(r),
                recording,
            } => Ok(Some((*s, *r, recording))),
            ActReply::Shown { .. } => Ok(None),
            ActReply::Refused { code, message } => Err(ProtocolError::new(code, message)),
            ActReply::Done => Err(unreachable(home)),
        }
    }

    /// Asks `node` to become the home of `meeting` (this node gave its lease up while
    /// stopping) and open its room now; whether it did.
    pub(crate) async fn hand_to(&self, node: &str, meeting: &MeetingInfo) -> bool {
        match self.ask_home(node, meeting, 0, Ask::Adopt).await {
            Ok(ActReply::Done) => true,
            Ok(other) => {
                tracing::warn!(meeting = meeting.id, %node, answer = ?other, "another node did not adopt a meeting");
                false
            }
            Err(_) => false,
        }
    }
}
