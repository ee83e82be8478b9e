//! ICE servers told to halls' pages in `welcome`: STUN/TURN URLs and time-limited TURN
//! credentials (the TURN REST API of draft-uberti-behave-turn-rest, which coturn
//! implements as `use-auth-secret` + `static-auth-secret`).
//!
//! A hall whose UDP is blocked reaches the SFU through a TURN server over TCP (or TLS):
//! its browser relays through the TURN server, whose relayed address then talks to the
//! SFU's ordinary host candidate, so the SFU itself needs nothing for it. Credentials
//! are computed per hall on every `welcome`, so a kiosk that runs all day gets fresh
//! ones each time it (re)connects.

use crate::protocol::{HallInfo, IceServer, IceTransportPolicy};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Produces the ICE servers of one hall's page, at `now` (UTC Unix seconds).
pub trait IceProvider: Send + Sync {
    /// The servers for `hall`'s page, with credentials valid from `now`.
    fn servers(&self, hall: &HallInfo, now: i64) -> Vec<IceServer>;
}

/// What pages are told about ICE (part of [`crate::SignalingConfig`]).
#[derive(Clone, Default)]
pub struct IceConfig {
    /// Where the servers come from; `None`: an empty list (host candidates only).
    pub provider: Option<Arc<dyn IceProvider>>,
    /// The policy every page is told to use.
    pub transport_policy: IceTransportPolicy,
}

impl IceConfig {
    /// The servers for `hall`'s page now.
    pub fn servers(&self, hall: &HallInfo, now: i64) -> Vec<IceServer> {
        self.provider
            .as_ref()
            .map(|p| p.servers(hall, now))
            .unwrap_or_default()
    }
}

impl fmt::Debug for IceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IceConfig")
            .field("provider", &self.provider.as_ref().map(|_| "…"))
            .field("transport_policy", &self.transport_policy)
            .finish()
    }
}

impl PartialEq for IceConfig {
    fn eq(&self, other: &Self) -> bool {
        let same = match (&self.provider, &other.provider) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        same && self.transport_policy == other.transport_policy
    }
}

/// Why a STUN/TURN URL was refused (RFC 7064 / RFC 7065 syntax).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IceUrlError {
    /// Not `stun:`, `stuns:`, `turn:` or `turns:`.
    #[error("{0}: the scheme must be stun:, stuns:, turn: or turns:")]
    Scheme(String),
    /// `turn://host`: these URLs have no `//`.
    #[error("{0}: write scheme:host[:port] without //")]
    Slashes(String),
    /// No host, or a port that is not 1 to 65535.
    #[error("{0}: expected host[:port] with a port of 1 to 65535")]
    HostPort(String),
    /// A query other than `?transport=udp|tcp` on a TURN URL (STUN URLs take none;
    /// `turns:` runs over TLS, so not over UDP).
    #[error("{0}: only turn: takes ?transport=udp or ?transport=tcp (turns: only tcp)")]
    Transport(String),
}

/// A checked STUN or TURN URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceUrl {
    url: String,
    turn: bool,
}

impl IceUrl {
    /// Checks `url`'s syntax: `stun:host[:port]`, `turn:host[:port][?transport=udp|tcp]`.
    pub fn parse(url: &str) -> Result<IceUrl, IceUrlError> {
        let url = url.trim();
        let err = |f: fn(String) -> IceUrlError| Err(f(url.to_string()));
        let Some((scheme, rest)) = url.split_once(':') else {
            return err(IceUrlError::Scheme);
        };
        let (turn, secure) = match scheme {
            "stun" => (false, false),
            "stuns" => (false, true),
            "turn" => (true, false),
            "turns" => (true, true),
            _ => return err(IceUrlError::Scheme),
        };
        if rest.starts_with("//") {
            return err(IceUrlError::Slashes);
        }
        let (hostport, query) = match rest.split_once('?') {
            Some((h, q)) => (h, Some(q)),
            None => (rest, None),
        };
        match query {
            None => {}
            Some("transport=tcp") if turn => {}
            Some("transport=udp") if turn && !secure => {}
            Some(_) => return err(IceUrlError::Transport),
        }
        let (host, port) = match hostport.rsplit_once(':') {
            // An IPv6 address without a port: `[2001:db8::1]`.
            Some((_, p)) if p.ends_with(']') => (hostport, None),
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        };
        let host_ok = !host.is_empty()
            && !host.contains(['/', '@', ' '])
            && (host.starts_with('[') == host.ends_with(']'));
        let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
        if !host_ok || !port_ok {
            return err(IceUrlError::HostPort);
        }
        Ok(IceUrl {
            url: url.to_string(),
            turn,
        })
    }

    /// Whether this is a TURN URL (needs credentials).
    pub fn is_turn(&self) -> bool {
        self.turn
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.url
    }
}

/// STUN servers plus TURN servers sharing coturn's `static-auth-secret`.
pub struct TurnRest {
    /// STUN URLs (no credentials).
    pub stun: Vec<IceUrl>,
    /// TURN URLs (`turn:`/`turns:`), all told the same credentials.
    pub turn: Vec<IceUrl>,
    /// coturn's `static-auth-secret` (never printed).
    pub secret: String,
    /// How long credentials stay valid from the `welcome` that carried them.
    pub lifetime: Duration,
}

impl IceProvider for TurnRest {
    fn servers(&self, hall: &HallInfo, now: i64) -> Vec<IceServer> {
        let mut servers = Vec::new();
        if !self.stun.is_empty() {
            servers.push(IceServer {
                urls: self.stun.iter().map(|u| u.as_str().to_string()).collect(),
                username: None,
                credential: None,
            });
        }
        if !self.turn.is_empty() {
            let lifetime = i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX);
            let username = turn_rest_username(now.saturating_add(lifetime), hall.id);
            servers.push(IceServer {
                urls: self.turn.iter().map(|u| u.as_str().to_string()).collect(),
                credential: Some(turn_rest_credential(&self.secret, &username)),
                username: Some(username),
            });
        }
        servers
    }
}

/// The TURN REST user name: `<expiry, UTC Unix seconds>:<hall id>`.
pub fn turn_rest_username(expires_at: i64, hall_id: i64) -> String {
    format!("{expires_at}:{hall_id}")
}

/// The TURN REST password: base64(HMAC-SHA1(secret, username)), as coturn checks it.
pub fn turn_rest_credential(secret: &str, username: &str) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_matches_a_vector_computed_by_hand() {
        // python3 -c 'import hmac,hashlib,base64; print(base64.b64encode(hmac.new(
        //   b"north-star-secret-0123", b"1800043200:12", hashlib.sha1).digest()).decode())'
        assert_eq!(turn_rest_username(1_800_043_200, 12), "1800043200:12");
        assert_eq!(
            turn_rest_credential("north-star-secret-0123", "1800043200:12"),
            "KakyHDw+3kU6aqaxOldkT+8E0g4="
        );
    }

    #[test]
    fn urls_are_checked() {
        for ok in [
            "stun:turn.example.vn",
            "stun:turn.example.vn:3478",
            "turn:turn.example.vn:3478?transport=udp",
            "turn:turn.example.vn:3478?transport=tcp",
            "turns:turn.example.vn:5349",
            "turns:turn.example.vn:443?transport=tcp",
            "turn:203.0.113.7",
            "turn:[2001:db8::1]:3478?transport=tcp",
            "turn:[2001:db8::1]",
        ] {
            assert!(IceUrl::parse(ok).is_ok(), "{ok}");
        }
        let bad = |url: &str| IceUrl::parse(url).unwrap_err();
        assert!(matches!(bad("http://x"), IceUrlError::Scheme(_)));
        assert!(matches!(bad("turn.example.vn"), IceUrlError::Scheme(_)));
        assert!(matches!(bad("turn://x:3478"), IceUrlError::Slashes(_)));
        assert!(matches!(bad("turn:"), IceUrlError::HostPort(_)));
        assert!(matches!(bad("turn:x:0"), IceUrlError::HostPort(_)));
        assert!(matches!(bad("turn:x:99999"), IceUrlError::HostPort(_)));
        assert!(matches!(
            bad("turn:x?transport=sctp"),
            IceUrlError::Transport(_)
        ));
        assert!(matches!(
            bad("turns:x?transport=udp"),
            IceUrlError::Transport(_)
        ));
        assert!(matches!(
            bad("stun:x?transport=tcp"),
            IceUrlError::Transport(_)
        ));
        assert!(bad("turn:x:0").to_string().contains("turn:x:0"));
        assert!(IceUrl::parse("turns:x").unwrap().is_turn());
        assert!(!IceUrl::parse("stuns:x").unwrap().is_turn());
    }

    #[test]
    fn turn_servers_get_credentials_that_expire_after_the_lifetime() {
        let rest = TurnRest {
            stun: vec![IceUrl::parse("stun:t.example.vn:3478").unwrap()],
            turn: vec![
                IceUrl::parse("turn:t.example.vn:3478?transport=udp").unwrap(),
                IceUrl::parse("turn:t.example.vn:3478?transport=tcp").unwrap(),
            ],
            secret: "north-star-secret-0123".into(),
            lifetime: Duration::from_secs(12 * 3600),
        };
        let hall = HallInfo {
            id: 12,
            name: "Điểm cầu xã".into(),
        };
        let servers = rest.servers(&hall, 1_800_000_000);
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0].urls, ["stun:t.example.vn:3478"]);
        assert_eq!(servers[0].username, None);
        assert_eq!(servers[1].urls.len(), 2);
        assert_eq!(servers[1].username.as_deref(), Some("1800043200:12"));
        assert_eq!(
            servers[1].credential.as_deref(),
            Some("KakyHDw+3kU6aqaxOldkT+8E0g4=")
        );
        let json = serde_json::to_string(&servers[0]).unwrap();
        assert_eq!(json, r#"{"urls":["stun:t.example.vn:3478"]}"#);
        assert!(IceConfig::default().servers(&hall, 0).is_empty());
    }
}
