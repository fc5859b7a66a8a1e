//! The local InferenceKey Manager: a real implementation of the platform side of the HTTP
//! contract (control plane, token issuing and checking, desired-state store, reconciler, local
//! worker, data-plane gateway and jobs) for offline development, CI and our own tests.
//!
//! Embed it with [`start`] (tests do), or run the whole CLI with [`cli_main`].

mod admission;
pub mod agent;
pub mod agent_wire;
pub mod api;
pub mod auth;
mod body_timeout;
pub mod cli;
pub mod config;
pub mod custom_backends;
pub mod dashboard;
pub mod datadir;
pub mod engine_client;
pub mod front;
pub mod gateway;
mod gateway_guard;
pub mod http_limits;
pub mod idempotency;
pub mod jobs;
mod limits;
pub mod logging;
pub mod openapi;
pub mod request_context;
pub mod runtime;
pub mod server;
mod state;
pub mod store;
mod util;
pub mod webhooks;

pub use cli::cli_main;
pub use config::{default_data_dir, ManagerConfig};
pub use server::{start, ManagerError, RunningManager};
