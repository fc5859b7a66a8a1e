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

use crate::bridge::{spawn, wait, Armed, Closable, Ready, Step};
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
            None => wait(py, stream.next_chunk()),
        };
        match next {
            Ok(Some(inner)) => Ok(Some(TextChunk::from_core(inner))),
            Ok(None) => {
                *guard = None;
                Ok(None)
            }
            Err(e) => {
                *guard = None;
                Err(e)
            }
        }
    }

    fn close(&self) {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()) = None;
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
    fn close(&mut self) {
        *self = Cursor::Done;
    }
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
        if !matches!(next, Ok(Some(_))) {
            *self = Cursor::Done;
        }
        next
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
