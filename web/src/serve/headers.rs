//! What every answer carries (pages, API, errors, the redirect listener): a
//! Content-Security-Policy without `unsafe-inline` (the templates have no inline script
//! or style: scripts/test checks) that lets a page open its socket on the other nodes
//! of a cluster, no framing, `nosniff`, a referrer policy that keeps
//! join tokens on our own origin, camera and microphone for our own pages only; over
//! HTTPS also HSTS and `Secure` on every cookie.

use axum::extract::{Request, State};
use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, SET_COOKIE, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use super::client::Client;

/// Scripts, styles, images, fetches and the WebSocket from our own origin only
/// (`'self'` covers `ws:`/`wss:` to the same host), besides the empty `data:,` icon of
/// `base.html` (no favicon request); video elements show `MediaStream`s
/// (`srcObject`), which no source list governs; forms post only to us; no page may be
/// framed; no plugins, no `<base>`. In a cluster `connect-src` also names every node's
/// socket origin ([`Policy::with_socket_origins`]).
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'self'; script-src 'self'; \
style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

/// Camera, microphone and screen sharing for our own pages; nothing else.
pub const PERMISSIONS_POLICY_VALUE: &str = "camera=(self), microphone=(self), \
display-capture=(self), geolocation=(), payment=(), usb=()";

const PERMISSIONS_POLICY: HeaderName = HeaderName::from_static("permissions-policy");
const CROSS_ORIGIN_OPENER_POLICY: HeaderName =
    HeaderName::from_static("cross-origin-opener-policy");

/// How [`layer`] marks answers.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The `Strict-Transport-Security` value for HTTPS answers, if any.
    pub hsts: Option<HeaderValue>,
    /// Mark cookies `Secure` even on answers that did not come over HTTPS (a proxy
    /// terminates TLS without saying so).
    pub cookie_secure: bool,
    /// The Content-Security-Policy value.
    pub csp: HeaderValue,
}

impl Policy {
    /// HSTS for `max_age` seconds (`None`: no HSTS).
    pub fn new(hsts_max_age: Option<u64>, cookie_secure: bool) -> Policy {
        Policy {
            hsts: hsts_max_age
                .and_then(|age| HeaderValue::from_str(&format!("max-age={age}")).ok()),
            cookie_secure,
            csp: HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
        }
    }

    /// Lets pages open sockets on `origins` too (`ws://host:port`, `wss://host`: every
    /// node of a cluster, where a hall's page goes when its node is lost or another node
    /// is its meeting's home). Without them a browser refuses such a socket before it is
    /// opened, and the page can never move.
    pub fn with_socket_origins(mut self, origins: &[String]) -> Policy {
        if origins.is_empty() {
            return self;
        }
        let sources = format!("connect-src 'self' {}", origins.join(" "));
        let value = CONTENT_SECURITY_POLICY_VALUE.replace("connect-src 'self'", &sources);
        if let Ok(csp) = HeaderValue::from_str(&value) {
            self.csp = csp;
        }
        self
    }
}

/// Adds the security headers (a handler's own value wins) and, over HTTPS, HSTS and
/// `Secure` cookies.
pub async fn layer(State(policy): State<Policy>, req: Request, next: Next) -> Response {
    let https = req.extensions().get::<Client>().is_some_and(|c| c.https);
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers
        .entry(CONTENT_SECURITY_POLICY)
        .or_insert(policy.csp.clone());
    for (name, value) in [
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (X_FRAME_OPTIONS, "DENY"),
        (REFERRER_POLICY, "same-origin"),
        (PERMISSIONS_POLICY, PERMISSIONS_POLICY_VALUE),
        (CROSS_ORIGIN_OPENER_POLICY, "same-origin"),
    ] {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    if https {
        if let Some(hsts) = &policy.hsts {
            headers.insert(STRICT_TRANSPORT_SECURITY, hsts.clone());
        }
    }
    if https || policy.cookie_secure {
        secure_cookies(headers);
    }
    response
}

/// Appends `; Secure` to every `Set-Cookie` that lacks it.
fn secure_cookies(headers: &mut HeaderMap) {
    let cookies: Vec<HeaderValue> = headers.get_all(SET_COOKIE).iter().cloned().collect();
    if cookies.is_empty() {
        return;
    }
    headers.remove(SET_COOKIE);
    for cookie in cookies {
        let already = cookie.to_str().is_ok_and(|c| {
            c.split(';')
                .any(|attr| attr.trim().eq_ignore_ascii_case("secure"))
        });
        let marked = if already {
            cookie
        } else {
            let mut bytes = cookie.as_bytes().to_vec();
            bytes.extend_from_slice(b"; Secure");
            HeaderValue::from_bytes(&bytes).unwrap_or(cookie)
        };
        headers.append(SET_COOKIE, marked);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cookie_becomes_secure_once() {
        let mut h = HeaderMap::new();
        h.append(
            SET_COOKIE,
            HeaderValue::from_static("hoinghi_session=abc; HttpOnly; Path=/"),
        );
        h.append(
            SET_COOKIE,
            HeaderValue::from_static("hoinghi_lang=en; Path=/; Secure"),
        );
        secure_cookies(&mut h);
        let all: Vec<_> = h
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(
            all,
            [
                "hoinghi_session=abc; HttpOnly; Path=/; Secure",
                "hoinghi_lang=en; Path=/; Secure"
            ]
        );
    }

    #[test]
    fn the_policy_allows_no_inline_code_and_no_framing() {
        assert!(!CONTENT_SECURITY_POLICY_VALUE.contains("unsafe"));
        assert!(CONTENT_SECURITY_POLICY_VALUE.contains("frame-ancestors 'none'"));
        assert!(PERMISSIONS_POLICY_VALUE.contains("camera=(self)"));
        assert_eq!(
            Policy::new(Some(60), false).hsts.unwrap(),
            HeaderValue::from_static("max-age=60")
        );
        assert!(Policy::new(None, false).hsts.is_none());
        assert_eq!(
            Policy::new(None, false).csp,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE)
        );
    }

    #[test]
    fn in_a_cluster_pages_may_open_sockets_on_every_node() {
        let origins = [
            "ws://127.0.0.1:18082".to_string(),
            "wss://b.hop.tinh.vn".to_string(),
        ];
        let policy = Policy::new(None, false).with_socket_origins(&origins);
        let csp = policy.csp.to_str().unwrap();
        assert!(
            csp.contains("connect-src 'self' ws://127.0.0.1:18082 wss://b.hop.tinh.vn;"),
            "{csp}"
        );
        assert!(csp.contains("script-src 'self';") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(
            Policy::new(None, false).with_socket_origins(&[]).csp,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE)
        );
    }
}
