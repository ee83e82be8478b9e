//! What nodes say to each other over NATS to bridge halls' sockets: the subjects and the
//! JSON of each message (docs/cluster.md, "The NATS bridge").

use serde::{Deserialize, Serialize};

use crate::protocol::{
    ClientMessage, ErrorCode, HallInfo, MeetingInfo, MeetingState, Readiness, RecordingInfo,
};

/// The header that makes a message on a link subject a close frame: `<code> <reason>`.
pub(crate) const CLOSE_HEADER: &str = "Hoinghi-Close";

/// Where a node takes bridged joins for the meetings it is home to (request/reply).
pub(crate) fn join_subject(home: &str) -> String {
    format!("hoinghi.node.{home}.join")
}

/// Where a node takes staff actions (and looks) on the meetings it is home to
/// (request/reply).
pub(crate) fn act_subject(home: &str) -> String {
    format!("hoinghi.node.{home}.act")
}

/// Where bridging nodes send a meeting's halls' messages to its home room on `home`
/// (named: while a lease moves, an old and a new home never read each other's links).
pub(crate) fn room_subject(meeting_id: i64, home: &str) -> String {
    format!("hoinghi.room.{meeting_id}.{home}.in")
}

/// Where the home room's messages to one bridged socket go (on the bridging node).
pub(crate) fn link_subject(node: &str, link: u64) -> String {
    format!("hoinghi.link.{node}.{link}")
}

/// Every link subject of one node (its one subscription for all its bridged sockets).
pub(crate) fn links_of(node: &str) -> String {
    format!("hoinghi.link.{node}.*")
}

/// The link id at the end of a link subject.
pub(crate) fn link_of_subject(subject: &str) -> Option<u64> {
    subject.rsplit('.').next()?.parse().ok()
}

/// Where a node says it is alive, once a second (the payload: its incarnation).
pub(crate) fn beat_subject(node: &str) -> String {
    format!("hoinghi.alive.{node}")
}

/// Every node's beats.
pub(crate) const ALL_BEATS: &str = "hoinghi.alive.*";

/// The node named by a beat's subject.
pub(crate) fn node_of_beat(subject: &str) -> Option<&str> {
    subject.strip_prefix("hoinghi.alive.")
}

/// A bridging node asks the home node to join a hall it admitted (its token checked
/// against the shared database) into the meeting's room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JoinRequest {
    /// The bridging node.
    pub node: String,
    /// That node's run (a restart is a new incarnation: its old links are gone).
    pub incarnation: u64,
    /// The socket's link id on that node.
    pub link: u64,
    /// The admission: meeting and hall.
    pub meeting: MeetingInfo,
    pub hall: HallInfo,
    /// The `session_id` the page resumes, if any.
    pub resume: Option<String>,
}

/// The home node's answer to a [`JoinRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub(crate) enum JoinReply {
    /// In the room; its `welcome` comes on the link subject.
    Joined {
        /// The home node's run.
        incarnation: u64,
    },
    /// Refused by the room (locked, removed, ended…) or not home any more.
    Refused { code: ErrorCode, message: String },
}

/// A node asks the home node to act on a meeting for a staff account (the caller's
/// rights already checked against the shared database) or to show its live state; or a
/// stopping node asks another to become the meeting's home.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ActRequest {
    pub meeting: MeetingInfo,
    /// The staff account the action is logged with (0 for [`Ask::Adopt`]).
    pub account: i64,
    pub ask: Ask,
}

/// What an [`ActRequest`] asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ask", rename_all = "snake_case")]
pub(crate) enum Ask {
    /// A host control, as the host hall would send it.
    Act { message: ClientMessage },
    /// The room's state and readiness.
    Show,
    /// Take the meeting's lease (given up by a stopping node) and open its room now.
    Adopt,
}

/// The home node's answer to an [`ActRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub(crate) enum ActReply {
    /// The room did it.
    Done,
    /// The room's state, readiness and recording (none: no room is open).
    Shown {
        state: Option<Box<MeetingState>>,
        readiness: Option<Box<Readiness>>,
        #[serde(default)]
        recording: RecordingInfo,
    },
    /// Refused by the room, or not home any more.
    Refused { code: ErrorCode, message: String },
}

/// A bridged socket's message to the home room, on [`room_subject`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Inbound {
    /// The bridging node.
    pub node: String,
    /// The socket's link id there.
    pub link: u64,
    /// What happened.
    pub body: InBody,
}

/// What a bridged socket tells the home room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum InBody {
    /// A message the page sent (parsed and rate-limited on the bridging node).
    Message { message: ClientMessage },
    /// The socket ended without `leave`: the grace period starts.
    Lost,
}

/// A NATS URL without its credentials (`user:password@`, `token@`), for logs and errors.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Credentials taken out of a NATS URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Credentials {
    UserPassword(String, String),
    Token(String),
}

/// A NATS URL split into the address alone and its credentials, so the client (whose
/// debug logs print the address) never holds them in the URL.
pub(crate) fn split_credentials(url: &str) -> (String, Option<Credentials>) {
    let (Some(scheme), Some(at)) = (url.find("://"), url.rfind('@')) else {
        return (url.to_owned(), None);
    };
    if at < scheme {
        return (url.to_owned(), None);
    }
    let bare = format!("{}{}", &url[..scheme + 3], &url[at + 1..]);
    let creds = match url[scheme + 3..at].split_once(':') {
        Some((user, password)) => Credentials::UserPassword(user.into(), password.into()),
        None => Credentials::Token(url[scheme + 3..at].into()),
    };
    (bare, Some(creds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_a_log_line() {
        assert_eq!(
            redact_url("nats://bridge:s3cret@10.0.0.5:4222"),
            "nats://***@10.0.0.5:4222"
        );
        assert_eq!(
            redact_url("tls://tok3n@nats.tinh:4222"),
            "tls://***@nats.tinh:4222"
        );
        assert_eq!(redact_url("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(
            split_credentials("nats://bridge:s3cret@10.0.0.5:4222"),
            (
                "nats://10.0.0.5:4222".to_owned(),
                Some(Credentials::UserPassword("bridge".into(), "s3cret".into()))
            )
        );
        assert_eq!(
            split_credentials("tls://tok3n@nats.tinh:4222"),
            (
                "tls://nats.tinh:4222".to_owned(),
                Some(Credentials::Token("tok3n".into()))
            )
        );
        assert_eq!(
            split_credentials("nats://127.0.0.1:4222"),
            ("nats://127.0.0.1:4222".to_owned(), None)
        );
    }

    #[test]
    fn subjects_name_their_node_link_and_meeting() {
        assert_eq!(room_subject(42, "node-a"), "hoinghi.room.42.node-a.in");
        let link = link_subject("node-b", 7);
        assert_eq!(link, "hoinghi.link.node-b.7");
        assert_eq!(link_of_subject(&link), Some(7));
        assert_eq!(link_of_subject("hoinghi.link.node-b.x"), None);
        assert_eq!(node_of_beat(&beat_subject("node-c")), Some("node-c"));
    }

    #[test]
    fn a_bridged_message_survives_the_wire() {
        let inbound = Inbound {
            node: "node-b".into(),
            link: 3,
            body: InBody::Message {
                message: ClientMessage::GiveFloor {
                    hall_id: 9,
                    speaking_limit_secs: None,
                },
            },
        };
        let text = serde_json::to_string(&inbound).unwrap();
        assert_eq!(serde_json::from_str::<Inbound>(&text).unwrap(), inbound);
        let refused = JoinReply::Refused {
            code: ErrorCode::MeetingLocked,
            message: "locked".into(),
        };
        let text = serde_json::to_string(&refused).unwrap();
        assert_eq!(serde_json::from_str::<JoinReply>(&text).unwrap(), refused);
    }
}
