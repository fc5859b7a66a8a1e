//! Retries: which failures may be retried, and the one loop every request and stream opening
//! goes through (the backoff itself is [`RetryPolicy::delay`]).
//!
//! Retry rule: a request that certainly was not processed (connect failure, 429, 503) may
//! always be retried; anything else (a broken connection after sending, 408/500/502/504, a
//! read timeout) only when the request is idempotent — GET/PATCH/DELETE, or a POST carrying an
//! `Idempotency-Key`. A stream is never retried once its first byte arrived, because the loop
//! only wraps the opening of a stream.

use std::future::Future;

use tokio::time::Instant;

use crate::domain::error::{Error, ErrorKind};
use crate::transport::options::RetryPolicy;
use crate::transport::request::Request;

impl RetryPolicy {
    /// Whether failure number `attempt` (1-based) of `req` may be retried, per the module rule.
    pub fn should_retry(&self, req: &Request, err: &Error, attempt: u32) -> bool {
        if attempt > self.max_retries {
            return false;
        }
        let not_processed = match err.kind {
            ErrorKind::Connection => err.code.as_deref() == Some("connect_failed"),
            _ => matches!(err.status, Some(429) | Some(503)),
        };
        if not_processed {
            return true;
        }
        if !req.idempotent() {
            return false;
        }
        // A concurrent request with the same idempotency key is still running: wait for it.
        if err.code.as_deref() == Some("idempotency_key_in_use") {
            return true;
        }
        matches!(err.kind, ErrorKind::Connection | ErrorKind::Timeout)
            || matches!(err.status, Some(408 | 500 | 502 | 504))
    }
}

/// Runs `attempt` until it succeeds, the policy refuses another try, or the wait before the
/// next try would pass `deadline`; the last error is returned as it is.
pub(crate) async fn with_retries<T, Fut>(
    policy: &RetryPolicy,
    req: &Request,
    deadline: Option<Instant>,
    mut attempt: impl FnMut() -> Fut,
) -> Result<T, Error>
where
    Fut: Future<Output = Result<T, Error>>,
{
    let mut failures = 0;
    loop {
        let err = match attempt().await {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        failures += 1;
        if !policy.should_retry(req, &err, failures) {
            return Err(err);
        }
        let wait = policy.delay(failures, err.retry_after);
        if deadline.is_some_and(|d| Instant::now() + wait >= d) {
            return Err(err);
        }
        tracing::debug!(
            target: "inferencekey",
            "retrying {} {} after {:?} (attempt {failures}): {err}",
            req.method, req.path, wait
        );
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn backoff_is_capped() {
        let p = RetryPolicy::default();
        for attempt in 1..20 {
            assert!(p.delay(attempt, None) <= p.max_backoff);
        }
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3600))),
            p.max_retry_after
        );
    }
}
