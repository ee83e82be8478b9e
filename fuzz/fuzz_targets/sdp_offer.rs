//! Fuzzes the SFU's offer handling: any text a page sends as its SDP offer →
//! `Sfu::add_peer` on a running SFU (the `rtc` SDP parser, `offered_tracks`,
//! `extmap_id`, slot planning, `set_remote_description`, `create_answer`).
//!
//! Property: `add_peer` never panics (libFuzzer's panic hook aborts on a panic in any
//! thread, so also in the negotiation task) and answers within a bound, with `Ok` or a
//! typed error; the SFU keeps running (`Stopped` would mean the engine died). A
//! successful peer is closed at once so sockets do not pile up.
//!
//! `HOINGHI_FUZZ_VERBOSE=1` prints each outcome (to check the seeds negotiate).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sfu::{PeerId, Sfu, SfuConfig, SfuError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::runtime::Runtime;

/// Offers are bounded by the signalling frame limit (64 KiB) before they reach the SFU.
const MAX_INPUT: usize = 64 * 1024;

struct Harness {
    runtime: Runtime,
    sfu: Sfu,
    next_peer: AtomicU64,
    verbose: bool,
    /// Outcome counts: ok, invalid_sdp, webrtc, other.
    counts: [AtomicU64; 4],
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let config = SfuConfig::default();
        let sfu = runtime.block_on(async {
            let (sfu, mut events) = Sfu::start(config).expect("the default config is valid");
            // The caller must keep draining events.
            tokio::spawn(async move { while events.recv().await.is_some() {} });
            sfu
        });
        Harness {
            runtime,
            sfu,
            next_peer: AtomicU64::new(1),
            verbose: std::env::var_os("HOINGHI_FUZZ_VERBOSE").is_some(),
            counts: Default::default(),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_INPUT {
        return;
    }
    let h = harness();
    let offer = String::from_utf8_lossy(data).into_owned();
    let peer = PeerId(h.next_peer.fetch_add(1, Ordering::Relaxed));
    let result = h.runtime.block_on(async {
        let result = tokio::time::timeout(Duration::from_secs(20), h.sfu.add_peer(peer, offer))
            .await
            .expect("add_peer answers within 20 s");
        if result.is_ok() {
            // It may already be gone (its connection failed); only the sockets matter.
            let _ = h.sfu.close_peer(peer).await;
        }
        result
    });
    let slot = match &result {
        Ok(_) => 0,
        Err(SfuError::InvalidSdp(_)) => 1,
        Err(SfuError::Webrtc(_)) => 2,
        Err(SfuError::Stopped) => panic!("the SFU stopped while negotiating {peer:?}"),
        Err(_) => 3,
    };
    let n = h.counts[slot].fetch_add(1, Ordering::Relaxed) + 1;
    if h.verbose {
        match &result {
            Ok(answer) => eprintln!("{peer:?}: ok, {} slots", answer.slots.len()),
            Err(e) => eprintln!("{peer:?}: {e}"),
        }
    }
    // A running tally, so a run's log says what kind of inputs it reached.
    if n.is_power_of_two() && n >= 64 {
        let c: Vec<u64> = h.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        eprintln!(
            "sdp_offer outcomes: ok {} invalid_sdp {} webrtc {} other {}",
            c[0], c[1], c[2], c[3]
        );
    }
});
