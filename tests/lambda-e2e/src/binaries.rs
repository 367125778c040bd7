//! The workspace's built binaries, built on demand.
//!
//! `env!("CARGO_BIN_EXE_…")` only names binaries of the test's own package, and a test
//! cannot depend on another package's binary (artifact dependencies are unstable). So the
//! tests ask the cargo that runs them to build the packages (a no-op when they are up to
//! date) and take each executable's path from cargo's own JSON messages: no guessing at
//! `target/`, profiles or `CARGO_TARGET_DIR`, and it works on a clean clone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A build that did not give the executables asked for.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot run cargo: {0}")]
    Spawn(#[from] std::io::Error),
    #[error("cargo build failed ({status}):\n{stderr}")]
    Failed { status: String, stderr: String },
    #[error("cargo built no executable named {0}")]
    Missing(String),
}

/// The cargo running this test (falls back to the one on `PATH`).
fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Build `packages` of the workspace at `workspace_root` (debug profile, their default
/// features) and return the path of each binary named in `binaries`.
pub fn build_binaries(
    workspace_root: &Path,
    packages: &[&str],
    binaries: &[&str],
) -> Result<BTreeMap<String, PathBuf>, BuildError> {
    let mut command = Command::new(cargo());
    command
        .current_dir(workspace_root)
        .args([
            "build",
            "--message-format=json-render-diagnostics",
            "--bins",
        ])
        .arg("--manifest-path")
        .arg(workspace_root.join("Cargo.toml"));
    for package in packages {
        command.args(["-p", package]);
    }
    let output = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()?;
    if !output.status.success() {
        return Err(BuildError::Failed {
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    let mut found = BTreeMap::new();
    for line in output.stdout.split(|b| *b == b'\n') {
        let Ok(message) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let (Some(name), Some(executable)) = (
            message["target"]["name"].as_str(),
            message["executable"].as_str(),
        ) else {
            continue;
        };
        if binaries.contains(&name) {
            found.insert(name.to_owned(), PathBuf::from(executable));
        }
    }
    for binary in binaries {
        if !found.contains_key(*binary) {
            return Err(BuildError::Missing((*binary).to_owned()));
        }
    }
    Ok(found)
}
