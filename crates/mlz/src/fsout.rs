//! Writing an output folder so that a failed run leaves the old one exactly as it was.
//!
//! Files go to a hidden sibling folder first; only when every file is written is the old
//! folder moved aside and the new one renamed into place (both renames in one parent
//! folder, so on one file system). A folder that does not look like mlz output is never
//! replaced.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

fn sibling(dir: &Path, tag: &str) -> io::Result<PathBuf> {
    let name = dir.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a folder name", dir.display()),
        )
    })?;
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Ok(parent.join(format!(
        ".{}.mlz-{tag}-{}",
        name.to_string_lossy(),
        std::process::id()
    )))
}

/// Replaces `dir` with a folder holding exactly `files` (paths relative, `/`-separated).
pub fn replace_dir(dir: &Path, files: &BTreeMap<String, Vec<u8>>) -> Result<(), String> {
    let ctx = |what: &str, p: &Path, e: io::Error| format!("cannot {what} {}: {e}", p.display());
    if dir.exists() {
        let is_ours = dir.join("manifest.json").is_file()
            || fs::read_dir(dir)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
        if !dir.is_dir() || !is_ours {
            return Err(format!(
                "{} exists and is not an mlz output folder (no manifest.json); choose another -o or remove it",
                dir.display()
            ));
        }
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| ctx("create", parent, e))?;
    }
    let tmp = sibling(dir, "tmp").map_err(|e| e.to_string())?;
    let _ = fs::remove_dir_all(&tmp);
    let written = (|| -> Result<(), String> {
        fs::create_dir(&tmp).map_err(|e| ctx("create", &tmp, e))?;
        // Each folder is created once (3,000 vending requests share one), not once per file.
        let mut made = std::collections::HashSet::new();
        for (rel, bytes) in files {
            let p = tmp.join(rel);
            if let Some(d) = p.parent().filter(|d| !made.contains(*d)) {
                fs::create_dir_all(d).map_err(|e| ctx("create", d, e))?;
                made.insert(d.to_path_buf());
            }
            fs::write(&p, bytes).map_err(|e| ctx("write", &p, e))?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if dir.exists() {
        let old = sibling(dir, "old").map_err(|e| e.to_string())?;
        let _ = fs::remove_dir_all(&old);
        if let Err(e) = fs::rename(dir, &old) {
            let _ = fs::remove_dir_all(&tmp);
            return Err(ctx("move aside", dir, e));
        }
        if let Err(e) = fs::rename(&tmp, dir) {
            let _ = fs::rename(&old, dir);
            let _ = fs::remove_dir_all(&tmp);
            return Err(ctx("rename into place", dir, e));
        }
        let _ = fs::remove_dir_all(&old);
    } else if let Err(e) = fs::rename(&tmp, dir) {
        let _ = fs::remove_dir_all(&tmp);
        return Err(ctx("rename into place", dir, e));
    }
    Ok(())
}

/// Writes one file atomically: a temporary file beside it, then a rename, so a reader sees
/// the old text or the new one, never half of it.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.mlz-tmp"));
    std::fs::write(&tmp, bytes).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        e.to_string()
    })
}
