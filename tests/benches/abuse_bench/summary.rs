//! The SUMMARY block that ends a run: each figure against issue 11's "Under abuse"
//! targets, said met or missed, so one command answers whether the server holds.

use std::time::Duration;

use crate::attack::{show, FloodReport, SocketReport, Timed};

/// Server RSS under a login flood, at most (MB: 10^6 bytes, as the issue says).
const RSS_LIMIT_MB: f64 = 300.0;
/// A correct login during a flood answers 200 within this.
const LOGIN_LIMIT: Duration = Duration::from_secs(5);
/// The running meeting's signalling round trip, 99th percentile, at most.
const P99_LIMIT_MS: f64 = 100.0;
/// RSS "back near baseline" after the idle sockets: within this of the RSS before them.
const NEAR_BASELINE_MIB: f64 = 25.0;
/// Beyond the join timeout, what a loaded machine may take to deliver a close.
const CLOSE_SLACK_SECS: f64 = 1.0;

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

fn mb(mib: f64) -> f64 {
    mib * 1.048_576
}

fn login_met(t: &Timed) -> bool {
    matches!(t, Ok((200, took)) if *took < LOGIN_LIMIT)
}

/// One login flood's figures.
pub struct FloodFigure {
    pub label: String,
    pub peak_mib: f64,
    pub report: FloodReport,
}

/// The idle sockets' figures.
pub struct SocketFigure {
    pub count: usize,
    pub join_timeout_secs: f64,
    pub report: SocketReport,
    pub before_mib: f64,
    pub peak_mib: f64,
    /// RSS some seconds after the last close, and how many.
    pub after_mib: f64,
    pub after_secs: u64,
}

/// Everything the SUMMARY compares.
#[derive(Default)]
pub struct Summary {
    pub floods: Vec<FloodFigure>,
    pub sockets: Option<SocketFigure>,
    /// The meeting's p99 per phase (name, pongs, ms) and over the whole run.
    pub meeting: (Vec<(String, usize, f64)>, Option<f64>),
    pub halls: usize,
}

impl Summary {
    pub fn print(&self) {
        println!();
        println!("SUMMARY (issue 11 \"Under abuse\" targets)");
        for f in &self.floods {
            let rss_ok = mb(f.peak_mib) < RSS_LIMIT_MB;
            println!(
                "  {}: peak RSS {:.0} MiB ({:.0} MB) < {RSS_LIMIT_MB:.0} MB: {}",
                f.label,
                f.peak_mib,
                mb(f.peak_mib),
                verdict(rss_ok)
            );
            for (case, timed) in &f.report.logins {
                println!(
                    "    correct login, {case}: {} < {} s: {}",
                    show(timed),
                    LOGIN_LIMIT.as_secs(),
                    verdict(login_met(timed))
                );
            }
        }
        if let Some(s) = &self.sockets {
            let r = &s.report;
            let limit = s.join_timeout_secs + CLOSE_SLACK_SECS;
            let closed_ok = r.timed_out() == s.count as u64 && r.lifetime_max <= limit;
            println!(
                "  {} idle sockets: {}/{} closed with 1008 join_timeout, the longest {:.1} s after its handshake <= {:.0} s join timeout + {CLOSE_SLACK_SECS:.0} s: {}",
                s.count,
                r.timed_out(),
                s.count,
                r.lifetime_max,
                s.join_timeout_secs,
                verdict(closed_ok)
            );
            let back = s.after_mib <= s.before_mib + NEAR_BASELINE_MIB;
            println!(
                "    RSS {:.0} → peak {:.0} → {:.0} MiB {} s after the last close, back within {NEAR_BASELINE_MIB:.0} MiB of before: {}",
                s.before_mib,
                s.peak_mib,
                s.after_mib,
                s.after_secs,
                verdict(back)
            );
        }
        // "Throughout": every phase's p99 under the limit, not only the whole run's.
        let (phases, all) = &self.meeting;
        let worst = phases.iter().max_by(|a, b| a.2.total_cmp(&b.2));
        match (worst, all) {
            (Some((name, _, p99)), Some(run)) => {
                println!(
                    "  {}-hall meeting, ping → pong p99 in its worst phase ({name}) {p99:.1} ms < {P99_LIMIT_MS:.0} ms: {} (over the whole run {run:.1} ms)",
                    self.halls,
                    verdict(*p99 < P99_LIMIT_MS)
                );
            }
            _ => println!(
                "  {}-hall meeting: no round trip measured: MISSED",
                self.halls
            ),
        }
    }
}
