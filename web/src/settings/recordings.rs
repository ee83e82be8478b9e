//! The `[recordings]` section: where meeting recordings are written, how long they are
//! kept, and which kinds of meeting are recorded without anyone pressing a button.

use std::path::PathBuf;

use scheduler::MeetingKind;
use serde::{Deserialize, Serialize};

use super::Settings;

/// The longest retention accepted, in days (a hundred years: a typing mistake beyond).
pub const MAX_RETENTION_DAYS: u32 = 36_500;

/// How often the retention sweep runs.
pub const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Recordings (`[recordings]` in the settings file, `HOINGHI_RECORDINGS__DIR`…).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordingsSettings {
    /// The directory recordings are written under (`<dir>/<meeting id>/…webm`). Default:
    /// `recordings` beside the SQLite file, or in `hoinghi-data/` with PostgreSQL.
    pub dir: Option<PathBuf>,
    /// Recordings older than this many days lose their file (the row stays, `expired`,
    /// and the meeting's history says so); checked hourly. 0: kept forever.
    pub retention_days: u32,
    /// Kinds of meeting recorded from the moment they go live (`routine`, `sudden`,
    /// `national_relay`, `test`); others only when the host or its secretariat starts it.
    pub kinds: Vec<MeetingKind>,
}

impl Settings {
    /// Where recordings are written: `recordings.dir`, or the default beside the data.
    pub fn recordings_dir(&self) -> PathBuf {
        self.recordings
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir().join("recordings"))
    }

    /// `[recordings]`, checked.
    pub(super) fn check_recordings(&self) -> Result<(), String> {
        if self.recordings.retention_days > MAX_RETENTION_DAYS {
            return Err(format!(
                "settings: recordings.retention_days must be 0 to {MAX_RETENTION_DAYS}"
            ));
        }
        if self
            .recordings
            .dir
            .as_ref()
            .is_some_and(|d| d.as_os_str().is_empty())
        {
            return Err("settings: recordings.dir must not be empty".into());
        }
        Ok(())
    }

    /// The kinds recorded by default, by their stored names (as the rooms take them).
    pub fn record_kinds(&self) -> Vec<String> {
        self.recordings
            .kinds
            .iter()
            .map(|k| k.as_str().to_owned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::providers::{Format, Toml};
    use figment::Figment;
    use std::path::Path;

    fn load(toml: &str) -> Result<Settings, String> {
        Settings::load(None, Figment::new().merge(Toml::string(toml)))
    }

    #[test]
    fn recordings_default_beside_the_database_kept_forever_none_by_kind() {
        let s = load("database_url = \"sqlite:///srv/hoinghi/hoinghi.db\"").unwrap();
        assert_eq!(s.recordings_dir(), Path::new("/srv/hoinghi/recordings"));
        assert_eq!(s.recordings.retention_days, 0);
        assert!(s.record_kinds().is_empty());
        let pg = load("database_url = \"postgres://u@db/h\"").unwrap();
        assert_eq!(pg.recordings_dir(), Path::new("hoinghi-data/recordings"));
    }

    #[test]
    fn the_section_is_read_and_checked_by_name() {
        let s = load(
            "[recordings]\ndir = \"/data/rec\"\nretention_days = 365\nkinds = [\"routine\", \"national_relay\"]",
        )
        .unwrap();
        assert_eq!(s.recordings_dir(), Path::new("/data/rec"));
        assert_eq!(s.recordings.retention_days, 365);
        assert_eq!(s.record_kinds(), ["routine", "national_relay"]);
        // The rooms get them.
        let rooms = s.signaling_config().unwrap();
        assert_eq!(
            rooms.recordings_dir.as_deref(),
            Some(Path::new("/data/rec"))
        );
        assert_eq!(rooms.record_kinds, ["routine", "national_relay"]);
        let bad_kind = load("[recordings]\nkinds = [\"weekly\"]").unwrap_err();
        assert!(bad_kind.contains("recordings.kinds"), "{bad_kind}");
        let too_long = load("[recordings]\nretention_days = 40000").unwrap_err();
        assert!(too_long.contains("recordings.retention_days"), "{too_long}");
        let unknown = load("[recordings]\nfolder = \"/x\"").unwrap_err();
        assert!(unknown.contains("folder"), "{unknown}");
    }
}
