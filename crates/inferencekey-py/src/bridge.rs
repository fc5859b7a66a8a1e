//! The two bridges from a Python call to the core's futures, and the one macro that emits a
//! method in both forms from a single declaration:
//!
//! * blocking — [`wait`] runs the future on the core's shared Tokio runtime with the GIL
//!   released, waking every 50 ms so Python can run its signal handlers (Ctrl-C interrupts the
//!   call; dropping the future closes the connection);
//! * asyncio — [`spawn`] runs it as a task on the same runtime through `pyo3-async-runtimes`
//!   and hands asyncio a future for it: a call is a task, not a thread. Cancelling the asyncio
//!   future drops the Rust future, which drops the request and closes its connection.
//!   Outcomes become Python objects (and core errors `inferencekey.errors` exceptions) only
//!   when the asyncio future is completed, from Tokio's blocking pool, so the runtime's
//!   workers never wait for the GIL.

use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;

use inferencekey_core::rt::runtime;
use inferencekey_core::Error;
use pyo3::exceptions::{PyStopAsyncIteration, PyStopIteration};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use pyo3::IntoPyObjectExt;
use pyo3_async_runtimes::TaskLocals;
use tokio::sync::OwnedMutexGuard;

use crate::errors::{to_py_err, ResultExt};

/// Runs `fut` to completion without the GIL, checking for Python signals while it waits.
pub(crate) fn wait<T: Send>(
    py: Python<'_>,
    fut: impl Future<Output = Result<T, Error>> + Send,
) -> PyResult<T> {
    enum Outcome<T> {
        Done(Result<T, Error>),
        Interrupted(PyErr),
    }
    let outcome = py.detach(|| {
        runtime().block_on(async {
            tokio::pin!(fut);
            loop {
                tokio::select! {
                    r = &mut fut => return Outcome::Done(r),
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {
                        if let Err(e) = Python::attach(|py| py.check_signals()) {
                            return Outcome::Interrupted(e);
                        }
                    }
                }
            }
        })
    });
    match outcome {
        Outcome::Done(r) => r.or_raise(py),
        Outcome::Interrupted(e) => Err(e),
    }
}

/// A call's outcome, made into the Python value or the typed exception when the asyncio
/// future is completed (that is where the GIL is held anyway).
struct Deliver<V>(Result<V, Error>);

impl<'py, V: IntoPyObject<'py>> IntoPyObject<'py> for Deliver<V> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.0 {
            Ok(v) => v.into_bound_py_any(py),
            Err(e) => Err(to_py_err(py, e)),
        }
    }
}

/// One step of an async iterator: `None` ends the `async for`.
pub(crate) struct Step<V>(pub(crate) Option<V>);

impl<'py, V: IntoPyObject<'py>> IntoPyObject<'py> for Step<V> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.0 {
            Some(v) => v.into_bound_py_any(py),
            None => Err(PyStopAsyncIteration::new_err(())),
        }
    }
}

/// Runs `fut` on the shared runtime; returns the asyncio future of its outcome. Needs a
/// running event loop in this thread (the Python wrappers call this from coroutines).
pub(crate) fn spawn<'py, V>(
    py: Python<'py>,
    fut: impl Future<Output = Result<V, Error>> + Send + 'static,
) -> PyResult<Bound<'py, PyAny>>
where
    V: for<'a> IntoPyObject<'a> + Send + 'static,
{
    pyo3_async_runtimes::tokio::future_into_py_with_locals(py, loop_locals(py)?, async move {
        Ok(Deliver(fut.await))
    })
}

/// What `pyo3-async-runtimes` sees as the event loop: the running loop behind a
/// [`LoopGuard`], cached per thread (a thread runs one loop at a time, so this is one pointer
/// comparison per call instead of a new object).
fn loop_locals(py: Python<'_>) -> PyResult<TaskLocals> {
    thread_local! {
        static CACHED: RefCell<Option<(Py<PyAny>, TaskLocals)>> = const { RefCell::new(None) };
    }
    let running = pyo3_async_runtimes::get_running_loop(py)?;
    CACHED.with_borrow_mut(|slot| {
        if let Some((event_loop, locals)) = slot {
            if event_loop.is(&running) {
                return Ok(locals.clone());
            }
        }
        let guard = Bound::new(
            py,
            LoopGuard {
                event_loop: running.clone().unbind(),
            },
        )?;
        let locals = TaskLocals::new(guard.into_any());
        *slot = Some((running.unbind(), locals.clone()));
        Ok(locals)
    })
}

/// Stands in for the event loop towards `pyo3-async-runtimes`, which completes a future with
/// `loop.call_soon_threadsafe(...)` and prints the `RuntimeError: Event loop is closed` it
/// gets when the call outlived its loop (an abandoned `__anext__()`, a loop closed with work
/// in flight, interpreter exit). Nobody can await that result any more, so the guard drops it
/// silently; any other failure still propagates.
#[pyclass(frozen, module = "inferencekey._native")]
pub struct LoopGuard {
    event_loop: Py<PyAny>,
}

#[pymethods]
impl LoopGuard {
    fn create_future<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.event_loop.bind(py).call_method0("create_future")
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn call_soon_threadsafe(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let event_loop = self.event_loop.bind(py);
        match event_loop.call_method("call_soon_threadsafe", args, kwargs) {
            Ok(_) => Ok(()),
            Err(e) => {
                let closed = event_loop
                    .call_method0("is_closed")
                    .and_then(|c| c.is_truthy())
                    .unwrap_or(false);
                if closed {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }
}

/// An awaitable that is already done: `await` returns the value (or raises) without a trip
/// through the event loop. Used for chunks a stream has already decoded — most of them,
/// since one network read carries many — and for `close`-like coroutines.
#[pyclass(module = "inferencekey._native")]
pub struct Ready {
    outcome: Option<PyResult<Py<PyAny>>>,
}

impl Ready {
    pub(crate) fn new(outcome: PyResult<Py<PyAny>>) -> Self {
        Ready {
            outcome: Some(outcome),
        }
    }
}

#[pymethods]
impl Ready {
    fn __await__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.outcome.take() {
            Some(Ok(v)) => Err(PyStopIteration::new_err((v,))),
            Some(Err(e)) => Err(e),
            None => Err(PyStopIteration::new_err((py.None(),))),
        }
    }
}

/// Holds a stream's state while a read is in flight. Dropped before `finish` — the asyncio
/// future was cancelled — it ends the stream, which closes its connection: a half-read
/// answer cannot be resumed, and keeping the socket open would waste the server's work.
pub(crate) struct Armed<S: Closable> {
    pub(crate) guard: OwnedMutexGuard<S>,
    armed: bool,
}

pub(crate) trait Closable {
    fn close(&mut self);
}

impl<S: Closable> Armed<S> {
    pub(crate) fn new(guard: OwnedMutexGuard<S>) -> Self {
        Armed { guard, armed: true }
    }

    pub(crate) fn finish(mut self) {
        self.armed = false;
    }
}

impl<S: Closable> Drop for Armed<S> {
    fn drop(&mut self) {
        if self.armed {
            self.guard.close();
        }
    }
}

/// Declares methods once and emits each into a blocking class and an asyncio class.
///
/// Every method's body runs with the GIL held, checks and converts its arguments, and ends in
/// the core future to run (`$inner` is the class's `inner` field, an `Arc` of the core
/// client). A trailing `**kwargs` is spelled out here because pyo3 must see its `Option`. The blocking class returns the future's value through [`wait`]; the asyncio class
/// returns an asyncio future of it through [`spawn`]. `shared` items (getters, `__repr__`
/// helpers) go into both classes unchanged; `sync` and `asyncio` items into one each.
macro_rules! dual {
    (
        $sync:ident, $aio:ident;
        shared { $($shared:tt)* }
        sync { $($sync_only:tt)* }
        asyncio { $($aio_only:tt)* }
        calls {
            $(
                $(#[doc = $doc:expr])*
                #[pyo3(signature = $sig:tt)]
                fn $name:ident(&$inner:ident, $py:ident $(, $arg:ident : $ty:ty)* $(, **$kw:ident)?) -> $out:ty $body:block
            )*
        }
    ) => {
        #[pymethods]
        impl $sync {
            $($shared)*
            $($sync_only)*
            $(
                $(#[doc = $doc])*
                #[pyo3(signature = $sig)]
                #[allow(clippy::too_many_arguments)]
                fn $name(&self, $py: Python<'_> $(, $arg: $ty)* $(, $kw: Option<&Bound<'_, PyDict>>)?) -> PyResult<$out> {
                    let $inner = &self.inner;
                    let fut = $body;
                    $crate::bridge::wait($py, fut)
                }
            )*
        }

        #[pymethods]
        impl $aio {
            $($shared)*
            $($aio_only)*
            $(
                $(#[doc = $doc])*
                #[pyo3(signature = $sig)]
                #[allow(clippy::too_many_arguments)]
                fn $name<'py>(&self, $py: Python<'py> $(, $arg: $ty)* $(, $kw: Option<&Bound<'_, PyDict>>)?) -> PyResult<Bound<'py, PyAny>> {
                    let $inner = &self.inner;
                    let fut = $body;
                    $crate::bridge::spawn($py, fut)
                }
            )*
        }
    };
}
pub(crate) use dual;

/// The asyncio half needs the core's runtime registered with `pyo3-async-runtimes`.
pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Calls must run on the runtime the blocking API and the pools already use; this only
    // fails when it was set before, which is the same runtime.
    let _ = pyo3_async_runtimes::tokio::init_with_runtime(runtime());
    Ok(())
}
