//! Test support for the adapter suites.

pub mod fake_sqs;
pub mod moto;
