//! The smallest useful `lambda_runtime` function: echoes its event. `sage-events-bench
//! init` builds it with the shipped profile and compares every shipped binary's init time
//! and size with it, so the figures say what our own code adds to the runtime's floor.

use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move { Ok::<_, Error>(event.payload) },
    ))
    .await
}
