//! The HTTP transport shared by both clients: one pooled `reqwest` client per SDK client,
//! deadlines, retries ([`retry`]), bodies ([`body`]), SSE decoding ([`sse`]) and the mapping
//! of every failure to an [`Error`]. It knows HTTP, not the InferenceKey routes: those are the
//! clients' business (`crate::client`).

pub mod body;
pub mod deadline;
pub mod options;
pub mod request;
pub mod retry;
pub mod rt;
pub mod sse;

use std::sync::OnceLock;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::StatusCode;
use tokio::time::{timeout_at, Instant};

use crate::domain::error::{Error, ErrorKind};
use crate::domain::token::Secret;
use crate::domain::wire::error_from_response;

pub(crate) use body::map_body_error;
use body::{read_body, Over};
pub use body::{Body, FilePart};
pub(crate) use deadline::min_deadline;
use deadline::timeout_error;
pub use options::{CallOptions, ClientOptions, RetryPolicy, Timeouts, ERROR_BODY_BYTES};
pub use request::{
    encode_segment, meta_of, Request, Response, IDEMPOTENCY_KEY_HEADER, REQUEST_ID_HEADER,
};
use request::{header_str, retry_after};
use retry::with_retries;

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
    http: Http,
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

/// A client's connection pools: one for the shared runtime, and one per local runtime
/// (`crate::transport::rt::local`) that has made a call, built on its first call there. Pools are per
/// runtime because hyper runs each connection as a task on the runtime that opened it: a
/// connection checked out on another runtime would wait for a task nobody drives. Clones
/// share the pools (every endpoint of a `DataClient` does).
#[derive(Clone)]
pub struct Http {
    shared: reqwest::Client,
    options: ClientOptions,
    locals:
        std::sync::Arc<std::sync::Mutex<Vec<(crate::transport::rt::LocalKey, reqwest::Client)>>>,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http").finish_non_exhaustive()
    }
}

impl Http {
    /// The pool of the runtime this call runs on.
    fn client(&self) -> Result<reqwest::Client, Error> {
        let Some(key) = crate::transport::rt::driving() else {
            return Ok(self.shared.clone());
        };
        let mut locals = self.locals.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, c)) = locals.iter().find(|(k, _)| k.id == key.id) {
            return Ok(c.clone());
        }
        // Runtimes that are gone (their threads ended) took their connections with them.
        locals.retain(|(k, _)| k.alive.strong_count() > 0);
        let c = build_client(&self.options)?;
        locals.push((key, c.clone()));
        Ok(c)
    }
}

/// Builds the pooled HTTP client; shared by every endpoint of a `DataClient`.
pub fn build_http(options: &ClientOptions) -> Result<Http, Error> {
    Ok(Http {
        shared: build_client(options)?,
        options: options.clone(),
        locals: Default::default(),
    })
}

/// The rustls configuration every pool uses, built once: the platform verifier it holds
/// loads the system's roots, which costs milliseconds, and a thread's first call builds a
/// pool. The same settings reqwest would choose (ring, TLS 1.2 and 1.3, ALPN h2 and
/// http/1.1).
fn tls_config() -> Result<rustls::ClientConfig, Error> {
    static TLS: OnceLock<Result<rustls::ClientConfig, String>> = OnceLock::new();
    TLS.get_or_init(|| {
        ensure_crypto_provider();
        let provider = rustls::crypto::CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| std::sync::Arc::new(rustls::crypto::ring::default_provider()));
        let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
            .map_err(|e| format!("could not load the system's TLS roots: {e}"))?;
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| format!("could not configure TLS: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(std::sync::Arc::new(verifier))
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(tls)
    })
    .clone()
    .map_err(Error::configuration)
}

fn build_client(options: &ClientOptions) -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config()?)
        .user_agent(format!(
            "inferencekey-{}/{}",
            options.language,
            crate::VERSION
        ))
        .connect_timeout(options.timeouts.connect)
        // A redirect to another host would re-send the prompt (and, for 307/308, the body)
        // there: only same-origin redirects are followed; others come back as
        // `redirect_refused` errors.
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            let same = attempt.previous().last().is_some_and(|prev| {
                prev.scheme() == attempt.url().scheme()
                    && prev.host_str() == attempt.url().host_str()
                    && prev.port_or_known_default() == attempt.url().port_or_known_default()
            });
            if same && attempt.previous().len() < 5 {
                attempt.follow()
            } else {
                attempt.stop()
            }
        }))
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .build()
        .map_err(|e| Error::configuration(format!("could not build the HTTP client: {e}")))
}

impl Transport {
    pub fn new(
        http: Http,
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
        call.resolve(&self.options)
    }

    fn build(&self, req: &Request) -> Result<reqwest::RequestBuilder, Error> {
        let mut b = self
            .http
            .client()?
            .request(req.method.clone(), format!("{}{}", self.base_url, req.path))
            .header(AUTHORIZATION, self.auth.clone())
            .header(reqwest::header::ACCEPT, req.accept);
        if let Some(key) = &req.idempotency_key {
            b = b.header(IDEMPOTENCY_KEY_HEADER, key);
        }
        if let Some(body) = &req.body {
            b = b
                .header(CONTENT_TYPE, body.content_type.as_ref())
                .body(body.bytes.clone());
        }
        Ok(b)
    }

    /// Sends `req` and reads the whole answer, retrying per the module rule. Non-2xx answers
    /// become errors carrying status, code, field and request id.
    pub async fn send(&self, req: &Request, call: &CallOptions) -> Result<Response, Error> {
        let (timeouts, retry) = self.policies(call);
        let deadline = Some(Instant::now() + timeouts.effective_total().0);
        with_retries(&retry, req, deadline, || {
            self.attempt(req, &timeouts, deadline)
        })
        .await
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
        if status.is_redirection() {
            return Err(redirect_refused(&req.path, status, &headers));
        }
        let (limit, over) = if status.is_success() {
            (self.options.max_response_bytes, Over::Fail)
        } else {
            (ERROR_BODY_BYTES, Over::Truncate)
        };
        let body = read_body(resp, timeouts, deadline, limit, over).await?;
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
        match timeout_at(until, self.build(req)?.send()).await {
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
        let resp = with_retries(&retry, req, deadline, || async {
            let resp = self.start(req, &timeouts, deadline).await?;
            if resp.status().is_success() {
                return Ok(resp);
            }
            let status = resp.status();
            let headers = resp.headers().clone();
            if status.is_redirection() {
                return Err(redirect_refused(&req.path, status, &headers));
            }
            let body = read_body(resp, &timeouts, deadline, ERROR_BODY_BYTES, Over::Truncate)
                .await
                .unwrap_or_default();
            Err(http_error(status, &headers, &body))
        })
        .await?;
        Ok((resp, timeouts, deadline))
    }
}

/// A redirect the client did not follow (another host, or too many).
fn redirect_refused(path: &str, status: StatusCode, headers: &HeaderMap) -> Error {
    let to = header_str(headers, reqwest::header::LOCATION.as_str())
        .map(|l| crate::domain::token::scrub(&l))
        .unwrap_or_else(|| "an unnamed location".into());
    Error::protocol(format!(
        "{path}: the server answered {} redirecting to {to}; the SDK follows redirects only \
         within the same origin (the request would be re-sent, credential and body included, \
         to another host); point base_url at the final address",
        status.as_u16()
    ))
    .with_code("redirect_refused")
    .with_status(status.as_u16())
}

fn http_error(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
    let mut err = error_from_response(
        status.as_u16(),
        body,
        header_str(headers, REQUEST_ID_HEADER),
    );
    err.retry_after = retry_after(headers);
    err.headers = request::headers_of(headers);
    err
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
