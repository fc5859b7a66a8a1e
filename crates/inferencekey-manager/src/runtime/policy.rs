//! What each execution policy wants running right now, and why (shown in the status).
//!
//! [`PolicySpec`] is read from a stored (already validated) config. [`PolicyState`] adds what
//! a policy remembers between decisions — the autoscaler's window, the last request — and
//! turns (now, requests in flight at the gateway) into a [`Want`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use inferencekey_core::enums::ExecutionPolicy;
use serde_json::Value;

use super::autoscaler::{self, Autoscaler, Params};
use super::schedule::{self, UpFor, Window};

#[derive(Debug, Clone, PartialEq)]
pub enum PolicySpec {
    Fixed(usize),
    Window(Window),
    Cron {
        expr: String,
        up_for: UpFor,
    },
    Autoscaling(Params),
    /// A config this Manager cannot run; the reason becomes the status.
    Invalid(String),
}

fn count(config: &Value, key: &str) -> Option<usize> {
    config.get(key).and_then(Value::as_u64).map(|n| n as usize)
}

fn seconds(config: &Value, key: &str, default: Duration) -> Duration {
    config
        .get(key)
        .and_then(Value::as_f64)
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(default, Duration::from_secs_f64)
}

impl PolicySpec {
    pub fn from_config(policy: &ExecutionPolicy, config: &Value) -> PolicySpec {
        match policy {
            ExecutionPolicy::Scheduled => {
                if let Some(w) = config.get("window").and_then(Value::as_str) {
                    return Window::parse(w).map_or_else(
                        || PolicySpec::Invalid(format!("unreadable window {w:?}")),
                        PolicySpec::Window,
                    );
                }
                let Some(expr) = config.get("cron").and_then(Value::as_str) else {
                    return PolicySpec::Invalid("scheduled needs a cron or a window".into());
                };
                if schedule::parse_cron(expr).is_none() {
                    return PolicySpec::Invalid(format!("unreadable cron {expr:?}"));
                }
                let up_for = match (
                    config.get("duration").and_then(Value::as_str),
                    config.get("idle_timeout_s"),
                ) {
                    (Some(d), _) => match schedule::parse_duration(d) {
                        Some(d) => UpFor::Duration(d),
                        None => return PolicySpec::Invalid(format!("unreadable duration {d:?}")),
                    },
                    (None, Some(_)) => {
                        UpFor::Idle(seconds(config, "idle_timeout_s", Duration::ZERO))
                    }
                    (None, None) => UpFor::Duration(schedule::DEFAULT_CRON_DURATION),
                };
                PolicySpec::Cron {
                    expr: expr.to_string(),
                    up_for,
                }
            }
            ExecutionPolicy::Autoscaling => {
                let min = count(config, "min_workers").unwrap_or(0);
                let max = count(config, "max_workers").unwrap_or(1).max(min).max(1);
                PolicySpec::Autoscaling(Params {
                    min,
                    max,
                    target: config
                        .get("target_concurrency")
                        .and_then(Value::as_f64)
                        .filter(|t| *t > 0.0)
                        .unwrap_or(autoscaler::DEFAULT_TARGET),
                    window: seconds(config, "metrics_window_s", autoscaler::DEFAULT_WINDOW),
                    up_delay: seconds(config, "scale_up_delay_s", autoscaler::DEFAULT_UP_DELAY),
                    down_delay: seconds(
                        config,
                        "scale_down_delay_s",
                        autoscaler::DEFAULT_DOWN_DELAY,
                    ),
                    idle_timeout: seconds(
                        config,
                        "idle_timeout_s",
                        autoscaler::DEFAULT_IDLE_TIMEOUT,
                    ),
                })
            }
            // Fixed, and policies newer than this Manager, run their replica count.
            _ => PolicySpec::Fixed(count(config, "replicas").unwrap_or(1).max(1)),
        }
    }

    /// The most replicas this policy may ever run (what the Manager-wide limit counts).
    pub fn max_replicas(&self) -> usize {
        match self {
            PolicySpec::Fixed(n) => *n,
            PolicySpec::Autoscaling(p) => p.max,
            PolicySpec::Window(_) | PolicySpec::Cron { .. } => 1,
            PolicySpec::Invalid(_) => 0,
        }
    }
}

/// Why no replica runs: the gateway answers with the next start.
#[derive(Debug, Clone, PartialEq)]
pub struct Closed {
    pub message: String,
    pub next_start: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Want {
    pub replicas: usize,
    pub reason: String,
    /// Set when the schedule keeps the workload down (not merely scaled to zero).
    pub closed: Option<Closed>,
}

#[derive(Debug)]
pub enum PolicyState {
    Fixed(usize),
    Window(Window),
    Cron {
        cron: Box<croner::Cron>,
        expr: String,
        up_for: UpFor,
        last_busy: Option<DateTime<Utc>>,
    },
    Autoscaling(Autoscaler),
    Invalid(String),
}

impl PolicyState {
    pub fn new(spec: &PolicySpec, now: DateTime<Utc>) -> PolicyState {
        match spec {
            PolicySpec::Fixed(n) => PolicyState::Fixed(*n),
            PolicySpec::Window(w) => PolicyState::Window(w.clone()),
            PolicySpec::Cron { expr, up_for } => match schedule::parse_cron(expr) {
                Some(cron) => PolicyState::Cron {
                    cron: Box::new(cron),
                    expr: expr.clone(),
                    up_for: *up_for,
                    last_busy: None,
                },
                None => PolicyState::Invalid(format!("unreadable cron {expr:?}")),
            },
            PolicySpec::Autoscaling(p) => PolicyState::Autoscaling(Autoscaler::new(p.clone(), now)),
            PolicySpec::Invalid(why) => PolicyState::Invalid(why.clone()),
        }
    }

    /// Moves to a changed policy, keeping what still applies (an autoscaler keeps its window).
    pub fn update(&mut self, spec: &PolicySpec, now: DateTime<Utc>) {
        match (&mut *self, spec) {
            (PolicyState::Autoscaling(a), PolicySpec::Autoscaling(p)) => a.retune(p.clone()),
            _ => *self = PolicyState::new(spec, now),
        }
    }

    /// Replays a change of the gateway's in-flight count (stamped by the policy clock).
    pub fn record(&mut self, at: DateTime<Utc>, in_flight: usize) {
        match self {
            PolicyState::Autoscaling(a) => a.record(at, in_flight),
            PolicyState::Cron { last_busy, .. } if in_flight > 0 => {
                *last_busy = Some(last_busy.map_or(at, |b| b.max(at)));
            }
            _ => {}
        }
    }

    /// What to run at `now` with `in_flight` requests at the gateway; `cold` when no replica
    /// serves them yet.
    pub fn want(&mut self, now: DateTime<Utc>, in_flight: usize, cold: bool) -> Want {
        let open = |replicas: usize, reason: String| Want {
            replicas,
            reason,
            closed: None,
        };
        let closed = |message: String, next_start: Option<DateTime<Utc>>| Want {
            replicas: 0,
            reason: message.clone(),
            closed: Some(Closed {
                message,
                next_start,
            }),
        };
        match self {
            PolicyState::Fixed(n) => open(*n, format!("fixed: {n} replica{}", plural(*n))),
            PolicyState::Invalid(why) => closed(format!("cannot run this policy: {why}"), None),
            PolicyState::Window(w) => {
                if w.contains(now) {
                    return open(1, format!("scheduled: inside window {}", w.text()));
                }
                let next = w.next_start(now);
                let when = next.map_or("none".into(), |t| schedule::describe_start(t, w.zone()));
                closed(
                    format!("scheduled: outside window {}, next start {when}", w.text()),
                    next,
                )
            }
            PolicyState::Cron {
                cron,
                expr,
                up_for,
                last_busy,
            } => {
                if in_flight > 0 {
                    *last_busy = Some(now);
                }
                let fired = schedule::last_fire(cron, now);
                let until = fired.and_then(|f| {
                    let span = match *up_for {
                        UpFor::Duration(d) => return Some(f + chrono::Duration::from_std(d).ok()?),
                        UpFor::Idle(d) => d,
                    };
                    let busy = last_busy.filter(|b| *b >= f).unwrap_or(f);
                    Some(busy + chrono::Duration::from_std(span).ok()?)
                });
                let stamp = |t: DateTime<Utc>| schedule::describe_start(t, Tz::UTC);
                match (fired, until) {
                    (Some(f), Some(u)) if now < u => open(
                        1,
                        format!(
                            "scheduled: cron {expr:?} fired {}, up until {}",
                            stamp(f),
                            match up_for {
                                UpFor::Duration(_) => stamp(u),
                                UpFor::Idle(d) =>
                                    format!("idle for {} s (now {})", d.as_secs(), stamp(u)),
                            }
                        ),
                    ),
                    _ => {
                        let next = schedule::next_fire(cron, now);
                        let when = next.map_or("none".into(), stamp);
                        closed(
                            format!("scheduled: outside cron {expr:?}, next start {when}"),
                            next,
                        )
                    }
                }
            }
            PolicyState::Autoscaling(a) => {
                let n = a.observe(now, in_flight, cold);
                open(n, a.explain(now, in_flight))
            }
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn state(policy: ExecutionPolicy, config: Value, now: DateTime<Utc>) -> PolicyState {
        PolicyState::new(&PolicySpec::from_config(&policy, &config), now)
    }

    #[test]
    fn cron_with_a_duration() {
        let now = t("2026-12-01T01:59:00Z");
        let mut s = state(
            ExecutionPolicy::Scheduled,
            json!({"cron": "0 2 * * *", "duration": "2h"}),
            now,
        );
        for (at, replicas) in [
            ("2026-12-01T01:59:00Z", 0),
            ("2026-12-01T02:00:00Z", 1),
            ("2026-12-01T03:59:59Z", 1),
            ("2026-12-01T04:00:00Z", 0),
        ] {
            assert_eq!(s.want(t(at), 0, false).replicas, replicas, "{at}");
        }
        let w = s.want(t("2026-12-01T05:00:00Z"), 0, false);
        let closed = w.closed.unwrap();
        assert_eq!(closed.next_start, Some(t("2026-12-02T02:00:00Z")));
        assert!(
            closed.message.contains("next start Wed 02:00 UTC"),
            "{}",
            closed.message
        );
    }

    #[test]
    fn cron_until_idle() {
        let mut s = state(
            ExecutionPolicy::Scheduled,
            json!({"cron": "0 2 * * *", "idle_timeout_s": 600}),
            t("2026-12-01T02:00:00Z"),
        );
        assert_eq!(s.want(t("2026-12-01T02:05:00Z"), 1, false).replicas, 1);
        assert_eq!(s.want(t("2026-12-01T02:14:59Z"), 0, false).replicas, 1);
        assert_eq!(s.want(t("2026-12-01T02:15:00Z"), 0, false).replicas, 0);
    }

    #[test]
    fn window_and_fixed() {
        let mut s = state(
            ExecutionPolicy::Scheduled,
            json!({"window": "Mon-Fri 08:00-20:00 Europe/Madrid"}),
            t("2026-12-01T00:00:00Z"),
        );
        assert_eq!(s.want(t("2026-12-01T10:00:00Z"), 0, false).replicas, 1);
        let w = s.want(t("2026-12-04T19:30:00Z"), 0, false);
        assert_eq!(w.replicas, 0);
        assert!(
            w.reason
                .ends_with("next start Mon 08:00 Europe/Madrid (2026-12-07T07:00:00Z)"),
            "{}",
            w.reason
        );
        let mut f = state(
            ExecutionPolicy::Fixed,
            json!({"replicas": 3}),
            t("2026-12-01T00:00:00Z"),
        );
        assert_eq!(f.want(t("2026-12-01T00:00:00Z"), 50, false).replicas, 3);
    }

    #[test]
    fn switching_policies_starts_fresh_but_retuning_keeps_the_window() {
        let now = t("2026-12-01T00:00:00Z");
        let auto = |max: u64| {
            PolicySpec::from_config(
                &ExecutionPolicy::Autoscaling,
                &json!({"min_workers": 1, "max_workers": max, "scale_up_delay_s": 0, "target_concurrency": 1}),
            )
        };
        let mut s = PolicyState::new(&auto(4), now);
        assert_eq!(s.want(now, 3, false).replicas, 3);
        s.update(&auto(2), now);
        assert_eq!(s.want(now, 3, false).replicas, 2);
        s.update(&PolicySpec::Fixed(5), now);
        assert_eq!(s.want(now, 0, false).replicas, 5);
    }
}
