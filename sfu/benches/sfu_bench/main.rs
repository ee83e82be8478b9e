//! `sfu-bench`: what the SFU costs per forwarded packet, with its clients in another process.
//!
//! One publisher sends simulcast-like load (three VP8 tracks at ~150 k / 500 k /
//! 900 kbit/s and Opus) to N subscribers, each receiving the top layer and the audio;
//! N steps through `--sizes` (default 10, 50, 100, 250), adding subscribers between
//! steps. This process runs the SFU; it starts itself again with `--clients` for the
//! publisher and the subscribers, so `/proc/self/stat` counts only the SFU's CPU.
//! Per step it prints packets forwarded per second, CPU per packet, RSS, loss,
//! latency through the SFU and join time, then a Markdown table.
//!
//! ```text
//! cargo bench -p sfu --features test-client --bench sfu_bench
//! cargo bench -p sfu --features test-client --bench sfu_bench -- --pin
//! cargo bench -p sfu --features test-client --bench sfu_bench -- --sizes 10,50 --window 5
//! cargo bench -p sfu --features test-client --bench sfu_bench -- --workers 2 --sizes 250
//! ```
//!
//! It measures `sfu::Sfu` as the server runs it: every hall on one UDP port, the `rtc`
//! core driven by `--workers` media workers (default 1; docs/sfu-driver.md). With
//! several, the subscribers are spread over them and the publisher's packets are relayed
//! to the workers it is not on.
//!
//! `--drop-media` measures the SFU's capacity without the subscribers' decryption: it
//! runs in its own loopback-only network namespace where nftables counts and drops the
//! SFU's RTP before the subscribers' sockets (`dropmedia`; root and `nft` needed). Its
//! table gives offered and delivered packets/s and the loss per N:
//!
//! ```text
//! cargo bench -p sfu --features test-client --bench sfu_bench -- --drop-media \
//!     --workers 2 --sizes 200,400,600 --window 5 --settle 2
//! ```
//!
//! `--pin` re-runs the SFU process under `taskset -c 0` and the clients under
//! `taskset -c 1`. A benchmark that prints figures, never a timed test: without
//! `--bench` (which `cargo bench` passes, `cargo test --all-targets` does not) it exits
//! at once.

mod clients;
mod dropmedia;
mod hub;
mod link;
mod proto;
mod publisher;
mod server;

use server::{Options, Row};
use std::time::Duration;

/// Set in the environment of the SFU process once it runs pinned.
const PINNED: &str = "SFU_BENCH_PINNED";

/// How this process was asked to run.
enum Mode {
    /// The SFU side, from `cargo bench` (which passes `--bench`).
    Bench,
    /// The publisher and subscribers, spawned by the SFU side.
    Clients,
    /// Neither: `cargo test --all-targets` runs bench binaries without `--bench`.
    Skip,
}

fn parse_args() -> Result<(Options, Mode), String> {
    let mut opts = Options {
        sizes: vec![10, 50, 100, 250],
        window: Duration::from_secs(10),
        settle: Duration::from_secs(2),
        pin: false,
        workers: 1,
        drop_media: false,
    };
    let (mut clients, mut bench) = (false, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--clients" => clients = true,
            "--pin" => opts.pin = true,
            "--drop-media" => opts.drop_media = true,
            "--workers" => {
                let v = value()?;
                opts.workers = v.parse().map_err(|e| format!("--workers {v}: {e}"))?;
            }
            "--sizes" => {
                let v = value()?;
                let sizes: Result<Vec<u32>, _> = v.split(',').map(str::parse).collect();
                opts.sizes = sizes.map_err(|e| format!("--sizes {v}: {e}"))?;
                opts.sizes.sort_unstable();
            }
            "--window" | "--settle" => {
                let v = value()?;
                let secs: f64 = v.parse().map_err(|e| format!("{arg} {v}: {e}"))?;
                let d = Duration::try_from_secs_f64(secs).map_err(|e| format!("{arg}: {e}"))?;
                match arg.as_str() {
                    "--window" => opts.window = d,
                    _ => opts.settle = d,
                }
            }
            // `cargo bench` passes `--bench` to every bench binary; `cargo test` does not.
            "--bench" => bench = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let mode = match (clients, bench) {
        (true, _) => Mode::Clients,
        (false, true) => Mode::Bench,
        (false, false) => Mode::Skip,
    };
    Ok((opts, mode))
}

/// Re-runs this process pinned to CPU 0; `None` if already pinned or not asked to.
fn repin(opts: &Options) -> Option<std::process::ExitStatus> {
    if !opts.pin || std::env::var_os(PINNED).is_some() {
        return None;
    }
    let exe = std::env::current_exe().ok()?;
    std::process::Command::new("taskset")
        .args(["-c", "0"])
        .arg(exe)
        .args(std::env::args().skip(1))
        .env(PINNED, "1")
        .status()
        .ok()
}

fn print_table(opts: &Options, rows: &[Row]) {
    if opts.drop_media {
        return print_dropped(opts, rows);
    }
    let pin = if opts.pin {
        "SFU on CPU 0, clients on CPU 1"
    } else {
        "not pinned"
    };

    println!(
        "\nsfu-bench ({pin}; {} media worker(s); window {:?} per N)\n",
        opts.workers, opts.window
    );
    println!(
        "| N | forwarded pkt/s | received pkt/s | SFU CPU (cores) | CPU s / 1000 pkts | \
         CPU µs / pkt | SFU RSS MiB | dropped by SFU | loss (gaps) | loss (vs sent) | \
         worst sub loss | latency p50 / p99 ms | join p50 / max ms (first packet) | \
         join p50 / max ms (first video) | clients CPU (cores) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let v = |k: &str| r.values.get(k).copied().unwrap_or(0.0);
        let pct = |lost: f64, of: f64| if of > 0.0 { 100.0 * lost / of } else { 0.0 };
        let (received, seq, sent) = (v("received"), v("expected_seq"), v("expected_sent"));
        println!(
            "| {} | {:.0} | {:.0} | {:.2} | {:.4} | {:.1} | {:.0} | {:.0} | {:.2}% | {:.2}% | \
             {:.2}% | {:.1} / {:.1} | {:.0} / {:.0} | {:.0} / {:.0} | {:.2} |",
            r.n,
            v("forwarded_per_s"),
            v("received_per_s"),
            v("sfu_cpu_cores"),
            v("cpu_s_per_1000"),
            v("cpu_us_per_packet"),
            v("sfu_rss_mib"),
            v("dropped_out"),
            pct(seq - received, seq),
            pct(sent - received, sent),
            100.0 * v("worst_loss"),
            v("lat_p50_us") / 1000.0,
            v("lat_p99_us") / 1000.0,
            v("any_p50_ms"),
            v("any_max_ms"),
            v("video_p50_ms"),
            v("video_max_ms"),
            v("clients_cpu_cores"),
        );
    }
}

/// The table of a `--drop-media` run: what the kernel counted against what was offered.
fn print_dropped(opts: &Options, rows: &[Row]) {
    println!(
        "\nsfu-bench --drop-media ({} media worker(s); pinned: {}; window {:?} per N)\n",
        opts.workers, opts.pin, opts.window
    );
    println!(
        "| N | receiving | offered pkt/s | delivered pkt/s (kernel) | loss (lost or > 300 ms late) | late (> 300 ms) pkts | lag before / after window ms | SFU forwarded pkt/s | \
         SFU CPU (cores) | CPU µs / pkt | dropped by SFU | relay dropped | UDP rcvbuf errors | clients CPU (cores) | \
         peers lost | load (1 min) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let v = |k: &str| r.values.get(k).copied().unwrap_or(0.0);
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.2}% | {:.0} | {:.0} / {:.0} | {:.0} | {:.2} | {:.1} | {:.0} | {:.0} | {:.0} | {:.2} | {:.0} | {:.2} |",
            r.n,
            v("receiving"),
            v("offered_per_s"),
            v("delivered_per_s"),
            100.0 * v("kernel_loss"),
            v("late"),
            v("lag_before_ms"),
            v("late_for_ms"),
            v("forwarded_per_s"),
            v("sfu_cpu_cores"),
            v("cpu_us_per_packet"),
            v("dropped_out"),
            v("relay_dropped"),
            v("rcvbuf_errors"),
            v("clients_cpu_cores"),
            v("peers_lost"),
            v("load_1min"),
        );
    }
}

fn main() {
    let (opts, mode) = match parse_args() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("sfu-bench: {e}");
            std::process::exit(2);
        }
    };
    let clients = match mode {
        Mode::Clients => true,
        Mode::Bench => false,
        Mode::Skip => {
            eprintln!("sfu-bench: not run without --bench (use `cargo bench`, see the file's doc)");
            return;
        }
    };
    if !clients {
        if opts.drop_media {
            if let Some(status) = dropmedia::enter_namespace() {
                std::process::exit(status.code().unwrap_or(1));
            }
        }
        if let Some(status) = repin(&opts) {
            std::process::exit(status.code().unwrap_or(1));
        }
    }
    // Worker threads follow the CPUs this process may use (one when pinned).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sfu-bench: tokio runtime: {e}");
            std::process::exit(1);
        }
    };
    if clients {
        runtime.block_on(clients::run(opts.drop_media));
        return;
    }
    eprintln!(
        "[sfu] load average before: {}; sizes {:?}",
        proto::loadavg(),
        opts.sizes
    );
    match runtime.block_on(server::run(opts.clone())) {
        Ok(rows) => {
            eprintln!("[sfu] load average after: {}", proto::loadavg());
            print_table(&opts, &rows);
        }
        Err(e) => {
            eprintln!("sfu-bench: {e}");
            std::process::exit(1);
        }
    }
}
