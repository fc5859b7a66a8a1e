//! Webhook signature checks for receivers written in Python (docs/contract.md §6).

use std::time::Duration;

use inferencekey_core::webhook;
use pyo3::prelude::*;

use crate::errors::ResultExt;

/// Raises `ValidationError` (code `invalid_signature`, `signature_expired` or
/// `malformed_signature`) unless `signature_header` signs `body` with `secret`.
#[pyfunction]
#[pyo3(signature = (body, signature_header, secret, tolerance=300.0, now=None))]
fn verify_webhook(
    py: Python<'_>,
    body: &[u8],
    signature_header: &str,
    secret: &[u8],
    tolerance: f64,
    now: Option<u64>,
) -> PyResult<()> {
    let tolerance = Duration::from_secs_f64(tolerance.clamp(0.0, 1e9));
    match now {
        Some(now) => webhook::verify(body, signature_header, secret, tolerance, now),
        None => webhook::verify_now(body, signature_header, secret, tolerance),
    }
    .or_raise(py)
}

/// The `X-InferenceKey-Signature` value for `body` at unix time `t` (for tests and senders).
#[pyfunction]
fn sign_webhook(body: &[u8], secret: &[u8], t: u64) -> String {
    webhook::sign(body, secret, t)
}

/// A workload's webhook destination (the core's `WebhookDestination`). `secret` is set only
/// on the answer that made it; the repr never shows it.
#[pyclass(frozen, module = "inferencekey._native")]
pub struct WebhookDestination {
    inner: webhook::WebhookDestination,
}

impl WebhookDestination {
    pub(crate) fn from_core(inner: webhook::WebhookDestination) -> Self {
        WebhookDestination { inner }
    }
}

#[pymethods]
impl WebhookDestination {
    #[getter]
    fn workload_id(&self) -> &str {
        &self.inner.workload_id
    }
    #[getter]
    fn url(&self) -> &str {
        &self.inner.url
    }
    /// The signing secret: only on the answer that made it (keep it then), else `None`.
    #[getter]
    fn secret(&self) -> Option<&str> {
        self.inner.secret.as_deref()
    }
    /// The secret's prefix and last characters, to tell which one is in use.
    #[getter]
    fn secret_hint(&self) -> &str {
        &self.inner.secret_hint
    }
    #[getter]
    fn created_at(&self) -> &str {
        &self.inner.created_at
    }
    #[getter]
    fn updated_at(&self) -> &str {
        &self.inner.updated_at
    }
    fn __repr__(&self) -> String {
        format!(
            "WebhookDestination(workload_id={:?}, url={:?}, secret_hint={:?})",
            self.inner.workload_id, self.inner.url, self.inner.secret_hint
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<WebhookDestination>()?;
    m.add_function(wrap_pyfunction!(verify_webhook, m)?)?;
    m.add_function(wrap_pyfunction!(sign_webhook, m)?)?;
    Ok(())
}
