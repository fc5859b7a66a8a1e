//! The autoscaling decision, as a pure function of time and the gateway's in-flight count.
//!
//! desired = ceil(average concurrency over the window ÷ target per replica), clamped to
//! `[min_workers, max_workers]`. A higher count is applied once it has been wanted for
//! `scale_up_delay_s`, a lower one after `scale_down_delay_s`; dropping the last replica needs
//! `idle_timeout_s` without a request. From zero, a waiting request starts replicas at once:
//! it is being held at the gateway. Defaults follow Ray Serve (30 s up, 600 s down).

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub min: usize,
    pub max: usize,
    pub target: f64,
    pub window: Duration,
    pub up_delay: Duration,
    pub down_delay: Duration,
    pub idle_timeout: Duration,
}

pub const DEFAULT_TARGET: f64 = 2.0;
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(30);
pub const DEFAULT_UP_DELAY: Duration = Duration::from_secs(30);
pub const DEFAULT_DOWN_DELAY: Duration = Duration::from_secs(600);
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

impl Default for Params {
    fn default() -> Self {
        Params {
            min: 0,
            max: 1,
            target: DEFAULT_TARGET,
            window: DEFAULT_WINDOW,
            up_delay: DEFAULT_UP_DELAY,
            down_delay: DEFAULT_DOWN_DELAY,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

#[derive(Debug)]
pub struct Autoscaler {
    p: Params,
    /// (time, in-flight) samples; each holds until the next.
    samples: VecDeque<(DateTime<Utc>, usize)>,
    current: usize,
    /// A count wanted but not yet applied, and since when it has been wanted that way.
    proposal: Option<(usize, DateTime<Utc>)>,
    last_busy: DateTime<Utc>,
}

fn secs(d: chrono::Duration) -> Duration {
    d.to_std().unwrap_or(Duration::ZERO)
}

impl Autoscaler {
    /// Starts at `max(min, 1)` replicas: a new workload is warm until it has been idle.
    pub fn new(p: Params, now: DateTime<Utc>) -> Self {
        let current = p.min.max(1).min(p.max.max(1));
        Autoscaler {
            p,
            samples: VecDeque::new(),
            current,
            proposal: None,
            last_busy: now,
        }
    }

    /// New bounds and delays, keeping the measured history.
    pub fn retune(&mut self, p: Params) {
        self.current = self.current.clamp(p.min, p.max.max(p.min));
        self.p = p;
        self.proposal = None;
    }

    /// Time-weighted mean in-flight over the window ending at `now`.
    fn average(&self, now: DateTime<Utc>) -> f64 {
        let start = now - chrono::Duration::from_std(self.p.window).unwrap_or_default();
        let (mut area, mut span) = (0.0, 0.0);
        for (i, (t, v)) in self.samples.iter().enumerate() {
            let end = self.samples.get(i + 1).map_or(now, |(t, _)| *t);
            let from = (*t).max(start);
            if end > from {
                let d = (end - from).as_seconds_f64();
                area += *v as f64 * d;
                span += d;
            }
        }
        if span > 0.0 {
            area / span
        } else {
            self.samples.back().map_or(0.0, |(_, v)| *v as f64)
        }
    }

    /// Records that `in_flight` requests were in flight from `at` on.
    pub fn record(&mut self, at: DateTime<Utc>, in_flight: usize) {
        self.samples.push_back((at, in_flight));
        if in_flight > 0 {
            self.last_busy = self.last_busy.max(at);
        }
    }

    /// Records the in-flight count at `now` and returns the replica count to run now. `cold`
    /// says no replica serves yet: every request in flight is being held.
    pub fn observe(&mut self, now: DateTime<Utc>, in_flight: usize, cold: bool) -> usize {
        self.samples.push_back((now, in_flight));
        let start = now - chrono::Duration::from_std(self.p.window).unwrap_or_default();
        // Keep the last sample before the window: it holds into it.
        while self.samples.len() > 1 && self.samples[1].0 <= start {
            self.samples.pop_front();
        }
        if in_flight > 0 {
            self.last_busy = now;
        }
        let cold = cold || self.current == 0;
        let want = self.wanted(now, in_flight, cold);
        if want == self.current {
            self.proposal = None;
        } else if (cold && want > self.current) || want == 0 {
            // Cold, requests are waiting; to zero the idle timeout already ran.
            self.current = want;
            self.proposal = None;
        } else {
            let up = want > self.current;
            let since = match self.proposal {
                Some((n, since)) if (n > self.current) == up => since,
                _ => now,
            };
            self.proposal = Some((want, since));
            let delay = if up {
                self.p.up_delay
            } else {
                self.p.down_delay
            };
            if secs(now - since) >= delay {
                self.current = want;
                self.proposal = None;
            }
        }
        self.current
    }

    fn wanted(&self, now: DateTime<Utc>, in_flight: usize, cold: bool) -> usize {
        let avg = self.average(now);
        let mut want = (avg / self.p.target).ceil() as usize;
        if in_flight > 0 {
            want = want.max(1);
        }
        if cold {
            // Every one of these requests is held until a replica serves: size for the burst
            // now rather than after the window has seen it.
            want = want.max((in_flight as f64 / self.p.target).ceil() as usize);
        }
        if want == 0 && self.current > 0 && secs(now - self.last_busy) < self.p.idle_timeout {
            want = 1;
        }
        want.clamp(self.p.min, self.p.max.max(self.p.min))
    }

    /// "autoscaling: 7 in flight (5.5 on average over 30 s), target 2 per replica → 3 replicas".
    pub fn explain(&self, now: DateTime<Utc>, in_flight: usize) -> String {
        let avg = self.average(now);
        let target = self.p.target;
        let n = self.current;
        let mut s = format!(
            "autoscaling: {in_flight} in flight ({avg:.1} on average over {} s), target {target} per replica → {n} replica{}",
            self.p.window.as_secs(),
            if n == 1 { "" } else { "s" }
        );
        if let Some((want, since)) = self.proposal {
            let delay = if want > n {
                self.p.up_delay
            } else {
                self.p.down_delay
            };
            let left = delay.saturating_sub(secs(now - since));
            s.push_str(&format!("; {want} wanted, applied in {} s", left.as_secs()));
        }
        if n == 0 {
            s.push_str(&format!(
                "; scaled to zero after {} s idle, the next request starts a replica",
                self.p.idle_timeout.as_secs()
            ));
        } else if self.p.min == 0 && n > 0 && self.proposal.is_none() && in_flight == 0 {
            let left = self
                .p
                .idle_timeout
                .saturating_sub(secs(now - self.last_busy));
            s.push_str(&format!(
                "; scales to zero after {} s more idle",
                left.as_secs()
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn params(min: usize, max: usize) -> Params {
        Params {
            min,
            max,
            target: 2.0,
            window: Duration::from_secs(10),
            up_delay: Duration::from_secs(5),
            down_delay: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
        }
    }

    /// (second, in-flight, replicas expected after observing it)
    fn run(p: Params, steps: &[(i64, usize, usize)]) {
        let mut a = Autoscaler::new(p, at(0));
        for &(t, load, expect) in steps {
            assert_eq!(
                a.observe(at(t), load, false),
                expect,
                "t={t} load={load}: {a:?}"
            );
        }
    }

    #[test]
    fn scales_up_after_the_delay_and_down_after_its_own() {
        run(
            params(1, 4),
            &[
                (0, 0, 1),
                (1, 7, 1),  // the window's average is still 0: nothing to change yet
                (2, 7, 1),  // average 3.5 → 2 wanted; the up delay starts
                (7, 7, 3),  // 5 s later: average 6 → 3, applied
                (12, 7, 3), // the window is full at 7 → 4 wanted (a new, higher proposal)
                (17, 7, 4),
                (30, 1, 4), // the window still holds the load of 17..30
                (35, 1, 4), // average 4 → 2 wanted; the down delay starts
                (54, 1, 4),
                (55, 1, 1), // 20 s later, average 1 → 1
            ],
        );
    }

    #[test]
    fn clamps_to_the_bounds() {
        run(
            params(2, 3),
            &[
                (0, 0, 2),
                (2, 100, 2), // average 0 until now: nothing yet
                (3, 100, 2), // 50 → 25 wanted, capped at 3; up delay starts
                (8, 100, 3),
                (211, 0, 3), // 100 held until 211: average 100
                (222, 0, 3), // average 0: back to min_workers 2 after the down delay
                (242, 0, 2),
            ],
        );
    }

    #[test]
    fn idles_to_zero_and_starts_from_zero_at_once() {
        run(
            params(0, 3),
            &[
                (0, 0, 1),  // warm at creation
                (59, 0, 1), // idle, not yet the timeout
                (60, 0, 0), // idle timeout: zero
                (61, 5, 3), // a burst while at zero: ceil(5/2)=3 at once
                (62, 5, 3),
            ],
        );
    }

    #[test]
    fn a_burst_arriving_while_replicas_start_sizes_them_at_once() {
        let mut a = Autoscaler::new(params(0, 4), at(0));
        assert_eq!(a.observe(at(100), 0, false), 0);
        assert_eq!(a.observe(at(100), 1, true), 1); // the first request of the burst
        assert_eq!(a.observe(at(100), 5, true), 3); // the rest, still cold: ceil(5/2)
        assert_eq!(a.observe(at(100), 5, false), 3); // served: the delays apply again
    }

    #[test]
    fn back_to_zero_after_a_burst_served_at_one_instant() {
        let mut p = params(0, 3);
        p.target = 1.0;
        p.idle_timeout = Duration::from_secs(120);
        p.down_delay = Duration::from_secs(60);
        let mut a = Autoscaler::new(p, at(0));
        assert_eq!(a.observe(at(0), 0, true), 1);
        assert_eq!(a.observe(at(121), 0, false), 0);
        assert_eq!(a.observe(at(121), 1, true), 1);
        assert_eq!(a.observe(at(121), 6, true), 3);
        assert_eq!(a.observe(at(121), 6, false), 3);
        assert_eq!(a.observe(at(121), 0, false), 3);
        assert_eq!(a.observe(at(242), 0, false), 0, "{a:?}");
    }

    #[test]
    fn a_waiting_request_never_sees_zero() {
        run(
            params(0, 2),
            &[(0, 0, 1), (100, 0, 0), (101, 1, 1), (200, 1, 1)],
        );
    }

    #[test]
    fn a_short_spike_inside_the_up_delay_changes_nothing() {
        run(params(1, 4), &[(0, 0, 1), (1, 8, 1), (2, 0, 1), (20, 0, 1)]);
    }

    #[test]
    fn explains_itself() {
        let mut a = Autoscaler::new(params(1, 8), at(0));
        a.observe(at(0), 7, false);
        a.observe(at(10), 7, false);
        assert_eq!(
            a.explain(at(10), 7),
            "autoscaling: 7 in flight (7.0 on average over 10 s), target 2 per replica → 4 replicas"
        );
    }
}
