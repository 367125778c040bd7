//! Test support shared by the integration suites.

pub mod fake_sqs;
pub mod fixtures;
#[cfg(feature = "aws")]
pub mod moto;
pub mod sage;
