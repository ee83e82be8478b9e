//! Accounts, roles, passwords (argon2) and login sessions that expire and can be revoked.

mod signin;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{Output, ParamsString, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::password_pool::Memory;
use crate::{time, Error, Result, Store};

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Role {
    /// Quản trị: everything.
    Admin,
    /// Văn phòng of a unit: schedules and sees meetings of that unit's subtree.
    Secretariat { unit_id: i64 },
    /// A hall's room account (kiosk): sees and joins its own meetings.
    Hall { hall_id: i64 },
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Secretariat { .. } => "secretariat",
            Role::Hall { .. } => "hall",
        }
    }
}

/// An account as listed (never with its password hash).
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    /// Our id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Name shown in pages ("Văn phòng UBND tỉnh Phú Thọ").
    pub display_name: String,
    /// What it may do.
    #[serde(flatten)]
    pub role: Role,
    /// Disabled accounts cannot log in.
    pub active: bool,
}

/// The logged-in caller, resolved from a session token on every request.
#[derive(Debug, Clone, Serialize)]
pub struct Principal {
    /// The account.
    #[serde(flatten)]
    pub account: Account,
    /// For a secretariat: its unit's path, the subtree it may act in.
    pub scope_path: Option<String>,
}

/// How long sessions last, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// An ordinary session (staff; room accounts without a device lifetime).
    pub session_secs: i64,
    /// A room account's device session, sliding; `None`: room accounts get ordinary ones.
    pub device_secs: Option<i64>,
}

/// What is known of the client logging in.
#[derive(Debug, Clone, Copy, Default)]
pub struct Client<'a> {
    /// Its IP address (throttling; shown for device sessions).
    pub address: Option<&'a str>,
    /// Its browser's user agent (a device session's name).
    pub user_agent: Option<&'a str>,
    /// The known-device token its browser holds from an earlier login, if any (see
    /// [`crate::login_devices`]).
    pub known_device: Option<&'a str>,
}

/// A successful login.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The session's secret (shown once, stored only as a hash).
    pub token: String,
    /// Who logged in.
    pub principal: Principal,
    /// When the session ends (a device session: unless used before).
    pub expires_at: crate::time::Timestamp,
    /// The device session's id, when one was opened.
    pub device: Option<i64>,
    /// A new known-device token for the browser's cookie, and its lifetime in seconds:
    /// given when the login did not present a valid one for this account.
    pub known_device: Option<(String, i64)>,
}

/// A new account's fields.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: String,
    pub display_name: String,
    pub role: Role,
}

/// Hashes a password with argon2id and a random salt (slow on purpose: run off the async threads).
pub fn hash_password(password: &str) -> Result<String> {
    if password.chars().count() < 8 {
        return Err(Error::invalid("password", "must be at least 8 characters"));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("hashing failed: {e}")))
}

/// As [`hash_password`], computed in a password-check thread's own argon2 memory
/// (see [`crate::password_pool`]) instead of a fresh 19 MiB allocation.
pub(crate) fn hash_password_in(password: &str, memory: &mut Memory) -> Result<String> {
    if password.chars().count() < 8 {
        return Err(Error::invalid("password", "must be at least 8 characters"));
    }
    let failed = |e: &dyn std::fmt::Display| Error::Internal(format!("hashing failed: {e}"));
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(|e| failed(&e))?;
    let params = Params::default();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    memory
        .with_blocks(params.block_count(), |blocks| {
            argon2.hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut out, blocks)
        })
        .ok_or_else(|| failed(&"too much memory"))?
        .map_err(|e| failed(&e))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| failed(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC argon2 `hash`: the hash is computed again with the
/// stored algorithm, version, parameters and salt in `memory`, and compared in constant
/// time ([`Output`]'s equality). Anything unreadable is a mismatch.
pub(crate) fn verify_password_in(password: &str, hash: &str, memory: &mut Memory) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = [0u8; Output::MAX_LENGTH];
    let Some(out) = out.get_mut(..expected.len()) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let computed = memory.with_blocks(params.block_count(), |blocks| {
        argon2.hash_password_into_with_memory(password.as_bytes(), salt, out, blocks)
    });
    matches!(computed, Some(Ok(()))) && Output::new(out).is_ok_and(|computed| computed == expected)
}

/// A fresh unguessable token: 32 random bytes, hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn parse_username(s: &str) -> Result<String> {
    let s = s.trim();
    let ok = (3..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !ok {
        return Err(Error::invalid(
            "username",
            "3 to 64 of a-z, 0-9, '.', '_', '-'",
        ));
    }
    Ok(s.to_ascii_lowercase())
}

pub(crate) const ACCOUNT_COLUMNS: &str =
    "a.id, a.username, a.display_name, a.role, a.unit_id, a.hall_id, a.active";

pub(crate) fn account_from_row(r: &AnyRow) -> Result<Account> {
    let role: String = r.try_get("role")?;
    let unit_id: Option<i64> = r.try_get("unit_id")?;
    let hall_id: Option<i64> = r.try_get("hall_id")?;
    let role = match (role.as_str(), unit_id, hall_id) {
        ("admin", _, _) => Role::Admin,
        ("secretariat", Some(unit_id), _) => Role::Secretariat { unit_id },
        ("hall", _, Some(hall_id)) => Role::Hall { hall_id },
        _ => {
            return Err(Error::Internal(format!(
                "account with inconsistent role {role}"
            )))
        }
    };
    let active: i64 = r.try_get("active")?;
    Ok(Account {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        role,
        active: active == 1,
    })
}

impl Store {
    /// Creates an account with an already computed password hash (see [`hash_password`]).
    pub async fn create_account(&self, new: NewAccount, password_hash: &str) -> Result<Account> {
        let username = parse_username(&new.username)?;
        let display_name = new.display_name.trim();
        if display_name.is_empty()
            || display_name.chars().count() > 200
            || display_name.chars().any(char::is_control)
        {
            return Err(Error::invalid(
                "display_name",
                "must be 1 to 200 characters, without control characters",
            ));
        }
        let (unit_id, hall_id) = match new.role {
            Role::Admin => (None, None),
            Role::Secretariat { unit_id } => {
                self.unit(unit_id).await?;
                (Some(unit_id), None)
            }
            Role::Hall { hall_id } => {
                self.hall(hall_id).await?;
                (None, Some(hall_id))
            }
        };
        let taken = sqlx::query("SELECT id FROM accounts WHERE username = $1")
            .bind(&username)
            .fetch_optional(&self.pool)
            .await?;
        if taken.is_some() {
            return Err(Error::Duplicate(format!("username {username}")));
        }
        let row = sqlx::query(
            "INSERT INTO accounts (username, display_name, password_hash, role, unit_id, hall_id, active, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, 1, $7) RETURNING id",
        )
        .bind(&username)
        .bind(display_name)
        .bind(password_hash)
        .bind(new.role.as_str())
        .bind(unit_id)
        .bind(hall_id)
        .bind(time::now())
        .fetch_one(&self.pool)
        .await?;
        self.account(row.try_get("id")?).await
    }

    /// One account by id.
    pub async fn account(&self, id: i64) -> Result<Account> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(Error::NotFound("account"))?;
        account_from_row(&row)
    }

    /// Every account, by user name.
    pub async fn accounts(&self) -> Result<Vec<Account>> {
        let rows = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts a ORDER BY a.username"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(account_from_row).collect()
    }

    /// Sets a new password hash or (de)activates an account; either revokes its sessions,
    /// device sessions included.
    pub async fn update_account(
        &self,
        id: i64,
        password_hash: Option<&str>,
        active: Option<bool>,
    ) -> Result<Account> {
        self.account(id).await?;
        if let Some(hash) = password_hash {
            sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2")
                .bind(hash)
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        if let Some(active) = active {
            sqlx::query("UPDATE accounts SET active = $1 WHERE id = $2")
                .bind(if active { 1i64 } else { 0 })
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        if password_hash.is_some() || active == Some(false) {
            self.forget_login_devices(id).await?;
            for table in ["sessions", "device_sessions"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE account_id = $1"))
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
            }
        }
        self.account(id).await
    }

    /// Resolves a session token to its caller; unknown, expired or revoked tokens fail.
    /// As [`Store::session`] without the client's address.
    pub async fn authenticate(&self, token: &str) -> Result<Principal> {
        Ok(self.session(token, None).await?.principal)
    }

    /// The principal of an account by user name, without a password: for the server's
    /// own actions (seeding, tests), never for requests.
    pub async fn principal_by_username(&self, username: &str) -> Result<Principal> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(Error::NotFound("account"))?;
        self.principal_of(account_from_row(&row)?).await
    }

    pub(crate) async fn principal_of(&self, account: Account) -> Result<Principal> {
        let scope_path = match account.role {
            Role::Secretariat { unit_id } => Some(self.unit(unit_id).await?.path),
            _ => None,
        };
        Ok(Principal {
            account,
            scope_path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use argon2::password_hash::PasswordVerifier;

    /// argon2's own check, for comparison with the pool's.
    fn verify_password(password: &str, hash: &str) -> bool {
        PasswordHash::new(hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    }

    #[test]
    fn passwords_verify_and_tokens_are_long() {
        let mut memory = Memory::default();
        let h = hash_password("mật khẩu dài").unwrap();
        assert!(verify_password_in("mật khẩu dài", &h, &mut memory));
        assert!(!verify_password_in("mat khau dai", &h, &mut memory));
        // Made in the thread's memory, checked by argon2 itself, and the other way round.
        let pooled = hash_password_in("mật khẩu dài", &mut memory).unwrap();
        assert!(
            pooled.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{pooled}"
        );
        assert!(verify_password("mật khẩu dài", &pooled));
        assert!(!verify_password("mật khẩu dàI", &pooled));
        assert!(verify_password_in("mật khẩu dài", &pooled, &mut memory));
        // Other parameters (an older hash) are checked with a temporary block.
        let light = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 3, 1, None).unwrap(),
        )
        .hash_password(b"mat-khau-cu", &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string();
        assert!(verify_password_in("mat-khau-cu", &light, &mut memory));
        assert!(!verify_password_in("mat-khau-moi", &light, &mut memory));
        assert!(!verify_password_in(
            "mat-khau-cu",
            "không phải hash",
            &mut memory
        ));
        assert!(hash_password("short").is_err());
        assert!(hash_password_in("short", &mut memory).is_err());
        assert_eq!(random_token().len(), 64);
        assert_ne!(random_token(), random_token());
    }

    #[test]
    fn usernames_are_checked() {
        assert_eq!(parse_username(" VP.TanSon ").unwrap(), "vp.tanson");
        assert!(parse_username("a b").is_err());
    }
}
