#![cfg(feature = "aws")]
