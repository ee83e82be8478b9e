//! The test client's own feedback on what it receives, written by the test: a receiver
//! report with a chosen loss, as a hall on a bad link sends, and a REMB with a chosen
//! bandwidth, as a browser that negotiated `goog-remb` sends. (The connection's
//! report interceptor also sends its real receiver reports, with the real loss — none
//! on loopback — and the LSR/DLSR that give the SFU a round trip.)

use super::receive::lock;
use super::TestClient;
use crate::SfuError;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::reception_report::ReceptionReport;
use std::sync::Arc;
use webrtc::media_stream::track_remote::TrackRemote;

/// The test client's SSRC as a reporter (any value the SFU does not send on).
const REPORTER_SSRC: u32 = 0x00FE_ED00;

impl TestClient {
    /// The remote track receiving `ssrc`.
    async fn remote_of(&self, ssrc: u32) -> Result<Arc<dyn TrackRemote>, SfuError> {
        let remotes: Vec<_> = lock(&self.remotes).clone();
        for remote in remotes {
            if remote.ssrcs().await.contains(&ssrc) {
                return Ok(remote);
            }
        }
        Err(SfuError::Webrtc(format!(
            "no received track with SSRC {ssrc}"
        )))
    }

    /// Sends a receiver report for the received stream `ssrc` saying `fraction_lost`
    /// 256ths of its packets were lost (no LSR: it gives no round trip).
    pub async fn send_receiver_report(&self, ssrc: u32, fraction_lost: u8) -> Result<(), SfuError> {
        let remote = self.remote_of(ssrc).await?;
        let rr = ReceiverReport {
            ssrc: REPORTER_SSRC,
            reports: vec![ReceptionReport {
                ssrc,
                fraction_lost,
                ..Default::default()
            }],
            ..Default::default()
        };
        remote
            .write_rtcp(vec![Box::new(rr)])
            .await
            .map_err(SfuError::webrtc)
    }

    /// Sends a REMB: this client can receive `bps` bits per second over the streams
    /// `ssrcs` (the first must be one it receives).
    pub async fn send_remb(&self, bps: u64, ssrcs: &[u32]) -> Result<(), SfuError> {
        let first = *ssrcs
            .first()
            .ok_or_else(|| SfuError::Webrtc("a REMB names its streams".into()))?;
        let remote = self.remote_of(first).await?;
        let remb = ReceiverEstimatedMaximumBitrate {
            sender_ssrc: REPORTER_SSRC,
            bitrate: bps as f32,
            ssrcs: ssrcs.to_vec(),
        };
        remote
            .write_rtcp(vec![Box::new(remb)])
            .await
            .map_err(SfuError::webrtc)
    }
}
