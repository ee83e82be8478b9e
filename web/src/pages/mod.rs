//! The browser pages (Vietnamese first, English switch), rendered on the server.

use axum::Router;

use crate::state::AppState;

/// Every page route.
pub fn router() -> Router<AppState> {
    Router::new()
}
