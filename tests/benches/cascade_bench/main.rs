//! `cascade_bench`: one meeting of ≥ 1,000 simulated halls over three `hoinghi` node
//! processes (issue 14, benchmark (b)).
//!
//! Three real `hoinghi demo` processes with `[cluster]` settings on one fresh PostgreSQL
//! database and the NATS server at 127.0.0.1:4222, each its own HTTP port, `/metrics`
//! listener and media UDP port on 127.0.0.1 ([`nodes`]). The demo's Phú Thọ (303 halls
//! on today's map) gets more halls in its communes until the meeting of the province and
//! its communes invites `--halls` ([`setup`]). This process plays every hall
//! ([`hall`]): the host joins through node A (which makes A the meeting's home), the
//! others through A, B and C in turn (hall i through node i mod 3), `--batch` at a time.
//! What each hall does:
//!
//! - the host: a three-layer camera (each layer one 300-byte packet per frame, 15 fps)
//!   and a microphone; 1 + `--publishers` × 3 video slots (main picture and grid);
//! - `--publishers` halls per node (floor candidates): the same camera, microphone off;
//!   two video slots;
//! - every other hall publishes nothing; two video slots (slot 0 shows the host, slot 1
//!   the floor holder — the room's policy), `--audio` audio slots (default 0).
//!
//! Every hall obeys `send_layers`, answers the heartbeat and asks for a keyframe when a
//! picture starts without one, as the room page does. The script ([`script`]): all join;
//! a steady window (`--window` s); then `--floors` floor changes to candidates on B, C,
//! A in turn, timing the new holder's first keyframe at every hall. Per node it prints
//! CPU (`/proc/<pid>/stat`), RSS, and its SFU's figures from `/metrics` (packets
//! forwarded, datagrams, the relay's packets with other nodes), and where each hall's
//! media went (the media port of the candidates in its SDP answer).
//!
//! Prints figures, asserts nothing about time; without `--bench` (as `cargo test
//! --all-targets` runs it) it exits at once. It runs the `hoinghi` binary beside its own
//! profile directory (`target/<profile>/hoinghi`, or `HOINGHI_BIN`): build it first.
//!
//! ```text
//! cargo build -p web --bin hoinghi --release
//! cargo bench -p hoinghi-tests --bench cascade_bench -- --halls 1000 --window 20 --floors 6
//! ```

mod hall;
mod nodes;
mod report;
mod script;
mod setup;

use std::time::Duration;

/// What a run is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Halls joining, the host included.
    pub halls: usize,
    /// Length of the steady window.
    pub window: Duration,
    /// Floor changes timed.
    pub floors: usize,
    /// Joins in flight at once (a batch).
    pub batch: usize,
    /// Floor candidates publishing a camera, per node.
    pub publishers: usize,
    /// Audio slots of every hall but the host (which has 1 when this is 0).
    pub audio: usize,
}

fn value(args: &[String], name: &str, default: usize) -> usize {
    hoinghi_tests::bench::flag(args, name, default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let options = Options {
        halls: value(&args, "--halls", 1000).max(3 + 3 * 2),
        window: Duration::from_secs(value(&args, "--window", 20) as u64),
        floors: value(&args, "--floors", 6),
        batch: value(&args, "--batch", 25).max(1),
        publishers: value(&args, "--publishers", 2).max(1),
        audio: value(&args, "--audio", 0),
    };
    if !args.iter().any(|a| a == "--bench") {
        println!(
            "cascade_bench: pass --bench (cargo bench -p hoinghi-tests --bench cascade_bench)"
        );
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if let Err(e) = runtime.block_on(script::run(options)) {
        println!("ERR {e}");
        std::process::exit(1);
    }
    runtime.shutdown_timeout(Duration::from_secs(2));
}
