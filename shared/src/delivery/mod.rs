//! Delivery: POSTing signed notifications to the customer's callback URL, with retries.

pub mod retry;
pub mod sender;
pub mod service;
