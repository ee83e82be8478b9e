//! Signing in and out: the password check (throttled, on the hashing pool), the session
//! or kiosk device session it opens, and logout.

use sqlx::Row;

use super::{
    random_token, token_hash, verify_password_in, Client, Lifetimes, Principal, Role, SignedIn,
};
use crate::login_networks::NetworkStanding;
use crate::password_pool::Lane;
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
            ..Client::default()
        };
        let s = self.sign_in(username, password, lifetimes, client).await?;
        Ok((s.token, s.principal))
    }

    /// Checks a user name and password and opens a session: a device session of
    /// `lifetimes.device_secs` for a room account when that is given (see
    /// [`crate::devices`]), an ordinary one of `lifetimes.session_secs` otherwise. Refused
    /// without checking the password while the account name or the client's address waits
    /// after failed logins ([`Error::TooManyAttempts`]); the password check waits for a
    /// hashing slot ([`Error::Busy`] when none frees in time). A name with no account is
    /// refused without a check, after a delay drawn from recent checks' durations. A failure counts against
    /// both; success forgets the account name's failures. A room account whose hall is
    /// disabled is refused with [`Error::HallDisabled`] even with the right password.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        lifetimes: Lifetimes,
        client: Client<'_>,
    ) -> Result<SignedIn> {
        let name = username.trim().to_ascii_lowercase();
        if name.len() > 64 || password.len() > 1024 {
            // No account has such a name; nothing that long is hashed.
            return Err(Error::BadCredentials);
        }
        let now = time::now();
        let known = match client.known_device {
            Some(token) => self.is_known_device(token, &name, now).await?,
            None => false,
        };
        // A known device answers for itself: the lockout of the address it shares with
        // others (or with a flood) does not hold it, nor do its failures count there.
        let throttled = if known { None } else { client.address };
        let recent = self.check_throttle(&name, throttled, now).await?;
        let row = sqlx::query("SELECT id, password_hash, active FROM accounts WHERE username = $1")
            .bind(&name)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            // No such account: no argon2 (a flood of made-up names takes no hashing
            // slot), but the same answer after as long as a real check takes lately.
            tokio::time::sleep(self.login_guard.times.draw()).await;
            self.record_failure(&name, throttled, now).await?;
            return Err(Error::BadCredentials);
        };
        let id = row.try_get::<i64, _>("id")?;
        let hash = row.try_get::<String, _>("password_hash")?;
        let active = row.try_get::<i64, _>("active")?;
        let network = match throttled {
            Some(address) => self.network_standing(address, now).await?,
            None => NetworkStanding::default(),
        };
        // Who waits ahead of whom under a flood (see crate::password_pool): known devices,
        // then networks staff signed in from lately, then quiet accounts from never-seen
        // networks; an address that failed lately waits with the accounts under attack, and
        // so does a never-seen network that did.
        let lane = if known {
            Lane::KnownDevice
        } else if recent.address {
            Lane::Failing
        } else if network.known {
            Lane::KnownNetwork
        } else if recent.account || network.failing {
            Lane::Failing
        } else {
            Lane::Quiet(Some(&name))
        };
        let password = password.to_string();
        let asked = std::time::Instant::now();
        let ok = self
            .login_guard
            .hashing(client.address, lane, move |memory| {
                verify_password_in(&password, &hash, memory)
            })
            .await?;
        self.login_guard.times.record(asked.elapsed());
        if !ok || active != 1 {
            self.login_guard.failed(&name, throttled);
            self.record_failure(&name, throttled, now).await?;
            return Err(Error::BadCredentials);
        }
        self.clear_lockout(crate::LockKind::Account, &name).await?;
        if let Some(address) = client.address {
            self.network_succeeded(address, now).await?;
        }
        let principal = self.principal_of(self.account(id).await?).await?;
        if let Role::Hall { hall_id } = principal.account.role {
            if !self.hall(hall_id).await?.active {
                return Err(Error::HallDisabled);
            }
        }
        let device_secs = self.login_guard.policy.known_device_secs;
        let known_device = if known || device_secs <= 0 {
            None
        } else {
            let token = self.remember_login_device(id, now, device_secs).await?;
            Some((token, device_secs))
        };
        let token = random_token();
        if let (Role::Hall { .. }, Some(device_secs)) =
            (principal.account.role, lifetimes.device_secs)
        {
            let device = self
                .open_device_session(id, &token, device_secs, client.address, client.user_agent)
                .await?;
            return Ok(SignedIn {
                token,
                principal,
                expires_at: now + device_secs,
                device: Some(device),
                known_device,
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
            known_device,
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
