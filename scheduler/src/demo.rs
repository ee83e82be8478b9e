//! Demo data: the real Phú Thọ tree (2024), one hall per unit, demo accounts and meetings;
//! [`seed_today`] (in `demo_today`) adds the 2025 tree and carries the halls onto it.

use chrono::{Datelike, Duration, NaiveDate, NaiveTime};
use serde::Serialize;

use crate::accounts::{NewAccount, Role};
use crate::import::ImportOptions;
use crate::meetings::MeetingKind;
use crate::schedule::MeetingDraft;
use crate::scope::Scope;
use crate::time::{self, from_local, local_date};
use crate::units::{search_key, Level};
use crate::{Result, Store};

/// The real 2024 unit list (three tiers), as published by the GSO.
pub const UNITS_2024_CSV: &[u8] = include_bytes!("../../data/vn-admin-units-2024.csv");
/// The real 2025 unit list (two tiers, after the reform of 1 July 2025).
pub const UNITS_2025_CSV: &[u8] = include_bytes!("../../data/vn-admin-units-2025.csv");
/// Phú Thọ's GSO code.
pub const PHU_THO: &str = "25";

/// The rows of a unit CSV belonging to one province (its header kept).
pub fn province_subset(csv: &[u8], province: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(csv);
    let mut lines = text.lines();
    let mut out = String::new();
    if let Some(header) = lines.next() {
        out.push_str(header);
        out.push('\n');
    }
    let mut inside: std::collections::HashSet<String> = std::collections::HashSet::new();
    for line in lines {
        let mut cols = line.splitn(3, ',');
        let (code, parent) = (cols.next().unwrap_or(""), cols.next().unwrap_or(""));
        // Parents come before their children in the GSO files.
        if code == province || inside.contains(parent) {
            inside.insert(code.to_string());
            out.push_str(line);
            out.push('\n');
        }
    }
    out.into_bytes()
}

/// How much of the country to load.
#[derive(Debug, Clone, Copy)]
pub struct DemoOptions {
    /// Import all 63 provinces (halls are still made for Phú Thọ only); tests load Phú Thọ alone.
    pub whole_country: bool,
    /// Schedule the sample meetings.
    pub meetings: bool,
}

/// A demo login to print.
#[derive(Debug, Clone, Serialize)]
pub struct DemoLogin {
    pub username: String,
    pub role: String,
    pub display_name: String,
}

fn slug(name: &str) -> String {
    let key = search_key(name);
    let stripped = [
        "thanh pho ",
        "thi xa ",
        "huyen ",
        "quan ",
        "tinh ",
        "xa ",
        "phuong ",
        "thi tran ",
    ]
    .iter()
    .find_map(|p| key.strip_prefix(p))
    .unwrap_or(&key);
    stripped
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// "Huyện Tân Sơn" → "huyện Tân Sơn", as written after "UBND" or "Văn phòng UBND".
pub(crate) fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

pub(crate) fn hall_name(level: Level, unit_name: &str) -> String {
    let unit_name = lower_first(unit_name);
    match level {
        Level::Country | Level::Province => format!("Hội trường UBND {unit_name}"),
        Level::District => format!("Phòng họp trực tuyến UBND {unit_name}"),
        Level::Commune => format!("Điểm cầu UBND {unit_name}"),
    }
}

/// The last day of the three-tier tree: the reform took effect on 1 July 2025.
pub fn last_day_2024() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 30).expect("a valid constant date")
}

/// The first day of the two-tier tree.
pub fn reform_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 7, 1).expect("a valid constant date")
}

/// Commune mapping 2024 → 2025 (`old_code,new_code,part`), from the statistics office's list.
pub const COMMUNES_2024_TO_2025_CSV: &[u8] =
    include_bytes!("../../data/vn-admin-units-2024-to-2025.csv");
/// Province mapping 2024 → 2025 (`old_code,new_code`).
pub const PROVINCES_2024_TO_2025_CSV: &[u8] =
    include_bytes!("../../data/vn-provinces-2024-to-2025.csv");

/// Loads the demo into an empty store: units, a hall and a room account per Phú Thọ
/// unit (`dc.<code>`), an administrator (`admin`), the province secretariat (`vp.tinh`)
/// and one per district (`vp.<name>`), all with the password hashed in `password_hash`,
/// and a few meetings. Returns the logins, or nothing when the store already has accounts.
///
/// This is the 2024 three-tier tree alone, valid with no end (the store tests' fixture);
/// `hoinghi demo` runs [`seed_today`], which adds the 2025 tree and carries the halls.
pub async fn seed(
    store: &Store,
    options: DemoOptions,
    password_hash: &str,
) -> Result<Vec<DemoLogin>> {
    Ok(seed_2024(store, options, password_hash, None)
        .await?
        .map(|(logins, _)| logins)
        .unwrap_or_default())
}

/// The 2024 part of the demo; with `ends` the 2024 tree is valid until that day and the
/// sample meetings are left to the caller. Returns the logins and the ids of the province
/// hall and of Huyện Tân Sơn's unit and hall, or nothing when accounts exist already.
pub(crate) async fn seed_2024(
    store: &Store,
    options: DemoOptions,
    password_hash: &str,
    ends: Option<NaiveDate>,
) -> Result<Option<(Vec<DemoLogin>, DemoIds)>> {
    if !store.accounts().await?.is_empty() {
        return Ok(None);
    }
    let csv = if options.whole_country {
        UNITS_2024_CSV.to_vec()
    } else {
        province_subset(UNITS_2024_CSV, PHU_THO)
    };
    let import = ImportOptions {
        valid_to: ends,
        ..ImportOptions::default()
    };
    store.import_units(&csv, import, |_, _| {}).await?;
    // The tree is read as of its last day when it has one, else as of today.
    let today = ends.unwrap_or_else(|| local_date(time::now()));
    let province = store.unit_by_code(PHU_THO, today).await?;
    let mut logins = Vec::new();
    let mut add = |username: String, role: &str, display_name: String| {
        logins.push(DemoLogin {
            username,
            role: role.to_string(),
            display_name,
        });
    };
    let admin = NewAccount {
        username: "admin".into(),
        display_name: "Quản trị hệ thống".into(),
        role: Role::Admin,
    };
    store.create_account(admin, password_hash).await?;
    add("admin".into(), "admin", "Quản trị hệ thống".into());
    let mut units = vec![province.clone()];
    let mut i = 0;
    while i < units.len() {
        let children = store.unit_children(Some(units[i].id), today).await?;
        units.extend(children.into_iter().map(|n| n.unit));
        i += 1;
    }
    let mut host = None;
    let mut tan_son = None;
    for unit in &units {
        let hall = store
            .create_hall(unit.id, &hall_name(unit.level, &unit.name))
            .await?;
        let username = format!("dc.{}", unit.code);
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
        if unit.level == Level::Province {
            host = Some(hall.id);
            add(username, "hall", display);
        }
        if unit.code == "240" {
            tan_son = Some((unit.id, hall.id));
        }
        let secretariat = match unit.level {
            Level::Province => Some("vp.tinh".to_string()),
            Level::District => Some(format!("vp.{}", slug(&unit.name))),
            _ => None,
        };
        if let Some(mut username) = secretariat {
            if store
                .accounts()
                .await?
                .iter()
                .any(|a| a.username == username)
            {
                username = format!("{username}{}", unit.code);
            }
            let display = format!("Văn phòng UBND {}", lower_first(&unit.name));
            store
                .create_account(
                    NewAccount {
                        username: username.clone(),
                        display_name: display.clone(),
                        role: Role::Secretariat { unit_id: unit.id },
                    },
                    password_hash,
                )
                .await?;
            if unit.level == Level::Province || unit.code == "240" {
                add(username, "secretariat", display);
            }
        }
    }
    let ids = DemoIds {
        province_unit: province.id,
        province_hall: host.ok_or(crate::Error::NotFound("province hall"))?,
        tan_son: tan_son.ok_or(crate::Error::NotFound("Huyện Tân Sơn"))?,
    };
    if let (true, None, Some(host), Some((tan_son_unit, tan_son_hall))) =
        (options.meetings, ends, host, tan_son)
    {
        let admin = store.principal_by_username("admin").await?;
        let days_to_monday = (7 - today.weekday().num_days_from_monday()) % 7;
        let monday = today
            + Duration::days(if days_to_monday == 0 {
                7
            } else {
                days_to_monday as i64
            });
        let at = |d: chrono::NaiveDate, h: u32| {
            from_local(d.and_time(NaiveTime::from_hms_opt(h, 0, 0).unwrap_or_default()))
        };
        let briefing = MeetingDraft {
            title: "Giao ban trực tuyến UBND tỉnh tuần".into(),
            description:
                "Đánh giá tình hình kinh tế – xã hội tuần qua; triển khai nhiệm vụ tuần tới.".into(),
            kind: MeetingKind::Routine,
            host_hall_id: host,
            starts_at: at(monday, 8),
            ends_at: at(monday, 11),
            scope: Scope {
                root_unit_id: province.id,
                levels: [Level::Province, Level::District, Level::Commune].into(),
                include_halls: Default::default(),
                exclude_halls: Default::default(),
            },
            recurrence: None,
        };
        store.schedule(&admin, briefing, None).await?;
        let district = MeetingDraft {
            title: "Họp triển khai công tác phòng chống dịch huyện Tân Sơn".into(),
            description: "Các xã báo cáo tình hình; phân công nhiệm vụ.".into(),
            kind: MeetingKind::Sudden,
            host_hall_id: tan_son_hall,
            starts_at: at(monday + Duration::days(1), 14),
            ends_at: at(monday + Duration::days(1), 16),
            scope: Scope {
                root_unit_id: tan_son_unit,
                levels: [Level::District, Level::Commune].into(),
                include_halls: Default::default(),
                exclude_halls: Default::default(),
            },
            recurrence: None,
        };
        store.schedule(&admin, district, None).await?;
    }
    add(
        "dc.<mã đơn vị>".into(),
        "hall",
        "mọi điểm cầu: dc. + mã GSO, ví dụ dc.240, dc.08578".into(),
    );
    Ok(Some((logins, ids)))
}

/// Ids the later parts of the demo build on.
#[derive(Debug, Clone, Copy)]
pub struct DemoIds {
    pub province_unit: i64,
    pub province_hall: i64,
    /// Huyện Tân Sơn's unit and hall.
    pub tan_son: (i64, i64),
}
