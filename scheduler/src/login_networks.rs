//! Client networks that logins come from (IPv4 /24, IPv6 /64): when a login from each last
//! succeeded and last failed. A province's staff sign in from the province's own
//! networks, an attacker's botnet from networks no one signs in from; the password pool
//! serves a login from a network some account signed in from lately (*known*, within
//! [`crate::LoginPolicy::known_network_secs`]) before quiet logins from never-seen
//! networks, and one from a never-seen network that failed lately with the failing
//! accounts' (see [`crate::password_pool`]).
//!
//! Why any account, not the account logging in: a new member of staff, or one whose
//! password was just reset, signs in for the first time from the office's network, and a
//! flood from outside never lands in a network someone signed in from. An attacker inside
//! such a network still takes one turn per network there, and each of its addresses
//! waits with the failing accounts after its first failure.

use std::net::IpAddr;

use sqlx::Row;

use crate::time::Timestamp;
use crate::{Result, Store};

/// The client network of `address`: `a.b.c.0/24` for IPv4 (IPv4-mapped IPv6 too),
/// `x:x:x:x::/64` for IPv6, the text itself when it is no address.
pub(crate) fn network_of(address: &str) -> String {
    match address.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
        Ok(IpAddr::V4(v4)) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        Ok(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Err(_) => address.to_owned(),
    }
}

/// What a client network's recent logins say about it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct NetworkStanding {
    /// A login of some account succeeded from it within the policy's `known_network_secs`.
    pub known: bool,
    /// A login from it failed within the policy's `quiet_after_secs`.
    pub failing: bool,
}

impl Store {
    /// What the recent logins from `address`'s network say about it.
    pub(crate) async fn network_standing(
        &self,
        address: &str,
        now: Timestamp,
    ) -> Result<NetworkStanding> {
        let p = &self.login_guard.policy;
        let row =
            sqlx::query("SELECT last_success, last_failure FROM login_networks WHERE network = $1")
                .bind(network_of(address))
                .fetch_optional(&self.pool)
                .await?;
        let Some(row) = row else {
            return Ok(NetworkStanding::default());
        };
        let success: i64 = row.try_get("last_success")?;
        let failure: i64 = row.try_get("last_failure")?;
        Ok(NetworkStanding {
            known: p.known_network_secs > 0 && success > now - p.known_network_secs,
            failing: failure > now - p.quiet_after_secs,
        })
    }

    /// A login from `address` succeeded at `now`: its network is known from now on.
    pub(crate) async fn network_succeeded(&self, address: &str, now: Timestamp) -> Result<()> {
        sqlx::query(
            "INSERT INTO login_networks (network, last_success, last_failure) VALUES ($1, $2, 0)
             ON CONFLICT (network) DO UPDATE SET last_success = $2",
        )
        .bind(network_of(address))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A login from `address` failed at `now`. Networks neither known nor failing any
    /// more are forgotten on the way.
    pub(crate) async fn network_failed(&self, address: &str, now: Timestamp) -> Result<()> {
        let p = &self.login_guard.policy;
        sqlx::query("DELETE FROM login_networks WHERE last_success <= $1 AND last_failure <= $2")
            .bind(now - p.known_network_secs)
            .bind(now - p.quiet_after_secs)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO login_networks (network, last_success, last_failure) VALUES ($1, 0, $2)
             ON CONFLICT (network) DO UPDATE SET last_failure = $2",
        )
        .bind(network_of(address))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
