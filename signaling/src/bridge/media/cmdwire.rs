//! The remote SFU handle on the wire (`hoinghi.media.<node>.cmd`, `hoinghi.media.<home>.ev`):
//! the commands a home room sends a media node for its halls' peers, the answers, and the
//! media node's events for those peers. Peers and speaker groups are named by the home's
//! ids; the media node keeps its own and translates.

use serde::{Deserialize, Serialize};
use sfu::{
    DisconnectReason, IceCandidate, MediaKind, PeerAnswer, PeerId, PeerStats, SfuError, SfuEvent,
    SlotChange, SlotId, SlotInfo, SpeakerGroup, StreamId,
};
use std::time::Duration;

/// Where `node` takes the commands of home rooms on other nodes.
pub(crate) fn cmd_subject(node: &str) -> String {
    format!("hoinghi.media.{node}.cmd")
}

/// Where media nodes send `home`'s rooms the events of their peers.
pub(crate) fn ev_subject(home: &str) -> String {
    format!("hoinghi.media.{home}.ev")
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

fn kind_of(video: bool) -> MediaKind {
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

/// A media node's event for a home room, peers and groups by the home's ids.
#[derive(Serialize, Deserialize)]
pub(crate) struct EvMessage {
    pub node: String,
    pub event: WireEvent,
}

#[derive(Serialize, Deserialize)]
pub(crate) enum WireEvent {
    Connected(u64),
    Lost(u64),
    Closed(u64),
    Failed(u64),
    Published {
        peer: u64,
        track: u64,
        video: bool,
        rids: Vec<String>,
    },
    Unpublished {
        peer: u64,
        track: u64,
    },
    Speaker {
        group: u64,
        peer: Option<u64>,
        track: Option<u64>,
    },
    Candidate {
        peer: u64,
        candidate: WireCandidate,
    },
    Stats {
        peer: u64,
        bitrate_in_bps: u64,
        bitrate_out_bps: u64,
        loss_in: f32,
        jitter_in_us: u64,
        packets_out: u64,
        rtt_us: Option<u64>,
        loss_out: f32,
        bandwidth_out_bps: Option<u64>,
    },
}

impl WireEvent {
    /// `event` of this node's SFU with its peer and group named by `home` (the home's
    /// peer id, group id); `None` if not about a home's peer.
    pub fn of(
        event: &SfuEvent,
        peer: impl Fn(PeerId) -> Option<u64>,
        group: impl Fn(SpeakerGroup) -> Option<u64>,
    ) -> Option<Self> {
        Some(match event {
            SfuEvent::PeerConnected(p) => WireEvent::Connected(peer(*p)?),
            SfuEvent::PeerDisconnected(p, DisconnectReason::ConnectionLost) => {
                WireEvent::Lost(peer(*p)?)
            }
            SfuEvent::PeerDisconnected(p, _) => WireEvent::Closed(peer(*p)?),
            SfuEvent::PeerFailed(p) => WireEvent::Failed(peer(*p)?),
            SfuEvent::TrackPublished {
                peer: p,
                track,
                kind,
                rids,
            } => WireEvent::Published {
                peer: peer(*p)?,
                track: track.0,
                video: *kind == MediaKind::Video,
                rids: rids.clone(),
            },
            SfuEvent::TrackUnpublished { peer: p, track } => WireEvent::Unpublished {
                peer: peer(*p)?,
                track: track.0,
            },
            SfuEvent::ActiveSpeakerChanged {
                group: g,
                peer: p,
                track,
            } => WireEvent::Speaker {
                group: group(*g)?,
                peer: p.and_then(&peer),
                track: track.map(|t| t.0),
            },
            SfuEvent::LocalCandidate { peer: p, candidate } => WireEvent::Candidate {
                peer: peer(*p)?,
                candidate: WireCandidate::of(candidate),
            },
            SfuEvent::Stats(s) => WireEvent::Stats {
                peer: peer(s.peer)?,
                bitrate_in_bps: s.bitrate_in_bps,
                bitrate_out_bps: s.bitrate_out_bps,
                loss_in: s.loss_in,
                jitter_in_us: u64::try_from(s.jitter_in.as_micros()).unwrap_or(u64::MAX),
                packets_out: s.packets_out,
                rtt_us: s
                    .rtt
                    .map(|r| u64::try_from(r.as_micros()).unwrap_or(u64::MAX)),
                loss_out: s.loss_out,
                bandwidth_out_bps: s.bandwidth_out_bps,
            },
            _ => return None,
        })
    }

    /// The event as the home's dispatcher routes it.
    pub fn event(self) -> SfuEvent {
        match self {
            WireEvent::Connected(p) => SfuEvent::PeerConnected(PeerId(p)),
            WireEvent::Lost(p) => {
                SfuEvent::PeerDisconnected(PeerId(p), DisconnectReason::ConnectionLost)
            }
            WireEvent::Closed(p) => SfuEvent::PeerDisconnected(PeerId(p), DisconnectReason::Closed),
            WireEvent::Failed(p) => SfuEvent::PeerFailed(PeerId(p)),
            WireEvent::Published {
                peer,
                track,
                video,
                rids,
            } => SfuEvent::TrackPublished {
                peer: PeerId(peer),
                track: StreamId(track),
                kind: kind_of(video),
                rids,
            },
            WireEvent::Unpublished { peer, track } => SfuEvent::TrackUnpublished {
                peer: PeerId(peer),
                track: StreamId(track),
            },
            WireEvent::Speaker { group, peer, track } => SfuEvent::ActiveSpeakerChanged {
                group: SpeakerGroup(group),
                peer: peer.map(PeerId),
                track: track.map(StreamId),
            },
            WireEvent::Candidate { peer, candidate } => SfuEvent::LocalCandidate {
                peer: PeerId(peer),
                candidate: candidate.ice(),
            },
            WireEvent::Stats {
                peer,
                bitrate_in_bps,
                bitrate_out_bps,
                loss_in,
                jitter_in_us,
                packets_out,
                rtt_us,
                loss_out,
                bandwidth_out_bps,
            } => {
                let mut s = PeerStats::new(PeerId(peer));
                s.bitrate_in_bps = bitrate_in_bps;
                s.bitrate_out_bps = bitrate_out_bps;
                s.loss_in = loss_in;
                s.jitter_in = Duration::from_micros(jitter_in_us);
                s.packets_out = packets_out;
                s.rtt = rtt_us.map(Duration::from_micros);
                s.loss_out = loss_out;
                s.bandwidth_out_bps = bandwidth_out_bps;
                SfuEvent::Stats(s)
            }
        }
    }
}
