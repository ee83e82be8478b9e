//! Lower-level access for benchmarks: a publisher with chosen tracks whose packets the
//! caller builds and writes, and a subscriber that hands each received packet to a
//! callback instead of recording it.

use super::TestClient;
use crate::driver::peer::{MIME_OPUS, MIME_VP8};
use crate::event::MediaKind;
use crate::SfuError;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;

/// Called on a track's reader task for every RTP packet a subscriber receives.
pub type PacketObserver = Arc<dyn Fn(&rtp::Packet) + Send + Sync>;

/// A sending track of [`TestClient::publisher_with`]: VP8 for video, Opus for audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackSpec {
    /// Camera or microphone.
    pub kind: MediaKind,
    /// The SSRC its packets must carry (`webrtc` drops others silently).
    pub ssrc: u32,
}

/// Writes caller-built packets on one negotiated sending track.
pub struct RawSender {
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    payload_type: u8,
    want_keyframe: Arc<AtomicBool>,
}

impl RawSender {
    /// The track's SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The payload type the answer negotiated.
    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    /// Whether a keyframe request arrived since the last call (always `false` for audio).
    pub fn take_keyframe_request(&self) -> bool {
        self.want_keyframe.swap(false, Ordering::Relaxed)
    }

    /// Hands a packet to the connection (its SSRC and payload type must be the track's).
    pub async fn write(&self, packet: rtp::Packet) -> Result<(), SfuError> {
        self.track.write_rtp(packet).await.map_err(SfuError::webrtc)
    }
}

impl TestClient {
    /// A hall publishing the given tracks (`sendonly`), in order; packets are written
    /// through [`raw_senders`](Self::raw_senders) once the answer is applied.
    pub async fn publisher_with(tracks: &[TrackSpec]) -> Result<Self, SfuError> {
        let mut client = Self::new(None).await?;
        for (i, t) in tracks.iter().enumerate() {
            let (kind, mime) = match t.kind {
                MediaKind::Video => (RtpCodecKind::Video, MIME_VP8),
                MediaKind::Audio => (RtpCodecKind::Audio, MIME_OPUS),
            };
            let want = Arc::new(AtomicBool::new(false));
            client
                .add_sending_track(
                    (kind, t.ssrc, mime),
                    (format!("test-{i}-{mime}"), &[]),
                    want,
                )
                .await?;
        }
        Ok(client)
    }

    /// One sender per track of [`publisher_with`](Self::publisher_with), in its order.
    pub async fn raw_senders(&self) -> Result<Vec<RawSender>, SfuError> {
        let mut senders = Vec::new();
        for o in &self.outgoing {
            senders.push(RawSender {
                track: Arc::clone(&o.track),
                ssrc: o.ssrc,
                payload_type: o.payload_type().await?,
                want_keyframe: Arc::clone(&o.want_keyframe),
            });
        }
        Ok(senders)
    }

    /// A hall asking for `video` + `audio` receive slots whose packets all go to
    /// `observer` (nothing is recorded: [`received`](Self::received) stays empty).
    pub async fn subscriber_observed(
        video: usize,
        audio: usize,
        observer: PacketObserver,
    ) -> Result<Self, SfuError> {
        Self::subscriber_inner(video, audio, Some(observer)).await
    }
}
