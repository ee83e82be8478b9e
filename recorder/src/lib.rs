//! Meeting recordings: the RTP of the main picture (VP8) and of the audio slots (Opus)
//! go into one WebM file through GStreamer, with a WebVTT side file of chapters.
//!
//! The caller is a media task that must never block, so [`Recorder`] is only a handle:
//! [`Recorder::open`] starts a thread that owns the GStreamer pipeline, and every push is
//! a `try_send` on a bounded channel into it (a full channel drops the packet and counts
//! it). Depacketising, decoding and mixing the audio slots (`audiomixer`), encoding the
//! mix and muxing (`webmmux`) all happen in GStreamer's own threads. What happens to the
//! recording comes back as [`Event`]s; a write error (read-only directory, disk full)
//! ends it with [`Event::Failed`], never a panic, and the caller goes on.
//!
//! ```text
//! video:   appsrc → rtpvp8depay → queue → webmmux (video)
//! slot i:  appsrc → rtpopusdepay → opusdec → audioconvert → audioresample → audiomixer
//! silence: audiotestsrc (live) → audiomixer
//! mix:     audiomixer → capsfilter (48 kHz, stereo) → opusenc → queue → webmmux (audio)
//! file:    webmmux → filesink
//! ```

mod chapters;
mod error;
mod pipeline;
#[cfg(feature = "testing")]
pub mod testing;
mod worker;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc as events;

pub use chapters::Chapters;
pub use error::{PushError, RecordError};

/// What to record and where.
#[derive(Debug, Clone)]
pub struct RecordingSpec {
    /// The WebM file to write (created or truncated); the chapters go beside it with the
    /// extension `vtt`.
    pub path: PathBuf,
    /// How many audio slots are mixed (slots `0..audio_slots` of [`Recorder::push_audio`]).
    pub audio_slots: u8,
    /// The RTP payload type of the VP8 packets.
    pub video_payload_type: u8,
    /// The RTP payload type of the Opus packets.
    pub audio_payload_type: u8,
    /// How many packets may wait for the recorder thread before pushes are dropped.
    pub queue: usize,
}

impl RecordingSpec {
    /// A recording into `path` with `audio_slots` mixed audio slots and Chrome's usual
    /// payload types (VP8 96, Opus 111).
    pub fn new(path: impl Into<PathBuf>, audio_slots: u8) -> Self {
        Self {
            path: path.into(),
            audio_slots,
            video_payload_type: 96,
            audio_payload_type: 111,
            // About two seconds of a 2 Mbit/s picture and three talking slots.
            queue: 2048,
        }
    }

    /// Where the chapters go: the recording's path with the extension `vtt`.
    pub fn chapters_path(&self) -> PathBuf {
        self.path.with_extension("vtt")
    }
}

/// What happened to a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The file is open and the pipeline runs.
    Started { path: PathBuf },
    /// The picture cannot be decoded from here on until a keyframe comes (the recording
    /// started mid-picture, or packets were lost): ask the publisher for one.
    KeyframeWanted,
    /// The recording was closed and its file is complete.
    Finished {
        path: PathBuf,
        chapters_path: PathBuf,
        /// From the first to the last packet written.
        duration: Duration,
        /// Packets dropped because the recorder thread was behind.
        dropped: u64,
    },
    /// The recording ended on an error; the file holds what was written before it.
    Failed { error: RecordError },
}

/// A message to the recorder thread.
#[derive(Debug)]
enum Command {
    Video {
        packet: Vec<u8>,
        arrival: Instant,
    },
    Audio {
        slot: u8,
        packet: Vec<u8>,
        arrival: Instant,
    },
    Chapter {
        title: String,
        at: Instant,
    },
    Close,
}

/// The handle of one recording. Dropping it closes the recording as [`Recorder::close`]
/// does.
#[derive(Debug)]
pub struct Recorder {
    commands: SyncSender<Command>,
    dropped: Arc<AtomicU64>,
    audio_slots: u8,
}

impl Recorder {
    /// Starts a recording; returns at once. The thread reports [`Event::Started`] when the
    /// file is open, or [`Event::Failed`] (GStreamer or one of its plugins missing, the
    /// file cannot be created).
    pub fn open(
        spec: RecordingSpec,
    ) -> Result<(Self, events::UnboundedReceiver<Event>), RecordError> {
        let (commands, inbox) = mpsc::sync_channel(spec.queue.max(1));
        let (events_tx, events_rx) = events::unbounded_channel();
        let dropped = Arc::new(AtomicU64::new(0));
        let audio_slots = spec.audio_slots;
        let worker_dropped = Arc::clone(&dropped);
        std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || worker::run(spec, inbox, events_tx, worker_dropped))
            .map_err(|e| RecordError::Setup(format!("cannot start the recorder thread: {e}")))?;
        Ok((
            Self {
                commands,
                dropped,
                audio_slots,
            },
            events_rx,
        ))
    }

    /// Hands one RTP packet of the main picture (VP8) to the recording.
    pub fn push_video(&self, packet: &[u8], arrival: Instant) -> Result<(), PushError> {
        self.send(Command::Video {
            packet: packet.to_vec(),
            arrival,
        })
    }

    /// Hands one RTP packet of audio slot `slot` (Opus) to the recording.
    pub fn push_audio(&self, slot: u8, packet: &[u8], arrival: Instant) -> Result<(), PushError> {
        if slot >= self.audio_slots {
            return Err(PushError::NoSuchSlot {
                slot,
                slots: self.audio_slots,
            });
        }
        self.send(Command::Audio {
            slot,
            packet: packet.to_vec(),
            arrival,
        })
    }

    /// Marks a chapter (a floor change, a roll call) starting at `at`.
    pub fn mark_chapter(&self, title: impl Into<String>, at: Instant) -> Result<(), PushError> {
        self.send(Command::Chapter {
            title: title.into(),
            at,
        })
    }

    /// Closes the recording: what was pushed is written, the file finished and the
    /// chapters written; [`Event::Finished`] follows. Returns at once.
    pub fn close(self) {
        // Dropping does it.
    }

    /// Packets dropped so far because the recorder thread was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn send(&self, command: Command) -> Result<(), PushError> {
        match self.commands.try_send(command) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                Err(PushError::Full)
            }
            Err(TrySendError::Disconnected(_)) => Err(PushError::Ended),
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        // A full queue still ends the recording: the thread also closes when the channel
        // disconnects, which dropping the sender right after does.
        let _ = self.commands.try_send(Command::Close);
    }
}
