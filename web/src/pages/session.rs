//! Logging in (a form that opens a session cookie) and logging out (revokes the session).

use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse};
use axum::Form;
use minijinja::context;
use serde::Deserialize;

use super::auth::Visitor;
use super::render::{page, page_with, see_other, PageResult};
use crate::api::session::{login_client, login_cookies, session_cookie};
use crate::extract::{session_token, ClientAddr};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Only our own paths are followed after login: an absolute path of visible ASCII that
/// parses as a path (never `//host`, `/\\host`, `https://…`, nor a tab or line break that
/// browsers strip into `//host` or that cannot be a `Location` header).
fn safe_next(next: Option<&str>) -> &str {
    let Some(n) = next else { return "/" };
    let visible = n.bytes().all(|b| b.is_ascii_graphic());
    let own_path = n.starts_with('/') && !n.starts_with("//") && !n.contains('\\');
    let parses = n
        .parse::<axum::http::uri::PathAndQuery>()
        .is_ok_and(|p| p.as_str() == n);
    if visible && own_path && parses && n.len() <= 2048 {
        n
    } else {
        "/"
    }
}

/// `GET /login`: the form (someone already logged in goes home).
pub async fn form(Visitor { who, lang }: Visitor, Query(q): Query<NextQuery>) -> PageResult {
    if who.is_some() {
        return Ok(see_other("/"));
    }
    let next = safe_next(q.next.as_deref());
    page(
        lang,
        None,
        "login.html",
        context! { next => next, username => "", error => false },
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

/// `POST /login`: checks the password, sets the session cookie, goes to `next` or home.
/// A room account's login is a device session: the kiosk PC stays signed in for months.
pub async fn login(
    State(state): State<AppState>,
    Visitor { lang, .. }: Visitor,
    address: ClientAddr,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> PageResult {
    // Where to go is settled before any session exists.
    let to = safe_next(f.next.as_deref());
    let again = |status, notice: Option<String>| {
        page_with(
            status,
            lang,
            None,
            "login.html",
            context! { next => to, username => f.username, error => notice.is_none(), notice => notice },
        )
    };
    let address = address.key();
    let client = login_client(address.as_deref(), &headers);
    let lifetimes = state.settings.lifetimes();
    match state
        .store
        .sign_in(&f.username, &f.password, lifetimes, client)
        .await
    {
        Ok(signed) => {
            let cookies = login_cookies(&state, &signed);
            Ok((AppendHeaders(cookies), see_other(to)).into_response())
        }
        Err(scheduler::Error::BadCredentials) => again(StatusCode::UNAUTHORIZED, None),
        Err(scheduler::Error::HallDisabled) => {
            let notice = crate::pages::i18n::text(lang, "login.hall_disabled");
            again(StatusCode::FORBIDDEN, Some(notice))
        }
        Err(scheduler::Error::TooManyAttempts { until }) => {
            let notice = crate::error::too_many_attempts(until);
            again(StatusCode::TOO_MANY_REQUESTS, Some(notice))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /logout`: revokes the session and clears the cookie.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> PageResult {
    if let Some(token) = session_token(&headers) {
        state.store.logout(&token).await?;
    }
    let clear = session_cookie(&state, "", 0);
    Ok((AppendHeaders([(SET_COOKIE, clear)]), see_other("/login")).into_response())
}
