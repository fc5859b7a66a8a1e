//! The effectful clients: configuration from arguments and the environment, the control-plane
//! `ManagementClient`, the data-plane `DataClient` and its streams, and (re-exported from the
//! transport, which keys its connection pools by them) the runtimes bindings drive them on. They compose the domain's rules with the transport.

pub mod config;
pub mod data;
pub mod management;
pub use crate::transport::rt;
pub mod schema;
pub mod stream;
