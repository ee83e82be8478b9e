//! What the signaling service counts for `/metrics` as it happens: joins by outcome and
//! how long a join takes (token check to `welcome`). Figures read on demand (halls,
//! rooms, the media port) come from [`Load`](crate::load::Load) instead; the web server
//! registers both with its Prometheus registry.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// A join's outcome: `welcome`, or the error code it was refused with.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JoinOutcome {
    /// `welcome` or an error code (`join_refused`, `capacity`, …).
    pub outcome: String,
}

/// Counters and histograms of sessions.
#[derive(Debug, Clone)]
pub struct SignalingMetrics {
    /// Joins by outcome.
    pub joins: Family<JoinOutcome, Counter>,
    /// Seconds from a `join` message to its `welcome` (admitted joins only).
    pub join_seconds: Histogram,
    /// Sockets closed for sending no `join` in time.
    pub join_timeouts: Counter,
}

impl Default for SignalingMetrics {
    fn default() -> Self {
        SignalingMetrics {
            joins: Family::default(),
            join_seconds: Histogram::new(latency_buckets()),
            join_timeouts: Counter::default(),
        }
    }
}

/// Buckets for latencies from 1 ms to ~16 s.
pub fn latency_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(0.001, 2.0, 15)
}

impl SignalingMetrics {
    /// Counts a join's outcome.
    pub fn join(&self, outcome: &str) {
        self.joins
            .get_or_create(&JoinOutcome {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Registers the metrics with `registry` (names get the registry's prefix).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "joins",
            "Joins by outcome: welcome or the refusal's error code",
            self.joins.clone(),
        );
        registry.register_with_unit(
            "join_duration",
            "Time from a join message to its welcome",
            Unit::Seconds,
            self.join_seconds.clone(),
        );
        registry.register(
            "join_timeouts",
            "Sockets closed because no join arrived within join_timeout_secs",
            self.join_timeouts.clone(),
        );
    }
}
