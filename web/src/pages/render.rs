//! Rendering: the embedded templates, the common page context, and page errors.

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use std::fmt::Write as _;
use std::sync::OnceLock;

use minijinja::{context, AutoEscape, Environment, State, Value};
use scheduler::{Error, JoinRefusal, Principal, Role};

use super::i18n::{self, Lang};

/// The templates, compiled into the binary.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("error.html", include_str!("../../templates/error.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("home.html", include_str!("../../templates/home.html")),
    ("my.html", include_str!("../../templates/my.html")),
    ("units.html", include_str!("../../templates/units.html")),
    (
        "schedule.html",
        include_str!("../../templates/schedule.html"),
    ),
    ("meeting.html", include_str!("../../templates/meeting.html")),
    ("join.html", include_str!("../../templates/join.html")),
    ("watch.html", include_str!("../../templates/watch.html")),
    (
        "console_panel.html",
        include_str!("../../templates/console_panel.html"),
    ),
    ("console.html", include_str!("../../templates/console.html")),
    ("kiosk.html", include_str!("../../templates/kiosk.html")),
    (
        "attendance.html",
        include_str!("../../templates/attendance.html"),
    ),
    ("reports.html", include_str!("../../templates/reports.html")),
    (
        "report_table.html",
        include_str!("../../templates/report_table.html"),
    ),
    (
        "admin_units.html",
        include_str!("../../templates/admin_units.html"),
    ),
    (
        "admin_carry.html",
        include_str!("../../templates/admin_carry.html"),
    ),
    (
        "admin_halls.html",
        include_str!("../../templates/admin_halls.html"),
    ),
    (
        "admin_accounts.html",
        include_str!("../../templates/admin_accounts.html"),
    ),
    (
        "admin_devices.html",
        include_str!("../../templates/admin_devices.html"),
    ),
    ("week.html", include_str!("../../templates/week.html")),
];

/// `{{ t("key") }}`: the text of `key` in the page's language; unknown keys fail the render.
fn translate(state: &State, key: &str) -> Result<String, minijinja::Error> {
    let lang = state
        .lookup("lang")
        .and_then(|v| v.as_str().and_then(Lang::parse))
        .unwrap_or_default();
    i18n::lookup(lang, key).map(str::to_string).ok_or_else(|| {
        minijinja::Error::new(
            minijinja::ErrorKind::UndefinedError,
            format!("no text for key {key}"),
        )
    })
}

/// Escapes `& < > " '` in text (minijinja's own escaper also turns every `/` into `&#x2f;`,
/// which is valid but makes links and dates in the source hard to read and to test).
fn html_formatter(
    out: &mut minijinja::Output,
    state: &State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    match value.as_str() {
        Some(text) if state.auto_escape() == AutoEscape::Html && !value.is_safe() => {
            for c in text.chars() {
                match c {
                    '&' => out.write_str("&amp;"),
                    '<' => out.write_str("&lt;"),
                    '>' => out.write_str("&gt;"),
                    '"' => out.write_str("&quot;"),
                    '\'' => out.write_str("&#39;"),
                    c => out.write_char(c),
                }
                .map_err(minijinja::Error::from)?;
            }
            Ok(())
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        for (name, source) in TEMPLATES {
            // The templates are ours and compiled in; `every_page_renders_for_the_administrator` renders each.
            env.add_template(name, source)
                .expect("embedded template parses");
        }
        env.add_function("t", translate);
        env.set_formatter(html_formatter);
        env
    })
}

/// What the layout shows about the logged-in account.
fn user_view(who: Option<&Principal>) -> Value {
    let Some(p) = who else {
        return Value::from(());
    };
    let role = match p.account.role {
        Role::Admin => "admin",
        Role::Secretariat { .. } => "secretariat",
        Role::Hall { .. } => "hall",
    };
    context! {
        name => p.account.display_name,
        username => p.account.username,
        role => role,
        is_admin => p.is_admin(),
        is_staff => p.require_staff().is_ok(),
    }
}

/// Renders template `name` with `ctx` plus the language, the user and the asset version.
pub fn render(
    lang: Lang,
    who: Option<&Principal>,
    name: &str,
    ctx: Value,
) -> Result<String, Error> {
    let full = context! {
        lang => lang.code(),
        other_lang => lang.other().code(),
        user => user_view(who),
        version => env!("CARGO_PKG_VERSION"),
        ..ctx
    };
    env()
        .get_template(name)
        .and_then(|t| t.render(full))
        .map_err(|e| Error::Internal(format!("template {name}: {e:#}")))
}

/// A rendered page with status 200.
pub fn page(lang: Lang, who: Option<&Principal>, name: &str, ctx: Value) -> PageResult {
    Ok(Html(render(lang, who, name, ctx)?).into_response())
}

/// A rendered page with another status (a form shown again with its errors).
pub fn page_with(
    status: StatusCode,
    lang: Lang,
    who: Option<&Principal>,
    name: &str,
    ctx: Value,
) -> PageResult {
    Ok((status, Html(render(lang, who, name, ctx)?)).into_response())
}

/// JSON for an inline `<script type="application/json">`, safe against `</script>`.
pub fn script_json(value: &serde_json::Value) -> Value {
    let text = value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    Value::from_safe_string(text)
}

/// An error to be shown as a page: the layer renders it in the request's language.
#[derive(Debug, Clone)]
pub struct ErrorPage {
    /// The HTTP status.
    pub status: StatusCode,
    /// The dictionary key of the headline.
    pub key: &'static str,
    /// A detail from the store (a field's message), if any.
    pub detail: Option<String>,
}

impl ErrorPage {
    pub fn new(status: StatusCode, key: &'static str) -> Self {
        ErrorPage {
            status,
            key,
            detail: None,
        }
    }
}

impl IntoResponse for ErrorPage {
    fn into_response(self) -> Response {
        let mut r = self.status.into_response();
        r.extensions_mut().insert(self);
        r
    }
}

/// The full HTML page for an error marker.
pub fn error_page(lang: Lang, err: &ErrorPage) -> Response {
    let ctx = context! { key => err.key, detail => err.detail, status => err.status.as_u16() };
    match render(lang, None, "error.html", ctx) {
        Ok(html) => (err.status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "error page failed to render");
            (err.status, "error").into_response()
        }
    }
}

/// Why a page could not be shown.
#[derive(Debug)]
pub enum PageError {
    /// Nobody is logged in: go to the login page, then back to `next`.
    Login { next: String },
    /// The store refused or failed.
    Store(Error),
}

impl From<Error> for PageError {
    fn from(e: Error) -> Self {
        PageError::Store(e)
    }
}

/// The page handlers' result.
pub type PageResult = Result<Response, PageError>;

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let e = match self {
            PageError::Login { next } => return login_redirect(&next),
            PageError::Store(e) => e,
        };
        let (status, key, detail) = match &e {
            Error::Unauthenticated => return login_redirect("/"),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "err.not_found", None),
            Error::Forbidden(_) => (StatusCode::FORBIDDEN, "err.forbidden", None),
            Error::Invalid { .. } | Error::Import { .. } | Error::Duplicate(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "err.invalid",
                Some(e.to_string()),
            ),
            Error::JoinRefused(JoinRefusal::ForeignHall) => {
                (StatusCode::FORBIDDEN, "join.foreign", None)
            }
            Error::TooManyAttempts { until } => (
                StatusCode::TOO_MANY_REQUESTS,
                "err.invalid",
                Some(crate::error::too_many_attempts(*until)),
            ),
            Error::Busy => (StatusCode::SERVICE_UNAVAILABLE, "err.internal", None),
            Error::HallDisabled => (
                StatusCode::FORBIDDEN,
                "err.invalid",
                Some(crate::error::HALL_DISABLED.to_owned()),
            ),
            Error::Gone(_) => (StatusCode::GONE, "err.not_found", Some(e.to_string())),
            Error::JoinRefused(_)
            | Error::Conflict(_)
            | Error::BadCredentials
            | Error::WrongState(_) => (StatusCode::CONFLICT, "err.invalid", Some(e.to_string())),
            _ => {
                let mut chain = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    chain.push_str(&format!(": {s}"));
                    source = s.source();
                }
                tracing::error!(error = %chain, "page failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "err.internal", None)
            }
        };
        ErrorPage {
            status,
            key,
            detail,
        }
        .into_response()
    }
}

/// 303 to the login page, coming back to `next` afterwards.
fn login_redirect(next: &str) -> Response {
    let target = if next == "/" {
        "/login".to_string()
    } else {
        format!("/login?next={}", encode_component(next))
    };
    Redirect::to(&target).into_response()
}

/// 303 See Other to `to` (after a form post).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Percent-encodes a URL component (paths handed through `?next=`).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Adds `Cache-Control` to a static asset.
pub fn cached(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
}
