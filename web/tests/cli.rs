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
