//! WHIP ingest and WHEP egress against the real server: a Rust WebRTC client publishes
//! through `POST /whip/{token}`, a hall receives it once the host gives it the floor, a
//! WHEP viewer receives the main picture and the audio halls hear; tokens made and
//! revoked over the API; every bad input answered with its code.

use std::collections::HashMap;
use std::time::Duration;

use futures::SinkExt;
use hoinghi_tests::{next_message, spawn_app, Socket, TestApp};
use serde_json::{json, Value};
use sfu::testclient::{ReceivedPacket, TestClient};
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(15);

/// A sudden meeting of Tân Sơn hosted by its district hall, with the commune 08578.
struct Meeting {
    id: i64,
    staff: String,
    host_token: String,
    commune_token: String,
}

async fn meeting(app: &TestApp, kind: &str) -> Meeting {
    let staff = app.login("vp.tanson").await;
    let body = json!({
        "title": "Giao ban trực tuyến", "kind": kind, "host_hall_id": app.hall_id("240").await,
        "starts_at": "now", "duration_minutes": 60,
        "scope": { "root_unit_id": app.unit_id("240").await, "levels": ["district", "commune"] },
    });
    let (status, created) = app.post("/api/v1/meetings", Some(&staff), &body).await;
    assert_eq!(status, 200, "{created}");
    let id = created["meetings"][0]["id"].as_i64().expect("an id");
    let (_, inv) = app
        .get(&format!("/api/v1/meetings/{id}/invitations"), Some(&staff))
        .await;
    let token_of = |hall_id: i64| {
        inv["invitations"]
            .as_array()
            .expect("invitations")
            .iter()
            .find(|i| i["hall_id"] == hall_id)
            .expect("invited")["join_token"]
            .as_str()
            .expect("a join token")
            .to_string()
    };
    Meeting {
        id,
        host_token: token_of(app.hall_id("240").await),
        commune_token: token_of(app.hall_id("08578").await),
        staff,
    }
}

/// The staff start the meeting; waits until the store says it is live.
async fn start(app: &TestApp, m: &Meeting) {
    let (status, body) = app
        .post(
            &format!("/api/v1/meetings/{}/live", m.id),
            Some(&m.staff),
            &json!({"type": "set_phase", "phase": "started"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for _ in 0..200 {
        let (_, shown) = app
            .get(&format!("/api/v1/meetings/{}", m.id), Some(&m.staff))
            .await;
        if shown["meeting"]["status"] == "live" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the meeting never became live");
}

/// Makes a feed token over the API: (feed JSON, URL path).
async fn feed(app: &TestApp, m: &Meeting, kind: &str, name: &str) -> (Value, String) {
    let (status, made) = app
        .post(
            &format!("/api/v1/meetings/{}/feeds", m.id),
            Some(&m.staff),
            &json!({"kind": kind, "name": name}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let url = made["url"].as_str().expect("a url");
    let at = url.find("/wh").expect("a /whip/ or /whep/ path");
    let path = url[at..].to_string();
    (made["feed"].clone(), path)
}

/// Posts an SDP offer: (status, Location, body text).
async fn post_sdp(app: &TestApp, path: &str, sdp: &str) -> (u16, Option<String>, String) {
    let res = app
        .client
        .post(format!("{}{path}", app.base))
        .header("content-type", "application/sdp")
        .body(sdp.to_owned())
        .send()
        .await
        .expect("request sent");
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if status == 201 {
        let ct = res.headers().get("content-type").cloned();
        assert_eq!(
            ct.as_ref().and_then(|v| v.to_str().ok()),
            Some("application/sdp")
        );
    }
    (status, location, res.text().await.unwrap_or_default())
}

async fn delete(app: &TestApp, path: &str) -> u16 {
    app.client
        .delete(format!("{}{path}", app.base))
        .send()
        .await
        .expect("request sent")
        .status()
        .as_u16()
}

/// Joins a hall's page and negotiates `client`'s media over the socket.
async fn hall(app: &TestApp, token: &str, client: &TestClient) -> Socket {
    let (mut ws, welcome) = app.ws_join(token).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let offer = client.offer().await.expect("offer");
    ws.send(Message::text(
        json!({"type": "offer", "sdp": offer}).to_string(),
    ))
    .await
    .expect("offer sent");
    loop {
        let m = next_message(&mut ws).await.expect("an answer");
        assert_ne!(m["type"], "error", "{m}");
        if m["type"] == "answer" {
            let sdp = m["sdp"].as_str().expect("sdp").to_owned();
            client.accept(sdp).await.expect("the answer applies");
            break;
        }
    }
    assert!(
        client.wait_connected(WAIT).await,
        "the hall's media connects"
    );
    ws
}

/// The Opus payload type the test client negotiates (VP8 is every other).
const OPUS_PT: u8 = 111;

/// Packets of ours received per SSRC: (audio, packets).
fn streams(received: &HashMap<u32, Vec<ReceivedPacket>>) -> Vec<(bool, usize)> {
    let mut out: Vec<(bool, usize)> = received
        .values()
        .map(|p| {
            let ours: Vec<_> = p.iter().filter(|p| p.number.is_some()).collect();
            (ours.iter().all(|p| p.payload_type == OPUS_PT), ours.len())
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    out.sort();
    out
}

/// Waits until `client` received at least `n` packets of ours on a video stream and on
/// an audio stream.
async fn wait_media(client: &TestClient, n: usize) -> Vec<(bool, usize)> {
    let mut last = Vec::new();
    for _ in 0..300 {
        last = streams(&client.received());
        let video = last.iter().any(|(audio, c)| !*audio && *c >= n);
        let heard = last.iter().any(|(audio, c)| *audio && *c >= n);
        if video && heard {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("media did not arrive: {last:?}");
}

#[tokio::test]
async fn a_whip_source_on_the_floor_reaches_a_hall_and_a_whep_viewer() {
    let app = spawn_app().await;
    let m = meeting(&app, "sudden").await;
    let (ingest, whip) = feed(&app, &m, "ingest", "Truyền hình hội nghị toàn quốc").await;
    let (_, whep) = feed(&app, &m, "viewer", "Đài PT-TH Phú Thọ").await;
    let source_id = ingest["participant_id"].as_i64().expect("a participant id");

    // Not live yet: a clear refusal.
    let publisher = TestClient::publisher().await.expect("publisher");
    let offer = publisher.offer().await.expect("offer");
    let (status, _, body) = post_sdp(&app, &whip, &offer).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("meeting_not_live"), "{body}");

    start(&app, &m).await;
    let _host = app.ws_join(&m.host_token).await;
    let (status, location, answer) = post_sdp(&app, &whip, &offer).await;
    assert_eq!(status, 201, "{answer}");
    let location = location.expect("a Location");
    assert!(location.starts_with("/whip/session/"), "{location}");
    publisher.accept(answer).await.expect("the answer applies");
    assert!(publisher.wait_connected(WAIT).await, "WHIP media connects");
    let sending = publisher.start_publishing().await.expect("sending");

    // The source is on the host's board, not among the halls.
    let mut board = Value::Null;
    for _ in 0..100 {
        let (_, live) = app
            .get(&format!("/api/v1/meetings/{}/live", m.id), Some(&m.staff))
            .await;
        board = live["readiness"].clone();
        if board["sources"].as_array().is_some_and(|s| !s.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(board["sources"][0]["hall_id"], source_id, "{board}");
    assert_eq!(
        board["sources"][0]["name"],
        "Truyền hình hội nghị toàn quốc"
    );
    assert!(
        !board["halls"]
            .as_array()
            .expect("halls")
            .iter()
            .any(|h| h["hall_id"] == source_id),
        "{board}"
    );

    // A commune hall sees nothing of it until the host gives it the floor.
    let commune = TestClient::subscriber(2, 2).await.expect("subscriber");
    let _ws = hall(&app, &m.commune_token, &commune).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        streams(&commune.received()).is_empty(),
        "nothing before the floor"
    );
    let (status, body) = app
        .post(
            &format!("/api/v1/meetings/{}/live", m.id),
            Some(&m.staff),
            &json!({"type": "give_floor", "hall_id": source_id}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    wait_media(&commune, 30).await;

    // A WHEP viewer gets the main picture (the source on the floor) and its audio.
    let viewer = TestClient::subscriber(1, 2).await.expect("viewer");
    let offer = viewer.offer().await.expect("offer");
    let (status, view_location, answer) = post_sdp(&app, &whep, &offer).await;
    assert_eq!(status, 201, "{answer}");
    let view_location = view_location.expect("a Location");
    assert!(
        view_location.starts_with("/whep/session/"),
        "{view_location}"
    );
    viewer.accept(answer).await.expect("the answer applies");
    assert!(viewer.wait_connected(WAIT).await, "WHEP media connects");
    wait_media(&viewer, 30).await;

    // Viewers are counted and listed apart; never participants.
    let (_, listed) = app
        .get(&format!("/api/v1/meetings/{}/feeds", m.id), Some(&m.staff))
        .await;
    assert_eq!(listed["viewer_count"], 1, "{listed}");
    assert_eq!(listed["viewers"][0]["name"], "Đài PT-TH Phú Thọ");
    let (_, live) = app
        .get(&format!("/api/v1/meetings/{}/live", m.id), Some(&m.staff))
        .await;
    let text = live["readiness"].to_string();
    assert!(!text.contains("Đài PT-TH"), "{text}");

    // DELETE ends a session; a second DELETE finds none.
    assert_eq!(delete(&app, &view_location).await, 200);
    assert_eq!(delete(&app, &view_location).await, 404);
    let (_, listed) = app
        .get(&format!("/api/v1/meetings/{}/feeds", m.id), Some(&m.staff))
        .await;
    assert_eq!(listed["viewer_count"], 0, "{listed}");
    assert_eq!(delete(&app, &location).await, 200);
    assert_eq!(delete(&app, &location).await, 404);
    // The floor went with the source.
    let mut state = Value::Null;
    for _ in 0..100 {
        let (_, live) = app
            .get(&format!("/api/v1/meetings/{}/live", m.id), Some(&m.staff))
            .await;
        state = live["state"].clone();
        if state["floor"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(state["floor"].is_null(), "{state}");
    sending.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn a_national_relays_ingest_is_the_main_picture_without_anyone_giving_the_floor() {
    let app = spawn_app().await;
    let m = meeting(&app, "national_relay").await;
    let (ingest, whip) = feed(&app, &m, "ingest", "Truyền hình hội nghị toàn quốc").await;
    let source_id = ingest["participant_id"].as_i64().expect("a participant id");
    start(&app, &m).await;
    let _host = app.ws_join(&m.host_token).await;
    let commune = TestClient::subscriber(2, 2).await.expect("subscriber");
    let _ws = hall(&app, &m.commune_token, &commune).await;

    let publisher = TestClient::publisher().await.expect("publisher");
    let offer = publisher.offer().await.expect("offer");
    let (status, location, answer) = post_sdp(&app, &whip, &offer).await;
    assert_eq!(status, 201, "{answer}");
    publisher.accept(answer).await.expect("the answer applies");
    assert!(publisher.wait_connected(WAIT).await, "WHIP media connects");
    let sending = publisher.start_publishing().await.expect("sending");

    // Nobody gave the floor: the national feed is what the commune sees and hears.
    wait_media(&commune, 30).await;
    let (_, live) = app
        .get(&format!("/api/v1/meetings/{}/live", m.id), Some(&m.staff))
        .await;
    assert!(live["state"]["floor"].is_null(), "{live}");
    assert_eq!(live["readiness"]["sources"][0]["hall_id"], source_id);

    assert_eq!(delete(&app, &location.expect("a Location")).await, 200);
    sending.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn bad_whip_and_whep_requests_get_clear_errors() {
    let app = spawn_app().await;
    let m = meeting(&app, "sudden").await;
    let (ingest, whip) = feed(&app, &m, "ingest", "Máy trình chiếu").await;
    let (_, whep) = feed(&app, &m, "viewer", "Màn hình sảnh").await;
    start(&app, &m).await;
    let code = |body: &str| -> String {
        let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        v["error"]["code"].as_str().unwrap_or("").to_owned()
    };
    let publisher = TestClient::publisher().await.expect("publisher");
    let offer = publisher.offer().await.expect("offer");

    // Unknown token; a viewer token on WHIP (and the other way round).
    let (status, _, body) = post_sdp(&app, "/whip/not-a-token", &offer).await;
    assert_eq!((status, code(&body).as_str()), (404, "not_found"), "{body}");
    let other = whep.replace("/whep/", "/whip/");
    let (status, _, body) = post_sdp(&app, &other, &offer).await;
    assert_eq!((status, code(&body).as_str()), (404, "not_found"), "{body}");

    // Wrong content type, oversized body, malformed SDP.
    let (status, body) = app
        .post_raw(&whip, None, "application/json", b"{}".to_vec())
        .await;
    assert_eq!(status, 415, "{body}");
    assert_eq!(body["error"]["code"], "unsupported_media_type");
    let huge = format!("v=0\r\n{}", "a=x\r\n".repeat(20_000));
    let (status, body) = app
        .post_raw(&whip, None, "application/sdp", huge.into_bytes())
        .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    for bad in [
        "hello",
        "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendonly\r\n",
    ] {
        let (status, _, body) = post_sdp(&app, &whip, bad).await;
        assert_eq!(
            (status, code(&body).as_str()),
            (400, "invalid_sdp"),
            "{bad}: {body}"
        );
    }
    // A WHEP offer that would send is not a viewer's.
    let (status, _, body) = post_sdp(&app, &whep, &offer).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (400, "invalid_sdp"),
        "{body}"
    );

    // DELETE of a session that never was; PATCH (trickle) is not offered.
    assert_eq!(delete(&app, "/whip/session/nothing").await, 404);
    let res = app
        .client
        .patch(format!("{}/whip/session/nothing", app.base))
        .header("content-type", "application/trickle-ice-sdpfrag")
        .body("a=end-of-candidates\r\n")
        .send()
        .await
        .expect("request sent");
    assert_eq!(res.status().as_u16(), 405);

    // A revoked token is refused, and its live session ends.
    let (status, location, answer) = post_sdp(&app, &whip, &offer).await;
    assert_eq!(status, 201, "{answer}");
    let location = location.expect("a Location");
    let feed_id = ingest["id"].as_i64().expect("an id");
    let (status, body) = app
        .post(
            &format!("/api/v1/meetings/{}/feeds/{feed_id}/revoke", m.id),
            Some(&m.staff),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["feed"]["revoked_at"].is_i64(), "{body}");
    assert_eq!(delete(&app, &location).await, 404, "the session ended");
    let (status, _, body) = post_sdp(&app, &whip, &offer).await;
    assert_eq!((status, code(&body).as_str()), (404, "not_found"), "{body}");

    // A bad kind or an empty name is refused.
    let (status, body) = app
        .post(
            &format!("/api/v1/meetings/{}/feeds", m.id),
            Some(&m.staff),
            &json!({"kind": "recorder", "name": "x"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/v1/meetings/{}/feeds", m.id),
            Some(&m.staff),
            &json!({"kind": "ingest", "name": "   "}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "validation_failed");
    // Only the hash is kept: the listing never shows a token.
    let (_, listed) = app
        .get(&format!("/api/v1/meetings/{}/feeds", m.id), Some(&m.staff))
        .await;
    assert!(!listed.to_string().contains("token"), "{listed}");
    app.stop().await;
}
