//! Between the gateway's checks and the engine: a replica for the request, chosen by load,
//! with the request counted for the autoscaler until its response ends.
//!
//! A workload scaled to zero holds the request (in a bounded queue) while a replica starts;
//! past the cold-start timeout it is `503 workload_not_ready` with `Retry-After`. A workload
//! its schedule keeps down is refused at once, naming the next start, with `Retry-After` set
//! to the seconds until then.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::http::StatusCode;
use axum::response::Response;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming, SizeHint};

use crate::api::errors::ApiError;
use crate::runtime::{InFlight, Lease, NotReady, WorkloadEntry};
use crate::state::App;

/// What a client is told to wait before retrying a workload that is still starting.
const NOT_READY_RETRY_SECS: u64 = 5;

/// The request's claims: the workload's count and the chosen replica's.
pub struct Admitted {
    pub lease: Lease,
    _in_flight: InFlight,
}

pub async fn admit(app: &App, entry: &WorkloadEntry) -> Result<Admitted, ApiError> {
    let in_flight = entry.begin();
    let timeout = app.config.cold_start_timeout;
    match entry.wait_ready(timeout).await {
        Ok(lease) => Ok(Admitted {
            lease,
            _in_flight: in_flight,
        }),
        Err(NotReady::Timeout { phase, message }) => Err(not_ready(format!(
            "workload {:?} has no ready replica after waiting {}s (phase {phase}: {message}); \
             retry later",
            entry.slug,
            timeout.as_secs()
        ))
        .with_retry_after(NOT_READY_RETRY_SECS)),
        Err(NotReady::QueueFull(n)) => Err(not_ready(format!(
            "workload {:?} is starting and already holds {n} waiting requests; retry shortly",
            entry.slug
        ))
        .with_retry_after(NOT_READY_RETRY_SECS)),
        Err(NotReady::Closed(closed)) => {
            let wait = closed
                .next_start
                .map(|t| (t - app.runtime.now()).num_seconds().max(1) as u64);
            let err = not_ready(format!(
                "workload {:?} is not running: {}; retry then",
                entry.slug, closed.message
            ));
            Err(match wait {
                Some(secs) => err.with_retry_after(secs),
                None => err,
            })
        }
        // Final until the workload is updated or the Manager restarts: no `Retry-After`.
        Err(NotReady::Failed(message)) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "backend_unavailable",
            format!("workload {:?} failed to start: {message}", entry.slug),
        )),
        Err(NotReady::Gone) => Err(ApiError::not_found(format!(
            "workload {:?} was deleted",
            entry.slug
        ))),
    }
}

fn not_ready(message: String) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "workload_not_ready",
        message,
    )
}

/// The response with the request's claims attached: they are released when the body ends
/// (or the client goes away), so a streaming response counts as in flight until its end.
pub fn hold(resp: Response, admitted: Admitted) -> Response {
    resp.map(|body| {
        Body::new(body.map_frame(move |frame| {
            let _ = &admitted;
            frame
        }))
    })
}

/// [`hold`] for an engine's own answer: one body wrapper that holds the claims and passes
/// the engine's frames through, rather than boxing the engine's body and then boxing it
/// again with the claims (two dynamic calls per streamed chunk instead of one).
pub fn hold_engine(resp: hyper::http::Response<Incoming>, admitted: Admitted) -> Response {
    resp.map(|inner| {
        Body::new(Held {
            inner,
            _admitted: admitted,
        })
    })
}

struct Held {
    inner: Incoming,
    _admitted: Admitted,
}

impl HttpBody for Held {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner)
            .poll_frame(cx)
            .map_err(axum::Error::new)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
