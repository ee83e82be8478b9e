//! Limits under abuse, seen from outside: sockets that never join are closed, one address
//! cannot open sockets without end, a full node refuses new halls with `capacity`, and
//! `/metrics` (on its own listener only) counts joins.

use std::time::Duration;

use futures::SinkExt;
use hoinghi_tests::{next_event, spawn_app_with, Socket, TestApp};
use scheduler::Backend;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// A district meeting open now (Tân Sơn, hosted by its own hall); the join tokens of the
/// host and of one commune hall.
async fn meeting_tokens(app: &TestApp) -> (String, String) {
    let vp = app.login("vp.tanson").await;
    let body = json!({
        "title": "Giao ban giới hạn", "kind": "sudden", "host_hall_id": app.hall_id("240").await,
        "starts_at": "now", "duration_minutes": 60,
        "scope": { "root_unit_id": app.unit_id("240").await, "levels": ["district", "commune"] },
    });
    let (status, created) = app.post("/api/v1/meetings", Some(&vp), &body).await;
    assert_eq!(status, 200, "{created}");
    let id = created["meetings"][0]["id"].as_i64().expect("an id");
    let (_, inv) = app
        .get(&format!("/api/v1/meetings/{id}/invitations"), Some(&vp))
        .await;
    let token_of = |hall_id: i64| {
        inv["invitations"]
            .as_array()
            .expect("invitations")
            .iter()
            .find(|i| i["hall_id"] == hall_id)
            .expect("invited")["join_token"]
            .as_str()
            .expect("a token")
            .to_string()
    };
    let (host, commune) = (app.hall_id("240").await, app.hall_id("08578").await);
    (token_of(host), token_of(commune))
}

async fn open(app: &TestApp) -> Result<Socket, WsError> {
    tokio_tungstenite::connect_async(app.ws_url())
        .await
        .map(|(ws, _)| ws)
}

#[tokio::test]
async fn a_socket_that_never_joins_is_closed_after_the_join_timeout() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.join_timeout_secs = 1).await;
    let mut idle = open(&app).await.expect("upgrades");
    // A ping is answered but does not extend the time to join.
    let ping = json!({ "type": "ping", "ts": 1 }).to_string();
    idle.send(Message::text(ping)).await.expect("sent");
    assert_eq!(next_event(&mut idle).await.expect("pong")["type"], "pong");
    let error = next_event(&mut idle)
        .await
        .expect("an error before the close");
    assert_eq!(error["code"], "join_timeout", "{error}");
    assert_eq!(
        next_event(&mut idle).await,
        Err(Some((1008, "join_timeout".to_string())))
    );
    app.stop().await;
}

#[tokio::test]
async fn a_joined_hall_outlives_the_join_timeout() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.join_timeout_secs = 1).await;
    let (host, _) = meeting_tokens(&app).await;
    let (mut ws, welcome) = app.ws_join(&host).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    // Past the join timeout, the joined socket still answers (nothing else arrives
    // unasked on a meeting with one hall but its own state).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let ping = json!({ "type": "ping", "ts": 7 }).to_string();
    ws.send(Message::text(ping)).await.expect("sent");
    loop {
        let m = next_event(&mut ws).await.expect("still open");
        assert_ne!(m["type"], "error", "{m}");
        if m["type"] == "pong" {
            assert_eq!(m["ts"].as_f64(), Some(7.0));
            break;
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn one_address_cannot_open_more_sockets_than_its_cap() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.max_sockets_per_address = 2).await;
    let first = open(&app).await.expect("first socket");
    let _second = open(&app).await.expect("second socket");
    match open(&app).await {
        Err(WsError::Http(response)) => {
            assert_eq!(response.status().as_u16(), 429);
            let body: Value =
                serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                    .expect("a JSON error");
            assert_eq!(body["error"]["code"], "too_many_sockets", "{body}");
        }
        other => panic!("the third socket must be refused with 429, got {other:?}"),
    }
    // A closed socket frees its place.
    drop(first);
    let mut again = None;
    for _ in 0..50 {
        match open(&app).await {
            Ok(ws) => {
                again = Some(ws);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert!(
        again.is_some(),
        "a place freed by a closed socket is taken again"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_full_node_refuses_a_new_hall_with_capacity_but_not_a_returning_one() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.max_halls = 1).await;
    let (host, commune) = meeting_tokens(&app).await;
    let (_host_ws, welcome) = app.ws_join(&host).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let (mut refused, error) = app.ws_join(&commune).await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["code"], "capacity", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or("")
            .contains("max_halls"),
        "{error}"
    );
    assert_eq!(
        next_event(&mut refused).await,
        Err(Some((1013, "capacity".to_string())))
    );
    // The host hall, already present, may come back (a reload) on a full node.
    let (_again, welcome) = app.ws_join(&host).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    app.stop().await;
}

/// Every sample of the scrape (name with labels → value), parsed by a Prometheus text
/// parser; fails if any line is not one the format allows.
async fn scrape(app: &TestApp) -> Vec<prometheus_parse::Sample> {
    let url = format!(
        "{}/metrics",
        app.metrics.as_deref().expect("metrics_addr set")
    );
    let res = app.client.get(url).send().await.expect("scraped");
    assert_eq!(res.status().as_u16(), 200);
    let text = res.text().await.expect("text");
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        assert!(
            matches!(
                prometheus_parse::LineInfo::parse(line),
                prometheus_parse::LineInfo::Sample { .. }
            ),
            "not a sample line: {line}"
        );
    }
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    prometheus_parse::Scrape::parse(lines)
        .expect("parses")
        .samples
}

fn value(samples: &[prometheus_parse::Sample], name: &str, label: Option<(&str, &str)>) -> f64 {
    samples
        .iter()
        .find(|s| s.metric == name && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
        .map_or(0.0, |s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        })
}

#[tokio::test]
async fn metrics_parse_and_count_a_join_on_their_own_listener_only() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.metrics_addr = Some("127.0.0.1:0".parse().expect("literal"));
    })
    .await;
    let before = scrape(&app).await;
    let welcome = Some(("outcome", "welcome"));
    assert_eq!(value(&before, "hoinghi_joins_total", welcome), 0.0);
    assert_eq!(value(&before, "hoinghi_halls_connected", None), 0.0);
    for name in [
        "hoinghi_live_meetings",
        "hoinghi_forwarded_packets_total",
        "hoinghi_forwarded_bytes_total",
        "hoinghi_media_busy_ratio",
        "hoinghi_media_loss_max",
        "hoinghi_media_loss_mean",
        "hoinghi_media_halls_reporting",
        "hoinghi_keyframe_requests_total",
        "hoinghi_nacks_total",
        "hoinghi_retransmitted_packets_total",
        "hoinghi_relay_packets_total",
        "hoinghi_relay_keyframe_requests_total",
        "hoinghi_relay_repairs_total",
        "hoinghi_relay_dropped_total",
        "hoinghi_rejected_connections_total",
        "hoinghi_login_failures_total",
        "hoinghi_login_lockouts_total",
        "hoinghi_login_busy_total",
        "hoinghi_attendance_pending",
    ] {
        assert!(
            before.iter().any(|s| s.metric == name),
            "{name} is missing from /metrics"
        );
    }
    for direction in ["from_halls", "to_halls"] {
        let nacks = Some(("direction", direction));
        let sample = before.iter().find(|s| {
            s.metric == "hoinghi_nacks_total" && s.labels.get("direction") == Some(direction)
        });
        assert!(sample.is_some(), "NACKs {direction} are counted");
        assert_eq!(value(&before, "hoinghi_nacks_total", nacks), 0.0);
    }

    let (host, _) = meeting_tokens(&app).await;
    let (_ws, welcome_msg) = app.ws_join(&host).await;
    assert_eq!(welcome_msg["type"], "welcome", "{welcome_msg}");
    let bad = json!({ "username": "vp.tanson", "password": "sai mật khẩu" });
    let (status, _) = app.post("/api/v1/auth/login", None, &bad).await;
    assert_eq!(status, 401);

    let after = scrape(&app).await;
    assert_eq!(value(&after, "hoinghi_joins_total", welcome), 1.0);
    assert_eq!(value(&after, "hoinghi_halls_connected", None), 1.0);
    assert_eq!(value(&after, "hoinghi_live_meetings", None), 1.0);
    assert_eq!(value(&after, "hoinghi_sockets_open", None), 1.0);
    assert_eq!(value(&after, "hoinghi_login_failures_total", None), 1.0);
    let joined = after
        .iter()
        .find(|s| s.metric == "hoinghi_join_duration_seconds")
        .expect("the join latency histogram");
    match &joined.value {
        prometheus_parse::Value::Histogram(buckets) => {
            let inf = buckets.iter().find(|b| b.less_than.is_infinite());
            assert_eq!(inf.map(|b| b.count), Some(1.0), "{buckets:?}");
        }
        other => panic!("a histogram, got {other:?}"),
    }

    // The public listener has no /metrics.
    let (status, _) = app.get_text("/metrics").await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[tokio::test]
async fn every_answer_names_its_request_id() {
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    let url = format!("{}/healthz", app.base);
    let res = app.client.get(&url).send().await.expect("answered");
    let id = res.headers().get("x-request-id").expect("an id is given");
    assert_eq!(id.to_str().map(str::len).unwrap_or(0), 36, "a UUID: {id:?}");
    // An id sent by a reverse proxy is kept, so its logs and ours meet.
    let res = app
        .client
        .get(&url)
        .header("x-request-id", "proxy-42")
        .send()
        .await
        .expect("answered");
    assert_eq!(
        res.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("proxy-42")
    );
    app.stop().await;
}
