//! The pages' words in Vietnamese (first) and English: a small dictionary and the language choice.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The cookie remembering the chosen language (`?lang=en` sets it).
pub const LANG_COOKIE: &str = "hoinghi_lang";

/// A page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Tiếng Việt, the default.
    #[default]
    Vi,
    /// English.
    En,
}

impl Lang {
    /// Parses `vi` or `en`.
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim() {
            "vi" => Some(Lang::Vi),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The code used in `lang=` and the cookie.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// The language the switch offers.
    pub fn other(self) -> Lang {
        match self {
            Lang::Vi => Lang::En,
            Lang::En => Lang::Vi,
        }
    }
}

/// The dictionary: `key<TAB>Vietnamese<TAB>English` lines; `#` starts a comment line.
const WORDS: &str = include_str!("words.tsv");

/// The dictionary's entries (lines that are not three fields are skipped; a test checks none are).
fn entries() -> impl Iterator<Item = (&'static str, &'static str, &'static str)> {
    WORDS
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split('\t');
            match (f.next(), f.next(), f.next(), f.next()) {
                (Some(k), Some(vi), Some(en), None) => Some((k, vi, en)),
                _ => None,
            }
        })
}

fn tables() -> &'static [HashMap<&'static str, &'static str>; 2] {
    static TABLES: OnceLock<[HashMap<&'static str, &'static str>; 2]> = OnceLock::new();
    TABLES.get_or_init(|| {
        let vi = entries().map(|(k, vi, _)| (k, vi)).collect();
        let en = entries().map(|(k, _, en)| (k, en)).collect();
        [vi, en]
    })
}

/// The text of `key`, if the dictionary has it.
pub fn lookup(lang: Lang, key: &str) -> Option<&'static str> {
    tables()[lang as usize].get(key).copied()
}

/// The text of `key`, or the key itself (never fails; for texts handed to scripts).
pub fn text(lang: Lang, key: &str) -> String {
    lookup(lang, key).unwrap_or(key).to_string()
}

/// Every text whose key starts with one of `prefixes` (`"con."` …), by key, for a script.
pub fn texts_with(lang: Lang, prefixes: &[&str]) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = entries()
        .filter(|(k, ..)| prefixes.iter().any(|p| k.starts_with(p)))
        .map(|(k, vi, en)| {
            (
                k.to_string(),
                (if lang == Lang::Vi { vi } else { en }).into(),
            )
        })
        .collect();
    serde_json::Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_both_languages_are_filled() {
        let lines = WORDS
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
        assert_eq!(
            lines.count(),
            entries().count(),
            "a line is not key<TAB>vi<TAB>en"
        );
        let mut seen = std::collections::HashSet::new();
        for (key, vi, en) in entries() {
            assert!(seen.insert(key), "duplicate key {key}");
            assert!(!vi.is_empty() && !en.is_empty(), "empty text for {key}");
        }
        assert_eq!(
            lookup(Lang::Vi, "login.bad"),
            Some("Sai tên đăng nhập hoặc mật khẩu")
        );
        assert_eq!(
            lookup(Lang::En, "join.too_early"),
            Some("The meeting has not opened yet")
        );
        assert_eq!(Lang::parse("en"), Some(Lang::En));
        // Keys the templates build from data (`"kind." ~ m.kind` …) must all exist.
        let families: [(&str, &[&str]); 11] = [
            (
                "carry.kind",
                &["whole", "main", "split_to_main", "district", "province"],
            ),
            (
                "carry.reason",
                &[
                    "split",
                    "district",
                    "province",
                    "unmapped",
                    "target_missing",
                ],
            ),
            ("carry.part", &["whole", "main", "part"]),
            ("carry.done", &["placed", "repointed", "disabled"]),
            ("kind", &["routine", "sudden", "national_relay", "test"]),
            (
                "level",
                &["country", "province", "district", "commune", "other"],
            ),
            ("role", &["admin", "secretariat", "hall"]),
            ("day", &["MO", "TU", "WE", "TH", "FR", "SA", "SU"]),
            (
                "event",
                &[
                    "scheduled",
                    "rescheduled",
                    "edited",
                    "cancelled",
                    "feed_added",
                    "feed_revoked",
                ],
            ),
            ("feed", &["kind_ingest", "kind_viewer"]),
            (
                "admin.done",
                &[
                    "created",
                    "renamed",
                    "deactivated",
                    "activated",
                    "password",
                    "disabled",
                    "enabled",
                ],
            ),
        ];
        for (family, names) in families {
            for name in names {
                for lang in [Lang::Vi, Lang::En] {
                    assert!(
                        lookup(lang, &format!("{family}.{name}")).is_some(),
                        "{family}.{name}"
                    );
                }
            }
        }
        assert_eq!(Lang::parse("fr"), None);
    }
}
