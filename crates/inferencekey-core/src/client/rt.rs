//! The one Tokio runtime that synchronous bindings (Python, C) drive their calls on, so every
//! client in a process shares timers, the IO driver and connection pools.

use std::sync::OnceLock;

use tokio::runtime::{Builder, Runtime};

/// The shared multi-threaded runtime, built on first use. Blocking callers use
/// `runtime().block_on(..)` from their own threads; async bindings spawn onto it.
pub fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("inferencekey-io")
            .enable_all()
            .build()
            .expect("the OS refused to create the SDK's runtime threads")
    })
}
