//! Page and API tests of the carry (`/admin/carry`, `/api/v1/admin/carry/…`) on a fresh
//! 2024-only demo with the 2025 tree beside it: the preview's counts, apply once, place a
//! listed hall, settle a district secretariat, a broken mapping refused by line and code.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use scheduler::carry::ReviewReason;
use scheduler::demo::{DemoOptions, COMMUNES_2024_TO_2025_CSV, PROVINCES_2024_TO_2025_CSV};
use scheduler::testing::{demo_hash, TestDb};
use scheduler::Backend;
use tower::ServiceExt;

use super::{body_text, get, login, post_form};
use crate::settings::Settings;
use crate::state::AppState;

const ORIGIN: &str = "http://hoinghi.test";

/// The router over the demo's 2024 Phú Thọ (until 2025-06-30) and the 2025 tree, nothing carried.
async fn app() -> (TestDb, Router) {
    let db = TestDb::new(Backend::Sqlite).await.expect("test database");
    let options = DemoOptions {
        whole_country: false,
        meetings: false,
    };
    scheduler::demo_today::seed_both_trees(&db.store, options, demo_hash())
        .await
        .expect("seed")
        .expect("a fresh store");
    let state = AppState {
        store: db.store.clone(),
        settings: Arc::new(Settings::default()),
        public_base: ORIGIN.into(),
        signaling: None,
    };
    (db, crate::startup::router(state))
}

fn with_cookie(mut r: Request<Body>, cookie: &str) -> Request<Body> {
    r.headers_mut()
        .insert(header::COOKIE, cookie.parse().expect("header"));
    r
}

fn post_csv(path: &str, csv: &str, cookie: &str) -> Request<Body> {
    let r = Request::post(path)
        .header(header::HOST, "hoinghi.test")
        .header(header::ORIGIN, ORIGIN)
        .header(header::CONTENT_TYPE, "text/csv")
        .body(Body::from(csv.to_string()))
        .expect("request");
    with_cookie(r, cookie)
}

fn post_json(path: &str, json: serde_json::Value, cookie: &str) -> Request<Body> {
    let r = Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json.to_string()))
        .expect("request");
    with_cookie(r, cookie)
}

async fn send(app: &Router, r: Request<Body>) -> (StatusCode, String) {
    let res = app.clone().oneshot(r).await.expect("response");
    let status = res.status();
    (status, body_text(res).await)
}

/// The number in the counts table's cell `data-count="name"`.
fn count(html: &str, name: &str) -> Option<u64> {
    let at = html.find(&format!("data-count=\"{name}\">"))?;
    let rest = &html[at..];
    let start = rest.find('>')? + 1;
    let end = rest.find('<')?;
    rest[start..end].trim().parse().ok()
}

#[tokio::test]
async fn the_administrator_previews_applies_and_places_on_the_carry_page() {
    let (db, app) = app().await;
    let staff = login(&app, "vp.tinh").await;
    let (status, _) = send(&app, get("/admin/carry", Some(&staff))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "administrators only");
    let admin = login(&app, "admin").await;
    let (status, html) = send(&app, get("/admin/units", Some(&admin))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("href=\"/admin/carry\""),
        "linked from the units page"
    );
    let (status, html) = send(&app, get("/admin/carry", Some(&admin))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Chuyển điểm cầu sang đơn vị hành chính mới"));
    assert!(
        html.contains("value=\"2025-07-01\""),
        "the reform's day by default"
    );
    assert_eq!(count(&html, "moved"), None, "no preview before asking");

    // The preview: Phú Thọ's 207 communes went whole, its province hall follows the
    // province; its 13 district halls and its district secretariats are listed.
    let preview_url = "/admin/carry?on=2025-07-01&mapping=shipped";
    let (status, html) = send(&app, get(preview_url, Some(&admin))).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Xem trước: chưa có gì được ghi"));
    assert_eq!(count(&html, "moved"), Some(208), "{html}");
    assert_eq!(count(&html, "kind-whole"), Some(207));
    assert_eq!(count(&html, "kind-province"), Some(1));
    assert_eq!(count(&html, "listed"), Some(13));
    assert_eq!(count(&html, "reason-district"), Some(13));
    assert!(
        html.contains("Huyện Tân Sơn"),
        "a listed district hall by its unit"
    );
    let secretariats = count(&html, "secretariats").expect("secretariats counted");
    assert!(secretariats >= 1);
    assert!(html.contains("vp.tinh: Tỉnh Phú Thọ → Tỉnh Phú Thọ"));
    let s = &db.store;
    let before = s.halls_in("/25/").await.expect("halls");

    let apply = "/admin/carry/apply?on=2025-07-01&mapping=shipped";
    let (status, _) = send(&app, with_cookie(post_form(apply, "", None), &admin)).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a form from no page of ours is refused"
    );
    assert_eq!(s.halls_in("/25/").await.expect("halls"), before);
    let (status, html) = send(
        &app,
        with_cookie(post_form(apply, "", Some(ORIGIN)), &admin),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Đã chuyển: 208 điểm cầu"), "{html}");
    let (_, again) = send(
        &app,
        with_cookie(post_form(apply, "", Some(ORIGIN)), &admin),
    )
    .await;
    assert!(again.contains("Không có gì thay đổi"), "{again}");
    assert_eq!(count(&again, "already"), Some(208));

    // Place one listed district hall on its suggested commune.
    let plan = s
        .plan_carry(
            "shipped",
            COMMUNES_2024_TO_2025_CSV,
            Some(PROVINCES_2024_TO_2025_CSV),
            "2025-07-01".parse().expect("date"),
            false,
        )
        .await
        .expect("plan");
    let listed = plan.halls.expect("report").review;
    let district = listed
        .iter()
        .find(|r| r.reason == ReviewReason::District)
        .expect("a district hall");
    assert!(again.contains(&format!("data-hall=\"{}\"", district.hall_id)));
    let target = district.candidates[0].id;
    let form = format!(
        "hall_id={}&unit_id={target}&on=2025-07-01&mapping=shipped",
        district.hall_id
    );
    let res = app
        .clone()
        .oneshot(with_cookie(
            post_form("/admin/carry/place", &form, Some(ORIGIN)),
            &admin,
        ))
        .await
        .expect("response");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = res.headers()[header::LOCATION]
        .to_str()
        .expect("location")
        .to_string();
    assert_eq!(
        back,
        "/admin/carry?on=2025-07-01&mapping=shipped&done=placed"
    );
    let (_, html) = send(&app, get(&back, Some(&admin))).await;
    assert!(html.contains("Đã xếp điểm cầu vào đơn vị mới"));
    assert!(!html.contains(&format!("data-hall=\"{}\"", district.hall_id)));
    assert_eq!(count(&html, "listed"), Some(12));
    assert_eq!(
        s.hall(district.hall_id).await.expect("hall").unit_id,
        target
    );
    let (status, html) = send(
        &app,
        with_cookie(post_form("/admin/carry/place", &form, Some(ORIGIN)), &admin),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("is not waiting to be placed"), "{html}");

    // A district secretariat: re-pointed to the suggested province, another disabled.
    let first = &plan.secretariats_to_review[0];
    let province = first.suggested.as_ref().expect("a suggestion").id;
    let form = format!("unit_id={province}&on=2025-07-01&mapping=shipped");
    let path = format!("/admin/carry/secretariats/{}", first.account_id);
    let (status, _) = send(
        &app,
        with_cookie(post_form(&path, &form, Some(ORIGIN)), &admin),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = send(&app, get(preview_url, Some(&admin))).await;
    assert!(!html.contains(&format!("data-account=\"{}\"", first.username)));
    assert_eq!(count(&html, "secretariats"), Some(secretariats - 1));
    if let Some(second) = plan.secretariats_to_review.get(1) {
        let path = format!("/admin/carry/secretariats/{}", second.account_id);
        let form = "disable=1&on=2025-07-01&mapping=shipped";
        let (status, _) = send(
            &app,
            with_cookie(post_form(&path, form, Some(ORIGIN)), &admin),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(!s.account(second.account_id).await.expect("account").active);
    }
    db.cleanup().await;
}

#[tokio::test]
async fn a_broken_uploaded_mapping_is_shown_by_line_and_code_and_nothing_applies() {
    let (db, app) = app().await;
    let admin = login(&app, "admin").await;
    let s = &db.store;
    let before = s.halls_in("/25/").await.expect("halls");
    // 07888 is a commune of 2024 Phú Thọ; 99999 no 2025 unit.
    let csv = "old_code,new_code,part\n07888,99999,whole\nabc,07888,whole\n";
    let (status, html) = send(
        &app,
        post_csv(
            "/admin/carry/apply?on=2025-07-01&mapping=upload",
            csv,
            &admin,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("không áp dụng"), "{html}");
    assert!(html.contains("<td class=\"num\">3</td><td><code>old_code</code></td><td><code>bad_code</code></td><td><code>abc</code></td>"), "{html}");
    let csv = "old_code,new_code,part\n07888,99999,whole\n";
    let (status, html) = send(
        &app,
        post_csv(
            "/admin/carry/apply?on=2025-07-01&mapping=upload",
            csv,
            &admin,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("<td class=\"num\">2</td><td><code>new_code</code></td><td><code>unknown_code</code></td><td><code>99999</code></td>"), "{html}");
    assert_eq!(
        s.halls_in("/25/").await.expect("halls"),
        before,
        "nothing applied"
    );
    db.cleanup().await;
}

#[tokio::test]
async fn the_carry_api_previews_applies_once_and_places() {
    let (db, app) = app().await;
    let staff = login(&app, "vp.tinh").await;
    let (status, body) = send(
        &app,
        post_csv("/api/v1/admin/carry/preview?mapping=shipped", "", &staff),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let admin = login(&app, "admin").await;
    let preview = "/api/v1/admin/carry/preview?on=2025-07-01&mapping=shipped";
    let (status, body) = send(&app, post_csv(preview, "", &admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["plan"]["applied"], false);
    assert_eq!(v["plan"]["moved_per_kind"]["whole"], 207);
    assert_eq!(v["plan"]["review_per_reason"]["district"], 13);
    assert_eq!(v["plan"]["mapping"]["rows_per_part"]["part"], 533);
    let apply = "/api/v1/admin/carry/apply?on=2025-07-01&mapping=shipped";
    let (_, body) = send(&app, post_csv(apply, "", &admin)).await;
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        (v["plan"]["applied"].clone(), v["plan"]["changed"].clone()),
        (true.into(), true.into())
    );
    let (_, body) = send(&app, post_csv(apply, "", &admin)).await;
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        v["plan"]["changed"], false,
        "a second apply changes nothing"
    );
    let listed = &v["plan"]["halls"]["review"][0];
    let (hall, unit) = (
        listed["hall_id"].clone(),
        listed["candidates"][0]["id"].clone(),
    );
    let body = serde_json::json!({ "hall_id": hall, "unit_id": unit, "on": "2025-07-01" });
    let (status, out) = send(
        &app,
        post_json("/api/v1/admin/carry/place", body.clone(), &admin),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let out: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(out["hall"]["unit_id"], unit);
    let (status, out) = send(&app, post_json("/api/v1/admin/carry/place", body, &admin)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{out}");
    assert!(out.contains("hall_id"));
    // An uploaded file with a broken row: 422 mapping_invalid, each problem with its line.
    let (status, out) = send(
        &app,
        post_csv(
            "/api/v1/admin/carry/preview?on=2025-07-01",
            "old_code,new_code,part\n07888,07888\n",
            &admin,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let out: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(out["error"]["code"], "mapping_invalid");
    assert_eq!(out["error"]["problems"][0]["line"], 2);
    assert_eq!(out["error"]["problems"][0]["code"], "bad_row");
    db.cleanup().await;
}
