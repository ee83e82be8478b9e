//! What a real browser reports about what the SFU sends it: Debian's headless Chromium
//! (driven by `chromium/hall.mjs`, playwright-core from `tests/browser`) publishes a
//! camera (a moving canvas) and receives it back through one slot; the first test prints the
//! round trip, the loss it reports and whether it sends REMB, from the SFU's statistics; the
//! second loses media on the way (a relay in the test) and checks that NACKs repair it.
//!
//! Ignored by default: it needs `/usr/bin/chromium`, `npm ci` in `tests/browser`, and —
//! so that media stays on 127.0.0.1 — a loopback-only network namespace:
//!
//! ```sh
//! cargo test -p sfu --all-features --test chromium_feedback --no-run
//! unshare -n bash -c 'ip link set lo up && \
//!   cargo test -p sfu --all-features --test chromium_feedback -- --ignored --nocapture'
//! ```

mod common;

use common::{wait_event, WAIT};
use sfu::{MediaKind, PeerId, PeerStats, Sfu, SfuConfig, SfuEvent};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

const HALL: PeerId = PeerId(1);

/// Ends the script (and with it the browser) however the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Chromium's hall publishing its camera and seeing it in its one slot, through `sfu`.
struct Call {
    sfu: Sfu,
    events: tokio::sync::mpsc::Receiver<SfuEvent>,
    stdin: std::process::ChildStdin,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    remb_offered: bool,
    _child: KillOnDrop,
}

impl Call {
    async fn next_line(&mut self) -> String {
        tokio::time::timeout(WAIT, self.lines.recv())
            .await
            .expect("Chromium answers in time")
            .expect("Chromium runs")
    }

    /// Chromium's video counters (`hall.mjs`, STATS), by name.
    async fn browser_stats(&mut self) -> Vec<(String, f64)> {
        writeln!(self.stdin, "STATS").expect("written");
        self.stdin.flush().expect("flushed");
        let line = self.next_line().await;
        let figures = line.strip_prefix("STATS ").expect("figures");
        figures
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.parse().unwrap_or(f64::NAN)))
            .collect()
    }
}

/// A UDP relay between Chromium and `sfu` that loses every `nth` RTP or RTCP datagram
/// each way (RFC 7983: first byte 128–191); the rest, and ICE and DTLS, go through.
/// Returns the relay's address facing Chromium.
async fn lossy_relay(sfu: SocketAddr, nth: u64) -> SocketAddr {
    let outer = UdpSocket::bind("127.0.0.1:0").await.expect("a relay port");
    let inner = UdpSocket::bind("127.0.0.1:0").await.expect("a relay port");
    inner.connect(sfu).await.expect("the SFU's port");
    let addr = outer.local_addr().expect("bound");
    tokio::spawn(async move {
        let (mut up, mut down) = ([0u8; 2048], [0u8; 2048]);
        let mut browser: Option<SocketAddr> = None;
        let mut media = 0u64;
        let mut lose = |b: &[u8]| {
            let rtp = b.first().is_some_and(|&f| (128..192).contains(&f));
            media += u64::from(rtp);
            rtp && media.is_multiple_of(nth)
        };
        loop {
            tokio::select! {
                Ok((n, from)) = outer.recv_from(&mut up) => {
                    browser = Some(from);
                    if !lose(&up[..n]) {
                        let _ = inner.send(&up[..n]).await;
                    }
                }
                Ok(n) = inner.recv(&mut down) => {
                    if let (Some(to), false) = (browser, lose(&down[..n])) {
                        let _ = outer.send_to(&down[..n], to).await;
                    }
                }
            }
        }
    });
    addr
}

/// The answer with its candidates' port replaced by the relay's.
fn through(sdp: &str, relay: SocketAddr) -> (String, SocketAddr) {
    let mut sfu = None;
    let lines = sdp.split("\r\n").map(|line| {
        let Some(candidate) = line.strip_prefix("a=candidate:") else {
            return line.to_owned();
        };
        let mut fields: Vec<&str> = candidate.split(' ').collect();
        let port = relay.port().to_string();
        if fields.len() > 5 {
            sfu = format!("{}:{}", fields[4], fields[5]).parse().ok();
            fields[5] = &port;
        }
        format!("a=candidate:{}", fields.join(" "))
    });
    let sdp = lines.collect::<Vec<_>>().join("\r\n");
    (sdp, sfu.expect("a host candidate in the answer"))
}

/// The call, every `lossy`th media datagram lost each way if set.
async fn call(lossy: Option<u64>) -> Call {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/chromium/hall.mjs");
    let mut child = KillOnDrop(
        Command::new("node")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node runs"),
    );
    let stdin = child.0.stdin.take().expect("piped");
    let (lines_tx, lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    let stdout = child.0.stdout.take().expect("piped");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let (sfu, events) = Sfu::start(SfuConfig::default()).expect("valid config");
    let mut call = Call {
        sfu,
        events,
        stdin,
        lines,
        remb_offered: false,
        _child: child,
    };
    let offer = call.next_line().await;
    let offer = offer
        .strip_prefix("OFFER ")
        .expect("an offer")
        .replace("\\n", "\r\n");
    let answer = call
        .sfu
        .add_peer(HALL, offer)
        .await
        .expect("the SFU answers");
    call.remb_offered = answer.sdp.contains("goog-remb");
    let mut sdp = answer.sdp.clone();
    if let Some(nth) = lossy {
        let placeholder = "127.0.0.1:9".parse().expect("literal");
        let (_, sfu) = through(&sdp, placeholder);
        sdp = through(&sdp, lossy_relay(sfu, nth).await).0;
    }
    let sdp = sdp.replace("\r\n", "\\n");
    writeln!(call.stdin, "ANSWER {sdp}").expect("written");
    call.stdin.flush().expect("flushed");
    assert_eq!(call.next_line().await, "CONNECTED");

    // The hall sees its own camera in its slot: the SFU now sends it media and sender
    // reports, and the hall reports back.
    let camera = wait_event(&mut call.events, |e| match e {
        SfuEvent::TrackPublished {
            track,
            kind: MediaKind::Video,
            ..
        } => Some(*track),
        _ => None,
    })
    .await;
    let slot = answer.slots.first().expect("one slot").id;
    call.sfu
        .subscribe(HALL, slot, camera, 2)
        .await
        .expect("subscribe");
    call
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium, npm ci in tests/browser and a loopback-only namespace"]
async fn chromium_reports_round_trip_loss_and_maybe_remb() {
    let mut call = call(None).await;
    let (remb_offered, events) = (call.remb_offered, &mut call.events);
    let until = Instant::now() + Duration::from_secs(12);
    let mut seen: Vec<PeerStats> = Vec::new();
    while Instant::now() < until {
        let s = wait_event(events, |e| match e {
            SfuEvent::Stats(s) if s.peer == HALL => Some(*s),
            _ => None,
        })
        .await;
        println!(
            "out {} kbit/s, rtt {:?}, loss out {:.3}, REMB {:?}",
            s.bitrate_out_bps / 1000,
            s.rtt,
            s.loss_out,
            s.bandwidth_out_bps
        );
        seen.push(s);
    }
    drop(call); // the script closes the browser

    let remb = seen.iter().find_map(|s| s.bandwidth_out_bps);
    println!("answer offers goog-remb: {remb_offered}; Chromium's REMB: {remb:?}");
    let rtt = seen.iter().rev().find_map(|s| s.rtt);
    let rtt = rtt.expect("Chromium's receiver reports give a round trip");
    assert!(rtt < Duration::from_millis(50), "loopback: {rtt:?}");
    assert!(seen.iter().any(|s| s.bitrate_out_bps > 0), "media went out");
}

/// Through a relay that loses every 20th media datagram (both ways counted together),
/// Chromium's NACKs for its slot are answered with the packets as they were sent (no
/// RTX) and Chromium takes them, and the SFU's NACKs for its camera are answered (on
/// RTX) and forwarded late: under 1% of the slot's packets stay lost, where ~5% are lost
/// on the way. (Measured: 0 of 546 lost, 143 NACKs from Chromium, 36 packets sent
/// again, 32 NACKs to Chromium.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium, npm ci in tests/browser and a loopback-only namespace"]
async fn chromium_takes_the_packets_sent_again_on_its_nacks() {
    let mut call = call(Some(20)).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let browser = call.browser_stats().await;
    let port = call.sfu.port_stats().await.expect("stats");
    println!("Chromium: {browser:?}");
    println!("SFU: {:?}", port.nacks);
    let get = |k: &str| {
        browser
            .iter()
            .find(|(n, _)| n == k)
            .map_or(0.0, |(_, v)| *v)
    };
    assert!(
        port.nacks.received > 0,
        "Chromium asked for lost packets: {:?}",
        port.nacks
    );
    assert!(port.nacks.retransmitted > 0, "{:?}", port.nacks);
    assert!(
        port.nacks.sent > 0,
        "the SFU asked Chromium: {:?}",
        port.nacks
    );
    assert!(get("out_resent") > 0.0, "and Chromium sent again");
    assert!(get("in_nacks") > 0.0, "the slot lost packets on the way");
    // A packet sent again counts as received once it arrives: without repair, about 5%
    // of the slot's packets would stay lost.
    let (lost, packets) = (get("in_lost"), get("in_packets"));
    assert!(lost < packets * 0.01, "{lost} of {packets} lost for good");
    assert!(get("in_frames") > 100.0, "frames decoded");
}
