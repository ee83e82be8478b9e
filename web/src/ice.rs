//! The ICE settings — STUN/TURN URLs, coturn's shared secret, the credentials' lifetime
//! and the transport policy — checked at start-up into the signaling's [`IceConfig`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use signaling::ice::{IceConfig, IceUrl, TurnRest};
use signaling::protocol::IceTransportPolicy;

/// A secret setting: kept as given, never printed (`Debug` shows `***`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Secret {
        Secret(secret.into())
    }

    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The shortest `turn_secret` accepted (coturn takes any; a short one is guessable).
pub const MIN_SECRET_CHARS: usize = 16;

/// The ICE part of the settings, as read.
#[derive(Debug, Clone, Copy)]
pub struct IceSettings<'a> {
    /// `ice_servers`: `stun:`, `stuns:`, `turn:` and `turns:` URLs.
    pub urls: &'a [String],
    /// `turn_secret`: coturn's `static-auth-secret`.
    pub secret: Option<&'a Secret>,
    /// `turn_credential_hours`: how long a page's TURN credentials stay valid.
    pub credential_hours: u64,
    /// `ice_transport_policy`: `all` or `relay`.
    pub policy: IceTransportPolicy,
}

impl IceSettings<'_> {
    /// Checks the settings (each error names its key) and builds the pages' ICE config.
    pub fn config(&self) -> Result<IceConfig, String> {
        if !(1..=7 * 24).contains(&self.credential_hours) {
            return Err("settings: turn_credential_hours must be 1 to 168".into());
        }
        let mut stun = Vec::new();
        let mut turn = Vec::new();
        for url in self.urls {
            let url = IceUrl::parse(url).map_err(|e| format!("settings: ice_servers: {e}"))?;
            if url.is_turn() {
                turn.push(url);
            } else {
                stun.push(url);
            }
        }
        let secret = match (self.secret, turn.is_empty()) {
            (None, false) => {
                return Err(
                    "settings: ice_servers has turn: URLs but turn_secret is not set \
                     (coturn's static-auth-secret)"
                        .into(),
                )
            }
            (Some(_), true) => {
                return Err(
                    "settings: turn_secret is set but ice_servers has no turn: or turns: URL"
                        .into(),
                )
            }
            (Some(s), false) if s.expose().trim().chars().count() < MIN_SECRET_CHARS => {
                return Err(format!(
                    "settings: turn_secret must be at least {MIN_SECRET_CHARS} characters"
                ))
            }
            (Some(s), false) => Some(s.expose().trim().to_string()),
            (None, true) => None,
        };
        if self.policy == IceTransportPolicy::Relay && turn.is_empty() {
            return Err(
                "settings: ice_transport_policy = \"relay\" needs a turn: URL in ice_servers"
                    .into(),
            );
        }
        let provider = match secret {
            Some(secret) => Some(Arc::new(TurnRest {
                stun,
                turn,
                secret,
                lifetime: Duration::from_secs(self.credential_hours * 3600),
            }) as Arc<dyn signaling::ice::IceProvider>),
            // STUN only (no TURN URL, checked above): the secret is never used.
            None if !stun.is_empty() => Some(Arc::new(TurnRest {
                stun,
                turn,
                secret: String::new(),
                lifetime: Duration::ZERO,
            }) as Arc<_>),
            None => None,
        };
        Ok(IceConfig {
            provider,
            transport_policy: self.policy,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signaling::protocol::HallInfo;

    const SECRET: &str = "north-star-secret-0123";

    fn check(
        urls: &[&str],
        secret: Option<&str>,
        policy: IceTransportPolicy,
    ) -> Result<IceConfig, String> {
        let urls: Vec<String> = urls.iter().map(|u| u.to_string()).collect();
        let secret = secret.map(Secret::new);
        IceSettings {
            urls: &urls,
            secret: secret.as_ref(),
            credential_hours: 12,
            policy,
        }
        .config()
    }

    #[test]
    fn bad_ice_settings_are_refused_by_name() {
        let all = IceTransportPolicy::All;
        let err = check(&["http://turn.example.vn"], None, all).unwrap_err();
        assert!(
            err.contains("ice_servers") && err.contains("http://turn.example.vn"),
            "{err}"
        );
        let err = check(&["turn:turn.example.vn:3478?transport=tcp"], None, all).unwrap_err();
        assert!(err.contains("turn_secret is not set"), "{err}");
        let err = check(&["stun:turn.example.vn"], Some(SECRET), all).unwrap_err();
        assert!(err.contains("turn_secret is set"), "{err}");
        let err = check(&["turn:t.example.vn"], Some("short"), all).unwrap_err();
        assert!(err.contains("at least 16"), "{err}");
        assert!(!err.contains("short"), "the secret is never printed: {err}");
        let err = check(&["stun:t.example.vn"], None, IceTransportPolicy::Relay).unwrap_err();
        assert!(err.contains("ice_transport_policy"), "{err}");
        let err = IceSettings {
            urls: &[],
            secret: None,
            credential_hours: 0,
            policy: all,
        }
        .config()
        .unwrap_err();
        assert!(err.contains("turn_credential_hours"), "{err}");
        assert_eq!(format!("{:?}", Secret::new(SECRET)), "***");
    }

    #[test]
    fn good_ice_settings_give_pages_servers() {
        let hall = HallInfo {
            id: 12,
            name: "Điểm cầu xã".into(),
        };
        let none = check(&[], None, IceTransportPolicy::All).unwrap();
        assert!(none.servers(&hall, 0).is_empty());
        let stun = check(&["stun:t.example.vn:3478"], None, IceTransportPolicy::All).unwrap();
        let servers = stun.servers(&hall, 0);
        assert_eq!(servers.len(), 1);
        assert_eq!(servers[0].credential, None);
        let urls = [
            "stun:t.example.vn:3478",
            "turn:t.example.vn:3478?transport=udp",
            "turn:t.example.vn:3478?transport=tcp",
            "turns:t.example.vn:5349",
        ];
        let relay = check(&urls, Some(SECRET), IceTransportPolicy::Relay).unwrap();
        assert_eq!(relay.transport_policy, IceTransportPolicy::Relay);
        let servers = relay.servers(&hall, 1_800_000_000);
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[1].urls.len(), 3);
        // 12 hours from now, for hall 12; the vector is checked in signaling::ice.
        assert_eq!(servers[1].username.as_deref(), Some("1800043200:12"));
        assert_eq!(
            servers[1].credential.as_deref(),
            Some("KakyHDw+3kU6aqaxOldkT+8E0g4=")
        );
    }
}
