//! Staff actions on live meetings (a secretariat or administrator over HTTP): on this
//! node's room as its home, or — another node being home — on that node's room, asked
//! over the NATS bridge (docs/cluster.md, "Staff actions through any node").

use super::Signaling;
use crate::protocol::{ClientMessage, ErrorCode, MeetingInfo, ProtocolError};
use crate::room::Gone;

impl Signaling {
    /// A secretariat or administrator acts on a live meeting (start, end, roll call,
    /// floor, mute…), opening its room if needed. The caller checked who may.
    ///
    /// When another node is the meeting's home, the action is asked of its room over
    /// NATS; a home node that does not answer within 5 s gives `home_elsewhere`.
    pub async fn act(
        &self,
        meeting: &MeetingInfo,
        account_id: i64,
        request: ClientMessage,
    ) -> Result<(), ProtocolError> {
        match self.act_here(meeting, account_id, request.clone()).await {
            Err(e) if e.code == ErrorCode::HomeElsewhere => {
                let Some(bridge) = self.bridge() else {
                    return Err(e);
                };
                match bridge.home_of(meeting.id).await {
                    Some(home) => bridge.act(&home, meeting, account_id, request).await,
                    None => Err(e),
                }
            }
            done => done,
        }
    }

    /// A staff action on this node's room of the meeting (opened, as its home, if needed).
    pub(crate) async fn act_here(
        &self,
        meeting: &MeetingInfo,
        account_id: i64,
        request: ClientMessage,
    ) -> Result<(), ProtocolError> {
        for _ in 0..3 {
            let room = self.home_room(meeting).await?;
            match room.act_as_staff(account_id, request.clone()).await {
                Ok(done) => return done,
                Err(Gone) => self.shared.forget_room(meeting.id, room.id),
            }
        }
        Err(ProtocolError::new(
            ErrorCode::Internal,
            "the meeting room is not available",
        ))
    }

    /// The live state and readiness board of a meeting for a staff account (the caller
    /// checked who may): this node's room's, else — another node being home — its room's,
    /// asked over NATS (`home_elsewhere` if it does not answer within 5 s). None: no room
    /// is open.
    pub async fn show(
        &self,
        meeting: &MeetingInfo,
        account_id: i64,
    ) -> Result<crate::bridge::Shown, ProtocolError> {
        if self.room(meeting.id).is_some() {
            return Ok(self.show_here(meeting.id).await);
        }
        let Some(bridge) = self.bridge() else {
            return Ok(None);
        };
        match bridge.home_of(meeting.id).await {
            Some(home) => bridge.show(&home, meeting, account_id).await,
            None => Ok(None),
        }
    }

    /// The state, readiness and recording of this node's room of the meeting, if one is
    /// open.
    pub(crate) async fn show_here(&self, meeting_id: i64) -> crate::bridge::Shown {
        let room = self.room(meeting_id)?;
        match (
            room.state().await,
            room.readiness().await,
            room.recording().await,
        ) {
            (Ok(s), Ok(r), Ok(rec)) => Some((s, r, rec)),
            _ => None,
        }
    }

    /// Becomes the home of `meeting` and opens its room now (a stopping node gave the
    /// lease up and hands the meeting here): the room takes up the recorded phase.
    pub(crate) async fn adopt(&self, meeting: &MeetingInfo) -> Result<(), ProtocolError> {
        self.home_room(meeting).await.map(|_| ())
    }
}
