//! Load-aware routing: each ready replica is a [`Slot`] counting the requests the gateway has
//! sent it and not yet finished; a request goes to the slot with the fewest (ties rotate).
//!
//! The same counts make scale-down and rollouts lossless: the supervisor marks a slot
//! draining (no new requests) and stops its engine only when its count reaches zero. A
//! [`Lease`] is taken by incrementing first and then checking `draining` (both `SeqCst`), and
//! the supervisor sets `draining` before reading the count, so a request either sees the flag
//! and picks again or is counted before the supervisor looks.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::clock::Clock;

#[derive(Debug)]
pub struct Slot {
    url: String,
    in_flight: AtomicUsize,
    draining: AtomicBool,
}

impl Slot {
    pub fn new(url: String) -> Arc<Slot> {
        Arc::new(Slot {
            url,
            in_flight: AtomicUsize::new(0),
            draining: AtomicBool::new(false),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Stops new requests; true once none is in flight.
    pub fn drain(&self) -> bool {
        self.draining.store(true, Ordering::SeqCst);
        self.in_flight() == 0
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

/// One request's claim on a replica, released when dropped (after the response body ends).
#[derive(Debug)]
pub struct Lease(Arc<Slot>);

impl Lease {
    pub fn url(&self) -> &str {
        &self.0.url
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The least-loaded slot that is not draining, rotating from `start` among equals.
pub fn pick(slots: &[Arc<Slot>], start: usize) -> Option<Lease> {
    let n = slots.len();
    for _ in 0..4 {
        let best = (0..n)
            .map(|i| &slots[(start + i) % n])
            .filter(|s| !s.is_draining())
            .min_by_key(|s| s.in_flight())?;
        best.in_flight.fetch_add(1, Ordering::SeqCst);
        if !best.is_draining() {
            return Some(Lease(best.clone()));
        }
        best.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
    None
}

/// A workload's requests at the gateway, counted from arrival — including time held while a
/// replica starts — until the response ends, with every change stamped by the policy clock.
/// The autoscaler replays the stamps, so its average is exact even when a test's clock jumps
/// between two of its decisions.
#[derive(Debug)]
pub struct Load {
    clock: Arc<dyn Clock>,
    inner: Mutex<LoadInner>,
}

#[derive(Debug, Default)]
struct LoadInner {
    count: usize,
    /// Requests in flight at the other Managers' gateways (a shared store), as last read.
    remote: usize,
    changes: VecDeque<(DateTime<Utc>, usize)>,
}

/// Changes kept for the autoscaler between two of its reads (it reads every 200 ms).
const MAX_CHANGES: usize = 65_536;

impl Load {
    pub fn new(clock: Arc<dyn Clock>) -> Arc<Load> {
        Arc::new(Load {
            clock,
            inner: Mutex::new(LoadInner::default()),
        })
    }

    fn change(&self, up: bool) {
        let now = self.clock.now();
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.count = if up {
            g.count + 1
        } else {
            g.count.saturating_sub(1)
        };
        Self::record(&mut g, now);
    }

    fn record(g: &mut LoadInner, now: DateTime<Utc>) {
        let n = g.count + g.remote;
        if g.changes.len() == MAX_CHANGES {
            g.changes.pop_front();
        }
        g.changes.push_back((now, n));
    }

    /// Requests in flight: this gateway's, and the other Managers' as last reported.
    pub fn current(&self) -> usize {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.count + g.remote
    }

    /// This gateway's requests in flight only (what it reports to the leader).
    pub fn local(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).count
    }

    /// Sets the other Managers' requests in flight; true when it changed.
    pub fn set_remote(&self, n: usize) -> bool {
        let now = self.clock.now();
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if g.remote == n {
            return false;
        }
        g.remote = n;
        Self::record(&mut g, now);
        true
    }

    /// The changes since the last call, oldest first.
    pub fn take_changes(&self) -> Vec<(DateTime<Utc>, usize)> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.changes.drain(..).collect()
    }
}

/// One request counted in a [`Load`] until dropped.
#[derive(Debug)]
pub struct InFlight(Arc<Load>);

impl InFlight {
    pub fn begin(load: &Arc<Load>) -> InFlight {
        load.change(true);
        InFlight(load.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.change(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_loaded_then_rotating() {
        let slots = vec![
            Slot::new("a".into()),
            Slot::new("b".into()),
            Slot::new("c".into()),
        ];
        let a = pick(&slots, 0).unwrap();
        let b = pick(&slots, 0).unwrap();
        assert_eq!((a.url(), b.url()), ("a", "b"));
        // c is idle: it gets the next two requests' first, then ties rotate from `start`.
        assert_eq!(pick(&slots, 0).unwrap().url(), "c");
        drop(a);
        let again = pick(&slots, 0).unwrap();
        assert_eq!(again.url(), "a");
        assert_eq!(slots[1].in_flight(), 1);
        drop(b);
        assert_eq!(pick(&slots, 1).unwrap().url(), "b");
    }

    #[test]
    fn remote_requests_count_with_local_ones_and_are_stamped() {
        let start = DateTime::parse_from_rfc3339("2026-03-02T10:00:00Z")
            .unwrap()
            .to_utc();
        let load = Load::new(Arc::new(crate::runtime::clock::ManualClock::new(start)));
        let one = InFlight::begin(&load);
        assert!(load.set_remote(3));
        assert!(!load.set_remote(3), "an unchanged report is no change");
        assert_eq!((load.current(), load.local()), (4, 1));
        drop(one);
        assert!(load.set_remote(0));
        let counts: Vec<usize> = load.take_changes().into_iter().map(|(_, n)| n).collect();
        assert_eq!(counts, [1, 4, 3, 0]);
    }

    #[test]
    fn draining_slots_get_nothing_and_report_when_empty() {
        let slots = vec![Slot::new("a".into()), Slot::new("b".into())];
        let held = pick(&slots, 0).unwrap();
        assert_eq!(held.url(), "a");
        assert!(!slots[0].drain(), "a request is still in flight");
        for _ in 0..3 {
            assert_eq!(pick(&slots, 0).unwrap().url(), "b");
        }
        drop(held);
        assert!(slots[0].drain());
        assert!(slots[1].drain());
        assert!(pick(&slots, 0).is_none());
    }
}
