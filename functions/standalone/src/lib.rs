//! sage-events standalone runner: the `/instances` API, the poll scheduler and the
//! delivery workers in one long-running process on the embedded (SQLite) adapters.
//!
//! Modules: [`config`] (command line → [`config::RunnerConfig`]), [`server`] (HTTP ↔ API
//! core), [`api`] (the handler seam), [`scheduler`] (in-process EventBridge stand-in),
//! [`worker`] (in-process SQS consumer), [`runner`] (all of it started and stopped
//! together), [`demo`] (the README's first command).

pub mod api;
pub mod config;
pub mod demo;
pub mod runner;
pub mod scheduler;
pub mod server;
pub mod worker;
