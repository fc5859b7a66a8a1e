//! The effectful clients: configuration from arguments and the environment, the control-plane
//! `ManagementClient`, the data-plane `DataClient` and its streams, and the shared runtime that
//! blocking bindings drive them on. They compose the domain's rules with the transport.

pub mod config;
pub mod data;
pub mod management;
pub mod rt;
pub mod schema;
pub mod stream;
