//! The InferenceKey SDK core. Everything every binding shares lives here: the pure domain
//! (enums, spec, validation, slugs, tokens, diff/plan, wire mapping, SSE decoding, webhook
//! signatures) and the effectful clients (transport, `ManagementClient`, `DataClient`).
//! Bindings only marshal values and map [`ErrorKind`]s to their idioms.

pub mod diff;
pub mod enums;
pub mod error;
pub mod policy;
pub mod slug;
pub mod spec;
pub mod sse;
pub mod token;
pub mod webhook;
pub mod wire;

pub use diff::{Change, Plan};
pub use enums::{Backend, ExecutionPolicy, OnDrift, TaskType};
pub use error::{Error, ErrorKind, FieldError, Result};
pub use spec::WorkloadSpec;

/// The SDK version, sent in `User-Agent` and exposed as `__version__`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
