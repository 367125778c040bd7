//! Ports: the small traits the core services are written against.
//!
//! Each port has an AWS adapter (DynamoDB, Secrets Manager, SQS, EventBridge Scheduler —
//! behind the `aws` cargo feature) and an embedded adapter (SQLite) for the standalone
//! runner. Both pass the same contract tests. Adapters store and move plain data (JSON
//! text, opaque message bodies); the domain types above them are serialized by the core,
//! so no adapter needs to know what a notification or a token looks like.

#[cfg(any(test, feature = "contract-tests"))]
pub mod contract;
mod error;
mod event_queue;
mod instance_store;
mod lease;
mod poll_trigger;
mod queue_consumer;
mod scheduler;
mod secret_store;
mod watermark_store;

pub use error::{PortError, PortErrorKind};
pub use event_queue::{EventQueue, OutgoingMessage};
pub use instance_store::{
    DeliveryStatus, InstanceRecord, InstanceStore, PollError, PollStatus, ResourcePollStats,
};
pub use lease::LeaseStore;
pub use poll_trigger::PollTrigger;
pub use queue_consumer::{MAX_RETRY_DELAY, QueueConsumer, ReceivedMessage};
pub use scheduler::PollScheduler;
pub use secret_store::SecretStore;
pub use watermark_store::{Watermark, WatermarkStore};
