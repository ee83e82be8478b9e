//! The optional plain-HTTP listener (setting `http_redirect_addr`): every request is
//! answered with a permanent redirect (308, the method kept) to the same path over HTTPS.

use axum::extract::{Request, State};
use axum::http::header::{HOST, LOCATION};
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

/// The redirect listener's whole router.
pub fn router(target: Target) -> Router {
    Router::new().fallback(to_https).with_state(target)
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
        let res = router(target).oneshot(req).await.unwrap();
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
}
