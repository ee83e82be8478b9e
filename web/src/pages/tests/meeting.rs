//! Page tests of a meeting's page: every attendance interval with why it ended, the link
//! to the meeting record once held, and the guests invited from it.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use tower::ServiceExt;

use super::{app, body_text, get, login, post_form};

#[tokio::test]
async fn meeting_page_shows_every_interval_with_why_it_ended() {
    use scheduler::time::display_local;
    let (db, app) = app().await;
    let store = &db.store;
    let staff = store
        .principal_by_username("vp.tinh")
        .await
        .expect("vp.tinh");
    let m = store.meeting_for(&staff, 1).await.expect("meeting 1");
    let hall = store
        .invitations(&staff, 1)
        .await
        .expect("invitations")
        .into_iter()
        .find(|i| i.hall_id != m.host_hall_id)
        .expect("an invited hall");
    let (id, t0) = (hall.hall_id, m.starts_at);
    let cookie = login(&app, "vp.tinh").await;
    let res = app
        .clone()
        .oneshot(get("/meetings/1", Some(&cookie)))
        .await
        .expect("response");
    let minutes = "href=\"/meetings/1/minutes.docx\"";
    assert!(
        !body_text(res).await.contains(minutes),
        "no record before the meeting is held"
    );
    store.meeting_started(1, t0, None).await.expect("started");
    store.record_join(1, id, t0 + 60, 30).await.expect("join");
    store
        .record_heartbeats(1, &[id], t0 + 600)
        .await
        .expect("seen");
    // The server dies; at start-up the open interval is closed, then the hall comes back.
    store.recover_open_sessions().await.expect("recovery");
    store
        .record_join(1, id, t0 + 660, 30)
        .await
        .expect("join again");
    store
        .meeting_ended(1, t0 + 3600, None)
        .await
        .expect("ended");

    let res = app
        .clone()
        .oneshot(get("/meetings/1", Some(&cookie)))
        .await
        .expect("response");
    let html = body_text(res).await;
    assert!(html.contains(minutes), "the record's link, once held");
    let timeline = html
        .split("id=\"attendance-timeline\"")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .expect("the timeline table");
    for header in ["Điểm cầu", "Vào lúc", "Rời lúc", "Lý do rời"] {
        assert!(timeline.contains(header), "{header}: {timeline}");
    }
    let row = |from: i64, until: i64, why: &str| {
        format!(
            "<td>{}</td><td>{}</td><td>{why}</td>",
            display_local(from),
            display_local(until)
        )
    };
    let restart = row(t0 + 60, t0 + 600, "Máy chủ khởi động lại");
    let ended = row(t0 + 660, t0 + 3600, "Cuộc họp kết thúc");
    let (Some(a), Some(b)) = (timeline.find(&restart), timeline.find(&ended)) else {
        panic!("both intervals, {restart} and {ended}: {timeline}");
    };
    assert!(a < b, "oldest first");
    assert!(timeline.contains(&hall.hall_name));
    assert!(html.contains("/api/v1/meetings/1/attendance?format=csv&amp;part=intervals"));
    // A hall's own account sees the meeting, not the others' attendance.
    let hall_cookie = login(&app, "dc.25").await;
    let res = app
        .oneshot(get("/meetings/1", Some(&hall_cookie)))
        .await
        .expect("response");
    assert_eq!(res.status(), StatusCode::OK);
    let html = body_text(res).await;
    assert!(!html.contains("attendance-timeline"));
    assert!(!html.contains(minutes), "a hall gets no record link");
    db.cleanup().await;
}

/// A form post with the session cookie, from our own origin.
fn post_form_as(path: &str, form: &str, cookie: &str) -> Request<Body> {
    let mut r = post_form(path, form, Some("http://hoinghi.test"));
    r.headers_mut()
        .insert(header::COOKIE, cookie.parse().expect("a cookie header"));
    r
}

#[tokio::test]
async fn meeting_page_invites_lists_and_revokes_guests() {
    let (db, app) = app().await;
    let staff = db.store.principal_by_username("vp.tinh").await.unwrap();
    let upcoming = db
        .store
        .meetings_for(&staff, scheduler::MeetingFilter::default())
        .await
        .unwrap();
    let id = upcoming
        .iter()
        .find(|m| m.status == scheduler::MeetingStatus::Scheduled)
        .expect("an upcoming demo meeting")
        .id;
    let cookie = login(&app, "vp.tinh").await;
    let page = format!("/meetings/{id}");
    let send = |path: String, form: &str| app.clone().oneshot(post_form_as(&path, form, &cookie));

    // No contact: refused, what was typed is kept.
    let res = send(format!("{page}/guests"), "name=S%E1%BB%9F+Y+t%E1%BA%BF")
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = body_text(res).await;
    assert!(html.contains("Chưa thêm được khách mời"), "{html}");
    assert!(
        html.contains("value=\"Sở Y tế\""),
        "the form keeps the name"
    );

    let form = "name=Ph%C3%B3ng+vi%C3%AAn+B%C3%A1o+Ph%C3%BA+Th%E1%BB%8D&organisation=&phone=0912345678&email=";
    let res = send(format!("{page}/guests"), form).await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let guest = db.store.guests(&staff, id).await.unwrap().remove(0);
    let html = body_text(
        app.clone()
            .oneshot(get(&page, Some(&cookie)))
            .await
            .unwrap(),
    )
    .await;
    let list = html
        .split("id=\"guest-list\"")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .expect("the guest list");
    assert!(list.contains("Phóng viên Báo Phú Thọ") && list.contains("0912345678"));
    assert!(list.contains(&format!("/j/{}", guest.join_token)));

    let res = send(format!("{page}/guests/{}/revoke", guest.id), "")
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = body_text(
        app.clone()
            .oneshot(get(&page, Some(&cookie)))
            .await
            .unwrap(),
    )
    .await;
    assert!(html.contains("Đã thu hồi lúc"), "{html}");
    assert!(
        !html.contains(&format!("/j/{}", guest.join_token)),
        "no link once revoked"
    );
    // A hall's own account cannot add a guest (the staff-only page guard).
    let hall = login(&app, "dc.25").await;
    let res = app
        .oneshot(post_form_as(&format!("{page}/guests"), form, &hall))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    db.cleanup().await;
}
