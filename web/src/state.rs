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
    /// The live rooms, to shut out a hall disabled by an administrator (none in tests
    /// of the pages alone).
    pub signaling: Option<signaling::Signaling>,
}

impl AppState {
    /// After an administrator changed a hall or a room account: if the hall may no
    /// longer take part (it, or every room account it has, is disabled), its live
    /// sockets are closed now rather than at its next join.
    pub async fn enforce_hall_access(&self, hall_id: i64) -> scheduler::Result<()> {
        if !self.store.hall_enabled(hall_id).await? {
            if let Some(signaling) = &self.signaling {
                signaling.shut_out_hall(hall_id).await;
            }
        }
        Ok(())
    }
}
