//! The HTTP edge's settings checked and typed: TLS files, the redirect listener, HSTS,
//! trusted reverse proxies and connection timeouts.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use super::Settings;

/// How the server's listeners behave, from [`Settings::http_config`].
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The certificate chain and key files, when `addr` speaks HTTPS.
    pub tls: Option<TlsFiles>,
    /// How often the TLS files are checked for a change.
    pub tls_reload: Duration,
    /// The plain-HTTP listener that only redirects to HTTPS.
    pub redirect_addr: Option<std::net::SocketAddr>,
    /// `Strict-Transport-Security` max-age; `None`: not sent.
    pub hsts_max_age: Option<u64>,
    /// Always mark cookies `Secure` (a proxy terminates TLS but sends no `X-Forwarded-Proto`).
    pub cookie_secure: bool,
    /// Peers whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: TrustedProxies,
    /// Time for the TLS handshake and a request's headers.
    pub header_timeout: Duration,
    /// Time an idle keep-alive connection stays open.
    pub idle_timeout: Duration,
    /// In a cluster, every node's WebSocket origin (`ws://host:port`, `wss://host`): a
    /// page may open its socket on another node (the Content-Security-Policy's
    /// `connect-src` lists them).
    pub socket_origins: Vec<String>,
}

/// The PEM files of the server's certificate.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

/// Address ranges of reverse proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    /// Parses CIDR ranges (`10.0.0.0/8`) or single addresses (`127.0.0.1`).
    pub fn parse(list: &[String]) -> Result<TrustedProxies, String> {
        list.iter()
            .map(|s| {
                let s = s.trim();
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!(
                            "settings: trusted_proxies: {s:?} is not an address range like 10.0.0.0/8"
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|nets| TrustedProxies(nets.into()))
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }
}

impl Settings {
    /// The HTTP edge's settings, checked by name.
    pub fn http_config(&self) -> Result<HttpConfig, String> {
        let tls = match (&self.tls_cert_file, &self.tls_key_file) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            (None, None) => None,
            _ => {
                return Err("settings: tls_cert_file and tls_key_file go together".into());
            }
        };
        if self.http_redirect_addr.is_some() && tls.is_none() {
            return Err(
                "settings: http_redirect_addr redirects to HTTPS: set tls_cert_file and tls_key_file"
                    .into(),
            );
        }
        if self.acme_challenge_dir.is_some() && self.http_redirect_addr.is_none() {
            return Err(
                "settings: acme_challenge_dir is served by the redirect listener: set http_redirect_addr"
                    .into(),
            );
        }
        if !(1..=86_400).contains(&self.tls_reload_secs) {
            return Err("settings: tls_reload_secs must be 1 to 86400".into());
        }
        if !(1..=600).contains(&self.http_header_timeout_secs) {
            return Err("settings: http_header_timeout_secs must be 1 to 600".into());
        }
        if !(1..=3600).contains(&self.http_idle_timeout_secs) {
            return Err("settings: http_idle_timeout_secs must be 1 to 3600".into());
        }
        Ok(HttpConfig {
            tls,
            tls_reload: Duration::from_secs(self.tls_reload_secs),
            redirect_addr: self.http_redirect_addr,
            hsts_max_age: Some(self.hsts_max_age_secs).filter(|&s| s > 0),
            cookie_secure: self.cookie_secure,
            trusted_proxies: TrustedProxies::parse(&self.trusted_proxies)?,
            header_timeout: Duration::from_secs(self.http_header_timeout_secs),
            idle_timeout: Duration::from_secs(self.http_idle_timeout_secs),
            socket_origins: self
                .cluster_config()?
                .map(|c| c.socket_origins())
                .unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(f: impl FnOnce(&mut Settings)) -> Result<HttpConfig, String> {
        let mut s = Settings::default();
        f(&mut s);
        s.validate().and_then(|_| s.http_config())
    }

    #[test]
    fn tls_files_go_together_and_the_redirect_needs_them() {
        let err = check(|s| s.tls_cert_file = Some("/etc/hoinghi/cert.pem".into())).unwrap_err();
        assert!(err.contains("tls_key_file"), "{err}");
        let err =
            check(|s| s.http_redirect_addr = Some("0.0.0.0:80".parse().unwrap())).unwrap_err();
        assert!(err.contains("http_redirect_addr"), "{err}");
        let err =
            check(|s| s.acme_challenge_dir = Some("/var/lib/hoinghi/acme".into())).unwrap_err();
        assert!(err.contains("acme_challenge_dir"), "{err}");
        let config = check(|s| {
            s.tls_cert_file = Some("/c.pem".into());
            s.tls_key_file = Some("/k.pem".into());
            s.http_redirect_addr = Some("0.0.0.0:80".parse().unwrap());
        })
        .unwrap();
        assert_eq!(config.tls.unwrap().key, PathBuf::from("/k.pem"));
        let plain = check(|_| {}).unwrap();
        assert!(plain.tls.is_none());
        assert_eq!(plain.header_timeout, Duration::from_secs(10));
        assert_eq!(plain.idle_timeout, Duration::from_secs(60));
    }

    #[test]
    fn the_public_url_is_https_when_tls_is_on() {
        let bound = "127.0.0.1:8443".parse().unwrap();
        let tls = Settings {
            tls_cert_file: Some("/c.pem".into()),
            tls_key_file: Some("/k.pem".into()),
            ..Settings::default()
        };
        assert_eq!(tls.public_base(bound), "https://127.0.0.1:8443");
        assert_eq!(
            Settings::default().public_base(bound),
            "http://127.0.0.1:8443"
        );
    }

    #[test]
    fn trusted_proxies_are_ranges_checked_by_name() {
        let config = check(|s| {
            s.trusted_proxies = vec!["10.1.0.0/16".into(), "127.0.0.1".into(), "::1".into()]
        })
        .unwrap();
        let trusted = config.trusted_proxies;
        assert!(trusted.contains("10.1.200.3".parse().unwrap()));
        assert!(trusted.contains("127.0.0.1".parse().unwrap()));
        assert!(
            trusted.contains("::ffff:127.0.0.1".parse().unwrap()),
            "IPv4 peers on a dual-stack socket"
        );
        assert!(!trusted.contains("10.2.0.1".parse().unwrap()));
        assert!(!trusted.contains("127.0.0.2".parse().unwrap()));
        let err = check(|s| s.trusted_proxies = vec!["10.0.0.0/33".into()]).unwrap_err();
        assert!(err.contains("trusted_proxies"), "{err}");
        assert!(!check(|_| {})
            .unwrap()
            .trusted_proxies
            .contains("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn timeouts_are_checked_by_name() {
        let err = check(|s| s.http_header_timeout_secs = 0).unwrap_err();
        assert!(err.contains("http_header_timeout_secs"), "{err}");
        let err = check(|s| s.http_idle_timeout_secs = 0).unwrap_err();
        assert!(err.contains("http_idle_timeout_secs"), "{err}");
        assert_eq!(
            check(|s| s.hsts_max_age_secs = 0).unwrap().hsts_max_age,
            None
        );
    }
}
