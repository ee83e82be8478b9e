//! The test client's synthetic media: a loop sending VP8 frames (a keyframe first and
//! after every PLI) and 20 ms Opus packets at a realistic rate.

use super::{TestClient, MIME_VP8};
use crate::SfuError;
use bytes::Bytes;
use rtc::rtp;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;

impl TestClient {
    /// Starts sending synthetic VP8 and Opus at a realistic rate until stopped.
    pub async fn start_publishing(&self) -> Result<Publishing, SfuError> {
        let mut tracks = Vec::new();
        for o in &self.outgoing {
            let pt = o.payload_type().await?;
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
pub(super) struct Stream {
    pub(super) track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    pt: u8,
    video: bool,
    seq: u16,
    timestamp: u32,
    /// Running packet number written into each payload.
    pub(super) number: u32,
}

impl Stream {
    pub(super) fn new((track, ssrc, pt, video): (Arc<TrackLocalStaticRTP>, u32, u8, bool)) -> Self {
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
    pub(super) fn video_frame(&mut self, keyframe: bool) -> Vec<rtp::Packet> {
        if keyframe {
            self.video_frame_of(true, 3, 1000)
        } else {
            self.video_frame_of(false, 1, 600)
        }
    }

    /// One 30 fps frame of `count` packets of `size` bytes.
    pub(super) fn video_frame_of(
        &mut self,
        keyframe: bool,
        count: usize,
        size: usize,
    ) -> Vec<rtp::Packet> {
        let count = count.max(1);
        let mut out = Vec::new();
        for i in 0..count {
            // VP8 payload descriptor: S=1 on the first packet; then our number;
            // the VP8 frame header's P bit (0: keyframe) right after the descriptor.
            let mut payload = vec![if i == 0 { 0x10 } else { 0x00 }];
            payload.push(if keyframe { 0x00 } else { 0x01 });
            payload.extend_from_slice(&self.number.to_be_bytes());
            payload.resize(size.max(8), 0xAB);
            out.push(self.packet(i + 1 == count, payload));
        }
        self.timestamp = self.timestamp.wrapping_add(3000);
        out
    }

    /// One 20 ms Opus packet (the payload is not decodable; nobody decodes it).
    pub(super) fn audio_packet(&mut self) -> Vec<rtp::Packet> {
        let mut payload = vec![0xFC, 0xFF];
        payload.extend_from_slice(&self.number.to_be_bytes());
        payload.resize(80, 0x55);
        let p = self.packet(true, payload);
        self.timestamp = self.timestamp.wrapping_add(960);
        vec![p]
    }
}
