//! The two bridges from a Python call to the core's futures, and the one macro that emits a
//! method in both forms from a single declaration:
//!
//! * blocking — [`wait`] runs the future on the core's shared Tokio runtime with the GIL
//!   released, waking every 50 ms so Python can run its signal handlers (Ctrl-C interrupts the
//!   call; dropping the future closes the connection);
//! * asyncio — [`spawn`] runs it as a task on the same runtime and hands asyncio a future for
//!   it: a call is a task, not a thread. Cancelling the asyncio future drops the Rust future,
//!   which drops the request and closes its connection. Outcomes become Python objects (and
//!   core errors `inferencekey.errors` exceptions) on the event loop's own thread, which the
//!   loop wakes for once per batch of finished calls, so the runtime's workers never wait for
//!   the GIL.

use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;

use inferencekey_core::rt::{self, runtime};
use inferencekey_core::Error;
use pyo3::exceptions::{PyStopAsyncIteration, PyStopIteration};
use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;
use tokio::sync::OwnedMutexGuard;

use crate::errors::{to_py_err, ResultExt};

/// Runs `fut` to completion without the GIL, checking for Python signals while it waits.
///
/// It runs on this thread's local runtime ([`inferencekey_core::rt::local`]): the whole
/// exchange stays on the calling thread, with no hand-off to a runtime worker and back.
/// Inside a runtime (a Python callback the core calls from a running future) `block_on` is
/// not allowed, so such a call runs on the shared runtime from a helper thread; so does
/// every call where the local runtime's driver fd is unknown (no `/proc`).
pub(crate) fn wait<T: Send>(
    py: Python<'_>,
    fut: impl Future<Output = Result<T, Error>> + Send,
) -> PyResult<T> {
    if rt::in_runtime() {
        return wait_shared(py, fut);
    }
    let local = rt::local();
    // Without its driver's fd the local runtime cannot catch up on events that arrived
    // between calls (`Local::block_on`), so its pooled connections could go stale unseen.
    if local.driver_fd().is_none() {
        return wait_shared(py, fut);
    }
    let outcome = py.detach(|| local.block_on(interruptible(fut)));
    outcome.finish(py)
}

/// [`wait`] on the shared multi-threaded runtime. Streams use it: a blocking stream may be
/// read from other threads than the one that opened it (a server's thread pool iterating a
/// generator), and its connection's task must run whichever thread reads.
pub(crate) fn wait_shared<T: Send>(
    py: Python<'_>,
    fut: impl Future<Output = Result<T, Error>> + Send,
) -> PyResult<T> {
    let outcome = py.detach(|| {
        if rt::in_runtime() {
            // `block_on` is refused inside a runtime's context; a scoped thread has none.
            std::thread::scope(|s| {
                s.spawn(|| runtime().block_on(interruptible(fut)))
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))
            })
        } else {
            runtime().block_on(interruptible(fut))
        }
    });
    outcome.finish(py)
}

enum Waited<T> {
    Done(Result<T, Error>),
    Interrupted(PyErr),
}

impl<T> Waited<T> {
    fn finish(self, py: Python<'_>) -> PyResult<T> {
        match self {
            Waited::Done(r) => r.or_raise(py),
            Waited::Interrupted(e) => Err(e),
        }
    }
}

/// `fut`, waking every 50 ms so Python can run its signal handlers: Ctrl-C interrupts the
/// call, and dropping the future closes its connection.
async fn interruptible<T>(fut: impl Future<Output = Result<T, Error>>) -> Waited<T> {
    tokio::pin!(fut);
    loop {
        tokio::select! {
            r = &mut fut => return Waited::Done(r),
            _ = tokio::time::sleep(Duration::from_millis(50)) => {
                if let Err(e) = Python::attach(|py| py.check_signals()) {
                    return Waited::Interrupted(e);
                }
            }
        }
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

/// Runs `fut` for asyncio; returns the asyncio future of its outcome. Needs a running event
/// loop in this thread (the Python wrappers call this from coroutines).
///
/// Where it can, the call never leaves the loop's thread: it is a task on this thread's
/// local runtime ([`rt::local`]), run at once until it waits for the network, and the loop
/// watches that runtime's IO driver (`add_reader` on its epoll fd) and drives it again
/// ([`rt::Local::turn`]) when the answer arrives; the finished call's outcome is delivered
/// right after that turn, with the GIL the loop already holds. While calls are in flight a
/// 5 ms tick also turns it, for the runtime's timers (timeouts, retry back-off).
///
/// Where the driver's fd is not known, or from inside a runtime, it runs on the shared
/// runtime instead: a finished call queues its outcome on its loop's [`Completions`] and, if
/// the loop is not already due to look, writes one eventfd the loop watches, so a burst of
/// concurrent calls costs one wake-up, and no Tokio thread ever takes the GIL for an asyncio
/// call. (Hand-written rather than `pyo3_async_runtimes::future_into_py`, which completes
/// each future from Tokio's blocking pool: a thread hop, a contended GIL acquisition and one
/// `call_soon_threadsafe` per result.)
pub(crate) fn spawn<'py, V>(
    py: Python<'py>,
    fut: impl Future<Output = Result<V, Error>> + Send + 'static,
) -> PyResult<Bound<'py, PyAny>>
where
    V: for<'a> IntoPyObject<'a> + Send + 'static,
{
    use futures_util::FutureExt;

    let state = loop_state(py)?;
    let py_fut = state.create_future.bind(py).call0()?;
    let target = py_fut.clone().unbind();
    let completions = state.completions.clone();
    let local = state.local.as_ref().filter(|_| !rt::in_runtime());
    let in_flight = InFlight::start(&state.in_flight);
    let call = async move {
        let _in_flight = in_flight;
        // A panic must still complete the asyncio future, or its awaiter would hang.
        let outcome = std::panic::AssertUnwindSafe(fut).catch_unwind().await;
        completions.push((
            target,
            Box::new(move |py| match outcome {
                Ok(result) => Deliver(result).into_py_any(py),
                Err(panic) => Err(to_py_err(
                    py,
                    Error::new(
                        inferencekey_core::ErrorKind::Protocol,
                        format!("the SDK failed internally: {}", panic_message(&panic)),
                    )
                    .with_code("internal_error"),
                )),
            }),
        ));
    };
    let task = match local {
        Some(local) => {
            // Run it now, up to its first wait for the network: the request is on the wire
            // before this returns. An answer that is already complete is still delivered on
            // the loop's next iteration, not here: a future that is done when it is returned
            // lets its awaiter run on without ever yielding, so a fast stream would starve
            // every other task (and a `task.cancel()`) until it ended.
            // First read what arrived since the loop last turned the runtime (a server that
            // closed an idle connection), so the call does not check that connection out.
            if local.has_events() {
                state.turn(py, Delivery::NextIteration, || ());
            }
            let task = state.turn(py, Delivery::NextIteration, || local.spawn(call));
            state.ensure_tick(py)?;
            task
        }
        None => runtime().spawn(call),
    };
    // Cancelling the asyncio future drops the Rust future (closing its connection); aborting
    // a task that already finished does nothing, so the callback need not look at the state.
    py_fut.call_method1(
        pyo3::intern!(py, "add_done_callback"),
        (AbortOnDone {
            task: task.abort_handle(),
        },),
    )?;
    Ok(py_fut)
}

/// Counts a loop's calls in flight (the tick runs while there are any); the count drops
/// when the call's task ends or is dropped.
struct InFlight(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl InFlight {
    fn start(count: &std::sync::Arc<std::sync::atomic::AtomicUsize>) -> Self {
        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        InFlight(count.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

/// The asyncio future's done callback: aborts the Rust task (a no-op once it has finished).
#[pyclass(frozen, module = "inferencekey._native")]
struct AbortOnDone {
    task: tokio::task::AbortHandle,
}

#[pymethods]
impl AbortOnDone {
    fn __call__(&self, _future: &Bound<'_, PyAny>) {
        self.task.abort();
    }
}

/// Makes a finished call's Python value (or exception) on the loop's thread.
type Outcome = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// The outcomes waiting for one event loop, and the eventfd that wakes it. Generic over
/// the item so the wake-up protocol is tested without Python (see the tests below).
struct Completions<T = (Py<PyAny>, Outcome)> {
    queue: std::sync::Mutex<Vec<T>>,
    /// Set while a wake-up is written and not yet drained: later pushes need not write.
    pending: std::sync::atomic::AtomicBool,
    fd: std::os::fd::OwnedFd,
}

impl<T> Completions<T> {
    fn new() -> std::io::Result<Self> {
        use std::os::fd::FromRawFd;
        // SAFETY: eventfd has no memory preconditions; the fd is owned from here on.
        let raw = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Completions {
            queue: std::sync::Mutex::new(Vec::new()),
            pending: std::sync::atomic::AtomicBool::new(false),
            // SAFETY: `raw` is a fresh, valid fd nobody else owns.
            fd: unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) },
        })
    }

    /// Queues an item (from any thread, without the GIL) and wakes the loop if needed: not
    /// when the loop's own thread is turning its runtime, since it drains right after.
    fn push(&self, item: T) {
        use std::os::fd::AsRawFd;
        use std::sync::atomic::Ordering;
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(item);
        if TURNING.get() == (self as *const Self).cast() {
            return;
        }
        if !self.pending.swap(true, Ordering::SeqCst) {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a valid u64 to our own eventfd. It cannot block
            // (EFD_NONBLOCK) and only fails when the counter would overflow, which a
            // drained-then-rewritten counter never reaches.
            unsafe {
                libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8);
            }
        }
    }

    /// Whether anything is queued (a drain would complete something).
    fn has_ready(&self) -> bool {
        !self
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// On the loop's thread, after a wake-up: everything queued so far.
    fn take_ready(&self) -> Vec<T> {
        use std::os::fd::AsRawFd;
        use std::sync::atomic::Ordering;
        // Consume the wake-up first, then clear the flag, then take the queue. A push whose
        // flag swap saw `true` came before the clear, so its item is in what we take; a push
        // after the clear writes a new wake-up, which this read cannot swallow. (Clearing
        // before the read could swallow that write and leave the flag set with nobody
        // writing again: a hang.)
        // (Without a wake-up pending there is nothing to consume: a push that has not set the
        // flag yet will write after this, and its item is taken now or on that wake-up.)
        if self.pending.load(Ordering::SeqCst) {
            let mut count: u64 = 0;
            // SAFETY: reads 8 bytes into a valid u64 from our own non-blocking eventfd.
            unsafe {
                libc::read(self.fd.as_raw_fd(), (&mut count as *mut u64).cast(), 8);
            }
            self.pending.store(false, Ordering::SeqCst);
        }
        std::mem::take(&mut *self.queue.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Completions {
    /// On the loop's thread: completes every queued future.
    fn drain(&self, py: Python<'_>) {
        for (future, outcome) in self.take_ready() {
            let future = future.bind(py);
            let done = match outcome(py) {
                Ok(value) => future.call_method1(pyo3::intern!(py, "set_result"), (value,)),
                Err(e) => future.call_method1(pyo3::intern!(py, "set_exception"), (e.value(py),)),
            };
            // A future cancelled meanwhile refuses its result (InvalidStateError): nobody
            // waits for it any more.
            drop(done);
        }
    }
}

/// The loop's `add_reader` callback.
#[pyclass(frozen, module = "inferencekey._native")]
struct DrainCompletions {
    completions: std::sync::Arc<Completions>,
}

#[pymethods]
impl DrainCompletions {
    fn __call__(&self, py: Python<'_>) {
        self.completions.drain(py);
    }
}

thread_local! {
    /// The `Completions` whose loop is turning its runtime on this thread right now.
    static TURNING: std::cell::Cell<*const ()> = const { std::cell::Cell::new(std::ptr::null()) };
}

/// What one event loop needs for its calls: its completion queue, the local runtime it
/// drives (when the runtime's driver fd is registered with it), the calls in flight and
/// whether the timer tick is scheduled.
struct LoopState {
    event_loop: Py<PyAny>,
    create_future: Py<PyAny>,
    completions: std::sync::Arc<Completions>,
    local: Option<std::sync::Arc<rt::Local>>,
    in_flight: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    tick_scheduled: std::sync::atomic::AtomicBool,
}

impl LoopState {
    /// Turns the local runtime (running `first` in it) and delivers what finished, now or
    /// from a `call_soon` callback.
    fn turn<R>(
        self: &std::sync::Arc<Self>,
        py: Python<'_>,
        delivery: Delivery,
        first: impl FnOnce() -> R,
    ) -> R {
        let Some(local) = self.local.as_ref() else {
            return first();
        };
        let previous = TURNING.replace(std::sync::Arc::as_ptr(&self.completions).cast());
        let (out, more) = local.turn(first);
        TURNING.set(previous);
        match delivery {
            Delivery::Now => self.completions.drain(py),
            Delivery::NextIteration if self.completions.has_ready() => {
                let _ = self.event_loop.bind(py).call_method1(
                    pyo3::intern!(py, "call_soon"),
                    (DrainCompletions {
                        completions: self.completions.clone(),
                    },),
                );
            }
            Delivery::NextIteration => {}
        }
        if more {
            // Events kept arriving: let the loop run its other callbacks, then turn again.
            let _ = self
                .event_loop
                .bind(py)
                .call_method1(pyo3::intern!(py, "call_soon"), (TurnRuntime(self.clone()),));
        }
        out
    }

    /// Schedules the tick if calls are in flight and it is not scheduled yet.
    fn ensure_tick(self: &std::sync::Arc<Self>, py: Python<'_>) -> PyResult<()> {
        use std::sync::atomic::Ordering;
        if self.in_flight.load(Ordering::Relaxed) == 0
            || self.tick_scheduled.swap(true, Ordering::Relaxed)
        {
            return Ok(());
        }
        let scheduled = self.event_loop.bind(py).call_method1(
            pyo3::intern!(py, "call_later"),
            (TICK_SECONDS, Tick(self.clone())),
        );
        if scheduled.is_err() {
            self.tick_scheduled.store(false, Ordering::Relaxed);
        }
        scheduled.map(drop)
    }
}

/// When [`LoopState::turn`] completes the futures of the calls that finished in it.
#[derive(Clone, Copy)]
enum Delivery {
    /// Right after the turn: the loop's own callbacks (the driver fd's reader, the tick),
    /// whose futures were returned to their awaiters earlier.
    Now,
    /// From a `call_soon` callback: a turn inside [`spawn`], whose future is not returned yet.
    NextIteration,
}

/// How often a loop with calls in flight turns its runtime even without IO: the runtime's
/// timers (read and total timeouts, retry back-off) fire at most this late.
const TICK_SECONDS: f64 = 0.005;

/// The loop's `add_reader` callback for the local runtime's driver fd.
#[pyclass(frozen, module = "inferencekey._native")]
struct TurnRuntime(std::sync::Arc<LoopState>);

#[pymethods]
impl TurnRuntime {
    fn __call__(&self, py: Python<'_>) -> PyResult<()> {
        if !rt::in_runtime() {
            self.0.turn(py, Delivery::Now, || ());
        }
        self.0.ensure_tick(py)
    }
}

/// The loop's `call_later` callback while calls are in flight.
#[pyclass(frozen, module = "inferencekey._native")]
struct Tick(std::sync::Arc<LoopState>);

#[pymethods]
impl Tick {
    fn __call__(&self, py: Python<'_>) -> PyResult<()> {
        self.0
            .tick_scheduled
            .store(false, std::sync::atomic::Ordering::Relaxed);
        if !rt::in_runtime() {
            self.0.turn(py, Delivery::Now, || ());
        }
        self.0.ensure_tick(py)
    }
}

/// The running loop's state, registered with it on first use and cached per thread (a
/// thread runs one loop at a time, so the common case is one comparison).
fn loop_state(py: Python<'_>) -> PyResult<std::sync::Arc<LoopState>> {
    use std::os::fd::AsRawFd;
    thread_local! {
        static CACHED: RefCell<Option<std::sync::Arc<LoopState>>> = const { RefCell::new(None) };
    }
    let running = pyo3_async_runtimes::get_running_loop(py)?;
    let cached = CACHED.with_borrow(|slot| {
        slot.as_ref()
            .filter(|state| state.event_loop.is(&running))
            .cloned()
    });
    if let Some(state) = cached {
        return Ok(state);
    }
    let completions = std::sync::Arc::new(Completions::new().map_err(|e| {
        pyo3::exceptions::PyOSError::new_err(format!(
            "could not create the asyncio wake-up fd: {e}"
        ))
    })?);
    running.call_method1(
        pyo3::intern!(py, "add_reader"),
        (
            completions.fd.as_raw_fd(),
            DrainCompletions {
                completions: completions.clone(),
            },
        ),
    )?;
    let local = rt::local();
    let driver_fd = local.driver_fd();
    let state = std::sync::Arc::new(LoopState {
        event_loop: running.clone().unbind(),
        create_future: running
            .getattr(pyo3::intern!(py, "create_future"))?
            .unbind(),
        completions,
        local: driver_fd.map(|_| local),
        in_flight: Default::default(),
        tick_scheduled: Default::default(),
    });
    if let Some(fd) = driver_fd {
        // Another loop this thread ran may have watched the same fd; a loop that is still
        // open gives it up below.
        running.call_method1(
            pyo3::intern!(py, "add_reader"),
            (fd, TurnRuntime(state.clone())),
        )?;
    }
    let previous = CACHED.with_borrow_mut(|slot| slot.replace(state.clone()));
    // A loop this thread ran before: stop watching its fds if it still runs (asyncio.run
    // closes its loop, so usually there is nothing to undo).
    if let Some(old) = previous {
        let old_loop = old.event_loop.bind(py);
        let closed = old_loop
            .call_method0(pyo3::intern!(py, "is_closed"))
            .and_then(|c| c.is_truthy())
            .unwrap_or(true);
        if !closed {
            let _ = old_loop.call_method1(
                pyo3::intern!(py, "remove_reader"),
                (old.completions.fd.as_raw_fd(),),
            );
            if let Some(fd) = driver_fd {
                let _ = old_loop.call_method1(pyo3::intern!(py, "remove_reader"), (fd,));
            }
        }
    }
    Ok(state)
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

#[cfg(test)]
mod tests {
    use super::Completions;
    use std::os::fd::AsRawFd;
    use std::sync::Arc;

    /// Waits for the eventfd to be readable, as the event loop's `add_reader` does.
    fn wait_readable(c: &Completions<u32>, timeout_ms: i32) -> bool {
        let mut fds = libc::pollfd {
            fd: c.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut fds, 1, timeout_ms) > 0 }
    }

    /// Many threads pushing while a loop drains on wake-ups only: every item arrives, and no
    /// item is ever left queued without a wake-up pending (that would hang an `await`).
    #[test]
    fn no_completion_is_left_without_a_wake_up() {
        const THREADS: u32 = 8;
        const EACH: u32 = 20_000;
        let c = Arc::new(Completions::<u32>::new().unwrap());
        let producers: Vec<_> = (0..THREADS)
            .map(|t| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for i in 0..EACH {
                        c.push(t * EACH + i);
                        if i % 64 == 0 {
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let mut seen = vec![false; (THREADS * EACH) as usize];
        let mut got = 0u32;
        while got < THREADS * EACH {
            assert!(
                wait_readable(&c, 10_000),
                "{} items still queued with no wake-up after 10 s",
                THREADS * EACH - got
            );
            for item in c.take_ready() {
                assert!(!seen[item as usize], "item {item} delivered twice");
                seen[item as usize] = true;
                got += 1;
            }
        }
        for p in producers {
            p.join().unwrap();
        }
        assert!(c.take_ready().is_empty());
    }
}
