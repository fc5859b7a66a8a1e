//! The process's one Tokio runtime, and how the futures it runs settle JavaScript Promises.
//!
//! Why not napi's `tokio_rt`: a sequential call there costs about seven context switches (the
//! spawn wakes a worker of a multi-thread runtime, hyper's connection task may run on the
//! other worker, and each Promise gets its own threadsafe function, i.e. its own `uv_async`
//! wake-up of the JS thread). On a loaded machine each switch costs tens of microseconds, which
//! was most of the gap to a pure-JS client. Here:
//!
//! * one current-thread runtime driven by one dedicated I/O thread (`inferencekey-io`): a
//!   call's future and hyper's connection task share that thread, so the spawn is the only
//!   wake-up on the way in;
//! * one threadsafe function per JS thread (per Node environment), fed by a queue: a finished
//!   call pushes its settlement and wakes the JS thread only when the queue was empty, and one
//!   wake-up settles every Promise that finished meanwhile (32 concurrent calls finishing
//!   together cost a few wake-ups, not 32);
//! * Promises are plain `napi_deferred`s, each owned by a guard in the spawned task: a future
//!   that is dropped before it finishes (the runtime going away) rejects its Promise as
//!   cancelled instead of leaving it pending forever.
//!
//! The threadsafe function is unref'd while no call is pending, so an idle client never keeps
//! the process alive, and ref'd while one is (an awaited call at top level still runs).

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::future::Future;
use std::ptr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use napi::bindgen_prelude::{PromiseRaw, ToNapiValue};
use napi::{sys, Env, JsError, Status};

/// The runtime's handle, or why it could not start (reported by every call instead of a panic).
fn handle() -> Result<&'static tokio::runtime::Handle, napi::Error> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Handle, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("could not start the I/O runtime: {e}"))?;
            let handle = rt.handle().clone();
            std::thread::Builder::new()
                .name("inferencekey-io".into())
                .spawn(move || rt.block_on(std::future::pending::<()>()))
                .map_err(|e| format!("could not start the I/O thread: {e}"))?;
            Ok(handle)
        })
        .as_ref()
        .map_err(|e| napi::Error::new(Status::GenericFailure, e.clone()))
}

/// Starts the runtime at module load, so the first call does not pay for it.
pub fn start() {
    let _ = handle();
}

/// A settlement, run on the JS thread with its `napi_env`.
type Settle = Box<dyn FnOnce(sys::napi_env) + Send>;

struct Queue {
    items: Vec<Settle>,
    /// The environment is gone (its threadsafe function finalised): drop settlements.
    closed: bool,
}

/// One JS thread's wake-up channel.
struct Settler {
    tsfn: sys::napi_threadsafe_function,
    queue: Mutex<Queue>,
}

// SAFETY: a threadsafe function handle may be called from any thread (that is its purpose);
// the queue is behind a mutex, and `closed` (set under it) stops calls after finalisation.
unsafe impl Send for Settler {}
unsafe impl Sync for Settler {}

impl Settler {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        match self.queue.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Queues `s`; wakes the JS thread only if the queue was empty (otherwise a wake-up is
    /// already on its way and will drain this one too).
    fn push(&self, s: Settle) {
        let mut q = self.lock();
        if q.closed {
            return;
        }
        let wake = q.items.is_empty();
        q.items.push(s);
        if wake {
            // SAFETY: not closed, so the handle is live; non-blocking on an unbounded queue.
            unsafe {
                sys::napi_call_threadsafe_function(
                    self.tsfn,
                    ptr::null_mut(),
                    sys::ThreadsafeFunctionCallMode::nonblocking,
                );
            }
        }
    }
}

thread_local! {
    /// This JS thread's settler (made on its first call).
    static SETTLER: RefCell<Option<Arc<Settler>>> = const { RefCell::new(None) };
    /// Calls started on this JS thread and not yet settled: the handle is ref'd while > 0.
    static PENDING: Cell<usize> = const { Cell::new(0) };
}

unsafe extern "C" fn drain(
    env: sys::napi_env,
    _js_callback: sys::napi_value,
    context: *mut c_void,
    _data: *mut c_void,
) {
    if env.is_null() || context.is_null() {
        return;
    }
    // SAFETY: `context` is the `Arc<Settler>` leaked in `settler()`, freed only in `finalize`.
    let settler = unsafe { &*(context as *const Settler) };
    let items = std::mem::take(&mut settler.lock().items);
    let n = items.len();
    for settle in items {
        settle(env);
    }
    let left = PENDING.with(|p| {
        let left = p.get().saturating_sub(n);
        p.set(left);
        left
    });
    if left == 0 {
        // SAFETY: on the JS thread, with a live handle.
        unsafe { sys::napi_unref_threadsafe_function(env, settler.tsfn) };
    }
}

unsafe extern "C" fn finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    if data.is_null() {
        return;
    }
    // SAFETY: `data` is the leaked `Arc<Settler>`; this is its one release.
    let settler = unsafe { Arc::from_raw(data as *const Settler) };
    let mut q = settler.lock();
    q.closed = true;
    q.items.clear();
}

/// This JS thread's settler, made on first use.
fn settler(env: sys::napi_env) -> napi::Result<Arc<Settler>> {
    if let Some(s) = SETTLER.with(|s| s.borrow().clone()) {
        return Ok(s);
    }
    let mut name = ptr::null_mut();
    let label = "inferencekey";
    // SAFETY: a valid env on its own thread; the arguments are checked by the calls' status.
    unsafe {
        check(sys::napi_create_string_utf8(
            env,
            label.as_ptr().cast(),
            label.len() as isize,
            &mut name,
        ))?;
    }
    let settler = Arc::new(Settler {
        tsfn: ptr::null_mut(),
        queue: Mutex::new(Queue {
            items: Vec::new(),
            closed: false,
        }),
    });
    let raw = Arc::into_raw(Arc::clone(&settler)) as *mut c_void;
    let mut tsfn = ptr::null_mut();
    // SAFETY: as above; `raw` is both the context (read by `drain`) and the finalize data.
    let status = unsafe {
        sys::napi_create_threadsafe_function(
            env,
            ptr::null_mut(),
            ptr::null_mut(),
            name,
            0,
            1,
            raw,
            Some(finalize),
            raw,
            Some(drain),
            &mut tsfn,
        )
    };
    if status != sys::Status::napi_ok {
        // SAFETY: not handed to node, so this is the only release of `raw`.
        drop(unsafe { Arc::from_raw(raw as *const Settler) });
        return Err(napi::Error::new(
            Status::GenericFailure,
            "could not create the addon's threadsafe function",
        ));
    }
    // SAFETY: `tsfn` is written once, here, before any other thread can see the settler.
    let settler = unsafe {
        let p = Arc::as_ptr(&settler) as *mut Settler;
        (*p).tsfn = tsfn;
        settler
    };
    // SAFETY: on the JS thread with the handle just made; idle until a call is pending.
    unsafe { sys::napi_unref_threadsafe_function(env, tsfn) };
    SETTLER.with(|s| *s.borrow_mut() = Some(Arc::clone(&settler)));
    Ok(settler)
}

fn check(status: sys::napi_status) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::new(
            Status::GenericFailure,
            format!("N-API call failed ({status})"),
        ))
    }
}

/// A Promise's resolver, owned by the task that runs its future: settles exactly once, and
/// rejects as cancelled if the task is dropped first.
struct Deferred {
    deferred: sys::napi_deferred,
    settler: Arc<Settler>,
}

// SAFETY: the deferred is only used on the JS thread, inside a `Settle` run by `drain`.
unsafe impl Send for Deferred {}

struct Guard(Option<Deferred>);

impl Guard {
    fn settle<T: ToNapiValue + Send + 'static>(mut self, r: napi::Result<T>) {
        if let Some(d) = self.0.take() {
            d.settler.clone().push(settle_with(d, r));
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(d) = self.0.take() {
            let e = crate::errors::from_call(crate::cancel::Cancelled::Aborted);
            d.settler.clone().push(settle_with::<()>(d, Err(e)));
        }
    }
}

fn settle_with<T: ToNapiValue + Send + 'static>(d: Deferred, r: napi::Result<T>) -> Settle {
    Box::new(move |env| {
        let d = d;
        // SAFETY: on the JS thread with its env; each deferred is settled once.
        unsafe {
            let value = r.and_then(|v| T::to_napi_value(env, v));
            match value {
                Ok(v) => {
                    sys::napi_resolve_deferred(env, d.deferred, v);
                }
                Err(e) => {
                    sys::napi_reject_deferred(env, d.deferred, JsError::from(e).into_value(env));
                }
            }
        }
    })
}

/// Runs `fut` on the I/O thread; the Promise settles on this JS thread when it finishes.
pub fn promise<'e, T, F>(env: &'e Env, fut: F) -> napi::Result<PromiseRaw<'e, T>>
where
    T: 'static + Send + ToNapiValue,
    F: 'static + Send + Future<Output = napi::Result<T>>,
{
    let rt = handle()?;
    let raw_env = env.raw();
    let settler = settler(raw_env)?;
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    // SAFETY: a valid env on its JS thread.
    unsafe {
        check(sys::napi_create_promise(
            raw_env,
            &mut deferred,
            &mut promise,
        ))?
    };
    let guard = Guard(Some(Deferred {
        deferred,
        settler: Arc::clone(&settler),
    }));
    PENDING.with(|p| {
        if p.get() == 0 {
            // SAFETY: on the JS thread with a live handle.
            unsafe { sys::napi_ref_threadsafe_function(raw_env, settler.tsfn) };
        }
        p.set(p.get() + 1);
    });
    rt.spawn(async move {
        let r = fut.await;
        guard.settle(r);
    });
    Ok(PromiseRaw::new(raw_env, promise))
}
