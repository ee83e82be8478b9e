//! What can go wrong with a recording, each with a stable code for logs and events.

/// Why a recording could not start or ended early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// GStreamer or one of the plugins the recording needs is missing or would not start.
    #[error("the recorder cannot start: {0}")]
    Setup(String),
    /// The file could not be created or written (read-only directory, disk full).
    #[error("the recording cannot be written: {0}")]
    Write(String),
    /// The media could not be processed (GStreamer reported a stream error).
    #[error("the recording failed: {0}")]
    Stream(String),
}

impl RecordError {
    /// A stable code for events and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Setup(_) => "recording_setup_failed",
            Self::Write(_) => "recording_write_failed",
            Self::Stream(_) => "recording_stream_failed",
        }
    }
}

/// Why a packet or a chapter was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The recorder thread is behind; the packet was dropped (and counted).
    #[error("the recorder is behind; packet dropped")]
    Full,
    /// The recording has ended (closed or failed).
    #[error("the recording has ended")]
    Ended,
    /// The slot is not one the recording mixes.
    #[error("audio slot {slot} is not recorded (slots 0..{slots})")]
    NoSuchSlot { slot: u8, slots: u8 },
}
