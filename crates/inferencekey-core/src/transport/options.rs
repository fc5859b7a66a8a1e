//! The knobs of a transport: deadlines, the retry policy, and the options a client is built
//! with or a call overrides.

use std::time::Duration;

/// Deadlines. `read` is an idle timeout: the longest wait for the next response bytes (and,
/// for streams, for the next *event* — keep-alive comments do not reset it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeouts {
    pub connect: Duration,
    pub read: Duration,
    /// Whole-call deadline including retries; `None` = no overall limit.
    pub total: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            read: Duration::from_secs(120),
            total: None,
        }
    }
}

/// Retries with exponential backoff and full jitter, honouring `Retry-After` up to a cap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// The longest `Retry-After` we honour; a server asking for more gets this.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..Default::default()
        }
    }

    /// The wait before retry number `attempt` (1-based): the server's `Retry-After` when it
    /// gave one (capped), else exponential backoff with full jitter.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(ra) = retry_after {
            return ra.min(self.max_retry_after);
        }
        let exp = self
            .initial_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let cap = exp.min(self.max_backoff);
        let jitter: f64 = rand::random();
        cap.mul_f64(0.5 + jitter * 0.5)
    }
}

/// Options shared by both clients.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    /// The binding's language, sent as `User-Agent: inferencekey-<lang>/<version>`.
    pub language: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            language: "rust".into(),
        }
    }
}

/// Per-call overrides of the client's options.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallOptions {
    pub timeouts: Option<Timeouts>,
    pub retry: Option<RetryPolicy>,
}
