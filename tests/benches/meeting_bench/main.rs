//! `meeting_bench`: the whole Phú Thọ meeting — 221 halls — through the real server.
//!
//! This process runs the `hoinghi` server as the tests do (`hoinghi_tests::spawn_app`:
//! SQLite demo database, HTTP, the meeting WebSocket, signaling, SFU, attendance
//! writes), schedules a province meeting of all three levels (221 invited halls) and
//! starts itself again with `--halls` to play every hall, so `/proc/self/stat` of this
//! process is the server's CPU alone. In the halls process each hall joins with its own
//! join token over a real WebSocket and one `sfu::testclient` peer connection over UDP
//! on 127.0.0.1: it publishes a low-bitrate three-layer camera and a microphone, obeys
//! `send_layers` and `muted` as the room page does, answers the heartbeat and receives
//! what the policy sends it (host 26 video slots, halls 4, all 4 audio slots).
//!
//! The script: all halls join (32 at a time); the host mutes all; a steady window
//! while the host pages its 5×5 grid; then the floor is handed around (taken back, then
//! given to the next hall), timing the new holder's first keyframe at every hall. Between
//! the steady window and the floors, the same window again with `--viewers` WHEP viewers
//! (default 20) pulling the main picture and the audio: the server's CPU per viewer;
//! then once more while the host records the meeting (`--record 0`: not): the CPU,
//! memory and disk rate of one recording.
//! Prints figures, asserts nothing about time; without `--bench` (as `cargo test
//! --all-targets` runs it) it exits at once.
//!
//! ```text
//! cargo bench -p hoinghi-tests --bench meeting_bench
//! cargo bench -p hoinghi-tests --bench meeting_bench -- --halls 60 --window 10 --floors 4
//! cargo bench -p hoinghi-tests --bench meeting_bench -- --viewers 0
//! ```

mod hall;
mod script;
mod server;
mod viewers;

use std::time::Duration;

/// What a run is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Halls joining, the host included (at most the invited 221).
    pub halls: usize,
    /// Length of the steady window.
    pub window: Duration,
    /// Floor changes timed.
    pub floors: usize,
    /// Joins in flight at once.
    pub concurrency: usize,
    /// WHEP viewers pulling the meeting through a second steady window (0: none).
    pub viewers: usize,
    /// Whether a third steady window runs while the host records the meeting.
    pub record: bool,
}

fn value(args: &[String], name: &str, default: usize) -> usize {
    hoinghi_tests::bench::flag(args, name, default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let options = Options {
        halls: value(&args, "--halls", 221).max(3),
        window: Duration::from_secs(value(&args, "--window", 15) as u64),
        floors: value(&args, "--floors", 6),
        concurrency: value(&args, "--concurrency", 32).max(1),
        viewers: value(&args, "--viewers", 20),
        record: value(&args, "--record", 1) > 0,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if let Some(i) = args.iter().position(|a| a == "--hall-tokens") {
        let (Some(url), Some(tokens)) = (args.get(i + 1), args.get(i + 2)) else {
            eprintln!("--hall-tokens needs the server URL and the tokens file");
            std::process::exit(2);
        };
        let whep = args
            .iter()
            .position(|a| a == "--whep")
            .and_then(|i| args.get(i + 1))
            .cloned();
        let run = script::run(url.clone(), tokens.into(), whep, options);
        if let Err(e) = runtime.block_on(run) {
            println!("ERR {e}");
            std::process::exit(1);
        }
    } else if args.iter().any(|a| a == "--bench") {
        runtime.block_on(server::run(options));
    } else {
        println!(
            "meeting_bench: pass --bench (cargo bench -p hoinghi-tests --bench meeting_bench)"
        );
    }
    runtime.shutdown_timeout(Duration::from_secs(2));
}
