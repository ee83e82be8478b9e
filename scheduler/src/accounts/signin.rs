//! Signing in and out: the password check (throttled, on the hashing pool), the session
//! or kiosk device session it opens, and logout.

use sqlx::Row;

use super::{
    random_token, token_hash, verify_password_in, Client, Lifetimes, Principal, Role, SignedIn,
};
use crate::{time, Error, Result, Store};

impl Store {
    /// Checks a user name and password; on success opens a session of `ttl_secs`
    /// and returns its token (shown once, stored only as a hash). As [`Store::login_from`]
    /// without a client address.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        ttl_secs: i64,
    ) -> Result<(String, Principal)> {
        self.login_from(username, password, ttl_secs, None).await
    }

    /// A login from `address` (the client's IP, when known), always with an ordinary
    /// session of `ttl_secs`: [`Store::sign_in`] without a device lifetime.
    pub async fn login_from(
        &self,
        username: &str,
        password: &str,
        ttl_secs: i64,
        address: Option<&str>,
    ) -> Result<(String, Principal)> {
        let lifetimes = Lifetimes {
            session_secs: ttl_secs,
            device_secs: None,
        };
        let client = Client {
            address,
            user_agent: None,
        };
        let s = self.sign_in(username, password, lifetimes, client).await?;
        Ok((s.token, s.principal))
    }

    /// Checks a user name and password and opens a session: a device session of
    /// `lifetimes.device_secs` for a room account when that is given (see
    /// [`crate::devices`]), an ordinary one of `lifetimes.session_secs` otherwise. Refused
    /// without checking the password while the account name or the client's address waits
    /// after failed logins ([`Error::TooManyAttempts`]); the password check waits for a
    /// hashing slot ([`Error::Busy`] when none frees in time). A failure counts against
    /// both; success forgets the account name's failures. A room account whose hall is
    /// disabled is refused with [`Error::HallDisabled`] even with the right password.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        lifetimes: Lifetimes,
        client: Client<'_>,
    ) -> Result<SignedIn> {
        let address = client.address;
        let name = username.trim().to_ascii_lowercase();
        if name.len() > 64 || password.len() > 1024 {
            // No account has such a name; nothing that long is hashed.
            return Err(Error::BadCredentials);
        }
        let now = time::now();
        self.check_throttle(&name, address, now).await?;
        let row = sqlx::query("SELECT id, password_hash, active FROM accounts WHERE username = $1")
            .bind(&name)
            .fetch_optional(&self.pool)
            .await?;
        // Unknown names spend the same effort as a real check, so timing does not reveal them.
        let (id, hash, active) = match &row {
            Some(row) => (
                row.try_get::<i64, _>("id")?,
                row.try_get::<String, _>("password_hash")?,
                row.try_get::<i64, _>("active")?,
            ),
            None => (0, DUMMY_HASH.to_string(), 0),
        };
        let password = password.to_string();
        let ok = self
            .login_guard
            .hashing(address, move |memory| {
                verify_password_in(&password, &hash, memory)
            })
            .await?;
        if !ok || active != 1 || row.is_none() {
            self.record_failure(&name, address, now).await?;
            return Err(Error::BadCredentials);
        }
        self.clear_lockout(crate::LockKind::Account, &name).await?;
        let principal = self.principal_of(self.account(id).await?).await?;
        if let Role::Hall { hall_id } = principal.account.role {
            if !self.hall(hall_id).await?.active {
                return Err(Error::HallDisabled);
            }
        }
        let token = random_token();
        if let (Role::Hall { .. }, Some(device_secs)) =
            (principal.account.role, lifetimes.device_secs)
        {
            let device = self
                .open_device_session(id, &token, device_secs, address, client.user_agent)
                .await?;
            return Ok(SignedIn {
                token,
                principal,
                expires_at: now + device_secs,
                device: Some(device),
            });
        }
        let ttl_secs = lifetimes.session_secs;
        sqlx::query("INSERT INTO sessions (token_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash(&token))
            .bind(id)
            .bind(now)
            .bind(now + ttl_secs)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(SignedIn {
            token,
            principal,
            expires_at: now + ttl_secs,
            device: None,
        })
    }

    /// Revokes a session (logout), a device session too.
    pub async fn logout(&self, token: &str) -> Result<()> {
        for table in ["sessions", "device_sessions"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE token_hash = $1"))
                .bind(token_hash(token))
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }
}

/// A valid argon2 hash of a throwaway password, checked against when a user name is unknown.
pub(super) const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Q2x0u2d0lJ6X0o3cQmJ6b7Vq5Cwq2bYl2w1m7pQ9f0Y";
