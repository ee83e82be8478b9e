//! Tiers on a date and national meetings over HTTP (issue 13 items 4 and 5): the levels
//! endpoint, `level_not_on_date`, and a province secretariat refused a national scope.
//! Independent of which trees the demo loads: the test closes the demo's 2024 Phú Thọ
//! tree on 2025-06-30 and imports the whole 2025 tree under a country root itself.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use hoinghi_tests::{spawn_app, TestApp, PASSWORD};
use scheduler::demo::{province_subset, PHU_THO, UNITS_2024_CSV, UNITS_2025_CSV};
use serde_json::{json, Value};

/// A day after the reform, within the three years a meeting may be scheduled ahead.
fn after_reform() -> String {
    (Utc::now() + Duration::days(30))
        .format("%Y-%m-%d")
        .to_string()
}

/// Rows of a unit file per level, from its `level` column.
fn per_level(csv: &[u8]) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for line in String::from_utf8_lossy(csv).lines().skip(1) {
        let level = line.split(',').nth(2).expect("a level column");
        *out.entry(level.to_string()).or_default() += 1;
    }
    out
}

fn code(reply: &(u16, Value)) -> (u16, Option<&str>) {
    (reply.0, reply.1["error"]["code"].as_str())
}

/// The unit of `code` among the children of `parent` (roots without one) on `date`.
async fn unit_on(app: &TestApp, token: &str, parent: Option<i64>, code: &str, date: &str) -> i64 {
    let path = match parent {
        Some(p) => format!("/api/v1/units?parent={p}&date={date}"),
        None => format!("/api/v1/units?date={date}"),
    };
    let (status, body) = app.get(&path, Some(token)).await;
    assert_eq!(status, 200, "{body}");
    body["units"]
        .as_array()
        .expect("units")
        .iter()
        .find(|u| u["code"] == code)
        .unwrap_or_else(|| panic!("unit {code} on {date}: {body}"))["id"]
        .as_i64()
        .expect("an id")
}

async fn secretariat(app: &TestApp, admin: &str, username: &str, unit_id: i64) -> String {
    let body = json!({ "username": username, "display_name": format!("Văn phòng {username}"),
        "password": PASSWORD, "role": "secretariat", "unit_id": unit_id });
    let (status, created) = app.post("/api/v1/accounts", Some(admin), &body).await;
    assert_eq!(status, 200, "{created}");
    app.login(username).await
}

#[tokio::test]
async fn the_picker_offers_the_date_s_levels_and_only_the_nation_schedules_national_meetings() {
    let app = spawn_app().await;
    let admin = app.login("admin").await;
    let phu_tho_2024 = province_subset(UNITS_2024_CSV, PHU_THO);
    let (status, body) = app
        .post_raw(
            "/api/v1/units/import?valid_to=2025-06-30",
            Some(&admin),
            "text/csv",
            phu_tho_2024.clone(),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .post_raw(
            "/api/v1/units/import?valid_from=2025-07-01&country_code=0",
            Some(&admin),
            "text/csv",
            UNITS_2025_CSV.to_vec(),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["report"]["per_level"]["country"], 1, "{body}");

    let date = after_reform();
    let country = unit_on(&app, &admin, None, "0", &date).await;
    let phu_tho = unit_on(&app, &admin, Some(country), PHU_THO, &date).await;

    // The picker's levels for Phú Thọ on that date: no district, the file's counts.
    let (status, levels) = app
        .get(
            &format!("/api/v1/units/{phu_tho}/levels?date={date}"),
            Some(&admin),
        )
        .await;
    assert_eq!(status, 200, "{levels}");
    let offered: BTreeMap<String, i64> = levels["levels"]
        .as_array()
        .expect("levels")
        .iter()
        .map(|t| {
            (
                t["level"].as_str().unwrap().to_string(),
                t["units"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        offered,
        per_level(&province_subset(UNITS_2025_CSV, PHU_THO))
    );
    // Before the reform the same code is the three-tier province.
    let (_, old) = app
        .get(
            &format!("/api/v1/units/{phu_tho}/levels?date=2025-03-01"),
            Some(&admin),
        )
        .await;
    assert_ne!(old["unit"]["id"], phu_tho, "{old}");
    let old_levels: Vec<&str> = old["levels"]
        .as_array()
        .expect("levels")
        .iter()
        .map(|t| t["level"].as_str().unwrap())
        .collect();
    assert_eq!(old_levels, ["province", "district", "commune"]);
    // The country on that date: the root, 34 provinces, 3,321 communes (from the file).
    let (_, national) = app
        .get(
            &format!("/api/v1/units/{country}/levels?date={date}"),
            Some(&admin),
        )
        .await;
    let mut want = per_level(UNITS_2025_CSV);
    want.insert("country".into(), 1);
    let got: BTreeMap<String, i64> = national["levels"]
        .as_array()
        .expect("levels")
        .iter()
        .map(|t| {
            (
                t["level"].as_str().unwrap().to_string(),
                t["units"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, want);

    // A scope asking for districts on that date is refused with its code.
    let starts_at = format!("{date}T08:00");
    let with_district =
        json!({ "root_unit_id": phu_tho, "levels": ["province", "district", "commune"] });
    let preview = app
        .post(
            "/api/v1/scope/preview",
            Some(&admin),
            &json!({ "scope": with_district, "starts_at": starts_at }),
        )
        .await;
    assert_eq!(
        code(&preview),
        (422, Some("level_not_on_date")),
        "{}",
        preview.1
    );
    assert!(preview.1["error"]["fields"]["scope.levels"].is_string());

    // A province secretariat may not preview or schedule a national meeting: 403.
    let province = secretariat(&app, &admin, "nt.phutho", phu_tho).await;
    let nation = secretariat(&app, &admin, "nt.quocgia", country).await;
    let (status, seat) = app
        .post(
            "/api/v1/halls",
            Some(&admin),
            &json!({ "unit_id": country, "name": "Hội trường Chính phủ" }),
        )
        .await;
    assert_eq!(status, 200, "{seat}");
    let seat = seat["hall"]["id"].as_i64().expect("a hall id");
    let national_scope = json!({ "root_unit_id": country, "levels": ["province", "commune"] });
    let meeting = json!({
        "title": "Hội nghị trực tuyến toàn quốc",
        "kind": "national_relay",
        "host_hall_id": seat,
        "starts_at": starts_at,
        "duration_minutes": 180,
        "scope": national_scope,
    });
    let refused = app
        .post("/api/v1/meetings", Some(&province), &meeting)
        .await;
    assert_eq!(code(&refused), (403, Some("forbidden")), "{}", refused.1);
    let previewed = app
        .post(
            "/api/v1/scope/preview",
            Some(&province),
            &json!({ "scope": national_scope, "starts_at": starts_at }),
        )
        .await;
    assert_eq!(
        code(&previewed),
        (403, Some("forbidden")),
        "{}",
        previewed.1
    );

    // The national secretariat previews it: the halls the picker counted, and the host.
    let (status, preview) = app
        .post(
            "/api/v1/scope/preview",
            Some(&nation),
            &json!({ "scope": national_scope, "host_hall_id": seat, "starts_at": starts_at }),
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    let (_, counted) = app
        .get(
            &format!("/api/v1/units/{country}/levels?date={date}"),
            Some(&nation),
        )
        .await;
    let halls_of = |level: &str| {
        counted["levels"]
            .as_array()
            .expect("levels")
            .iter()
            .find(|t| t["level"] == level)
            .and_then(|t| t["halls"].as_i64())
            .unwrap_or(0)
    };
    assert_eq!(
        preview["total"].as_i64(),
        Some(halls_of("province") + halls_of("commune") + 1),
        "{preview}"
    );
    let (status, created) = app.post("/api/v1/meetings", Some(&nation), &meeting).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["meetings"][0]["invited"], preview["total"]);
    app.stop().await;
}
