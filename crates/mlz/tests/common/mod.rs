//! What the binary's end-to-end tests share: running `mlz` and a scratch folder per test.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `mlz` binary in `cwd`.
pub fn mlz(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlz"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run mlz")
}

/// A fresh, empty scratch folder for one test: `mlz-<suite>-<name>-<pid>` in the temp dir.
pub fn scratch(suite: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mlz-{suite}-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).expect("scratch dir");
    d
}
