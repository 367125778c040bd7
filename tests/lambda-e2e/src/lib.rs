//! Run the built Lambda binaries the way Lambda runs them, without AWS.
//!
//! - [`RuntimeDouble`]: the Lambda Runtime API (`/2018-06-01/runtime/…`) a function
//!   process polls; [`RuntimeDouble::invoke`] hands it one event and returns its answer.
//! - [`FunctionProcess`]: a built binary spawned with a clean, Lambda-shaped environment
//!   aimed at a double, its output captured, its init time (spawn → first `next`, what
//!   Lambda reports as "Init Duration") measured.
//! - [`InvokeApiDouble`]: the Lambda `Invoke` API, so AWS SDK callers (registration's
//!   "poll now") reach a function running under a [`RuntimeDouble`].
//! - [`build_binaries`]: the workspace's binaries, built by the cargo running the test.
//!
//! ```no_run
//! # async fn demo(binary: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
//! use lambda_e2e::{FunctionProcess, RuntimeDouble, lambda_reserved_env};
//! use std::time::Duration;
//! let double = RuntimeDouble::start().await?;
//! let env = lambda_reserved_env("poller", 256);
//! let mut poller = FunctionProcess::spawn("poller", binary, &env, double)?;
//! let init = poller.wait_ready(Duration::from_secs(10)).await?;
//! let result = poller.invoke(&serde_json::json!({"instanceId": 1})).await?;
//! println!("init {init:?}, answered {:?}", result.outcome);
//! # Ok(()) }
//! ```
//!
//! The suite in `tests/` uses these with moto_server, the Sage simulator and the
//! verifying callback receiver; `tools/bench` can use them for cold-start figures.

mod binaries;
mod invoke;
mod process;
mod runtime;

pub use binaries::{BuildError, build_binaries};
pub use invoke::{InvokeApiDouble, InvokeCall};
pub use process::{ECHO_ENV, FunctionProcess, lambda_reserved_env};
pub use runtime::{
    API_PREFIX, ErrorReport, FunctionConfig, InvocationResult, InvokeError, Outcome, RuntimeDouble,
};
