//! Reads `template.yaml` and the Cargo workspace as data, so `tests/wiring.rs` can state
//! what must hold between the deployment and the code: each function's binary exists, each
//! reads the environment variables it is given, each role grants what its function needs
//! and no more, and the queues are wired as the delivery retry logic assumes.
//!
//! Not a CloudFormation validator: `scripts/lint-template` runs `cfn-lint` and
//! `sam validate` for that. This crate checks *our* rules, which no linter knows.

mod error;
pub mod iam;
pub mod intrinsic;
pub mod template;
pub mod workspace;

pub use error::CheckError;
pub use iam::Statement;
pub use template::{Event, Function, Resource, Template};
pub use workspace::{Binary, workspace_binaries, workspace_root};
