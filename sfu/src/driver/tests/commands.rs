//! The driver's answers to commands, in memory: typed errors for bad offers and unknown
//! peers, slots and tracks; mangled offers and candidates that never panic; the
//! announced public address in the answer; a renegotiation that needs a hall and a
//! valid offer.

use super::client::Hall;
use super::connect::addr;
use super::net::Net;
use crate::config::SfuConfig;
use crate::driver::command::Command;
use crate::event::{IceCandidate, PeerId, SlotChange, SlotId};
use crate::{SfuError, StreamId};

/// Adds a hall's `offer` as `peer`.
fn add(net: &mut Net, peer: PeerId, offer: String) -> Result<crate::PeerAnswer, SfuError> {
    net.ask(|reply| Command::AddPeer { peer, offer, reply })
}

/// One slot change's result.
fn change(net: &mut Net, change: SlotChange) -> Result<(), SfuError> {
    let changes = vec![change];
    let mut results = net.ask(|reply| Command::Apply { changes, reply });
    results.pop().expect("one result per change")
}

#[test]
fn bad_offers_and_commands_get_typed_errors() {
    let mut net = Net::new(SfuConfig::default());
    let huge = "a".repeat(1 << 20);
    for offer in [
        "",
        "garbage",
        "not sdp",
        "v=0\r\n",
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n",
        &huge,
    ] {
        let result = add(&mut net, PeerId(7), offer.to_owned());
        let shown = &offer[..offer.len().min(40)];
        assert!(
            matches!(result, Err(SfuError::InvalidSdp(_))),
            "{shown:?}: {result:?}"
        );
    }
    let offer = Hall::new(net.now, addr(1), false, (1, 1)).offer(net.now);
    add(&mut net, PeerId(7), offer.clone()).expect("a good offer");
    assert_eq!(
        add(&mut net, PeerId(7), offer).map(|_| ()),
        Err(SfuError::DuplicatePeer(PeerId(7)))
    );
    let show = |peer, slot, track| SlotChange::Show {
        peer,
        slot,
        track,
        max_layer: 0,
    };
    assert_eq!(
        change(&mut net, show(PeerId(7), SlotId(0), StreamId(99))),
        Err(SfuError::UnknownTrack(StreamId(99)))
    );
    assert_eq!(
        change(&mut net, show(PeerId(9), SlotId(0), StreamId(1))),
        Err(SfuError::UnknownPeer(PeerId(9)))
    );
    let clear = |peer, slot| SlotChange::Clear { peer, slot };
    assert_eq!(
        change(&mut net, clear(PeerId(8), SlotId(0))),
        Err(SfuError::UnknownPeer(PeerId(8)))
    );
    assert_eq!(
        change(&mut net, clear(PeerId(7), SlotId(9))),
        Err(SfuError::UnknownSlot(PeerId(7), SlotId(9)))
    );
    let close = |net: &mut Net, peer| net.ask(|reply| Command::ClosePeer { peer, reply });
    assert_eq!(close(&mut net, PeerId(7)), Ok(()));
    assert_eq!(
        close(&mut net, PeerId(7)),
        Err(SfuError::UnknownPeer(PeerId(7)))
    );
}

#[test]
fn mangled_offers_and_candidates_never_panic() {
    let mut net = Net::new(SfuConfig::default());
    let offer = Hall::new(net.now, addr(1), true, (1, 1)).offer(net.now);
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut accepted, mut rejected) = (0, 0);
    for i in 0..60u64 {
        let mut bytes = offer.clone().into_bytes();
        match i % 3 {
            0 => bytes.truncate((next() as usize) % bytes.len()),
            1 => {
                for _ in 0..4 {
                    let at = (next() as usize) % bytes.len();
                    bytes[at] = b"0:= \r\na-x"[(next() % 9) as usize];
                }
            }
            _ => {
                let lines: Vec<&str> = offer.split("\r\n").collect();
                let drop = (next() as usize) % lines.len();
                let kept: Vec<&str> = lines
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != drop)
                    .map(|(_, l)| *l)
                    .collect();
                bytes = kept.join("\r\n").into_bytes();
            }
        }
        let mangled = String::from_utf8_lossy(&bytes).into_owned();
        match add(&mut net, PeerId(1000 + i), mangled) {
            Ok(_) => accepted += 1,
            Err(SfuError::InvalidSdp(_)) => rejected += 1,
            Err(e) => panic!("mangled offer {i}: unexpected {e:?}"),
        }
    }
    println!("mangled offers: {accepted} accepted, {rejected} rejected with InvalidSdp");
    assert!(rejected > 0);
    // Sending m-lines that name no SSRC (and no RID) are the hall's error, not ours.
    let no_ssrc: String = offer
        .split_inclusive("\r\n")
        .filter(|l| !l.starts_with("a=ssrc"))
        .collect();
    assert!(no_ssrc.len() < offer.len(), "the hall's offer names SSRCs");
    let result = add(&mut net, PeerId(3), no_ssrc);
    assert!(matches!(result, Err(SfuError::InvalidSdp(_))), "{result:?}");
    let bad = IceCandidate {
        candidate: "candidate:garbage".into(),
        ..Default::default()
    };
    let trickle = |net: &mut Net, peer| {
        let candidate = bad.clone();
        net.ask(|reply| Command::AddIceCandidate {
            peer,
            candidate,
            reply,
        })
    };
    assert_eq!(
        trickle(&mut net, PeerId(4)),
        Err(SfuError::UnknownPeer(PeerId(4)))
    );
    let good = Hall::new(net.now, addr(2), false, (1, 1)).offer(net.now);
    add(&mut net, PeerId(2), good).expect("a good offer");
    let result = trickle(&mut net, PeerId(2));
    assert!(
        matches!(result, Err(SfuError::InvalidCandidate(_))),
        "{result:?}"
    );
}

#[test]
fn the_answer_announces_the_public_address_on_the_port() {
    let public: std::net::IpAddr = [203, 0, 113, 7].into();
    let config = SfuConfig {
        announced_ips: vec![public],
        ..SfuConfig::default()
    };
    let mut net = Net::new(config);
    let offer = Hall::new(net.now, addr(1), false, (1, 0)).offer(net.now);
    let answer = add(&mut net, PeerId(1), offer).expect("an answer");
    let candidates: Vec<&str> = answer
        .sdp
        .lines()
        .filter(|l| l.starts_with("a=candidate:"))
        .collect();
    let port = super::net::SFU.port();
    assert!(
        candidates
            .iter()
            .any(|c| c.contains(&format!(" {public} {port} typ host"))),
        "{candidates:?}"
    );
    let private = super::net::SFU.ip().to_string();
    assert!(
        candidates.iter().all(|c| !c.contains(&private)),
        "the bound address stays private: {candidates:?}"
    );
}

#[test]
fn renegotiation_needs_a_hall_and_a_valid_offer() {
    let mut net = Net::new(SfuConfig::default());
    let renegotiate = |net: &mut Net, peer, offer: &str| {
        let offer = offer.to_owned();
        net.ask(|reply| Command::Renegotiate { peer, offer, reply })
    };
    let err = renegotiate(&mut net, PeerId(9), "v=0");
    assert!(matches!(err, Err(SfuError::UnknownPeer(_))), "{err:?}");
    net.join(PeerId(1), Hall::new(net.now, addr(1), false, (1, 0)));
    net.connect_all();
    let err = renegotiate(&mut net, PeerId(1), "not sdp");
    assert!(matches!(err, Err(SfuError::InvalidSdp(_))), "{err:?}");
    // The connection survives a bad offer, and a good one still works.
    let offer = {
        let now = net.now;
        let hall = net.hall(PeerId(1));
        let init = rtc::rtp_transceiver::RTCRtpTransceiverInit {
            direction: rtc::rtp_transceiver::RTCRtpTransceiverDirection::Recvonly,
            streams: Vec::new(),
            send_encodings: Vec::new(),
        };
        let kind = rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Audio;
        hall.pc
            .add_transceiver_from_kind(kind, Some(init))
            .expect("a new slot");
        hall.offer(now)
    };
    let answer = renegotiate(&mut net, PeerId(1), &offer).expect("an answer");
    assert_eq!(answer.slots.len(), 2);
}
