//! The InferenceKey SDK core. Everything every binding shares lives here, in three layers
//! (docs/architecture.md, "The core's layers"):
//!
//! * [`domain`] — pure values and rules: errors, plans, enums, slugs, tokens, the spec and its
//!   policy checker, drift, the `ensure()` decision, wire decoding, webhook signatures;
//! * [`transport`] — HTTP: deadlines, the one retry loop, bodies, SSE;
//! * [`client`] — the `ManagementClient` and `DataClient` composed from the two.
//!
//! A layer uses only the layers above it in this list (checked by `tests/layers.rs`).
//! Bindings only marshal values and map [`ErrorKind`]s to their idioms.

pub mod client;
pub mod domain;
pub mod transport;

// The flat module paths other crates have always used (`inferencekey_core::token::scrub`),
// kept as aliases of their homes in the layers.
pub use client::{config, data, management, rt, stream};
pub use domain::{
    custom_backend, diff, enums, error, plan, policy, slug, spec, token, webhook, wire,
};
pub use transport::sse;

pub use client::data::{
    DataClient, DataConfig, EmbedResult, Endpoint, ForecastRequest, ForecastResult, JobBody,
    JobStatus, RerankResult, TextRequest, TextResult,
};
pub use client::management::{EndpointRef, ManagementClient, ManagementConfig};
pub use client::stream::{TextChunk, TextStream};
pub use domain::ensure::EnsureAction;
pub use domain::enums::{Backend, ExecutionPolicy, OnDrift, TaskType};
pub use domain::error::{Error, ErrorKind, FieldError, Result};
pub use domain::plan::{Change, Plan};
pub use domain::request::PerCall;
pub use domain::result::{Headers, ResponseMeta};
pub use domain::spec::WorkloadSpec;
pub use domain::token::Secret;
pub use transport::{CallOptions, ClientOptions, RetryPolicy, Timeouts};

/// The SDK version, sent in `User-Agent` and exposed as `__version__`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
