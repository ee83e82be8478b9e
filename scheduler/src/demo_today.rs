//! `hoinghi demo` on today's map: the 2024 Phú Thọ demo with a record of meetings held on
//! the three-tier tree, then the 2025 two-tier tree, the halls carried onto it on 1 July
//! 2025, a hall for every new commune that received none, and upcoming meetings on it.
//!
//! Rules the demo follows (docs/units.md): halls of split communes go to the `main` new
//! commune (the demo's administrator accepts the source's default; `carry-halls` lists them
//! unless told so); district halls go to the commune that took the district's seat (see
//! [`CarryKind::District`]); the province secretariat follows its province.

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, NaiveDate, NaiveTime};
use serde::Serialize;

use crate::accounts::{NewAccount, Role};
use crate::carry::{self, CarryKind, CarryOptions, CarryReport};
use crate::demo::{
    hall_name, last_day_2024, lower_first, province_subset, reform_day, DemoIds, DemoLogin,
    DemoOptions, COMMUNES_2024_TO_2025_CSV, PHU_THO, PROVINCES_2024_TO_2025_CSV, UNITS_2025_CSV,
};
use crate::demo_history::{record_past_meeting, PastMeeting};
use crate::import::ImportOptions;
use crate::meetings::MeetingKind;
use crate::schedule::MeetingDraft;
use crate::scope::Scope;
use crate::time::{self, from_local, local_date};
use crate::units::Level;
use crate::{Result, Store};

/// What the demo made, for `hoinghi demo` to print.
#[derive(Debug, Clone, Serialize)]
pub struct DemoSummary {
    pub logins: Vec<DemoLogin>,
    /// Past meetings on the 2024 tree: (title, halls invited, halls that came).
    pub history: Vec<(String, usize, usize)>,
    /// The carry of the 2024 halls onto the 2025 tree.
    pub carry: CarryReport,
    /// Halls added for 2025 communes that received none.
    pub added_halls: usize,
    /// Communes of today's Phú Thọ, and halls today's province-wide meeting invites.
    pub communes_2025: usize,
    pub province_wide_halls: usize,
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
}

/// The demo before the carry: the 2024 tree (valid until 30 June 2025) with its halls,
/// accounts and, with `options.meetings`, its record of past meetings; then the 2025 tree
/// (valid from 1 July 2025) with no halls yet. Nothing when accounts exist already.
pub async fn seed_both_trees(
    store: &Store,
    options: DemoOptions,
    password_hash: &str,
) -> Result<Option<BothTrees>> {
    let t0 = std::time::Instant::now();
    let Some((logins, ids)) =
        crate::demo::seed_2024(store, options, password_hash, Some(last_day_2024())).await?
    else {
        return Ok(None);
    };
    tracing::debug!(
        ms = t0.elapsed().as_millis() as u64,
        "demo: 2024 tree, halls, accounts"
    );
    let admin = store.principal_by_username("admin").await?;
    let scope = |root: i64, levels: &[Level], include: BTreeSet<i64>| Scope {
        root_unit_id: root,
        levels: levels.iter().copied().collect(),
        include_halls: include,
        exclude_halls: Default::default(),
    };
    let all = [Level::Province, Level::District, Level::Commune];
    let mut history = Vec::new();
    if options.meetings {
        let past = [
            PastMeeting {
                title: "Hội nghị tổng kết công tác năm 2024",
                description: "Tổng kết nhiệm vụ năm 2024; triển khai kế hoạch năm 2025.",
                kind: MeetingKind::Routine,
                host_hall_id: ids.province_hall,
                day: d(2024, 12, 27),
                from_hour: 8,
                to_hour: 11,
                scope: scope(ids.province_unit, &all, BTreeSet::new()),
            },
            PastMeeting {
                title: "Giao ban trực tuyến UBND tỉnh tháng 3/2025",
                description: "Các huyện, xã báo cáo tình hình tháng 3.",
                kind: MeetingKind::Routine,
                host_hall_id: ids.province_hall,
                day: d(2025, 3, 10),
                from_hour: 8,
                to_hour: 11,
                scope: scope(ids.province_unit, &all, BTreeSet::new()),
            },
            PastMeeting {
                title: "Họp triển khai công tác phòng chống dịch huyện Tân Sơn",
                description: "Các xã báo cáo tình hình; phân công nhiệm vụ.",
                kind: MeetingKind::Sudden,
                host_hall_id: ids.tan_son.1,
                day: d(2025, 4, 15),
                from_hour: 14,
                to_hour: 16,
                scope: scope(
                    ids.tan_son.0,
                    &[Level::District, Level::Commune],
                    BTreeSet::new(),
                ),
            },
            PastMeeting {
                title: "Hội nghị triển khai sắp xếp đơn vị hành chính cấp xã",
                description: "Các huyện, thành phố báo cáo phương án sắp xếp.",
                kind: MeetingKind::Routine,
                host_hall_id: ids.province_hall,
                day: d(2025, 6, 16),
                from_hour: 8,
                to_hour: 10,
                scope: scope(
                    ids.province_unit,
                    &[Level::Province, Level::District],
                    BTreeSet::new(),
                ),
            },
        ];
        for m in past {
            let title = m.title.to_string();
            let (invited, came) = record_past_meeting(store, admin.account.id, m).await?;
            history.push((title, invited, came));
        }
    }
    tracing::debug!(ms = t0.elapsed().as_millis() as u64, "demo: past meetings");
    let csv = if options.whole_country {
        UNITS_2025_CSV.to_vec()
    } else {
        province_subset(UNITS_2025_CSV, PHU_THO)
    };
    let on = reform_day();
    let import = ImportOptions {
        valid_from: on,
        valid_to: None,
    };
    store.import_units(&csv, import, |_, _| {}).await?;
    tracing::debug!(ms = t0.elapsed().as_millis() as u64, "demo: 2025 tree");
    Ok(Some(BothTrees {
        logins,
        ids,
        history,
    }))
}

/// What [`seed_both_trees`] made.
pub struct BothTrees {
    pub logins: Vec<DemoLogin>,
    pub ids: DemoIds,
    /// Past meetings: (title, halls invited, halls that came).
    pub history: Vec<(String, usize, usize)>,
}

/// Loads the demo on today's map into an empty store; nothing when accounts exist already.
pub async fn seed_today(
    store: &Store,
    options: DemoOptions,
    password_hash: &str,
) -> Result<Option<DemoSummary>> {
    let Some(BothTrees {
        mut logins,
        ids,
        history,
    }) = seed_both_trees(store, options, password_hash).await?
    else {
        return Ok(None);
    };
    let on = reform_day();
    let admin = store.principal_by_username("admin").await?;
    let scope = |root: i64, levels: &[Level], include: BTreeSet<i64>| Scope {
        root_unit_id: root,
        levels: levels.iter().copied().collect(),
        include_halls: include,
        exclude_halls: Default::default(),
    };
    let communes = carry::parse_commune_mapping(COMMUNES_2024_TO_2025_CSV)?;
    let provinces = carry::parse_province_mapping(PROVINCES_2024_TO_2025_CSV)?;
    let carried = store
        .carry_halls(
            &communes,
            Some(&provinces),
            CarryOptions {
                on,
                dry_run: false,
                splits_to_main: true,
                place_districts: true,
            },
        )
        .await?;
    store
        .carry_province_secretariats(&provinces, on, false)
        .await?;

    // Every commune of today's Phú Thọ gets a hall if none was carried into it.
    let province = store.unit_by_code(PHU_THO, on).await?;
    let children = store.unit_children(Some(province.id), on).await?;
    let taken: BTreeSet<String> = store
        .accounts()
        .await?
        .into_iter()
        .map(|a| a.username)
        .collect();
    let mut added = 0;
    let mut example = None;
    for node in children.iter().filter(|n| n.halls == 0) {
        let unit = &node.unit;
        let hall = store
            .create_hall(unit.id, &hall_name(unit.level, &unit.name))
            .await?;
        let mut username = format!("dc.{}", unit.code);
        if taken.contains(&username) {
            username.push_str(".2025");
        }
        let display = format!("Điểm cầu {}", lower_first(&unit.name));
        store
            .create_account(
                NewAccount {
                    username: username.clone(),
                    display_name: display.clone(),
                    role: Role::Hall { hall_id: hall.id },
                },
                password_hash,
            )
            .await?;
        example.get_or_insert((username, display));
        added += 1;
    }
    if let Some((username, display)) = example {
        logins.push(DemoLogin {
            username,
            role: "hall".into(),
            display_name: format!("{display} (xã mới từ 1/7/2025, chưa có điểm cầu trước đó)"),
        });
    }

    let today = local_date(time::now());
    let two_tiers = [Level::Province, Level::Commune];
    if options.meetings {
        schedule_upcoming(store, &admin, &carried, province.id, ids, today).await?;
    }
    let province_wide = store
        .resolve_scope(
            &scope(province.id, &two_tiers, BTreeSet::new()),
            Some(ids.province_hall),
            today.max(on),
        )
        .await?;
    Ok(Some(DemoSummary {
        logins,
        history,
        carry: carried,
        added_halls: added,
        communes_2025: children.len(),
        province_wide_halls: province_wide.total,
    }))
}

/// Next Monday's province briefing (province + communes) and, on Tuesday, a meeting of the
/// communes that were Huyện Tân Sơn's, hosted by the former district hall.
async fn schedule_upcoming(
    store: &Store,
    admin: &crate::Principal,
    carried: &CarryReport,
    province_2025: i64,
    ids: DemoIds,
    today: NaiveDate,
) -> Result<()> {
    let days_to_monday = (7 - today.weekday().num_days_from_monday()) % 7;
    let monday = today
        + Duration::days(if days_to_monday == 0 {
            7
        } else {
            days_to_monday as i64
        });
    let at = |d: NaiveDate, h: u32| {
        from_local(d.and_time(NaiveTime::from_hms_opt(h, 0, 0).unwrap_or_default()))
    };
    let briefing = MeetingDraft {
        title: "Giao ban trực tuyến UBND tỉnh tuần".into(),
        description: "Đánh giá tình hình kinh tế – xã hội tuần qua; triển khai nhiệm vụ tuần tới."
            .into(),
        kind: MeetingKind::Routine,
        host_hall_id: ids.province_hall,
        starts_at: at(monday, 8),
        ends_at: at(monday, 11),
        scope: Scope {
            root_unit_id: province_2025,
            levels: [Level::Province, Level::Commune].into(),
            include_halls: Default::default(),
            exclude_halls: Default::default(),
        },
        recurrence: None,
    };
    store.schedule(admin, briefing, None).await?;
    // The halls that were in Huyện Tân Sơn's communes, wherever they are now.
    let tan_son_communes: BTreeSet<i64> = store
        .unit_children(Some(ids.tan_son.0), last_day_2024())
        .await?
        .into_iter()
        .map(|n| n.unit.id)
        .collect();
    let include: BTreeSet<i64> = carried
        .moved
        .iter()
        .filter(|m| tan_son_communes.contains(&m.from.id))
        .map(|m| m.hall_id)
        .collect();
    if include.is_empty()
        || !carried
            .moved
            .iter()
            .any(|m| m.hall_id == ids.tan_son.1 && m.kind == CarryKind::District)
    {
        return Ok(());
    }
    let cluster = MeetingDraft {
        title: "Họp triển khai công tác phòng chống dịch khu vực Tân Sơn".into(),
        description: "Các xã khu vực Tân Sơn (trước đây thuộc huyện Tân Sơn) báo cáo tình hình; phân công nhiệm vụ.".into(),
        kind: MeetingKind::Sudden,
        host_hall_id: ids.tan_son.1,
        starts_at: at(monday + Duration::days(1), 14),
        ends_at: at(monday + Duration::days(1), 16),
        scope: Scope {
            root_unit_id: province_2025,
            levels: Default::default(),
            include_halls: include,
            exclude_halls: Default::default(),
        },
        recurrence: None,
    };
    store.schedule(admin, cluster, None).await?;
    Ok(())
}
