//! The Manager's log: never blocks serving and never kills it.
//!
//! `tracing-subscriber` writes each event to the writer on the calling thread, and when that
//! write fails it reports the failure with `eprintln!`, which panics when stderr itself fails.
//! With the log on a full disk every request's access-log line panicked its handler, so the
//! Manager answered nothing at all (not even the OpenAPI document). Here events go into a
//! bounded queue drained by one thread; a full queue or a failed write drops the line and
//! counts it, and `inferencekey status` shows the count. Hand-written rather than
//! `tracing-appender` because it is thirty lines and we want the counters.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::OnceLock;

/// Lines kept waiting for the writer thread before new ones are dropped.
const QUEUE_LINES: usize = 4096;

static DROPPED: AtomicU64 = AtomicU64::new(0);
static FAILED: AtomicU64 = AtomicU64::new(0);
static QUEUE: OnceLock<SyncSender<Vec<u8>>> = OnceLock::new();

/// Log lines dropped because the queue was full, and writes that failed (a full disk).
pub fn dropped_lines() -> (u64, u64) {
    (
        DROPPED.load(Ordering::Relaxed),
        FAILED.load(Ordering::Relaxed),
    )
}

fn queue() -> &'static SyncSender<Vec<u8>> {
    QUEUE.get_or_init(|| {
        let (tx, rx) = sync_channel::<Vec<u8>>(QUEUE_LINES);
        let spawned = std::thread::Builder::new()
            .name("inferencekey-log".into())
            .spawn(move || {
                let mut err = io::stderr();
                for line in rx {
                    if err.write_all(&line).and_then(|()| err.flush()).is_err() {
                        FAILED.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        if spawned.is_err() {
            FAILED.fetch_add(1, Ordering::Relaxed);
        }
        tx
    })
}

/// A `MakeWriter` for `tracing-subscriber`: each event is one queued line.
#[derive(Clone, Copy, Default)]
pub struct LossyStderr;

pub struct Line(Vec<u8>);

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
        match queue().try_send(std::mem::take(&mut self.0)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                DROPPED.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LossyStderr {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line(Vec::with_capacity(256))
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
