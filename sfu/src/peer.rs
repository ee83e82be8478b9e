//! One hall's peer connection: codecs, interceptors, sockets, and reading what it publishes.
//!
//! Every connection gets the same [`MediaEngine`] (Opus and VP8, H.264 if configured,
//! with RTX, NACK, FIR and PLI feedback, the simulcast and audio-level header
//! extensions) and the same interceptor chain: the crate's defaults (NACK generator and
//! responder, sender and receiver reports, TWCC receiver) plus
//! [`FeedbackForwarder`], without which a subscriber's PLI, receiver reports and REMB
//! never reach us. mDNS is disabled, sockets bind the configured concrete address.
//!
//! [`PeerHandler`] receives the connection's events on the `webrtc` driver task and only
//! forwards them: state changes to the owner task's control channel, each remote track
//! to a reader task of its own ([`read_track`]) that turns `TrackRemote::poll` into
//! `MediaIn` messages, layer by layer (one `OnOpen` per simulcast RID).

use crate::config::SfuConfig;
use crate::engine::{Control, MediaIn, TrackCodec};
use crate::event::{MediaKind, PeerId};
use crate::handle::IceCandidate;
use crate::rtcpfwd::{self, FeedbackForwarder};
use crate::{SfuError, StreamId, MAX_LAYER};
use rtc::ice::mdns::MulticastDnsMode;
use rtc::interceptor::{NackGeneratorBuilder, NackResponderBuilder, Slot};
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_rtcp_reports, configure_simulcast_extension_headers, configure_twcc_receiver_only,
};
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use rtc::sdp::SessionDescription;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{mpsc, Notify};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateType, RTCIceGatheringState, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState, Registry, SettingEngineBuilder,
};

/// RTP header extension carrying a microphone's level (RFC 6464), for speaker detection.
pub const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
/// MIME types as `webrtc` spells them.
pub const MIME_OPUS: &str = "audio/opus";
/// VP8.
pub const MIME_VP8: &str = "video/VP8";
/// H.264.
pub const MIME_H264: &str = "video/H264";

/// The codecs and header extensions every connection of this SFU negotiates.
pub fn media_engine(config: &SfuConfig) -> Result<MediaEngine, SfuError> {
    let mut engine = MediaEngine::default();
    let codec = |mime: &str, clock_rate, channels, fmtp: &str, pt| RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: mime.to_owned(),
            clock_rate,
            channels,
            sdp_fmtp_line: fmtp.to_owned(),
            rtcp_feedback: Vec::new(),
        },
        payload_type: pt,
    };
    let opus = codec(MIME_OPUS, 48_000, 2, "minptime=10;useinbandfec=1", 111);
    engine
        .register_codec(opus, RtpCodecKind::Audio)
        .map_err(SfuError::webrtc)?;
    let mut video = vec![
        codec(MIME_VP8, 90_000, 0, "", 96),
        codec("video/rtx", 90_000, 0, "apt=96", 97),
    ];
    if config.codecs.h264 {
        let fmtp = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";
        video.push(codec(MIME_H264, 90_000, 0, fmtp, 102));
        video.push(codec("video/rtx", 90_000, 0, "apt=102", 103));
    }
    for c in video {
        engine
            .register_codec(c, RtpCodecKind::Video)
            .map_err(SfuError::webrtc)?;
    }
    let fir = RTCPFeedback {
        typ: "ccm".to_owned(),
        parameter: "fir".to_owned(),
    };
    engine.register_feedback(fir, RtpCodecKind::Video);
    let level = RTCRtpHeaderExtensionCapability {
        uri: AUDIO_LEVEL_URI.to_owned(),
    };
    engine
        .register_header_extension(level, RtpCodecKind::Audio, None)
        .map_err(SfuError::webrtc)?;
    Ok(engine)
}

/// Packets of each outgoing stream kept for retransmission on a NACK: ~4 s of a
/// 500 kbit/s picture, ~1.7 s at 1.5 Mbit/s — ample for a NACK, which is only worth
/// answering within a few round trips. webrtc's default keeps 1,024 per stream, which
/// with 200+ halls and their receive slots was most of the server's memory.
pub const NACK_BUFFER: u16 = 256;

/// webrtc's default interceptors (NACK generator and responder, RR/SR, simulcast header
/// extensions, TWCC receiver; they also register NACK/PLI feedback and the extensions on
/// `engine`) with a smaller retransmission buffer, plus our feedback forwarder.
pub fn interceptors(engine: &mut MediaEngine) -> Result<Registry, SfuError> {
    for parameter in ["", "pli"] {
        let nack = RTCPFeedback {
            typ: "nack".to_owned(),
            parameter: parameter.to_owned(),
        };
        engine.register_feedback(nack, RtpCodecKind::Video);
    }
    let registry = Registry::new()
        .with(
            Slot::NackResponder,
            NackResponderBuilder::new().with_size(NACK_BUFFER).build(),
        )
        .with(Slot::NackGenerator, NackGeneratorBuilder::new().build());
    configure_simulcast_extension_headers(engine).map_err(SfuError::webrtc)?;
    let registry = configure_twcc_receiver_only(registry, engine).map_err(SfuError::webrtc)?;
    let registry = configure_rtcp_reports(registry);
    Ok(registry.with(Slot::from(rtcpfwd::SLOT), FeedbackForwarder::default()))
}

/// Round-robin position in the configured port range, shared by all connections.
#[derive(Debug, Default)]
pub struct PortCursor(AtomicUsize);

/// Builds a connection bound to `config.bind_ip` (a port of the range, or ephemeral)
/// with `handler` receiving its events; `srtp_replay_window` packets of SRTP replay
/// protection on what it receives (0: none; the test client uses a browser's).
pub async fn build_connection(
    config: &SfuConfig,
    ports: &PortCursor,
    handler: Arc<dyn PeerConnectionEventHandler>,
    srtp_replay_window: usize,
) -> Result<Arc<dyn PeerConnection>, SfuError> {
    let candidates: Vec<u16> = match &config.udp_ports {
        None => vec![0],
        Some(range) => {
            let len = range.clone().count();
            let start = ports.0.fetch_add(1, Ordering::Relaxed);
            (0..len)
                .filter_map(|i| range.clone().nth((start + i) % len))
                .collect()
        }
    };
    let mut last_error = String::from("empty port range");
    for port in candidates {
        let mut engine = media_engine(config)?;
        let registry = interceptors(&mut engine)?;
        let mut settings = SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .with_srtp_replay_protection_window(srtp_replay_window);
        if !config.announced_ips.is_empty() {
            let ips = config
                .announced_ips
                .iter()
                .map(ToString::to_string)
                .collect();
            settings = settings.with_nat_1to1_ips(ips, RTCIceCandidateType::Host);
        }
        let built = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(engine)
            .with_setting_engine(settings.build())
            .with_interceptor_registry(registry)
            .with_handler(Arc::clone(&handler))
            .with_udp_addrs(vec![SocketAddr::new(config.bind_ip, port)])
            .build()
            .await;
        match built {
            Ok(pc) => return Ok(Arc::new(pc)),
            Err(e) => last_error = format!("{}:{port}: {e}", config.bind_ip),
        }
    }
    Err(SfuError::NoPort(last_error))
}

/// A track the offer announces: its `msid` track id and its simulcast RIDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedTrack {
    /// The `a=msid` track id (`None` without msid).
    pub track_id: Option<String>,
    /// `a=rid:<id> send` in offer order, which browsers give from low to high.
    pub rids: Vec<String>,
}

/// The sending tracks an offer announces.
pub fn offered_tracks(sdp: &SessionDescription) -> Vec<OfferedTrack> {
    sdp.media_descriptions
        .iter()
        .filter(|m| m.attribute("sendonly").is_some() || m.attribute("sendrecv").is_some())
        .map(|m| {
            let mut track_id = None;
            let mut rids = Vec::new();
            for a in &m.attributes {
                let value = a.value.as_deref().unwrap_or("");
                match a.key.as_str() {
                    "msid" => track_id = value.split_whitespace().nth(1).map(str::to_owned),
                    "rid" => {
                        let mut parts = value.split_whitespace();
                        if let (Some(id), Some("send")) = (parts.next(), parts.next()) {
                            rids.push(id.to_owned());
                        }
                    }
                    _ => {}
                }
            }
            OfferedTrack { track_id, rids }
        })
        .collect()
}

/// The simulcast layer of `rid` among a track's `rids` (low to high); 0 without RID.
pub fn layer_of_rid(rid: Option<&str>, rids: &[String]) -> u8 {
    let Some(rid) = rid.filter(|r| !r.is_empty()) else {
        return 0;
    };
    let position = rids.iter().position(|r| r == rid).unwrap_or(0);
    u8::try_from(position).unwrap_or(MAX_LAYER).min(MAX_LAYER)
}

/// Receives one connection's events on the `webrtc` driver task and hands them off.
pub struct PeerHandler {
    /// The hall.
    pub peer: PeerId,
    /// To the owner task: state changes and new tracks.
    pub control: mpsc::UnboundedSender<Control>,
    /// To the owner task: media, in order per track.
    pub media: mpsc::Sender<MediaIn>,
    /// Allocates track ids, unique per SFU.
    pub track_ids: Arc<AtomicU64>,
    /// Signalled when ICE gathering is complete.
    pub gathered: Arc<Notify>,
    /// What the hall's latest offer announced (a renegotiation replaces it).
    pub offered: OfferedTracks,
    /// Whether to report each gathered candidate to the owner task (trickle).
    pub trickle: bool,
}

/// The tracks of a connection's latest offer, shared by its handler and its
/// renegotiations; locked only briefly, never across an `.await`.
pub type OfferedTracks = Arc<Mutex<Vec<OfferedTrack>>>;

/// The offered tracks, even if a thread panicked while holding the lock.
pub fn offered_now(offered: &OfferedTracks) -> std::sync::MutexGuard<'_, Vec<OfferedTrack>> {
    offered
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The end-of-candidates marker, as a browser sends it.
pub fn end_of_candidates() -> IceCandidate {
    IceCandidate {
        sdp_mline_index: Some(0),
        ..IceCandidate::default()
    }
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for PeerHandler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.notify_one();
            if self.trickle {
                let end = Control::LocalCandidate(self.peer, end_of_candidates());
                let _ = self.control.send(end);
            }
        }
    }

    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if !self.trickle {
            return;
        }
        match event.candidate.to_json() {
            // One BUNDLE transport: the first m-line's; `sdp_mid` is left to the index
            // (the crate's own `""` matches no m-line in a browser).
            Ok(init) => {
                let candidate = IceCandidate {
                    candidate: init.candidate,
                    sdp_mid: None,
                    sdp_mline_index: Some(0),
                    username_fragment: None,
                };
                let _ = self
                    .control
                    .send(Control::LocalCandidate(self.peer, candidate));
            }
            Err(e) => tracing::debug!(peer = ?self.peer, error = %e, "unusable local candidate"),
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.control.send(Control::State(self.peer, state));
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let id = StreamId(self.track_ids.fetch_add(1, Ordering::Relaxed));
        let kind = match track.kind().await {
            RtpCodecKind::Audio => MediaKind::Audio,
            _ => MediaKind::Video,
        };
        let track_id = track.track_id().await;
        let rids = offered_now(&self.offered)
            .iter()
            .find(|t| t.track_id.as_deref() == Some(track_id.as_str()))
            .map(|t| t.rids.clone())
            .unwrap_or_default();
        let added = Control::TrackAdded {
            peer: self.peer,
            id,
            kind,
            codec: negotiated_codec(track.as_ref()).await,
            rids: rids.clone(),
            remote: Arc::clone(&track),
        };
        if self.control.send(added).is_ok() {
            tokio::spawn(read_track(id, track, rids, self.media.clone()));
        }
    }
}

/// The codec of a remote track, as its first packet's payload type resolved it (the
/// `webrtc` driver fills the track's codings before `on_track`); `Other` if unknown.
async fn negotiated_codec(track: &dyn TrackRemote) -> TrackCodec {
    track
        .codings()
        .await
        .iter()
        .map(|c| TrackCodec::from_mime(&c.codec.mime_type))
        .find(|&c| c != TrackCodec::Other)
        .unwrap_or(TrackCodec::Other)
}

/// Reads one remote track until it ends, sending its layers' packets to the owner task.
pub async fn read_track(
    id: StreamId,
    track: Arc<dyn TrackRemote>,
    rids: Vec<String>,
    media: mpsc::Sender<MediaIn>,
) {
    let mut layers: Vec<(u32, u8)> = Vec::new(); // (ssrc, layer): at most three
    while let Some(event) = track.poll().await {
        let message = match event {
            TrackRemoteEvent::OnOpen(init) => {
                let layer = layer_of_rid(init.rid.as_deref(), &rids);
                layers.retain(|&(s, _)| s != init.ssrc);
                layers.push((init.ssrc, layer));
                let codec = match track.codec(init.ssrc).await {
                    Some(c) => TrackCodec::from_mime(&c.mime_type),
                    None => TrackCodec::Other,
                };
                MediaIn::LayerOpen {
                    track: id,
                    layer,
                    ssrc: init.ssrc,
                    codec,
                }
            }
            TrackRemoteEvent::OnRtpPacket(packet) => {
                let ssrc = packet.header.ssrc;
                let layer = layers
                    .iter()
                    .find(|&&(s, _)| s == ssrc)
                    .map_or(0, |&(_, l)| l);
                MediaIn::Packet {
                    track: id,
                    layer,
                    at: Instant::now(),
                    packet,
                }
            }
            TrackRemoteEvent::OnEnded => break,
            _ => continue,
        };
        if media.send(message).await.is_err() {
            return; // the owner task stopped
        }
    }
    let _ = media.send(MediaIn::Ended { track: id }).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rids_map_to_layers_in_offer_order() {
        let rids: Vec<String> = ["q", "h", "f"].map(String::from).to_vec();
        assert_eq!(layer_of_rid(Some("q"), &rids), 0);
        assert_eq!(layer_of_rid(Some("h"), &rids), 1);
        assert_eq!(layer_of_rid(Some("f"), &rids), 2);
        assert_eq!(layer_of_rid(None, &rids), 0);
        assert_eq!(layer_of_rid(Some("x"), &rids), 0);
        let many: Vec<String> = (0..6).map(|i| i.to_string()).collect();
        assert_eq!(layer_of_rid(Some("5"), &many), MAX_LAYER);
    }

    #[test]
    fn offered_tracks_reads_msid_and_send_rids() {
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\n\
            a=msid:stream cam\r\na=rid:q send\r\na=rid:h send\r\na=rid:f send\r\n\
            a=simulcast:send q;h;f\r\n\
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=recvonly\r\n";
        let parsed = SessionDescription::unmarshal(&mut std::io::Cursor::new(sdp.as_bytes()))
            .expect("a valid SDP written above");
        let tracks = offered_tracks(&parsed);
        assert_eq!(
            tracks,
            [OfferedTrack {
                track_id: Some("cam".into()),
                rids: vec!["q".into(), "h".into(), "f".into()],
            }]
        );
    }

    #[test]
    fn media_engine_builds_with_and_without_h264() {
        let mut config = SfuConfig::default();
        assert!(media_engine(&config).is_ok());
        config.codecs.h264 = false;
        let mut engine = media_engine(&config).expect("static codec list");
        assert!(interceptors(&mut engine).is_ok());
    }
}
