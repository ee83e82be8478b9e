//! The GStreamer pipeline of one recording (drawn in the crate's documentation): built,
//! linked and handed to the recorder thread, which owns it.

use crate::{Event, RecordError, RecordingSpec};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

/// How late a slot's audio may reach the mixer and still be mixed.
const MIX_LATENCY: Duration = Duration::from_millis(300);
/// At most one [`Event::KeyframeWanted`] this often.
const KEYFRAME_WANTED_EVERY: Duration = Duration::from_secs(1);

/// A built pipeline and its inputs.
pub(crate) struct Pipeline {
    pub pipeline: gst::Pipeline,
    pub video: gst_app::AppSrc,
    /// One per audio slot, made when the slot's first packet comes ([`Self::audio_slot`]).
    pub audio: Vec<Option<gst_app::AppSrc>>,
    /// The silence under the mix; ended with the inputs.
    pub silence: gst::Element,
    /// The muxer's audio input: the picture waits until it is negotiated
    /// ([`Self::audio_ready`]).
    mux_audio: gst::Pad,
    mixer: gst::Element,
    rtp_opus: gst::Caps,
}

impl Pipeline {
    /// Whether the mix has reached the muxer with its format. Until it has, no picture
    /// may: the muxer writes its header when the first buffer comes and leaves out a
    /// track whose format it does not know yet.
    pub fn audio_ready(&self) -> bool {
        self.mux_audio.current_caps().is_some()
    }

    /// The input of audio slot `index` (`None` past the recording's slots). A slot's
    /// branch joins the running mix with its first packet: a branch that never had data
    /// would hold the live mix, and the file, until the end.
    pub fn audio_slot(&mut self, index: usize) -> Result<Option<&gst_app::AppSrc>, RecordError> {
        let Some(slot) = self.audio.get_mut(index) else {
            return Ok(None);
        };
        if slot.is_none() {
            *slot = Some(slot_branch(&self.pipeline, &self.mixer, &self.rtp_opus)?);
        }
        Ok(slot.as_ref())
    }
}

/// appsrc → rtpopusdepay → opusdec → audioconvert → audioresample → a new mixer pad,
/// added to the running pipeline.
fn slot_branch(
    pipeline: &gst::Pipeline,
    mixer: &gst::Element,
    rtp_opus: &gst::Caps,
) -> Result<gst_app::AppSrc, RecordError> {
    let src = appsrc(rtp_opus);
    let depay = make("rtpopusdepay")?;
    let decoder = make("opusdec")?;
    // Lost packets are concealed rather than heard as clicks.
    set_if_exists(&decoder, "plc", true);
    let convert = make("audioconvert")?;
    let resample = make("audioresample")?;
    let chain = [src.upcast_ref(), &depay, &decoder, &convert, &resample];
    add(pipeline, &chain)?;
    for pair in chain.windows(2) {
        link(pair[0], pair[1])?;
    }
    link_request(&resample, mixer, "sink_%u")?;
    // Downstream first, so that no element pushes into one not yet playing.
    for element in chain.iter().rev() {
        element
            .sync_state_with_parent()
            .map_err(|e| RecordError::Setup(format!("an audio slot would not start: {e}")))?;
    }
    Ok(src)
}

/// Builds the pipeline of `spec`, not started yet. Keyframe requests of the VP8
/// depayloader go to `events`.
pub(crate) fn build(
    spec: &RecordingSpec,
    events: UnboundedSender<Event>,
) -> Result<Pipeline, RecordError> {
    let pipeline = gst::Pipeline::new();
    let mux = make("webmmux")?;
    let sink = make("filesink")?;
    sink.set_property("location", spec.path.to_string_lossy().as_ref());
    // Write as fast as data comes, never waiting on the clock.
    sink.set_property("sync", false);
    sink.set_property("async", false);
    add(&pipeline, &[&mux, &sink])?;
    link(&mux, &sink)?;

    // The main picture: depacketised, not decoded.
    let rtp_vp8 = gst::Caps::builder("application/x-rtp")
        .field("media", "video")
        .field("clock-rate", 90_000i32)
        .field("encoding-name", "VP8")
        .field("payload", i32::from(spec.video_payload_type))
        .build();
    let video = appsrc(&rtp_vp8);
    let depay = make("rtpvp8depay")?;
    // Frames before the first keyframe cannot be decoded: drop them and ask for one.
    set_if_exists(&depay, "wait-for-keyframe", true);
    set_if_exists(&depay, "request-keyframe", true);
    let video_queue = queue()?;
    add(&pipeline, &[video.upcast_ref(), &depay, &video_queue])?;
    link(video.upcast_ref(), &depay)?;
    link(&depay, &video_queue)?;
    link_request(&video_queue, &mux, "video_%u")?;
    watch_keyframe_requests(&video, events);

    // The audio slots: decoded, mixed, encoded once.
    let mixer = make("audiomixer")?;
    mixer.set_property("latency", nanos(MIX_LATENCY));
    // A slot that never spoke is not waited for.
    set_if_exists(&mixer, "ignore-inactive-pads", true);
    let mix_caps = make("capsfilter")?;
    mix_caps.set_property(
        "caps",
        gst::Caps::builder("audio/x-raw")
            .field("rate", 48_000i32)
            .field("channels", 2i32)
            .build(),
    );
    let encoder = make("opusenc")?;
    let audio_queue = queue()?;
    add(&pipeline, &[&mixer, &mix_caps, &encoder, &audio_queue])?;
    link(&mixer, &mix_caps)?;
    link(&mix_caps, &encoder)?;
    link(&encoder, &audio_queue)?;
    let mux_audio = link_request(&audio_queue, &mux, "audio_%u")?;
    // A live silence under the slots: the mix is negotiated and flows from the start, so
    // the file always has its audio track (even before, or without, anyone speaking)
    // and the muxer never waits for a slot.
    let silence = make("audiotestsrc")?;
    silence.set_property_from_str("wave", "silence");
    silence.set_property("is-live", true);
    silence.set_property("samplesperbuffer", 960i32);
    add(&pipeline, &[&silence])?;
    link_request(&silence, &mixer, "sink_%u")?;

    let rtp_opus = gst::Caps::builder("application/x-rtp")
        .field("media", "audio")
        .field("clock-rate", 48_000i32)
        .field("encoding-name", "OPUS")
        .field("payload", i32::from(spec.audio_payload_type))
        .build();
    let audio = vec![None; usize::from(spec.audio_slots)];
    Ok(Pipeline {
        pipeline,
        video,
        audio,
        silence,
        mux_audio,
        mixer,
        rtp_opus,
    })
}

/// A live source of RTP whose buffers carry their arrival as running time.
fn appsrc(caps: &gst::Caps) -> gst_app::AppSrc {
    gst_app::AppSrc::builder()
        .caps(caps)
        .format(gst::Format::Time)
        .is_live(true)
        .do_timestamp(false)
        // Never block the recorder thread; the bounded channel before it limits memory.
        .block(false)
        .max_bytes(8 << 20)
        .build()
}

fn queue() -> Result<gst::Element, RecordError> {
    let queue = make("queue")?;
    // Enough to wait for the other stream at the muxer, bounded by time only.
    queue.set_property("max-size-buffers", 0u32);
    queue.set_property("max-size-bytes", 0u32);
    queue.set_property("max-size-time", nanos(Duration::from_secs(3)));
    Ok(queue)
}

/// Turns the depayloader's upstream force-key-unit events into [`Event::KeyframeWanted`].
fn watch_keyframe_requests(video: &gst_app::AppSrc, events: UnboundedSender<Event>) {
    let Some(pad) = video.static_pad("src") else {
        return;
    };
    let last: Mutex<Option<Instant>> = Mutex::new(None);
    pad.add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
        let wanted = matches!(&info.data, Some(gst::PadProbeData::Event(event))
            if event.structure().is_some_and(|s| s.name() == "GstForceKeyUnit"));
        if wanted {
            let mut last = last
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            if last.is_none_or(|at| now.duration_since(at) >= KEYFRAME_WANTED_EVERY) {
                *last = Some(now);
                // The caller may have stopped listening; the recording goes on.
                let _ = events.send(Event::KeyframeWanted);
            }
        }
        gst::PadProbeReturn::Ok
    });
}

fn make(factory: &str) -> Result<gst::Element, RecordError> {
    gst::ElementFactory::make(factory).build().map_err(|_| {
        RecordError::Setup(format!(
            "GStreamer element {factory} is missing (Debian: gstreamer1.0-plugins-base and gstreamer1.0-plugins-good)"
        ))
    })
}

fn set_if_exists(element: &gst::Element, property: &str, value: bool) {
    if element.find_property(property).is_some() {
        element.set_property(property, value);
    }
}

fn add(pipeline: &gst::Pipeline, elements: &[&gst::Element]) -> Result<(), RecordError> {
    pipeline
        .add_many(elements.iter().copied())
        .map_err(|e| RecordError::Setup(format!("cannot build the pipeline: {e}")))
}

fn link(from: &gst::Element, to: &gst::Element) -> Result<(), RecordError> {
    from.link(to)
        .map_err(|_| RecordError::Setup(format!("cannot link {} to {}", from.name(), to.name())))
}

/// Links `from` to a new pad of `to` from `template`; returns that pad.
fn link_request(
    from: &gst::Element,
    to: &gst::Element,
    template: &str,
) -> Result<gst::Pad, RecordError> {
    let fail = || {
        RecordError::Setup(format!(
            "cannot link {} to {}'s {template}",
            from.name(),
            to.name()
        ))
    };
    let sink = to.request_pad_simple(template).ok_or_else(fail)?;
    let src = from.static_pad("src").ok_or_else(fail)?;
    src.link(&sink).map_err(|_| fail())?;
    Ok(sink)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
