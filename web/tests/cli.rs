//! The `hoinghi` command line as an operator uses it: import, settings errors, demo safety.

use std::process::Command;

fn hoinghi() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hoinghi"))
}

fn data(file: &str) -> String {
    format!("{}/../data/{file}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn units_import_prints_per_level_counts_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/units.db", dir.path().display());
    let out = hoinghi()
        .args([
            "units",
            "import",
            &data("vn-admin-units-2025.csv"),
            "--valid-from",
            "2025-07-01",
            "--database-url",
            &url,
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("province: 34"), "{stdout}");
    assert!(stdout.contains("commune: 3321"), "{stdout}");
    assert!(
        stdout.contains("inserted 3355, updated 0, unchanged 0"),
        "{stdout}"
    );
    let again = hoinghi()
        .args([
            "units",
            "import",
            &data("vn-admin-units-2025.csv"),
            "--valid-from",
            "2025-07-01",
            "--database-url",
            &url,
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("inserted 0, updated 0, unchanged 3355")
    );
}

#[test]
fn a_broken_file_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.csv");
    std::fs::write(&file, "code,parent_code,level,division_type,name\n25,,province,tỉnh,Tỉnh Phú Thọ\n227,25,district,thành phố,\n").unwrap();
    let url = format!("sqlite://{}/units.db", dir.path().display());
    let out = hoinghi()
        .args([
            "units",
            "import",
            file.to_str().unwrap(),
            "--database-url",
            &url,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 3, column name"), "{stderr}");
}

#[test]
fn serve_refuses_unknown_settings_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hoinghi.toml");
    std::fs::write(&file, "addr = \"127.0.0.1:0\"\nsesion_ttl_hours = 4\n").unwrap();
    let out = hoinghi()
        .args(["serve", "--config", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sesion_ttl_hours"), "{stderr}");
}

#[test]
fn demo_on_a_public_address_needs_a_password() {
    let dir = tempfile::tempdir().unwrap();
    let out = hoinghi()
        .args([
            "demo",
            "--addr",
            "0.0.0.0:0",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ])
        .env_remove("HOINGHI_DEMO_PASSWORD")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("requires setting the demo accounts' password"));
}

/// Counts of the old communes of `province` per shape of their rows in the mapping file:
/// `whole` (one whole row), `main` (one main row only), `split` (main + part rows) — read
/// from the CSV files here, not through the code under test.
fn mapping_shapes(province: &str) -> std::collections::BTreeMap<&'static str, usize> {
    let units = std::fs::read_to_string(data("vn-admin-units-2024.csv")).unwrap();
    let rows: Vec<Vec<&str>> = units
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let districts: Vec<&str> = rows
        .iter()
        .filter(|r| r[1] == province && r[2] == "district")
        .map(|r| r[0])
        .collect();
    let communes: Vec<&str> = rows
        .iter()
        .filter(|r| r[2] == "commune" && districts.contains(&r[1]))
        .map(|r| r[0])
        .collect();
    let mapping = std::fs::read_to_string(data("vn-admin-units-2024-to-2025.csv")).unwrap();
    let mut parts: std::collections::HashMap<&str, Vec<&str>> = Default::default();
    for line in mapping.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        parts.entry(f[0]).or_default().push(f[2]);
    }
    let mut out = std::collections::BTreeMap::new();
    for c in communes {
        let shape = match parts.get(c).map(Vec::as_slice) {
            Some(["whole"]) => "whole",
            Some(["main"]) => "main",
            Some(_) => "split",
            None => "unmapped",
        };
        *out.entry(shape).or_insert(0) += 1;
    }
    out
}

/// The number printed after `label:` on its own line (the first such line).
fn printed(stdout: &str, label: &str) -> usize {
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{label}:")))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no '{label}:' line in\n{stdout}"))
}

#[tokio::test]
async fn carry_halls_dry_run_then_run_on_the_shipped_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/hoinghi.db", dir.path().display());
    {
        // The demo's Phú Thọ (2024 tree until 30 June 2025, its 221 halls) and the 2025 tree,
        // plus Hòa Bình's 2024 communes, whose split ones get a hall each.
        let store = scheduler::Store::connect(&url).await.unwrap();
        let options = scheduler::demo::DemoOptions {
            whole_country: false,
            meetings: false,
        };
        scheduler::demo_today::seed_both_trees(&store, options, scheduler::testing::demo_hash())
            .await
            .unwrap()
            .unwrap();
        let hoa_binh = scheduler::demo::province_subset(scheduler::demo::UNITS_2024_CSV, "17");
        let until = scheduler::ImportOptions {
            valid_to: Some("2025-06-30".parse().unwrap()),
            ..Default::default()
        };
        store
            .import_units(&hoa_binh, until, |_, _| {})
            .await
            .unwrap();
        let mapping = std::fs::read_to_string(data("vn-admin-units-2024-to-2025.csv")).unwrap();
        for line in mapping.lines().filter(|l| l.ends_with(",main")) {
            let old = line.split(',').next().unwrap();
            if let Ok(unit) = store.unit_by_code(old, "2025-06-30".parse().unwrap()).await {
                store
                    .create_hall(unit.id, "Điểm cầu xã tách")
                    .await
                    .unwrap();
            }
        }
        store.close().await;
    }
    let phu_tho = mapping_shapes("25");
    let hoa_binh = mapping_shapes("17");
    let carry = |extra: &[&str]| {
        let mut args = vec![
            "units",
            "carry-halls",
            "--on",
            "2025-07-01",
            "--database-url",
            &url,
        ];
        let mapping = data("vn-admin-units-2024-to-2025.csv");
        let provinces = data("vn-provinces-2024-to-2025.csv");
        let mut owned = vec![
            "--mapping".to_string(),
            mapping,
            "--provinces".into(),
            provinces,
        ];
        owned.extend(extra.iter().map(|s| s.to_string()));
        args.extend(owned.iter().map(String::as_str));
        let out = hoinghi().args(&args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let dry = carry(&["--dry-run"]);
    assert!(dry.contains("(dry run: nothing written)"), "{dry}");
    // Phú Thọ's communes (each with a hall) per shape, its province hall; 13 district
    // halls and every split commune listed.
    let whole = phu_tho.get("whole").copied().unwrap_or(0);
    let main =
        phu_tho.get("main").copied().unwrap_or(0) + hoa_binh.get("main").copied().unwrap_or(0);
    let split =
        phu_tho.get("split").copied().unwrap_or(0) + hoa_binh.get("split").copied().unwrap_or(0);
    assert!(split > 0, "the fixture has split communes");
    assert_eq!(printed(&dry, "would move"), whole + main + 1, "{dry}");
    assert_eq!(printed(&dry, "whole"), whole, "{dry}");
    assert_eq!(printed(&dry, "province"), 1, "{dry}");
    assert_eq!(printed(&dry, "split"), split, "{dry}");
    assert_eq!(printed(&dry, "district"), 13, "{dry}");
    assert_eq!(
        printed(&dry, "already on the tree of 2025-07-01"),
        0,
        "{dry}"
    );
    assert!(
        dry.contains("secretariat vp.tinh: Tỉnh Phú Thọ → Tỉnh Phú Thọ"),
        "{dry}"
    );
    // The 13 district secretariats (their districts ended) are listed, each with the
    // province its district's province went into; the CLI re-points none of them.
    let ended = "secretariats whose unit ended (re-point or disable each at /admin/carry)";
    assert_eq!(printed(&dry, ended), 13, "{dry}");
    let listed: Vec<&str> = dry
        .lines()
        .filter(|l| l.trim_start().starts_with("review secretariat vp."))
        .collect();
    assert_eq!(listed.len(), 13, "{dry}");
    assert!(
        listed
            .iter()
            .all(|l| l.ends_with("suggested 25 Tỉnh Phú Thọ")),
        "{dry}"
    );
    assert_eq!(carry(&["--dry-run"]), dry, "a dry run writes nothing");

    let run = carry(&[]);
    assert!(!run.contains("dry run"), "{run}");
    assert_eq!(printed(&run, "moved"), whole + main + 1, "{run}");
    assert_eq!(printed(&run, "whole"), whole, "{run}");
    assert_eq!(printed(&run, "split"), split, "{run}");

    let again = carry(&[]);
    assert_eq!(printed(&again, "moved"), 0, "{again}");
    assert_eq!(printed(&again, ended), 13, "still listed: {again}");
    assert_eq!(
        printed(&again, "already on the tree of 2025-07-01"),
        whole + main + 1,
        "{again}"
    );
    assert!(again.contains("nothing to change"), "{again}");
}
