//! `inferencekey._native`: the compiled half of the Python package. It marshals values and
//! maps errors; every rule lives in `inferencekey-core` (docs/architecture.md, "Bindings").
//!
//! Organised by concept: `bridge` (the blocking and asyncio bridges and the `dual!` macro that
//! declares a method once for both), `management` and `data` (the clients), `stream`,
//! `results`, `convert` (values and keyword arguments), `errors`, `domain` (pure functions).

use pyo3::prelude::*;

mod bridge;
mod cli;
mod convert;
mod data;
mod domain;
pub mod errors;
mod management;
mod results;
mod stream;
mod webhooks;

/// Forwards the core's `tracing` records (retries, drift warnings; target `inferencekey`) to
/// Python's `logging`. Installed when the first client is built rather than at import,
/// because it imports `logging`, which would otherwise double `import inferencekey`'s time.
/// Levels are not cached, so `setLevel` (and pytest's caplog) apply at once; the core logs
/// only on rare paths, so the per-record GIL round trip is cheap.
pub(crate) fn log_bridge(py: Python<'_>) {
    static INSTALLED: pyo3::sync::PyOnceLock<()> = pyo3::sync::PyOnceLock::new();
    INSTALLED.get_or_init(py, || {
        // Another extension may own the global logger already; then ours stays out.
        if let Ok(logger) = pyo3_log::Logger::new(py, pyo3_log::Caching::Loggers) {
            let _ = logger.install();
        }
    });
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", inferencekey_core::VERSION)?;
    domain::register(m)?;
    cli::register(m)?;
    results::register(m)?;
    management::register(m)?;
    data::register(m)?;
    stream::register(m)?;
    webhooks::register(m)?;
    Ok(())
}
