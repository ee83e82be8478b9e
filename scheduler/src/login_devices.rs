//! Known login devices (OWASP "device cookies"): a browser that logged in to an account
//! keeps a long-lived random token bound to that account. A later login of the same
//! account presenting it is a *known device*: its password check waits in a lane served
//! before every other ([`crate::password_pool::Lane::KnownDevice`]) and the lockout of
//! its client address (set off by others sharing it, or by a flood) does not hold it; the
//! account's own wrong-password throttling still does. It is the way in for the user of
//! an account under attack: other logins of an account failing now wait behind quiet
//! accounts' ([`crate::password_pool::Lane::Failing`]).
//!
//! Only the token's SHA-256 is stored. A token names one account: presented with another
//! account's name it counts for nothing. Changing the account's password or disabling it
//! forgets its devices.

use sqlx::Row;

use crate::accounts::{random_token, token_hash};
use crate::time::Timestamp;
use crate::{Result, Store};

impl Store {
    /// Remembers a new known device of `account_id` for `lifetime_secs` from `now`;
    /// returns its token (for the browser's cookie, shown once). Expired devices of every
    /// account are forgotten on the way.
    pub(crate) async fn remember_login_device(
        &self,
        account_id: i64,
        now: Timestamp,
        lifetime_secs: i64,
    ) -> Result<String> {
        sqlx::query("DELETE FROM login_devices WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        let token = random_token();
        sqlx::query(
            "INSERT INTO login_devices (token_hash, account_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash(&token))
        .bind(account_id)
        .bind(now)
        .bind(now + lifetime_secs)
        .execute(&self.pool)
        .await?;
        Ok(token)
    }

    /// Whether `token` is a live known device of the account named `username` (lower case).
    pub(crate) async fn is_known_device(
        &self,
        token: &str,
        username: &str,
        now: Timestamp,
    ) -> Result<bool> {
        if token.len() != 64 {
            // Not one of ours (random_token is 64 hex digits): no database round trip.
            return Ok(false);
        }
        let row = sqlx::query(
            "SELECT a.username FROM login_devices d JOIN accounts a ON a.id = d.account_id
             WHERE d.token_hash = $1 AND d.expires_at > $2",
        )
        .bind(token_hash(token))
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(row.try_get::<String, _>("username")? == username),
            None => Ok(false),
        }
    }

    /// Forgets every known device of an account (its password changed, or it was disabled).
    pub(crate) async fn forget_login_devices(&self, account_id: i64) -> Result<()> {
        sqlx::query("DELETE FROM login_devices WHERE account_id = $1")
            .bind(account_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Known devices of an account that have not expired (tests, administrators' counts).
    pub async fn login_device_count(&self, account_id: i64) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM login_devices WHERE account_id = $1 AND expires_at > $2",
        )
        .bind(account_id)
        .bind(crate::time::now())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }
}
