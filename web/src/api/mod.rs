//! The JSON API under `/api/v1` (documented in `docs/api.md`).

mod accounts;
mod carry;
mod devices;
pub(crate) mod feeds;
mod guests;
mod halls;
pub(crate) mod live;
pub(crate) mod lockouts;
mod meetings;
pub(crate) mod minutes;
mod my;
pub(crate) mod recordings;
mod reports;
pub(crate) mod session;
mod units;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post};
use axum::Router;

use crate::error::ApiError;
use crate::state::AppState;

/// Every API route; bodies limited to `max_body_bytes` (the unit import and the carry's
/// mapping have their own limit).
pub fn router(state: &AppState) -> Router<AppState> {
    let import = Router::new()
        .route("/units/import", post(units::import))
        .route("/admin/carry/preview", post(carry::preview))
        .route("/admin/carry/apply", post(carry::apply))
        .layer(DefaultBodyLimit::max(state.settings.max_import_bytes));
    Router::new()
        .route("/auth/login", post(session::login))
        .route("/auth/logout", post(session::logout))
        .route("/me", get(session::me))
        .route("/units", get(units::list))
        .route("/units/search", get(units::search))
        .route("/units/{id}", get(units::show))
        .route("/units/{id}/levels", get(units::levels))
        .route("/halls", get(halls::list).post(halls::create))
        .route("/halls/{id}", patch(halls::update))
        .route("/halls/{id}/devices", get(devices::list))
        .route("/halls/{id}/devices/{device}", delete(devices::revoke))
        .route("/accounts", get(accounts::list).post(accounts::create))
        .route("/accounts/{id}", patch(accounts::update))
        .route("/admin/carry/place", post(carry::place))
        .route("/admin/carry/secretariats/{id}", post(carry::secretariat))
        .route("/lockouts", get(lockouts::list))
        .route("/lockouts/{kind}/{key}", delete(lockouts::clear))
        .route("/scope/preview", post(meetings::preview))
        .route("/meetings", get(meetings::list).post(meetings::create))
        .route(
            "/meetings/{id}",
            get(meetings::show).patch(meetings::update),
        )
        .route("/meetings/{id}/cancel", post(meetings::cancel))
        .route("/meetings/{id}/invitations", get(meetings::invitations))
        .route("/meetings/{id}/events", get(meetings::events))
        .route(
            "/meetings/{id}/guests",
            get(guests::list).post(guests::create),
        )
        .route(
            "/meetings/{id}/guests/{guest_id}/revoke",
            post(guests::revoke),
        )
        .route("/meetings/{id}/feeds", get(feeds::list).post(feeds::create))
        .route("/meetings/{id}/feeds/{feed_id}/revoke", post(feeds::revoke))
        .route("/meetings/{id}/attendance", get(reports::meeting))
        .route("/meetings/{id}/minutes.docx", get(minutes::meeting))
        .route("/meetings/{id}/recordings", get(recordings::list))
        .route(
            "/recordings/{id}",
            get(recordings::show).delete(recordings::delete),
        )
        .route("/recordings/{id}/file", get(recordings::file))
        .route("/reports/units/{id}", get(reports::unit))
        .route("/my/meetings", get(my::meetings))
        .route("/join/{token}", get(my::join))
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .merge(import)
        .fallback(|| async { ApiError::Domain(scheduler::Error::NotFound("route")) })
}
