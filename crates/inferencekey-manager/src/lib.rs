//! The local InferenceKey Manager: a real implementation of the platform side of the HTTP
//! contract (control plane, token issuing and checking, desired-state store, reconciler, local
//! worker, data-plane gateway and jobs) for offline development, CI and our own tests.

pub mod store;
mod util;
