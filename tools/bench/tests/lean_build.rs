//! The build selection that keeps the deliverables lean (issue #13), checked through cargo
//! itself (`cargo metadata`, `cargo tree`: no compilation):
//!
//! - a bare `cargo build` / `cargo run` (the README's demo and self-hosting commands)
//!   selects the standalone runner alone, so no AWS SDK is compiled;
//! - each Lambda function, built alone as `sam build` builds it (cargo-lambda adds
//!   `--package` from `[workspace.metadata.lambda]`), links no embedded store (SQLite)
//!   and one crypto library (ring, as reqwest; no aws-lc);
//! - the release profile sets every key cargo-lambda would otherwise override — above
//!   all `panic = "unwind"`: cargo-lambda injects `panic = "abort"` when the profile
//!   leaves it unset, and then a handler panic kills the process instead of becoming a
//!   function error.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .expect("tools/bench sits two levels below the workspace root")
}

fn cargo(args: &[&str]) -> String {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(root())
        .args(args)
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("cargo prints UTF-8")
}

/// The crate names (no versions) in `cargo tree`'s normal + build dependency graph.
fn tree(selection: &[&str]) -> Vec<String> {
    let mut args = vec!["tree", "--edges", "normal,build", "--prefix", "none"];
    args.extend_from_slice(selection);
    cargo(&args)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

const FUNCTIONS: [&str; 3] = ["poller", "registration", "delivery"];

#[test]
fn the_default_build_is_the_standalone_runner_without_any_aws_sdk() {
    let crates = tree(&[]);
    assert!(
        crates.iter().any(|c| c == "sage-events-standalone"),
        "a bare cargo build selects the standalone runner"
    );
    assert!(crates.iter().any(|c| c == "rusqlite"));
    let aws: Vec<&String> = crates
        .iter()
        .filter(|c| c.starts_with("aws-sdk-") || *c == "aws-config" || *c == "lambda_runtime")
        .collect();
    assert!(
        aws.is_empty(),
        "`cargo run --release --bin sage-events` would compile {aws:?}"
    );
}

#[test]
fn each_lambda_alone_links_no_embedded_store_and_no_second_crypto_library() {
    for function in FUNCTIONS {
        let crates = tree(&["-p", function]);
        assert!(crates.iter().any(|c| c == "aws-sdk-dynamodb"), "{function}");
        let embedded: Vec<&String> = crates
            .iter()
            .filter(|c| c.contains("sqlite") || *c == "chacha20poly1305" || c.starts_with("aws-lc"))
            .collect();
        assert!(embedded.is_empty(), "{function} links {embedded:?}");
    }
}

#[test]
fn the_core_alone_has_neither_adapter() {
    let crates = tree(&["-p", "sage-events-core"]);
    let adapters: Vec<&String> = crates
        .iter()
        .filter(|c| c.starts_with("aws-") || c.contains("sqlite"))
        .collect();
    assert!(
        adapters.is_empty(),
        "the core without features links {adapters:?}"
    );
}

#[test]
fn sam_build_selects_each_function_package() {
    let metadata: serde_json::Value =
        serde_json::from_str(&cargo(&["metadata", "--no-deps", "--format-version", "1"]))
            .expect("cargo metadata prints JSON");
    for function in FUNCTIONS {
        let packages = &metadata["metadata"]["lambda"]["bin"][function]["build"]["packages"];
        assert_eq!(
            packages,
            &serde_json::json!([function]),
            "[workspace.metadata.lambda.bin.{function}.build] packages"
        );
        let package = metadata["packages"]
            .as_array()
            .and_then(|all| all.iter().find(|p| p["name"] == function))
            .unwrap_or_else(|| panic!("a package named {function}"));
        let has_bin = package["targets"].as_array().is_some_and(|targets| {
            targets
                .iter()
                .any(|t| t["name"] == function && t["kind"] == serde_json::json!(["bin"]))
        });
        assert!(has_bin, "package {function} has a binary {function}");
    }
}

/// `[profile.release]` of the root manifest as (key, value) pairs, values unquoted.
fn release_profile() -> Vec<(String, String)> {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("root manifest");
    manifest
        .lines()
        .map(str::trim)
        .skip_while(|line| *line != "[profile.release]")
        .skip(1)
        .take_while(|line| !line.starts_with('['))
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        .collect()
}

#[test]
fn the_release_profile_keeps_unwinding_and_leaves_nothing_for_cargo_lambda_to_override() {
    let profile = release_profile();
    let get = |key: &str| {
        profile
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        get("panic"),
        Some("unwind"),
        "lambda_runtime turns a handler panic into a function error only when unwinding"
    );
    for key in ["lto", "codegen-units", "strip"] {
        assert!(get(key).is_some(), "[profile.release] sets {key}");
    }
}
