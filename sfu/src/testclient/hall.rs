//! The test client as a whole hall, for the meeting benchmark: a simulcast camera and a
//! microphone that obey the server (`send_layers`, mute) as the room page does, and
//! receive slots on the same connection.

use super::simulcast::{Tagging, LAYER_NUMBERS, SIMULCAST_RIDS, SIMULCAST_SSRC};
use super::synthetic::{SentCounters, Stream};
use super::{PacketObserver, TestClient, AUDIO_SSRC, MIME_OPUS, MIME_VP8};
use crate::SfuError;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use webrtc::media_stream::track_local::TrackLocal;

/// One simulcast layer's load: `packets` of `size` bytes per frame, a frame every
/// `every`-th tick of 30 a second (1: 30 fps, 2: 15 fps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerShape {
    /// Ticks between frames.
    pub every: u32,
    /// Packets per delta frame (a keyframe has twice as many).
    pub packets: usize,
    /// Bytes per packet.
    pub size: usize,
}

/// The camera's three layers, low to high.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HallShape {
    /// Layer shapes, low to high.
    pub layers: [LayerShape; 3],
}

impl Default for HallShape {
    /// A low-bitrate camera: ~70 kbit/s at 15 fps, ~240 kbit/s and ~530 kbit/s at 30 fps.
    fn default() -> Self {
        let layer = |every, packets, size| LayerShape {
            every,
            packets,
            size,
        };
        Self {
            layers: [layer(2, 1, 600), layer(1, 1, 1000), layer(1, 2, 1100)],
        }
    }
}

impl TestClient {
    /// A hall publishing a three-layer camera and a microphone, asking for `video` +
    /// `audio` receive slots whose packets go to `observer` (`None`: recorded, see
    /// [`received`](Self::received)).
    pub async fn hall(
        video: usize,
        audio: usize,
        observer: Option<PacketObserver>,
    ) -> Result<Self, SfuError> {
        let mut client = Self::new(observer).await?;
        let want = Arc::clone(&client.want_keyframe);
        let camera = (RtpCodecKind::Video, SIMULCAST_SSRC, MIME_VP8);
        let id = ("hall-camera".to_owned(), &SIMULCAST_RIDS[..]);
        client.add_sending_track(camera, id, want).await?;
        let want = Arc::clone(&client.want_keyframe);
        let mic = (RtpCodecKind::Audio, AUDIO_SSRC, MIME_OPUS);
        client
            .add_sending_track(mic, ("hall-mic".to_owned(), &[]), want)
            .await?;
        client.add_receive_slots(video, audio).await?;
        Ok(client)
    }

    /// Starts the camera and microphone of [`hall`](Self::hall): every layer and the
    /// microphone on until told otherwise; a keyframe on each layer first, after a PLI
    /// and when a layer resumes.
    pub async fn start_hall(&self, shape: HallShape) -> Result<HallMedia, SfuError> {
        let (Some(camera), Some(mic)) = (self.outgoing.first(), self.outgoing.get(1)) else {
            return Err(SfuError::Webrtc("not a hall client".into()));
        };
        let tags = Tagging::of(camera).await?;
        let mut layers: Vec<Stream> = (0..3u32)
            .map(|l| {
                let ssrc = SIMULCAST_SSRC + l;
                let mut s = Stream::new((Arc::clone(&camera.track), ssrc, tags.payload_type, true));
                s.number = l * LAYER_NUMBERS;
                s
            })
            .collect();
        let mut voice = Stream::new((
            Arc::clone(&mic.track),
            mic.ssrc,
            mic.payload_type().await?,
            false,
        ));
        let controls = Arc::new(Controls {
            layers: AtomicU8::new(3),
            audio: AtomicBool::new(true),
        });
        let sent = Arc::new(SentCounters::default());
        let (stop, mut stopped) = watch::channel(false);
        let (want, on, counters) = (
            Arc::clone(&self.want_keyframe),
            Arc::clone(&controls),
            Arc::clone(&sent),
        );
        let task = tokio::spawn(async move {
            // A 10 ms tick: audio every 2nd, a 30 fps video tick every 3rd (≈ 33 ms).
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            let mut was_on = [false; 3];
            // A keyframe asked for waits for the layer's next frame (15 fps layers skip ticks).
            let mut owed = [false; 3];
            for n in 0u64.. {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.changed() => break,
                }
                if n % 2 == 0 && on.audio.load(Ordering::Relaxed) {
                    for p in voice.audio_packet() {
                        if voice.track.write_rtp(p).await.is_ok() {
                            counters.audio.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                if n % 3 != 0 {
                    continue;
                }
                let frame = n / 3;
                let pli = want.swap(false, Ordering::Relaxed);
                let active = usize::from(on.layers.load(Ordering::Relaxed).clamp(1, 3));
                for (l, s) in layers.iter_mut().enumerate() {
                    let is_on = l < active;
                    let resumed = is_on && !was_on[l];
                    was_on[l] = is_on;
                    let shape = shape.layers[l];
                    // A resumed layer starts at once, with a keyframe.
                    owed[l] |= pli;
                    if !is_on || (!resumed && frame % u64::from(shape.every.max(1)) != 0) {
                        continue;
                    }
                    let keyframe = std::mem::take(&mut owed[l]) || resumed;
                    let count = shape.packets * if keyframe { 2 } else { 1 };
                    for mut p in s.video_frame_of(keyframe, count, shape.size) {
                        if tags.tag(&mut p, l) && s.track.write_rtp(p).await.is_ok() {
                            counters.video.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        });
        Ok(HallMedia {
            stop,
            task,
            controls,
            sent,
        })
    }
}

struct Controls {
    /// Layers to send, from the lowest (1..=3).
    layers: AtomicU8,
    /// Whether the microphone sends.
    audio: AtomicBool,
}

/// A hall's running camera and microphone.
pub struct HallMedia {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    controls: Arc<Controls>,
    /// Packets handed to the connection so far.
    pub sent: Arc<SentCounters>,
}

impl HallMedia {
    /// Sends the lowest `layers` layers (as the page obeys `send_layers`; at least 1).
    pub fn send_layers(&self, layers: u8) {
        self.controls
            .layers
            .store(layers.clamp(1, 3), Ordering::Relaxed);
    }

    /// Starts or stops the microphone (a muted page sends no audio).
    pub fn set_audio(&self, on: bool) {
        self.controls.audio.store(on, Ordering::Relaxed);
    }

    /// Stops sending and waits for the loop to end.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
