//! The test client changing its tracks on a live connection: a second camera (a
//! shared screen), more receive slots, a track dropped, then a new offer on the same
//! connection — and applying the SFU's trickled candidates.

use super::synthetic::Stream;
use super::{TestClient, MIME_VP8};
use crate::event::IceCandidate;
use crate::SfuError;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use webrtc::media_stream::track_local::TrackLocal;

impl TestClient {
    /// Adds a `sendonly` VP8 track (a shared screen) with its own SSRC; send on it with
    /// [`raw_senders`](Self::raw_senders) (the last one) after renegotiating.
    pub async fn add_screen_track(&mut self, ssrc: u32) -> Result<(), SfuError> {
        let want = Arc::new(AtomicBool::new(true));
        let id = format!("test-screen-{ssrc:08x}");
        self.add_sending_track((RtpCodecKind::Video, ssrc, MIME_VP8), (id, &[]), want)
            .await
    }

    /// Asks for `video` + `audio` more receive slots in the next offer.
    pub async fn add_slots(&self, video: usize, audio: usize) -> Result<(), SfuError> {
        self.add_receive_slots(video, audio).await
    }

    /// Stops sending the `index`-th track (in the order added): its m-line becomes
    /// `inactive` in the next offer, as after a browser's `removeTrack`.
    pub async fn remove_track(&self, index: usize) -> Result<(), SfuError> {
        let o = self
            .outgoing
            .get(index)
            .ok_or_else(|| SfuError::Webrtc(format!("no sending track {index}")))?;
        let sender = o.transceiver.sender().await.map_err(SfuError::webrtc)?;
        let sender = sender.ok_or_else(|| SfuError::Webrtc("no sender".into()))?;
        self.pc
            .remove_track(&sender)
            .await
            .map_err(SfuError::webrtc)
    }

    /// A new offer on the existing connection (same ICE credentials and DTLS): the
    /// candidates are known already, so it does not wait for gathering.
    pub async fn reoffer(&self) -> Result<String, SfuError> {
        let offer = self.pc.create_offer(None).await.map_err(SfuError::webrtc)?;
        self.pc
            .set_local_description(offer)
            .await
            .map_err(SfuError::webrtc)?;
        let local = self.pc.local_description().await;
        Ok(local
            .ok_or_else(|| SfuError::Webrtc("no local description".into()))?
            .sdp)
    }

    /// Applies a candidate the SFU trickled; the empty end-of-candidates is skipped.
    pub async fn add_remote_candidate(&self, c: IceCandidate) -> Result<(), SfuError> {
        if c.candidate.is_empty() {
            return Ok(());
        }
        self.pc
            .add_ice_candidate(c.into())
            .await
            .map_err(|e| SfuError::InvalidCandidate(e.to_string()))
    }
}

impl TestClient {
    /// Sends synthetic VP8 (a keyframe every tenth frame, ~30 fps) on the `index`-th
    /// video track until the returned task is aborted or the track fails.
    pub async fn start_video_track(&self, index: usize) -> Result<JoinHandle<()>, SfuError> {
        let o = self
            .outgoing
            .get(index)
            .ok_or_else(|| SfuError::Webrtc(format!("no sending track {index}")))?;
        let pt = o.payload_type().await?;
        let mut stream = Stream::new((Arc::clone(&o.track), o.ssrc, pt, true));
        Ok(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(33));
            for n in 0u64.. {
                tick.tick().await;
                for p in stream.video_frame(n % 10 == 0) {
                    if stream.track.write_rtp(p).await.is_err() {
                        return;
                    }
                }
            }
        }))
    }
}
