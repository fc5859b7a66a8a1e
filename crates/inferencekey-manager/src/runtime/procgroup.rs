//! A replica's whole process tree, killable as one, even when the Manager dies with `kill -9`.
//!
//! A process group is not enough: engines fork workers (vLLM's EngineCore) and some call
//! `setsid` (Ray), which leaves the group, and `PR_SET_PDEATHSIG` only reaches the leader.
//! So every engine runs under a *keeper*: this same binary, run as
//! `<self> __replica-keeper <grace_ms> -- <engine argv…>` (under the Python package, a
//! `python -I -S -c` boot that loads the native module from its file: [`keeper_command`]).
//! The keeper is a child subreaper
//! (`PR_SET_CHILD_SUBREAPER`), so every process the engine starts stays in the keeper's subtree
//! even after its parent exits, `setsid` or not. The keeper gets SIGTERM when the Manager
//! dies (parent-death signal) or stops the replica; it then sends SIGTERM to the whole
//! subtree, waits the grace period and SIGKILLs whatever is left. When the engine leader
//! exits on its own, the keeper kills the rest of the tree and exits with the leader's status.
//!
//! What outlives even the keeper (both killed with `kill -9`) is found on the next start by
//! the tag every engine process inherits in its environment (see [`sweep_tagged`]).
//!
//! A keeper can also be started *spare*, `<self> __replica-keeper <grace_ms> --spare`,
//! before its engine is known: it waits on its stdin for a [`SpareOrder`] (the engine's argv,
//! environment and log file) and then goes on as any keeper. While a workload waits at zero
//! replicas the Manager keeps one (`process::SparePool`), so the next cold start does not wait
//! for a keeper to boot (a Python interpreter under the Python package: ~15 ms, on the path of
//! the request that is held meanwhile).
//!
//! Linux only: it reads `/proc`. Hand-written on libc because the few calls it needs are
//! simpler than any process-supervision crate.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The hidden CLI verb that runs a keeper.
pub const KEEPER_ARG: &str = "__replica-keeper";

/// In place of `-- <argv…>`: the keeper is spare and reads its [`SpareOrder`] from stdin.
pub const SPARE_ARG: &str = "--spare";

/// What a spare keeper runs: written as JSON on its stdin by the Manager, then EOF. An EOF
/// with nothing before it (the Manager dropped the spare, or died) makes the keeper exit.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct SpareOrder {
    pub argv: Vec<String>,
    /// The engine's whole environment, in order (a later entry wins).
    pub env: Vec<(String, String)>,
    /// The file the engine's stdout and stderr are appended to (the Manager created it).
    pub log: PathBuf,
}

/// The program `python -c` runs to start a keeper from the Python package without importing
/// it: it loads the native extension (which holds this Manager) straight from its file and
/// hands the rest of the command line to the CLI. `python -m inferencekey` imports the whole
/// package first (60–130 ms on a loaded machine), which every cold start from zero paid;
/// `-I -S` also skips `site` and the environment's paths, none of which the keeper needs.
/// Only interpreter-internal modules are used (already loaded at start-up, so no import).
const PYTHON_KEEPER_BOOT: &str =
    "import sys,_frozen_importlib as b,_frozen_importlib_external as e\n\
n='inferencekey._native';s=b.spec_from_loader(n,e.ExtensionFileLoader(n,sys.argv[1]))\n\
m=b.module_from_spec(s);s.loader.exec_module(m);sys.exit(m.cli_main(sys.argv[2:],[]))";

/// The file this code was loaded from: the Python extension module when the Manager runs
/// inside the Python package, else the executable. Computed once.
fn native_library_path() -> Option<&'static Path> {
    static PATH: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        // SAFETY: dladdr only writes `info`; the address is one of this object's functions,
        // and `dli_fname` points at the loader's own string, copied before returning.
        let name = unsafe {
            let mut info: libc::Dl_info = std::mem::zeroed();
            let here = native_library_path as *const libc::c_void;
            if libc::dladdr(here, &mut info) == 0 || info.dli_fname.is_null() {
                return None;
            }
            std::ffi::CStr::from_ptr(info.dli_fname)
                .to_string_lossy()
                .into_owned()
        };
        std::fs::canonicalize(name).ok()
    })
    .as_deref()
}

/// The command that starts a keeper (followed by `<grace_ms> -- <engine argv…>`), for a
/// Manager that re-runs itself as `self_command`. Under the Python package
/// (`python -m inferencekey`) it is `python -I -S -c <boot> <_native .so> __replica-keeper`,
/// which starts in a fraction of the time; otherwise `<self_command> __replica-keeper`.
/// The argument `__replica-keeper` stays on the command line either way, so a keeper is
/// recognisable in `ps`.
pub fn keeper_command(self_command: &[String]) -> Vec<String> {
    if let [python, m, package] = self_command {
        if m == "-m" && package == "inferencekey" {
            if let Some(lib) = native_library_path().filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("_native"))
            }) {
                return vec![
                    python.clone(),
                    "-I".into(),
                    "-S".into(),
                    "-c".into(),
                    PYTHON_KEEPER_BOOT.into(),
                    lib.to_string_lossy().into_owned(),
                    KEEPER_ARG.into(),
                ];
            }
        }
    }
    let mut v = self_command.to_vec();
    v.push(KEEPER_ARG.into());
    v
}

/// The directory of the Python package's files, when this Manager runs inside it (the
/// extension module sits beside them). Lets the Manager run a launcher from its file
/// without importing the package.
pub fn python_package_dir() -> Option<&'static Path> {
    native_library_path()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("_native"))
        })
        .and_then(Path::parent)
}

/// How often the keeper looks for exited children and a stop request.
const POLL: Duration = Duration::from_millis(50);

/// `(pid, parent pid)` of every live, non-zombie process.
fn process_table() -> Vec<(i32, i32)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
        let Some(after) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
            continue;
        };
        let mut fields = after.split_whitespace();
        let state = fields.next().unwrap_or("");
        let ppid = fields.next().and_then(|p| p.parse::<i32>().ok());
        if state == "Z" || state == "X" {
            continue;
        }
        if let Some(ppid) = ppid {
            out.push((pid, ppid));
        }
    }
    out
}

/// Every live descendant of `root` (not `root` itself).
pub fn descendants(root: i32) -> Vec<i32> {
    let table = process_table();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            table
                .iter()
                .filter(|(_, ppid)| *ppid == parent)
                .map(|(pid, _)| *pid),
        );
        i += 1;
    }
    found.remove(0);
    found
}

fn kill(pid: i32, signal: libc::c_int) {
    // SAFETY: kill(2) touches no memory of ours.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// Processes whose environment holds `var=value` exactly.
pub fn tagged(var: &str, value: &str) -> Vec<i32> {
    let needle = format!("{var}={value}");
    let me = std::process::id() as i32;
    process_table()
        .into_iter()
        .map(|(pid, _)| pid)
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == needle.as_bytes()))
        })
        .collect()
}

/// SIGKILLs every process carrying the tag until none is left (a few rounds, since a dying
/// tree may still fork); returns how many were killed.
pub fn sweep_tagged(var: &str, value: &str) -> usize {
    let mut killed = std::collections::HashSet::new();
    for _ in 0..20 {
        let pids = tagged(var, value);
        if pids.is_empty() {
            break;
        }
        for pid in pids {
            kill(pid, libc::SIGKILL);
            killed.insert(pid);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    killed.len()
}

/// Whether some process in `pids` holds the listening socket of `127.0.0.1:port`. Used to
/// make sure the process answering a replica's health check is the engine the Manager
/// started, not another local process that bound the port first.
pub fn listener_owned_by(port: u16, pids: &[i32]) -> bool {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return false;
    }
    pids.iter().any(|pid| {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            return false;
        };
        fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|target| {
                let t = target.to_string_lossy();
                t.strip_prefix("socket:[")
                    .and_then(|s| s.strip_suffix(']'))
                    .and_then(|s| s.parse::<u64>().ok())
                    .is_some_and(|inode| inodes.contains(&inode))
            })
        })
    })
}

/// Socket inodes listening on `port` (IPv4 or IPv6), from `/proc/net/tcp{,6}`.
fn listening_inodes(port: u16) -> Vec<u64> {
    const LISTEN: &str = "0A";
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 10 || cols[3] != LISTEN {
                continue;
            }
            let local_port = cols[1]
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if local_port == Some(port) {
                if let Ok(inode) = cols[9].parse::<u64>() {
                    out.push(inode);
                }
            }
        }
    }
    out
}

/// Set by [`on_stop_signal`]; read by the keeper's loop.
static STOP_ASKED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    STOP_ASKED.store(true, Ordering::SeqCst);
}

/// Catches SIGTERM, SIGINT and SIGHUP with a process-wide handler.
///
/// Why not a blocked mask and `sigtimedwait`: the keeper runs inside the Python interpreter
/// (`python … _native.so __replica-keeper`, see [`keeper_command`]), whose native module has already started its
/// I/O threads when this runs. A mask blocks a signal for the calling thread only, so a
/// process-directed SIGTERM (the parent-death signal, or the Manager's stop) that arrived
/// while the main thread was outside `sigtimedwait` went to an I/O thread, took its default
/// action and killed the keeper before it could stop its tree, leaving `setsid` workers
/// behind. A handler installed with `sigaction` is the process's, whichever thread runs it.
fn catch_stop_signals() {
    for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction with a valid handler and an empty mask; the handler is
        // async-signal-safe.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_stop_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut action.sa_mask);
            action.sa_flags = libc::SA_RESTART;
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

fn exit_code(status: libc::c_int) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        1
    }
}

/// The keeper's `main`: `args` is `<grace_ms> -- <argv…>`, or `<grace_ms> --spare` (the
/// argv and the rest from stdin, see [`SpareOrder`]). Returns its exit code: the engine
/// leader's (128 + signal when it was killed).
pub fn keeper_main(args: &[String]) -> i32 {
    let usage = || {
        eprintln!("usage: {KEEPER_ARG} <grace_ms> (-- <command…> | {SPARE_ARG})");
        2
    };
    let Some((grace, rest)) = args.split_first() else {
        return usage();
    };
    let grace = Duration::from_millis(grace.parse::<u64>().unwrap_or(5000));
    // SAFETY: prctl/getppid with valid arguments; no memory is shared.
    let parent = unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        libc::getppid()
    };
    catch_stop_signals();
    let mut cmd = match rest {
        [sep, argv @ ..] if sep == "--" && !argv.is_empty() => {
            let mut cmd = Command::new(&argv[0]);
            cmd.args(&argv[1..]);
            cmd
        }
        [spare] if spare == SPARE_ARG => match take_order() {
            Ok(Some(cmd)) => cmd,
            Ok(None) => return 0,
            Err(e) => {
                eprintln!("the spare keeper's order could not be read: {e}");
                return 127;
            }
        },
        _ => return usage(),
    };
    let program = cmd.get_program().to_string_lossy().into_owned();
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: only async-signal-safe calls (prctl) between fork and exec. The leader
        // dies with the keeper if the keeper itself is killed with SIGKILL.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
    }
    // Caught signals are reset to their default actions by exec, so the engine handles
    // signals its own way.
    let leader = match cmd.spawn() {
        Ok(child) => child.id() as i32,
        Err(e) => {
            eprintln!("could not start `{program}`: {e}");
            return 127;
        }
    };
    let me = std::process::id() as i32;
    let mut leader_status: Option<i32> = None;
    let mut stop_by: Option<Instant> = None;
    loop {
        // Reap everything that exited: the leader and orphans re-parented to us.
        loop {
            let mut status = 0;
            // SAFETY: waitpid with a valid out-pointer.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            if pid == leader {
                leader_status = Some(exit_code(status));
            }
        }
        if leader_status.is_some() || stop_by.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        // A short poll rather than a wait on SIGCHLD: that signal, too, may be taken by
        // another thread (see `catch_stop_signals`).
        std::thread::sleep(POLL);
        // SAFETY: getppid cannot fail.
        let orphaned = unsafe { libc::getppid() } != parent;
        let stop_asked = STOP_ASKED.load(Ordering::SeqCst) || orphaned;
        if stop_asked && stop_by.is_none() {
            stop_by = Some(Instant::now() + grace);
            for pid in descendants(me) {
                kill(pid, libc::SIGTERM);
            }
        }
    }
    // Whatever is left of the tree goes now: forked workers, `setsid` children, orphans.
    for _ in 0..100 {
        let left = descendants(me);
        if left.is_empty() {
            break;
        }
        for pid in left {
            kill(pid, libc::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(10));
        // SAFETY: as above.
        while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
    }
    leader_status.unwrap_or(128 + libc::SIGTERM)
}

/// A spare keeper's wait for its engine: the order on stdin (to EOF), the log made its
/// stdout and stderr (which the engine inherits), the command to run. `None` when the Manager
/// closed the pipe without an order, or a stop was asked meanwhile.
fn take_order() -> io::Result<Option<Command>> {
    use std::os::fd::AsRawFd;
    let mut raw = Vec::new();
    io::stdin().lock().read_to_end(&mut raw)?;
    if raw.is_empty() || STOP_ASKED.load(Ordering::SeqCst) {
        return Ok(None);
    }
    let order: SpareOrder = serde_json::from_slice(&raw).map_err(io::Error::other)?;
    let Some((program, args)) = order.argv.split_first() else {
        return Err(io::Error::other("the order has no command"));
    };
    let log = std::fs::OpenOptions::new().append(true).open(&order.log)?;
    for fd in [libc::STDOUT_FILENO, libc::STDERR_FILENO] {
        // SAFETY: dup2 onto this process's own standard descriptors; `log` stays open.
        if unsafe { libc::dup2(log.as_raw_fd(), fd) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(order.env)
        .stdin(Stdio::null());
    Ok(Some(cmd))
}

/// True when `path` names a program this module can wrap (it exists and `/proc` is there).
pub fn supported() -> bool {
    Path::new("/proc/self/stat").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descendants_of_a_real_tree() {
        let mut child = Command::new("sh")
            .args(["-c", "sleep 30 & sleep 30 & wait"])
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let mut found = Vec::new();
        for _ in 0..200 {
            found = descendants(pid);
            if found.len() == 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(found.len(), 2, "{found:?}");
        for p in &found {
            kill(*p, libc::SIGKILL);
        }
        let _ = child.wait();
        assert!(descendants(pid).is_empty());
    }

    /// Outside the Python package (here: a test binary, not `_native*.so`) the keeper is the
    /// Manager's own command with the keeper verb; the verb is on every form's command line.
    #[test]
    fn the_keeper_command_outside_the_python_package() {
        let own = vec!["/usr/bin/inferencekey-manager".to_string()];
        assert_eq!(
            keeper_command(&own),
            vec![
                "/usr/bin/inferencekey-manager".to_string(),
                KEEPER_ARG.into()
            ]
        );
        let python: Vec<String> = ["/venv/bin/python", "-m", "inferencekey"]
            .map(String::from)
            .to_vec();
        let cmd = keeper_command(&python);
        assert_eq!(cmd.last().map(String::as_str), Some(KEEPER_ARG));
        assert!(python_package_dir().is_none());
    }

    #[test]
    fn a_listener_is_found_in_its_owner_only() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let me = std::process::id() as i32;
        assert!(listener_owned_by(port, &[me]));
        assert!(!listener_owned_by(port, &[1]));
        drop(l);
        assert!(!listener_owned_by(port, &[me]));
    }

    /// The child half of `a_stop_signal_another_thread_takes_still_stops_the_tree`: a keeper
    /// beside a thread that blocks no signals, as the Python interpreter's I/O threads are.
    #[test]
    #[ignore = "run by a_stop_signal_another_thread_takes_still_stops_the_tree"]
    fn keeper_beside_another_thread() {
        let dir = std::path::PathBuf::from(std::env::var("IK_KEEPER_TEST_DIR").unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            tx.send(unsafe { libc::gettid() }).unwrap();
            loop {
                std::thread::park();
            }
        });
        let tid = rx.recv().unwrap();
        std::fs::write(dir.join("tid"), tid.to_string()).unwrap();
        // A worker in its own session, like a `setsid` engine worker.
        let script = format!(
            "setsid sleep 600 & echo $! > {}/worker; wait",
            dir.display()
        );
        let code = keeper_main(&["5000".into(), "--".into(), "sh".into(), "-c".into(), script]);
        std::process::exit(code);
    }

    fn read_pid(path: &Path) -> Option<i32> {
        std::fs::read_to_string(path).ok()?.trim().parse().ok()
    }

    fn is_alive(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .map(|(_, rest)| rest.trim_start().to_string())
            })
            .is_some_and(|rest| !rest.starts_with('Z'))
    }

    /// A SIGTERM that lands on a thread other than the keeper's main one (the kernel picks
    /// any thread that does not block it) must still stop the whole tree, not kill the keeper
    /// by its default action and orphan the worker.
    #[test]
    fn a_stop_signal_another_thread_takes_still_stops_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        let mut keeper = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "runtime::procgroup::tests::keeper_beside_another_thread",
                "--nocapture",
            ])
            .env("IK_KEEPER_TEST_DIR", dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let (tid, worker) = loop {
            if let (Some(t), Some(w)) = (
                read_pid(&dir.path().join("tid")),
                read_pid(&dir.path().join("worker")),
            ) {
                break (t, w);
            }
            assert!(
                Instant::now() < deadline,
                "the keeper never started its worker"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(is_alive(worker));
        // SAFETY: tgkill with a pid/tid pair of our own child; touches no memory.
        let sent = unsafe {
            libc::syscall(
                libc::SYS_tgkill,
                keeper.id() as libc::c_long,
                tid as libc::c_long,
                libc::SIGTERM as libc::c_long,
            )
        };
        assert_eq!(sent, 0, "tgkill failed");
        let status = keeper.wait().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while is_alive(worker) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let survived = is_alive(worker);
        if survived {
            kill(worker, libc::SIGKILL);
        }
        assert!(
            !survived,
            "the setsid worker outlived its keeper ({status:?})"
        );
        // The keeper stopped the tree and exited with the leader's status (SIGTERM).
        assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{status:?}");
    }
}
