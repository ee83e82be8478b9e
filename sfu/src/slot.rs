//! Receive slots: the fixed, pre-negotiated streams from the SFU to one hall.
//!
//! Before the hall's offer is applied, the connection gets `video_slots + audio_slots`
//! `sendonly` transceivers, each around a [`TrackLocalStaticRTP`] with an SSRC of its
//! own. `webrtc` matches the offer's `recvonly` m-lines to them in order (see
//! `satisfy_type_and_direction` in `rtc`), so the answer carries one m-line per slot
//! the hall asked for; slots beyond the offer stay unused.
//!
//! Each negotiated slot has two small tasks: a writer that owns the track's sending
//! side (packets come from the owner task over a bounded queue, and `write_rtp` may
//! wait for the connection's driver without holding up anyone else), and a reader of
//! the track's RTCP that reports the hall's feedback back to the owner task: keyframe
//! requests (PLI/FIR), and the loss and round trip of its receiver report blocks and
//! its bandwidth estimate (REMB), read at arrival against the wall clock.

use crate::config::SfuConfig;
use crate::engine::{Control, TrackCodec};
use crate::event::{MediaKind, PeerId, SlotId, SlotInfo};
use crate::peer::{MIME_H264, MIME_OPUS, MIME_VP8};
use crate::rtcpfwd::{is_keyframe_request, link_reports};
use crate::rtt::ntp_compact;
use crate::SfuError;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::peer_connection::PeerConnection;
use webrtc::rtp_transceiver::RtpTransceiver;

/// A slot's transceiver, added before the offer is applied.
pub struct PlannedSlot {
    kind: MediaKind,
    ssrc: u32,
    track: Arc<TrackLocalStaticRTP>,
    transceiver: Arc<dyn RtpTransceiver>,
}

/// A slot the answer negotiated.
pub struct NegotiatedSlot {
    /// What the owner and the hall know of it.
    pub info: SlotInfo,
    /// Payload types negotiated on its m-line, by codec.
    pub payload_types: Vec<(TrackCodec, u8)>,
    /// Its sending track.
    pub track: Arc<TrackLocalStaticRTP>,
}

/// A random SSRC (std's per-process random hash keys; no extra dependency).
fn random_ssrc() -> u32 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x5EED);
    let v = h.finish();
    // Fold to 32 bits; avoid 0, which some stacks treat as unset.
    ((v >> 32) as u32 ^ v as u32).max(1)
}

fn encoding(ssrc: u32, mime: &str, clock_rate: u32, channels: u16) -> RTCRtpEncodingParameters {
    RTCRtpEncodingParameters {
        rtp_coding_parameters: RTCRtpCodingParameters {
            ssrc: Some(ssrc),
            ..Default::default()
        },
        codec: RTCRtpCodec {
            mime_type: mime.to_owned(),
            clock_rate,
            channels,
            sdp_fmtp_line: String::new(),
            rtcp_feedback: Vec::new(),
        },
        ..Default::default()
    }
}

/// Adds `sendonly` transceivers for the slots the offer asks for (`offered`: its
/// `recvonly` video and audio m-lines) beyond the `existing` ones (video, audio) the
/// connection already has, up to the configured numbers in all.
pub async fn plan(
    pc: &Arc<dyn PeerConnection>,
    config: &SfuConfig,
    offered: (usize, usize),
    existing: (usize, usize),
) -> Result<Vec<PlannedSlot>, SfuError> {
    let video = offered
        .0
        .min(usize::from(config.video_slots))
        .saturating_sub(existing.0);
    let audio = offered
        .1
        .min(usize::from(config.audio_slots))
        .saturating_sub(existing.1);
    let first = existing.0 + existing.1;
    let kinds = std::iter::repeat_n(MediaKind::Video, video)
        .chain(std::iter::repeat_n(MediaKind::Audio, audio));
    let mut planned: Vec<PlannedSlot> = Vec::new();
    for (i, kind) in kinds.enumerate() {
        let mut ssrc = random_ssrc();
        while planned.iter().any(|p| p.ssrc == ssrc) {
            ssrc = random_ssrc();
        }
        let (codec_kind, codings) = match kind {
            MediaKind::Audio => (
                RtpCodecKind::Audio,
                vec![encoding(ssrc, MIME_OPUS, 48_000, 2)],
            ),
            MediaKind::Video => {
                let mut codings = vec![encoding(ssrc, MIME_VP8, 90_000, 0)];
                if config.codecs.h264 {
                    codings.push(encoding(ssrc, MIME_H264, 90_000, 0));
                }
                (RtpCodecKind::Video, codings)
            }
        };
        let id = format!("hoinghi-slot-{}", first + i);
        let media = MediaStreamTrack::new(id.clone(), id.clone(), id, codec_kind, codings);
        let track = Arc::new(TrackLocalStaticRTP::new(media));
        let init = RTCRtpTransceiverInit {
            direction: RTCRtpTransceiverDirection::Sendonly,
            streams: Vec::new(),
            send_encodings: Vec::new(),
        };
        let transceiver = pc
            .add_transceiver_from_track(Arc::clone(&track) as Arc<dyn TrackLocal>, Some(init))
            .await
            .map_err(SfuError::webrtc)?;
        planned.push(PlannedSlot {
            kind,
            ssrc,
            track,
            transceiver,
        });
    }
    Ok(planned)
}

/// The planned slots the applied offer/answer negotiated, numbered from `first` (the
/// connection's slots so far).
pub async fn negotiated(planned: Vec<PlannedSlot>, first: usize) -> Vec<NegotiatedSlot> {
    let mut slots: Vec<NegotiatedSlot> = Vec::new();
    for p in planned {
        let Ok(Some(mid)) = p.transceiver.mid().await else {
            continue; // the offer had no m-line for it
        };
        let Ok(Some(sender)) = p.transceiver.sender().await else {
            continue;
        };
        let Ok(params) = sender.get_parameters().await else {
            continue;
        };
        let payload_types = params
            .rtp_parameters
            .codecs
            .iter()
            .map(|c| {
                (
                    TrackCodec::from_mime(&c.rtp_codec.mime_type),
                    c.payload_type,
                )
            })
            .filter(|(c, _)| *c != TrackCodec::Other)
            .collect();
        let Ok(index) = u16::try_from(first + slots.len()) else {
            break; // cannot happen: at most 2 × MAX_SLOTS slots
        };
        slots.push(NegotiatedSlot {
            info: SlotInfo {
                id: SlotId(index),
                kind: p.kind,
                mid,
                ssrc: p.ssrc,
            },
            payload_types,
            track: p.track,
        });
    }
    slots
}

/// Starts a slot's writer and feedback reader; returns the writer's queue.
pub fn spawn(
    peer: PeerId,
    slot: SlotId,
    track: Arc<TrackLocalStaticRTP>,
    queue: usize,
    control: mpsc::UnboundedSender<Control>,
) -> mpsc::Sender<rtp::Packet> {
    let (tx, mut rx) = mpsc::channel::<rtp::Packet>(queue);
    let writer = Arc::clone(&track);
    tokio::spawn(async move {
        while let Some(packet) = rx.recv().await {
            if let Err(e) = writer.write_rtp(packet).await {
                tracing::trace!(?peer, ?slot, error = %e, "slot write failed");
            }
        }
    });
    tokio::spawn(async move {
        while let Some(event) = track.poll().await {
            let TrackLocalEvent::OnRtcpPacket(packets) = event else {
                continue;
            };
            if !forward_feedback(peer, slot, &packets, &control) {
                break;
            }
        }
    });
    tx
}

/// Turns the RTCP that reached a slot into owner-task inputs: a keyframe request, and
/// the loss, round trip and REMB the hall reports. `false` once the owner is gone.
fn forward_feedback(
    peer: PeerId,
    slot: SlotId,
    packets: &[Box<dyn rtc::rtcp::Packet>],
    control: &mpsc::UnboundedSender<Control>,
) -> bool {
    if packets.iter().any(|p| is_keyframe_request(p.as_ref()))
        && control
            .send(Control::SlotKeyframeRequest(peer, slot))
            .is_err()
    {
        return false;
    }
    // Our sender reports carry wall-clock NTP time (see `crate::rtt`): so must `now`.
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let reports = link_reports(packets, ntp_compact(since_epoch));
    reports.is_empty() || control.send(Control::LinkReports(peer, reports)).is_ok()
}
