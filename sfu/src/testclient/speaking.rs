//! A microphone that says how loud it is: 20 ms Opus packets carrying the RFC 6464
//! audio level header extension (`urn:ietf:params:rtp-hdrext:ssrc-audio-level`), at an
//! id the answer negotiated, for tests of active-speaker detection.

use super::synthetic::Stream;
use super::TestClient;
use crate::driver::peer::{AUDIO_LEVEL_URI, MIME_OPUS};
use crate::SfuError;
use bytes::Bytes;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use webrtc::media_stream::track_local::TrackLocal;

/// A running speaking loop.
pub struct Speaking {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    level: Arc<AtomicU8>,
}

impl Speaking {
    /// Changes the level sent from now on, in -dBov (0 loudest, 127 silence).
    pub fn set_level(&self, level: u8) {
        self.level.store(level.min(127), Ordering::Relaxed);
    }

    /// Stops sending and waits for the loop to end.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

impl TestClient {
    /// Starts sending Opus on the publisher's microphone with an audio level of `level`
    /// -dBov (0 loudest, 127 silence; the voice bit set below 127), one packet every
    /// 20 ms, until stopped. Fails if the microphone or the extension was not negotiated.
    pub async fn start_speaking(&self, level: u8) -> Result<Speaking, SfuError> {
        let o = self
            .outgoing
            .iter()
            .find(|o| o.mime == MIME_OPUS)
            .ok_or_else(|| SfuError::Webrtc("no microphone".into()))?;
        let pt = o.payload_type().await?;
        let sender = o.transceiver.sender().await.map_err(SfuError::webrtc)?;
        let sender = sender.ok_or_else(|| SfuError::Webrtc("no sender".into()))?;
        let params = sender.get_parameters().await.map_err(SfuError::webrtc)?;
        let id = params
            .rtp_parameters
            .header_extensions
            .iter()
            .filter(|e| e.uri == AUDIO_LEVEL_URI)
            .find_map(|e| u8::try_from(e.id).ok())
            .ok_or_else(|| SfuError::Webrtc("audio level not negotiated".into()))?;
        let level = Arc::new(AtomicU8::new(level.min(127)));
        let (stop, mut stopped) = watch::channel(false);
        let mut stream = Stream::new((Arc::clone(&o.track), o.ssrc, pt, false));
        let shared = Arc::clone(&level);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.changed() => break,
                }
                let l = shared.load(Ordering::Relaxed);
                let byte = if l < 127 { 0x80 | l } else { l };
                for mut p in stream.audio_packet() {
                    // A packet without its level still counts as sent audio.
                    let _ = p.header.set_extension(id, Bytes::from(vec![byte]));
                    let _ = stream.track.write_rtp(p).await;
                }
            }
        });
        Ok(Speaking { stop, task, level })
    }
}
