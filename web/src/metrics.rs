//! `GET /metrics` in the Prometheus text format (`prometheus-client`), served on its
//! own listener (setting `metrics_addr`) so that only the monitoring host, let through
//! by the firewall, reaches it; the public listener has no such route.
//!
//! Counted as they happen: joins by outcome and join latency (`signaling::metrics`),
//! attendance write latency (the recorder's histogram). Read at each scrape
//! ([`Figures`]): live meetings, halls present, open sockets and refused upgrades, the
//! media port's last reading (forwarded packets and bytes, drops, PLIs, the media
//! task's busy ratio), and the store's login counts (failures, lockouts).

use std::sync::Arc;

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

/// The figures read at each scrape.
struct Figures(Sources);

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
            "Logins that found no free password-check slot in time (503 busy)",
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

/// The registry of every metric, prefixed `hoinghi_`.
pub fn registry(sources: Sources) -> Registry {
    let mut registry = Registry::with_prefix("hoinghi");
    sources.signaling.metrics().register(&mut registry);
    registry.register_with_unit(
        "attendance_write_duration",
        "Time one attendance change took to write to the database",
        Unit::Seconds,
        sources.recorder.write_seconds().clone(),
    );
    registry.register_collector(Box::new(Figures(sources)));
    registry
}

/// The metrics listener's router: `GET /metrics` only.
pub fn router(registry: Registry) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(Arc::new(registry))
}

async fn scrape(State(registry): State<Arc<Registry>>) -> impl IntoResponse {
    let mut text = String::new();
    match prometheus_client::encoding::prometheus_text::encode(&mut text, &registry) {
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
