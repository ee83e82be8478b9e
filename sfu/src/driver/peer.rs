//! What every hall's connection negotiates: codecs, header extensions and interceptors,
//! the codecs as forwarding sees them, and the tracks an offer announces.
//!
//! Every connection gets the same [`MediaEngine`] (Opus and VP8, H.264 if configured,
//! with RTX, NACK, FIR and PLI feedback, the simulcast and audio-level header
//! extensions) and the same interceptor chain: `rtc`'s defaults (NACK generator and
//! responder, adapted and counted in [`crate::driver::nack`]; sender and receiver
//! reports, TWCC receiver) plus [`FeedbackForwarder`], without which a subscriber's PLI,
//! receiver reports and REMB never reach us — held as one chain element
//! ([`crate::driver::intercept`]).

use crate::config::SfuConfig;
use crate::driver::intercept::{Interceptors, Moved, Stage};
use crate::driver::nack::{self, NackCounts};
use crate::driver::rtcpfwd::{self, FeedbackForwarder};
use crate::{SfuError, MAX_LAYER};
use rtc::interceptor::{
    NackGeneratorBuilder, NackResponderBuilder, ReceiverReportBuilder, Registry,
    SenderReportBuilder, Slot, TwccReceiverBuilder,
};
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_simulcast_extension_headers, configure_twcc_receiver_only,
};
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use rtc::sdp::SessionDescription;

/// RTP header extension carrying a microphone's level (RFC 6464), for speaker detection.
pub const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
/// MIME types as `rtc` spells them.
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
/// answering within a few round trips. `rtc`'s default keeps 1,024 per stream, which
/// with 200+ halls and their receive slots was most of the server's memory.
pub const NACK_BUFFER: u16 = 256;

/// `rtc`'s default interceptors (NACK generator and responder, RR/SR, simulcast header
/// extensions, TWCC receiver; the NACK/PLI feedback and the extensions are registered on
/// `engine` as `rtc`'s `configure_…` helpers do) with a smaller retransmission buffer,
/// plus our feedback forwarder — in the registry's order, as one element
/// ([`Interceptors`]: the RTP we send skips the four that only pass it on), and the flag
/// it sets when sending moves its timeout. The NACK interceptors retransmit without RTX,
/// take RTX repairs as received ([`nack`]) and count into `nacks`.
pub fn interceptors(
    engine: &mut MediaEngine,
    nacks: &NackCounts,
) -> Result<(Registry, Moved), SfuError> {
    for parameter in ["", "pli"] {
        let nack = RTCPFeedback {
            typ: "nack".to_owned(),
            parameter: parameter.to_owned(),
        };
        engine.register_feedback(nack, RtpCodecKind::Video);
    }
    configure_simulcast_extension_headers(engine).map_err(SfuError::webrtc)?;
    // Only for what it registers on `engine` (transport-cc feedback and extension); the
    // receiver it puts in this scratch registry is built below, in its place.
    configure_twcc_receiver_only(Registry::new(), engine).map_err(SfuError::webrtc)?;
    let stages = vec![
        Stage::sending(nack::Responder::new(
            NackResponderBuilder::new().with_size(NACK_BUFFER).build(),
            nacks.clone(),
        )),
        Stage::receiving(nack::Generator::new(
            NackGeneratorBuilder::new().build(),
            nacks.clone(),
        )),
        Stage::receiving(TwccReceiverBuilder::new().build()),
        Stage::receiving(ReceiverReportBuilder::new().build()),
        Stage::sending(SenderReportBuilder::new().build()),
        Stage::receiving(FeedbackForwarder::default()),
    ];
    let moved = Moved::default();
    let chain = Interceptors::new(stages, moved.clone());
    Ok((
        Registry::new().with(Slot::from(rtcpfwd::SLOT), chain),
        moved,
    ))
}

/// A codec of a published track or a slot, as far as forwarding cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackCodec {
    /// Opus audio.
    Opus,
    /// VP8 video: keyframes recognised by [`crate::vp8`].
    Vp8,
    /// H.264 video (packetization mode 1): keyframes recognised by [`crate::h264`].
    H264,
    /// Anything else (RTX, FEC, …): never forwarded by itself.
    Other,
}

impl TrackCodec {
    /// The codec of a MIME type such as `video/VP8`.
    pub fn from_mime(mime: &str) -> Self {
        match mime.to_ascii_lowercase().as_str() {
            "audio/opus" => Self::Opus,
            "video/vp8" => Self::Vp8,
            "video/h264" => Self::H264,
            _ => Self::Other,
        }
    }

    /// Whether an RTP payload of this codec starts a keyframe, where a subscriber may
    /// start or switch to the stream. Every audio packet does; a malformed video payload
    /// does not (it is forwarded in order but never switched on).
    pub fn is_keyframe_start(self, payload: &[u8]) -> bool {
        match self {
            Self::Opus => true,
            Self::Vp8 => crate::vp8::is_keyframe_start(payload).unwrap_or(false),
            Self::H264 => crate::h264::is_keyframe_start(payload).unwrap_or(false),
            Self::Other => false,
        }
    }

    /// The RTP clock rate.
    pub fn clock_rate(self) -> u32 {
        match self {
            Self::Opus => 48_000,
            _ => 90_000,
        }
    }
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
        assert!(interceptors(&mut engine, &NackCounts::default()).is_ok());
    }
}
