//! Static assets (`/static/…`): the stylesheet and the small scripts, compiled into the binary.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::render::{cached, ErrorPage};

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// Every asset: name, content type, contents.
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.css", CSS, include_str!("../../static/app.css")),
    ("units.js", JS, include_str!("../../static/units.js")),
    ("schedule.js", JS, include_str!("../../static/schedule.js")),
    ("admin.js", JS, include_str!("../../static/admin.js")),
    ("carry.js", JS, include_str!("../../static/carry.js")),
    ("common.js", JS, include_str!("../../static/common.js")),
    ("protocol.js", JS, include_str!("../../static/protocol.js")),
    ("tiles.js", JS, include_str!("../../static/tiles.js")),
    ("room.js", JS, include_str!("../../static/room.js")),
    ("testhook.js", JS, include_str!("../../static/testhook.js")),
    ("console.js", JS, include_str!("../../static/console.js")),
    ("hall.js", JS, include_str!("../../static/hall.js")),
    ("kiosk.js", JS, include_str!("../../static/kiosk.js")),
    ("watch.js", JS, include_str!("../../static/watch.js")),
];

/// `GET /static/{file}`: cached for a day (pages link them with `?v=` the version).
pub async fn serve(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, ..)| *name == file) {
        Some((_, content_type, body)) => cached(content_type, body),
        None => ErrorPage::new(StatusCode::NOT_FOUND, "err.not_found").into_response(),
    }
}
