//! The guests (khách mời) of a meeting on its page: the list with each guest's join link
//! and state, the form that adds one and the button that revokes one (staff only).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Form;
use minijinja::{context, Value};
use scheduler::time::display_local;
use scheduler::{Error, NewGuest, Principal};
use serde::Deserialize;

use super::auth::Staff;
use super::meeting::{render, Notice};
use super::render::{see_other, PageResult};
use crate::state::AppState;

/// The meeting's guests as the page lists them.
pub(super) async fn list(state: &AppState, who: &Principal, id: i64) -> Result<Value, Error> {
    let guests = state.store.guests(who, id).await?;
    let rows: Vec<Value> = guests
        .iter()
        .map(|g| {
            let contact: Vec<&str> = [g.phone.as_str(), g.email.as_str()]
                .into_iter()
                .filter(|c| !c.is_empty())
                .collect();
            context! {
                id => g.id,
                name => g.name,
                organisation => g.organisation,
                contact => contact.join(" · "),
                join => format!("/j/{}", g.join_token),
                revoked => g.revoked_at.map(display_local),
            }
        })
        .collect();
    Ok(Value::from(rows))
}

#[derive(Deserialize)]
pub struct GuestForm {
    name: String,
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
}

/// `POST /meetings/{id}/guests`: adds a guest; mistakes are shown above the form, which
/// keeps what was typed.
pub async fn add(
    State(state): State<AppState>,
    Staff { who, lang }: Staff,
    Path(id): Path<i64>,
    Form(f): Form<GuestForm>,
) -> PageResult {
    let new = NewGuest {
        name: f.name.clone(),
        organisation: Some(f.organisation.clone()),
        phone: Some(f.phone.clone()),
        email: Some(f.email.clone()),
    };
    let detail = match state.store.add_guest(&who, id, &new).await {
        Ok(_) => return Ok(see_other(&format!("/meetings/{id}#guests"))),
        Err(Error::Invalid { .. }) => new.check().err().map(|errors| {
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        }),
        Err(e @ Error::JoinRefused(_)) => Some(e.to_string()),
        Err(e) => return Err(e.into()),
    };
    let notice = Notice {
        key: Some("guest.not_added"),
        detail,
        guest_form: Some(context! {
            name => f.name, organisation => f.organisation, phone => f.phone, email => f.email,
        }),
        ..Notice::default()
    };
    render(
        &state,
        &who,
        lang,
        id,
        StatusCode::UNPROCESSABLE_ENTITY,
        notice,
    )
    .await
}

/// `POST /meetings/{id}/guests/{guest_id}/revoke`: the link stops working and the guest,
/// if in the meeting, is put out at once.
pub async fn revoke(
    State(state): State<AppState>,
    Staff { who, .. }: Staff,
    Path((id, guest_id)): Path<(i64, i64)>,
) -> PageResult {
    let guest = state.store.revoke_guest(&who, id, guest_id).await?;
    if let Some(signaling) = &state.signaling {
        signaling.shut_out_guest(guest.id).await;
    }
    Ok(see_other(&format!("/meetings/{id}#guests")))
}
