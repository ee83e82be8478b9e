//! Settings of limits and operations: the join timeout, socket caps, the capacity guard,
//! the metrics listener and the log format (checked by name, turned into the configs
//! of `signaling` and the `/ws` gate).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Settings;
use crate::sockets::SocketLimits;

/// Meeting sockets open at once by default: a province meeting (221 halls) and its
/// consoles many times over, while 4,000 idle sockets cost ~0.4 GB at most.
pub const MAX_SOCKETS: usize = 4000;
/// Sockets from one address by default: a whole province's halls behind one NAT.
pub const MAX_SOCKETS_PER_ADDRESS: usize = 300;
/// Halls present on one node by default: BENCHMARKS.md's 221-hall meeting used 29–37%
/// of 2 cores at ~26,000 forwarded packets/s; `sfu_bench` forwarded to 250 subscribers
/// without loss but its latency grew past ~150 on a shared core and one starved run
/// collapsed at 250. 250 halls carry one province meeting with room for its consoles.
pub const MAX_HALLS: usize = 250;
/// Forwarded packets per second by default: `sfu_bench`'s 250 subscribers (~43,500/s)
/// without loss, rounded up; beyond it latency grows on a 2-core machine.
pub const MAX_FORWARDED_PPS: u64 = 45_000;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for a log collector).
    Json,
}

impl Settings {
    /// `join_timeout_secs`, checked.
    pub fn join_timeout(&self) -> Result<Duration, String> {
        if !(1..=300).contains(&self.join_timeout_secs) {
            return Err("settings: join_timeout_secs must be 1 to 300".into());
        }
        Ok(Duration::from_secs(self.join_timeout_secs))
    }

    /// The capacity guard (`max_halls`, `max_forwarded_pps`; 0 is no limit).
    pub fn capacity(&self) -> signaling::load::Capacity {
        signaling::load::Capacity {
            max_halls: (self.max_halls > 0).then_some(self.max_halls),
            max_forwarded_pps: (self.max_forwarded_pps > 0).then_some(self.max_forwarded_pps),
        }
    }

    /// The `/ws` gate's caps, checked.
    pub fn socket_limits(&self) -> Result<SocketLimits, String> {
        if self.max_sockets == 0 || self.max_sockets_per_address == 0 {
            return Err(
                "settings: max_sockets and max_sockets_per_address must be at least 1".into(),
            );
        }
        if self.max_sockets_per_address > self.max_sockets {
            return Err("settings: max_sockets_per_address must not exceed max_sockets".into());
        }
        Ok(SocketLimits {
            total: self.max_sockets,
            per_address: self.max_sockets_per_address,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked_by_name() {
        let check = |f: fn(&mut Settings)| {
            let mut s = Settings::default();
            f(&mut s);
            s.validate()
        };
        let err = check(|s| s.join_timeout_secs = 0).unwrap_err();
        assert!(err.contains("join_timeout_secs"), "{err}");
        let err = check(|s| s.max_sockets_per_address = 0).unwrap_err();
        assert!(err.contains("max_sockets_per_address"), "{err}");
        let err = check(|s| s.max_sockets_per_address = s.max_sockets + 1).unwrap_err();
        assert!(err.contains("max_sockets"), "{err}");
        let defaults = Settings::default().capacity();
        assert_eq!(defaults.max_halls, Some(MAX_HALLS));
        let off = Settings {
            max_halls: 0,
            max_forwarded_pps: 0,
            ..Settings::default()
        };
        assert_eq!(off.capacity(), signaling::load::Capacity::default());
        let signaling = Settings::default().signaling_config().unwrap();
        assert_eq!(signaling.join_timeout, Duration::from_secs(10));
    }

    #[test]
    fn the_log_format_is_text_or_json() {
        let path = std::env::temp_dir().join(format!("hoinghi-log-{}.toml", uuid::Uuid::new_v4()));
        std::fs::write(&path, "log_format = \"json\"\n").unwrap();
        let s = Settings::load(Some(&path), figment::Figment::new()).unwrap();
        assert_eq!(s.log_format, LogFormat::Json);
        std::fs::write(&path, "log_format = \"xml\"\n").unwrap();
        let err = Settings::load(Some(&path), figment::Figment::new()).unwrap_err();
        assert!(err.contains("log_format"), "{err}");
        let _ = std::fs::remove_file(path);
    }
}
