//! The workspace's binaries, as Cargo sees them (`cargo metadata`), so a function's
//! `BuildProperties.Binary` is checked against the same truth `cargo lambda build` uses —
//! explicit `[[bin]]` sections and `src/main.rs` (named after the package) alike.

use crate::error::CheckError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One binary target of a workspace member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binary {
    /// The package that builds it.
    pub package: String,
    /// The binary's name (what `--bin` takes).
    pub name: String,
    /// The package's directory.
    pub package_dir: PathBuf,
}

/// The workspace root: this crate lives at `<root>/tests/template-check`.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest_dir.to_path_buf())
}

/// Every binary target of every workspace member.
pub fn workspace_binaries(root: &Path) -> Result<Vec<Binary>, CheckError> {
    // The cargo that runs this test (falls back to the one on PATH).
    let cargo = std::env::var_os("CARGO")
        .or_else(|| option_env!("CARGO").map(Into::into))
        .unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .output()
        .map_err(|e| CheckError::Cargo(format!("cannot run cargo: {e}")))?;
    if !output.status.success() {
        return Err(CheckError::Cargo(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ));
    }
    binaries_from_metadata(&output.stdout)
}

/// Reads `cargo metadata --format-version 1` output.
pub fn binaries_from_metadata(json: &[u8]) -> Result<Vec<Binary>, CheckError> {
    let metadata: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| CheckError::Cargo(format!("bad JSON: {e}")))?;
    let packages = metadata["packages"]
        .as_array()
        .ok_or_else(|| CheckError::Cargo("no `packages` list".into()))?;
    let mut binaries = Vec::new();
    for package in packages {
        let (Some(name), Some(manifest)) =
            (package["name"].as_str(), package["manifest_path"].as_str())
        else {
            return Err(CheckError::Cargo("package without name or manifest".into()));
        };
        let package_dir = Path::new(manifest)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        for target in package["targets"].as_array().into_iter().flatten() {
            let is_bin = target["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|k| k == "bin"));
            if let (true, Some(bin)) = (is_bin, target["name"].as_str()) {
                binaries.push(Binary {
                    package: name.to_owned(),
                    name: bin.to_owned(),
                    package_dir: package_dir.clone(),
                });
            }
        }
    }
    Ok(binaries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bin_targets_only() {
        let json = br#"{"packages": [
            {"name": "poller", "manifest_path": "/w/functions/poller/Cargo.toml",
             "targets": [{"name": "poller", "kind": ["bin"]}, {"name": "poller", "kind": ["lib"]}]},
            {"name": "sage-events-core", "manifest_path": "/w/shared/Cargo.toml",
             "targets": [{"name": "sage_events_core", "kind": ["lib"]}]}
        ]}"#;
        let bins = binaries_from_metadata(json).expect("parses");
        assert_eq!(
            bins,
            [Binary {
                package: "poller".into(),
                name: "poller".into(),
                package_dir: PathBuf::from("/w/functions/poller"),
            }]
        );
    }

    #[test]
    fn rejects_what_is_not_cargo_metadata() {
        assert!(binaries_from_metadata(b"not json").is_err());
        assert!(binaries_from_metadata(b"{}").is_err());
        assert!(binaries_from_metadata(br#"{"packages": [{"targets": []}]}"#).is_err());
    }

    #[test]
    fn this_workspace_is_readable() {
        let root = workspace_root();
        assert!(root.join("Cargo.toml").is_file(), "{}", root.display());
        let bins = workspace_binaries(&root).expect("cargo metadata");
        assert!(
            bins.iter()
                .any(|b| b.name == "sage-sim" && b.package == "sage-sim")
        );
    }
}
