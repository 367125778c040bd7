//! The `/instances` API core: authentication, validation, the registration saga, and the
//! Cloud Elements compatible responses. Transport-free: the Lambda (API Gateway) and the
//! standalone runner (axum) both translate HTTP to [`ApiRequest`] and back.
//!
//! [`RegistrationService::handle`] is the one entry point; [`routes`] maps method and path
//! to an operation, [`create`] holds the registration saga, [`patch`], [`delete`] and
//! [`lifecycle`] the operations on an existing instance, [`reauthorize`] a new Sage grant
//! for an existing instance, [`response`] the response bodies.

pub mod auth;
pub mod create;
pub mod delete;
pub mod http;
pub mod lifecycle;
pub mod list;
pub mod patch;
pub mod reauthorize;
pub mod response;
pub mod routes;
pub mod service;
pub mod validation;

pub use http::{ApiError, ApiRequest, ApiResponse, MAX_BODY_BYTES};
pub use service::{RegistrationDeps, RegistrationService};
