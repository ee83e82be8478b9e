//! The recorder thread: owns the pipeline, turns commands into timestamped buffers,
//! watches GStreamer's bus for errors and finishes the file.

use crate::chapters::Chapters;
use crate::pipeline::{self, Pipeline};
use crate::{Command, Event, RecordError, RecordingSpec};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

/// How often the bus is looked at while no command comes.
const IDLE_WAKE: Duration = Duration::from_millis(100);
/// How long the audio mix may take to reach the muxer at the start (well under a
/// second when idle; 5 s once ran out on a loaded machine with five recordings and
/// their VP8 encoders starting at once).
const AUDIO_START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the muxer may take to finish the file after the last packet.
const FINISH_TIMEOUT: Duration = Duration::from_secs(10);

/// The thread's body: records until closed or failed, then reports how it ended.
pub(crate) fn run(
    spec: RecordingSpec,
    inbox: Receiver<Command>,
    events: UnboundedSender<Event>,
    dropped: Arc<AtomicU64>,
) {
    let ended = record(&spec, &inbox, &events);
    // Pushes from now on fail with `PushError::Ended`.
    drop(inbox);
    let event = match ended {
        Ok(duration) => {
            tracing::info!(path = %spec.path.display(), ?duration, "recording finished");
            Event::Finished {
                path: spec.path.clone(),
                chapters_path: spec.chapters_path(),
                duration,
                dropped: dropped.load(Ordering::Relaxed),
            }
        }
        Err(error) => {
            tracing::warn!(path = %spec.path.display(), code = error.code(), %error, "recording failed");
            Event::Failed { error }
        }
    };
    // The caller may have stopped listening.
    let _ = events.send(event);
}

/// Stops the pipeline however the recording ends, so the file is closed.
struct Running(gst::Pipeline);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.set_state(gst::State::Null);
    }
}

/// Records; returns the recording's length.
fn record(
    spec: &RecordingSpec,
    inbox: &Receiver<Command>,
    events: &UnboundedSender<Event>,
) -> Result<Duration, RecordError> {
    gst::init().map_err(|e| RecordError::Setup(format!("GStreamer would not start: {e}")))?;
    let mut built: Pipeline = pipeline::build(spec, events.clone())?;
    let pipeline = built.pipeline.clone();
    let bus = pipeline
        .bus()
        .ok_or_else(|| RecordError::Setup("the pipeline has no bus".into()))?;
    let running = Running(pipeline.clone());
    fix_clock(&pipeline);
    if pipeline.set_state(gst::State::Playing).is_err() {
        // The element that failed said why on the bus (filesink: cannot open the file).
        return Err(bus_error(&bus)
            .unwrap_or_else(|| RecordError::Setup("the pipeline would not start".into())));
    }
    // The mix's format first (see `Pipeline::audio_ready`); packets wait in the channel.
    let deadline = Instant::now() + AUDIO_START_TIMEOUT;
    while !built.audio_ready() {
        if let Some(error) = bus_error(&bus) {
            return Err(error);
        }
        if Instant::now() >= deadline {
            return Err(RecordError::Setup("the audio mix did not start".into()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = events.send(Event::Started {
        path: spec.path.clone(),
    });

    let mut clock = Timeline::new(&pipeline, 1 + built.audio.len());
    let mut chapters = Chapters::default();
    loop {
        match inbox.recv_timeout(IDLE_WAKE) {
            Ok(Command::Video { packet, arrival }) => {
                let pts = clock.stamp(0, arrival);
                push(&built.video, packet, pts);
            }
            Ok(Command::Audio {
                slot,
                packet,
                arrival,
            }) => {
                let index = usize::from(slot);
                if let Some(src) = built.audio_slot(index)? {
                    let pts = clock.stamp(1 + index, arrival);
                    push(src, packet, pts);
                }
            }
            Ok(Command::Chapter { title, at }) => chapters.mark(clock.at(at), &title),
            Ok(Command::Close) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
        if let Some(error) = bus_error(&bus) {
            return Err(error);
        }
    }

    // Finish: end every input, wait for the muxer to write the file's index.
    for src in std::iter::once(&built.video).chain(built.audio.iter().flatten()) {
        let _ = src.end_of_stream();
    }
    built.silence.send_event(gst::event::Eos::new());
    let deadline = Instant::now() + FINISH_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(RecordError::Stream(
                "the file was not finished in time".into(),
            ));
        }
        let Some(message) = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(left.as_millis().try_into().unwrap_or(u64::MAX)),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        ) else {
            continue;
        };
        match message.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(err) => return Err(classify(err)),
            _ => {}
        }
    }
    drop(running);
    let duration = clock.end();
    std::fs::write(spec.chapters_path(), chapters.to_webvtt(duration))
        .map_err(|e| RecordError::Write(format!("{}: {e}", spec.chapters_path().display())))?;
    Ok(duration)
}

/// Gives the pipeline its clock and base time before it starts, so that every element
/// has the right base time from READY→PAUSED on. Left to the pipeline, the clock reaches
/// the elements before their base time does on PAUSED→PLAYING: the live mixer's task,
/// already running, could then wait for "base 0 + latency", find it ages past and time
/// out into a state where the mix never reached the muxer (seen about once in four runs
/// of the recording tests on a busy machine: "the audio mix did not start").
fn fix_clock(pipeline: &gst::Pipeline) {
    let clock = gst::SystemClock::obtain();
    pipeline.use_clock(Some(&clock));
    pipeline.set_start_time(gst::ClockTime::NONE);
    pipeline.set_base_time(clock.time());
}

/// Maps arrival instants to the pipeline's running time (its clock is monotonic, as
/// `Instant` is), never going backwards within one input.
struct Timeline {
    pipeline: gst::Pipeline,
    /// The last timestamp given per input (video, then the audio slots).
    last: Vec<Option<Duration>>,
}

impl Timeline {
    fn new(pipeline: &gst::Pipeline, inputs: usize) -> Self {
        Self {
            pipeline: pipeline.clone(),
            last: vec![None; inputs],
        }
    }

    /// The running time of `instant`.
    fn at(&self, instant: Instant) -> Duration {
        let now = self
            .pipeline
            .current_running_time()
            .map_or(Duration::ZERO, |t| Duration::from_nanos(t.nseconds()));
        now.saturating_sub(Instant::now().saturating_duration_since(instant))
    }

    /// The timestamp of a packet of `input` that arrived at `arrival`.
    fn stamp(&mut self, input: usize, arrival: Instant) -> Duration {
        let at = self.at(arrival);
        let Some(last) = self.last.get_mut(input) else {
            return at;
        };
        let at = last.map_or(at, |l| at.max(l));
        *last = Some(at);
        at
    }

    /// The recording's length: its last packet's timestamp.
    fn end(&self) -> Duration {
        self.last
            .iter()
            .flatten()
            .max()
            .copied()
            .unwrap_or_default()
    }
}

fn push(src: &gst_app::AppSrc, packet: Vec<u8>, pts: Duration) {
    let mut buffer = gst::Buffer::from_mut_slice(packet);
    if let Some(buffer) = buffer.get_mut() {
        buffer.set_pts(gst::ClockTime::from_nseconds(
            u64::try_from(pts.as_nanos()).unwrap_or(u64::MAX),
        ));
    }
    // A refused buffer means the pipeline is failing or ending; the bus says which.
    let _ = src.push_buffer(buffer);
}

/// The first error waiting on the bus, if any.
fn bus_error(bus: &gst::Bus) -> Option<RecordError> {
    while let Some(message) = bus.pop_filtered(&[gst::MessageType::Error]) {
        if let gst::MessageView::Error(err) = message.view() {
            return Some(classify(err));
        }
    }
    None
}

fn classify(err: &gst::message::Error) -> RecordError {
    let error = err.error();
    let source = err.src().map(|s| s.name().to_string()).unwrap_or_default();
    let text = format!("{} ({source})", error.message());
    tracing::debug!(%text, debug = ?err.debug(), "GStreamer error");
    if error.is::<gst::ResourceError>() {
        RecordError::Write(text)
    } else if error.is::<gst::CoreError>() || error.is::<gst::LibraryError>() {
        RecordError::Setup(text)
    } else {
        RecordError::Stream(text)
    }
}
