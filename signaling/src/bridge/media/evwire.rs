//! The remote SFU handle's events on the wire (`hoinghi.media.<home>.ev`): a media node's
//! SFU events about the peers it holds for a home room, peers and speaker groups named by
//! the home's ids.

use serde::{Deserialize, Serialize};
use sfu::{DisconnectReason, MediaKind, PeerId, PeerStats, SfuEvent, SpeakerGroup, StreamId};
use std::time::Duration;

use super::cmdwire::{kind_of, WireCandidate};

/// Where media nodes send `home`'s rooms the events of their peers.
pub(crate) fn ev_subject(home: &str) -> String {
    format!("hoinghi.media.{home}.ev")
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
    /// Closed by the media node (`close_peer`).
    Dropped(u64),
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
            SfuEvent::PeerDisconnected(p, DisconnectReason::Closed) => WireEvent::Closed(peer(*p)?),
            SfuEvent::PeerDisconnected(p, DisconnectReason::ClosedByServer) => {
                WireEvent::Dropped(peer(*p)?)
            }
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
            WireEvent::Dropped(p) => {
                SfuEvent::PeerDisconnected(PeerId(p), DisconnectReason::ClosedByServer)
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use sfu::IceCandidate;

    #[test]
    fn a_media_nodes_events_reach_the_home_under_its_ids() {
        // The media node's peer 7 is the home's 70; its group 3 the home's 30.
        let peer = |p: PeerId| (p == PeerId(7)).then_some(70);
        let group = |g: SpeakerGroup| (g == SpeakerGroup(3)).then_some(30);
        let mut stats = PeerStats::new(PeerId(7));
        stats.packets_out = 12;
        stats.rtt = Some(Duration::from_millis(25));
        let cases = [
            (
                SfuEvent::PeerConnected(PeerId(7)),
                SfuEvent::PeerConnected(PeerId(70)),
            ),
            (
                SfuEvent::PeerDisconnected(PeerId(7), DisconnectReason::ClosedByServer),
                SfuEvent::PeerDisconnected(PeerId(70), DisconnectReason::ClosedByServer),
            ),
            (
                SfuEvent::TrackPublished {
                    peer: PeerId(7),
                    track: StreamId(5),
                    kind: MediaKind::Video,
                    rids: vec!["q".into()],
                },
                SfuEvent::TrackPublished {
                    peer: PeerId(70),
                    track: StreamId(5),
                    kind: MediaKind::Video,
                    rids: vec!["q".into()],
                },
            ),
            (
                SfuEvent::ActiveSpeakerChanged {
                    group: SpeakerGroup(3),
                    peer: Some(PeerId(7)),
                    track: Some(StreamId(6)),
                },
                SfuEvent::ActiveSpeakerChanged {
                    group: SpeakerGroup(30),
                    peer: Some(PeerId(70)),
                    track: Some(StreamId(6)),
                },
            ),
            (
                SfuEvent::LocalCandidate {
                    peer: PeerId(7),
                    candidate: IceCandidate {
                        candidate: "candidate:1 1 udp 1 10.0.0.2 4000 typ host".into(),
                        ..IceCandidate::default()
                    },
                },
                SfuEvent::LocalCandidate {
                    peer: PeerId(70),
                    candidate: IceCandidate {
                        candidate: "candidate:1 1 udp 1 10.0.0.2 4000 typ host".into(),
                        ..IceCandidate::default()
                    },
                },
            ),
        ];
        for (event, at_home) in cases {
            let wire = WireEvent::of(&event, peer, group).expect("a home's peer");
            let text = serde_json::to_vec(&wire).expect("encoded");
            let back: WireEvent = serde_json::from_slice(&text).expect("decoded");
            assert_eq!(back.event(), at_home);
        }
        let wire = WireEvent::of(&SfuEvent::Stats(stats), peer, group).expect("stats");
        let SfuEvent::Stats(back) = wire.event() else {
            panic!("stats")
        };
        assert_eq!(
            (back.peer, back.packets_out, back.rtt),
            (PeerId(70), 12, stats.rtt)
        );
        // Another meeting's peer on the media node is not the home's.
        assert!(WireEvent::of(&SfuEvent::PeerFailed(PeerId(8)), peer, group).is_none());
    }
}
