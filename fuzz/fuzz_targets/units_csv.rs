//! Fuzzes the unit-tree import: any file a secretariat uploads → `Store::import_units`
//! on an in-memory SQLite store (`parse_csv`, `paths`, the depth-ordered writes).
//!
//! Properties, beyond "never panics":
//! - a refused file writes nothing (the store, empty before, is still empty), and is
//!   refused as the client's mistake (`Error::Import`), not as ours;
//! - an accepted file, imported again, changes nothing (all rows `unchanged`).
//!
//! Each input starts from an empty store, so a crash reproduces from its input alone;
//! a store is replaced only after an accepted file wrote to it.
#![no_main]

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use scheduler::{Error, ImportOptions, Store};
use std::sync::{Mutex, OnceLock};
use tokio::runtime::Runtime;

/// The date `ImportOptions::default()` imports at.
fn valid_from() -> NaiveDate {
    ImportOptions::default().valid_from
}

async fn empty_store() -> Store {
    Store::connect("sqlite::memory:")
        .await
        .expect("an in-memory store")
}

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

/// The empty store for the next input (`None` until first use).
static STORE: Mutex<Option<Store>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let rt = runtime();
    let mut slot = STORE.lock().unwrap_or_else(|e| e.into_inner());
    let store = match slot.take() {
        Some(store) => store,
        None => rt.block_on(empty_store()),
    };
    rt.block_on(async {
        match store
            .import_units(data, ImportOptions::default(), |_, _| {})
            .await
        {
            Err(e) => {
                assert!(
                    matches!(e, Error::Import { .. }),
                    "a bad file is refused as an import error, not {e:?}"
                );
                let counts = store
                    .unit_counts(valid_from())
                    .await
                    .expect("counting units");
                assert!(counts.is_empty(), "a refused file wrote units: {counts:?}");
                *slot = Some(store);
            }
            Ok(first) => {
                let rows: u64 = first.per_level.values().sum();
                assert_eq!(first.inserted, rows, "an empty store inserts every row");
                let again = store
                    .import_units(data, ImportOptions::default(), |_, _| {})
                    .await
                    .expect("an accepted file is accepted again");
                assert_eq!(
                    (again.inserted, again.updated, again.unchanged),
                    (0, 0, rows),
                    "re-importing the same file changed something"
                );
                store.close().await;
                // The next input gets a fresh store (created lazily).
            }
        }
    });
});
