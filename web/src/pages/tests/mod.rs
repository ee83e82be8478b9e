//! Page tests: the real router over a fresh SQLite store with the Phú Thọ demo data.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use scheduler::demo::{self, DemoOptions};
use scheduler::testing::TestDb;
use scheduler::Backend;
use tower::ServiceExt;

use crate::settings::Settings;
use crate::state::AppState;

const PASSWORD: &str = "hoinghi-demo";

/// The router over a seeded store (the `TestDb` must outlive it).
async fn app() -> (TestDb, Router) {
    let db = TestDb::new(Backend::Sqlite).await.expect("test database");
    let hash = scheduler::hash_password(PASSWORD).expect("hash");
    let options = DemoOptions {
        whole_country: false,
        meetings: true,
    };
    demo::seed(&db.store, options, &hash).await.expect("seed");
    let state = AppState {
        store: db.store.clone(),
        settings: Arc::new(Settings::default()),
        public_base: "http://hoinghi.test".into(),
        signaling: None,
    };
    (db, crate::startup::router(state))
}

async fn body_text(res: axum::response::Response) -> String {
    let bytes = axum::body::to_bytes(res.into_body(), 4 << 20)
        .await
        .expect("body");
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut r = Request::get(path);
    if let Some(c) = cookie {
        r = r.header(header::COOKIE, c);
    }
    r.body(Body::empty()).expect("request")
}

fn post_form(path: &str, form: &str, origin: Option<&str>) -> Request<Body> {
    let mut r = Request::post(path)
        .header(header::HOST, "hoinghi.test")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(o) = origin {
        r = r.header(header::ORIGIN, o);
    }
    r.body(Body::from(form.to_string())).expect("request")
}

/// Logs in through the form; returns the `name=value` of the session cookie.
async fn login(app: &Router, username: &str) -> String {
    let form = format!("username={username}&password={PASSWORD}");
    let res = app
        .clone()
        .oneshot(post_form("/login", &form, Some("http://hoinghi.test")))
        .await
        .expect("response");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = res
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie");
    cookie.split(';').next().unwrap_or_default().to_string()
}

#[tokio::test]
async fn login_page_is_vietnamese_and_english_on_request() {
    let (db, app) = app().await;
    let res = app
        .clone()
        .oneshot(get("/login", None))
        .await
        .expect("response");
    assert_eq!(res.status(), StatusCode::OK);
    let html = body_text(res).await;
    assert!(html.contains("<html lang=\"vi\">"));
    assert!(html.contains("Tên đăng nhập"));
    assert!(html.contains("Mật khẩu"));
    let res = app
        .oneshot(get("/login?lang=en", None))
        .await
        .expect("response");
    let set = res.headers().get(header::SET_COOKIE).cloned();
    let html = body_text(res).await;
    assert!(html.contains("User name"), "{html}");
    assert!(set.is_some_and(|c| c.to_str().unwrap_or("").starts_with("hoinghi_lang=en")));
    db.cleanup().await;
}

#[tokio::test]
async fn anonymous_home_redirects_to_login() {
    let (db, app) = app().await;
    let res = app.oneshot(get("/", None)).await.expect("response");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/login");
    db.cleanup().await;
}

#[tokio::test]
async fn wrong_password_shows_the_vietnamese_message() {
    let (db, app) = app().await;
    let req = post_form(
        "/login",
        "username=vp.tinh&password=nhamroi123",
        Some("http://hoinghi.test"),
    );
    let res = app.oneshot(req).await.expect("response");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(body_text(res)
        .await
        .contains("Sai tên đăng nhập hoặc mật khẩu"));
    db.cleanup().await;
}

#[tokio::test]
async fn non_admin_gets_the_403_page_on_admin_pages() {
    let (db, app) = app().await;
    let cookie = login(&app, "vp.tinh").await;
    for path in ["/admin/accounts", "/admin/halls", "/admin/units"] {
        let res = app
            .clone()
            .oneshot(get(path, Some(&cookie)))
            .await
            .expect("response");
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(body_text(res)
            .await
            .contains("Bạn không có quyền xem trang này"));
    }
    let admin = login(&app, "admin").await;
    let res = app
        .oneshot(get("/admin/accounts", Some(&admin)))
        .await
        .expect("response");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body_text(res).await.contains("vp.tinh"));
    db.cleanup().await;
}

#[tokio::test]
async fn staff_see_upcoming_meetings_and_halls_go_to_their_own_page() {
    let (db, app) = app().await;
    let staff = login(&app, "vp.tinh").await;
    let res = app
        .clone()
        .oneshot(get("/", Some(&staff)))
        .await
        .expect("response");
    let html = body_text(res).await;
    assert!(
        html.contains("Giao ban trực tuyến UBND tỉnh tuần"),
        "{html}"
    );
    assert!(html.contains("Lên lịch họp"));
    let hall = login(&app, "dc.25").await;
    let res = app
        .clone()
        .oneshot(get("/", Some(&hall)))
        .await
        .expect("response");
    assert_eq!(res.headers()[header::LOCATION], "/my");
    let res = app
        .oneshot(get("/my", Some(&hall)))
        .await
        .expect("response");
    let html = body_text(res).await;
    assert!(html.contains("/j/"), "a join link: {html}");
    assert!(html.contains("http://hoinghi.test/calendar/"));
    db.cleanup().await;
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let (db, app) = app().await;
    let staff = login(&app, "vp.tinh").await;
    let mut req = post_form("/logout", "", Some("http://evil.example"));
    req.headers_mut()
        .insert(header::COOKIE, staff.parse().expect("header"));
    let res = app.clone().oneshot(req).await.expect("response");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let mut req = post_form("/logout", "", None);
    req.headers_mut()
        .insert(header::COOKIE, staff.parse().expect("header"));
    assert_eq!(
        app.clone().oneshot(req).await.expect("response").status(),
        StatusCode::FORBIDDEN
    );
    // The session survived both attempts.
    let res = app.oneshot(get("/", Some(&staff))).await.expect("response");
    assert_eq!(res.status(), StatusCode::OK);
    db.cleanup().await;
}

#[tokio::test]
async fn every_page_renders_for_the_administrator() {
    let (db, app) = app().await;
    let admin = login(&app, "admin").await;
    for path in [
        "/",
        "/units",
        "/units?q=tan%20son",
        "/meetings/new",
        "/meetings/1",
        "/meetings/1/console",
        "/meetings/1/attendance",
        "/reports",
        "/reports?q=tan%20son&from=2026-01-01&to=2026-03-31",
        "/admin/units",
        "/admin/halls",
        "/admin/accounts",
        "/admin/carry",
        // This fixture's tree has no end: the preview lists `nothing_ends`.
        "/admin/carry?mapping=shipped",
        "/j/0000000000000000000000000000000000000000000000000000000000000000",
        "/no/such/page",
    ] {
        for lang in ["vi", "en"] {
            let sep = if path.contains('?') { '&' } else { '?' };
            let url = format!("{path}{sep}lang={lang}");
            let res = app
                .clone()
                .oneshot(get(&url, Some(&admin)))
                .await
                .expect("response");
            let status = res.status();
            let html = body_text(res).await;
            assert!(
                html.starts_with("<!doctype html>"),
                "{url}: {status} {html}"
            );
            assert!(!status.is_server_error(), "{url}: {status}");
        }
    }
    let res = app
        .clone()
        .oneshot(get("/units?q=tan%20son", Some(&admin)))
        .await
        .expect("response");
    assert!(body_text(res).await.contains("Huyện Tân Sơn"));
    let res = app
        .oneshot(get("/static/app.css", None))
        .await
        .expect("response");
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "text/css; charset=utf-8"
    );
    assert!(res.headers().contains_key(header::CACHE_CONTROL));
    db.cleanup().await;
}

#[tokio::test]
async fn live_pages_console_kiosk_and_attendance() {
    let (db, app) = app().await;
    let hall = login(&app, "dc.25").await;
    let staff = login(&app, "vp.tinh").await;
    // The console is for staff: a hall account gets the 403 page.
    let res = app
        .clone()
        .oneshot(get("/meetings/1/console", Some(&hall)))
        .await
        .expect("response");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .clone()
        .oneshot(get("/meetings/1/console", Some(&staff)))
        .await
        .expect("response");
    assert_eq!(res.status(), StatusCode::OK);
    let html = body_text(res).await;
    assert!(html.contains("Điều khiển cuộc họp"), "{html}");
    assert!(html.contains("data-mode=\"http\""));
    assert!(html.contains("/static/console.js"));
    // The recording's toggle, in Vietnamese; its refusals explained for the script.
    assert!(
        html.contains("id=\"recording-toggle\"") && html.contains("Bắt đầu ghi hình"),
        "{html}"
    );
    assert!(html.contains("Máy chủ này chưa được cấu hình thư mục lưu bản ghi hình"));
    // The kiosk belongs to a hall: staff are sent home, a hall sees its name and clock.
    let res = app
        .clone()
        .oneshot(get("/kiosk", Some(&staff)))
        .await
        .expect("response");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/");
    let res = app
        .clone()
        .oneshot(get("/kiosk", None))
        .await
        .expect("response");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = app
        .clone()
        .oneshot(get("/kiosk", Some(&hall)))
        .await
        .expect("response");
    assert_eq!(res.status(), StatusCode::OK);
    let html = body_text(res).await;
    assert!(html.contains("id=\"kiosk-clock\""), "{html}");
    assert!(
        html.contains("Không có cuộc họp sắp tới"),
        "texts for the script"
    );
    let res = app
        .clone()
        .oneshot(get("/my", Some(&hall)))
        .await
        .expect("response");
    assert!(body_text(res).await.contains("href=\"/kiosk\""));
    // The attendance page: Vietnamese headers, downloads from the API.
    let res = app
        .clone()
        .oneshot(get("/meetings/1/attendance", Some(&staff)))
        .await
        .expect("response");
    assert_eq!(res.status(), StatusCode::OK);
    let html = body_text(res).await;
    for header in [
        "Điểm danh",
        "Vào lần đầu",
        "Rời lần cuối",
        "Lý do rời",
        "Số phút tham dự",
        "Số lần kết nối lại",
        "Số người",
        "Kết quả",
    ] {
        assert!(html.contains(header), "{header}: {html}");
    }
    assert!(html.contains("/api/v1/meetings/1/attendance?format=csv"));
    assert!(html.contains("/api/v1/meetings/1/attendance?format=xlsx"));
    assert!(html.contains("/api/v1/meetings/1/attendance?format=csv&amp;part=intervals"));
    let res = app
        .clone()
        .oneshot(get("/meetings/1/attendance", Some(&hall)))
        .await
        .expect("response");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // The meeting page links both.
    let res = app
        .clone()
        .oneshot(get("/meetings/1", Some(&staff)))
        .await
        .expect("response");
    let html = body_text(res).await;
    assert!(html.contains("/meetings/1/console") && html.contains("/meetings/1/attendance"));
    // The unit-period report: a secretariat starts at its own unit; a search lists units.
    let res = app
        .clone()
        .oneshot(get("/reports?from=2026-01-01&to=2026-12-31", Some(&staff)))
        .await
        .expect("response");
    assert_eq!(res.status(), StatusCode::OK);
    let html = body_text(res).await;
    assert!(html.contains("Tỉnh Phú Thọ"), "{html}");
    assert!(html.contains("format=xlsx"), "{html}");
    let res = app
        .clone()
        .oneshot(get("/reports?q=tan%20son", Some(&staff)))
        .await
        .expect("response");
    assert!(body_text(res).await.contains("Huyện Tân Sơn"));
    let res = app
        .oneshot(get("/reports", Some(&hall)))
        .await
        .expect("response");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    db.cleanup().await;
}

mod carry;
mod meeting;
