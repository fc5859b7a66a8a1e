//! `inferencekey._native`: the compiled half of the Python package. It marshals values and
//! maps errors; every rule lives in `inferencekey-core` (DESIGN.md, "Thin bindings").

use pyo3::prelude::*;

mod aio;
mod cli;
mod clients;
mod convert;
mod domain;
pub mod errors;
pub mod spec;
mod webhooks;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", inferencekey_core::VERSION)?;
    domain::register(m)?;
    cli::register(m)?;
    clients::register(m)?;
    aio::register(m)?;
    webhooks::register(m)?;
    Ok(())
}
