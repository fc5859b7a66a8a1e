//! The knobs of a transport: deadlines, the retry policy, and the options a client is built
//! with or a call overrides.

use std::time::Duration;

/// Deadlines. `read` is an idle timeout: the longest wait for the next response bytes (and,
/// for streams, for the next *event* — keep-alive comments do not reset it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeouts {
    pub connect: Duration,
    pub read: Duration,
    /// Whole-call deadline including retries. `None` on a non-streaming call means
    /// [`DEFAULT_TOTAL_READS`] × `read`, so a server dripping a byte at a time cannot hold a
    /// call forever; streams have no overall limit unless one is set.
    pub total: Option<Duration>,
}

/// A non-streaming call without an explicit total deadline gets this many read timeouts.
pub const DEFAULT_TOTAL_READS: u32 = 4;

impl Timeouts {
    /// The total deadline a non-streaming call runs under, and whether it was the default.
    pub fn effective_total(&self) -> (Duration, bool) {
        match self.total {
            Some(t) => (t, false),
            None => (self.read.saturating_mul(DEFAULT_TOTAL_READS), true),
        }
    }
}

/// The largest successful response body read into memory (streams are not limited).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 << 20;
/// How much of an error body is read; the rest is dropped unread.
pub const ERROR_BODY_BYTES: usize = 64 << 10;

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
    /// The largest (non-streamed) response body accepted; a larger one is a `Protocol`
    /// error `response_too_large`, read no further.
    pub max_response_bytes: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            language: "rust".into(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// Per-call overrides of the client's options.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CallOptions {
    /// Replaces the client's timeouts for this call.
    pub timeouts: Option<Timeouts>,
    pub retry: Option<RetryPolicy>,
    /// This call's total deadline (retries included). The transport resolves it against the
    /// client's timeouts: the idle timeout stays the client's, shortened to fit inside it.
    pub total: Option<Duration>,
    /// This call's retry count; the rest of the retry policy stays the client's.
    pub max_retries: Option<u32>,
}

impl CallOptions {
    /// These options with the call's own `timeout` (when it gave one) as the total deadline.
    pub fn within(&self, total: Option<crate::domain::decode::Seconds>) -> CallOptions {
        CallOptions {
            total: total.map(|s| s.0).or(self.total),
            ..*self
        }
    }

    /// These options with the call's own `max_retries` (when it gave one).
    pub fn retrying(&self, max_retries: Option<crate::domain::decode::Retries>) -> CallOptions {
        CallOptions {
            max_retries: max_retries.map(|r| r.0).or(self.max_retries),
            ..*self
        }
    }

    /// The options a request or call-settings value asks for (its `timeout`, `max_retries`).
    pub fn of(call: &impl crate::domain::request::PerCall) -> CallOptions {
        CallOptions::default().overridden_by(call)
    }

    /// These options with a request's own `timeout` and `max_retries`, where it gave them.
    pub fn overridden_by(&self, req: &impl crate::domain::request::PerCall) -> CallOptions {
        self.within(req.timeout()).retrying(req.max_retries())
    }

    /// The timeouts and retry policy of a call on a client built with `client`.
    pub fn resolve(&self, client: &ClientOptions) -> (Timeouts, RetryPolicy) {
        let mut timeouts = self.timeouts.unwrap_or(client.timeouts);
        if let Some(total) = self.total {
            timeouts.total = Some(total);
            timeouts.read = timeouts.read.min(total);
        }
        let mut retry = self.retry.unwrap_or(client.retry);
        if let Some(n) = self.max_retries {
            retry.max_retries = n;
        }
        (timeouts, retry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_retry_count_keeps_the_client_backoff() {
        let client = ClientOptions::default();
        let call = CallOptions::default().retrying(Some(crate::domain::decode::Retries(0)));
        let (_, retry) = call.resolve(&client);
        assert_eq!(retry.max_retries, 0);
        assert_eq!(retry.initial_backoff, client.retry.initial_backoff);
        assert_eq!(CallOptions::default().resolve(&client).1, client.retry);
        // An earlier override stays when the call gives none.
        assert_eq!(call.retrying(None).max_retries, Some(0));
    }

    #[test]
    fn a_call_timeout_keeps_the_client_idle_timeout() {
        let client = ClientOptions {
            timeouts: Timeouts {
                read: Duration::from_secs(2),
                ..Default::default()
            },
            ..Default::default()
        };
        let call = CallOptions {
            total: Some(Duration::from_secs(30)),
            ..Default::default()
        };
        let (t, _) = call.resolve(&client);
        assert_eq!(t.read, Duration::from_secs(2));
        assert_eq!(t.total, Some(Duration::from_secs(30)));
        let short = CallOptions {
            total: Some(Duration::from_secs(1)),
            ..Default::default()
        };
        assert_eq!(short.resolve(&client).0.read, Duration::from_secs(1));
        assert_eq!(CallOptions::default().resolve(&client).0, client.timeouts);
    }
}
