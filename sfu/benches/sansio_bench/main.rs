//! `sansio-bench`: the sans-IO prototype driver (feature `sansio`, one UDP port for all
//! halls) under the load of `sfu-bench`, measured the same way, for a like-for-like figure.
//!
//! The clients process is `sfu-bench`'s own (`clients`, `publisher` and `proto` are
//! included from `../sfu_bench/`): one publisher with three VP8 tracks (~150 k / 500 k /
//! 900 kbit/s) and Opus, N subscribers each receiving the top track and the audio. This
//! process runs the SFU ([`SansioSfu`](sfu::sansio::SansioSfu)) and measures its own CPU
//! per forwarded packet.
//!
//! ```text
//! cargo bench -p sfu --features sansio,test-client --bench sansio_bench -- --pin --sizes 50,250
//! ```
//!
//! `--pin` re-runs the SFU process under `taskset -c 0` and the clients under
//! `taskset -c 1`. Without `--bench` (as under `cargo test --all-targets`) it exits at once.

#[path = "../sfu_bench/clients.rs"]
mod clients;
#[path = "../sfu_bench/proto.rs"]
mod proto;
#[path = "../sfu_bench/publisher.rs"]
mod publisher;
mod server;

use server::{Options, Row};
use std::time::Duration;

/// Set in the environment of the SFU process once it runs pinned.
const PINNED: &str = "SANSIO_BENCH_PINNED";

fn parse_args() -> Result<(Options, bool, bool), String> {
    let mut opts = Options {
        sizes: vec![50, 250],
        window: Duration::from_secs(10),
        settle: Duration::from_secs(2),
        pin: false,
    };
    let (mut clients, mut bench) = (false, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--clients" => clients = true,
            "--pin" => opts.pin = true,
            "--bench" => bench = true,
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
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok((opts, clients, bench))
}

/// Re-runs this process pinned to CPU 0; `None` if already pinned or not asked to.
fn repin(opts: &Options) -> Option<std::process::ExitStatus> {
    if !opts.pin || std::env::var_os(PINNED).is_some() {
        return None;
    }
    std::process::Command::new("taskset")
        .args(["-c", "0"])
        .arg(std::env::current_exe().ok()?)
        .args(std::env::args().skip(1))
        .env(PINNED, "1")
        .status()
        .ok()
}

fn print_table(opts: &Options, rows: &[Row]) {
    let pin = if opts.pin {
        "SFU on CPU 0, clients on CPU 1"
    } else {
        "not pinned"
    };
    println!("\nsansio-bench ({pin}; window {:?} per N)\n", opts.window);
    println!(
        "| N | forwarded pkt/s | received pkt/s | SFU CPU (cores) | CPU µs / pkt | SFU RSS MiB | \
         dropped by SFU | loss (gaps) | loss (vs sent) | latency p50 / p99 ms | \
         join p50 / max ms (first video) | clients CPU (cores) | load average |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let v = |k: &str| r.values.get(k).copied().unwrap_or(0.0);
        let pct = |lost: f64, of: f64| if of > 0.0 { 100.0 * lost / of } else { 0.0 };
        let (received, seq, sent) = (v("received"), v("expected_seq"), v("expected_sent"));
        println!(
            "| {} | {:.0} | {:.0} | {:.2} | {:.1} | {:.0} | {:.0} | {:.2}% | {:.2}% | \
             {:.1} / {:.1} | {:.0} / {:.0} | {:.2} | {} |",
            r.n,
            v("forwarded_per_s"),
            v("received_per_s"),
            v("sfu_cpu_cores"),
            v("cpu_us_per_packet"),
            v("sfu_rss_mib"),
            v("dropped"),
            pct(seq - received, seq),
            pct(sent - received, sent),
            v("lat_p50_us") / 1000.0,
            v("lat_p99_us") / 1000.0,
            v("video_p50_ms"),
            v("video_max_ms"),
            v("clients_cpu_cores"),
            r.load,
        );
    }
}

fn main() {
    let (opts, clients, bench) = match parse_args() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("sansio-bench: {e}");
            std::process::exit(2);
        }
    };
    if !clients && !bench {
        eprintln!("sansio-bench: not run without --bench (use `cargo bench`, see the file's doc)");
        return;
    }
    if !clients {
        if let Some(status) = repin(&opts) {
            std::process::exit(status.code().unwrap_or(1));
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sansio-bench: tokio runtime: {e}");
            std::process::exit(1);
        }
    };
    if clients {
        runtime.block_on(clients::run());
        return;
    }
    match runtime.block_on(server::run(opts.clone())) {
        Ok(rows) => print_table(&opts, &rows),
        Err(e) => {
            eprintln!("sansio-bench: {e}");
            std::process::exit(1);
        }
    }
}
