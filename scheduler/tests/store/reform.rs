//! Both trees held with their dates, and the halls carried across the reform of 1 July 2025:
//! scopes resolve on the tree of the meeting's date, each hall moves to its mapped commune
//! once, split communes are listed, and 2024 reports keep the 2024 unit names.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use scheduler::carry::{self, CarryKind, CarryOptions, ReviewReason};
use scheduler::demo::{
    DemoOptions, COMMUNES_2024_TO_2025_CSV, PROVINCES_2024_TO_2025_CSV, UNITS_2024_CSV,
};
use scheduler::demo_today::{seed_both_trees, seed_today};
use scheduler::testing::{demo_hash, TestDb};
use scheduler::{Backend, Level, Scope, Store};

fn day(s: &str) -> NaiveDate {
    s.parse().expect("an ISO date")
}

const PHU_THO_ONLY: DemoOptions = DemoOptions {
    whole_country: false,
    meetings: true,
};

fn all_levels(root: i64) -> Scope {
    Scope {
        root_unit_id: root,
        levels: [Level::Province, Level::District, Level::Commune].into(),
        include_halls: Default::default(),
        exclude_halls: Default::default(),
    }
}

/// A province's 2024 communes, read from the 2024 file (not from the store).
fn communes_of(province: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(UNITS_2024_CSV);
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let districts: Vec<&str> = rows
        .iter()
        .filter(|r| r[1] == province && r[2] == "district")
        .map(|r| r[0])
        .collect();
    rows.iter()
        .filter(|r| r[2] == "commune" && districts.contains(&r[1]))
        .map(|r| r[0].to_string())
        .collect()
}

/// The mapping file's rows by old code.
fn mapping_rows() -> HashMap<String, Vec<(String, String)>> {
    let text = String::from_utf8_lossy(COMMUNES_2024_TO_2025_CSV);
    let mut out: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        out.entry(f[0].to_string())
            .or_default()
            .push((f[1].to_string(), f[2].to_string()));
    }
    out
}

async fn carry_plain(store: &Store, dry_run: bool) -> carry::CarryReport {
    let communes = carry::parse_commune_mapping(COMMUNES_2024_TO_2025_CSV).unwrap();
    let provinces = carry::parse_province_mapping(PROVINCES_2024_TO_2025_CSV).unwrap();
    let options = CarryOptions {
        on: day("2025-07-01"),
        dry_run,
        splits_to_main: false,
        place_districts: false,
    };
    store
        .carry_halls(&communes, Some(&provinces), options)
        .await
        .unwrap()
}

pub async fn a_scope_resolves_on_the_tree_of_the_meeting_date(backend: Backend) {
    let db = TestDb::new(backend).await.unwrap();
    let summary = seed_today(&db.store, PHU_THO_ONLY, demo_hash())
        .await
        .unwrap()
        .expect("a fresh store");
    let s = &db.store;
    let (before, after) = (day("2025-03-01"), day("2026-03-01"));
    let old = s.unit_by_code("25", before).await.unwrap();
    let new = s.unit_by_code("25", after).await.unwrap();
    assert_ne!(old.id, new.id, "two versions of Tỉnh Phú Thọ");
    assert_eq!(old.valid_to.as_deref(), Some("2025-06-30"));
    assert_eq!(new.valid_from, "2025-07-01");

    let host = summary.logins.iter().find(|l| l.username == "dc.25");
    assert!(host.is_some(), "the province hall's login is still printed");
    let in_2025 = s
        .resolve_scope(&all_levels(old.id), None, before)
        .await
        .unwrap();
    assert_eq!(in_2025.total, 221, "{:?}", in_2025.per_level);
    assert_eq!(in_2025.per_level.get("district"), Some(&13));

    // On the 2025 tree "all levels" are the ones that exist on the date (what the
    // scheduling form offers): the province and its communes; asking for districts there
    // is refused. Every one of the 148 communes has a hall.
    let offered: Vec<Level> = s
        .tiers(&new, after)
        .await
        .unwrap()
        .iter()
        .map(|t| t.level)
        .collect();
    assert_eq!(offered, [Level::Province, Level::Commune]);
    assert!(matches!(
        s.resolve_scope(&all_levels(new.id), None, after).await,
        Err(scheduler::Error::LevelNotOnDate { .. })
    ));
    let today_scope = Scope {
        levels: offered.into_iter().collect(),
        ..all_levels(new.id)
    };
    let in_2026 = s.resolve_scope(&today_scope, None, after).await.unwrap();
    let communes = s.unit_children(Some(new.id), after).await.unwrap();
    assert_eq!(communes.len(), 148);
    assert!(
        communes.iter().all(|c| c.halls >= 1),
        "a hall in every commune"
    );
    assert!(
        communes.iter().any(|c| c.halls >= 2),
        "some communes have several"
    );
    let commune_halls: i64 = communes.iter().map(|c| c.halls).sum();
    assert_eq!(in_2026.per_level.get("district"), None);
    assert_eq!(in_2026.per_level.get("province"), Some(&1));
    assert_eq!(
        in_2026.per_level.get("commune"),
        Some(&(commune_halls as usize))
    );
    assert_eq!(in_2026.total, 221 + summary.added_halls, "carried + added");
    assert_eq!(summary.province_wide_halls, in_2026.total);
    // A 2024 scope does not exist in 2026, and the 2025 one did not in early 2025.
    assert!(s
        .resolve_scope(&all_levels(old.id), None, after)
        .await
        .is_err());
    assert!(s
        .resolve_scope(&all_levels(new.id), None, before)
        .await
        .is_err());
    db.cleanup().await;
}

pub async fn carrying_moves_each_hall_to_its_mapped_commune_once(backend: Backend) {
    let db = TestDb::new(backend).await.unwrap();
    seed_both_trees(&db.store, PHU_THO_ONLY, demo_hash())
        .await
        .unwrap()
        .expect("a fresh store");
    let s = &db.store;
    // Phú Thọ's 2024 communes all went whole into new ones; Hòa Bình (17), merged into
    // today's Phú Thọ, had communes split between several: a hall for each of those.
    let hoa_binh = scheduler::demo::province_subset(UNITS_2024_CSV, "17");
    let until = scheduler::ImportOptions {
        valid_to: Some(day("2025-06-30")),
        ..Default::default()
    };
    s.import_units(&hoa_binh, until, |_, _| {}).await.unwrap();
    let rows = mapping_rows();
    let mut split_halls = Vec::new();
    for code in communes_of("17") {
        if rows[&code].len() > 1 {
            let unit = s.unit_by_code(&code, day("2025-06-30")).await.unwrap();
            split_halls.push(
                s.create_hall(unit.id, &format!("Điểm cầu UBND {}", unit.name))
                    .await
                    .unwrap(),
            );
        }
    }
    assert!(!split_halls.is_empty(), "Hòa Bình had split communes");
    let halls_before = s.halls_in("/25/").await.unwrap();
    assert_eq!(halls_before.len(), 221);
    let tokens: Vec<String> = {
        let mut t = Vec::new();
        for h in &halls_before {
            t.push(s.hall_feed_token(h.id).await.unwrap());
        }
        t
    };
    let dry = carry_plain(s, true).await;
    assert_eq!(
        s.halls_in("/25/").await.unwrap(),
        halls_before,
        "a dry run writes nothing"
    );
    let first = carry_plain(s, false).await;
    assert_eq!(
        (first.moved.clone(), first.review.clone()),
        (dry.moved.clone(), dry.review.clone()),
        "the dry run said what the run did"
    );

    // Expected from the mapping file: whole → moved; one `main` row → moved; main + parts → listed.
    let mut expected: BTreeMap<&str, usize> = BTreeMap::new();
    let old_communes = communes_of("25");
    assert_eq!(old_communes.len(), 207);
    for code in &old_communes {
        let r = &rows[code];
        let kind = match r.as_slice() {
            [(_, p)] if p == "whole" => "whole",
            [(_, p)] if p == "main" => "main",
            _ => "split",
        };
        *expected.entry(kind).or_default() += 1;
    }
    let per_kind = first.moved_per_kind();
    assert_eq!(
        per_kind.get(&CarryKind::Whole).copied().unwrap_or(0) as usize,
        expected["whole"]
    );
    assert_eq!(
        per_kind.get(&CarryKind::Main).copied().unwrap_or(0) as usize,
        expected.get("main").copied().unwrap_or(0)
    );
    assert_eq!(per_kind.get(&CarryKind::Province), Some(&1));
    let per_reason = first.review_per_reason();
    assert_eq!(
        expected.get("split"),
        None,
        "Phú Thọ's 2024 communes all went whole"
    );
    assert_eq!(
        per_reason.get(&ReviewReason::Split).copied().unwrap_or(0) as usize,
        split_halls.len()
    );
    assert_eq!(per_reason.get(&ReviewReason::District), Some(&13));

    // Each moved commune hall is on the commune its old commune maps to, in the 2025 tree.
    for m in first.moved.iter().filter(|m| m.kind != CarryKind::Province) {
        let target = rows[&m.from.code]
            .iter()
            .find(|(_, p)| p != "part")
            .map(|(c, _)| c.clone());
        assert_eq!(Some(m.to.code.clone()), target, "hall {}", m.hall_id);
        let hall = s.hall(m.hall_id).await.unwrap();
        let unit = s.unit(hall.unit_id).await.unwrap();
        assert_eq!(
            (unit.code.as_str(), unit.valid_from.as_str()),
            (target.as_deref().unwrap(), "2025-07-01")
        );
        let history = s.hall_unit_history(m.hall_id).await.unwrap();
        assert_eq!(history.len(), 2, "{history:?}");
        assert_eq!(history[0].valid_to.as_deref(), Some("2025-06-30"));
        assert_eq!(history[0].unit_id, m.from.id);
    }
    // A split commune's hall is listed with its candidates, main first, and not moved.
    let split = first
        .review
        .iter()
        .find(|r| r.reason == ReviewReason::Split)
        .expect("a split commune");
    let r = &rows[&split.from.code];
    assert!(r.len() >= 2);
    let main = r.iter().find(|(_, p)| p == "main").map(|(c, _)| c.clone());
    assert_eq!(Some(split.candidates[0].code.clone()), main);
    assert_eq!(split.candidates.len(), r.len());
    assert_eq!(s.hall(split.hall_id).await.unwrap().unit_id, split.from.id);

    // Same halls: ids, names and calendar feeds kept.
    let after = s.halls_in("/25/").await.unwrap();
    assert_eq!(after.len(), 221);
    for (h, token) in halls_before.iter().zip(&tokens) {
        let now = s.hall(h.id).await.unwrap();
        assert_eq!(now.name, h.name);
        assert_eq!(&s.hall_feed_token(h.id).await.unwrap(), token);
    }

    // Twice: nothing changes, and it says so.
    let second = carry_plain(s, false).await;
    assert!(second.moved.is_empty(), "{:?}", second.moved.first());
    assert_eq!(second.already as usize, first.moved.len());
    assert_eq!(second.review, first.review);
    assert_eq!(s.halls_in("/25/").await.unwrap(), after);
    db.cleanup().await;
}

pub async fn a_2024_report_keeps_the_2024_unit_names_after_the_carry(backend: Backend) {
    let db = TestDb::new(backend).await.unwrap();
    let both = seed_both_trees(&db.store, PHU_THO_ONLY, demo_hash())
        .await
        .unwrap()
        .expect("a fresh store");
    let s = &db.store;
    let admin = s.principal_by_username("admin").await.unwrap();
    let filter = scheduler::MeetingFilter {
        from: Some(0),
        to: Some(scheduler::time::now()),
        include_cancelled: false,
    };
    let meetings = s.meetings_for(&admin, filter).await.unwrap();
    assert_eq!(meetings.len(), both.history.len());
    let march = meetings
        .iter()
        .find(|m| m.title.contains("tháng 3/2025"))
        .expect("the March 2025 briefing");
    let before = s.meeting_attendance(&admin, march.id).await.unwrap();
    assert_eq!(before.len(), 221);
    assert!(before
        .iter()
        .any(|r| r.hall.unit_name == "Huyện Tân Sơn" && r.hall.level == "district"));
    let attended = before.iter().filter(|r| r.first_join.is_some()).count();
    assert!(attended > 150 && attended < 221, "{attended} attended");

    let report = carry_plain(s, false).await;
    assert!(report.moved.len() > 150);
    let after = s.meeting_attendance(&admin, march.id).await.unwrap();
    assert_eq!(
        after, before,
        "the 2024 meeting's report is unchanged by the carry"
    );
    // While today's view of a carried hall names its 2025 commune.
    let moved = report
        .moved
        .iter()
        .find(|m| m.kind == CarryKind::Whole && m.from.name != m.to.name)
        .expect("a hall whose commune was renamed");
    assert_eq!(
        s.hall(moved.hall_id).await.unwrap().unit_name,
        moved.to.name
    );
    let row = after
        .iter()
        .find(|r| r.hall.hall_id == moved.hall_id)
        .unwrap();
    assert_eq!(row.hall.unit_name, moved.from.name);
    db.cleanup().await;
}
