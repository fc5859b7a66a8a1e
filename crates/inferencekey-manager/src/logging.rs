//! The Manager's log: never blocks serving and never kills it.
//!
//! `tracing-subscriber` writes each event to the writer on the calling thread, and when that
//! write fails it reports the failure with `eprintln!`, which panics when stderr itself fails.
//! With the log on a full disk every request's access-log line panicked its handler, so the
//! Manager answered nothing at all (not even the OpenAPI document). Here events are appended
//! to a bounded in-memory batch that one thread writes out; a full batch or a failed write
//! drops the line and counts it, and `inferencekey status` shows the count. Hand-written rather
//! than `tracing-appender` because it is a few dozen lines and we want the counters.
//!
//! Batched, not one write per line: every gateway request logs an access line, and a channel
//! send that wakes the writer thread plus a `write` and a flush per line were a context switch
//! and two syscalls on every request's path. The writer is woken only when a batch starts,
//! waits [`BATCH_DELAY`] for more lines, and writes them all at once, so under load the
//! per-request cost is a short lock and a copy. A line reaches stderr within about that delay;
//! [`flush`] writes what is pending at once (the CLI calls it before it exits).

use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

use axum::http::Method;

/// Bytes kept waiting for the writer thread before new lines are dropped (about 4,000 lines).
const BATCH_BYTES: usize = 1 << 20;
/// How long the writer lets a batch fill after its first line.
const BATCH_DELAY: Duration = Duration::from_millis(10);

static DROPPED: AtomicU64 = AtomicU64::new(0);
static FAILED: AtomicU64 = AtomicU64::new(0);

/// Log lines dropped because the batch was full, and writes that failed (a full disk).
pub fn dropped_lines() -> (u64, u64) {
    (
        DROPPED.load(Ordering::Relaxed),
        FAILED.load(Ordering::Relaxed),
    )
}

/// The pending batch and the writer's wake-up.
struct Batch {
    lines: Mutex<Vec<u8>>,
    started: Condvar,
    /// Held while a batch is written, so [`flush`] and the writer keep lines in order.
    writing: Mutex<()>,
}

fn batch() -> &'static Batch {
    static BATCH: OnceLock<&'static Batch> = OnceLock::new();
    BATCH.get_or_init(|| {
        let batch: &'static Batch = Box::leak(Box::new(Batch {
            lines: Mutex::new(Vec::with_capacity(64 << 10)),
            started: Condvar::new(),
            writing: Mutex::new(()),
        }));
        let spawned = std::thread::Builder::new()
            .name("inferencekey-log".into())
            .spawn(move || {
                let mut spare = Vec::with_capacity(64 << 10);
                loop {
                    {
                        let mut lines = batch.lines.lock().unwrap_or_else(|e| e.into_inner());
                        while lines.is_empty() {
                            lines = batch.started.wait(lines).unwrap_or_else(|e| e.into_inner());
                        }
                    }
                    std::thread::sleep(BATCH_DELAY);
                    write_pending(batch, &mut spare);
                }
            });
        if spawned.is_err() {
            FAILED.fetch_add(1, Ordering::Relaxed);
        }
        batch
    })
}

/// Swaps the pending batch out (so writers never wait on stderr) and writes it in one go.
fn write_pending(batch: &Batch, spare: &mut Vec<u8>) {
    let _order = batch.writing.lock().unwrap_or_else(|e| e.into_inner());
    {
        let mut lines = batch.lines.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::swap(&mut *lines, spare);
    }
    if spare.is_empty() {
        return;
    }
    let mut err = io::stderr().lock();
    if err.write_all(spare).and_then(|()| err.flush()).is_err() {
        FAILED.fetch_add(1, Ordering::Relaxed);
    }
    spare.clear();
}

/// Writes the lines still pending now, on the calling thread.
pub fn flush() {
    write_pending(batch(), &mut Vec::new());
}

fn push(line: &[u8]) {
    let batch = batch();
    let mut lines = batch.lines.lock().unwrap_or_else(|e| e.into_inner());
    if lines.len() + line.len() > BATCH_BYTES {
        DROPPED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let first = lines.is_empty();
    lines.extend_from_slice(line);
    drop(lines);
    if first {
        batch.started.notify_one();
    }
}

/// A `MakeWriter` for `tracing-subscriber`: each event is one line of the pending batch.
#[derive(Clone, Copy, Default)]
pub struct LossyStderr;

pub struct Line(Vec<u8>);

thread_local! {
    /// Each thread's line buffer, reused from one event to the next.
    static SCRATCH: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        push(&self.0);
        let mut buf = std::mem::take(&mut self.0);
        buf.clear();
        SCRATCH.with(|s| s.set(buf));
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LossyStderr {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        // The thread's buffer from its previous line: no allocation per event.
        Line(SCRATCH.with(|s| s.take()))
    }
}

/// Set once [`init`] installed the Manager's subscriber: [`access`] may then write its line
/// itself, in that subscriber's format. 0 = not ours, 1 = ours without colours, 2 = with.
static OURS: AtomicU8 = AtomicU8::new(0);

/// Installs the Manager's subscriber (`RUST_LOG`, default `info`) unless the host (Python)
/// installed one already.
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // tracing-subscriber's own default, made explicit so [`access`] knows it.
    let ansi = std::env::var("NO_COLOR").map_or(true, |v| v.is_empty());
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(LossyStderr)
        .with_ansi(ansi)
        .log_internal_errors(false)
        .try_init();
    if installed.is_ok() {
        OURS.store(if ansi { 2 } else { 1 }, Ordering::Release);
    }
}

/// The access log's target (`RUST_LOG=inferencekey_manager::access=off` silences it).
pub const ACCESS_TARGET: &str = "inferencekey_manager::access";

/// Writes one request's access-log line (method, path, status, latency, request id; never
/// headers or bodies). A token pasted into the path is shown redacted.
///
/// Under the Manager's own subscriber the line is formatted here, byte for byte as
/// `tracing-subscriber`'s full format would (a test holds the two together), into the
/// thread's reused line buffer: every gateway request logs one, and `tracing`'s formatter
/// plus the scrubbed path's `String` were a visible share of the gateway's per-request CPU.
/// Under a host's subscriber it is an ordinary `tracing` event.
pub fn access(method: &Method, path: &str, status: u16, latency_us: u64, request_id: &str) {
    if !tracing::enabled!(target: ACCESS_TARGET, tracing::Level::INFO) {
        return;
    }
    let path = if path.contains("ik_") {
        Cow::Owned(inferencekey_core::token::scrub(path))
    } else {
        Cow::Borrowed(path)
    };
    let ours = OURS.load(Ordering::Acquire);
    if ours == 0 {
        access_event(method, &path, status, latency_us, request_id);
        return;
    }
    let mut line = SCRATCH.with(|s| s.take());
    access_line(
        &mut line,
        ours == 2,
        std::time::SystemTime::now(),
        method.as_str(),
        &path,
        status,
        latency_us,
        request_id,
    );
    push(&line);
    line.clear();
    SCRATCH.with(|s| s.set(line));
}

/// The access line as a `tracing` event: what a host's subscriber gets, and what
/// [`access_line`] must match.
fn access_event(method: &Method, path: &str, status: u16, latency_us: u64, request_id: &str) {
    tracing::info!(
        target: ACCESS_TARGET,
        %method,
        path,
        status,
        latency_us,
        request_id,
    );
}

/// `tracing-subscriber`'s full format of [`access_event`], into `out`.
#[allow(clippy::too_many_arguments)]
fn access_line(
    out: &mut Vec<u8>,
    ansi: bool,
    now: std::time::SystemTime,
    method: &str,
    path: &str,
    status: u16,
    latency_us: u64,
    request_id: &str,
) {
    const DIM: &[u8] = b"\x1b[2m";
    const ITALIC: &[u8] = b"\x1b[3m";
    const GREEN: &[u8] = b"\x1b[32m";
    const RESET: &[u8] = b"\x1b[0m";
    let field = |out: &mut Vec<u8>, name: &str| {
        if ansi {
            out.extend_from_slice(ITALIC);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(RESET);
            out.extend_from_slice(DIM);
            out.push(b'=');
            out.extend_from_slice(RESET);
        } else {
            out.extend_from_slice(name.as_bytes());
            out.push(b'=');
        }
    };
    if ansi {
        out.extend_from_slice(DIM);
        timestamp(out, now);
        out.extend_from_slice(RESET);
        out.push(b' ');
        out.extend_from_slice(GREEN);
        out.extend_from_slice(b" INFO");
        out.extend_from_slice(RESET);
        out.push(b' ');
        out.extend_from_slice(DIM);
        out.extend_from_slice(ACCESS_TARGET.as_bytes());
        out.extend_from_slice(RESET);
        out.extend_from_slice(DIM);
        out.push(b':');
        out.extend_from_slice(RESET);
        out.push(b' ');
    } else {
        timestamp(out, now);
        out.extend_from_slice(b"  INFO ");
        out.extend_from_slice(ACCESS_TARGET.as_bytes());
        out.extend_from_slice(b": ");
    }
    field(out, "method");
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    field(out, "path");
    quoted(out, path);
    out.push(b' ');
    field(out, "status");
    decimal(out, u64::from(status));
    out.push(b' ');
    field(out, "latency_us");
    decimal(out, latency_us);
    out.push(b' ');
    field(out, "request_id");
    quoted(out, request_id);
    out.push(b'\n');
}

/// `text` as `{:?}` writes it: plain printable ASCII directly, anything else through `Debug`.
fn quoted(out: &mut Vec<u8>, text: &str) {
    if text
        .bytes()
        .all(|c| (b' '..=b'~').contains(&c) && c != b'"' && c != b'\\')
    {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        let _ = write!(out, "{text:?}");
    }
}

fn decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// `2026-12-03T06:06:29.123456Z`, as `tracing-subscriber`'s `SystemTime` timer writes it.
fn timestamp(out: &mut Vec<u8>, now: std::time::SystemTime) {
    let since = now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let two = |out: &mut Vec<u8>, n: u64| {
        out.push(b'0' + (n / 10) as u8);
        out.push(b'0' + (n % 10) as u8);
    };
    if (0..=9999).contains(&year) {
        let y = year as u64;
        two(out, y / 100);
        two(out, y % 100);
    } else {
        let _ = write!(out, "{year}");
    }
    out.push(b'-');
    two(out, month as u64);
    out.push(b'-');
    two(out, day as u64);
    out.push(b'T');
    two(out, rem / 3_600);
    out.push(b':');
    two(out, rem % 3_600 / 60);
    out.push(b':');
    two(out, rem % 60);
    out.push(b'.');
    let micros = u64::from(since.subsec_micros());
    two(out, micros / 10_000);
    two(out, micros / 100 % 100);
    two(out, micros % 100);
    out.push(b'Z');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_queued_whole_and_never_fails() {
        let mut line = LossyStderr.make_writer_for_test();
        assert_eq!(line.write(b"hello ").unwrap(), 6);
        assert_eq!(line.write(b"world\n").unwrap(), 6);
        assert_eq!(line.0, b"hello world\n");
    }

    /// A writer that keeps what the real formatter wrote.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// The line without its timestamp (the 27 characters ending at the first `Z`).
    fn without_time(line: &str) -> String {
        let z = line.find('Z').unwrap();
        format!("{}<time>{}", &line[..z - 26], &line[z + 1..])
    }

    #[test]
    fn the_hand_written_access_line_is_what_tracing_subscriber_writes() {
        let cases = [
            (
                Method::POST,
                "/endpoint/p/w/v1/chat/completions",
                200,
                61,
                "req_1",
            ),
            (Method::GET, "/a \"b\" \\ \u{1b}[31m é", 404, 0, "id\"x"),
            (
                Method::from_bytes(b"PURGE").unwrap(),
                "/",
                503,
                12_345_678,
                "",
            ),
        ];
        for ansi in [false, true] {
            for (method, path, status, latency_us, id) in &cases {
                let captured = Captured::default();
                let sink = captured.clone();
                let subscriber = tracing_subscriber::fmt()
                    .with_writer(move || sink.clone())
                    .with_ansi(ansi)
                    .finish();
                tracing::subscriber::with_default(subscriber, || {
                    access_event(method, path, *status, *latency_us, id)
                });
                let theirs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
                let mut ours = Vec::new();
                access_line(
                    &mut ours,
                    ansi,
                    std::time::SystemTime::now(),
                    method.as_str(),
                    path,
                    *status,
                    *latency_us,
                    id,
                );
                let ours = String::from_utf8(ours).unwrap();
                assert_eq!(without_time(&ours), without_time(&theirs), "ansi={ansi}");
            }
        }
    }

    #[test]
    fn timestamps_are_rfc3339_with_microseconds_in_utc() {
        use std::time::{Duration, SystemTime, UNIX_EPOCH};
        for secs in [
            0u64,
            951_782_400,
            1_709_164_799,
            1_796_279_189,
            4_102_444_800,
        ] {
            for micros in [0u32, 7, 999_999] {
                let t = UNIX_EPOCH + Duration::new(secs, micros * 1_000);
                let mut ours = Vec::new();
                timestamp(&mut ours, t);
                let want = chrono::DateTime::<chrono::Utc>::from(t)
                    .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                    .to_string();
                assert_eq!(String::from_utf8(ours).unwrap(), want);
            }
        }
        let mut now = Vec::new();
        timestamp(&mut now, SystemTime::now());
        assert_eq!(now.len(), 27);
    }

    impl LossyStderr {
        fn make_writer_for_test(&self) -> Line {
            tracing_subscriber::fmt::MakeWriter::make_writer(self)
        }
    }
}
