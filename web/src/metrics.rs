//! `GET /metrics` in the Prometheus text format (`prometheus-client`), served on its
//! own listener (setting `metrics_addr`) so that only the monitoring host, let through
//! by the firewall, reaches it; the public listener has no such route.
//!
//! Counted as they happen: joins by outcome and join latency (`signaling::metrics`),
//! attendance write latency (the recorder's histogram). Read at each scrape
//! ([`Figures`]): live meetings, halls present, open sockets and refused upgrades, the
//! media port's last reading (forwarded packets and bytes, drops, PLIs, NACKs both ways
//! and the packets sent again on them, the media task's busy ratio), and the store's login counts (failures, lockouts). Asked of the
//! rooms just before each scrape ([`LossFigures`]): the packet loss the halls' media
//! connections report, both ways. The relay with other nodes (the cascade): [`relay`].

use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};
use scheduler::Store;

use crate::sockets::SocketGate;

mod relay;

/// What the scrape reads.
#[derive(Clone)]
pub struct Sources {
    /// Rooms, halls, joins and the media port's figures.
    pub signaling: signaling::Signaling,
    /// Login counts.
    pub store: Store,
    /// Attendance write latency.
    pub recorder: Arc<signaling::StoreRecorder>,
    /// Open and refused sockets.
    pub gate: SocketGate,
}

/// Packet loss over the halls present now, from the SFU's latest figures for each
/// hall's connection (`PeerStats`): fractions 0–1, both ways.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LossFigures {
    /// Halls with a media connection.
    pub halls: usize,
    /// Loss on what the halls send us: the highest and the mean over halls.
    pub from_halls_max: f64,
    pub from_halls_mean: f64,
    /// Loss on what we send the halls (their receiver reports): highest and mean.
    pub to_halls_max: f64,
    pub to_halls_mean: f64,
}

impl LossFigures {
    /// The figures of these halls' statistics.
    pub fn of<'a>(stats: impl IntoIterator<Item = &'a signaling::sfu::PeerStats>) -> Self {
        let mut f = LossFigures::default();
        let (mut from_sum, mut to_sum) = (0.0, 0.0);
        for s in stats {
            let (from, to) = (f64::from(s.loss_in), f64::from(s.loss_out));
            f.halls += 1;
            f.from_halls_max = f.from_halls_max.max(from);
            f.to_halls_max = f.to_halls_max.max(to);
            from_sum += from;
            to_sum += to;
        }
        if f.halls > 0 {
            f.from_halls_mean = from_sum / f.halls as f64;
            f.to_halls_mean = to_sum / f.halls as f64;
        }
        f
    }
}

/// The figures read at each scrape, and the loss asked of the rooms just before it.
struct Figures(Sources, Arc<Mutex<LossFigures>>);

impl std::fmt::Debug for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Figures")
    }
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: impl prometheus_client::encoding::EncodeGaugeValue,
) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(value);
    g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(value);
    c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)
}

/// One gauge with a label `key` taking each of `values`.
fn labelled_gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    key: &'static str,
    values: &[(&'static str, f64)],
) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(0.0f64);
    let mut family = encoder.encode_descriptor(name, help, None, g.metric_type())?;
    for &(label, value) in values {
        let labels = [(key, label)];
        ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// One counter with a label `key` taking each of `values`.
fn labelled_counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    key: &'static str,
    values: &[(&'static str, u64)],
) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(0u64);
    let mut family = encoder.encode_descriptor(name, help, None, c.metric_type())?;
    for &(label, value) in values {
        let labels = [(key, label)];
        ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for Figures {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.0;
        let load = s.signaling.load();
        gauge(
            &mut e,
            "live_meetings",
            "Meetings with a live room on this node",
            s.signaling.room_count() as i64,
        )?;
        gauge(
            &mut e,
            "halls_connected",
            "Halls present in this node's rooms (including grace periods)",
            load.halls() as i64,
        )?;
        gauge(
            &mut e,
            "sockets_open",
            "Meeting sockets open",
            s.gate.open() as i64,
        )?;
        let (per_address, total) = s.gate.refused();
        labelled_counter(
            &mut e,
            "rejected_connections",
            "Meeting socket upgrades refused, by the cap they hit",
            "reason",
            &[("per_address", per_address), ("total", total)],
        )?;
        let m = load.media();
        gauge(
            &mut e,
            "media_connections",
            "Connections on the media port",
            m.connections as i64,
        )?;
        counter(
            &mut e,
            "forwarded_packets",
            "RTP packets forwarded to halls",
            m.forwarded_packets,
        )?;
        counter(
            &mut e,
            "forwarded_bytes",
            "RTP bytes forwarded to halls",
            m.forwarded_bytes,
        )?;
        gauge(
            &mut e,
            "forwarded_packets_per_second",
            "Packets forwarded per second over the last second (the capacity guard's figure)",
            m.forwarded_pps as i64,
        )?;
        counter(
            &mut e,
            "media_datagrams_received",
            "Datagrams the media port received",
            m.datagrams_in,
        )?;
        counter(
            &mut e,
            "media_datagrams_sent",
            "Datagrams the media port sent",
            m.datagrams_out,
        )?;
        labelled_counter(
            &mut e,
            "media_dropped_packets",
            "Packets lost on this node's media path, by where",
            "where",
            &[
                ("rtc_refused", m.dropped_packets),
                ("send_queue", m.send_dropped),
                ("unrouted", m.unrouted),
            ],
        )?;
        counter(
            &mut e,
            "keyframe_requests",
            "Keyframe requests (PLI) sent to publishing halls",
            m.plis,
        )?;
        labelled_counter(
            &mut e,
            "nacks",
            "RTCP NACKs (requests to send lost packets again), by direction: from halls about \
             what this node sent them, to publishing halls about what they sent",
            "direction",
            &[
                ("from_halls", m.nacks_from_halls),
                ("to_halls", m.nacks_to_halls),
            ],
        )?;
        counter(
            &mut e,
            "retransmitted_packets",
            "RTP packets sent again to halls on their NACKs",
            m.retransmitted_packets,
        )?;
        relay::encode(&mut e, &m.relay)?;
        let loss = *self.1.lock().unwrap_or_else(PoisonError::into_inner);
        labelled_gauge(
            &mut e,
            "media_loss_max",
            "Highest packet loss fraction (0 to 1) over the halls connected, by direction",
            "direction",
            &[
                ("from_halls", loss.from_halls_max),
                ("to_halls", loss.to_halls_max),
            ],
        )?;
        labelled_gauge(
            &mut e,
            "media_loss_mean",
            "Mean packet loss fraction (0 to 1) over the halls connected, by direction",
            "direction",
            &[
                ("from_halls", loss.from_halls_mean),
                ("to_halls", loss.to_halls_mean),
            ],
        )?;
        gauge(
            &mut e,
            "media_halls_reporting",
            "Halls whose media connection has reported figures (the loss gauges' population)",
            loss.halls as i64,
        )?;
        gauge(
            &mut e,
            "media_busy_ratio",
            "Share of the last second the media task spent working (0 to 1)",
            m.busy_ratio,
        )?;
        let logins = s.store.login_counts();
        counter(
            &mut e,
            "login_failures",
            "Failed logins (wrong password, unknown or disabled account)",
            logins.failures,
        )?;
        counter(
            &mut e,
            "login_lockouts",
            "Failed logins that locked an account name or address",
            logins.locks,
        )?;
        counter(
            &mut e,
            "login_refused_locked",
            "Logins refused unchecked while their account name or address was locked",
            logins.refused_locked,
        )?;
        counter(
            &mut e,
            "login_busy",
            "Logins told 503 busy: no password-check thread within the wait, or no room in the queue",
            logins.busy,
        )?;
        let writer = s.recorder.health();
        gauge(
            &mut e,
            "attendance_pending",
            "Attendance changes not yet written to the database",
            writer.pending as i64,
        )?;
        Ok(())
    }
}

/// The registry of every metric (prefixed `hoinghi_`) and what a scrape refreshes first.
pub struct Metrics {
    registry: Registry,
    signaling: signaling::Signaling,
    loss: Arc<Mutex<LossFigures>>,
}

/// The registry of every metric, prefixed `hoinghi_`.
pub fn registry(sources: Sources) -> Metrics {
    let mut registry = Registry::with_prefix("hoinghi");
    sources.signaling.metrics().register(&mut registry);
    registry.register_with_unit(
        "attendance_write_duration",
        "Time one attendance change took to write to the database",
        Unit::Seconds,
        sources.recorder.write_seconds().clone(),
    );
    let loss = Arc::new(Mutex::new(LossFigures::default()));
    let signaling = sources.signaling.clone();
    registry.register_collector(Box::new(Figures(sources, loss.clone())));
    Metrics {
        registry,
        signaling,
        loss,
    }
}

/// The metrics listener's router: `GET /metrics` only.
pub fn router(metrics: Metrics) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(Arc::new(metrics))
}

async fn scrape(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    let halls = metrics.signaling.hall_stats().await;
    let loss = LossFigures::of(halls.iter().map(|h| &h.stats));
    *metrics.loss.lock().unwrap_or_else(PoisonError::into_inner) = loss;
    let mut text = String::new();
    match prometheus_client::encoding::prometheus_text::encode(&mut text, &metrics.registry) {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics could not be encoded");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LossFigures;
    use signaling::sfu::{PeerId, PeerStats};

    #[test]
    fn loss_is_the_highest_and_the_mean_over_halls_both_ways() {
        assert_eq!(LossFigures::of([]), LossFigures::default());
        let mut a = PeerStats::new(PeerId(1));
        a.loss_in = 0.25;
        a.loss_out = 0.5;
        let b = PeerStats::new(PeerId(2));
        let f = LossFigures::of([&a, &b]);
        assert_eq!(f.halls, 2);
        assert_eq!((f.from_halls_max, f.from_halls_mean), (0.25, 0.125));
        assert_eq!((f.to_halls_max, f.to_halls_mean), (0.5, 0.25));
    }
}
