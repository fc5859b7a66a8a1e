//! Streamed chat answers: `TextStream` (a blocking iterator) and `AsyncTextStream` (an async
//! iterator). The two read differently — one blocks a thread, the other lends a task to the
//! runtime and must survive cancellation mid-read — so they are two classes over the core's
//! one `TextStream`; both hand out chunks already decoded without entering the runtime.

use std::sync::{Arc, Mutex};

use inferencekey_core::data::TextRequest;
use inferencekey_core::{
    Endpoint as CoreEndpoint, Error, TextChunk as CoreChunk, TextStream as CoreStream,
};
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::IntoPyObjectExt;
use tokio::sync::{watch, Mutex as AsyncMutex};

use crate::bridge::{spawn, wait_shared, Armed, Closable, Ready, Step};
use crate::errors::{to_py_err, ResultExt};
use crate::results::TextChunk;

/// A streamed answer: iterate it for `TextChunk`s; closing it (or leaving a `with` block)
/// closes the connection.
#[pyclass(module = "inferencekey._native")]
pub struct TextStream {
    inner: Mutex<Option<CoreStream>>,
}

impl TextStream {
    pub(crate) fn new(stream: CoreStream) -> Self {
        TextStream {
            inner: Mutex::new(Some(stream)),
        }
    }
}

#[pymethods]
impl TextStream {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<TextChunk>> {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Some(stream) = guard.as_mut() else {
            return Ok(None);
        };
        // Most chunks are already decoded from the last network read: hand them out without
        // releasing the GIL or entering the runtime.
        let next = match stream.try_next_buffered() {
            Some(r) => r.map(Some).or_raise(py),
            None => wait_shared(py, stream.next_chunk()),
        };
        // At the end (or after an error) the core stream has already let its connection
        // go; it is kept for `final()`, which needs the chunks it folded in.
        next.map(|c| c.map(TextChunk::from_core))
    }

    /// Reads the rest of the stream and returns the whole answer as a `TextResult` (text of
    /// every chunk, already-read ones included; finish reason; usage; tool calls rebuilt
    /// from their deltas; request id and headers). Raises if the stream failed or was closed
    /// before its end.
    #[pyo3(name = "final")]
    fn final_result(&self, py: Python<'_>) -> PyResult<crate::results::TextResult> {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let stream = guard.as_mut().ok_or_else(|| closed_error(py))?;
        wait_shared(py, stream.final_result()).map(crate::results::TextResult::from_core)
    }

    fn close(&self) {
        if let Some(stream) = self
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            stream.close();
        }
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, PyTuple>) {
        self.close();
    }
}

pub(crate) enum Cursor {
    Unopened {
        endpoint: Arc<CoreEndpoint>,
        req: TextRequest,
    },
    Open(CoreStream),
    Done,
}

impl Closable for Cursor {
    /// An open stream is closed but kept (its folded answer serves `final()` when it had
    /// ended); an unopened one is never sent.
    fn close(&mut self) {
        match self {
            Cursor::Open(stream) => stream.close(),
            _ => *self = Cursor::Done,
        }
    }
}

/// `final()` on a stream that holds no answer.
fn closed_error(py: Python<'_>) -> PyErr {
    to_py_err(py, inferencekey_core::stream::stream_closed())
}

impl Cursor {
    /// Sends the request if it has not been sent yet.
    async fn open(&mut self) -> Result<(), Error> {
        if let Cursor::Unopened { endpoint, req } = self {
            match endpoint
                .generate_text_stream(req, &Default::default())
                .await
            {
                Ok(stream) => *self = Cursor::Open(stream),
                Err(e) => {
                    *self = Cursor::Done;
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    async fn next(&mut self) -> Result<Option<CoreChunk>, Error> {
        self.open().await?;
        let Cursor::Open(stream) = self else {
            return Ok(None);
        };
        let next = stream.next_chunk().await;
        // The ended (or failed) stream stays for `final()`; it holds no connection now.
        if next.is_err() {
            stream.close();
        }
        next
    }

    async fn final_result(&mut self) -> Result<inferencekey_core::TextResult, Error> {
        self.open().await?;
        match self {
            Cursor::Open(stream) => stream.final_result().await,
            _ => Err(inferencekey_core::stream::stream_closed()),
        }
    }
}

/// A streamed answer: `async for chunk in stream` yields `TextChunk`s. Also an async
/// context manager and awaitable (both send the request and return the stream, so errors
/// such as a bad key surface there). `close()`/`aclose()`, leaving `async with`, or
/// cancelling the task that reads it closes the connection.
#[pyclass(frozen, module = "inferencekey._native")]
pub struct AsyncTextStream {
    cursor: Arc<AsyncMutex<Cursor>>,
    /// Set by `close()`; a read in flight watches it, so closing never waits for the network.
    closed: watch::Sender<bool>,
}

impl AsyncTextStream {
    pub(crate) fn new(cursor: Cursor) -> Self {
        AsyncTextStream {
            cursor: Arc::new(AsyncMutex::new(cursor)),
            closed: watch::Sender::new(false),
        }
    }

    /// Opens the stream (if needed) and resolves to the stream object itself.
    fn opened<'py>(slf: Py<Self>, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let this = slf.get();
        let cursor = this.cursor.clone();
        let mut closed = this.closed.subscribe();
        spawn(py, async move {
            let mut armed = Armed::new(cursor.lock_owned().await);
            let opened = tokio::select! {
                biased;
                _ = closed.wait_for(|c| *c) => {
                    armed.guard.close();
                    Ok(())
                }
                r = armed.guard.open() => r,
            };
            armed.finish();
            opened.map(|()| slf)
        })
    }
}

#[pymethods]
impl AsyncTextStream {
    fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        // Fast path: a chunk already decoded from the last network read (or the end) needs
        // neither the runtime nor the event loop.
        if let Ok(mut cursor) = self.cursor.try_lock() {
            match &mut *cursor {
                Cursor::Open(stream) => {
                    if let Some(next) = stream.try_next_buffered() {
                        let outcome = match next {
                            Ok(chunk) => TextChunk::from_core(chunk).into_py_any(py),
                            Err(e) => {
                                cursor.close();
                                Err(to_py_err(py, e))
                            }
                        };
                        return Ready::new(outcome).into_bound_py_any(py);
                    }
                }
                Cursor::Done => return Err(PyStopAsyncIteration::new_err(())),
                Cursor::Unopened { .. } => {}
            }
        }
        let cursor = self.cursor.clone();
        let mut closed = self.closed.subscribe();
        spawn(py, async move {
            let mut armed = Armed::new(cursor.lock_owned().await);
            let next = tokio::select! {
                biased;
                _ = closed.wait_for(|c| *c) => {
                    armed.guard.close();
                    Ok(None)
                }
                r = armed.guard.next() => r,
            };
            armed.finish();
            next.map(|c| Step(c.map(TextChunk::from_core)))
        })
    }

    fn __await__<'py>(slf: Py<Self>, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Self::opened(slf, py)?.call_method0("__await__")
    }

    fn __aenter__<'py>(slf: Py<Self>, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Self::opened(slf, py)
    }

    #[pyo3(signature = (*_args))]
    fn __aexit__<'py>(&self, py: Python<'py>, _args: &Bound<'_, PyTuple>) -> PyResult<Ready> {
        self.close();
        Ok(Ready::new(Ok(py.None())))
    }

    /// Closes the connection (an in-flight read ends the iteration).
    fn close(&self) {
        self.closed.send_replace(true);
        if let Ok(mut cursor) = self.cursor.try_lock() {
            cursor.close();
        }
    }

    /// A coroutine: reads the rest of the stream and returns the whole answer as a
    /// `TextResult` (see `TextStream.final`).
    #[pyo3(name = "final")]
    fn final_result<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let cursor = self.cursor.clone();
        let mut closed = self.closed.subscribe();
        spawn(py, async move {
            let mut armed = Armed::new(cursor.lock_owned().await);
            // Only an explicit close() counts: the stream object itself may be gone already
            // (`await ep.generate_text_stream(...).final()`), which drops the sender.
            let raced = tokio::select! {
                biased;
                Ok(_) = closed.wait_for(|c| *c) => None,
                r = armed.guard.final_result() => Some(r),
            };
            // Closed meanwhile: the answer is whole only if the stream had already ended.
            let result = match raced {
                Some(r) => r,
                None => {
                    armed.guard.close();
                    armed.guard.final_result().await
                }
            };
            armed.finish();
            result.map(crate::results::TextResult::from_core)
        })
    }

    /// `close()` as a coroutine, like an async generator's.
    fn aclose(&self, py: Python<'_>) -> Ready {
        self.close();
        Ready::new(Ok(py.None()))
    }

    fn __repr__(&self) -> String {
        let state = match self.cursor.try_lock().as_deref() {
            Ok(Cursor::Unopened { .. }) => "unopened",
            Ok(Cursor::Open(_)) => "open",
            Ok(Cursor::Done) => "closed",
            Err(_) => "reading",
        };
        format!("AsyncTextStream({state})")
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<TextStream>()?;
    m.add_class::<AsyncTextStream>()?;
    Ok(())
}
