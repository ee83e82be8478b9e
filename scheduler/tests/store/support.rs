//! Helpers shared by the store tests: a demo-seeded database and shorthand lookups.

use chrono::NaiveDate;
use scheduler::demo::{self, DemoOptions};
use scheduler::testing::TestDb;
use scheduler::time::{local_date, now};
use scheduler::{Backend, Hall, Level, Principal, Scope, Store};

pub use scheduler::testing::demo_hash;

/// A fresh database with the Phú Thọ demo (no sample meetings).
pub async fn demo_db(backend: Backend) -> TestDb {
    let db = TestDb::new(backend).await.expect("a fresh test database");
    demo::seed(
        &db.store,
        DemoOptions {
            whole_country: false,
            meetings: false,
        },
        demo_hash(),
    )
    .await
    .expect("demo data loads");
    db
}

pub fn today() -> NaiveDate {
    local_date(now())
}

pub async fn unit_id(store: &Store, code: &str) -> i64 {
    store
        .unit_by_code(code, today())
        .await
        .expect("unit exists")
        .id
}

pub async fn hall_of(store: &Store, code: &str) -> Hall {
    let unit = store
        .unit_by_code(code, today())
        .await
        .expect("unit exists");
    store
        .halls_in(&unit.path)
        .await
        .expect("halls")
        .into_iter()
        .find(|h| h.unit_id == unit.id)
        .expect("a hall per unit")
}

/// Huyện Tân Sơn (unit code 240) of the demo and three of its halls: its own (the host of
/// most meetings in these tests) and two communes' (08578, 08545).
pub async fn tan_son_halls(store: &Store) -> (i64, [i64; 3]) {
    let unit = unit_id(store, "240").await;
    let mut halls = [0; 3];
    for (hall, code) in halls.iter_mut().zip(["240", "08578", "08545"]) {
        *hall = hall_of(store, code).await.id;
    }
    (unit, halls)
}

pub async fn who(store: &Store, username: &str) -> Principal {
    store
        .principal_by_username(username)
        .await
        .expect("account exists")
}

pub fn scope(root_unit_id: i64, levels: &[Level]) -> Scope {
    Scope {
        root_unit_id,
        levels: levels.iter().copied().collect(),
        include_halls: Default::default(),
        exclude_halls: Default::default(),
    }
}
