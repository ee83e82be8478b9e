//! Who is asking, and over what: the TCP peer and the connection's TLS, or — only when
//! the peer is one of `trusted_proxies` — what that proxy says in `X-Forwarded-For` and
//! `X-Forwarded-Proto`. From any other peer the `X-Forwarded-*` headers are removed, so
//! nothing further in (login throttling, logs, the same-origin checks) can be fooled.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::settings::TrustedProxies;

/// What the connection itself was: put on every request by the accept loop.
#[derive(Debug, Clone, Copy)]
pub struct Transport {
    /// The connection is TLS (the server's own HTTPS).
    pub tls: bool,
}

/// The client as the server believes it: put on every request by [`layer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    /// The client's address (the peer, or the address a trusted proxy forwarded).
    pub ip: IpAddr,
    /// The page was asked for over HTTPS (ours, or a trusted proxy's).
    pub https: bool,
}

const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// The client of a request from `peer` over `tls`.
pub fn client_of(
    peer: SocketAddr,
    tls: bool,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
) -> Client {
    let peer_ip = peer.ip().to_canonical();
    if !trusted.contains(peer_ip) {
        return Client {
            ip: peer_ip,
            https: tls,
        };
    }
    // Each proxy appends the address it got the request from: read from the right, past
    // our own proxies, to the first address no trusted proxy stands for.
    let hops: Vec<Option<IpAddr>> = headers
        .get_all(FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|hop| {
            hop.trim()
                .parse::<IpAddr>()
                .ok()
                .map(|ip| ip.to_canonical())
        })
        .collect();
    let ip = match hops
        .iter()
        .rev()
        .find(|hop| !hop.is_some_and(|ip| trusted.contains(ip)))
    {
        Some(Some(client)) => *client,
        // Garbage where the client should be: the last proxy is all we know.
        Some(None) => peer_ip,
        // Only our own proxies: the first of them asked.
        None => hops.first().copied().flatten().unwrap_or(peer_ip),
    };
    let https = match headers.get(FORWARDED_PROTO).and_then(|v| v.to_str().ok()) {
        Some(proto) => proto
            .split(',')
            .next()
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https")),
        None => tls,
    };
    Client { ip, https }
}

/// Decides the request's [`Client`], drops forwarding headers an untrusted peer sent,
/// and runs the request in a span naming the client's address (every log line of the
/// request carries it).
pub async fn layer(
    State(trusted): State<TrustedProxies>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let tls = req.extensions().get::<Transport>().is_some_and(|t| t.tls);
    let Some(peer) = peer else {
        // Not from the accept loop (router tests): nothing to believe.
        return next.run(req).await;
    };
    if !trusted.contains(peer.ip()) {
        for name in [FORWARDED_FOR, FORWARDED_PROTO, FORWARDED_HOST] {
            req.headers_mut().remove(name);
        }
    }
    let client = client_of(peer, tls, req.headers(), &trusted);
    req.extensions_mut().insert(client);
    let span = tracing::info_span!("client", ip = %client.ip);
    next.run(req).instrument(span).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn proxies() -> TrustedProxies {
        TrustedProxies::parse(&["10.0.0.0/24".into()]).unwrap()
    }

    #[test]
    fn forwarding_headers_of_an_untrusted_peer_are_not_believed() {
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
        ]);
        let from = "198.51.100.7:5000".parse().unwrap();
        assert_eq!(
            client_of(from, false, &h, &proxies()),
            Client {
                ip: "198.51.100.7".parse().unwrap(),
                https: false
            }
        );
        let none = TrustedProxies::default();
        let proxy = "10.0.0.2:5000".parse().unwrap();
        assert_eq!(
            client_of(proxy, false, &h, &none).ip,
            "10.0.0.2".parse::<IpAddr>().unwrap(),
            "no proxy is trusted unless configured"
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_the_scheme() {
        let proxy = "10.0.0.2:5000".parse().unwrap();
        let h = headers(&[
            ("x-forwarded-for", "192.0.2.1, 203.0.113.9, 10.0.0.3"),
            ("x-forwarded-proto", "https"),
        ]);
        // 192.0.2.1 was written by the client itself: only the hop our proxies saw counts.
        assert_eq!(
            client_of(proxy, false, &h, &proxies()),
            Client {
                ip: "203.0.113.9".parse().unwrap(),
                https: true
            }
        );
        let plain = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert!(!client_of(proxy, false, &plain, &proxies()).https);
        let garbage = headers(&[("x-forwarded-for", "192.0.2.1, not-an-address")]);
        assert_eq!(
            client_of(proxy, false, &garbage, &proxies()).ip,
            "10.0.0.2".parse::<IpAddr>().unwrap()
        );
        let bare = HeaderMap::new();
        assert_eq!(
            client_of(proxy, false, &bare, &proxies()).ip,
            "10.0.0.2".parse::<IpAddr>().unwrap()
        );
    }
}
