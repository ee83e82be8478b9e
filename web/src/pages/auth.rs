//! Who is looking at a page: extractors that log in, or refuse with a page, before a handler runs.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use scheduler::Principal;

use super::i18n::Lang;
use super::render::PageError;
use crate::extract::caller;
use crate::state::AppState;

/// The page's language, as chosen by the layer.
fn lang_of(parts: &Parts) -> Lang {
    parts.extensions.get::<Lang>().copied().unwrap_or_default()
}

/// The caller if logged in (expired or unknown sessions count as nobody).
async fn principal(parts: &mut Parts, state: &AppState) -> Result<Option<Principal>, PageError> {
    Ok(caller(parts, state).await?)
}

/// Where to come back to after logging in.
fn here(parts: &Parts) -> String {
    parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into())
}

/// Anyone, logged in or not.
pub struct Visitor {
    pub who: Option<Principal>,
    pub lang: Lang,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        Ok(Visitor {
            who: principal(parts, state).await?,
            lang: lang_of(parts),
        })
    }
}

/// Any logged-in account; nobody is sent to the login page.
pub struct Viewer {
    pub who: Principal,
    pub lang: Lang,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        match principal(parts, state).await? {
            Some(who) => Ok(Viewer {
                who,
                lang: lang_of(parts),
            }),
            None => Err(PageError::Login { next: here(parts) }),
        }
    }
}

/// An administrator or a secretariat; a room account gets the 403 page.
pub struct Staff {
    pub who: Principal,
    pub lang: Lang,
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let Viewer { who, lang } = Viewer::from_request_parts(parts, state).await?;
        who.require_staff()?;
        Ok(Staff { who, lang })
    }
}

/// The administrator; everyone else gets the 403 page.
pub struct Admin {
    pub who: Principal,
    pub lang: Lang,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let Viewer { who, lang } = Viewer::from_request_parts(parts, state).await?;
        who.require_admin()?;
        Ok(Admin { who, lang })
    }
}
