//! The attendance writer's journal: an append-only file of the changes not yet in the
//! database, one JSON line each, flushed to disk (fsync) before they are written, read
//! back in order at start-up, and emptied once the database holds them all.
//!
//! A change is in the journal within a few milliseconds of a room recording it, so it
//! survives a database outage and a crash of the server; the database remembers each
//! change's id, so replaying a line already written changes nothing.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use scheduler::changes::RecordedChange;

/// An open journal file.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    /// Bytes in the file now.
    bytes: u64,
    /// The most it may hold; beyond it new changes stay in memory only.
    limit: u64,
}

impl Journal {
    /// Opens (creating) the journal at `path` and reads the changes it holds, in order.
    /// A last line cut short by a crash mid-write is ignored (and overwritten next).
    pub fn open(path: &Path, limit: u64) -> std::io::Result<(Journal, Vec<RecordedChange>)> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        let mut changes = Vec::new();
        let mut good = 0u64;
        let mut reader = BufReader::new(&file);
        let mut line = String::new();
        loop {
            line.clear();
            let n = reader.read_line(&mut line)?;
            if n == 0 || !line.ends_with('\n') {
                break;
            }
            match serde_json::from_str::<RecordedChange>(line.trim_end()) {
                Ok(change) => changes.push(change),
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "unreadable attendance journal line skipped");
                }
            }
            good += n as u64;
        }
        // Cut a torn tail, so the next append starts on a line of its own.
        file.set_len(good)?;
        Ok((
            Journal {
                path: path.to_path_buf(),
                file,
                bytes: good,
                limit,
            },
            changes,
        ))
    }

    /// Appends `changes` and waits until they are on disk. Returns false (writing
    /// nothing) if they would take the journal past its limit.
    pub fn append(&mut self, changes: &[RecordedChange]) -> std::io::Result<bool> {
        let mut text = String::new();
        for c in changes {
            // A RecordedChange is plain data (numbers, strings, enums): it always serialises.
            text.push_str(&serde_json::to_string(c).map_err(std::io::Error::other)?);
            text.push('\n');
        }
        if self.bytes + text.len() as u64 > self.limit {
            return Ok(false);
        }
        self.file.write_all(text.as_bytes())?;
        self.file.sync_data()?;
        self.bytes += text.len() as u64;
        Ok(true)
    }

    /// Empties the journal: the database holds everything it had.
    pub fn clear(&mut self) -> std::io::Result<()> {
        if self.bytes == 0 {
            return Ok(());
        }
        self.file.set_len(0)?;
        self.file.sync_data()?;
        self.bytes = 0;
        Ok(())
    }

    /// Bytes the journal holds.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheduler::changes::Change;

    fn change(n: u64) -> RecordedChange {
        RecordedChange {
            id: format!("t-{n}"),
            meeting_id: 1,
            at: 1_700_000_000 + n as i64,
            change: Change::Headcount {
                hall_id: 2,
                people: n as i64,
            },
        }
    }

    #[test]
    fn changes_come_back_in_order_and_a_torn_line_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("attendance.journal");
        let (mut j, old) = Journal::open(&path, 1 << 20).unwrap();
        assert!(old.is_empty());
        assert!(j.append(&[change(1), change(2)]).unwrap());
        assert!(j.append(&[change(3)]).unwrap());
        drop(j);
        // A crash in the middle of writing the fourth line.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"id":"t-4","meeting_id":1,"#).unwrap();
        drop(f);
        let (mut j, back) = Journal::open(&path, 1 << 20).unwrap();
        assert_eq!(back, vec![change(1), change(2), change(3)]);
        assert!(j.append(&[change(5)]).unwrap());
        drop(j);
        let (mut j, back) = Journal::open(&path, 1 << 20).unwrap();
        assert_eq!(back, vec![change(1), change(2), change(3), change(5)]);
        j.clear().unwrap();
        drop(j);
        assert!(Journal::open(&path, 1 << 20).unwrap().1.is_empty());
    }

    #[test]
    fn a_full_journal_takes_nothing_more() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let one = serde_json::to_string(&change(1)).unwrap().len() as u64 + 1;
        let (mut j, _) = Journal::open(&path, one * 2).unwrap();
        assert!(j.append(&[change(1), change(2)]).unwrap());
        assert!(!j.append(&[change(3)]).unwrap());
        drop(j);
        assert_eq!(Journal::open(&path, one * 2).unwrap().1.len(), 2);
    }
}
