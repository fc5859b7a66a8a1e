//! The pure domain: values and rules with no I/O, no clock and no network, so every rule can
//! be tested with tables and properties and shared by the SDK and the local Manager.
//!
//! Dependencies point one way, from the top of this list to the bottom:
//! `diff`/`ensure` → `spec` → `policy` → `enums` → `slug` → `error` → `plan`; `wire` and
//! `webhook` use only `error`, `enums` and `token`.

pub mod accumulate;
pub mod custom_backend;
pub mod decode;
pub mod diff;
pub mod ensure;
pub mod enums;
pub mod error;
pub mod plan;
pub mod policy;
pub mod request;
pub mod result;
pub mod slug;
pub mod spec;
pub mod token;
pub mod webhook;
pub mod wire;
