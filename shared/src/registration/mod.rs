//! The `/instances` API core: authentication, validation, the registration saga, and the
//! Cloud Elements compatible responses. Transport-free: the Lambda (API Gateway) and the
//! standalone runner (axum) both translate HTTP to [`ApiRequest`] and back.

pub mod auth;
pub mod http;
