//! Shared server state handed to every handler.

use std::sync::Arc;

use scheduler::Store;

use crate::settings::Settings;

/// What handlers need: the store and the settings. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The scheduler's store.
    pub store: Store,
    /// The settings the server runs with.
    pub settings: Arc<Settings>,
    /// Base URL for links handed to halls (join links, calendar feeds).
    pub public_base: Arc<str>,
}
