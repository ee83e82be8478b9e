//! The remote SFU handle's commands on the wire (`hoinghi.media.<node>.cmd`): what a home
//! room sends a media node for its halls' peers, and the answers (the events back are in
//! `evwire`). Peers and speaker groups are named by the home's ids; the media node keeps
//! its own and translates.

use serde::{Deserialize, Serialize};
use sfu::{
    IceCandidate, MediaKind, PeerAnswer, PeerId, SfuError, SlotChange, SlotId, SlotInfo, StreamId,
};

/// Where `node` takes the commands of home rooms on other nodes.
pub(crate) fn cmd_subject(node: &str) -> String {
    format!("hoinghi.media.{node}.cmd")
}

/// A home room's command, with the home node's name and run.
#[derive(Serialize, Deserialize)]
pub(crate) struct CmdRequest {
    pub home: String,
    pub run: u64,
    pub cmd: Cmd,
}

/// What a home room asks of a media node.
#[derive(Serialize, Deserialize)]
pub(crate) enum Cmd {
    /// A new peer (the home's id) in the room's speaker group (the home's id).
    AddPeer {
        peer: u64,
        group: u64,
        offer: String,
    },
    Renegotiate {
        peer: u64,
        offer: String,
    },
    Candidate {
        peer: u64,
        candidate: WireCandidate,
    },
    Apply {
        changes: Vec<WireChange>,
    },
    Close {
        peer: u64,
    },
    /// Watch `track` of node `origin` through this node's bridge; answers its local id.
    Watch {
        origin: String,
        track: u64,
        layers: Vec<u8>,
    },
    /// Stop watching the local track `local`.
    Unwatch {
        local: u64,
    },
}

/// A media node's answer.
#[derive(Serialize, Deserialize)]
pub(crate) enum CmdReply {
    Answer { sdp: String, slots: Vec<WireSlot> },
    Done,
    Applied(Vec<Result<(), WireError>>),
    Watched { local: u64 },
    Failed(WireError),
}

/// An SFU refusal on the wire.
#[derive(Serialize, Deserialize)]
pub(crate) struct WireError {
    pub kind: String,
    pub message: String,
}

impl WireError {
    pub fn of(e: &SfuError) -> Self {
        let (kind, message) = match e {
            SfuError::InvalidSdp(m) => ("invalid_sdp", m.clone()),
            SfuError::InvalidCandidate(m) => ("invalid_candidate", m.clone()),
            other => ("other", other.to_string()),
        };
        WireError {
            kind: kind.into(),
            message,
        }
    }

    pub fn sfu(self) -> SfuError {
        match self.kind.as_str() {
            "invalid_sdp" => SfuError::InvalidSdp(self.message),
            "invalid_candidate" => SfuError::InvalidCandidate(self.message),
            _ => SfuError::Webrtc(self.message),
        }
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct WireSlot {
    pub id: u16,
    pub video: bool,
    pub mid: String,
    pub ssrc: u32,
}

pub(super) fn kind_of(video: bool) -> MediaKind {
    if video {
        MediaKind::Video
    } else {
        MediaKind::Audio
    }
}

/// A peer's answer on the wire, and back.
pub(crate) fn answer_of(a: &PeerAnswer) -> CmdReply {
    CmdReply::Answer {
        sdp: a.sdp.clone(),
        slots: a
            .slots
            .iter()
            .map(|s| WireSlot {
                id: s.id.0,
                video: s.kind == MediaKind::Video,
                mid: s.mid.clone(),
                ssrc: s.ssrc,
            })
            .collect(),
    }
}

pub(crate) fn peer_answer(sdp: String, slots: Vec<WireSlot>) -> PeerAnswer {
    PeerAnswer {
        sdp,
        slots: slots
            .into_iter()
            .map(|s| SlotInfo {
                id: SlotId(s.id),
                kind: kind_of(s.video),
                mid: s.mid,
                ssrc: s.ssrc,
            })
            .collect(),
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct WireCandidate {
    pub candidate: String,
    pub sdp_mid: Option<String>,
    pub sdp_mline_index: Option<u16>,
    pub username_fragment: Option<String>,
}

impl WireCandidate {
    pub fn of(c: &IceCandidate) -> Self {
        WireCandidate {
            candidate: c.candidate.clone(),
            sdp_mid: c.sdp_mid.clone(),
            sdp_mline_index: c.sdp_mline_index,
            username_fragment: c.username_fragment.clone(),
        }
    }

    pub fn ice(self) -> IceCandidate {
        IceCandidate {
            candidate: self.candidate,
            sdp_mid: self.sdp_mid,
            sdp_mline_index: self.sdp_mline_index,
            username_fragment: self.username_fragment,
        }
    }
}

/// A slot change on the wire: peers by the home's ids, tracks by the media node's.
#[derive(Serialize, Deserialize)]
pub(crate) enum WireChange {
    Show {
        peer: u64,
        slot: u16,
        track: u64,
        layer: u8,
    },
    Layer {
        peer: u64,
        slot: u16,
        layer: u8,
    },
    Clear {
        peer: u64,
        slot: u16,
    },
}

impl WireChange {
    pub fn of(c: &SlotChange) -> Self {
        match *c {
            SlotChange::Show {
                peer,
                slot,
                track,
                max_layer,
            } => WireChange::Show {
                peer: peer.0,
                slot: slot.0,
                track: track.0,
                layer: max_layer,
            },
            SlotChange::Layer {
                peer,
                slot,
                max_layer,
            } => WireChange::Layer {
                peer: peer.0,
                slot: slot.0,
                layer: max_layer,
            },
            SlotChange::Clear { peer, slot } => WireChange::Clear {
                peer: peer.0,
                slot: slot.0,
            },
        }
    }

    /// The change for this node's SFU, its peer named by `local`.
    pub fn change(&self, local: impl Fn(u64) -> Option<PeerId>) -> Option<SlotChange> {
        Some(match *self {
            WireChange::Show {
                peer,
                slot,
                track,
                layer,
            } => SlotChange::Show {
                peer: local(peer)?,
                slot: SlotId(slot),
                track: StreamId(track),
                max_layer: layer,
            },
            WireChange::Layer { peer, slot, layer } => SlotChange::Layer {
                peer: local(peer)?,
                slot: SlotId(slot),
                max_layer: layer,
            },
            WireChange::Clear { peer, slot } => SlotChange::Clear {
                peer: local(peer)?,
                slot: SlotId(slot),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_home_rooms_commands_cross_whole() {
        let changes = [
            SlotChange::Show {
                peer: PeerId(70),
                slot: SlotId(2),
                track: StreamId(5),
                max_layer: 1,
            },
            SlotChange::Layer {
                peer: PeerId(70),
                slot: SlotId(2),
                max_layer: 0,
            },
            SlotChange::Clear {
                peer: PeerId(71),
                slot: SlotId(0),
            },
        ];
        let request = CmdRequest {
            home: "node-a".into(),
            run: 9,
            cmd: Cmd::Apply {
                changes: changes.iter().map(WireChange::of).collect(),
            },
        };
        let text = serde_json::to_vec(&request).expect("encoded");
        let back: CmdRequest = serde_json::from_slice(&text).expect("decoded");
        let Cmd::Apply { changes: wire } = back.cmd else {
            panic!("an apply")
        };
        // On the media node the home's peer 70 is its 7; 71 it does not hold.
        let local = |p: u64| (p == 70).then_some(PeerId(7));
        let mapped: Vec<Option<SlotChange>> = wire.iter().map(|c| c.change(local)).collect();
        assert_eq!(
            mapped,
            [
                Some(SlotChange::Show {
                    peer: PeerId(7),
                    slot: SlotId(2),
                    track: StreamId(5),
                    max_layer: 1
                }),
                Some(SlotChange::Layer {
                    peer: PeerId(7),
                    slot: SlotId(2),
                    max_layer: 0
                }),
                None,
            ]
        );
        // A refusal the page must see as its own fault stays one.
        let sdp = WireError::of(&SfuError::InvalidSdp("no m-line".into())).sfu();
        assert_eq!(sdp, SfuError::InvalidSdp("no m-line".into()));
        let ours = WireError::of(&SfuError::Stopped).sfu();
        assert!(matches!(ours, SfuError::Webrtc(_)), "{ours:?}");
        // An answer keeps its slots.
        let answer = PeerAnswer {
            sdp: "v=0".into(),
            slots: vec![SlotInfo {
                id: SlotId(1),
                kind: MediaKind::Video,
                mid: "1".into(),
                ssrc: 42,
            }],
        };
        let CmdReply::Answer { sdp, slots } = answer_of(&answer) else {
            panic!("an answer")
        };
        assert_eq!(peer_answer(sdp, slots), answer);
    }
}
