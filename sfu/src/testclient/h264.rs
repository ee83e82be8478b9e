//! The test client as an H.264 camera, and as a hall whose browser has no H.264.
//!
//! The camera offers only H.264 (packetization mode 1), at payload type
//! [`H264_PAYLOAD_TYPE`] — deliberately not the SFU's own number, so a forwarded
//! packet's payload type must be rewritten to each slot's. It sends 30 frames a second:
//! an IDR picture as three FU-A fragments first and after every keyframe request, one
//! non-IDR slice (a single NAL unit packet) otherwise. As in the VP8 streams, bytes 2..6
//! of every payload hold the publisher's running packet number.

use super::{PacketObserver, TestClient};
use crate::config::{Codecs, SfuConfig};
use crate::driver::peer::{self, MIME_H264};
use crate::SfuError;
use bytes::Bytes;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::peer_connection::MediaEngine;

/// The H.264 camera's SSRC.
pub const H264_SSRC: u32 = 0x0044_4440;
/// The payload type the H.264 camera offers (the SFU registers H.264 as 102).
pub const H264_PAYLOAD_TYPE: u8 = 125;
/// The fragments of each synthetic IDR picture.
pub const IDR_FRAGMENTS: usize = 3;

/// A media engine with H.264 only, at [`H264_PAYLOAD_TYPE`] (and its RTX).
fn h264_only() -> Result<MediaEngine, SfuError> {
    let mut engine = MediaEngine::default();
    let fmtp = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";
    for (mime, fmtp, pt) in [
        (MIME_H264, fmtp.to_owned(), H264_PAYLOAD_TYPE),
        ("video/rtx", format!("apt={H264_PAYLOAD_TYPE}"), 126),
    ] {
        let codec = RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: mime.to_owned(),
                clock_rate: 90_000,
                channels: 0,
                sdp_fmtp_line: fmtp,
                rtcp_feedback: Vec::new(),
            },
            payload_type: pt,
        };
        engine
            .register_codec(codec, RtpCodecKind::Video)
            .map_err(SfuError::webrtc)?;
    }
    Ok(engine)
}

impl TestClient {
    /// A hall publishing one H.264 camera (`sendonly`); start it with
    /// [`start_h264`](Self::start_h264).
    pub async fn h264_publisher() -> Result<Self, SfuError> {
        let mut client = Self::with_engine(h264_only()?, None).await?;
        let want = Arc::clone(&client.want_keyframe);
        let video = (RtpCodecKind::Video, H264_SSRC, MIME_H264);
        let id = ("test-h264".to_owned(), &[][..]);
        client.add_sending_track(video, id, want).await?;
        Ok(client)
    }

    /// A hall whose browser decodes no H.264: its `video` + `audio` receive slots
    /// negotiate VP8 and Opus only. Packets go to `observer` if given.
    pub async fn subscriber_without_h264(
        video: usize,
        audio: usize,
        observer: Option<PacketObserver>,
    ) -> Result<Self, SfuError> {
        let config = SfuConfig {
            codecs: Codecs { h264: false },
            ..SfuConfig::default()
        };
        let client = Self::with_engine(peer::media_engine(&config)?, observer).await?;
        client.add_receive_slots(video, audio).await?;
        Ok(client)
    }

    /// Starts sending synthetic H.264 from [`h264_publisher`](Self::h264_publisher).
    pub async fn start_h264(&self) -> Result<H264Publishing, SfuError> {
        let o = self
            .outgoing
            .first()
            .ok_or(SfuError::Webrtc("no track".into()))?;
        let (track, pt) = (Arc::clone(&o.track), o.payload_type().await?);
        let sent = Arc::new(H264Counters::default());
        let (stop, mut stopped) = watch::channel(false);
        let (want, counters) = (Arc::clone(&self.want_keyframe), Arc::clone(&sent));
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(33));
            let mut stream = H264Stream::new(pt);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.changed() => break,
                }
                let keyframe = want.swap(false, Ordering::Relaxed);
                if keyframe {
                    counters.keyframes.fetch_add(1, Ordering::Relaxed);
                }
                for p in stream.frame(keyframe) {
                    if track.write_rtp(p).await.is_ok() {
                        counters.packets.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
        Ok(H264Publishing { stop, task, sent })
    }
}

/// What the H.264 camera has sent.
#[derive(Debug, Default)]
pub struct H264Counters {
    /// RTP packets handed to the connection.
    pub packets: AtomicU64,
    /// IDR pictures sent (the first one, then one per keyframe request).
    pub keyframes: AtomicU64,
}

/// A running H.264 camera loop.
pub struct H264Publishing {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    /// What was sent so far.
    pub sent: Arc<H264Counters>,
}

impl H264Publishing {
    /// Stops sending and waits for the loop to end.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// The synthetic H.264 stream's numbering.
struct H264Stream {
    pt: u8,
    seq: u16,
    timestamp: u32,
    number: u32,
}

impl H264Stream {
    fn new(pt: u8) -> Self {
        Self {
            pt,
            seq: 65_000, // wraps early in a test
            timestamp: 900_000,
            number: 0,
        }
    }

    /// One frame: an IDR picture in [`IDR_FRAGMENTS`] FU-A fragments, or one non-IDR
    /// slice as a single NAL unit packet.
    fn frame(&mut self, idr: bool) -> Vec<rtp::Packet> {
        let heads: Vec<[u8; 2]> = if idr {
            (0..IDR_FRAGMENTS)
                .map(|i| {
                    // FU indicator (NRI 3, type 28); FU header: S, E, type 5 (IDR).
                    let start = if i == 0 { 0x80 } else { 0 };
                    let end = if i + 1 == IDR_FRAGMENTS { 0x40 } else { 0 };
                    [0x7C, start | end | 5]
                })
                .collect()
        } else {
            vec![[0x41, 0x9A]] // NAL header (NRI 2, type 1) and a slice header byte
        };
        let size = if idr { 1000 } else { 600 };
        let count = heads.len();
        let mut out = Vec::with_capacity(count);
        for (i, head) in heads.into_iter().enumerate() {
            let mut payload = head.to_vec();
            payload.extend_from_slice(&self.number.to_be_bytes());
            payload.resize(size, 0xAB);
            let header = rtp::header::Header {
                version: 2,
                marker: i + 1 == count,
                payload_type: self.pt,
                sequence_number: self.seq,
                timestamp: self.timestamp,
                ssrc: H264_SSRC,
                ..Default::default()
            };
            self.seq = self.seq.wrapping_add(1);
            self.number += 1;
            out.push(rtp::Packet {
                header,
                payload: Bytes::from(payload),
            });
        }
        self.timestamp = self.timestamp.wrapping_add(3000);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h264::is_keyframe_start;

    #[test]
    fn synthetic_frames_classify_as_meant() {
        let mut s = H264Stream::new(H264_PAYLOAD_TYPE);
        let idr = s.frame(true);
        assert_eq!(idr.len(), IDR_FRAGMENTS);
        let starts: Vec<_> = idr.iter().map(|p| is_keyframe_start(&p.payload)).collect();
        assert_eq!(starts, [Ok(true), Ok(false), Ok(false)]);
        assert!(idr.last().is_some_and(|p| p.header.marker));
        let delta = s.frame(false);
        assert_eq!(is_keyframe_start(&delta[0].payload), Ok(false));
        assert_eq!(delta[0].payload[2..6], 3u32.to_be_bytes());
        assert_eq!(delta[0].header.sequence_number, 65_003);
    }
}
