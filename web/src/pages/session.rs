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
use crate::api::session::session_cookie;
use crate::extract::session_token;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Only our own paths are followed after login (never `//host` or `https://…`).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/",
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
pub async fn login(
    State(state): State<AppState>,
    Visitor { lang, .. }: Visitor,
    Form(f): Form<LoginForm>,
) -> PageResult {
    let ttl = state.settings.session_ttl_hours * 3600;
    match state.store.login(&f.username, &f.password, ttl).await {
        Ok((token, _)) => {
            let cookie = session_cookie(&state, &token, ttl);
            let to = safe_next(f.next.as_deref());
            Ok((AppendHeaders([(SET_COOKIE, cookie)]), see_other(to)).into_response())
        }
        Err(scheduler::Error::BadCredentials) => page_with(
            StatusCode::UNAUTHORIZED,
            lang,
            None,
            "login.html",
            context! {
                next => safe_next(f.next.as_deref()),
                username => f.username,
                error => true,
            },
        ),
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
