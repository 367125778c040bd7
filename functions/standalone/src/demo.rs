//! The demo (written next).

/// Run the demo; returns the process exit code.
pub async fn run() -> i32 {
    0
}
