use std::path::PathBuf;

/// Why the template or the workspace could not be read (not a failed check: those are
/// the wiring test's assertions).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("template is not valid YAML: {0}")]
    Yaml(String),
    #[error("template has an unexpected shape: {0}")]
    Shape(String),
    #[error("cargo metadata failed: {0}")]
    Cargo(String),
}
