//! Settings of one SFU instance: addresses, ports, receive slots, codecs, timings.
//!
//! Plain data with defaults that are safe on a developer machine (everything on
//! 127.0.0.1, ephemeral ports). [`SfuConfig::validate`] runs once in
//! [`Sfu::start`](crate::Sfu::start), so a bad value is reported with its field name
//! before any socket is bound.

use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

/// How one SFU instance binds, announces and shapes its peer connections.
#[derive(Debug, Clone, PartialEq)]
pub struct SfuConfig {
    /// The local address every peer connection's UDP socket binds to. A concrete
    /// address (not a wildcard): the `webrtc` crate skips loopback when given
    /// `0.0.0.0`, and tests must stay on 127.0.0.1.
    pub bind_ip: IpAddr,
    /// Public addresses announced as host candidates instead of `bind_ip` (1:1 NAT,
    /// e.g. the province data centre's public address). Empty: announce `bind_ip`.
    pub announced_ips: Vec<IpAddr>,
    /// UDP ports for peer connections of the `webrtc` driver (`udp_mux_port: None`).
    /// `None`: an ephemeral port per connection.
    /// `webrtc` 0.21 has no UDP mux, so every hall's connection needs its own port
    /// and the range must hold at least as many ports as concurrent halls.
    pub udp_ports: Option<RangeInclusive<u16>>,
    /// One UDP port for every hall's media (`Some(0)`, the default: an ephemeral one):
    /// the muxed-port driver on the sans-IO `rtc` core ([`crate::sansio`]) — one socket
    /// and one task for all connections, about half the CPU per forwarded packet.
    /// `None`: the `webrtc` crate's driver with a socket per connection (`udp_ports`).
    pub udp_mux_port: Option<u16>,
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
    /// Granularity of the owner task's timers (keyframe retries, throttles, speaker).
    pub tick: Duration,
    /// How long to wait for ICE candidate gathering before answering an offer.
    pub gathering_timeout: Duration,
    /// Trickle our ICE candidates: answer right after applying the offer, then report
    /// each gathered candidate as [`SfuEvent::LocalCandidate`](crate::SfuEvent::LocalCandidate)
    /// (and an empty one at the end of gathering). Off: the answer waits for gathering
    /// (up to `gathering_timeout`) and carries every candidate.
    pub trickle_candidates: bool,
    /// Packets queued per receive slot towards a subscriber before new ones are dropped
    /// (a stalled subscriber must never stall the others).
    pub slot_queue: usize,
}

/// Optional codecs; Opus (audio) and VP8 (video) are always registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Codecs {
    /// Register H.264 (constrained baseline, packetization mode 1) for video.
    pub h264: bool,
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
            udp_ports: None,
            udp_mux_port: Some(0),
            video_slots: 26,
            audio_slots: 4,
            codecs: Codecs::default(),
            keyframe_throttle: crate::DEFAULT_THROTTLE,
            stats_interval: Duration::from_secs(1),
            tick: Duration::from_millis(20),
            gathering_timeout: Duration::from_secs(5),
            trickle_candidates: false,
            slot_queue: 512,
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
    /// `udp_ports` is empty or includes port 0.
    #[error("sfu.udp_ports must be a non-empty range of ports above 0")]
    BadPortRange,
    /// Both a port range (one per connection) and one muxed port were given.
    #[error("sfu.udp_ports and sfu.udp_mux_port exclude each other")]
    PortsAndMux,
    /// The muxed UDP port could not be bound.
    #[error("sfu.udp_mux_port: cannot bind {0}")]
    Bind(String),
    /// Too many slots for the SDP (and for any hall's screen).
    #[error("sfu.{0} must be at most {MAX_SLOTS}")]
    TooManySlots(&'static str),
}

/// Upper bound on slots of one kind per peer.
pub const MAX_SLOTS: u16 = 64;

impl SfuConfig {
    /// Checks the values that would otherwise fail later, at a peer's arrival.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.bind_ip.is_unspecified() {
            return Err(ConfigError::WildcardBind(self.bind_ip));
        }
        if let Some(ports) = &self.udp_ports {
            if ports.is_empty() || *ports.start() == 0 {
                return Err(ConfigError::BadPortRange);
            }
        }
        if self.udp_ports.is_some() && self.udp_mux_port.is_some() {
            return Err(ConfigError::PortsAndMux);
        }
        for (name, n) in [
            ("video_slots", self.video_slots),
            ("audio_slots", self.audio_slots),
        ] {
            if n > MAX_SLOTS {
                return Err(ConfigError::TooManySlots(name));
            }
        }
        for (name, d) in [
            ("keyframe_throttle", self.keyframe_throttle),
            ("stats_interval", self.stats_interval),
            ("tick", self.tick),
            ("gathering_timeout", self.gathering_timeout),
        ] {
            if d.is_zero() {
                return Err(ConfigError::Zero(name));
            }
        }
        if self.slot_queue == 0 {
            return Err(ConfigError::Zero("slot_queue"));
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
        #[allow(clippy::reversed_empty_ranges)] // the point of the test
        let empty = 10..=9;
        assert_eq!(
            bad(|c| {
                c.udp_ports = Some(0..=10);
                c.udp_mux_port = None;
            }),
            ConfigError::BadPortRange
        );
        let mut c = SfuConfig {
            udp_ports: Some(empty),
            udp_mux_port: None,
            ..SfuConfig::default()
        };
        assert_eq!(c.validate(), Err(ConfigError::BadPortRange));
        c.udp_ports = Some(40_000..=40_010);
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(bad(|c| c.tick = Duration::ZERO), ConfigError::Zero("tick"));
        assert_eq!(
            bad(|c| {
                c.udp_ports = Some(40_000..=40_010);
                c.udp_mux_port = Some(40_000);
            }),
            ConfigError::PortsAndMux
        );
        assert_eq!(
            bad(|c| c.video_slots = 65),
            ConfigError::TooManySlots("video_slots")
        );
    }
}
