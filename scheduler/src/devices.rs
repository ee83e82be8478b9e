//! Device sessions: a hall's kiosk PC stays signed in with its room account for months.
//!
//! Every login of a room account ([`Role::Hall`]) through [`Store::sign_in`] with a device
//! lifetime opens a device session instead of an ordinary one: it lasts `lifetime` from its
//! last use (sliding), and each use later than [`DEVICE_TOUCH_SECS`] after the last written
//! one writes the new expiry, the time and the address (so a kiosk polling every few
//! seconds costs one write an hour). Administrators list them per hall and revoke them;
//! disabling the hall or the account, or resetting its password, deletes them. Staff
//! accounts never get one: their sessions end after the ordinary lifetime.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::Row;

use crate::accounts::{account_from_row, token_hash, Principal, Role, ACCOUNT_COLUMNS};
use crate::time::{self, Timestamp};
use crate::{Error, Result, Store};

/// A device session's use is written when the last written one is at least this old.
pub const DEVICE_TOUCH_SECS: i64 = 3600;

/// The longest user agent kept (longer ones are cut).
const USER_AGENT_MAX: usize = 512;

/// A kiosk PC signed in with a hall's room account, as listed for administrators.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeviceSession {
    /// Our id (what an administrator revokes).
    pub id: i64,
    /// The room account signed in.
    pub account_id: i64,
    /// Its login name.
    pub username: String,
    /// The hall of that account.
    pub hall_id: i64,
    /// A short name from the browser's user agent ("Chrome 131 · Windows"); empty when
    /// the user agent says nothing we know.
    pub device_name: String,
    /// The user agent as the browser sent it (cut to 512 characters).
    pub user_agent: String,
    /// The client address at the last written use (or at login); none when unknown.
    pub address: Option<String>,
    /// When it was signed in.
    pub created_at: Timestamp,
    /// The last written use (at most [`DEVICE_TOUCH_SECS`] behind the real last use).
    pub last_used_at: Timestamp,
    /// When it ends unless used before.
    pub expires_at: Timestamp,
}

/// The caller of a request, and whether their device session was just renewed.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who.
    pub principal: Principal,
    /// For a device session whose expiry was just moved forward: its lifetime in seconds,
    /// so the client's cookie can be renewed for as long.
    pub renewed_for: Option<i64>,
}

/// A short, language-neutral device name from a user agent: browser and major version,
/// and the system ("Chrome 131 · Windows"); empty when neither is recognised.
pub fn device_name(user_agent: &str) -> String {
    let version = |marker: &str| -> Option<String> {
        let at = user_agent.find(marker)? + marker.len();
        let major: String = user_agent[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        Some(major)
    };
    // Order matters: Edge and Opera also say Chrome; Chrome also says Safari.
    let browsers = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Version/", "Safari"),
    ];
    let browser = browsers.iter().find_map(|(marker, name)| {
        version(marker).map(|v| {
            if v.is_empty() {
                name.to_string()
            } else {
                format!("{name} {v}")
            }
        })
    });
    let systems = [
        ("Windows", "Windows"),
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("CrOS", "ChromeOS"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ];
    let system = systems
        .iter()
        .find(|(marker, _)| user_agent.contains(marker))
        .map(|(_, name)| name.to_string());
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} · {s}"),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => String::new(),
    }
}

/// A user agent as kept: control characters dropped, cut to [`USER_AGENT_MAX`] characters.
fn clean_user_agent(user_agent: Option<&str>) -> String {
    user_agent
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(USER_AGENT_MAX)
        .collect()
}

const DEVICE_SELECT: &str =
    "SELECT d.id, d.account_id, a.username, a.hall_id, d.device_name, d.user_agent,
            d.address, d.created_at, d.last_used_at, d.expires_at
     FROM device_sessions d JOIN accounts a ON a.id = d.account_id";

fn device_from_row(r: &sqlx::any::AnyRow) -> Result<DeviceSession> {
    Ok(DeviceSession {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        username: r.try_get("username")?,
        hall_id: r.try_get("hall_id")?,
        device_name: r.try_get("device_name")?,
        user_agent: r.try_get("user_agent")?,
        address: r.try_get("address")?,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
        expires_at: r.try_get("expires_at")?,
    })
}

impl Store {
    /// Opens a device session of `lifetime_secs` for a room account; returns its id.
    pub(crate) async fn open_device_session(
        &self,
        account_id: i64,
        token: &str,
        lifetime_secs: i64,
        address: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<i64> {
        let now = time::now();
        let user_agent = clean_user_agent(user_agent);
        let row = sqlx::query(
            "INSERT INTO device_sessions (token_hash, account_id, device_name, user_agent, address,
                 created_at, last_used_at, lifetime_secs, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8) RETURNING id",
        )
        .bind(token_hash(token))
        .bind(account_id)
        .bind(device_name(&user_agent))
        .bind(&user_agent)
        .bind(address)
        .bind(now)
        .bind(lifetime_secs)
        .bind(now + lifetime_secs)
        .fetch_one(&self.pool)
        .await?;
        sqlx::query("DELETE FROM device_sessions WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(row.try_get("id")?)
    }

    /// Resolves a token to its caller, ordinary session or device session; a device
    /// session's use is written (expiry moved forward, address noted) when the last written
    /// use is [`DEVICE_TOUCH_SECS`] old. Unknown, expired or revoked tokens and disabled
    /// accounts fail with [`Error::Unauthenticated`].
    pub async fn session(&self, token: &str, address: Option<&str>) -> Result<Session> {
        let hash = token_hash(token);
        let now = time::now();
        let ordinary = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS}, s.expires_at FROM sessions s JOIN accounts a ON a.id = s.account_id
             WHERE s.token_hash = $1"
        ))
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = ordinary {
            let expires_at: i64 = row.try_get("expires_at")?;
            let account = account_from_row(&row)?;
            if expires_at <= now || !account.active {
                return Err(Error::Unauthenticated);
            }
            return Ok(Session {
                principal: self.principal_of(account).await?,
                renewed_for: None,
            });
        }
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS}, d.id AS device_id, d.last_used_at, d.lifetime_secs, d.expires_at
             FROM device_sessions d JOIN accounts a ON a.id = d.account_id WHERE d.token_hash = $1"
        ))
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(Error::Unauthenticated)?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let account = account_from_row(&row)?;
        if expires_at <= now || !account.active || !matches!(account.role, Role::Hall { .. }) {
            return Err(Error::Unauthenticated);
        }
        let last_used_at: i64 = row.try_get("last_used_at")?;
        let lifetime: i64 = row.try_get("lifetime_secs")?;
        let mut renewed_for = None;
        if now - last_used_at >= DEVICE_TOUCH_SECS {
            sqlx::query(
                "UPDATE device_sessions SET last_used_at = $1, expires_at = $2,
                     address = COALESCE($3, address) WHERE id = $4",
            )
            .bind(now)
            .bind(now + lifetime)
            .bind(address)
            .bind(row.try_get::<i64, _>("device_id")?)
            .execute(&self.pool)
            .await?;
            renewed_for = Some(lifetime);
        }
        Ok(Session {
            principal: self.principal_of(account).await?,
            renewed_for,
        })
    }

    /// The device sessions of a hall's room accounts that have not expired, last used first.
    pub async fn hall_devices(&self, hall_id: i64) -> Result<Vec<DeviceSession>> {
        self.hall(hall_id).await?;
        let rows = sqlx::query(&format!(
            "{DEVICE_SELECT} WHERE a.hall_id = $1 AND d.expires_at > $2
             ORDER BY d.last_used_at DESC, d.id DESC"
        ))
        .bind(hall_id)
        .bind(time::now())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(device_from_row).collect()
    }

    /// How many live device sessions each hall has (halls without any are absent).
    pub async fn device_counts(&self) -> Result<HashMap<i64, i64>> {
        let rows = sqlx::query(
            "SELECT a.hall_id, COUNT(*) AS n FROM device_sessions d JOIN accounts a ON a.id = d.account_id
             WHERE d.expires_at > $1 AND a.hall_id IS NOT NULL GROUP BY a.hall_id",
        )
        .bind(time::now())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("hall_id")?, r.try_get("n")?)))
            .collect()
    }

    /// Revokes one device session of a hall (its next request goes to the login page);
    /// [`Error::NotFound`] `device` when the hall has no such one.
    pub async fn revoke_device(&self, hall_id: i64, device_id: i64) -> Result<DeviceSession> {
        let row = sqlx::query(&format!(
            "{DEVICE_SELECT} WHERE d.id = $1 AND a.hall_id = $2"
        ))
        .bind(device_id)
        .bind(hall_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(Error::NotFound("device"))?;
        sqlx::query("DELETE FROM device_sessions WHERE id = $1")
            .bind(device_id)
            .execute(&self.pool)
            .await?;
        device_from_row(&row)
    }

    /// Ends every session, device or ordinary, of a hall's room accounts (the hall was
    /// disabled).
    pub(crate) async fn revoke_hall_sessions(&self, hall_id: i64) -> Result<()> {
        for table in ["device_sessions", "sessions"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE account_id IN (SELECT id FROM accounts WHERE hall_id = $1)"
            ))
            .bind(hall_id)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_come_from_user_agents() {
        let chrome_win = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        assert_eq!(device_name(chrome_win), "Chrome 131 · Windows");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91";
        assert_eq!(device_name(edge), "Edge 120 · Windows");
        let firefox =
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(device_name(firefox), "Firefox 133 · Linux");
        let android = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36";
        assert_eq!(device_name(android), "Chrome 131 · Android");
        let safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15";
        assert_eq!(device_name(safari), "Safari 17 · macOS");
        assert_eq!(device_name("curl/8.5.0"), "");
        assert_eq!(device_name(""), "");
    }

    #[test]
    fn user_agents_are_kept_clean_and_short() {
        assert_eq!(clean_user_agent(Some("a\r\nb")), "ab");
        assert_eq!(clean_user_agent(Some(&"x".repeat(2000))).len(), 512);
        assert_eq!(clean_user_agent(None), "");
    }
}
