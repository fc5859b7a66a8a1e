//! The request-body deadline (`inferencekey serve --body-timeout`).
//!
//! hyper's header timeout ends once the request head is in; after that a client could send
//! the headers of a 32 MiB upload and then drip one byte a second, or stop, and hold its
//! connection slot (and the handler waiting on the body) indefinitely: the body size limits
//! bound how much it sends, not how long it takes. Here the whole body must arrive within the
//! body timeout, counted from when the Manager first reads it (not from the head: a data-plane
//! request waits for a cold start before its body is forwarded, and a client that sent its
//! body promptly must not be cut off for that wait).
//!
//! tower-http's `RequestBodyTimeoutLayer` is not enough: its timer restarts with every frame,
//! so a drip never trips it.
//!
//! A request whose body is cut off is answered `408 request_timeout` with `Connection:
//! close`, whatever the route made of the broken body (a 400 from the JSON extractor, a 503
//! from the gateway's engine call), and the connection is closed, which frees its slot. Only
//! request bodies are timed: responses, SSE streams included, are not.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::api::errors::ApiError;

/// The error a timed-out body yields to whoever reads it.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub struct BodyTimedOut(pub Duration);

/// A request body that fails once `timeout` has passed since its first read.
struct DeadlineBody<B> {
    inner: B,
    timeout: Duration,
    /// Set on the first read; the timer is only armed when the body has to wait.
    deadline: Option<Instant>,
    sleep: Option<Pin<Box<Sleep>>>,
    /// Shared with the middleware, which turns the route's answer into a 408.
    tripped: Arc<AtomicBool>,
    done: bool,
}

impl<B> DeadlineBody<B> {
    fn trip(&mut self) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        self.done = true;
        self.tripped.store(true, Ordering::Release);
        Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut(self.timeout)))))
    }
}

impl<B> HttpBody for DeadlineBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let deadline = *this
            .deadline
            .get_or_insert_with(|| Instant::now() + this.timeout);
        // Checked before every read, so a body that keeps trickling in is cut off too.
        if Instant::now() >= deadline {
            return this.trip();
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(frame)) => Poll::Ready(Some(frame.map_err(axum::Error::new))),
            Poll::Pending => {
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => this.trip(),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// `body` under the deadline, and the flag that says it was cut off (`None` when the body
/// is already complete and needs no timer). The middleware ([`limit`]) and the gateway's
/// fast path (`gateway::front`) both use it; whoever answers the request must answer
/// [`timed_out`] when the flag is set.
pub fn with_deadline<B>(body: B, timeout: Duration) -> (Body, Option<Arc<AtomicBool>>)
where
    B: HttpBody<Data = Bytes> + Unpin + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    // Most requests (GETs, small bodies already read with the head) need no timer at all.
    if body.is_end_stream() {
        return (Body::new(body), None);
    }
    let tripped = Arc::new(AtomicBool::new(false));
    let body = Body::new(DeadlineBody {
        inner: body,
        timeout,
        deadline: None,
        sleep: None,
        tripped: tripped.clone(),
        done: false,
    });
    (body, Some(tripped))
}

/// The 408 for a body cut off after `timeout`.
pub fn timed_out(timeout: Duration) -> Response {
    let mut resp = ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        format!(
            "the request body did not arrive within {}s (the Manager's --body-timeout); send \
             the whole body at once",
            timeout.as_secs()
        ),
    )
    .into_response();
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// Middleware: times the request body (see the module doc). `State` is the body timeout.
pub async fn limit(State(timeout): State<Duration>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let (body, tripped) = with_deadline(body, timeout);
    let resp = next.run(Request::from_parts(parts, body)).await;
    if tripped.is_some_and(|t| t.load(Ordering::Acquire)) {
        return timed_out(timeout);
    }
    resp
}

#[cfg(test)]
mod tests {
    //! On tokio's paused clock: time moves only when every task waits, so these take no real
    //! time and assert nothing about how long a real run takes.

    use super::*;
    use axum::routing::post;
    use axum::Router;
    use futures_util::stream::{self, StreamExt};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    const TIMEOUT: Duration = Duration::from_secs(5);

    fn app() -> Router {
        Router::new()
            .route(
                "/echo",
                post(|body: Bytes| async move { body.len().to_string() }),
            )
            .route(
                "/stream",
                post(|body: Bytes| async move {
                    // A response that streams for 4x the body timeout, after the body is in.
                    let frames = stream::unfold(0u32, move |i| async move {
                        if i == 20 {
                            return None;
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        Some((Ok::<_, std::io::Error>(Bytes::from(format!("{i};"))), i + 1))
                    });
                    let _ = body;
                    Body::from_stream(frames)
                }),
            )
            .layer(axum::middleware::from_fn_with_state(TIMEOUT, limit))
    }

    fn request(path: &str, body: Body) -> Request {
        Request::post(path).body(body).unwrap()
    }

    async fn text(resp: Response) -> String {
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// One byte every `every`, forever.
    fn drip(every: Duration) -> Body {
        Body::from_stream(stream::unfold((), move |()| async move {
            tokio::time::sleep(every).await;
            Some((Ok::<_, std::io::Error>(Bytes::from_static(b"x")), ()))
        }))
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_is_answered_408_at_the_deadline() {
        let started = Instant::now();
        let stalled = stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"{\"a\""))])
            .chain(stream::pending());
        let resp = app()
            .oneshot(request("/echo", Body::from_stream(stalled)))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(resp.headers()[header::CONNECTION], "close");
        assert!(started.elapsed() >= TIMEOUT);
        assert!(text(resp).await.contains("\"request_timeout\""));
    }

    #[tokio::test(start_paused = true)]
    async fn a_dripping_body_is_cut_off_though_bytes_keep_coming() {
        let started = Instant::now();
        let resp = app()
            .oneshot(request("/echo", drip(Duration::from_millis(500))))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::REQUEST_TIMEOUT);
        let took = started.elapsed();
        assert!(
            took >= TIMEOUT && took < TIMEOUT + Duration::from_secs(1),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_body_within_the_deadline_is_served() {
        let chunks = stream::iter(0..4).then(|_| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<_, std::io::Error>(Bytes::from_static(b"ab"))
        });
        let resp = app()
            .oneshot(request("/echo", Body::from_stream(chunks)))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(text(resp).await, "8");
    }

    #[tokio::test(start_paused = true)]
    async fn the_clock_starts_when_the_body_is_first_read() {
        // The route waits past the timeout (as a cold start does) before it reads a body that
        // was complete all along.
        let app = Router::new()
            .route(
                "/late",
                post(|req: Request| async move {
                    tokio::time::sleep(TIMEOUT * 3).await;
                    let body = req.into_body().collect().await.unwrap().to_bytes();
                    body.len().to_string()
                }),
            )
            .layer(axum::middleware::from_fn_with_state(TIMEOUT, limit));
        let body = Body::from_stream(stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(
            b"abc",
        ))]));
        let resp = app.oneshot(request("/late", body)).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(text(resp).await, "3");
    }

    #[tokio::test(start_paused = true)]
    async fn a_streaming_response_outlives_the_body_timeout() {
        let started = Instant::now();
        let resp = app()
            .oneshot(request("/stream", Body::from("prompt")))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let all = text(resp).await;
        assert_eq!(all.matches(';').count(), 20);
        assert!(started.elapsed() >= TIMEOUT * 4);
    }
}
