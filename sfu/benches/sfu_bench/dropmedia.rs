//! `--drop-media`: the subscribers keep their connections but the SFU's media never
//! reaches them; the kernel counts what the SFU delivered and drops it.
//!
//! Why: on a 2-core machine the clients process (which decrypts every packet the SFU
//! sends) needs the CPU a second media worker would use, so the SFU's capacity cannot
//! be found while the subscribers take their media. Here the SFU does all its work (the
//! publisher's SRTP decrypted, routed, each subscriber's SRTP encrypted and sent with
//! `sendmmsg`); the kernel then drops the packets when loopback hands them back in
//! (the `prerouting` hook), before they are queued to a receiving socket, so the
//! subscribers cost only their ICE consent checks, DTLS and RTCP. Not on `output`: a
//! packet dropped there fails the `sendmmsg` call (EPERM), which would cut every batch
//! of the SFU's send queue into one call per packet.
//!
//! How: the bench starts itself again in a new network namespace (`unshare -n`, only
//! its own loopback: the host's network is never touched), brings `lo` up and adds one
//! nftables table (`nft`, Debian package `nftables`: `apt-get install nftables`) with one
//! rule on `prerouting` (priority raw, before connection tracking): UDP from the SFU's port whose first payload byte is 128–191 (RTP or
//! RTCP, RFC 7983) and whose second is not 192–223 (RTCP packet types, RFC 5761; an RTP
//! payload type with or without the marker bit is outside that range) is counted in the
//! named counter `rtp` and dropped. STUN (0–3), DTLS (20–63) and the SFU's RTCP (sender
//! reports to the subscribers, PLIs and reports to the publisher, counted in `rtcp`)
//! pass. The publisher receives no RTP from the SFU, so every counted packet went to a
//! subscriber. RTP headers are plaintext in SRTP, but the rule needs only the first two
//! bytes. The counter read at both ends of a window is what the SFU delivered to the
//! kernel; offered is what the publisher sent on the top layer and the audio in that
//! window times the subscribers the SFU forwards to. The publisher is paused at the
//! window's start until the counter stops moving (nothing in flight, however far
//! behind the SFU was) and at its end for 300 ms (`clients::DRAIN`), so loss =
//! 1 − counted / offered counts packets lost or more than 300 ms late; the late ones
//! are counted apart. Chosen over a user-space proxy reading RTP sequence numbers:
//! the proxy would need the CPU this mode frees.

use std::process::Command;

/// Set in the environment of the bench once it runs in its own network namespace.
const IN_NAMESPACE: &str = "SFU_BENCH_NETNS";
/// The nftables table the bench adds (in its own namespace only).
const TABLE: &str = "sfubench";

/// Re-runs this process in a new network namespace; `None` if already in one.
pub fn enter_namespace() -> Option<std::process::ExitStatus> {
    if std::env::var_os(IN_NAMESPACE).is_some() {
        return None;
    }
    let exe = std::env::current_exe().ok()?;
    let status = Command::new("unshare")
        .arg("-n")
        .arg(exe)
        .args(std::env::args().skip(1))
        .env(IN_NAMESPACE, "1")
        .status();
    match status {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("sfu-bench: --drop-media needs `unshare` (util-linux) and root: {e}");
            std::process::exit(1);
        }
    }
}

fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program).args(args).output().map_err(|e| {
        let hint = if program == "nft" {
            " (install it: apt-get install nftables)"
        } else {
            ""
        };
        format!("{program}: {e}{hint}")
    })?;
    if !out.status.success() {
        return Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Brings up the namespace's loopback and adds the counting rule for the SFU's `port`.
pub fn install(port: u16) -> Result<(), String> {
    if std::env::var_os(IN_NAMESPACE).is_none() {
        return Err("--drop-media: not in the bench's own network namespace".into());
    }
    run("ip", &["link", "set", "lo", "up"])?;
    let rules = format!(
        "table inet {TABLE} {{\n\
         counter rtp {{ }}\n\
         counter rtcp {{ }}\n\
         chain in {{\n\
         type filter hook prerouting priority raw; policy accept;\n\
         udp sport {port} @th,64,8 128-191 @th,72,8 != 192-223 counter name rtp drop\n\
         udp sport {port} @th,64,8 128-191 counter name rtcp accept\n\
         }}\n}}\n"
    );
    let file = std::env::temp_dir().join(format!("sfu-bench-{}.nft", std::process::id()));
    std::fs::write(&file, rules).map_err(|e| format!("{}: {e}", file.display()))?;
    let result = run("nft", &["-f", &file.to_string_lossy()]);
    let _ = std::fs::remove_file(&file);
    result?;
    eprintln!("[sfu] --drop-media: RTP from port {port} counted and dropped by nftables");
    Ok(())
}

/// Packets counted so far by the named counter (`rtp` or `rtcp`).
pub fn counter(name: &str) -> Result<u64, String> {
    let out = run("nft", &["list", "counter", "inet", TABLE, name])?;
    packets(&out).ok_or_else(|| format!("no packet count in {out:?}"))
}

/// The `packets N` of `nft list counter`'s output.
fn packets(listing: &str) -> Option<u64> {
    let mut words = listing.split_whitespace();
    words.find(|w| *w == "packets")?;
    words.next()?.parse().ok()
}

/// UDP datagrams this namespace's sockets refused because their receive buffer was full
/// (`RcvbufErrors` of `/proc/net/snmp`): the publisher's packets the SFU lost on the way in.
pub fn rcvbuf_errors() -> u64 {
    let snmp = std::fs::read_to_string("/proc/self/net/snmp").unwrap_or_default();
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "RcvbufErrors")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// Waits until the counter `rtp` stops moving (no change in 100 ms), at most 10 s;
/// how long it still moved.
pub async fn drained() -> Result<std::time::Duration, String> {
    let start = std::time::Instant::now();
    let mut last = counter("rtp")?;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let now = counter("rtp")?;
        if now == last || start.elapsed().as_secs() >= 10 {
            return Ok(start
                .elapsed()
                .saturating_sub(std::time::Duration::from_millis(100)));
        }
        last = now;
    }
}
