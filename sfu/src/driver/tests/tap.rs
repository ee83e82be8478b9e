//! Taps in memory: a subscriber inside the node (a recorder) gets the camera and the
//! microphone its slots show as plain RTP — the slot's SSRC and payload type, gap-free,
//! the video from a keyframe on — asks the publisher for that keyframe, refuses a track
//! of the wrong kind, and gets nothing once closed.

use super::client::Hall;
use super::connect::addr;
use super::net::Net;
use crate::config::SfuConfig;
use crate::driver::command::Command;
use crate::driver::tap::{RtpTap, TAP_AUDIO_PAYLOAD_TYPE, TAP_VIDEO_PAYLOAD_TYPE};
use crate::event::{MediaKind, PeerId, SlotChange, SlotId};
use crate::rtp::RtpPacket;
use crate::SfuError;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PUBLISHER: PeerId = PeerId(1);
const TAP: PeerId = PeerId(900);

/// What a tap received: (slot, kind, packet).
#[derive(Default)]
struct Sink(Mutex<Vec<(SlotId, MediaKind, Vec<u8>)>>);

impl RtpTap for Sink {
    fn packet(&self, slot: SlotId, kind: MediaKind, packet: &[u8], _now: Instant) {
        let mut got = self.0.lock().unwrap_or_else(|e| e.into_inner());
        got.push((slot, kind, packet.to_vec()));
    }
}

impl Sink {
    fn on(&self, slot: SlotId) -> Vec<(MediaKind, Vec<u8>)> {
        let got = self.0.lock().unwrap_or_else(|e| e.into_inner());
        got.iter()
            .filter(|(s, _, _)| *s == slot)
            .map(|(_, k, p)| (*k, p.clone()))
            .collect()
    }
}

/// The running number a test payload ends with.
fn number(payload: &[u8]) -> u32 {
    let tail = payload.len().saturating_sub(4);
    let bytes: [u8; 4] = payload[tail..].try_into().expect("4 bytes");
    u32::from_be_bytes(bytes)
}

fn send(net: &mut Net, n: &mut u32, keyframe: bool) {
    let now = net.now;
    net.hall(PUBLISHER).send_media(now, *n, keyframe);
    *n += 1;
    net.advance(Duration::from_millis(20));
}

/// Checks one tap slot's packets: RTP with the slot's SSRC and payload type, gap-free,
/// the publisher's packets in order; returns the first payload.
fn check_slot(
    what: &str,
    got: &[(MediaKind, Vec<u8>)],
    (kind, ssrc, pt): (MediaKind, u32, u8),
) -> Vec<u8> {
    assert!(got.len() >= 40, "{what}: {} packets", got.len());
    let packets: Vec<RtpPacket<'_>> = got
        .iter()
        .map(|(k, p)| {
            assert_eq!(*k, kind, "{what}: kind");
            RtpPacket::parse(p).expect("the tap gets RTP")
        })
        .collect();
    for p in &packets {
        assert_eq!(
            (p.header.ssrc, p.header.payload_type),
            (ssrc, pt),
            "{what}: the slot's SSRC and payload type"
        );
    }
    for pair in packets.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert_eq!(
            b.header.sequence_number,
            a.header.sequence_number.wrapping_add(1),
            "{what}: gap-free"
        );
        assert_eq!(
            number(b.payload()),
            number(a.payload()) + 1,
            "{what}: in order"
        );
    }
    packets[0].payload().to_vec()
}

#[test]
fn a_tap_gets_what_its_slots_show_as_rtp_until_it_is_closed() {
    let mut net = Net::new(SfuConfig::default());
    net.join(PUBLISHER, Hall::new(net.now, addr(1), true, (0, 0)));
    net.connect_all();
    let (tracks, mut n) = net.publish(PUBLISHER);
    let track = |kind| {
        tracks
            .iter()
            .find(|t| t.0 == kind)
            .map(|t| t.1)
            .expect("published")
    };
    let (video, audio) = (track(MediaKind::Video), track(MediaKind::Audio));

    let sink = Arc::new(Sink::default());
    let tap: Arc<dyn RtpTap> = sink.clone();
    let slots = net
        .ask(|reply| Command::OpenTap {
            peer: TAP,
            audio_slots: 2,
            sink: tap.clone(),
            reply,
        })
        .expect("the tap opens");
    let kinds: Vec<MediaKind> = slots.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [MediaKind::Video, MediaKind::Audio, MediaKind::Audio]
    );
    let again = net.ask(|reply| Command::OpenTap {
        peer: TAP,
        audio_slots: 1,
        sink: tap.clone(),
        reply,
    });
    assert_eq!(again, Err(SfuError::DuplicatePeer(TAP)));

    let show = |slot: u16, track| SlotChange::Show {
        peer: TAP,
        slot: SlotId(slot),
        track,
        max_layer: 2,
    };
    // Audio in the video slot: refused, as for a hall.
    let wrong = net.ask(|reply| Command::Slot {
        change: show(0, audio),
        reply,
    });
    assert!(
        matches!(wrong, Err(SfuError::Incompatible(TAP, SlotId(0), _, _))),
        "{wrong:?}"
    );
    let asked_before = net.hall(PUBLISHER).keyframe_requests.len();
    let changes = vec![show(0, video), show(2, audio)];
    let results = net.ask(|reply| Command::Apply { changes, reply });
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert!(
        net.hall(PUBLISHER).keyframe_requests.len() > asked_before,
        "the tap's video slot asks the publisher for a keyframe"
    );
    for i in 0..60 {
        send(&mut net, &mut n, i == 0);
    }
    let first = check_slot(
        "video",
        &sink.on(SlotId(0)),
        (MediaKind::Video, slots[0].ssrc, TAP_VIDEO_PAYLOAD_TYPE),
    );
    assert_eq!(first[1] & 0x01, 0, "the video starts on a keyframe");
    check_slot(
        "audio",
        &sink.on(SlotId(2)),
        (MediaKind::Audio, slots[2].ssrc, TAP_AUDIO_PAYLOAD_TYPE),
    );
    assert!(sink.on(SlotId(1)).is_empty(), "an empty slot gets nothing");
    let stats = net.ask(|reply| Command::Stats { reply });
    assert!(
        stats.router.forwarded >= 100,
        "tap packets are counted: {stats:?}"
    );

    assert_eq!(
        net.ask(|reply| Command::CloseTap { peer: TAP, reply }),
        Ok(())
    );
    let received = sink.0.lock().map(|g| g.len()).unwrap_or_default();
    for _ in 0..10 {
        send(&mut net, &mut n, false);
    }
    assert_eq!(
        sink.0.lock().map(|g| g.len()).unwrap_or_default(),
        received,
        "closed: nothing more"
    );
    assert_eq!(
        net.ask(|reply| Command::CloseTap { peer: TAP, reply }),
        Err(SfuError::UnknownPeer(TAP))
    );
    let after = net.ask(|reply| Command::Slot {
        change: show(0, video),
        reply,
    });
    assert_eq!(after, Err(SfuError::UnknownPeer(TAP)));
    assert_eq!(
        Arc::strong_count(&sink),
        2,
        "the driver let go of the sink (ours and `tap`)"
    );
}
