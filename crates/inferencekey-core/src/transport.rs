//! HTTP transport shared by both clients: one pooled `reqwest` client per SDK client,
//! deadlines, retries, and mapping of every failure to an [`Error`].
//!
//! Retry rule: a request that certainly was not processed (connect failure, 429, 503) may
//! always be retried; anything else (a broken connection after sending, 408/500/502/504, a
//! read timeout) only when the request is idempotent — GET/PATCH/DELETE, or a POST carrying an
//! `Idempotency-Key`. A stream is never retried once its first byte arrived.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use tokio::time::{timeout_at, Instant};

use crate::config::{CallOptions, ClientOptions, RetryPolicy, Secret, Timeouts};
use crate::error::{Error, ErrorKind};
use crate::wire::error_from_response;

pub const REQUEST_ID_HEADER: &str = "x-request-id";
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// A request body and its content type.
#[derive(Debug, Clone)]
pub struct Body {
    pub bytes: Bytes,
    pub content_type: &'static str,
}

impl Body {
    pub fn json(value: &impl serde::Serialize) -> Result<Body, Error> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| Error::configuration(format!("request body is not serialisable: {e}")))?;
        Ok(Body {
            bytes: Bytes::from(bytes),
            content_type: "application/json",
        })
    }
}

/// One logical request (retries resend it).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// Path and query, starting with `/`.
    pub path: String,
    pub body: Option<Body>,
    pub idempotency_key: Option<String>,
    pub accept: &'static str,
}

impl Request {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Request {
            method,
            path: path.into(),
            body: None,
            idempotency_key: None,
            accept: "application/json",
        }
    }

    pub fn json(mut self, value: &impl serde::Serialize) -> Result<Self, Error> {
        self.body = Some(Body::json(value)?);
        Ok(self)
    }

    fn idempotent(&self) -> bool {
        self.idempotency_key.is_some()
            || matches!(
                self.method,
                Method::GET | Method::HEAD | Method::PUT | Method::PATCH | Method::DELETE
            )
    }
}

/// A complete answer with a 2xx status.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    pub fn request_id(&self) -> Option<String> {
        header_str(&self.headers, REQUEST_ID_HEADER)
    }

    pub fn content_type(&self) -> Option<String> {
        header_str(&self.headers, CONTENT_TYPE.as_str())
    }
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(86_400.0)))
}

/// Installs the process-wide rustls crypto provider once; reqwest is built without one so
/// that we ship `ring` (small, fast to build) rather than aws-lc.
fn ensure_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The HTTP half of a client: base URL, credential, pool and policies.
#[derive(Clone)]
pub struct Transport {
    http: reqwest::Client,
    base_url: String,
    auth: HeaderValue,
    token: Secret,
    options: ClientOptions,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("base_url", &self.base_url)
            .field("token", &self.token)
            .finish()
    }
}

/// Builds the pooled HTTP client; shared by every endpoint of a `DataClient`.
pub fn build_http(options: &ClientOptions) -> Result<reqwest::Client, Error> {
    ensure_crypto_provider();
    reqwest::Client::builder()
        .user_agent(format!(
            "inferencekey-{}/{}",
            options.language,
            crate::VERSION
        ))
        .connect_timeout(options.timeouts.connect)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .build()
        .map_err(|e| Error::configuration(format!("could not build the HTTP client: {e}")))
}

impl Transport {
    pub fn new(
        http: reqwest::Client,
        base_url: String,
        token: Secret,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                Error::configuration(format!(
                    "token {} contains characters not allowed in an HTTP header",
                    token.redacted()
                ))
            })?;
        auth.set_sensitive(true);
        Ok(Transport {
            http,
            base_url,
            auth,
            token,
            options,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn token(&self) -> &Secret {
        &self.token
    }

    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    fn policies(&self, call: &CallOptions) -> (Timeouts, RetryPolicy) {
        (
            call.timeouts.unwrap_or(self.options.timeouts),
            call.retry.unwrap_or(self.options.retry),
        )
    }

    fn build(&self, req: &Request) -> reqwest::RequestBuilder {
        let mut b = self
            .http
            .request(req.method.clone(), format!("{}{}", self.base_url, req.path))
            .header(AUTHORIZATION, self.auth.clone())
            .header(reqwest::header::ACCEPT, req.accept);
        if let Some(key) = &req.idempotency_key {
            b = b.header(IDEMPOTENCY_KEY_HEADER, key);
        }
        if let Some(body) = &req.body {
            b = b
                .header(CONTENT_TYPE, body.content_type)
                .body(body.bytes.clone());
        }
        b
    }

    /// Sends `req` and reads the whole answer, retrying per the module rule. Non-2xx answers
    /// become errors carrying status, code, field and request id.
    pub async fn send(&self, req: &Request, call: &CallOptions) -> Result<Response, Error> {
        let (timeouts, retry) = self.policies(call);
        let deadline = timeouts.total.map(|t| Instant::now() + t);
        let mut attempt = 0;
        loop {
            let err = match self.attempt(req, &timeouts, deadline).await {
                Ok(resp) => return Ok(resp),
                Err(err) => err,
            };
            attempt += 1;
            if !self.should_retry(req, &err, attempt, &retry) {
                return Err(err);
            }
            let wait = retry.delay(attempt, err.retry_after);
            if deadline.is_some_and(|d| Instant::now() + wait >= d) {
                return Err(err);
            }
            tracing::debug!(
                target: "inferencekey",
                "retrying {} {} after {:?} (attempt {attempt}): {err}",
                req.method, req.path, wait
            );
            tokio::time::sleep(wait).await;
        }
    }

    fn should_retry(&self, req: &Request, err: &Error, attempt: u32, retry: &RetryPolicy) -> bool {
        if attempt > retry.max_retries {
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

    async fn attempt(
        &self,
        req: &Request,
        timeouts: &Timeouts,
        deadline: Option<Instant>,
    ) -> Result<Response, Error> {
        let resp = self.start(req, timeouts, deadline).await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = read_body(resp, timeouts.read, deadline).await?;
        if status.is_success() {
            Ok(Response {
                status: status.as_u16(),
                headers,
                body,
            })
        } else {
            Err(http_error(status, &headers, &body))
        }
    }

    /// Sends the request and waits for the response head, within the idle and total limits.
    async fn start(
        &self,
        req: &Request,
        timeouts: &Timeouts,
        deadline: Option<Instant>,
    ) -> Result<reqwest::Response, Error> {
        let until = min_deadline(Instant::now() + timeouts.read, deadline);
        match timeout_at(until, self.build(req).send()).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => Err(map_reqwest(e, &req.path)),
            Err(_) => Err(timeout_error(&req.path, timeouts, deadline)),
        }
    }

    /// Opens a streaming response: retried (per the module rule) until the response head
    /// arrives, never after. A non-2xx answer is read whole and returned as an error.
    pub async fn open_stream(
        &self,
        req: &Request,
        call: &CallOptions,
    ) -> Result<(reqwest::Response, Timeouts, Option<Instant>), Error> {
        let (timeouts, retry) = self.policies(call);
        let deadline = timeouts.total.map(|t| Instant::now() + t);
        let mut attempt = 0;
        loop {
            let err = match self.start(req, &timeouts, deadline).await {
                Ok(resp) if resp.status().is_success() => {
                    return Ok((resp, timeouts, deadline));
                }
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    let body = read_body(resp, timeouts.read, deadline)
                        .await
                        .unwrap_or_default();
                    http_error(status, &headers, &body)
                }
                Err(e) => e,
            };
            attempt += 1;
            if !self.should_retry(req, &err, attempt, &retry) {
                return Err(err);
            }
            let wait = retry.delay(attempt, err.retry_after);
            if deadline.is_some_and(|d| Instant::now() + wait >= d) {
                return Err(err);
            }
            tokio::time::sleep(wait).await;
        }
    }
}

pub(crate) fn min_deadline(a: Instant, b: Option<Instant>) -> Instant {
    match b {
        Some(b) if b < a => b,
        _ => a,
    }
}

pub(crate) fn timeout_error(path: &str, timeouts: &Timeouts, deadline: Option<Instant>) -> Error {
    let which = match deadline {
        Some(d) if Instant::now() >= d => format!(
            "the total deadline of {:?} passed",
            timeouts.total.unwrap_or_default()
        ),
        _ => format!("no response within the read timeout of {:?}", timeouts.read),
    };
    Error::new(ErrorKind::Timeout, format!("{path}: {which}")).with_code("timeout")
}

fn http_error(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
    let mut err = error_from_response(
        status.as_u16(),
        body,
        header_str(headers, REQUEST_ID_HEADER),
    );
    err.retry_after = retry_after(headers);
    err
}

/// Reads a whole body, each chunk within the idle timeout and all of it within the deadline.
async fn read_body(
    mut resp: reqwest::Response,
    idle: Duration,
    deadline: Option<Instant>,
) -> Result<Bytes, Error> {
    let path = resp.url().path().to_string();
    let mut first: Option<Bytes> = None;
    let mut rest: Vec<u8> = Vec::new();
    loop {
        let until = min_deadline(Instant::now() + idle, deadline);
        match timeout_at(until, resp.chunk()).await {
            Ok(Ok(Some(chunk))) => match &first {
                None => first = Some(chunk),
                Some(f) => {
                    if rest.is_empty() {
                        rest.extend_from_slice(f);
                    }
                    rest.extend_from_slice(&chunk);
                }
            },
            Ok(Ok(None)) => break,
            Ok(Err(e)) => return Err(map_body_error(e, &path)),
            Err(_) => {
                let t = Timeouts {
                    read: idle,
                    ..Default::default()
                };
                return Err(timeout_error(&path, &t, deadline));
            }
        }
    }
    Ok(if rest.is_empty() {
        first.unwrap_or_default()
    } else {
        Bytes::from(rest)
    })
}

/// A failure while reading a response body. reqwest reports a connection cut mid-body as a
/// "decode" error; it is a broken connection (retryable for idempotent requests), not an
/// answer we failed to understand.
pub(crate) fn map_body_error(e: reqwest::Error, path: &str) -> Error {
    if e.is_timeout() {
        return Error::new(ErrorKind::Timeout, format!("{path}: timed out ({e})"))
            .with_code("timeout");
    }
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    Error::new(
        ErrorKind::Connection,
        format!("{path}: the connection broke while reading the answer: {detail}"),
    )
    .with_code("connection_failed")
}

/// Maps a reqwest failure to our kinds. `connect_failed` marks errors where the request
/// certainly never reached the server (safe to retry anything).
pub(crate) fn map_reqwest(e: reqwest::Error, path: &str) -> Error {
    if e.is_timeout() {
        return Error::new(ErrorKind::Timeout, format!("{path}: timed out ({e})"))
            .with_code("timeout");
    }
    if e.is_connect() {
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(&e);
        let mut detail = e.to_string();
        while let Some(s) = source {
            detail = s.to_string();
            source = s.source();
        }
        return Error::new(
            ErrorKind::Connection,
            format!("could not connect for {path}: {detail}"),
        )
        .with_code("connect_failed");
    }
    if e.is_decode() {
        return Error::protocol(format!("{path}: could not decode the response: {e}"));
    }
    Error::new(
        ErrorKind::Connection,
        format!("{path}: the connection failed: {e}"),
    )
    .with_code("connection_failed")
}
