//! Test helpers (feature `testing`): a live GStreamer source of real VP8 and Opus RTP
//! (what a hall's browser sends, paced in real time) and a probe that opens a finished
//! file as a player would. Used by this crate's tests and by the crates that record
//! through the SFU.

use crate::{Event, Recorder};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;

/// What a generated packet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Produced {
    /// The test picture (VP8, payload type 96).
    Video,
    /// Tone `n` (Opus, payload type 111): 440 Hz stereo (0) or 660 Hz mono (1).
    Audio(u8),
}

/// A test picture: a `videotestsrc` pattern (`ball`, or a solid `red`, `blue`, …) and
/// its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Picture {
    pub pattern: &'static str,
    pub width: u32,
    pub height: u32,
}

impl Default for Picture {
    fn default() -> Self {
        Self {
            pattern: "ball",
            width: 320,
            height: 240,
        }
    }
}

/// Generates `seconds` of a test picture (VP8, 320×240, 30 fps, a keyframe every
/// second) and two tones (Opus) as RTP, handing each packet to `on_packet` as it is
/// produced (in real time, on GStreamer's threads). Returns when all was produced.
pub fn generate(seconds: u32, on_packet: impl Fn(Produced, &[u8]) + Send + Sync + 'static) {
    generate_picture(seconds, Picture::default(), on_packet);
}

/// [`generate`] with another picture.
pub fn generate_picture(
    seconds: u32,
    picture: Picture,
    on_packet: impl Fn(Produced, &[u8]) + Send + Sync + 'static,
) {
    gst::init().expect("GStreamer initialises (installed by scripts/ensure-gstreamer)");
    let frames = seconds * 30;
    let audio_buffers = seconds * 50;
    let Picture {
        pattern,
        width,
        height,
    } = picture;
    let description = format!(
        "videotestsrc is-live=true num-buffers={frames} pattern={pattern} \
           ! video/x-raw,width={width},height={height},framerate=30/1 \
           ! vp8enc deadline=1 keyframe-max-dist=30 ! rtpvp8pay pt=96 mtu=1200 \
           ! appsink name=video sync=false \
         audiotestsrc is-live=true num-buffers={audio_buffers} samplesperbuffer=960 freq=440 \
           ! audio/x-raw,rate=48000,channels=2 ! opusenc ! rtpopuspay pt=111 \
           ! appsink name=slot0 sync=false \
         audiotestsrc is-live=true num-buffers={audio_buffers} samplesperbuffer=960 freq=660 \
           ! audio/x-raw,rate=48000,channels=1 ! opusenc ! rtpopuspay pt=111 \
           ! appsink name=slot1 sync=false"
    );
    let pipeline = gst::parse::launch(&description)
        .expect("the generator pipeline parses")
        .downcast::<gst::Pipeline>()
        .expect("a launch line of several chains is a pipeline");
    let on_packet = Arc::new(on_packet);
    for (name, what) in [
        ("video", Produced::Video),
        ("slot0", Produced::Audio(0)),
        ("slot1", Produced::Audio(1)),
    ] {
        let sink = pipeline
            .by_name(name)
            .expect("the appsink is in the pipeline")
            .downcast::<gst_app::AppSink>()
            .expect("it is an appsink");
        let on_packet = Arc::clone(&on_packet);
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
                    let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                    on_packet(what, &map);
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
    }
    pipeline
        .set_state(gst::State::Playing)
        .expect("the generator starts");
    let bus = pipeline.bus().expect("a pipeline has a bus");
    let message = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(u64::from(seconds) + 20),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("the generator ends");
    assert!(
        matches!(message.view(), gst::MessageView::Eos(_)),
        "generator failed: {message:?}"
    );
    pipeline
        .set_state(gst::State::Null)
        .expect("the generator stops");
}

/// [`generate`]s into `recorder` (tones 0 and 1 into audio slots 0 and 1), each packet
/// with its arrival time; a full queue drops the packet, as the media task would.
pub fn feed(recorder: &Arc<Recorder>, seconds: u32) {
    let recorder = Arc::clone(recorder);
    generate(seconds, move |what, packet| {
        let now = Instant::now();
        let _ = match what {
            Produced::Video => recorder.push_video(packet, now),
            Produced::Audio(slot) => recorder.push_audio(slot, packet, now),
        };
    });
}

/// Waits for an event that `pick` accepts, up to `timeout`; other events are kept.
pub fn wait_for<T>(
    events: &mut UnboundedReceiver<Event>,
    seen: &mut Vec<Event>,
    timeout: Duration,
    pick: impl Fn(&Event) -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        match events.try_recv() {
            Ok(event) => {
                let found = pick(&event);
                seen.push(event);
                if found.is_some() {
                    return found;
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    None
}

/// One decoded frame, as [`probe`] saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    pub pts: Duration,
    pub width: u32,
    pub height: u32,
    /// The centre pixel, RGB.
    pub centre: [u8; 3],
}

/// What a player finds in a file.
#[derive(Debug, Default)]
pub struct Probe {
    /// Decoded streams by kind ("video", "audio").
    pub streams: Vec<&'static str>,
    /// Decoded video frames and audio buffers.
    pub video_frames: u64,
    pub audio_buffers: u64,
    /// The loudest decoded sample (signed 16-bit).
    pub audio_peak: i32,
    /// Each decoded frame's timestamp, size and centre pixel (RGB).
    pub frames: Vec<Frame>,
    /// The duration the container declares.
    pub duration: Option<Duration>,
}

/// Opens `path` through `decodebin` (as players do), decodes all of it and reports what
/// came out.
pub fn probe(path: &std::path::Path) -> Result<Probe, String> {
    gst::init().map_err(|e| e.to_string())?;
    let pipeline = gst::Pipeline::new();
    let src = gst::ElementFactory::make("filesrc")
        .property("location", path.to_string_lossy().as_ref())
        .build()
        .map_err(|e| e.to_string())?;
    let decode = gst::ElementFactory::make("decodebin")
        .build()
        .map_err(|e| e.to_string())?;
    pipeline
        .add_many([&src, &decode])
        .map_err(|e| e.to_string())?;
    src.link(&decode).map_err(|e| e.to_string())?;
    let found = Arc::new(Mutex::new(Probe::default()));
    let weak = pipeline.downgrade();
    let on_pad = Arc::clone(&found);
    decode.connect_pad_added(move |_, pad| {
        let Some(pipeline) = weak.upgrade() else {
            return;
        };
        let caps = pad.current_caps().or_else(|| Some(pad.query_caps(None)));
        let kind = match caps
            .as_ref()
            .and_then(|c| c.structure(0))
            .map(|s| s.name().to_string())
        {
            Some(name) if name.starts_with("video/") => "video",
            Some(name) if name.starts_with("audio/") => "audio",
            _ => return,
        };
        let Ok(sink) = gst::ElementFactory::make("fakesink")
            .property("sync", false)
            .build()
        else {
            return;
        };
        // Video is looked at in RGB.
        let mut chain = vec![sink.clone()];
        if kind == "video" {
            let rgb = gst::Caps::builder("video/x-raw")
                .field("format", "RGB")
                .build();
            let (Ok(convert), Ok(filter)) = (
                gst::ElementFactory::make("videoconvert").build(),
                gst::ElementFactory::make("capsfilter")
                    .property("caps", rgb)
                    .build(),
            ) else {
                return;
            };
            chain = vec![convert, filter, sink.clone()];
        }
        if pipeline.add_many(&chain).is_err() || gst::Element::link_many(&chain).is_err() {
            return;
        }
        for element in chain.iter().rev() {
            if element.sync_state_with_parent().is_err() {
                return;
            }
        }
        let Some(sink_pad) = sink.static_pad("sink") else {
            return;
        };
        let Some(first) = chain[0].static_pad("sink") else {
            return;
        };
        if pad.link(&first).is_err() {
            return;
        }
        let counts = Arc::clone(&on_pad);
        lock(&on_pad).streams.push(kind);
        sink_pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            let mut counts = lock(&counts);
            if kind == "video" {
                counts.video_frames += 1;
                if let Some(frame) = info.buffer().and_then(|b| centre(pad, b)) {
                    counts.frames.push(frame);
                }
            } else {
                counts.audio_buffers += 1;
                if let Some(map) = info.buffer().and_then(|b| b.map_readable().ok()) {
                    let peak = map
                        .chunks_exact(2)
                        .map(|s| i32::from(i16::from_le_bytes([s[0], s[1]])).abs())
                        .max()
                        .unwrap_or(0);
                    counts.audio_peak = counts.audio_peak.max(peak);
                }
            }
            gst::PadProbeReturn::Ok
        });
    });
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| e.to_string())?;
    let bus = pipeline.bus().ok_or("no bus")?;
    let outcome = bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(30),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    let duration = pipeline
        .query_duration::<gst::ClockTime>()
        .map(|d| Duration::from_nanos(d.nseconds()));
    let _ = pipeline.set_state(gst::State::Null);
    match outcome.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Eos(_)) => {}
        Some(gst::MessageView::Error(err)) => {
            return Err(format!("{} ({:?})", err.error(), err.debug()))
        }
        _ => return Err("the file did not play to its end in 30 s".into()),
    }
    let mut probe = std::mem::take(&mut *lock(&found));
    probe.duration = duration;
    Ok(probe)
}

/// The frame's size and centre pixel, from an RGB buffer (rows padded to 4 bytes).
fn centre(pad: &gst::Pad, buffer: &gst::BufferRef) -> Option<Frame> {
    let caps = pad.current_caps()?;
    let s = caps.structure(0)?;
    let width = u32::try_from(s.get::<i32>("width").ok()?).ok()?;
    let height = u32::try_from(s.get::<i32>("height").ok()?).ok()?;
    let stride = (width as usize * 3).div_ceil(4) * 4;
    let at = (height as usize / 2) * stride + (width as usize / 2) * 3;
    let map = buffer.map_readable().ok()?;
    let pixel = map.get(at..at + 3)?;
    Some(Frame {
        pts: Duration::from_nanos(buffer.pts()?.nseconds()),
        width,
        height,
        centre: [pixel[0], pixel[1], pixel[2]],
    })
}

fn lock(probe: &Mutex<Probe>) -> std::sync::MutexGuard<'_, Probe> {
    probe
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
