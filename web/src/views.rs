//! JSON views of domain values: instants in UTC and in Việt Nam time, names beside ids.

use scheduler::time::{rfc3339_local, rfc3339_utc};
use scheduler::{Conflict, Meeting};
use serde_json::{json, Value};

/// A meeting as the API returns it.
pub fn meeting_view(m: &Meeting) -> Value {
    json!({
        "id": m.id,
        "series_id": m.series_id,
        "title": m.title,
        "description": m.description,
        "kind": m.kind,
        "status": m.status,
        "host_hall": { "id": m.host_hall_id, "name": m.host_hall_name },
        "starts_at": rfc3339_utc(m.starts_at),
        "starts_at_local": rfc3339_local(m.starts_at),
        "ends_at": rfc3339_utc(m.ends_at),
        "ends_at_local": rfc3339_local(m.ends_at),
        "scope": {
            "root_unit_id": m.scope.root_unit_id,
            "root_unit_name": m.scope_root_name,
            "levels": m.scope.levels,
            "include_halls": m.scope.include_halls,
            "exclude_halls": m.scope.exclude_halls,
        },
        "recurrence": m.recurrence,
        "override_reason": m.override_reason,
        "sequence": m.sequence,
        "invited": m.invited,
        "updated_at": rfc3339_utc(m.updated_at),
    })
}

/// A scheduling conflict as the API returns it.
pub fn conflict_view(c: &Conflict) -> Value {
    json!({
        "meeting_id": c.meeting_id,
        "title": c.title,
        "starts_at": rfc3339_utc(c.starts_at),
        "starts_at_local": rfc3339_local(c.starts_at),
        "ends_at": rfc3339_utc(c.ends_at),
        "ends_at_local": rfc3339_local(c.ends_at),
        "halls": c.halls,
        "hall_names": c.hall_names,
    })
}
