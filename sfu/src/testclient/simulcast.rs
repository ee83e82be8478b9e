//! The test client as a simulcast camera: one VP8 track in three layers (rids q, h, f,
//! low to high, as a browser offers them), each a synthetic 30 fps stream that can be
//! stopped and resumed — as Chrome drops its top layer under CPU load.

use super::synthetic::Stream;
use super::{Outgoing, TestClient, MIME_VP8};
use crate::SfuError;
use bytes::Bytes;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use webrtc::media_stream::track_local::TrackLocal;

/// The rids of the layers, low to high.
pub const SIMULCAST_RIDS: [&str; 3] = ["q", "h", "f"];
/// The SSRC of layer 0; layers 1 and 2 count up from it.
pub const SIMULCAST_SSRC: u32 = 0x0033_3330;
/// The header extensions that tell a receiver which track (mid) and which layer (rid)
/// an SSRC the SDP does not list belongs to.
const MID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
const RID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
/// Payload numbers of layer `l` start at `l * LAYER_NUMBERS`, so a subscriber can tell
/// the layers apart ([`ReceivedPacket::number`](super::ReceivedPacket::number)).
pub const LAYER_NUMBERS: u32 = 1_000_000;

impl TestClient {
    /// A hall publishing one VP8 camera in three simulcast layers (`sendonly`).
    pub async fn simulcast_publisher() -> Result<Self, SfuError> {
        let mut client = Self::new(None).await?;
        let want = Arc::clone(&client.want_keyframe);
        let video = (RtpCodecKind::Video, SIMULCAST_SSRC, MIME_VP8);
        let id = ("test-simulcast".to_owned(), &SIMULCAST_RIDS[..]);
        client.add_sending_track(video, id, want).await?;
        Ok(client)
    }

    /// Starts sending all three layers of [`simulcast_publisher`](Self::simulcast_publisher)
    /// (a keyframe on each first, after a PLI and when a layer resumes).
    pub async fn start_simulcast(&self) -> Result<SimulcastPublishing, SfuError> {
        let o = self
            .outgoing
            .first()
            .ok_or(SfuError::Webrtc("no track".into()))?;
        let tags = Tagging::of(o).await?;
        let pt = tags.payload_type;
        let mut streams: Vec<Stream> = (0..3u32)
            .map(|l| {
                let mut s = Stream::new((Arc::clone(&o.track), SIMULCAST_SSRC + l, pt, true));
                s.number = l * LAYER_NUMBERS;
                s
            })
            .collect();
        let sending: Arc<[AtomicBool; 3]> = Arc::new(std::array::from_fn(|_| true.into()));
        let sent: Arc<[AtomicU64; 3]> = Arc::default();
        let (stop, mut stopped) = watch::channel(false);
        let (want, on, counters) = (
            Arc::clone(&self.want_keyframe),
            Arc::clone(&sending),
            Arc::clone(&sent),
        );
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(33));
            let mut was_on = [false; 3];
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.changed() => break,
                }
                let pli = want.swap(false, Ordering::Relaxed);
                for (l, s) in streams.iter_mut().enumerate() {
                    let is_on = on[l].load(Ordering::Relaxed);
                    let keyframe = pli || (is_on && !was_on[l]);
                    was_on[l] = is_on;
                    if !is_on {
                        continue;
                    }
                    for mut p in s.video_frame(keyframe) {
                        if tags.tag(&mut p, l) && s.track.write_rtp(p).await.is_ok() {
                            counters[l].fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        });
        Ok(SimulcastPublishing {
            stop,
            task,
            sending,
            sent,
        })
    }
}

/// What a simulcast packet must carry for the receiver to place its SSRC: the
/// negotiated payload type and the mid and rid header extensions.
pub(super) struct Tagging {
    pub(super) payload_type: u8,
    mid_id: u8,
    rid_id: u8,
    mid: Bytes,
}

impl Tagging {
    /// Reads the negotiated ids of a simulcast sending track.
    pub(super) async fn of(o: &Outgoing) -> Result<Self, SfuError> {
        let payload_type = o.payload_type().await?;
        let sender = o.transceiver.sender().await.map_err(SfuError::webrtc)?;
        let sender = sender.ok_or_else(|| SfuError::Webrtc("no sender".into()))?;
        let params = sender.get_parameters().await.map_err(SfuError::webrtc)?;
        let id = |uri: &str| {
            let ext = params.rtp_parameters.header_extensions.iter();
            let id = ext
                .filter(|e| e.uri == uri)
                .find_map(|e| u8::try_from(e.id).ok());
            id.ok_or_else(|| SfuError::Webrtc(format!("{uri} not negotiated")))
        };
        let (mid_id, rid_id) = (id(MID_URI)?, id(RID_URI)?);
        let mid = o.transceiver.mid().await.map_err(SfuError::webrtc)?;
        let mid = Bytes::from(mid.ok_or_else(|| SfuError::Webrtc("no mid".into()))?);
        Ok(Self {
            payload_type,
            mid_id,
            rid_id,
            mid,
        })
    }

    /// Tags `p` as layer `layer`; `false` if it could not be.
    pub(super) fn tag(&self, p: &mut rtp::Packet, layer: usize) -> bool {
        let Some(rid) = SIMULCAST_RIDS.get(layer) else {
            return false;
        };
        let rid = Bytes::from_static(rid.as_bytes());
        p.header
            .set_extension(self.mid_id, self.mid.clone())
            .is_ok()
            && p.header.set_extension(self.rid_id, rid).is_ok()
    }
}

/// A running simulcast camera loop.
pub struct SimulcastPublishing {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    /// Whether each layer sends, low to high.
    sending: Arc<[AtomicBool; 3]>,
    /// RTP packets handed to the connection per layer.
    pub sent: Arc<[AtomicU64; 3]>,
}

impl SimulcastPublishing {
    /// Stops (`false`) or resumes (`true`) sending layer `layer` (0..3).
    pub fn set_sending(&self, layer: usize, on: bool) {
        if let Some(flag) = self.sending.get(layer) {
            flag.store(on, Ordering::Relaxed);
        }
    }

    /// Stops sending and waits for the loop to end.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
