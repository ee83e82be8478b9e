//! Browsing the unit tree: a unit's children with counts, breadcrumbs, search without diacritics.

use axum::extract::{Query, State};
use minijinja::context;
use scheduler::time::{local_date, now};
use scheduler::Role;
use serde::Deserialize;

use super::auth::Staff;
use super::render::{page, PageResult};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct BrowseQuery {
    /// The unit to open; a secretariat starts at its own, the administrator at the roots.
    id: Option<i64>,
    /// A search (the form's fallback when scripts are off; the page searches live).
    q: Option<String>,
}

/// `GET /units?id=&q=`.
pub async fn browse(
    State(state): State<AppState>,
    Staff { who, lang }: Staff,
    Query(query): Query<BrowseQuery>,
) -> PageResult {
    let today = local_date(now());
    let own = match who.account.role {
        Role::Secretariat { unit_id } => Some(unit_id),
        _ => None,
    };
    let id = query.id.or(own);
    let (unit, ancestry, halls) = match id {
        Some(id) => {
            let unit = state.store.unit(id).await?;
            // Halls only inside the caller's own unit (as `GET /halls?unit=`).
            let halls: Vec<_> = if who.covers(&unit.path) {
                state.store.halls_in(&unit.path).await?
            } else {
                Vec::new()
            }
            .into_iter()
            .filter(|h| h.unit_id == id)
            .collect();
            (Some(unit), state.store.unit_ancestry(id).await?, halls)
        }
        None => (None, Vec::new(), Vec::new()),
    };
    let children = state.store.unit_children(id, today).await?;
    let q = query.q.unwrap_or_default();
    let results = if q.trim().is_empty() {
        Vec::new()
    } else {
        // A secretariat searches its own subtree (names repeat across the country).
        let within = who.scope_path.as_deref();
        state.store.search_units(&q, today, within, 50).await?
    };
    page(
        lang,
        Some(&who),
        "units.html",
        context! {
            unit => unit,
            ancestry => ancestry,
            children => children,
            halls => halls,
            q => q,
            results => results,
            within => own,
        },
    )
}
