//! A hall in a room (a [`Member`]: its session, socket, media peer and node, slots and
//! statistics) and what each of its receive slots shows ([`SlotState`]).

use super::{feeds, SessionId};
use crate::link::SessionLink;
use crate::protocol::{Candidate, HallInfo, Participant, ServerMessage};
use sfu::{PeerId, PeerStats};
use tokio::time::Instant;

/// What a receive slot of a hall shows.
#[derive(Debug, Clone)]
pub(crate) struct SlotState {
    pub info: sfu::SlotInfo,
    /// What the slot shows, at the layer the SFU was told (policy capped by the page).
    pub fill: crate::policy::Fill,
    /// The page's own cap (`set_layer`).
    pub max_layer: u8,
    /// What it was last asked to show on a remote media node, not answered yet
    /// (`room::queue`): the room plans from it, records `fill` once it took.
    pub asked: Option<crate::policy::Fill>,
}

impl SlotState {
    /// What the slot shows once the changes sent for it took.
    pub fn planned(&self) -> crate::policy::Fill {
        self.asked.unwrap_or(self.fill)
    }
}

/// A hall in the room.
#[derive(Debug)]
pub(crate) struct Member {
    pub hall: HallInfo,
    pub session: SessionId,
    /// Its socket; `None` while in the grace period after the socket dropped.
    pub link: Option<SessionLink>,
    /// When the grace period ends, if the socket dropped.
    pub lost_until: Option<Instant>,
    /// Its current peer connection in the SFU of its media node.
    pub peer: Option<PeerId>,
    /// Its media node: `None` this node's SFU, else another node's (`nodes`).
    pub node: Option<String>,
    /// Whether `add_peer` has answered for `peer`.
    pub ready: bool,
    /// Candidates that arrived before the answer.
    pub early_candidates: Vec<Candidate>,
    /// Its published camera and microphone: the latest track of each kind it publishes.
    pub video: Option<sfu::StreamId>,
    pub audio: Option<sfu::StreamId>,
    /// Every track it publishes, in order (a shared screen after the camera); when the
    /// latest of a kind ends, the one before it is shown again.
    pub published: Vec<(sfu::MediaKind, sfu::StreamId)>,
    /// Our ICE candidates trickled before the answer reached the page.
    pub early_local: Vec<Candidate>,
    /// Its receive slots, from the answer.
    pub slots: Vec<SlotState>,
    pub stats: Option<PeerStats>,
    /// The host's grid page asked for, and the (page, pages) last told.
    pub grid_page: usize,
    pub grid_told: Option<(usize, usize)>,
    /// Counts the hall in the node's load while it is present.
    pub _seat: crate::load::Seat,
    /// A WHIP source or WHEP viewer (no socket, no attendance), not a hall.
    pub feed: Option<feeds::Feed>,
}

impl Member {
    /// A member with no media yet.
    pub(crate) fn new(
        hall: HallInfo,
        session: SessionId,
        link: Option<SessionLink>,
        seat: crate::load::Seat,
    ) -> Self {
        Member {
            hall,
            session,
            link,
            lost_until: None,
            peer: None,
            node: None,
            ready: false,
            early_candidates: Vec::new(),
            video: None,
            audio: None,
            published: Vec::new(),
            early_local: Vec::new(),
            slots: Vec::new(),
            stats: None,
            grid_page: 0,
            grid_told: None,
            _seat: seat,
            feed: None,
        }
    }

    pub(super) fn tell(&self, message: ServerMessage) {
        if let Some(link) = &self.link {
            link.send(message);
        }
    }

    pub(super) fn participant(&self, host: i64) -> Participant {
        Participant {
            hall_id: self.hall.id,
            name: self.hall.name.clone(),
            host: self.hall.id == host,
            guest: self.is_guest(),
            source: self.is_source(),
        }
    }

    /// A guest (khách mời), not a hall: its id is a negative participant id.
    pub(crate) fn is_guest(&self) -> bool {
        scheduler::guests::guest_of(self.hall.id).is_some()
    }
}
