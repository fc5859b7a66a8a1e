//! `inferencekey._native`: the compiled half of the Python package. It marshals values and
//! maps errors; every rule lives in `inferencekey-core` (DESIGN.md, "Thin bindings").

use pyo3::prelude::*;

mod aio;
mod cli;
mod clients;
mod convert;
mod domain;
pub mod errors;
mod webhooks;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", inferencekey_core::VERSION)?;
    // The core logs through `tracing` (retries, drift warnings) under the `inferencekey`
    // target; this forwards those records to Python's `logging`, so the `inferencekey`
    // logger sees them. Levels are not cached, so `setLevel` (and pytest's caplog) apply at
    // once; the core logs only on rare paths, so the per-record GIL round trip is cheap. A
    // second import in another interpreter finds the bridge installed and keeps it.
    let _ = pyo3_log::Logger::new(m.py(), pyo3_log::Caching::Loggers)?.install();
    domain::register(m)?;
    cli::register(m)?;
    clients::register(m)?;
    aio::register(m)?;
    webhooks::register(m)?;
    Ok(())
}
