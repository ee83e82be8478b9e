//! Settings of one SFU instance: addresses, ports, receive slots, codecs, timings.
//!
//! Plain data with defaults that are safe on a developer machine (everything on
//! 127.0.0.1, an ephemeral port). [`SfuConfig::validate`] runs once in
//! [`Sfu::start`](crate::Sfu::start), so a bad value is reported with its field name
//! before any socket is bound.

use std::net::IpAddr;
use std::time::Duration;

/// How one SFU instance binds, announces and shapes its peer connections.
#[derive(Debug, Clone, PartialEq)]
pub struct SfuConfig {
    /// The local address the media port binds to. A concrete address (not a wildcard):
    /// it is announced to halls unless `announced_ips` are given, and tests must stay
    /// on 127.0.0.1.
    pub bind_ip: IpAddr,
    /// Public addresses announced as host candidates instead of `bind_ip` (1:1 NAT,
    /// e.g. the province data centre's public address). Empty: announce `bind_ip`.
    pub announced_ips: Vec<IpAddr>,
    /// The one UDP port every hall's media uses (0: an ephemeral one): one socket for
    /// all connections, demultiplexed by ICE username and address ([`crate::driver`]).
    pub udp_port: u16,
    /// Media workers (tasks) sharing the port; halls are spread over them and a
    /// meeting may span them (docs/sfu-driver.md, "Several media workers"). 0: one per
    /// core. The default is 1, or `SFU_MEDIA_WORKERS` when set (so the test suites can
    /// run again on several workers).
    pub media_workers: usize,
    /// Which worker a new hall goes to.
    pub worker_assignment: WorkerAssignment,
    /// At most this many video receive slots per peer: each offer's `recvonly` video
    /// m-lines up to this cap become slots (a commune's page asks for a few, the host's
    /// for its 5×5 monitoring grid plus the main picture: 26, the default).
    pub video_slots: u16,
    /// At most this many audio receive slots per peer (host, floor holder, unmuted halls).
    pub audio_slots: u16,
    /// Codecs offered to halls besides the mandatory Opus and VP8.
    pub codecs: Codecs,
    /// Minimum spacing of keyframe requests (PLI) sent to one publisher layer.
    pub keyframe_throttle: Duration,
    /// How often per-peer statistics are published as [`SfuEvent::Stats`](crate::SfuEvent::Stats).
    pub stats_interval: Duration,
    /// Also send our ICE candidates as [`SfuEvent::LocalCandidate`](crate::SfuEvent::LocalCandidate)s
    /// (and an empty one at the end), for a client that waits for trickled candidates.
    /// The answer carries them in any case: the port's candidates are known.
    pub trickle_candidates: bool,
}

/// Optional codecs; Opus (audio) and VP8 (video) are always registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Codecs {
    /// Register H.264 (constrained baseline, packetization mode 1) for video.
    pub h264: bool,
}

/// How new halls are spread over the media workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WorkerAssignment {
    /// The worker carrying the fewest halls (the lowest index on a tie).
    #[default]
    Balanced,
    /// Worker `peer id % workers`: deterministic, for tests that must span workers.
    ByPeerId,
}

/// The default number of media workers: `SFU_MEDIA_WORKERS` if set, else 1.
fn default_media_workers() -> usize {
    std::env::var("SFU_MEDIA_WORKERS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(1)
}

impl SfuConfig {
    /// How many workers `media_workers` means on this machine (0: one per core).
    pub fn workers(&self) -> usize {
        match self.media_workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

impl Default for Codecs {
    fn default() -> Self {
        Self { h264: true }
    }
}

impl Default for SfuConfig {
    fn default() -> Self {
        Self {
            bind_ip: IpAddr::from([127, 0, 0, 1]),
            announced_ips: Vec::new(),
            udp_port: 0,
            media_workers: default_media_workers(),
            worker_assignment: WorkerAssignment::default(),
            video_slots: 26,
            audio_slots: 4,
            codecs: Codecs::default(),
            keyframe_throttle: crate::DEFAULT_THROTTLE,
            stats_interval: Duration::from_secs(1),
            trickle_candidates: false,
        }
    }
}

/// A configuration value that cannot work, named by its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `bind_ip` is a wildcard address.
    #[error("sfu.bind_ip must be a concrete address, not {0}")]
    WildcardBind(IpAddr),
    /// A value that must be positive is zero.
    #[error("sfu.{0} must be greater than zero")]
    Zero(&'static str),
    /// The media port could not be bound.
    #[error("sfu.udp_port: cannot bind {0}")]
    Bind(String),
    /// Too many slots for the SDP (and for any hall's screen).
    #[error("sfu.{0} must be at most {MAX_SLOTS}")]
    TooManySlots(&'static str),
    /// More media workers than the SFU supports.
    #[error("sfu.media_workers must be at most {MAX_WORKERS}")]
    TooManyWorkers,
}

/// Upper bound on slots of one kind per peer.
pub const MAX_SLOTS: u16 = 64;

/// Upper bound on media workers.
pub const MAX_WORKERS: usize = 64;

impl SfuConfig {
    /// Checks the values that would otherwise fail later, at a peer's arrival.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.bind_ip.is_unspecified() {
            return Err(ConfigError::WildcardBind(self.bind_ip));
        }
        for (name, n) in [
            ("video_slots", self.video_slots),
            ("audio_slots", self.audio_slots),
        ] {
            if n > MAX_SLOTS {
                return Err(ConfigError::TooManySlots(name));
            }
        }
        if self.media_workers > MAX_WORKERS {
            return Err(ConfigError::TooManyWorkers);
        }
        for (name, d) in [
            ("keyframe_throttle", self.keyframe_throttle),
            ("stats_interval", self.stats_interval),
        ] {
            if d.is_zero() {
                return Err(ConfigError::Zero(name));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_local() {
        let c = SfuConfig::default();
        assert_eq!(c.validate(), Ok(()));
        assert!(c.bind_ip.is_loopback());
    }

    #[test]
    fn rejects_values_that_cannot_work() {
        let bad = |f: fn(&mut SfuConfig)| {
            let mut c = SfuConfig::default();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert_eq!(
            bad(|c| c.bind_ip = IpAddr::from([0, 0, 0, 0])),
            ConfigError::WildcardBind(IpAddr::from([0, 0, 0, 0]))
        );
        assert_eq!(
            bad(|c| c.stats_interval = Duration::ZERO),
            ConfigError::Zero("stats_interval")
        );
        assert_eq!(
            bad(|c| c.video_slots = 65),
            ConfigError::TooManySlots("video_slots")
        );
        assert_eq!(
            bad(|c| c.media_workers = MAX_WORKERS + 1),
            ConfigError::TooManyWorkers
        );
    }
}
