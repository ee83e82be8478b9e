//! A hall's receive slots on the media port: the `sendonly` transceivers added before
//! its offer is applied (first offer or renegotiation), and what the answer made of them.
//!
//! A video slot offers VP8 and, when configured,
//! H.264 on one SSRC, so it can show a hall of either codec; an audio slot offers Opus.
//! The offer's `recvonly` m-lines bind to these transceivers in order.

use super::conn::OutSlot;
use crate::config::SfuConfig;
use crate::driver::peer::TrackCodec;
use crate::driver::peer::{MIME_H264, MIME_OPUS, MIME_VP8};
use crate::event::{MediaKind, SlotId, SlotInfo};
use crate::SfuError;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::RTCPeerConnection;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{
    RTCRtpTransceiverDirection, RTCRtpTransceiverId, RTCRtpTransceiverInit,
};
use std::hash::{BuildHasher, Hasher};

/// A slot's transceiver before the offer is applied.
pub struct Planned {
    transceiver: RTCRtpTransceiverId,
    kind: MediaKind,
    ssrc: u32,
}

/// A random non-zero SSRC (std's per-process random hash keys; no extra dependency).
fn random_ssrc(salt: u64) -> u32 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(salt);
    let v = h.finish();
    ((v >> 32) as u32 ^ v as u32).max(1)
}

fn coding(ssrc: u32, mime: &str, clock_rate: u32, channels: u16) -> RTCRtpEncodingParameters {
    RTCRtpEncodingParameters {
        rtp_coding_parameters: RTCRtpCodingParameters {
            ssrc: Some(ssrc),
            ..Default::default()
        },
        codec: RTCRtpCodec {
            mime_type: mime.to_owned(),
            clock_rate,
            channels,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The sending track of slot `index`: its codecs on one SSRC.
fn slot_track(index: usize, kind: MediaKind, ssrc: u32, config: &SfuConfig) -> MediaStreamTrack {
    let (codec_kind, codings) = match kind {
        MediaKind::Audio => (
            RtpCodecKind::Audio,
            vec![coding(ssrc, MIME_OPUS, 48_000, 2)],
        ),
        MediaKind::Video => {
            let mut codings = vec![coding(ssrc, MIME_VP8, 90_000, 0)];
            if config.codecs.h264 {
                codings.push(coding(ssrc, MIME_H264, 90_000, 0));
            }
            (RtpCodecKind::Video, codings)
        }
    };
    let id = format!("hoinghi-slot-{index}");
    MediaStreamTrack::new(id.clone(), id.clone(), id, codec_kind, codings)
}

/// Adds `sendonly` transceivers for the slots the offer asks for (`wanted`: its
/// `recvonly` video and audio m-lines) beyond the `existing` ones (video, audio), up to
/// the configured numbers in all; `taken` SSRCs are not reused.
pub fn plan(
    pc: &mut RTCPeerConnection,
    config: &SfuConfig,
    wanted: (usize, usize),
    existing: (usize, usize),
    taken: &[u32],
) -> Result<Vec<Planned>, SfuError> {
    let video = wanted.0.min(usize::from(config.video_slots));
    let audio = wanted.1.min(usize::from(config.audio_slots));
    let kinds = std::iter::repeat_n(MediaKind::Video, video.saturating_sub(existing.0)).chain(
        std::iter::repeat_n(MediaKind::Audio, audio.saturating_sub(existing.1)),
    );
    let first = existing.0 + existing.1;
    let mut planned: Vec<Planned> = Vec::new();
    for (i, kind) in kinds.enumerate() {
        let mut salt = (first + i) as u64;
        let mut ssrc = random_ssrc(salt);
        while taken.contains(&ssrc) || planned.iter().any(|p| p.ssrc == ssrc) {
            salt += 1;
            ssrc = random_ssrc(salt);
        }
        let init = RTCRtpTransceiverInit {
            direction: RTCRtpTransceiverDirection::Sendonly,
            streams: Vec::new(),
            send_encodings: Vec::new(),
        };
        let track = slot_track(first + i, kind, ssrc, config);
        let transceiver = pc
            .add_transceiver_from_track(track, Some(init))
            .map_err(SfuError::webrtc)?;
        planned.push(Planned {
            transceiver,
            kind,
            ssrc,
        });
    }
    Ok(planned)
}

/// The planned slots the applied offer/answer negotiated, numbered from `first` (the
/// connection's slots so far), each with the payload types its codecs got.
pub fn negotiated(pc: &mut RTCPeerConnection, planned: Vec<Planned>, first: usize) -> Vec<OutSlot> {
    let mut slots = Vec::new();
    for p in planned {
        let Some(t) = pc.rtp_transceiver(p.transceiver) else {
            continue;
        };
        let (Some(mid), Some(sender)) = (t.mid().clone(), t.sender()) else {
            continue; // the offer had no m-line for it
        };
        let payload_types: Vec<(TrackCodec, u8)> = pc
            .rtp_sender(sender)
            .map(|mut s| {
                let codecs = &s.get_parameters().rtp_parameters.codecs;
                codecs
                    .iter()
                    .map(|c| {
                        (
                            TrackCodec::from_mime(&c.rtp_codec.mime_type),
                            c.payload_type,
                        )
                    })
                    .filter(|(c, _)| *c != TrackCodec::Other)
                    .collect()
            })
            .unwrap_or_default();
        let Ok(index) = u16::try_from(first + slots.len()) else {
            break; // cannot happen: at most 2 × MAX_SLOTS slots
        };
        if payload_types.is_empty() {
            continue; // no codec of ours negotiated on that m-line
        }
        slots.push(OutSlot {
            info: SlotInfo {
                id: SlotId(index),
                kind: p.kind,
                mid,
                ssrc: p.ssrc,
            },
            payload_types,
        });
    }
    slots
}
