//! A Rust WebRTC client that plays a hall in tests (feature `test-client`).
//!
//! A publisher sends synthetic VP8 (a keyframe first and after every PLI, delta
//! frames otherwise, 30 frames a second) and Opus (a 20 ms packet every 20 ms) over a
//! real connection; a subscriber offers `recvonly` slots and records every packet it
//! receives per SSRC. Each synthetic payload carries the publisher's running packet
//! number, so a test can check order and completeness end to end. Used by this crate's
//! tests and by the `tests` crate.
//!
//! The pieces: this file holds the connection (offer, answer, state, PLIs);
//! `receive` the event handler that records what arrives; `synthetic` the built-in
//! media loop; `simulcast` a camera in three layers, each of which can stop; `raw`
//! lower-level access for benchmarks (chosen tracks, packets written by the caller, a
//! callback per received packet); `hall` a whole hall for the meeting benchmark
//! (simulcast camera and microphone obeying the server, plus receive slots).

pub mod h264;
mod hall;
pub mod procstat;
mod raw;
mod receive;
mod renegotiate;
mod reports;
mod simulcast;
pub mod speaking;
mod synthetic;

pub use hall::{HallMedia, HallShape, LayerShape};
pub use raw::{PacketObserver, RawSender, TrackSpec};
pub use receive::{payload_number, ReceivedPacket};
pub use simulcast::{SimulcastPublishing, LAYER_NUMBERS, SIMULCAST_RIDS, SIMULCAST_SSRC};
pub use synthetic::{Publishing, SentCounters};

use crate::config::SfuConfig;
use crate::driver::peer::{self, MIME_OPUS, MIME_VP8};
use crate::driver::rtcpfwd::is_keyframe_request;
use crate::SfuError;
use receive::{lock, Handler, Received};
use rtc::ice::mdns::MulticastDnsMode;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, RTCConfigurationBuilder,
    RTCPeerConnectionState, RTCSessionDescription, SettingEngineBuilder,
};
use webrtc::rtp_transceiver::RtpTransceiver;

/// One sending track of a publisher.
struct Outgoing {
    track: Arc<TrackLocalStaticRTP>,
    transceiver: Arc<dyn RtpTransceiver>,
    ssrc: u32,
    mime: &'static str,
    /// Set when a keyframe request for this track arrives (video only).
    want_keyframe: Arc<AtomicBool>,
}

impl Outgoing {
    /// The payload type the answer negotiated for the track's codec.
    async fn payload_type(&self) -> Result<u8, SfuError> {
        let sender = self.transceiver.sender().await.map_err(SfuError::webrtc)?;
        let sender = sender.ok_or_else(|| SfuError::Webrtc("no sender".into()))?;
        let params = sender.get_parameters().await.map_err(SfuError::webrtc)?;
        params
            .rtp_parameters
            .codecs
            .iter()
            .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(self.mime))
            .map(|c| c.payload_type)
            .ok_or_else(|| SfuError::Webrtc(format!("{} not negotiated", self.mime)))
    }
}

/// A hall played by the test.
pub struct TestClient {
    pc: Arc<dyn PeerConnection>,
    gathered: Arc<Notify>,
    state: watch::Receiver<RTCPeerConnectionState>,
    received: Received,
    remotes: Arc<Mutex<Vec<Arc<dyn TrackRemote>>>>,
    outgoing: Vec<Outgoing>,
    /// When the publisher received each keyframe request.
    plis: Arc<Mutex<Vec<Instant>>>,
    want_keyframe: Arc<AtomicBool>,
}

/// SRTP replay protection of the client, as libwebrtc's (a stream whose sequence
/// numbers go back on the same SSRC is discarded there, and so here).
const SRTP_REPLAY_WINDOW: usize = 1024;

/// The publisher's video SSRC.
pub const VIDEO_SSRC: u32 = 0x0011_1111;
/// The publisher's audio SSRC.
pub const AUDIO_SSRC: u32 = 0x0022_2222;

impl TestClient {
    /// A client on 127.0.0.1 negotiating the SFU's default codecs.
    async fn new(observer: Option<PacketObserver>) -> Result<Self, SfuError> {
        Self::with_engine(peer::media_engine(&SfuConfig::default())?, observer).await
    }

    /// A client on 127.0.0.1 whose connection negotiates `engine`'s codecs.
    async fn with_engine(
        mut engine: MediaEngine,
        observer: Option<PacketObserver>,
    ) -> Result<Self, SfuError> {
        let gathered = Arc::new(Notify::new());
        let (state_tx, state) = watch::channel(RTCPeerConnectionState::New);
        let received = Received::default();
        let remotes = Arc::new(Mutex::new(Vec::new()));
        let handler = Arc::new(Handler {
            gathered: Arc::clone(&gathered),
            state: state_tx,
            received: Arc::clone(&received),
            remotes: Arc::clone(&remotes),
            observer,
        });
        let (registry, _) = peer::interceptors(&mut engine, &Default::default())?;
        let settings = SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .with_srtp_replay_protection_window(SRTP_REPLAY_WINDOW);
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(engine)
            .with_setting_engine(settings.build())
            .with_interceptor_registry(registry)
            .with_handler(handler)
            .with_udp_addrs(vec![SocketAddr::new(IpAddr::from([127, 0, 0, 1]), 0)])
            .build()
            .await
            .map_err(SfuError::webrtc)?;
        Ok(Self {
            pc: Arc::new(pc),
            gathered,
            state,
            received,
            remotes,
            outgoing: Vec::new(),
            plis: Arc::default(),
            want_keyframe: Arc::new(AtomicBool::new(true)),
        })
    }

    /// Adds a `sendonly` track; for video, a reader of its RTCP records keyframe
    /// requests and sets `want_keyframe`. With `rids` it is simulcast: one layer per
    /// rid, the SSRCs counting up from `ssrc`.
    async fn add_sending_track(
        &mut self,
        (kind, ssrc, mime): (RtpCodecKind, u32, &'static str),
        (id, rids): (String, &[&str]),
        want_keyframe: Arc<AtomicBool>,
    ) -> Result<(), SfuError> {
        let (clock, channels) = match kind {
            RtpCodecKind::Audio => (48_000, 2),
            _ => (90_000, 0),
        };
        let coding = |ssrc, rid: &str| RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                rid: rid.to_owned(),
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: RTCRtpCodec {
                mime_type: mime.to_owned(),
                clock_rate: clock,
                channels,
                ..Default::default()
            },
            ..Default::default()
        };
        let codings = match rids {
            [] => vec![coding(ssrc, "")],
            rids => (ssrc..).zip(rids).map(|(s, rid)| coding(s, rid)).collect(),
        };
        let media = MediaStreamTrack::new("hall".into(), id.clone(), id, kind, codings);
        let track = Arc::new(TrackLocalStaticRTP::new(media));
        let init = RTCRtpTransceiverInit {
            direction: RTCRtpTransceiverDirection::Sendonly,
            streams: Vec::new(),
            send_encodings: Vec::new(),
        };
        let transceiver = self
            .pc
            .add_transceiver_from_track(Arc::clone(&track) as Arc<dyn TrackLocal>, Some(init))
            .await
            .map_err(SfuError::webrtc)?;
        if kind == RtpCodecKind::Video {
            let (reader, plis, want) = (
                Arc::clone(&track),
                Arc::clone(&self.plis),
                Arc::clone(&want_keyframe),
            );
            tokio::spawn(async move {
                while let Some(event) = reader.poll().await {
                    if let TrackLocalEvent::OnRtcpPacket(packets) = event {
                        if packets.iter().any(|p| is_keyframe_request(p.as_ref())) {
                            lock(&plis).push(Instant::now());
                            want.store(true, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
        self.outgoing.push(Outgoing {
            track,
            transceiver,
            ssrc,
            mime,
            want_keyframe,
        });
        Ok(())
    }

    /// A hall publishing one VP8 camera and one Opus microphone (`sendonly`).
    pub async fn publisher() -> Result<Self, SfuError> {
        let mut client = Self::new(None).await?;
        for (kind, ssrc, mime) in [
            (RtpCodecKind::Video, VIDEO_SSRC, MIME_VP8),
            (RtpCodecKind::Audio, AUDIO_SSRC, MIME_OPUS),
        ] {
            let want = Arc::clone(&client.want_keyframe);
            client
                .add_sending_track((kind, ssrc, mime), (format!("test-{mime}"), &[]), want)
                .await?;
        }
        Ok(client)
    }

    /// A hall asking for `video` + `audio` receive slots (`recvonly`).
    pub async fn subscriber(video: usize, audio: usize) -> Result<Self, SfuError> {
        Self::subscriber_inner(video, audio, None).await
    }

    async fn subscriber_inner(
        video: usize,
        audio: usize,
        observer: Option<PacketObserver>,
    ) -> Result<Self, SfuError> {
        let client = Self::new(observer).await?;
        client.add_receive_slots(video, audio).await?;
        Ok(client)
    }

    /// Adds `video` + `audio` `recvonly` transceivers: the receive slots to ask for.
    async fn add_receive_slots(&self, video: usize, audio: usize) -> Result<(), SfuError> {
        let kinds = std::iter::repeat_n(RtpCodecKind::Video, video)
            .chain(std::iter::repeat_n(RtpCodecKind::Audio, audio));
        for kind in kinds {
            let init = RTCRtpTransceiverInit {
                direction: RTCRtpTransceiverDirection::Recvonly,
                streams: Vec::new(),
                send_encodings: Vec::new(),
            };
            self.pc
                .add_transceiver_from_kind(kind, Some(init))
                .await
                .map_err(SfuError::webrtc)?;
        }
        Ok(())
    }

    /// Creates the offer (after ICE gathering, so it carries the candidates).
    pub async fn offer(&self) -> Result<String, SfuError> {
        let offer = self.pc.create_offer(None).await.map_err(SfuError::webrtc)?;
        self.pc
            .set_local_description(offer)
            .await
            .map_err(SfuError::webrtc)?;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.gathered.notified()).await;
        let local = self.pc.local_description().await;
        Ok(local
            .ok_or_else(|| SfuError::Webrtc("no local description".into()))?
            .sdp)
    }

    /// Applies the SFU's answer.
    pub async fn accept(&self, answer: String) -> Result<(), SfuError> {
        let answer = RTCSessionDescription::answer(answer)
            .map_err(|e| SfuError::InvalidSdp(e.to_string()))?;
        self.pc
            .set_remote_description(answer)
            .await
            .map_err(|e| SfuError::InvalidSdp(e.to_string()))
    }

    /// Waits until connected; `false` on timeout or failure.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        let mut state = self.state.clone();
        let connected = state.wait_for(|s| {
            matches!(
                s,
                RTCPeerConnectionState::Connected
                    | RTCPeerConnectionState::Failed
                    | RTCPeerConnectionState::Closed
            )
        });
        let result = tokio::time::timeout(timeout, connected).await;
        matches!(result, Ok(Ok(s)) if *s == RTCPeerConnectionState::Connected)
    }

    /// A copy of the packets received so far, by SSRC.
    pub fn received(&self) -> HashMap<u32, Vec<ReceivedPacket>> {
        lock(&self.received).clone()
    }

    /// How many packets arrived on `ssrc`.
    pub fn count(&self, ssrc: u32) -> usize {
        lock(&self.received).get(&ssrc).map_or(0, Vec::len)
    }

    /// Sends a PLI for the received stream `ssrc` (as a browser does after loss).
    pub async fn send_pli(&self, ssrc: u32) -> Result<(), SfuError> {
        let remotes: Vec<_> = lock(&self.remotes).clone();
        for remote in remotes {
            if remote.ssrcs().await.contains(&ssrc) {
                let pli = PictureLossIndication {
                    sender_ssrc: 0,
                    media_ssrc: ssrc,
                };
                return remote
                    .write_rtcp(vec![Box::new(pli)])
                    .await
                    .map_err(SfuError::webrtc);
            }
        }
        Err(SfuError::Webrtc(format!(
            "no received track with SSRC {ssrc}"
        )))
    }

    /// When each keyframe request for its camera reached this publisher.
    pub fn plis(&self) -> Vec<Instant> {
        lock(&self.plis).clone()
    }

    /// Closes the connection.
    pub async fn close(&self) {
        let _ = self.pc.close().await;
    }
}
