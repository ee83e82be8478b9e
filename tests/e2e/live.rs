//! Halls on the meeting socket: their presence is written down as attendance as it happens.

use std::time::Duration;

use chrono::Utc;
use futures::{SinkExt, StreamExt};
use hoinghi_tests::{spawn_app_with, TestApp};
use scheduler::testing::test_backend;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn join(app: &TestApp, token: &str) -> Socket {
    let url = format!("{}/ws", app.base.replace("http://", "ws://"));
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("socket opens");
    ws.send(Message::text(
        json!({ "type": "join", "v": 1, "token": token }).to_string(),
    ))
    .await
    .unwrap();
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("welcome in time");
        if let Some(Ok(Message::Text(t))) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            assert_ne!(v["type"], "error", "{v}");
            if v["type"] == "welcome" {
                return ws;
            }
        }
    }
}

#[tokio::test]
async fn presence_on_the_socket_becomes_attendance() {
    let app = spawn_app_with(test_backend(), |s| s.reconnect_grace_secs = 1).await;
    let vp = app.login("vp.tanson").await;
    let body = json!({
        "title": "Họp khẩn", "kind": "sudden", "host_hall_id": app.hall_id("240").await,
        "starts_at": "now", "duration_minutes": 60,
        "scope": { "root_unit_id": app.unit_id("240").await, "levels": ["district", "commune"] },
    });
    let (status, created) = app.post("/api/v1/meetings", Some(&vp), &body).await;
    assert_eq!(status, 200, "{created}");
    let id = created["meetings"][0]["id"].as_i64().unwrap();
    let (_, inv) = app
        .get(&format!("/api/v1/meetings/{id}/invitations"), Some(&vp))
        .await;
    let token_of = |hall_id: i64| {
        inv["invitations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["hall_id"] == hall_id)
            .unwrap()["join_token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (host, commune) = (app.hall_id("240").await, app.hall_id("08578").await);

    let mut a = join(&app, &token_of(host)).await;
    let b = join(&app, &token_of(commune)).await;
    drop(b); // the commune's link drops without a word
    a.send(Message::text(json!({ "type": "leave" }).to_string()))
        .await
        .unwrap();

    // Both end up written down: the host left, the commune lost its link past the grace.
    let admin = app.db.store.principal_by_username("admin").await.unwrap();
    let mut rows = Vec::new();
    for _ in 0..100 {
        rows = app.db.store.meeting_attendance(&admin, id).await.unwrap();
        let reason = |h: i64| {
            rows.iter()
                .find(|r| r.hall.hall_id == h)
                .and_then(|r| r.last_leave_reason.clone())
        };
        if reason(host).is_some() && reason(commune).is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let row = |h: i64| rows.iter().find(|r| r.hall.hall_id == h).unwrap().clone();
    assert_eq!(row(host).last_leave_reason.as_deref(), Some("left"));
    assert_eq!(
        row(commune).last_leave_reason.as_deref(),
        Some("network_lost")
    );
    assert_eq!((row(host).intervals, row(commune).intervals), (1, 1));
    assert!(
        row(commune).first_join.is_some()
            && row(commune).first_join <= Some(Utc::now().timestamp())
    );
    assert_eq!(
        rows.iter().filter(|r| r.first_join.is_some()).count(),
        2,
        "nobody else came"
    );
    app.stop().await;
}
