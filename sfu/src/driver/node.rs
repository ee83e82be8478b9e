//! The relay between SFU nodes (docs/sfu-driver.md, "The relay between nodes"): the
//! media workers' mirror protocol one level up, as SRTP over UDP on the media port.
//!
//! A stream published on one node (its *origin*) is **exported** to every node with
//! halls showing it: each packet of the layers a node watches goes there ONCE, as an
//! SRTP packet (AEAD_AES_128_GCM, our own [`Context`]s: one for what this node sends
//! to the other, one for what it receives from it, keyed by the caller — the cluster
//! carries the keys over NATS). The watching node keeps a route for it whose origin is
//! that node ([`Origin::Node`](super::publish::Origin)); its slots, and the mirrors of
//! its other workers, are fed from it as from a local publisher.
//!
//! **The wire.** Media: RTP with the relay's own SSRC per stream and layer
//! ([`relay_ssrc`]: the origin's stream id and the layer), the relay's own sequence
//! number (the publisher's spacing, renumbered so no SRTP index is used twice under a
//! key: `numbers.rs`), the publisher's timestamp, marker and payload; no extensions. Feedback: SRTCP on the same
//! link, [`FEEDBACK_SSRC`] as sender — watcher → origin a NACK for relay packets lost
//! on the way (answered from a [`History`] of 512 packets per relayed layer) and a PLI
//! for a layer (already throttled by the watcher's route); origin → watcher a BYE when
//! the stream is unpublished.
//!
//! **Datagrams from a linked node** reach [`Nodes::read`] before any hall's demux:
//! SRTP/SRTCP (RFC 7983: first byte 128–191) is authenticated and decrypted, anything
//! else is dropped; a datagram failing authentication is dropped and counted.

mod api;
mod numbers;
mod repair;
mod route;

pub use api::{NodeFigures, NodeKeys, RemoteStream, SrtpKey};

use numbers::Numbers;
use repair::{Gaps, History};
pub(super) use route::export;

use super::machine::Transmit;

use crate::forwarder::IncomingPacket;
use crate::{SfuError, StreamId};
use bytes::{Bytes, BytesMut};
use rtc::rtcp;
use rtc::rtcp::goodbye::Goodbye;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::{
    nack_pairs_from_sequence_numbers, TransportLayerNack,
};
use rtc::shared::marshal::{MarshalSize, Unmarshal};
use rtc::srtp::context::Context;
use rtc::srtp::option::{srtcp_replay_protection, srtp_replay_protection};
use rtc::srtp::protection_profile::ProtectionProfile;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

/// The SSRC of the RTCP a node sends on a relay link (no media SSRC is 1: stream ids
/// start at 1, so the lowest relay SSRC is 4).
pub const FEEDBACK_SSRC: u32 = 1;

/// Packets of one SSRC the receiving side accepts out of order (and a repair up to
/// that late); beyond it SRTP's replay check refuses them.
const REPLAY_WINDOW: usize = 1024;

/// The relay SSRC of `layer` of the origin's `stream` (the low 30 bits of its id).
pub fn relay_ssrc(stream: StreamId, layer: u8) -> u32 {
    ((stream.0 as u32) << 2) | u32::from(layer & 3)
}

/// The origin's stream (low 30 bits) and layer a relay SSRC names.
pub fn relay_source(ssrc: u32) -> (u32, u8) {
    (ssrc >> 2, (ssrc & 3) as u8)
}

/// What a datagram from a linked node carried.
pub enum Inbound {
    /// A media packet of a watched stream (the local id), its layer and the packet
    /// (keyframe not yet classified).
    Media(StreamId, IncomingPacket),
    /// Feedback (watcher → origin) or BYE (origin → watcher).
    Rtcp(Vec<Box<dyn rtcp::Packet>>),
}

/// The relay with one other node.
struct Link {
    send: Context,
    receive: Context,
    /// Origin side: what was sent per relay SSRC, for NACKs.
    sent: HashMap<u32, History>,
    /// Origin side: the relay's numbering per relay SSRC (for the link's life).
    numbers: HashMap<u32, Numbers>,
    /// Watcher side: the origin's stream id (low 30 bits) → the local stream.
    watched: HashMap<u32, StreamId>,
    /// Watcher side: gaps per relay SSRC.
    gaps: HashMap<u32, Gaps>,
}

impl Link {
    fn new(keys: &NodeKeys) -> Result<Self, SfuError> {
        let provider = rtc::crypto::default_provider().map_err(SfuError::webrtc)?;
        let context = |k: &SrtpKey, replay: bool| {
            let (rtp, rtcp) = match replay {
                true => (
                    Some(srtp_replay_protection(REPLAY_WINDOW)),
                    Some(srtcp_replay_protection(REPLAY_WINDOW)),
                ),
                false => (None, None),
            };
            let profile = ProtectionProfile::AeadAes128Gcm;
            Context::new(&k.key, &k.salt, profile, rtp, rtcp, provider.crypto())
                .map_err(SfuError::webrtc)
        };
        Ok(Self {
            send: context(&keys.send, false)?,
            receive: context(&keys.receive, true)?,
            sent: HashMap::new(),
            numbers: HashMap::new(),
            watched: HashMap::new(),
            gaps: HashMap::new(),
        })
    }

    /// Encrypts `packet` as relay SSRC `ssrc`.
    fn seal(&mut self, ssrc: u32, packet: &IncomingPacket) -> Option<BytesMut> {
        let h = &packet.header;
        let header = rtc::rtp::header::Header {
            version: 2,
            marker: h.marker,
            payload_type: h.payload_type,
            sequence_number: h.sequence_number,
            timestamp: h.timestamp,
            ssrc,
            ..Default::default()
        };
        let plain = crate::rtp::RtpHeader { ssrc, ..*h }.write(&packet.payload);
        match self.send.encrypt_rtp_with_header(&plain, &header) {
            Ok(sealed) => Some(sealed),
            Err(e) => {
                tracing::debug!(error = %e, "sfu: relay packet not encrypted");
                None
            }
        }
    }
}

/// Every relay link of a worker, and what it has to send.
#[derive(Default)]
pub struct Nodes {
    links: HashMap<SocketAddr, Link>,
    /// Datagrams to other nodes, sent first by `poll_transmit`.
    pub(super) out: VecDeque<Transmit>,
    pub figures: NodeFigures,
    /// Sequence numbers of one NACK (reused).
    lost: Vec<u16>,
}

impl Nodes {
    /// (Re)keys the link with the node at `addr`: a new session, what was sent or
    /// missed on the old one is forgotten (the streams watched are kept).
    pub fn link(&mut self, addr: SocketAddr, keys: &NodeKeys) -> Result<(), SfuError> {
        let mut link = Link::new(keys)?;
        if let Some(old) = self.links.remove(&addr) {
            link.watched = old.watched;
        }
        self.links.insert(addr, link);
        Ok(())
    }

    /// Drops the link with `addr`: false if there was none.
    pub fn unlink(&mut self, addr: SocketAddr) -> bool {
        self.links.remove(&addr).is_some()
    }

    /// Whether `addr` is a linked node's media address.
    pub fn is_link(&self, addr: SocketAddr) -> bool {
        !self.links.is_empty() && self.links.contains_key(&addr)
    }

    /// Sends `packet` to node `to` (once; kept for its NACKs).
    pub fn send_media(&mut self, to: SocketAddr, packet: &IncomingPacket) {
        let Some(link) = self.links.get_mut(&to) else {
            return;
        };
        let ssrc = relay_ssrc(packet.source, packet.layer);
        let mut packet = packet.clone();
        let h = &mut packet.header;
        h.sequence_number = link
            .numbers
            .entry(ssrc)
            .or_default()
            .relay(h.sequence_number, h.timestamp);
        let Some(contents) = link.seal(ssrc, &packet) else {
            return;
        };
        link.sent.entry(ssrc).or_default().keep(&packet);
        self.out.push_back(Transmit { to, contents });
        self.figures.packets_out += 1;
    }

    /// Sends RTCP `packets` to node `to`.
    fn send_rtcp(&mut self, to: SocketAddr, packets: &[Box<dyn rtcp::Packet>]) {
        let Some(link) = self.links.get_mut(&to) else {
            return;
        };
        let sealed = rtcp::packet::marshal(packets).map(|plain| link.send.encrypt_rtcp(&plain));
        match sealed {
            Ok(Ok(contents)) => self.out.push_back(Transmit { to, contents }),
            Ok(Err(e)) | Err(e) => tracing::debug!(error = %e, "sfu: relay RTCP not sent"),
        }
    }

    /// Asks the origin `to` for a keyframe of `layer` of its `stream`.
    pub fn send_pli(&mut self, to: SocketAddr, remote: StreamId, layer: u8) {
        let pli = PictureLossIndication {
            sender_ssrc: FEEDBACK_SSRC,
            media_ssrc: relay_ssrc(remote, layer),
        };
        self.send_rtcp(to, &[Box::new(pli)]);
        self.figures.plis_sent += 1;
    }

    /// Tells watcher `to` that `stream` is gone (every layer), and forgets what was
    /// sent of it.
    pub fn goodbye(&mut self, to: SocketAddr, stream: StreamId) {
        let sources: Vec<u32> = (0..3).map(|l| relay_ssrc(stream, l)).collect();
        if let Some(link) = self.links.get_mut(&to) {
            for s in &sources {
                link.sent.remove(s);
            }
        }
        let bye = Goodbye {
            sources,
            reason: Bytes::from_static(b"unpublished"),
        };
        self.send_rtcp(to, &[Box::new(bye)]);
    }

    /// Stops keeping what was sent of `layer` of `stream` to `to` (no longer exported).
    pub fn forget_sent(&mut self, to: SocketAddr, stream: StreamId, layer: u8) {
        if let Some(link) = self.links.get_mut(&to) {
            link.sent.remove(&relay_ssrc(stream, layer));
        }
    }

    /// Sends again what watcher `from` reports lost, from the history.
    pub fn answer_nack(&mut self, from: SocketAddr, nack: &TransportLayerNack) {
        let Some(link) = self.links.get_mut(&from) else {
            return;
        };
        let Some(history) = link.sent.get(&nack.media_ssrc) else {
            return;
        };
        let mut again = Vec::new();
        for pair in &nack.nacks {
            again.extend(pair.into_iter().filter_map(|seq| history.get(seq).cloned()));
        }
        for packet in again {
            if let Some(contents) = link.seal(nack.media_ssrc, &packet) {
                self.out.push_back(Transmit { to: from, contents });
                self.figures.retransmitted += 1;
            }
        }
    }

    /// `from`'s stream `remote` arrives here as local stream `stream`.
    pub fn watch(&mut self, from: SocketAddr, remote: StreamId, stream: StreamId) {
        if let Some(link) = self.links.get_mut(&from) {
            link.watched.insert(relay_ssrc(remote, 0) >> 2, stream);
        }
    }

    /// The local stream `from`'s stream `remote` arrives as, if watched.
    pub fn watched(&self, from: SocketAddr, remote: StreamId) -> Option<StreamId> {
        let link = self.links.get(&from)?;
        link.watched.get(&(relay_ssrc(remote, 0) >> 2)).copied()
    }

    /// Forgets the watched stream named by relay SSRC `ssrc` of `from`: the local
    /// stream it arrived as.
    pub fn unwatch(&mut self, from: SocketAddr, ssrc: u32) -> Option<StreamId> {
        let link = self.links.get_mut(&from)?;
        let (remote, _) = relay_source(ssrc);
        let stream = link.watched.remove(&remote)?;
        link.gaps.retain(|&s, _| relay_source(s).0 != remote);
        Some(stream)
    }

    /// Forgets every watched stream that arrives as local `stream`.
    pub fn forget_local(&mut self, stream: StreamId) {
        for link in self.links.values_mut() {
            let remotes: Vec<u32> = link
                .watched
                .iter()
                .filter(|(_, &s)| s == stream)
                .map(|(&r, _)| r)
                .collect();
            for r in remotes {
                link.watched.remove(&r);
                link.gaps.retain(|&s, _| relay_source(s).0 != r);
            }
        }
    }

    /// Authenticates and decrypts a datagram from linked node `from` at `now`.
    pub fn read(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) -> Option<Inbound> {
        let link = self.links.get_mut(&from)?;
        let (Some(&first), Some(&second)) = (datagram.first(), datagram.get(1)) else {
            self.figures.dropped += 1;
            return None;
        };
        if !(128..=191).contains(&first) {
            self.figures.dropped += 1; // not SRTP/SRTCP (RFC 7983)
            return None;
        }
        if (192..=223).contains(&second) {
            let plain = match link.receive.decrypt_rtcp(datagram) {
                Ok(p) => p,
                Err(e) => {
                    self.refused(&e);
                    return None;
                }
            };
            let mut buf = plain.freeze();
            return match rtcp::packet::unmarshal(&mut buf) {
                Ok(packets) => Some(Inbound::Rtcp(packets)),
                Err(_) => {
                    self.figures.dropped += 1;
                    None
                }
            };
        }
        let mut head = datagram;
        let Ok(header) = rtc::rtp::header::Header::unmarshal(&mut head) else {
            self.figures.dropped += 1;
            return None;
        };
        let (remote, layer) = relay_source(header.ssrc);
        let Some(&stream) = link.watched.get(&remote) else {
            self.figures.dropped += 1;
            return None;
        };
        let plain = match link.receive.decrypt_rtp_with_header(datagram, &header) {
            Ok(p) => p.freeze(),
            Err(e) => {
                self.refused(&e);
                return None;
            }
        };
        let start = header.marshal_size();
        let gaps = link.gaps.entry(header.ssrc).or_default();
        if gaps.record(now, header.sequence_number) {
            self.figures.repaired += 1;
        }
        self.figures.packets_in += 1;
        let packet = IncomingPacket {
            source: stream,
            layer,
            keyframe: false,
            header: crate::rtp::RtpHeader {
                marker: header.marker,
                payload_type: header.payload_type,
                sequence_number: header.sequence_number,
                timestamp: header.timestamp,
                ssrc: header.ssrc,
            },
            payload: plain.slice(start.min(plain.len())..),
        };
        Some(Inbound::Media(stream, packet))
    }

    /// A datagram SRTP refused: a replay is dropped, anything else failed
    /// authentication.
    fn refused(&mut self, e: &rtc::shared::error::Error) {
        use rtc::shared::error::Error;
        match e {
            Error::SrtpSsrcDuplicated(..) | Error::SrtcpSsrcDuplicated(..) => {
                self.figures.dropped += 1;
            }
            _ => {
                tracing::debug!(error = %e, "sfu: relay datagram failed authentication");
                self.figures.auth_failures += 1;
            }
        }
    }

    /// Asks origins for the relay packets whose time to ask has come.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut nacks = Vec::new();
        for (&addr, link) in &mut self.links {
            for (&ssrc, gaps) in &mut link.gaps {
                self.lost.clear();
                gaps.due(now, &mut self.lost);
                if !self.lost.is_empty() {
                    let nack = TransportLayerNack {
                        sender_ssrc: FEEDBACK_SSRC,
                        media_ssrc: ssrc,
                        nacks: nack_pairs_from_sequence_numbers(&self.lost),
                    };
                    nacks.push((addr, nack));
                }
            }
        }
        for (addr, nack) in nacks {
            self.send_rtcp(addr, &[Box::new(nack)]);
            self.figures.nacks_sent += 1;
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has a NACK to send.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let gaps = self.links.values().flat_map(|l| l.gaps.values());
        gaps.filter_map(Gaps::poll_timeout).min()
    }
}
