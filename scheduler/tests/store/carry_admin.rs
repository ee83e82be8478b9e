//! The administrator's carry (`Store::plan_carry` behind `/admin/carry`): a preview that
//! writes nothing, an apply that moves once, listed halls placed one by one with their
//! history, secretariats of ended districts re-pointed or disabled, and a broken mapping
//! refused with its lines and codes.

use std::collections::HashMap;

use chrono::NaiveDate;
use scheduler::carry::{CarryKind, CarryPlan, ReviewReason};
use scheduler::demo::{
    DemoOptions, COMMUNES_2024_TO_2025_CSV, PROVINCES_2024_TO_2025_CSV, UNITS_2024_CSV,
};
use scheduler::demo_today::seed_both_trees;
use scheduler::testing::{demo_hash, TestDb};
use scheduler::{Backend, Error, Level, Role, Store};

fn day(s: &str) -> NaiveDate {
    s.parse().expect("an ISO date")
}

const FRESH_2024: DemoOptions = DemoOptions {
    whole_country: false,
    meetings: false,
};

/// The demo's 2024 Phú Thọ (ending 2025-06-30, 221 halls) and the 2025 tree, nothing carried.
async fn both_trees(backend: Backend) -> TestDb {
    let db = TestDb::new(backend).await.unwrap();
    seed_both_trees(&db.store, FRESH_2024, demo_hash())
        .await
        .unwrap()
        .expect("a fresh store");
    db
}

async fn shipped(store: &Store, apply: bool) -> CarryPlan {
    store
        .plan_carry(
            "shipped",
            COMMUNES_2024_TO_2025_CSV,
            Some(PROVINCES_2024_TO_2025_CSV),
            day("2025-07-01"),
            apply,
        )
        .await
        .unwrap()
}

/// Phú Thọ's 2024 communes and districts, from the 2024 file (not from the store).
fn phu_tho_2024() -> (Vec<String>, usize) {
    let text = String::from_utf8_lossy(UNITS_2024_CSV);
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let districts: Vec<&str> = rows
        .iter()
        .filter(|r| r[1] == "25" && r[2] == "district")
        .map(|r| r[0])
        .collect();
    let communes = rows
        .iter()
        .filter(|r| r[2] == "commune" && districts.contains(&r[1]))
        .map(|r| r[0].to_string())
        .collect();
    (communes, districts.len())
}

/// How many of the given old communes map to exactly one `whole` row.
fn whole_rows(communes: &[String]) -> usize {
    let text = String::from_utf8_lossy(COMMUNES_2024_TO_2025_CSV);
    let mut rows: HashMap<&str, Vec<&str>> = HashMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        rows.entry(f[0]).or_default().push(f[2]);
    }
    communes
        .iter()
        .filter(|c| rows.get(c.as_str()).map(Vec::as_slice) == Some(&["whole"][..]))
        .count()
}

pub async fn a_preview_writes_nothing_and_an_apply_moves_once(backend: Backend) {
    let db = both_trees(backend).await;
    let s = &db.store;
    let (communes, districts) = phu_tho_2024();
    let before = s.halls_in("/25/").await.unwrap();

    let preview = shipped(s, false).await;
    assert_eq!(preview.problems_total, 0, "{:?}", preview.problems);
    assert!(!preview.applied && !preview.changed);
    assert_eq!(preview.mapping.rows, 10_582, "the shipped file's rows");
    let halls = preview.halls.as_ref().expect("a carry report");
    assert_eq!(
        preview.moved_per_kind.get(&CarryKind::Whole).copied(),
        Some(whole_rows(&communes) as u64)
    );
    assert_eq!(preview.moved_per_kind.get(&CarryKind::Province), Some(&1));
    assert_eq!(
        preview
            .review_per_reason
            .get(&ReviewReason::District)
            .copied(),
        Some(districts as u64),
        "every district hall is listed, none guessed"
    );
    assert_eq!(
        s.halls_in("/25/").await.unwrap(),
        before,
        "a preview writes nothing"
    );

    // The district secretariats are listed with the province theirs went into.
    let new_province = s.unit_by_code("25", day("2025-07-01")).await.unwrap();
    let mut district_secretariats = Vec::new();
    for a in s.accounts().await.unwrap() {
        if let Role::Secretariat { unit_id } = a.role {
            if s.unit(unit_id).await.unwrap().level == Level::District {
                district_secretariats.push(a.username);
            }
        }
    }
    assert!(!district_secretariats.is_empty());
    let listed: Vec<&str> = preview
        .secretariats_to_review
        .iter()
        .map(|r| r.username.as_str())
        .collect();
    let mut expected: Vec<&str> = district_secretariats.iter().map(String::as_str).collect();
    expected.sort();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(sorted, expected);
    assert!(preview
        .secretariats_to_review
        .iter()
        .all(|r| r.suggested.as_ref().map(|u| u.id) == Some(new_province.id)));
    assert_eq!(
        preview
            .secretariats_carried
            .iter()
            .map(|m| m.username.as_str())
            .collect::<Vec<_>>(),
        ["vp.tinh"]
    );

    let applied = shipped(s, true).await;
    assert!(applied.applied && applied.changed);
    let moved = applied.halls.as_ref().unwrap();
    assert_eq!(
        moved.moved, halls.moved,
        "the preview said what the apply did"
    );
    let again = shipped(s, true).await;
    assert!(!again.changed, "a second apply changes nothing");
    let again_halls = again.halls.as_ref().unwrap();
    assert!(again_halls.moved.is_empty() && again.secretariats_carried.is_empty());
    assert_eq!(again_halls.already as usize, moved.moved.len());
    assert_eq!(again_halls.review, moved.review, "listed halls stay listed");
    db.cleanup().await;
}

pub async fn a_listed_hall_is_placed_with_its_history_and_secretariats_are_settled(
    backend: Backend,
) {
    let db = both_trees(backend).await;
    let s = &db.store;
    let on = day("2025-07-01");
    let plan = shipped(s, true).await;
    let halls = plan.halls.as_ref().unwrap();
    let district = halls
        .review
        .iter()
        .find(|r| r.reason == ReviewReason::District)
        .expect("a district hall listed");
    let target = district.candidates.first().expect("a suggested commune");
    let placed = s
        .place_listed_hall(district.hall_id, target.id, on)
        .await
        .unwrap();
    assert_eq!(placed.unit_id, target.id);
    let history = s.hall_unit_history(district.hall_id).await.unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(
        (history[0].unit_id, history[0].valid_to.as_deref()),
        (district.from.id, Some("2025-06-30"))
    );
    assert_eq!(
        (history[1].unit_id, history[1].valid_from.as_str()),
        (target.id, "2025-07-01")
    );
    // Placed once: no longer listed, and placing it again is refused.
    let after = shipped(s, false).await;
    let after_halls = after.halls.as_ref().unwrap();
    assert!(after_halls
        .review
        .iter()
        .all(|r| r.hall_id != district.hall_id));
    assert_eq!(after_halls.review.len(), halls.review.len() - 1);
    assert!(matches!(
        s.place_listed_hall(district.hall_id, target.id, on).await,
        Err(Error::Invalid { field, .. }) if field == "hall_id"
    ));
    // A carried hall is not waiting either; an old unit is no place on the new tree.
    let carried = &halls.moved[0];
    assert!(s
        .place_listed_hall(carried.hall_id, target.id, on)
        .await
        .is_err());
    let other = halls
        .review
        .iter()
        .find(|r| r.hall_id != district.hall_id)
        .expect("another listed hall");
    assert!(matches!(
        s.place_listed_hall(other.hall_id, district.from.id, on).await,
        Err(Error::Invalid { field, .. }) if field == "unit_id"
    ));

    // Secretariats: one re-pointed to its suggestion, one disabled; both leave the list.
    let listed = &plan.secretariats_to_review;
    assert!(listed.len() >= 2);
    let (first, second) = (&listed[0], &listed[1]);
    let province = first.suggested.clone().expect("a suggestion");
    assert!(matches!(
        s.repoint_secretariat(first.account_id, first.from.id, on).await,
        Err(Error::Invalid { field, .. }) if field == "unit_id"
    ));
    let account = s
        .repoint_secretariat(first.account_id, province.id, on)
        .await
        .unwrap();
    assert_eq!(
        account.role,
        Role::Secretariat {
            unit_id: province.id
        }
    );
    let principal = s.principal_by_username(&first.username).await.unwrap();
    assert_eq!(principal.scope_path.as_deref(), Some("/25/"));
    s.update_account(second.account_id, None, Some(false))
        .await
        .unwrap();
    let provinces = scheduler::carry::parse_province_mapping(PROVINCES_2024_TO_2025_CSV).unwrap();
    let left = s.ended_secretariats(&provinces, on).await.unwrap();
    assert_eq!(left.len(), listed.len() - 2);
    assert!(left
        .iter()
        .all(|r| r.account_id != first.account_id && r.account_id != second.account_id));
    let hall_account = s.principal_by_username("dc.25").await.unwrap();
    assert!(s
        .repoint_secretariat(hall_account.account.id, province.id, on)
        .await
        .is_err());
    db.cleanup().await;
}

pub async fn a_broken_mapping_is_refused_with_its_lines_and_nothing_moves(backend: Backend) {
    let db = both_trees(backend).await;
    let s = &db.store;
    let on = day("2025-07-01");
    let (communes, _) = phu_tho_2024();
    let text = String::from_utf8_lossy(COMMUNES_2024_TO_2025_CSV);
    let good: Vec<&str> = text
        .lines()
        .filter(|l| communes.iter().any(|c| l.starts_with(&format!("{c},"))))
        .collect();
    assert_eq!(good.len(), communes.len(), "one whole row each");
    let unknown_target = format!("{},99999,whole", communes[1]);
    let csv = format!(
        "old_code,new_code,part\n{}\n{unknown_target}\n2x,00001,whole\n{},{}\n",
        good[0], communes[2], "whole"
    );
    let before = s.halls_in("/25/").await.unwrap();
    for apply in [false, true] {
        let plan = s
            .plan_carry("uploaded", csv.as_bytes(), None, on, apply)
            .await
            .unwrap();
        let seen: Vec<(u64, &str, &str, &str)> = plan
            .problems
            .iter()
            .map(|p| (p.line, p.column.as_str(), p.code, p.value.as_str()))
            .collect();
        let short_row = format!("{},whole", communes[2]);
        assert_eq!(
            seen,
            [
                (4, "old_code", "bad_code", "2x"),
                (5, "row", "bad_row", short_row.as_str())
            ],
            "every broken row; codes are checked against the trees once the rows are sound"
        );
        assert!(plan.halls.is_none() && !plan.applied);
    }
    // Sound rows, one naming no 2025 commune: refused on that line with the code.
    let csv = format!("old_code,new_code,part\n{}\n{unknown_target}\n", good[0]);
    let plan = s
        .plan_carry("uploaded", csv.as_bytes(), None, on, true)
        .await
        .unwrap();
    assert_eq!(plan.problems_total, 1);
    let p = &plan.problems[0];
    assert_eq!(
        (p.line, p.column.as_str(), p.code, p.value.as_str()),
        (3, "new_code", "unknown_code", "99999")
    );
    assert_eq!(s.halls_in("/25/").await.unwrap(), before, "nothing applied");
    // A file without its header is refused on line 1; a date on which nothing ends as a whole.
    let plan = s
        .plan_carry(
            "uploaded",
            good[0].as_bytes(),
            None,
            day("2026-01-01"),
            false,
        )
        .await
        .unwrap();
    assert_eq!(plan.problems[0].code, "bad_header");
    let csv = format!("old_code,new_code,part\n{}\n", good.join("\n"));
    let plan = s
        .plan_carry("uploaded", csv.as_bytes(), None, day("2026-01-01"), false)
        .await
        .unwrap();
    assert_eq!(
        (plan.problems[0].code, plan.problems[0].column.as_str()),
        ("nothing_ends", "on")
    );

    // Phú Thọ's rows alone, uploaded: the province mapping is worked out from them, so
    // the province hall follows too.
    let plan = s
        .plan_carry("uploaded", csv.as_bytes(), None, on, true)
        .await
        .unwrap();
    assert_eq!(plan.problems_total, 0, "{:?}", plan.problems);
    assert!(plan.mapping.provinces_derived);
    assert_eq!(plan.moved_per_kind.get(&CarryKind::Province), Some(&1));
    assert_eq!(
        plan.moved_per_kind.get(&CarryKind::Whole).copied(),
        Some(whole_rows(&communes) as u64)
    );
    db.cleanup().await;
}
