//! The benchmark's publisher: simulcast-like load as three VP8 tracks (~150 k, 500 k and
//! 900 kbit/s, 30 frame bursts a second, packets of at most 1,100 bytes, a keyframe five
//! times a delta frame's size at the start, every 3 s and on a PLI) and one Opus track
//! (50 packets of 80 bytes a second), each payload stamped with its number and send time.

use crate::clients::{lock, negotiate, send, Clients};
use crate::proto::{now_ns, Stamp, STAMP_END, STREAM_AUDIO, STREAM_TOP};
use bytes::Bytes;
use rtc::rtp;
use sfu::testclient::{RawSender, TestClient, TrackSpec};
use sfu::MediaKind;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// Video layers: (bit/s of delta frames, SSRC).
const LAYERS: [(u32, u32); 3] = [
    (150_000, 0x0B00_0001),
    (500_000, 0x0B00_0002),
    (900_000, 0x0B00_0003),
];
const AUDIO_SSRC: u32 = 0x0A00_0001;
const MAX_PACKET: usize = 1_100;
const FRAME: Duration = Duration::from_micros(33_333);
const AUDIO_PACKET: Duration = Duration::from_millis(20);
/// A periodic keyframe every this many frames (3 s).
const KEYFRAME_EVERY: u64 = 90;
/// One synthetic stream of the publisher.
struct Stream {
    sender: RawSender,
    index: u8,
    /// Bytes of a delta frame (video) or of a packet (audio).
    frame_bytes: usize,
    seq: u16,
    timestamp: u32,
    number: u32,
}

impl Stream {
    async fn write(&mut self, payload: Vec<u8>, marker: bool, sent: &AtomicU64) {
        let mut payload = payload;
        let stamp = Stamp {
            stream: self.index,
            number: self.number,
            sent_ns: now_ns(),
        };
        stamp.write(&mut payload);
        let header = rtp::header::Header {
            version: 2,
            marker,
            payload_type: self.sender.payload_type(),
            sequence_number: self.seq,
            timestamp: self.timestamp,
            ssrc: self.sender.ssrc(),
            ..Default::default()
        };
        self.seq = self.seq.wrapping_add(1);
        self.number = self.number.wrapping_add(1);
        let packet = rtp::Packet {
            header,
            payload: Bytes::from(payload),
        };
        if self.sender.write(packet).await.is_ok() {
            sent.fetch_add(1, Relaxed);
        }
    }

    /// One frame burst: packets of at most [`MAX_PACKET`] bytes; a keyframe is 5× larger.
    async fn frame(&mut self, keyframe: bool, sent: &AtomicU64) {
        let bytes = self.frame_bytes * if keyframe { 5 } else { 1 };
        let count = bytes.div_ceil(MAX_PACKET).max(1);
        let size = bytes.div_ceil(count).max(STAMP_END);
        for i in 0..count {
            let mut payload = vec![0xAB; size];
            // VP8 descriptor: S=1 on the first packet; then the frame tag's P bit (0: key).
            payload[0] = if i == 0 { 0x10 } else { 0x00 };
            payload[1] = if keyframe { 0x00 } else { 0x01 };
            self.write(payload, i + 1 == count, sent).await;
        }
        self.timestamp = self.timestamp.wrapping_add(3_000);
    }

    async fn audio(&mut self, sent: &AtomicU64) {
        let mut payload = vec![0x55; self.frame_bytes];
        payload[0] = 0xFC;
        payload[1] = 0xFF;
        self.write(payload, true, sent).await;
        self.timestamp = self.timestamp.wrapping_add(960);
    }
}

/// The publisher: connects as id 0, sends the top layer and audio until `LAYERS`,
/// then all layers.
pub async fn publish(clients: Arc<Clients>) {
    let mut specs: Vec<TrackSpec> = LAYERS
        .iter()
        .map(|&(_, ssrc)| TrackSpec {
            kind: MediaKind::Video,
            ssrc,
        })
        .collect();
    specs.push(TrackSpec {
        kind: MediaKind::Audio,
        ssrc: AUDIO_SSRC,
    });
    let client = match TestClient::publisher_with(&specs).await {
        Ok(c) => c,
        Err(e) => return send(&format!("ERR publisher: {e}")),
    };
    if let Err(e) = negotiate(&clients, 0, &client).await {
        return send(&format!("ERR publisher: {e}"));
    }
    let senders = match client.raw_senders().await {
        Ok(s) => s,
        Err(e) => return send(&format!("ERR publisher: {e}")),
    };
    let mut streams: Vec<Stream> = senders
        .into_iter()
        .enumerate()
        .map(|(i, sender)| Stream {
            sender,
            index: u8::try_from(i).unwrap_or(STREAM_AUDIO),
            frame_bytes: LAYERS
                .get(i)
                .map_or(80, |&(bps, _)| (bps / 8 / 30) as usize),
            seq: 1_000,
            timestamp: 90_000,
            number: 0,
        })
        .collect();
    lock(&clients.connections).push(client);
    send("PUBLISHING");
    let start = tokio::time::Instant::now();
    let (mut next_frame, mut next_audio, mut frame_no) = (start, start, 0u64);
    let mut started = [false; 3];
    loop {
        tokio::time::sleep_until(next_frame.min(next_audio)).await;
        let now = tokio::time::Instant::now();
        if clients.paused.load(Relaxed) {
            // `--drop-media` windows start and end with nothing in flight.
            (next_frame, next_audio) = (now + AUDIO_PACKET, now + AUDIO_PACKET);
            continue;
        }
        if now >= next_frame {
            let all = clients.all_layers.load(Relaxed);
            for s in streams.iter_mut().filter(|s| s.index < STREAM_AUDIO) {
                let i = usize::from(s.index);
                if !all && s.index != STREAM_TOP {
                    continue;
                }
                let periodic = frame_no % KEYFRAME_EVERY == 0 || !started[i];
                let keyframe = s.sender.take_keyframe_request() || periodic;
                started[i] = true;
                s.frame(keyframe, &clients.sent[i]).await;
            }
            frame_no += 1;
            next_frame += FRAME;
        }
        if now >= next_audio {
            if let Some(s) = streams.iter_mut().find(|s| s.index == STREAM_AUDIO) {
                s.audio(&clients.sent[3]).await;
            }
            next_audio += AUDIO_PACKET;
        }
        // After a stall, do not burst to catch up: skip the missed slots.
        let now = tokio::time::Instant::now();
        if now > next_frame + FRAME * 3 {
            next_frame = now;
        }
        if now > next_audio + AUDIO_PACKET * 3 {
            next_audio = now;
        }
    }
}
