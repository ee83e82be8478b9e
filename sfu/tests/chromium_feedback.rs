//! What a real browser reports about what the SFU sends it: Debian's headless Chromium
//! (driven by `chromium/hall.mjs`, playwright-core from `tests/browser`) publishes a
//! camera (a moving canvas) and receives it back through one slot; the test prints the round trip,
//! the loss it reports and whether it sends REMB, from the SFU's statistics.
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
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const HALL: PeerId = PeerId(1);

/// Ends the script (and with it the browser) however the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium, npm ci in tests/browser and a loopback-only namespace"]
async fn chromium_reports_round_trip_loss_and_maybe_remb() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/chromium/hall.mjs");
    let mut child = KillOnDrop(
        Command::new("node")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node runs"),
    );
    let mut stdin = child.0.stdin.take().expect("piped");
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    let stdout = child.0.stdout.take().expect("piped");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut next_line = async || {
        tokio::time::timeout(WAIT, lines.recv())
            .await
            .expect("Chromium answers in time")
            .expect("Chromium runs")
    };

    let (sfu, mut events) = Sfu::start(SfuConfig::default()).expect("valid config");
    let offer = next_line().await;
    let offer = offer
        .strip_prefix("OFFER ")
        .expect("an offer")
        .replace("\\n", "\r\n");
    let answer = sfu.add_peer(HALL, offer).await.expect("the SFU answers");
    let remb_offered = answer.sdp.contains("goog-remb");
    writeln!(stdin, "ANSWER {}", answer.sdp.replace("\r\n", "\\n")).expect("written");
    stdin.flush().expect("flushed");
    assert_eq!(next_line().await, "CONNECTED");

    // The hall sees its own camera in its slot: the SFU now sends it media and sender
    // reports, and the hall reports back.
    let camera = wait_event(&mut events, |e| match e {
        SfuEvent::TrackPublished {
            track,
            kind: MediaKind::Video,
            ..
        } => Some(*track),
        _ => None,
    })
    .await;
    let slot = answer.slots.first().expect("one slot").id;
    sfu.subscribe(HALL, slot, camera, 2)
        .await
        .expect("subscribe");

    let until = Instant::now() + Duration::from_secs(12);
    let mut seen: Vec<PeerStats> = Vec::new();
    while Instant::now() < until {
        let s = wait_event(&mut events, |e| match e {
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
    drop(stdin); // the script closes the browser
    drop(child);

    let remb = seen.iter().find_map(|s| s.bandwidth_out_bps);
    println!("answer offers goog-remb: {remb_offered}; Chromium's REMB: {remb:?}");
    let rtt = seen.iter().rev().find_map(|s| s.rtt);
    let rtt = rtt.expect("Chromium's receiver reports give a round trip");
    assert!(rtt < Duration::from_millis(50), "loopback: {rtt:?}");
    assert!(seen.iter().any(|s| s.bitrate_out_bps > 0), "media went out");
}
