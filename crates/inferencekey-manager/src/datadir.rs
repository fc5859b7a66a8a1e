//! The data dir's permissions: only the Manager's user may read it.
//!
//! The database holds token hashes and every spec, the logs quote prompts and commands. A
//! data dir created by an older version (or by hand) may be 0755 with 0644 files; every start
//! tightens it to 0700 and every file under it to 0600 (directories 0700), without following
//! symlinks.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Directory and file modes the data dir ends up with.
pub const DIR_MODE: u32 = 0o700;
pub const FILE_MODE: u32 = 0o600;

/// Tightens `dir` and everything under it; returns how many entries were changed.
pub fn tighten(dir: &Path) -> io::Result<usize> {
    let mut changed = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        changed += set_mode(&d, DIR_MODE)?;
        for entry in fs::read_dir(&d)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_symlink() {
                continue;
            }
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                changed += set_mode(&entry.path(), FILE_MODE)?;
            }
        }
    }
    Ok(changed)
}

fn set_mode(path: &Path, mode: u32) -> io::Result<usize> {
    let current = fs::symlink_metadata(path)?.permissions().mode() & 0o7777;
    // Only ever removes bits: an owner-only mode stricter than ours (0400) stays.
    let wanted = current & mode;
    if current == wanted {
        return Ok(0);
    }
    fs::set_permissions(path, fs::Permissions::from_mode(wanted))?;
    Ok(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_and_other_bits_go() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir(d.join("logs")).unwrap();
        fs::write(d.join("manager.db"), "x").unwrap();
        fs::write(d.join("logs/a.log"), "x").unwrap();
        for (p, m) in [
            ("", 0o755),
            ("logs", 0o755),
            ("manager.db", 0o644),
            ("logs/a.log", 0o664),
        ] {
            fs::set_permissions(d.join(p), fs::Permissions::from_mode(m)).unwrap();
        }
        assert_eq!(tighten(d).unwrap(), 4);
        let mode = |p: &str| fs::metadata(d.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(""), 0o700);
        assert_eq!(mode("logs"), 0o700);
        assert_eq!(mode("manager.db"), 0o600);
        assert_eq!(mode("logs/a.log"), 0o600);
        assert_eq!(tighten(d).unwrap(), 0);
    }
}
