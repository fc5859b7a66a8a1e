//! The Tokio runtimes bindings drive their calls on.
//!
//! * [`runtime`]: one shared multi-threaded runtime per process (timers, the IO driver and
//!   connection pools shared by every client). The C ABI spawns onto it; bindings use it where
//!   a call must not depend on any one thread (streams a program may read from other threads).
//! * [`local`]: a current-thread runtime per OS thread (an ended thread's runtime, with its
//!   pools, is handed to the next new thread). A blocking call `block_on`s it on the
//!   calling thread, so the whole exchange (write, wait, read, decode) stays on that thread:
//!   no hand-off to a worker and back, which on a loaded machine costs tens of microseconds
//!   per call. An event loop can drive the same runtime without blocking ([`Local::turn`],
//!   watching [`Local::driver_fd`]), so an asyncio call need not leave the loop's thread.
//!
//! hyper spawns a pooled connection's task on the runtime that opened it, so a connection
//! pool must never be shared between runtimes (a checkout from a runtime nobody drives would
//! hang). The transport therefore keeps one `reqwest::Client` per local runtime that uses it
//! (`transport::Http`), keyed by [`driving`], which is set while a [`Local`] runs.

use std::cell::RefCell;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::task::Poll;

use tokio::runtime::{Builder, Runtime};

/// The shared multi-threaded runtime, built on first use. Blocking callers use
/// `runtime().block_on(..)` from their own threads; async bindings spawn onto it.
pub fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("inferencekey-io")
            .enable_all()
            .build()
            .expect("the OS refused to create the SDK's runtime threads")
    })
}

/// A current-thread runtime owned by one OS thread (see the module docs).
pub struct Local {
    rt: Runtime,
    key: LocalKey,
    /// Kept alive as long as the runtime: the transport holds `Weak`s to drop the clients of
    /// runtimes that are gone.
    _alive: Arc<()>,
    driver_fd: Option<i32>,
}

/// Which local runtime is running now: its id and a liveness token.
#[derive(Clone)]
pub struct LocalKey {
    pub id: u64,
    pub alive: Weak<()>,
}

/// This thread's local runtime; when the thread ends it goes back to [`SPARE`].
struct Slot(Option<Arc<Local>>);

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(local) = self.0.take() {
            let mut spare = SPARE.lock().unwrap_or_else(|p| p.into_inner());
            if spare.len() < MAX_SPARE {
                spare.push(local);
            }
        }
    }
}

/// Runtimes of threads that have ended, with their connection pools, for the next new
/// thread: a program that starts a thread per batch of calls (or per request) would otherwise
/// pay for a runtime and a fresh connection on every thread's first call. Idle, they hold
/// only idle keep-alive connections.
static SPARE: std::sync::Mutex<Vec<Arc<Local>>> = std::sync::Mutex::new(Vec::new());
const MAX_SPARE: usize = 64;

thread_local! {
    static LOCAL: RefCell<Slot> = const { RefCell::new(Slot(None)) };
    static DRIVING: RefCell<Option<LocalKey>> = const { RefCell::new(None) };
    /// While [`Local::turn`] runs: its driver fd, its future's waker, and whether the fd had
    /// events when the scheduler last ran out of tasks.
    static TURN: RefCell<Option<TurnState>> = const { RefCell::new(None) };
}

struct TurnState {
    fd: i32,
    waker: std::task::Waker,
    /// Set by [`idle_hook`]: `Some(readable)` once the queue emptied since the last poll.
    idle: Option<bool>,
}

/// The scheduler's `on_thread_park` hook: it runs when the task queue is empty, just before
/// the scheduler polls the driver (and would block in it). During a turn it notes whether the
/// driver's fd has events and wakes the turn's future, so the driver is polled without
/// blocking and the turn then ends, or runs the tasks those events woke.
fn idle_hook() {
    TURN.with_borrow_mut(|turn| {
        if let Some(t) = turn.as_mut() {
            t.idle = Some(fd_readable(t.fd));
            t.waker.wake_by_ref();
        }
    });
}

/// Whether `fd` is readable now (a zero-timeout `poll`).
fn fd_readable(fd: i32) -> bool {
    poll_readable(fd, 0)
}

/// Whether `fd` becomes readable within `timeout_ms` (`poll` on one fd for `POLLIN`).
fn poll_readable(fd: i32, timeout_ms: i32) -> bool {
    #[repr(C)]
    struct PollFd {
        fd: i32,
        events: i16,
        revents: i16,
    }
    extern "C" {
        fn poll(fds: *mut PollFd, n: u64, timeout: i32) -> i32;
    }
    const POLLIN: i16 = 1;
    let mut p = PollFd {
        fd,
        events: POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { poll(&mut p, 1, timeout_ms) > 0 }
}

/// This thread's local runtime, built on first use.
pub fn local() -> Arc<Local> {
    LOCAL.with_borrow_mut(|slot| {
        slot.0
            .get_or_insert_with(|| {
                let spare = SPARE.lock().unwrap_or_else(|p| p.into_inner()).pop();
                spare.unwrap_or_else(|| Arc::new(Local::new()))
            })
            .clone()
    })
}

/// The local runtime running on this thread right now, if any (`None` on the shared
/// runtime's workers and outside any runtime).
pub fn driving() -> Option<LocalKey> {
    DRIVING.with_borrow(|d| d.clone())
}

/// Sets [`driving`] for the duration of a `block_on`.
struct Driving(Option<LocalKey>);

impl Driving {
    fn enter(key: &LocalKey) -> Self {
        Driving(DRIVING.with_borrow_mut(|d| d.replace(key.clone())))
    }
}

impl Drop for Driving {
    fn drop(&mut self) {
        let previous = self.0.take();
        DRIVING.with_borrow_mut(|d| *d = previous);
    }
}

impl Local {
    fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        // Built under one lock so that the driver's epoll fd can be told apart from the fds
        // other SDK threads create at the same moment.
        static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _building = BUILDING.lock().unwrap_or_else(|p| p.into_inner());
        let before = epoll_fds();
        let rt = Builder::new_current_thread()
            .enable_all()
            .on_thread_park(idle_hook)
            .build()
            .expect("the OS refused to create the SDK's runtime");
        let driver_fd = match (before, epoll_fds()) {
            (Some(before), Some(after)) => {
                // mio keeps the epoll fd and a `dup` of it (its registry): both name one
                // epoll instance when their registrations (fdinfo's `tfd` lines) agree.
                let new: Vec<i32> = after
                    .into_iter()
                    .filter(|fd| !before.contains(fd))
                    .collect();
                let registrations = |fd: &i32| {
                    std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}"))
                        .ok()
                        .map(|info| {
                            info.lines()
                                .filter(|l| l.starts_with("tfd:"))
                                .map(str::to_string)
                                .collect::<Vec<_>>()
                        })
                };
                let first = new.first().and_then(registrations);
                let one_instance =
                    first.is_some() && new.iter().skip(1).all(|fd| registrations(fd) == first);
                new.first().copied().filter(|_| one_instance)
            }
            _ => None,
        };
        let alive = Arc::new(());
        Local {
            rt,
            key: LocalKey {
                id: NEXT.fetch_add(1, Ordering::Relaxed),
                alive: Arc::downgrade(&alive),
            },
            _alive: alive,
            driver_fd,
        }
    }

    /// Runs `fut` to completion on the calling thread, driving this runtime's other tasks
    /// meanwhile. Panics inside another runtime's context (Tokio's rule); see [`in_runtime`].
    ///
    /// Between calls nothing drives this runtime, so what happened meanwhile on its pooled
    /// connections is still unread: a server that closed an idle keep-alive connection (its
    /// idle or header timeout; nginx's `keepalive_timeout`) left an EOF that the
    /// connection's task has not seen, and the pool would hand that dead connection to the
    /// next request, which then fails. So when the driver has events waiting, the runtime
    /// first catches up ([`Local::turn`]): the connection tasks read their EOFs and leave
    /// the pool before `fut` checks a connection out. No events: one zero-timeout `poll`.
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        if self.has_events() {
            self.turn(|| ());
        }
        self.drive(fut)
    }

    /// Whether the IO driver has events nobody has read yet (a zero-timeout `poll` of its
    /// fd; `false` when the fd is unknown). Before a new call is started on this runtime
    /// those must be read first, or a connection its server closed meanwhile is reused (see
    /// [`Local::block_on`]); an event loop starting a call checks this and turns first.
    pub fn has_events(&self) -> bool {
        self.driver_fd.is_some_and(fd_readable)
    }

    fn drive<F: Future>(&self, fut: F) -> F::Output {
        let _driving = Driving::enter(&self.key);
        self.rt.block_on(fut)
    }

    /// Spawns `fut` on this runtime. It runs when the runtime is next driven
    /// ([`Local::block_on`] or [`Local::turn`]), on whichever thread drives it.
    pub fn spawn<F>(&self, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.rt.spawn(fut)
    }

    /// Drives the runtime without blocking, for an event loop that watches
    /// [`Local::driver_fd`]: runs `first` inside the runtime (spawning there queues a task
    /// without waking anything), then every task that is ready, polling the IO driver and the
    /// timers whenever the queue empties, until the queue is empty and the driver's fd has no
    /// events left. It returns `true` when it stopped early (after many rounds with events
    /// still arriving): the caller should turn again soon. Call it when the fd is readable,
    /// and now and then while calls are in flight (timers do not make the fd readable).
    ///
    /// Must not be called from inside a runtime (see [`in_runtime`]); without a driver fd
    /// it only runs `first`.
    pub fn turn<R>(&self, first: impl FnOnce() -> R) -> (R, bool) {
        const MAX_ROUNDS: u32 = 64;
        let Some(fd) = self.driver_fd else {
            return (first(), false);
        };
        let mut first = Some(first);
        let mut out = None;
        let mut rounds = 0u32;
        let mut more = false;
        TURN.with_borrow_mut(|turn| *turn = None);
        self.drive(std::future::poll_fn(|cx| {
            if let Some(f) = first.take() {
                out = Some(f());
            }
            let idle = TURN.with_borrow_mut(|turn| {
                let t = turn.get_or_insert_with(|| TurnState {
                    fd,
                    waker: cx.waker().clone(),
                    idle: None,
                });
                t.idle.take()
            });
            // The queue had emptied and the driver's fd had no events before the poll that
            // just ran: nothing is left to run (a later event makes the fd readable again).
            if idle == Some(false) {
                return Poll::Ready(());
            }
            rounds += 1;
            if rounds > MAX_ROUNDS {
                more = true;
                return Poll::Ready(());
            }
            // Not woken: the scheduler runs the queue, then `idle_hook` wakes this.
            Poll::Pending
        }));
        TURN.with_borrow_mut(|turn| *turn = None);
        (out.expect("the first step ran"), more)
    }

    /// The runtime's IO driver's epoll fd, when it could be identified: it is readable
    /// whenever the driver has events, so an event loop can watch it and [`Local::turn`] then.
    /// `None` where it could not be found (not Linux, no `/proc`); drive from a thread then.
    pub fn driver_fd(&self) -> Option<i32> {
        self.driver_fd
    }
}

/// True inside any Tokio runtime's context, where `block_on` would panic.
pub fn in_runtime() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}

/// The epoll fds of this process (Linux), or `None` if `/proc/self/fd` cannot be read.
fn epoll_fds() -> Option<Vec<i32>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").ok()? {
        let Ok(entry) = entry else { continue };
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if std::fs::read_link(entry.path())
            .is_ok_and(|target| target.as_os_str() == "anon_inode:[eventpoll]")
        {
            out.push(fd);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task spawned and turned runs; its IO completes through further turns, driven only
    /// when the driver's fd says so (as an event loop would).
    #[test]
    fn a_turned_runtime_completes_io_when_its_fd_is_readable() {
        let local = local();
        let fd = local
            .driver_fd()
            .expect("the driver's epoll fd is found on Linux");
        let (tx, rx) = std::sync::mpsc::channel();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).unwrap();
            s.write_all(b"pong").unwrap();
        });
        local.turn(|| {
            local.spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                s.write_all(b"ping").await.unwrap();
                let mut buf = [0u8; 4];
                s.read_exact(&mut buf).await.unwrap();
                tx.send(buf).unwrap();
            })
        });
        let got = loop {
            if let Ok(v) = rx.try_recv() {
                break v;
            }
            assert!(
                poll_readable(fd, 10_000),
                "the driver's fd never became readable"
            );
            let (_, more) = local.turn(|| ());
            assert!(!more);
        };
        assert_eq!(&got, b"pong");
        server.join().unwrap();
    }

    /// A keep-alive connection the server closed while no call drove the runtime is not
    /// handed to the next call: `block_on` catches up on the EOF first. (Before, the second
    /// call failed with "error sending request": a server's idle timeout broke the next call
    /// after any pause.) The server closes only after the first call has returned, so the
    /// EOF arrives while nothing drives the runtime.
    #[test]
    fn a_connection_the_server_closed_between_calls_is_not_reused() {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let (first_done, first_done_rx) = std::sync::mpsc::channel::<()>();
        let (closed, closed_rx) = std::sync::mpsc::channel::<()>();
        let server = std::thread::spawn(move || {
            for i in 0..2 {
                let (s, _) = listener.accept().unwrap();
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut line = String::new();
                while r.read_line(&mut line).unwrap() > 0 && !line.ends_with("\r\n\r\n") {}
                (&s).write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .unwrap();
                if i == 0 {
                    first_done_rx.recv().unwrap();
                    drop(r);
                    drop(s);
                    closed.send(()).unwrap();
                }
            }
        });
        let http = crate::transport::build_http(&Default::default()).unwrap();
        let local = local();
        let get = || {
            local.block_on(async {
                let c = http.client().unwrap();
                c.get(&url).send().await?.text().await
            })
        };
        assert_eq!(get().unwrap(), "ok");
        first_done.send(()).unwrap();
        closed_rx.recv().unwrap();
        assert_eq!(get().expect("the second call gets a new connection"), "ok");
        server.join().unwrap();
    }

    #[test]
    fn driving_is_set_only_inside_block_on() {
        let local = local();
        assert!(driving().is_none());
        let inside = local.block_on(async { driving().map(|k| k.id) });
        assert_eq!(inside, Some(local.key.id));
        assert!(driving().is_none());
    }
}
