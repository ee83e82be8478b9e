//! Administration of accounts (`/admin/accounts`): list, create with a role, reset a
//! password, disable or re-enable, and see and clear login lockouts. Passwords are
//! hashed off the async threads, within the store's bounded hashing slots.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Form;
use minijinja::{context, Value};
use scheduler::time::{local_date, now};
use scheduler::{Error, NewAccount, Principal, Role};
use serde::Deserialize;

use super::auth::Admin;
use super::i18n::Lang;
use super::render::{page_with, see_other, PageError, PageResult};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct ListQuery {
    done: Option<String>,
}

/// The create form as sent (shown again after a refusal, without the password).
#[derive(Deserialize, Default, serde::Serialize)]
pub struct NewAccountForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default, skip_serializing)]
    password: String,
    #[serde(default)]
    role: String,
    /// GSO code of a secretariat's unit.
    #[serde(default)]
    unit_code: String,
    /// A room account's hall.
    #[serde(default)]
    hall_id: String,
}

async fn render(
    state: &AppState,
    who: &Principal,
    lang: Lang,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    form: &NewAccountForm,
) -> PageResult {
    let halls = state.store.halls_in("/").await?;
    let hall_names: HashMap<i64, &str> = halls.iter().map(|h| (h.id, h.name.as_str())).collect();
    let mut rows = Vec::new();
    for a in state.store.accounts().await? {
        let (role, place) = match a.role {
            Role::Admin => ("admin", String::new()),
            Role::Secretariat { unit_id } => (
                "secretariat",
                state
                    .store
                    .unit(unit_id)
                    .await
                    .map(|u| u.name)
                    .unwrap_or_default(),
            ),
            Role::Hall { hall_id } => (
                "hall",
                hall_names
                    .get(&hall_id)
                    .copied()
                    .unwrap_or_default()
                    .to_string(),
            ),
        };
        rows.push(context! { id => a.id, username => a.username, name => a.display_name, role => role, place => place, active => a.active });
    }
    let hall_options: Vec<Value> = halls
        .iter()
        .filter(|h| h.active)
        .map(|h| context! { id => h.id, name => h.name })
        .collect();
    let lockouts: Vec<Value> = state
        .store
        .lockouts(now())
        .await?
        .iter()
        .map(|l| {
            context! {
                kind => l.kind,
                key => l.key,
                failures => l.failures,
                until => scheduler::time::display_local(l.locked_until),
            }
        })
        .collect();
    let ctx = context! {
        lockouts => lockouts,
        accounts => rows,
        halls => hall_options,
        notice => notice,
        error => error,
        form => Value::from_serialize(form),
    };
    page_with(status, lang, Some(who), "admin_accounts.html", ctx)
}

/// `GET /admin/accounts`.
pub async fn list(
    State(state): State<AppState>,
    Admin { who, lang }: Admin,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let notice = match q.done.as_deref() {
        Some("created" | "password" | "disabled" | "enabled" | "unlocked") => q.done,
        _ => None,
    };
    let form = NewAccountForm {
        role: "hall".into(),
        ..NewAccountForm::default()
    };
    render(&state, &who, lang, StatusCode::OK, notice, None, &form).await
}

/// The role the form asks for.
async fn role_of(state: &AppState, f: &NewAccountForm) -> scheduler::Result<Role> {
    match f.role.as_str() {
        "admin" => Ok(Role::Admin),
        "secretariat" => {
            let unit = state
                .store
                .unit_by_code(f.unit_code.trim(), local_date(now()))
                .await
                .map_err(|_| Error::invalid("unit_code", "no unit has this GSO code"))?;
            Ok(Role::Secretariat { unit_id: unit.id })
        }
        "hall" => match f.hall_id.trim().parse() {
            Ok(hall_id) => Ok(Role::Hall { hall_id }),
            Err(_) => Err(Error::invalid("hall_id", "choose a hall")),
        },
        _ => Err(Error::invalid("role", "choose a role")),
    }
}

/// `POST /admin/accounts`: creates an account.
pub async fn create(
    State(state): State<AppState>,
    Admin { who, lang }: Admin,
    Form(f): Form<NewAccountForm>,
) -> PageResult {
    let created = async {
        let role = role_of(&state, &f).await?;
        let hash = state.store.hash_password(f.password.clone()).await?;
        let new = NewAccount {
            username: f.username.clone(),
            display_name: f.display_name.clone(),
            role,
        };
        state.store.create_account(new, &hash).await
    }
    .await;
    match created {
        Ok(_) => Ok(see_other("/admin/accounts?done=created")),
        Err(e @ (Error::Invalid { .. } | Error::Duplicate(_) | Error::NotFound(_))) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render(&state, &who, lang, status, None, Some(e.to_string()), &f).await
        }
        Err(e) => Err(PageError::Store(e)),
    }
}

#[derive(Deserialize)]
pub struct AccountChange {
    /// A new password (the reset form).
    password: Option<String>,
    /// `1` to enable, `0` to disable (the buttons).
    active: Option<u8>,
}

/// `POST /admin/accounts/{id}`: resets the password or disables/enables; both end its sessions.
pub async fn update(
    State(state): State<AppState>,
    Admin { who, lang }: Admin,
    Path(id): Path<i64>,
    Form(f): Form<AccountChange>,
) -> PageResult {
    let active = f.active.map(|a| a == 1);
    let done = match active {
        Some(true) => "enabled",
        Some(false) => "disabled",
        None => "password",
    };
    let changed = async {
        let hash = match f.password {
            Some(p) => Some(state.store.hash_password(p).await?),
            None => None,
        };
        let account = state
            .store
            .update_account(id, hash.as_deref(), active)
            .await?;
        if let Role::Hall { hall_id } = account.role {
            state.enforce_hall_access(hall_id).await?;
        }
        Ok(account)
    }
    .await;
    match changed {
        Ok(_) => Ok(see_other(&format!("/admin/accounts?done={done}"))),
        Err(e @ (Error::Invalid { .. } | Error::NotFound(_))) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            let form = NewAccountForm::default();
            render(&state, &who, lang, status, None, Some(e.to_string()), &form).await
        }
        Err(e) => Err(PageError::Store(e)),
    }
}

#[derive(Deserialize)]
pub struct LockoutForm {
    /// `account` or `address`.
    kind: String,
    /// The account name or the address.
    key: String,
}

/// `POST /admin/lockouts/clear`: lets an account name or address log in again at once.
pub async fn clear_lockout(
    State(state): State<AppState>,
    Admin { who, .. }: Admin,
    Form(f): Form<LockoutForm>,
) -> PageResult {
    let kind = scheduler::LockKind::parse(&f.kind)
        .ok_or_else(|| Error::invalid("kind", "must be account or address"))?;
    state.store.clear_lockout(kind, &f.key).await?;
    tracing::info!(?kind, key = f.key, by = who.account.id, "lockout cleared");
    Ok(see_other("/admin/accounts?done=unlocked"))
}
