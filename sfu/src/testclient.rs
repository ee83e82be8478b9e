//! A Rust WebRTC client that plays a hall in tests (feature `test-client`).
//!
//! A publisher sends synthetic VP8 (a keyframe first and after every PLI, delta
//! frames otherwise, 30 frames a second) and Opus (a 20 ms packet every 20 ms) over a
//! real connection; a subscriber offers `recvonly` slots and records every packet it
//! receives per SSRC. Each synthetic payload carries the publisher's running packet
//! number, so a test can check order and completeness end to end. Used by this crate's
//! tests and by the `tests` crate.

use crate::config::SfuConfig;
use crate::peer::{self, PortCursor, MIME_OPUS, MIME_VP8};
use crate::rtcpfwd::is_keyframe_request;
use crate::SfuError;
use bytes::Bytes;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionEventHandler, RTCIceGatheringState, RTCPeerConnectionState,
    RTCSessionDescription,
};
use webrtc::rtp_transceiver::RtpTransceiver;

/// A packet as a subscriber received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedPacket {
    /// RTP sequence number.
    pub seq: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Payload type.
    pub payload_type: u8,
    /// The publisher's running packet number carried in the payload (`None`: not ours).
    pub number: Option<u32>,
    /// Whether it starts a VP8 keyframe.
    pub keyframe: bool,
}

/// Packets received, by SSRC.
type Received = Arc<Mutex<HashMap<u32, Vec<ReceivedPacket>>>>;

/// Locks a test mutex; a panic elsewhere must not hide the data.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Handler {
    gathered: Arc<Notify>,
    state: watch::Sender<RTCPeerConnectionState>,
    received: Received,
    remotes: Arc<Mutex<Vec<Arc<dyn TrackRemote>>>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.notify_one();
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        self.state.send_replace(state);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        lock(&self.remotes).push(Arc::clone(&track));
        let received = Arc::clone(&self.received);
        tokio::spawn(async move {
            while let Some(event) = track.poll().await {
                if let TrackRemoteEvent::OnRtpPacket(p) = event {
                    let number = p
                        .payload
                        .get(2..6)
                        .and_then(|b| b.try_into().ok())
                        .map(u32::from_be_bytes);
                    let packet = ReceivedPacket {
                        seq: p.header.sequence_number,
                        timestamp: p.header.timestamp,
                        payload_type: p.header.payload_type,
                        number,
                        keyframe: crate::is_keyframe_start(&p.payload).unwrap_or(false),
                    };
                    lock(&received)
                        .entry(p.header.ssrc)
                        .or_default()
                        .push(packet);
                }
            }
        });
    }
}

/// One sending track of a publisher.
struct Outgoing {
    track: Arc<TrackLocalStaticRTP>,
    transceiver: Arc<dyn RtpTransceiver>,
    ssrc: u32,
    mime: &'static str,
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

/// The publisher's video SSRC.
pub const VIDEO_SSRC: u32 = 0x0011_1111;
/// The publisher's audio SSRC.
pub const AUDIO_SSRC: u32 = 0x0022_2222;

impl TestClient {
    async fn new() -> Result<Self, SfuError> {
        let gathered = Arc::new(Notify::new());
        let (state_tx, state) = watch::channel(RTCPeerConnectionState::New);
        let received = Received::default();
        let remotes = Arc::new(Mutex::new(Vec::new()));
        let handler = Arc::new(Handler {
            gathered: Arc::clone(&gathered),
            state: state_tx,
            received: Arc::clone(&received),
            remotes: Arc::clone(&remotes),
        });
        let pc =
            peer::build_connection(&SfuConfig::default(), &PortCursor::default(), handler).await?;
        Ok(Self {
            pc,
            gathered,
            state,
            received,
            remotes,
            outgoing: Vec::new(),
            plis: Arc::default(),
            want_keyframe: Arc::new(AtomicBool::new(true)),
        })
    }

    /// A hall publishing one VP8 camera and one Opus microphone (`sendonly`).
    pub async fn publisher() -> Result<Self, SfuError> {
        let mut client = Self::new().await?;
        for (kind, ssrc, mime, clock, channels) in [
            (RtpCodecKind::Video, VIDEO_SSRC, MIME_VP8, 90_000, 0),
            (RtpCodecKind::Audio, AUDIO_SSRC, MIME_OPUS, 48_000, 2),
        ] {
            let coding = RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
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
            let id = format!("test-{mime}");
            let media = MediaStreamTrack::new("hall".into(), id.clone(), id, kind, vec![coding]);
            let track = Arc::new(TrackLocalStaticRTP::new(media));
            let init = RTCRtpTransceiverInit {
                direction: RTCRtpTransceiverDirection::Sendonly,
                streams: Vec::new(),
                send_encodings: Vec::new(),
            };
            let transceiver = client
                .pc
                .add_transceiver_from_track(Arc::clone(&track) as Arc<dyn TrackLocal>, Some(init))
                .await
                .map_err(SfuError::webrtc)?;
            if kind == RtpCodecKind::Video {
                let (reader, plis, want) = (
                    Arc::clone(&track),
                    Arc::clone(&client.plis),
                    Arc::clone(&client.want_keyframe),
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
            client.outgoing.push(Outgoing {
                track,
                transceiver,
                ssrc,
                mime,
            });
        }
        Ok(client)
    }

    /// A hall asking for `video` + `audio` receive slots (`recvonly`).
    pub async fn subscriber(video: usize, audio: usize) -> Result<Self, SfuError> {
        let client = Self::new().await?;
        let kinds = std::iter::repeat_n(RtpCodecKind::Video, video)
            .chain(std::iter::repeat_n(RtpCodecKind::Audio, audio));
        for kind in kinds {
            let init = RTCRtpTransceiverInit {
                direction: RTCRtpTransceiverDirection::Recvonly,
                streams: Vec::new(),
                send_encodings: Vec::new(),
            };
            client
                .pc
                .add_transceiver_from_kind(kind, Some(init))
                .await
                .map_err(SfuError::webrtc)?;
        }
        Ok(client)
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

    /// Starts sending synthetic VP8 and Opus at a realistic rate until stopped.
    pub async fn start_publishing(&self) -> Result<Publishing, SfuError> {
        let mut tracks = Vec::new();
        for o in &self.outgoing {
            let sender = o.transceiver.sender().await.map_err(SfuError::webrtc)?;
            let sender = sender.ok_or_else(|| SfuError::Webrtc("no sender".into()))?;
            let params = sender.get_parameters().await.map_err(SfuError::webrtc)?;
            let pt = params
                .rtp_parameters
                .codecs
                .iter()
                .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(o.mime))
                .map(|c| c.payload_type)
                .ok_or_else(|| SfuError::Webrtc(format!("{} not negotiated", o.mime)))?;
            tracks.push((Arc::clone(&o.track), o.ssrc, pt, o.mime == MIME_VP8));
        }
        let sent = Arc::new(SentCounters::default());
        let (stop, mut stopped) = watch::channel(false);
        let (want, counters) = (Arc::clone(&self.want_keyframe), Arc::clone(&sent));
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            let mut streams: Vec<Stream> = tracks.into_iter().map(Stream::new).collect();
            for n in 0u64.. {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.changed() => break,
                }
                for s in &mut streams {
                    let packets = match (s.video, n % if s.video { 3 } else { 2 }) {
                        (true, 0) => s.video_frame(want.swap(false, Ordering::Relaxed)),
                        (false, 0) => s.audio_packet(),
                        _ => continue,
                    };
                    for p in packets {
                        if s.track.write_rtp(p).await.is_ok() {
                            let c = if s.video {
                                &counters.video
                            } else {
                                &counters.audio
                            };
                            c.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        });
        Ok(Publishing { stop, task, sent })
    }

    /// Closes the connection.
    pub async fn close(&self) {
        let _ = self.pc.close().await;
    }
}

/// Packets handed to the connection, per kind.
#[derive(Debug, Default)]
pub struct SentCounters {
    /// Video RTP packets.
    pub video: AtomicU64,
    /// Audio RTP packets.
    pub audio: AtomicU64,
}

/// A running publisher loop.
pub struct Publishing {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    /// What was sent so far.
    pub sent: Arc<SentCounters>,
}

impl Publishing {
    /// Stops sending and waits for the loop to end.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// One synthetic RTP stream.
struct Stream {
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    pt: u8,
    video: bool,
    seq: u16,
    timestamp: u32,
    /// Running packet number written into each payload.
    number: u32,
}

impl Stream {
    fn new((track, ssrc, pt, video): (Arc<TrackLocalStaticRTP>, u32, u8, bool)) -> Self {
        Self {
            track,
            ssrc,
            pt,
            video,
            seq: 40_000, // wraps during a longer test
            timestamp: 123_456,
            number: 0,
        }
    }

    fn packet(&mut self, marker: bool, payload: Vec<u8>) -> rtp::Packet {
        let header = rtp::header::Header {
            version: 2,
            marker,
            payload_type: self.pt,
            sequence_number: self.seq,
            timestamp: self.timestamp,
            ssrc: self.ssrc,
            ..Default::default()
        };
        self.seq = self.seq.wrapping_add(1);
        self.number += 1;
        rtp::Packet {
            header,
            payload: Bytes::from(payload),
        }
    }

    /// One frame: a keyframe is 3 packets, a delta frame 1.
    fn video_frame(&mut self, keyframe: bool) -> Vec<rtp::Packet> {
        let count = if keyframe { 3 } else { 1 };
        let mut out = Vec::new();
        for i in 0..count {
            // VP8 payload descriptor: S=1 on the first packet; then our number;
            // the VP8 frame header's P bit (0: keyframe) right after the descriptor.
            let mut payload = vec![if i == 0 { 0x10 } else { 0x00 }];
            payload.push(if keyframe { 0x00 } else { 0x01 });
            payload.extend_from_slice(&self.number.to_be_bytes());
            payload.resize(if keyframe { 1000 } else { 600 }, 0xAB);
            out.push(self.packet(i + 1 == count, payload));
        }
        self.timestamp = self.timestamp.wrapping_add(3000);
        out
    }

    /// One 20 ms Opus packet (the payload is not decodable; nobody decodes it).
    fn audio_packet(&mut self) -> Vec<rtp::Packet> {
        let mut payload = vec![0xFC, 0xFF];
        payload.extend_from_slice(&self.number.to_be_bytes());
        payload.resize(80, 0x55);
        let p = self.packet(true, payload);
        self.timestamp = self.timestamp.wrapping_add(960);
        vec![p]
    }
}
