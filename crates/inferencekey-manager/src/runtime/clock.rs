//! The time source of the execution policies: schedules read the wall clock, the autoscaler
//! measures its window, delays and idle timeout against it. Tests pass a [`ManualClock`] and
//! move it, so a ten-minute idle timeout is tested without waiting ten minutes.
//!
//! Only policy decisions read this clock. Engine start-up, health checks, backoff and the
//! gateway's cold-start wait are about real processes and keep using real time.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

pub trait Clock: Send + Sync + fmt::Debug + 'static {
    fn now(&self) -> DateTime<Utc>;
    /// Changes whenever the clock jumps (a test moved it); the system clock never jumps, and
    /// policy loops also re-check on a real-time tick.
    fn jumps(&self) -> watch::Receiver<DateTime<Utc>>;
}

/// The real wall clock.
#[derive(Debug)]
pub struct SystemClock {
    jumps: watch::Sender<DateTime<Utc>>,
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock {
            jumps: watch::Sender::new(Utc::now()),
        }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn jumps(&self) -> watch::Receiver<DateTime<Utc>> {
        self.jumps.subscribe()
    }
}

/// A clock that stands still until told to move.
#[derive(Debug)]
pub struct ManualClock {
    now: watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock {
            now: watch::Sender::new(start),
        }
    }

    pub fn advance(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        self.now.send_modify(|t| *t += by);
    }

    pub fn set(&self, to: DateTime<Utc>) {
        self.now.send_replace(to);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    fn jumps(&self) -> watch::Receiver<DateTime<Utc>> {
        self.now.subscribe()
    }
}

/// The wall clock's pace from a chosen start: a `--dev` Manager started with
/// `INFERENCEKEY_DEV_CLOCK=<RFC 3339 instant>` runs its schedules as if it were that time, to
/// try a schedule (or run the docs' snippets) without waiting for it.
#[derive(Debug)]
pub struct OffsetClock {
    start: DateTime<Utc>,
    since: std::time::Instant,
    jumps: watch::Sender<DateTime<Utc>>,
}

impl OffsetClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        OffsetClock {
            start,
            since: std::time::Instant::now(),
            jumps: watch::Sender::new(start),
        }
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        self.start + chrono::Duration::from_std(self.since.elapsed()).unwrap_or_default()
    }

    fn jumps(&self) -> watch::Receiver<DateTime<Utc>> {
        self.jumps.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = DateTime::parse_from_rfc3339("2026-03-29T00:00:00Z")
            .unwrap()
            .to_utc();
        let c = ManualClock::new(start);
        let mut rx = c.jumps();
        assert_eq!(c.now(), start);
        c.advance(Duration::from_secs(90));
        assert!(rx.has_changed().unwrap());
        assert_eq!(rx.borrow_and_update().timestamp() - start.timestamp(), 90);
        c.set(start);
        assert_eq!(c.now(), start);
    }
}
