//! A small disk that can be filled: a tmpfs of a few MiB mounted on a temporary
//! directory (root, as CI runs), unmounted when dropped. "Disk full" is a filler file
//! taking every free byte; removing it gives the space back.
//!
//! Why not a private mount namespace (`unshare -m`): the test reads the server's SQLite
//! file itself, and SQLite resolves `/proc/<pid>/root/…` (the way into another
//! namespace) to the path in this one, so it would open another, empty file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The mounted disk.
pub struct SmallDisk {
    mount: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `mib` MiB.
    pub fn mount(mib: u32) -> Result<SmallDisk, String> {
        let mount = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={mib}m"),
                "hoinghi-faults",
            ])
            .arg(mount.path())
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(SmallDisk { mount })
    }

    pub fn path(&self) -> &Path {
        self.mount.path()
    }

    fn filler(&self) -> PathBuf {
        self.mount.path().join("filler")
    }

    /// Takes every free byte (a filler file written until the disk says it is full).
    pub fn fill(&self) {
        let mut f = std::fs::File::create(self.filler()).unwrap();
        let chunk = vec![0u8; 1 << 16];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                // ENOSPC
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
    }

    /// Gives the space back.
    pub fn free(&self) {
        std::fs::remove_file(self.filler()).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: a server killed a moment ago may still hold its files.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.mount.path())
            .status();
    }
}
