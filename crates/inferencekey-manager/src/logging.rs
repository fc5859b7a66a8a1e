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

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

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

/// Installs the Manager's subscriber (`RUST_LOG`, default `info`) unless the host (Python)
/// installed one already.
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(LossyStderr)
        .log_internal_errors(false)
        .try_init();
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

    impl LossyStderr {
        fn make_writer_for_test(&self) -> Line {
            tracing_subscriber::fmt::MakeWriter::make_writer(self)
        }
    }
}
