//! Guards around password logins: a bounded number of argon2 checks at once on a fixed
//! pool of threads, each reusing its one ~19 MiB block, known devices first, then
//! networks staff signed in from lately, then accounts with no recent failures, then
//! accounts failing now, fairly per client network
//! and address within each (see [`crate::password_pool`]; the rest wait a little, then
//! get [`Error::Busy`]), and throttling per account name and per client address with a
//! growing delay ([`Error::TooManyAttempts`]), checked before a login queues for a
//! check, so a throttled account name or address costs no hash. A login naming no
//! account runs no check at all: it is answered after a delay drawn from the recent real
//! checks' durations ([`check_times`]), so a flood of made-up names costs a timer each.
//!
//! Failures are rows of `login_failures`, so a lockout survives a restart and holds on
//! every node sharing the database; an administrator lists ([`Store::lockouts`]) and
//! clears ([`Store::clear_lockout`]) them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sqlx::Row;

use crate::password_pool::{Lane, Memory, PasswordPool};
use crate::time::Timestamp;
use crate::{Error, Result, Store};

mod check_times;

pub(crate) use check_times::CheckTimes;

/// How logins are guarded.
#[derive(Debug, Clone)]
pub struct LoginPolicy {
    /// Password checks (and hashes) running at once: the pool's threads, each holding
    /// one argon2 block (~19 MiB).
    pub hash_slots: usize,
    /// How long a login waits for a slot before [`Error::Busy`].
    pub hash_wait: Duration,
    /// Logins waiting for a slot, at most (beyond it the address waiting most gives way).
    pub hash_queue: usize,
    /// Failures of one account name before it waits.
    pub account_free_attempts: u32,
    /// Failures from one address (whatever the account) before it waits.
    pub address_free_attempts: u32,
    /// The first wait, doubled with every further failure.
    pub lock_base_secs: i64,
    /// The longest wait.
    pub lock_max_secs: i64,
    /// Failures older than this are forgotten.
    pub forget_after_secs: i64,
    /// An account whose last failure is older than this (or that has none) is quiet: its
    /// logins' checks go before those of accounts failing now (see
    /// [`crate::password_pool`]).
    pub quiet_after_secs: i64,
    /// How long a known login device lasts after the login that made it (a browser's
    /// device cookie, see [`crate::login_devices`]); 0: no device cookies.
    pub known_device_secs: i64,
    /// How long a client network (IPv4 /24, IPv6 /64) is known after a successful login
    /// from it, of any account: its logins go before those of never-seen networks (see
    /// [`crate::login_networks`]); 0: none is.
    pub known_network_secs: i64,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        LoginPolicy {
            hash_slots: std::thread::available_parallelism().map_or(2, |n| n.get().min(8)),
            hash_wait: Duration::from_secs(10),
            hash_queue: 1024,
            account_free_attempts: 5,
            address_free_attempts: 30,
            lock_base_secs: 5,
            lock_max_secs: 15 * 60,
            forget_after_secs: 24 * 3600,
            quiet_after_secs: 15 * 60,
            known_device_secs: 365 * 24 * 3600,
            known_network_secs: 30 * 24 * 3600,
        }
    }
}

/// The policy and the hashing slots a store's logins share.
#[derive(Debug, Clone)]
pub(crate) struct LoginGuard {
    pub policy: LoginPolicy,
    pool: PasswordPool,
    pub counts: Arc<LoginCounters>,
    /// How long real checks took lately (the delay of an answer for an unknown name).
    pub times: Arc<CheckTimes>,
}

/// Logins counted since start (for `/metrics`).
#[derive(Debug, Default)]
pub(crate) struct LoginCounters {
    failures: AtomicU64,
    locks: AtomicU64,
    refused_locked: AtomicU64,
    busy: AtomicU64,
}

/// A snapshot of the login counters since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LoginCounts {
    /// Wrong passwords (and unknown or disabled accounts).
    pub failures: u64,
    /// Failures that locked (or kept locked) an account name or an address.
    pub locks: u64,
    /// Logins refused unchecked because the account name or address was locked.
    pub refused_locked: u64,
    /// Logins told 503 `busy`: no password-check thread within the wait, or no room in the
    /// queue for their address.
    pub busy: u64,
}

impl Default for LoginGuard {
    fn default() -> Self {
        LoginGuard::new(LoginPolicy::default())
    }
}

impl LoginGuard {
    fn new(policy: LoginPolicy) -> Self {
        let pool = PasswordPool::new(policy.hash_slots, policy.hash_queue, policy.hash_wait);
        LoginGuard {
            policy,
            pool,
            counts: Arc::default(),
            times: Arc::default(),
        }
    }

    /// Runs `work` (an argon2 check or hash) on a pool thread with its argon2 memory, in
    /// `lane`, in the turn of `client` (its address) there; [`Error::Busy`] if it finds
    /// no room or no thread within the policy's wait.
    pub async fn hashing<T: Send + 'static>(
        &self,
        client: Option<&str>,
        lane: Lane<'_>,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<T> {
        self.pool.run(client, lane, work).await.inspect_err(|e| {
            if matches!(e, Error::Busy) {
                self.counts.busy.fetch_add(1, Ordering::Relaxed);
            }
        })
    }

    /// A password check of `account` from `address` failed: its other logins waiting as
    /// a quiet account's, and the quiet ones from `address`'s network, now wait with the
    /// failing ones, and so do those from `address` waiting as a known network's.
    pub fn failed(&self, account: &str, address: Option<&str>) {
        self.pool.failed(account, address);
    }
}

/// Whether a login's account name and client address failed lately (within the
/// policy's `quiet_after_secs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RecentFailures {
    pub account: bool,
    pub address: bool,
}

/// What is throttled: an account name or a client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LockKind {
    Account,
    Address,
}

impl LockKind {
    fn as_str(self) -> &'static str {
        match self {
            LockKind::Account => "account",
            LockKind::Address => "address",
        }
    }

    /// `account` or `address`.
    pub fn parse(s: &str) -> Option<LockKind> {
        [LockKind::Account, LockKind::Address]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// An account name or address that must wait before its next login.
#[derive(Debug, Clone, Serialize)]
pub struct Lockout {
    pub kind: LockKind,
    /// The account name or the address.
    pub key: String,
    /// Failures counted (forgotten a day after the last).
    pub failures: i64,
    pub last_failure: Timestamp,
    /// No login is checked before this.
    pub locked_until: Timestamp,
}

impl Store {
    /// Guards this store's logins with `policy` (the server's settings).
    pub fn with_login_policy(mut self, policy: LoginPolicy) -> Self {
        self.login_guard = LoginGuard::new(policy);
        self
    }

    /// Logins counted since start (failures, locks, refusals while locked, busy).
    pub fn login_counts(&self) -> LoginCounts {
        let c = &self.login_guard.counts;
        LoginCounts {
            failures: c.failures.load(Ordering::Relaxed),
            locks: c.locks.load(Ordering::Relaxed),
            refused_locked: c.refused_locked.load(Ordering::Relaxed),
            busy: c.busy.load(Ordering::Relaxed),
        }
    }

    /// Hashes a new password within the bounded hashing slots (for signed-in staff: in
    /// the quiet lane).
    pub async fn hash_password(&self, password: String) -> Result<String> {
        self.login_guard
            .hashing(None, Lane::Quiet(None), move |memory| {
                crate::accounts::hash_password_in(&password, memory)
            })
            .await?
    }

    /// The throttled subjects of a login attempt.
    fn subjects<'a>(account: &'a str, address: Option<&'a str>) -> Vec<(LockKind, &'a str)> {
        let mut out = vec![(LockKind::Account, account)];
        out.extend(address.map(|a| (LockKind::Address, a)));
        out
    }

    /// Fails with [`Error::TooManyAttempts`] while the account name or the address waits.
    /// Otherwise says whether each failed lately: within the policy's `quiet_after_secs`.
    pub(crate) async fn check_throttle(
        &self,
        account: &str,
        address: Option<&str>,
        now: Timestamp,
    ) -> Result<RecentFailures> {
        let mut until = 0;
        let mut recent = RecentFailures::default();
        for (kind, subject) in Self::subjects(account, address) {
            let row = sqlx::query(
                "SELECT locked_until, last_failure FROM login_failures
                 WHERE kind = $1 AND subject = $2",
            )
            .bind(kind.as_str())
            .bind(subject)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(row) = row {
                until = until.max(row.try_get::<i64, _>("locked_until")?);
                let last: i64 = row.try_get("last_failure")?;
                let lately = last > now - self.login_guard.policy.quiet_after_secs;
                match kind {
                    LockKind::Account => recent.account = lately,
                    LockKind::Address => recent.address = lately,
                }
            }
        }
        if until > now {
            let counts = &self.login_guard.counts;
            counts.refused_locked.fetch_add(1, Ordering::Relaxed);
            return Err(Error::TooManyAttempts { until });
        }
        Ok(recent)
    }

    /// Counts a failed login against the account name, the address and its network;
    /// past their free attempts the account name and the address each wait
    /// `base × 2^(extra failures)`, at most the policy's maximum.
    pub(crate) async fn record_failure(
        &self,
        account: &str,
        address: Option<&str>,
        now: Timestamp,
    ) -> Result<()> {
        let p = &self.login_guard.policy;
        let counts = &self.login_guard.counts;
        counts.failures.fetch_add(1, Ordering::Relaxed);
        let mut locked = false;
        sqlx::query("DELETE FROM login_failures WHERE last_failure < $1 AND locked_until < $2")
            .bind(now - p.forget_after_secs)
            .bind(now)
            .execute(&self.pool)
            .await?;
        for (kind, subject) in Self::subjects(account, address) {
            let free = i64::from(match kind {
                LockKind::Account => p.account_free_attempts,
                LockKind::Address => p.address_free_attempts,
            });
            let before: i64 =
                sqlx::query("SELECT failures FROM login_failures WHERE kind = $1 AND subject = $2")
                    .bind(kind.as_str())
                    .bind(subject)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|r| r.try_get("failures"))
                    .transpose()?
                    .unwrap_or(0);
            let failures = before + 1;
            let locked_until = if failures >= free {
                let doublings = u32::try_from((failures - free).min(30)).unwrap_or(30);
                now + p
                    .lock_base_secs
                    .saturating_mul(1i64 << doublings)
                    .min(p.lock_max_secs)
            } else {
                0
            };
            locked |= locked_until > 0;
            sqlx::query(
                "INSERT INTO login_failures (kind, subject, failures, last_failure, locked_until)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (kind, subject) DO UPDATE
                 SET failures = $3, last_failure = $4, locked_until = $5",
            )
            .bind(kind.as_str())
            .bind(subject)
            .bind(failures)
            .bind(now)
            .bind(locked_until)
            .execute(&self.pool)
            .await?;
        }
        if locked {
            counts.locks.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(address) = address {
            self.network_failed(address, now).await?;
            tracing::warn!(account, address, "failed login");
        }
        Ok(())
    }

    /// Who waits now, longest wait first (administrators).
    pub async fn lockouts(&self, now: Timestamp) -> Result<Vec<Lockout>> {
        let rows = sqlx::query(
            "SELECT kind, subject, failures, last_failure, locked_until FROM login_failures
             WHERE locked_until > $1 ORDER BY locked_until DESC, kind, subject",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind")?;
                Ok(Lockout {
                    kind: LockKind::parse(&kind)
                        .ok_or_else(|| Error::Internal(format!("lock kind {kind}")))?,
                    key: r.try_get("subject")?,
                    failures: r.try_get("failures")?,
                    last_failure: r.try_get("last_failure")?,
                    locked_until: r.try_get("locked_until")?,
                })
            })
            .collect()
    }

    /// Forgets the failures of an account name or address (an administrator, or a
    /// successful login of that account). Returns whether there were any.
    pub async fn clear_lockout(&self, kind: LockKind, key: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM login_failures WHERE kind = $1 AND subject = $2")
            .bind(kind.as_str())
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests;
