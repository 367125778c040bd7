//! The Sage Business Cloud Accounting v3.1 client (owned by the Sage client work).

pub mod endpoints;
