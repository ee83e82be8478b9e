//! The browser pages (Vietnamese first, English switch), rendered on the server.
//!
//! Plain HTML from embedded minijinja templates (`web/templates`), a little vanilla JS
//! and CSS (`web/static`), both compiled into the binary. Pages call the [`scheduler::Store`]
//! directly; only the in-page scripts (live invite count, scheduling, unit search) use
//! the JSON API, authenticated by the same session cookie.
//!
//! **CSRF.** The session cookie is `HttpOnly; SameSite=Lax`, so browsers do not send it
//! on cross-site POSTs, and on top of that every state-changing page request (any method
//! but GET/HEAD) must carry an `Origin` header — or, failing that, a `Referer` — whose
//! host equals the request's `Host` (or `X-Forwarded-Host`); anything else is refused with
//! 403 before the handler runs ([`layer::guard`]). The JSON API is reached by `fetch` with
//! `Content-Type: application/json`, which a cross-site form cannot send without a CORS
//! preflight this server never grants.

mod admin_accounts;
mod admin_carry;
mod admin_devices;
mod admin_halls;
mod admin_units;
mod assets;
mod attendance;
mod auth;
mod feeds;
mod guests;
mod home;
pub mod i18n;
mod join;
mod layer;
mod live;
mod meeting;
mod recordings;
mod render;
mod schedule;
mod session;
#[cfg(test)]
mod tests;
mod units;
mod watch;
mod week;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;

/// Every page route, plus the HTML "not found" page for unknown paths.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home::index))
        .route("/login", get(session::form).post(session::login))
        .route("/logout", post(session::logout))
        .route("/my", get(home::my))
        .route("/units", get(units::browse))
        .route("/meetings/new", get(schedule::form))
        .route("/week", get(week::show))
        .route("/meetings/{id}", get(meeting::show))
        .route("/meetings/{id}/console", get(live::console))
        .route("/meetings/{id}/attendance", get(attendance::meeting))
        .route("/meetings/{id}/minutes.docx", get(attendance::minutes))
        .route("/reports", get(attendance::reports))
        .route("/kiosk", get(live::kiosk))
        .route("/meetings/{id}/postpone", post(meeting::postpone))
        .route("/meetings/{id}/cancel", post(meeting::cancel))
        .route("/meetings/{id}/guests", post(guests::add))
        .route("/meetings/{id}/feeds", post(feeds::add))
        .route("/meetings/{id}/feeds/{feed_id}/revoke", post(feeds::revoke))
        .route("/recordings/{id}/delete", post(recordings::delete))
        .route(
            "/meetings/{id}/guests/{guest_id}/revoke",
            post(guests::revoke),
        )
        .route("/j/{token}", get(join::show))
        .route("/watch/{token}", get(watch::show))
        .route("/admin/units", get(admin_units::show))
        .route(
            "/admin/units/import",
            // The handler reads the body itself, up to `max_import_bytes`.
            post(admin_units::import).layer(DefaultBodyLimit::disable()),
        )
        .route("/admin/carry", get(admin_carry::show))
        .route(
            "/admin/carry/preview",
            // The handlers read the body (an uploaded mapping) themselves, up to `max_import_bytes`.
            post(admin_carry::preview).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/admin/carry/apply",
            post(admin_carry::apply).layer(DefaultBodyLimit::disable()),
        )
        .route("/admin/carry/place", post(admin_carry::place))
        .route(
            "/admin/carry/secretariats/{id}",
            post(admin_carry::secretariat),
        )
        .route(
            "/admin/halls",
            get(admin_halls::list).post(admin_halls::create),
        )
        .route("/admin/halls/{id}", post(admin_halls::update))
        .route("/admin/halls/{id}/devices", get(admin_devices::show))
        .route(
            "/admin/halls/{id}/devices/{device}/revoke",
            post(admin_devices::revoke),
        )
        .route(
            "/admin/accounts",
            get(admin_accounts::list).post(admin_accounts::create),
        )
        .route("/admin/accounts/{id}", post(admin_accounts::update))
        .route("/admin/lockouts/clear", post(admin_accounts::clear_lockout))
        .route("/static/{file}", get(assets::serve))
        .fallback(layer::not_found)
        .layer(axum::middleware::from_fn(layer::guard))
}
