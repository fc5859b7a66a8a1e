//! The InferenceKey SDK core. Everything every binding shares lives here: the pure domain
//! (enums, spec, validation, slugs, tokens, diff/plan, wire mapping, SSE decoding, webhook
//! signatures) and the effectful clients (transport, `ManagementClient`, `DataClient`).
//! Bindings only marshal values and map [`ErrorKind`]s to their idioms.

pub mod config;
pub mod data;
pub mod diff;
pub mod enums;
pub mod error;
pub mod management;
pub mod policy;
pub mod rt;
pub mod slug;
pub mod spec;
pub mod spec_json;
pub mod sse;
pub mod stream;
pub mod token;
pub mod transport;
pub mod webhook;
pub mod wire;

pub use config::{CallOptions, ClientOptions, RetryPolicy, Secret, Timeouts};
pub use data::{
    DataClient, DataConfig, EmbedResult, Endpoint, JobBody, JobStatus, RerankResult, TextRequest,
    TextResult,
};
pub use diff::{Change, Plan};
pub use enums::{Backend, ExecutionPolicy, OnDrift, TaskType};
pub use error::{Error, ErrorKind, FieldError, Result};
pub use management::{EndpointRef, EnsureAction, ManagementClient, ManagementConfig};
pub use spec::WorkloadSpec;
pub use stream::{TextChunk, TextStream};

/// The SDK version, sent in `User-Agent` and exposed as `__version__`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
