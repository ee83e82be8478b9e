//! Administration of the unit tree (`/admin/units`): counts per level, and importing a GSO
//! CSV file (the page's script sends the chosen file as the body of `POST /admin/units/import`).

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use chrono::NaiveDate;
use minijinja::{context, Value};
use scheduler::time::{local_date, now};
use scheduler::{Error, ImportOptions, Principal};
use serde::Deserialize;

use super::auth::Admin;
use super::i18n::Lang;
use super::render::{page_with, PageResult};
use crate::state::AppState;

async fn render(
    state: &AppState,
    who: &Principal,
    lang: Lang,
    status: StatusCode,
    result: Value,
) -> PageResult {
    let counts: Vec<Value> = state
        .store
        .unit_counts(local_date(now()))
        .await?
        .into_iter()
        .map(|(level, n)| context! { level => level.as_str(), count => n })
        .collect();
    let ctx = context! { counts => counts, result => result };
    page_with(status, lang, Some(who), "admin_units.html", ctx)
}

/// `GET /admin/units`.
pub async fn show(State(state): State<AppState>, Admin { who, lang }: Admin) -> PageResult {
    render(&state, &who, lang, StatusCode::OK, Value::from(())).await
}

#[derive(Deserialize)]
pub struct ImportQuery {
    valid_from: Option<String>,
    valid_to: Option<String>,
}

fn date(text: Option<&str>) -> Result<Option<NaiveDate>, ()> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| ()),
    }
}

/// `POST /admin/units/import?valid_from=&valid_to=` with the CSV file as the body.
pub async fn import(
    State(state): State<AppState>,
    Admin { who, lang }: Admin,
    Query(q): Query<ImportQuery>,
    headers: HeaderMap,
    body: Body,
) -> PageResult {
    let failed = |key: &'static str, detail: Option<String>| context! { ok => false, key => key, detail => detail };
    let multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/"));
    if multipart {
        let result = failed("admin.units.need_js", None);
        return render(
            &state,
            &who,
            lang,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            result,
        )
        .await;
    }
    let mut options = ImportOptions::default();
    match (date(q.valid_from.as_deref()), date(q.valid_to.as_deref())) {
        (Ok(from), Ok(to)) => {
            if let Some(from) = from {
                options.valid_from = from;
            }
            options.valid_to = to;
        }
        _ => {
            let result = failed("admin.units.bad_date", None);
            return render(&state, &who, lang, StatusCode::UNPROCESSABLE_ENTITY, result).await;
        }
    }
    let Ok(data) = axum::body::to_bytes(body, state.settings.max_import_bytes).await else {
        let result = failed("admin.units.too_large", None);
        return render(&state, &who, lang, StatusCode::PAYLOAD_TOO_LARGE, result).await;
    };
    match state.store.import_units(&data, options, |_, _| {}).await {
        Ok(report) => {
            let levels: Vec<Value> = report
                .per_level
                .iter()
                .map(|(level, n)| context! { level => level, count => n })
                .collect();
            let result = context! {
                ok => true,
                levels => levels,
                inserted => report.inserted,
                updated => report.updated,
                unchanged => report.unchanged,
            };
            render(&state, &who, lang, StatusCode::OK, result).await
        }
        Err(Error::Import {
            line,
            column,
            message,
        }) => {
            let result = context! { ok => false, key => "admin.units.failed", line => line, column => column, detail => message };
            render(&state, &who, lang, StatusCode::UNPROCESSABLE_ENTITY, result).await
        }
        Err(Error::Invalid { field, message }) => {
            let result = failed("admin.units.failed", Some(format!("{field}: {message}")));
            render(&state, &who, lang, StatusCode::UNPROCESSABLE_ENTITY, result).await
        }
        Err(e) => Err(e.into()),
    }
}
