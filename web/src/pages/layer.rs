//! The middleware every page passes through: language choice, the CSRF guard, error pages.

use axum::extract::Request;
use axum::http::header::{COOKIE, HOST, ORIGIN, REFERER, SET_COOKIE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::i18n::{Lang, LANG_COOKIE};
use super::render::{error_page, ErrorPage};

/// The language asked for by `?lang=` on this request, if any.
fn lang_from_query(req: &Request) -> Option<Lang> {
    req.uri()
        .query()?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "lang")
        .and_then(|(_, v)| Lang::parse(v))
}

/// The language remembered in the `hoinghi_lang` cookie.
fn lang_from_cookie(headers: &HeaderMap) -> Option<Lang> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == LANG_COOKIE)
        .and_then(|(_, v)| Lang::parse(v))
}

/// The host part of an `Origin` or `Referer` value (`http://host:port/…` → `host:port`).
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    Some(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}

/// True when a state-changing request comes from one of our own pages.
pub(super) fn same_origin(headers: &HeaderMap) -> bool {
    let header = |name: HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let source = match header(ORIGIN).filter(|o| *o != "null") {
        Some(origin) => url_host(origin),
        None => header(REFERER).and_then(url_host),
    };
    let Some(source) = source else {
        return false;
    };
    [
        header(HOST),
        header(HeaderName::from_static("x-forwarded-host")),
    ]
    .into_iter()
    .flatten()
    .any(|host| host.eq_ignore_ascii_case(source))
}

/// Chooses the language (query, then cookie, then Vietnamese), refuses cross-site
/// POSTs, and turns error markers set by handlers into full error pages.
pub async fn guard(mut req: Request, next: Next) -> Response {
    let asked = lang_from_query(&req);
    let lang = asked
        .or_else(|| lang_from_cookie(req.headers()))
        .unwrap_or_default();
    req.extensions_mut().insert(lang);
    let safe = matches!(*req.method(), Method::GET | Method::HEAD);
    let mut response = if safe || same_origin(req.headers()) {
        next.run(req).await
    } else {
        tracing::warn!(path = %req.uri().path(), "cross-site form post refused");
        ErrorPage::new(StatusCode::FORBIDDEN, "err.csrf").into_response()
    };
    if let Some(err) = response.extensions_mut().remove::<ErrorPage>() {
        response = error_page(lang, &err);
    }
    if let Some(lang) = asked {
        let cookie = format!(
            "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            lang.code()
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(SET_COOKIE, v);
        }
    }
    response
}

/// Unknown paths: the HTML "not found" page.
pub async fn not_found() -> Response {
    ErrorPage::new(StatusCode::NOT_FOUND, "err.not_found").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_our_own_pages_may_post() {
        let ok = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ]);
        assert!(same_origin(&ok));
        let referer = headers(&[
            ("host", "hoinghi.local"),
            ("referer", "https://hoinghi.local/meetings/3"),
        ]);
        assert!(same_origin(&referer));
        let evil = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example"),
        ]);
        assert!(!same_origin(&evil));
        let bare = headers(&[("host", "127.0.0.1:8080")]);
        assert!(!same_origin(&bare));
        let proxied = headers(&[
            ("host", "10.0.0.5:8080"),
            ("x-forwarded-host", "hop.gov.vn"),
            ("origin", "https://hop.gov.vn"),
        ]);
        assert!(same_origin(&proxied));
    }
}
