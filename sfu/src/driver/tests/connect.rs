//! ICE and DTLS-SRTP between a hall and the driver, in memory: the hall's checks bind its
//! address, the handshake completes, its encrypted media is read; a check without the
//! password binds nothing; a hall that goes silent is disconnected, then failed and
//! removed.

use super::client::Hall;
use super::net::{Net, SFU};
use crate::config::SfuConfig;
use crate::driver::command::Command;
use crate::event::{DisconnectReason, MediaKind, PeerId, SfuEvent};
use bytes::BytesMut;
use std::net::SocketAddr;
use std::time::Duration;

/// The address of hall `n` on the simulated network.
pub fn addr(n: u8) -> SocketAddr {
    SocketAddr::from(([198, 18, 1, n], 40_000 + u16::from(n)))
}

#[test]
fn a_hall_connects_over_ice_and_dtls_and_its_media_is_decrypted() {
    let mut net = Net::new(SfuConfig::default());
    let hall = Hall::new(net.now, addr(1), true, (0, 0));
    let answer = net.join(PeerId(1), hall);
    let port = format!(" {} {} typ host", SFU.ip(), SFU.port());
    assert!(
        answer.sdp.contains(&port),
        "the answer's candidate is the port"
    );
    net.connect_all();
    let stats = net.ask(|reply| Command::Stats { reply });
    assert_eq!(stats.connections, 1);
    assert_eq!(stats.addresses, 1, "the hall's checked address is bound");
    assert_eq!(stats.unrouted, 0);
    // SRTP keyed from the handshake: what the hall encrypts, the SFU reads.
    for n in 0..5 {
        let now = net.now;
        net.hall(PeerId(1)).send_media(now, n, n == 0);
        net.advance(Duration::from_millis(20));
    }
    let mut kinds: Vec<MediaKind> = net
        .events
        .iter()
        .filter_map(|e| match e {
            SfuEvent::TrackPublished {
                peer: PeerId(1),
                kind,
                ..
            } => Some(*kind),
            _ => None,
        })
        .collect();
    kinds.sort_by_key(|k| *k == MediaKind::Video);
    assert_eq!(kinds, [MediaKind::Audio, MediaKind::Video]);
}

/// A STUN Binding request with `username` and no MESSAGE-INTEGRITY.
fn unsigned_check(username: &str) -> BytesMut {
    let mut msg = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
    msg.extend_from_slice(&[7; 12]);
    let len = u8::try_from(username.len()).expect("short");
    msg.extend_from_slice(&[0x00, 0x06, 0x00, len]);
    msg.extend_from_slice(username.as_bytes());
    msg.resize(msg.len().next_multiple_of(4), 0);
    let body = u16::try_from(msg.len() - 20).expect("short");
    msg[2..4].copy_from_slice(&body.to_be_bytes());
    BytesMut::from(&msg[..])
}

#[test]
fn a_check_without_the_password_binds_no_address_and_junk_is_dropped() {
    let mut net = Net::new(SfuConfig::default());
    let hall = Hall::new(net.now, addr(1), false, (1, 1));
    let answer = net.join(PeerId(1), hall);
    let ufrag = answer
        .sdp
        .lines()
        .find_map(|l| l.trim_end().strip_prefix("a=ice-ufrag:"))
        .expect("the answer has a ufrag");
    // A spoofer knows the ufrag (it is in the answer) but not the password.
    let spoofer = addr(66);
    let (now, check) = (net.now, unsigned_check(&format!("{ufrag}:spoof")));
    net.sfu.handle_datagram(now, spoofer, check);
    net.carry();
    let srtp = [0x80u8, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
    net.sfu
        .handle_datagram(now, spoofer, BytesMut::from(&srtp[..]));
    // Garbage from an unknown address is dropped, not fatal.
    for junk in [&[0x80u8, 0x60, 0, 1][..], &[0, 1, 0, 0], &[22; 40], &[]] {
        net.sfu.handle_datagram(now, addr(67), BytesMut::from(junk));
    }
    net.carry();
    let stats = net.ask(|reply| Command::Stats { reply });
    assert_eq!(stats.addresses, 0, "the check bound no address");
    assert_eq!(
        stats.unrouted, 5,
        "media from the spoofer and the junk are dropped"
    );
    assert_eq!(stats.datagrams_in, 6);
}

#[test]
fn a_hall_that_goes_silent_is_disconnected_then_failed_and_removed() {
    let mut net = Net::new(SfuConfig::default());
    let hall = Hall::new(net.now, addr(1), true, (0, 0));
    net.join(PeerId(1), hall);
    net.connect_all();
    // The hall vanishes: it sends nothing more, and what is sent to it is lost.
    net.halls.clear();
    let failed = net.run_until(|net| net.events.contains(&SfuEvent::PeerFailed(PeerId(1))));
    assert!(failed, "the SFU gives up on the hall");
    let lost = SfuEvent::PeerDisconnected(PeerId(1), DisconnectReason::ConnectionLost);
    let at = |e: &SfuEvent| net.events.iter().position(|x| x == e);
    assert!(
        at(&lost) < at(&SfuEvent::PeerFailed(PeerId(1))),
        "first lost, then failed: {:?}",
        net.events
    );
    let stats = net.ask(|reply| Command::Stats { reply });
    assert_eq!(
        (stats.connections, stats.addresses),
        (0, 0),
        "it is removed"
    );
}
