//! The optional plain-HTTP listener (setting `http_redirect_addr`): every request is
//! answered with a permanent redirect (308, the method kept) to the same path over HTTPS
//! — except ACME HTTP-01 challenges (`/.well-known/acme-challenge/{token}`), served from
//! `acme_challenge_dir` when set, so certbot's `--webroot` renews without a stop.

use std::path::PathBuf;

use axum::extract::{Path, Request, State};
use axum::http::header::{CONTENT_TYPE, HOST, LOCATION};
use axum::http::uri::Authority;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

/// Where redirects point.
#[derive(Debug, Clone)]
pub enum Target {
    /// The configured `https://` public URL's origin (`https://hop.gov.vn`).
    Origin(String),
    /// The host the client asked for, on this HTTPS port.
    SameHost {
        /// The TLS listener's port.
        https_port: u16,
    },
}

impl Target {
    /// From the public URL when it is `https://…`, else the request's host on `https_port`.
    pub fn new(public_url: Option<&str>, https_port: u16) -> Target {
        public_url
            .and_then(|url| url.strip_prefix("https://"))
            .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(rest))
            .filter(|host| !host.is_empty())
            .map(|host| Target::Origin(format!("https://{host}")))
            .unwrap_or(Target::SameHost { https_port })
    }

    fn origin(&self, req: &Request) -> Option<String> {
        match self {
            Target::Origin(origin) => Some(origin.clone()),
            Target::SameHost { https_port } => {
                let host = req.headers().get(HOST)?.to_str().ok()?;
                let host = host.parse::<Authority>().ok()?;
                let name = host.host();
                Some(match https_port {
                    443 => format!("https://{name}"),
                    port => format!("https://{name}:{port}"),
                })
            }
        }
    }
}

async fn to_https(State(target): State<Target>, req: Request) -> Response {
    let Some(origin) = target.origin(&req) else {
        return (
            StatusCode::BAD_REQUEST,
            "bad request: no usable Host header",
        )
            .into_response();
    };
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    // A path always starts with `/` here, so the origin cannot be changed by it.
    let path = if path.starts_with('/') { path } else { "/" };
    match HeaderValue::from_str(&format!("{origin}{path}")) {
        Ok(location) => (
            StatusCode::PERMANENT_REDIRECT,
            [(LOCATION, location)],
            "use HTTPS",
        )
            .into_response(),
        Err(_) => (StatusCode::BAD_REQUEST, "bad request").into_response(),
    }
}

/// An ACME HTTP-01 key authorization from `dir`: tokens are base64url (RFC 8555), so
/// nothing else (no `..`, no `/`) is ever looked up.
async fn challenge(State(dir): State<PathBuf>, Path(token): Path<String>) -> Response {
    let well_formed = (1..=256).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    match tokio::fs::read(dir.join(&token)).await {
        Ok(body) => (StatusCode::OK, [(CONTENT_TYPE, "text/plain")], body).into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// The redirect listener's whole router (with ACME challenges from `acme`, if set).
pub fn router(target: Target, acme: Option<PathBuf>) -> Router {
    let redirect = Router::new().fallback(to_https).with_state(target);
    match acme {
        Some(dir) => Router::new()
            .route(
                "/.well-known/acme-challenge/{token}",
                axum::routing::get(challenge),
            )
            .with_state(dir)
            .merge(redirect),
        None => redirect,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    async fn location(target: Target, host: &str, path: &str) -> (StatusCode, Option<String>) {
        let req = Request::builder()
            .uri(path)
            .header(HOST, host)
            .body(Body::empty())
            .unwrap();
        let res = router(target, None).oneshot(req).await.unwrap();
        let loc = res
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_string());
        (res.status(), loc)
    }

    #[tokio::test]
    async fn every_path_is_sent_to_https_on_the_same_host_or_the_public_url() {
        let same = Target::new(None, 8443);
        assert_eq!(
            location(same.clone(), "198.18.0.1:8080", "/j/abc?x=1").await,
            (
                StatusCode::PERMANENT_REDIRECT,
                Some("https://198.18.0.1:8443/j/abc?x=1".into())
            )
        );
        let standard = Target::new(Some("http://ignored"), 443);
        assert_eq!(
            location(standard, "hop.gov.vn", "/").await.1.as_deref(),
            Some("https://hop.gov.vn/")
        );
        let public = Target::new(Some("https://hop.phutho.gov.vn/"), 443);
        assert_eq!(
            location(public, "evil.example", "/login")
                .await
                .1
                .as_deref(),
            Some("https://hop.phutho.gov.vn/login"),
            "the configured name, never the client's Host"
        );
        assert_eq!(
            location(same, "bad host/x", "/").await.0,
            StatusCode::BAD_REQUEST
        );
    }

    #[tokio::test]
    async fn acme_challenges_are_served_from_their_directory_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let acme = dir.path().join("acme");
        std::fs::create_dir(&acme).unwrap();
        std::fs::write(acme.join("Tok3n-_x"), "Tok3n-_x.thumbprint").unwrap();
        std::fs::write(dir.path().join("secret"), "not for the web").unwrap();
        let get = |path: &str| {
            let req = Request::builder()
                .uri(path)
                .header(HOST, "hop.gov.vn")
                .body(Body::empty())
                .unwrap();
            router(Target::new(None, 443), Some(acme.clone())).oneshot(req)
        };
        let ok = get("/.well-known/acme-challenge/Tok3n-_x").await.unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        let body = axum::body::to_bytes(ok.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"Tok3n-_x.thumbprint");
        for path in [
            "/.well-known/acme-challenge/..%2Fsecret",
            "/.well-known/acme-challenge/missing",
        ] {
            assert_eq!(
                get(path).await.unwrap().status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
        let other = get("/login").await.unwrap();
        assert_eq!(other.status(), StatusCode::PERMANENT_REDIRECT);
    }
}
