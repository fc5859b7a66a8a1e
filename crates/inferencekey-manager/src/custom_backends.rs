//! Custom backend packages (docs/contract.md §7): checking an uploaded archive, storing it
//! under the data dir, and unpacking it for the reconciler.
//!
//! An archive is a gzip'd tar with `manifest.json` and `requirements.txt` at its root. It is
//! read member by member and refused at the first member that could write outside its
//! directory or be anything but a plain file or directory (absolute paths, `..`, symbolic and
//! hard links, devices, FIFOs), so unpacking can never touch another path. Sizes are bounded
//! both compressed (the upload) and expanded (a gzip bomb is refused, not unpacked).

use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use inferencekey_core::custom_backend::BackendManifest;
use sha2::{Digest, Sha256};

/// The largest upload the publish route takes (the core's rule, shared with the packager).
pub use inferencekey_core::custom_backend::MAX_PACKAGE_BYTES as MAX_ARCHIVE_BYTES;
/// The largest a package may expand to.
pub const MAX_EXPANDED_BYTES: u64 = 256 * 1024 * 1024;
/// The most members a package may hold.
pub const MAX_MEMBERS: usize = 10_000;

/// Why an archive was refused; the text names the member and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The archive itself is wrong (400 `file`).
    #[error("{0}")]
    Invalid(String),
    /// The manifest is (400 naming the manifest's key).
    #[error("{0}")]
    Manifest(inferencekey_core::Error),
}

/// A checked package: its manifest and the members it will unpack.
pub struct Checked {
    pub manifest: BackendManifest,
    pub manifest_json: serde_json::Value,
    pub requirements: String,
    pub members: Vec<(PathBuf, Vec<u8>, bool)>,
}

/// The member's path as a relative path with no `.`/`..`, or why not.
fn safe_path(raw: &Path) -> Result<PathBuf, String> {
    let mut out = PathBuf::new();
    for c in raw.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(format!(
                "member {:?} has a `..` component; package members must stay inside the package",
                raw.display()
            ))
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "member {:?} has an absolute path; package members must be relative",
                    raw.display()
                ))
            }
        }
    }
    Ok(out)
}

/// Reads and checks the whole archive (in memory: it is bounded by [`MAX_EXPANDED_BYTES`]).
pub fn check(archive: &[u8]) -> Result<Checked, ArchiveError> {
    let invalid = |m: String| ArchiveError::Invalid(m);
    let gz = flate2::read::GzDecoder::new(archive);
    // One byte over the bound tells "too big" from "exactly the bound".
    let mut tar = tar::Archive::new(gz.take(MAX_EXPANDED_BYTES + 1));
    let entries = tar
        .entries()
        .map_err(|e| invalid(format!("not a .tar.gz package: {e}")))?;
    let mut members = Vec::new();
    let mut total: u64 = 0;
    for entry in entries {
        let mut entry = entry.map_err(|e| {
            invalid(format!(
                "not a .tar.gz package (or larger than {MAX_EXPANDED_BYTES} bytes unpacked): {e}"
            ))
        })?;
        if members.len() >= MAX_MEMBERS {
            return Err(invalid(format!(
                "the package has more than {MAX_MEMBERS} members"
            )));
        }
        let raw = entry
            .path()
            .map_err(|e| invalid(format!("a member has an unreadable path: {e}")))?
            .into_owned();
        let path = safe_path(&raw).map_err(invalid)?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        if kind.is_dir() {
            continue;
        }
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            let what = if kind.is_symlink() {
                "a symbolic link"
            } else if kind.is_hard_link() {
                "a hard link"
            } else if kind.is_character_special() || kind.is_block_special() {
                "a device"
            } else if kind.is_fifo() {
                "a FIFO"
            } else {
                "not a regular file"
            };
            return Err(invalid(format!(
                "member {:?} is {what}; packages hold regular files and directories only",
                raw.display()
            )));
        }
        if path.as_os_str().is_empty() {
            continue;
        }
        let executable = entry
            .header()
            .mode()
            .map(|m| m & 0o111 != 0)
            .unwrap_or(false);
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|e| invalid(format!("member {:?} could not be read: {e}", raw.display())))?;
        total += data.len() as u64;
        if total > MAX_EXPANDED_BYTES {
            return Err(invalid(format!(
                "the package expands to more than {MAX_EXPANDED_BYTES} bytes"
            )));
        }
        if members.iter().any(|(p, _, _)| p == &path) {
            return Err(invalid(format!(
                "member {:?} appears twice",
                path.display()
            )));
        }
        members.push((path, data, executable));
    }
    let root = |name: &str| {
        members
            .iter()
            .find(|(p, _, _)| p == Path::new(name))
            .map(|(_, d, _)| d.clone())
    };
    let fix = "build it with `inferencekey backend package DIR -o FILE`";
    let manifest_bytes = root("manifest.json").ok_or_else(|| {
        invalid(format!(
            "the package has no manifest.json at its root; {fix}"
        ))
    })?;
    let requirements = root("requirements.txt").ok_or_else(|| {
        invalid(format!(
            "the package has no requirements.txt at its root (it may be empty); {fix}"
        ))
    })?;
    let text = String::from_utf8(manifest_bytes)
        .map_err(|_| invalid("manifest.json is not UTF-8".into()))?;
    let manifest = BackendManifest::from_json(&text).map_err(ArchiveError::Manifest)?;
    let requirements = String::from_utf8(requirements)
        .map_err(|_| invalid("requirements.txt is not UTF-8".into()))?;
    Ok(Checked {
        manifest_json: manifest.to_value(),
        manifest,
        requirements,
        members,
    })
}

/// Hex SHA-256 of the archive.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where published archives are kept: `<data dir>/backends/archives/<sha>.tar.gz`.
pub fn archive_path(data_dir: &Path, sha: &str) -> PathBuf {
    data_dir
        .join("backends")
        .join("archives")
        .join(format!("{sha}.tar.gz"))
}

/// Where a package is unpacked for running: `<data dir>/backends/<sha>/` (the code under
/// `pkg/`, its virtual environment under `venv/`).
pub fn unpacked_dir(data_dir: &Path, sha: &str) -> PathBuf {
    data_dir.join("backends").join(sha)
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a crash never leaves a
/// half-written archive under its final name.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, path)
}

/// Unpacks the stored archive `sha` into `<data dir>/backends/<sha>/pkg` (once: an existing
/// complete unpack is reused) and returns that directory. The archive is checked again, so
/// a file changed on disk since publishing cannot escape either.
pub fn unpack(data_dir: &Path, sha: &str) -> Result<PathBuf, String> {
    let dir = unpacked_dir(data_dir, sha);
    let pkg = dir.join("pkg");
    if pkg.join("manifest.json").is_file() {
        return Ok(pkg);
    }
    let archive = archive_path(data_dir, sha);
    let bytes = fs::read(&archive)
        .map_err(|e| format!("could not read the package {}: {e}", archive.display()))?;
    if sha256_hex(&bytes) != sha {
        return Err(format!(
            "the stored package {} does not match its SHA-256; publish it again",
            archive.display()
        ));
    }
    let checked = check(&bytes).map_err(|e| e.to_string())?;
    let staging = dir.join(format!("pkg.tmp-{}", std::process::id()));
    let _ = fs::remove_dir_all(&staging);
    for (rel, data, executable) in &checked.members {
        let target = staging.join(rel);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| format!("could not create {}: {e}", parent.display()))?;
        }
        fs::write(&target, data)
            .map_err(|e| format!("could not write {}: {e}", target.display()))?;
        use std::os::unix::fs::PermissionsExt;
        let mode = if *executable { 0o755 } else { 0o644 };
        fs::set_permissions(&target, fs::Permissions::from_mode(mode))
            .map_err(|e| format!("could not set the mode of {}: {e}", target.display()))?;
    }
    fs::rename(&staging, &pkg)
        .map_err(|e| format!("could not move the package into place: {e}"))?;
    Ok(pkg)
}

/// The largest job the runtime reads (its own bound, docs/contract.md §7).
pub const MAX_JOB_BYTES: usize = 16 * 1024 * 1024;

/// The `/process` body for one call: `{"id", "input"}` with the caller's JSON object as the
/// input, or, for a body that is not one (multipart, binary), `raw_body_b64` and
/// `raw_body_content_type`.
pub fn process_body(id: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let input = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v @ serde_json::Value::Object(_)) => v,
        _ => serde_json::json!({
            "raw_body_b64": base64::engine::general_purpose::STANDARD.encode(body),
            "raw_body_content_type": content_type,
        }),
    };
    serde_json::to_vec(&serde_json::json!({"id": id, "input": input})).unwrap_or_default()
}

/// The `output` of a runtime's 200 answer, as JSON text; `None` when the answer has none.
pub fn output_of(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Answer<'a> {
        #[serde(borrow)]
        output: &'a serde_json::value::RawValue,
    }
    serde_json::from_slice::<Answer<'_>>(body)
        .ok()
        .map(|a| a.output.get().to_string())
}

/// The text of a runtime's error answer (`{"error": "<text>"}`), else the body's start.
pub fn error_text(body: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => match v.get("error") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(e) => e
                .get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| e.to_string()),
            None => v.to_string(),
        },
        Err(_) => String::from_utf8_lossy(body).chars().take(500).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn manifest() -> &'static str {
        r#"{"name":"echo","version":"1","task_type":"text2text","requires_python":">=3.8",
            "entrypoint":"echo:Echo","sdk_protocol":"1"}"#
    }

    /// A gzip'd tar built header by header, so tests can make members `tar` would refuse.
    fn archive(members: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let gz = flate2::write::GzEncoder::new(&mut out, flate2::Compression::fast());
            let mut b = tar::Builder::new(gz);
            for (name, kind, data) in members {
                let mut h = tar::Header::new_gnu();
                // Write the raw name bytes: `set_path` refuses `..` and absolute paths.
                let gnu = h.as_gnu_mut().unwrap();
                gnu.name[..name.len()].copy_from_slice(name.as_bytes());
                h.set_entry_type(*kind);
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
                h.set_cksum();
                b.append(&h, *data).unwrap();
            }
            b.into_inner().unwrap().finish().unwrap().flush().unwrap();
        }
        out
    }

    #[test]
    fn a_good_package_is_taken() {
        let a = archive(&[
            (
                "manifest.json",
                tar::EntryType::Regular,
                manifest().as_bytes(),
            ),
            ("requirements.txt", tar::EntryType::Regular, b""),
            ("echo.py", tar::EntryType::Regular, b"x = 1\n"),
        ]);
        let c = check(&a).unwrap();
        assert_eq!(c.manifest.slug, "echo");
        assert_eq!(c.members.len(), 3);
    }

    #[test]
    fn escaping_members_are_refused_by_name() {
        for (name, kind, want) in [
            ("../evil.py", tar::EntryType::Regular, "`..`"),
            ("/etc/evil", tar::EntryType::Regular, "absolute"),
            ("link", tar::EntryType::Symlink, "symbolic link"),
            ("hard", tar::EntryType::Link, "hard link"),
            ("dev", tar::EntryType::Char, "device"),
        ] {
            let a = archive(&[
                (
                    "manifest.json",
                    tar::EntryType::Regular,
                    manifest().as_bytes(),
                ),
                ("requirements.txt", tar::EntryType::Regular, b""),
                (name, kind, b""),
            ]);
            let err = check(&a).err().expect(name).to_string();
            assert!(err.contains(want), "{name}: {err}");
        }
    }

    #[test]
    fn missing_root_files_are_named() {
        let a = archive(&[("requirements.txt", tar::EntryType::Regular, b"")]);
        assert!(check(&a)
            .err()
            .unwrap()
            .to_string()
            .contains("manifest.json"));
        let a = archive(&[(
            "manifest.json",
            tar::EntryType::Regular,
            manifest().as_bytes(),
        )]);
        assert!(check(&a)
            .err()
            .unwrap()
            .to_string()
            .contains("requirements.txt"));
        assert!(check(b"not a tarball").is_err());
    }
}
