//! One hall's sans-IO peer connection on the media port: built from its offer, answered
//! with the port's single host candidate, and the receive slots the answer negotiated.
//!
//! The codecs and interceptors are [`crate::driver::peer::media_engine`] and
//! [`crate::driver::peer::interceptors`]. The slots' `sendonly` transceivers ([`plan`]) are added before the offer is applied,
//! so the offer's `recvonly` m-lines bind to them in order. Nothing here touches a socket: the
//! connection's datagrams come and go through the driver.

use super::intercept::Moved;
use super::nack::NackCounts;
use super::plan;
use super::stats::Outgoing;
use crate::config::SfuConfig;
use crate::driver::negotiate::{extmap_id, receive_lines};
use crate::driver::peer::TrackCodec;
use crate::driver::peer::{self, OfferedTrack, AUDIO_LEVEL_URI};
use crate::event::{MediaKind, PeerAnswer, PeerId, SlotInfo};
use crate::{SfuError, StreamId};
use rtc::crypto::SignatureScheme;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::peer_connection::certificate::{CertificateParams, RTCCertificate};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, RTCIceCandidate, RTCIceCandidateInit,
};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp_transceiver::RTCRtpReceiverId;
use std::net::SocketAddr;
use std::time::Instant;

/// A negotiated stream from the SFU to the hall (one `recvonly` m-line of its offer).
#[derive(Debug, Clone)]
pub struct OutSlot {
    /// What the hall knows of it.
    pub info: SlotInfo,
    /// The payload type the answer gave each of the slot's codecs (Opus; VP8, H.264).
    pub payload_types: Vec<(TrackCodec, u8)>,
}

/// A stream the hall publishes, known from its first packet (`OnOpen`).
#[derive(Debug, Clone, Copy)]
pub struct InTrack {
    /// The SSRC its packets carry.
    pub ssrc: u32,
    /// Audio or video.
    pub kind: MediaKind,
    /// Its receiver, through which keyframe requests go back to the hall.
    pub receiver: RTCRtpReceiverId,
    /// The SFU-wide id subscribers name it by (shared by a track's simulcast layers).
    pub stream: StreamId,
    /// Its simulcast layer (0 without simulcast), from the RID of its `OnOpen`.
    pub layer: u8,
    /// The codec negotiated for it (from its receiver's codings at `OnOpen`).
    pub codec: TrackCodec,
}

/// One hall's connection and what the driver keeps about it.
pub struct Conn {
    /// The caller's name for the hall.
    pub id: PeerId,
    /// The sans-IO connection: ICE, DTLS, SRTP, interceptors.
    pub pc: RTCPeerConnection,
    /// Our ICE username fragment, by which the demultiplexer finds the connection.
    pub ufrag: String,
    /// Receive slots, indexed by [`SlotId`].
    pub slots: Vec<OutSlot>,
    /// Published streams, a handful: a vector beats a map.
    pub tracks: Vec<InTrack>,
    /// When `pc` next wants `handle_timeout` (cached; refreshed after a turn that fed it
    /// something, or whose sending moved it).
    pub timeout: Option<Instant>,
    /// Fed this turn something other than forwarded RTP (a datagram, a timeout, a
    /// command, RTCP): [`timeout`](Self::timeout) must be refreshed.
    pub fed: bool,
    /// Set by its interceptors when sending moved their timeout.
    pub deadline: Moved,
    /// Whether the connection reached `Connected`.
    pub connected: bool,
    /// Its published streams' track ids (from their `OnOpen`), to tell which ones a
    /// renegotiation removed.
    pub track_ids: Vec<(StreamId, String)>,
    /// Our candidates (`candidate:…`), for trickling them too.
    pub candidates: Vec<String>,
    /// The tracks its offer announced (msid and simulcast RIDs, low to high).
    pub offered: Vec<OfferedTrack>,
    /// What we send it and what it reports about that.
    pub out: Outgoing,
    /// The offer's id of the RFC 6464 audio level extension, read from its audio.
    pub audio_level_id: Option<u8>,
}

impl Conn {
    /// The published stream whose packets carry `ssrc`.
    pub fn track(&self, ssrc: u32) -> Option<&InTrack> {
        self.tracks.iter().find(|t| t.ssrc == ssrc)
    }
}

/// The `a=ice-ufrag` of an SDP (the first one; a bundled answer has one value).
pub(super) fn ice_ufrag(sdp: &str) -> Option<&str> {
    sdp.lines()
        .find_map(|l| l.trim_end().strip_prefix("a=ice-ufrag:"))
}

impl OutSlot {
    /// The payload type of `codec` on this slot, if its m-line negotiated it.
    pub fn payload_type(&self, codec: TrackCodec) -> Option<u8> {
        self.payload_types
            .iter()
            .find(|(c, _)| *c == codec)
            .map(|&(_, pt)| pt)
    }
}

/// A host candidate on `addr` (UDP), as `add_local_candidate` takes it.
pub(crate) fn host_candidate(addr: SocketAddr) -> Result<RTCIceCandidateInit, SfuError> {
    let host = CandidateHostConfig {
        base_config: CandidateConfig {
            network: "udp".to_owned(),
            address: addr.ip().to_string(),
            port: addr.port(),
            component: 1,
            ..Default::default()
        },
        ..Default::default()
    }
    .new_candidate_host()
    .map_err(SfuError::webrtc)?;
    RTCIceCandidate::from(&host)
        .to_json()
        .map_err(SfuError::webrtc)
}

/// The host candidates of the media port: one per `advertised` address (`bind_ip`, or
/// the announced public addresses), all on the port's number.
fn add_host_candidates(
    pc: &mut RTCPeerConnection,
    advertised: &[SocketAddr],
) -> Result<Vec<String>, SfuError> {
    let mut added = Vec::new();
    for &addr in advertised {
        let candidate = host_candidate(addr)?;
        added.push(candidate.candidate.clone());
        pc.add_local_candidate(candidate)
            .map_err(SfuError::webrtc)?;
    }
    Ok(added)
}

/// Answers the offer already applied to `pc`; returns the answer's SDP and ufrag.
pub fn create_answer(
    pc: &mut RTCPeerConnection,
    now: Instant,
) -> Result<(String, String), SfuError> {
    let invalid = |e: rtc::shared::error::Error| SfuError::InvalidSdp(e.to_string());
    let answer = pc.create_answer(None).map_err(invalid)?;
    // Applying our answer starts the offer's tracks: an offer whose sending m-lines
    // name no SSRC and no RID fails here (found by the sdp_offer fuzz target).
    pc.set_local_description(now, answer).map_err(invalid)?;
    let sdp = pc
        .local_description()
        .ok_or_else(|| SfuError::Webrtc("no local description after answering".into()))?
        .sdp;
    // No ufrag: the offer left nothing to negotiate (no usable m-line).
    let ufrag = ice_ufrag(&sdp)
        .ok_or_else(|| SfuError::InvalidSdp("the offer has no usable media section".into()))?
        .to_owned();
    Ok((sdp, ufrag))
}

/// The DTLS certificate every connection of the port presents: one per SFU instance,
/// as Janus and mediasoup do, instead of a key pair generated on the media task for
/// each hall that joins.
pub fn certificate() -> Result<RTCCertificate, SfuError> {
    let provider = rtc::crypto::default_provider().map_err(SfuError::webrtc)?;
    let params =
        CertificateParams::new(vec!["hoinghi-sfu".to_owned()]).map_err(SfuError::webrtc)?;
    let scheme = SignatureScheme::EcdsaP256Sha256;
    RTCCertificate::generate(provider.crypto(), scheme, params).map_err(SfuError::webrtc)
}

/// Where a hall's connection is answered from: the configuration, the port's
/// `advertised` addresses (its only candidates) and its certificate.
pub struct Local<'a> {
    pub config: &'a SfuConfig,
    pub advertised: &'a [SocketAddr],
    pub certificate: &'a RTCCertificate,
    /// The worker's NACK counters, which the connection's interceptors count into.
    pub nacks: &'a NackCounts,
}

/// Builds the hall's connection from `offer` and answers it with the media port's
/// addresses as the only candidates.
pub fn answer(
    id: PeerId,
    offer: String,
    local: &Local<'_>,
    now: Instant,
) -> Result<(Conn, PeerAnswer), SfuError> {
    let config = local.config;
    let (description, parsed) = crate::driver::negotiate::parse_offer(offer)?;
    let wanted = receive_lines(&parsed);
    let offered = peer::offered_tracks(&parsed);
    let audio_level_id = extmap_id(&parsed, AUDIO_LEVEL_URI);
    let mut engine = peer::media_engine(config)?;
    let (registry, deadline) = peer::interceptors(&mut engine, local.nacks)?;
    let settings = SettingEngineBuilder::new()
        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
        .with_srtp_replay_protection_window(0)
        .build();
    let mut pc = RTCPeerConnectionBuilder::new()
        .with_configuration(
            RTCConfigurationBuilder::new()
                .with_certificates(vec![local.certificate.clone()])
                .build(),
        )
        .with_media_engine(engine)
        .with_setting_engine(settings)
        .with_interceptor_registry(registry)
        .build(now)
        .map_err(SfuError::webrtc)?;

    let planned = plan::plan(&mut pc, config, wanted, (0, 0), &[])?;
    pc.set_remote_description(now, description)
        .map_err(|e| SfuError::InvalidSdp(e.to_string()))?;
    let candidates = add_host_candidates(&mut pc, local.advertised)?;
    let (sdp, ufrag) = create_answer(&mut pc, now)?;
    let slots = plan::negotiated(&mut pc, planned, 0);
    let answer = PeerAnswer {
        sdp,
        slots: slots.iter().map(|s| s.info.clone()).collect(),
    };
    let conn = Conn {
        id,
        pc,
        ufrag,
        slots,
        tracks: Vec::new(),
        track_ids: Vec::new(),
        candidates,
        timeout: None,
        fed: true,
        deadline,
        connected: false,
        offered,
        out: Outgoing::default(),
        audio_level_id,
    };
    Ok((conn, answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_ufrag_of_an_answer() {
        let sdp = "v=0\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
                   a=ice-ufrag:AbCd\r\na=ice-pwd:x\r\n";
        assert_eq!(ice_ufrag(sdp), Some("AbCd"));
        assert_eq!(ice_ufrag("v=0\r\n"), None);
    }

    #[test]
    fn rejects_bad_offers_with_an_sdp_error() {
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let config = SfuConfig::default();
        let certificate = certificate().expect("a certificate");
        let local = Local {
            config: &config,
            advertised: &[addr],
            certificate: &certificate,
            nacks: &NackCounts::default(),
        };
        for offer in [
            "",
            "garbage",
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n",
        ] {
            let result = answer(PeerId(1), offer.into(), &local, Instant::now());
            assert!(matches!(result, Err(SfuError::InvalidSdp(_))), "{offer:?}");
        }
    }
}
