//! Tests of the settings: unknown keys and bad media, ICE or socket-timing values refused by name, where the attendance journal goes.

use super::*;

#[test]
fn unknown_keys_are_refused_with_their_name() {
    let dir = tempfile_dir();
    let path = dir.join("hoinghi.toml");
    std::fs::write(
        &path,
        "addr = \"127.0.0.1:9000\"\ndatabse_url = \"sqlite://x.db\"\n",
    )
    .unwrap();
    let err = Settings::load(Some(&path), Figment::new()).unwrap_err();
    assert!(err.contains("databse_url"), "{err}");
    std::fs::write(&path, "addr = \"127.0.0.1:9000\"\n").unwrap();
    assert_eq!(
        Settings::load(Some(&path), Figment::new())
            .unwrap()
            .addr
            .port(),
        9000
    );
}

#[test]
fn media_settings_are_checked_by_name() {
    let check = |f: fn(&mut Settings)| {
        let mut s = Settings::default();
        f(&mut s);
        s.validate()
    };
    assert!(check(|_| {}).is_ok());
    assert!(Settings::default()
        .sfu_config()
        .unwrap()
        .bind_ip
        .is_loopback());
    let err = check(|s| s.media_bind_ip = IpAddr::from([0, 0, 0, 0])).unwrap_err();
    assert!(err.contains("media_bind_ip"), "{err}");
    let ok = check(|s| {
        s.media_udp_port = 3479;
        s.media_announced_ips = vec![IpAddr::from([203, 0, 113, 7])];
    });
    assert!(ok.is_ok(), "{ok:?}");
    let one_port = Settings {
        media_udp_port: 3479,
        ..Settings::default()
    };
    assert_eq!(one_port.sfu_config().unwrap().udp_port, 3479);
    assert_eq!(Settings::default().sfu_config().unwrap().udp_port, 0);
    let err = check(|s| s.media_announced_ips = vec![IpAddr::from([0, 0, 0, 0])]).unwrap_err();
    assert!(err.contains("media_announced_ips"), "{err}");
    let codecs = |h264| Settings {
        media_h264: h264,
        ..Settings::default()
    };
    assert!(
        !codecs(false).sfu_config().unwrap().codecs.h264,
        "H.264 is opt-in"
    );
    assert!(codecs(true).sfu_config().unwrap().codecs.h264);
    let trickle = Settings {
        media_trickle: true,
        ..Settings::default()
    };
    assert!(!Settings::default().sfu_config().unwrap().trickle_candidates);
    assert!(trickle.sfu_config().unwrap().trickle_candidates);
    let workers = |n| Settings {
        media_workers: n,
        ..Settings::default()
    };
    assert_eq!(workers(3).sfu_config().unwrap().media_workers, 3);
    assert_eq!(
        Settings::default().sfu_config().unwrap().media_workers,
        0,
        "one per core unless set"
    );
    let err = check(|s| s.media_workers = 1000).unwrap_err();
    assert!(err.contains("media_workers"), "{err}");
}

#[test]
fn ice_settings_load_from_toml_and_are_checked_at_start_up() {
    let path = tempfile_dir().join("hoinghi.toml");
    let ice = "ice_servers = [\"turn:turn.example.vn:3478?transport=tcp\"]\n";
    std::fs::write(&path, ice).unwrap();
    let err = Settings::load(Some(&path), Figment::new()).unwrap_err();
    assert!(err.contains("turn_secret"), "{err}");
    let secret = "turn_secret = \"north-star-secret-0123\"\n";
    std::fs::write(
        &path,
        format!("{ice}{secret}ice_transport_policy = \"relay\"\n"),
    )
    .unwrap();
    let s = Settings::load(Some(&path), Figment::new()).unwrap();
    assert_eq!(s.turn_credential_hours, 12);
    assert!(
        !format!("{s:?}").contains("north-star"),
        "the secret is never printed"
    );
    let config = s.signaling_config().unwrap().ice;
    assert_eq!(config.transport_policy, IceTransportPolicy::Relay);
    std::fs::write(
        &path,
        format!("{ice}{secret}ice_transport_policy = \"tcp\"\n"),
    )
    .unwrap();
    let err = Settings::load(Some(&path), Figment::new()).unwrap_err();
    assert!(err.contains("ice_transport_policy"), "{err}");
}

#[test]
fn the_journal_sits_beside_the_database_unless_set() {
    let at = |url: &str| {
        Settings {
            database_url: url.into(),
            ..Settings::default()
        }
        .journal_config()
        .path
    };
    assert_eq!(
        at("sqlite:///var/lib/hoinghi/hoinghi.db?mode=rwc"),
        Path::new("/var/lib/hoinghi/attendance.journal")
    );
    assert_eq!(at("sqlite://x.db"), Path::new("attendance.journal"));
    assert_eq!(
        at("postgres://h/db"),
        Path::new("hoinghi-data/attendance.journal")
    );
    let set = Settings {
        attendance_journal: Some("/srv/j".into()),
        ..Settings::default()
    };
    assert_eq!(set.journal_config().path, Path::new("/srv/j"));
    assert_eq!(set.journal_config().max_bytes, 256 << 20);
    let err = Settings {
        drain_secs: 0,
        ..Settings::default()
    }
    .validate()
    .unwrap_err();
    assert!(err.contains("drain_secs"), "{err}");
}

#[test]
fn socket_timings_load_from_toml_and_out_of_range_values_are_refused_by_name() {
    let defaults = Settings::default().signaling_config().unwrap();
    let built_in = signaling::SignalingConfig::default();
    assert_eq!(
        (defaults.write_timeout, defaults.state_interval),
        (built_in.write_timeout, built_in.state_interval),
        "the defaults are the service's own"
    );
    let path = tempfile_dir().join("hoinghi.toml");
    std::fs::write(
        &path,
        "socket_write_timeout_secs = 30\nstate_interval_ms = 500\n",
    )
    .unwrap();
    let config = Settings::load(Some(&path), Figment::new())
        .unwrap()
        .signaling_config()
        .unwrap();
    assert_eq!(config.write_timeout, std::time::Duration::from_secs(30));
    assert_eq!(config.state_interval, std::time::Duration::from_millis(500));
    for (toml, key) in [
        (
            "socket_write_timeout_secs = 0",
            "socket_write_timeout_secs must be 1 to 300",
        ),
        (
            "socket_write_timeout_secs = 301",
            "socket_write_timeout_secs must be 1 to 300",
        ),
        (
            "state_interval_ms = 5",
            "state_interval_ms must be 20 to 5000",
        ),
        (
            "state_interval_ms = 60000",
            "state_interval_ms must be 20 to 5000",
        ),
        ("state_interval_ms = -1", "state_interval_ms"),
    ] {
        std::fs::write(&path, format!("{toml}\n")).unwrap();
        let err = Settings::load(Some(&path), Figment::new()).unwrap_err();
        assert!(err.contains(key), "{toml}: {err}");
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hoinghi-settings-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_recordings_section_reaches_the_live_meetings() {
    let path = tempfile_dir().join("hoinghi.toml");
    std::fs::write(
        &path,
        "[recordings]\ndir = \"/srv/hoinghi/ghi-hinh\"\nkinds = [\"routine\", \"national_relay\"]\n",
    )
    .unwrap();
    let config = Settings::load(Some(&path), Figment::new())
        .unwrap()
        .signaling_config()
        .unwrap();
    assert_eq!(
        config.recordings_dir.as_deref(),
        Some(std::path::Path::new("/srv/hoinghi/ghi-hinh"))
    );
    assert_eq!(config.record_kinds, ["routine", "national_relay"]);
    // By default recordings go beside the data and no kind records by itself.
    let defaults = Settings::default();
    let config = defaults.signaling_config().unwrap();
    assert_eq!(config.recordings_dir, Some(defaults.recordings_dir()));
    assert!(config.record_kinds.is_empty());
}
