//! Readiness phases and their broadcast. Each workload keeps a short log of its recent phase
//! changes in a `watch` channel: a subscriber gets the current phase at once and then every
//! later change in order, even when several happen between two polls (a plain `watch` of the
//! latest value would skip phases).

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::Stream;
use inferencekey_core::wire::ReadinessEvent;
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Scheduling,
    Provisioning,
    Bootstrapping,
    Ready,
    Error,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Scheduling => "scheduling",
            Phase::Provisioning => "provisioning",
            Phase::Bootstrapping => "bootstrapping",
            Phase::Ready => "ready",
            Phase::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Phase> {
        [
            Phase::Scheduling,
            Phase::Provisioning,
            Phase::Bootstrapping,
            Phase::Ready,
            Phase::Error,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// How many recent events a log keeps for subscribers that fall behind.
const HISTORY: usize = 32;

#[derive(Debug, Clone)]
pub struct ReadinessLog {
    /// Sequence number of the newest event.
    seq: u64,
    events: VecDeque<(u64, ReadinessEvent)>,
    phase: Phase,
    message: String,
    /// Set when the workload is deleted: subscribers end after the final event.
    closed: bool,
}

impl ReadinessLog {
    pub fn new(message: &str) -> Self {
        let mut log = ReadinessLog {
            seq: 0,
            events: VecDeque::new(),
            phase: Phase::Scheduling,
            message: String::new(),
            closed: false,
        };
        log.push(Phase::Scheduling, message, Duration::ZERO, Some("schedule"));
        log
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// Appends an event; returns false (and records nothing) when phase and message are
    /// unchanged, so repeated reports do not spam subscribers.
    pub fn push(
        &mut self,
        phase: Phase,
        message: &str,
        elapsed: Duration,
        step: Option<&str>,
    ) -> bool {
        if self.seq > 0 && self.phase == phase && self.message == message {
            return false;
        }
        self.seq += 1;
        self.phase = phase;
        self.message = message.to_string();
        self.events.push_back((
            self.seq,
            ReadinessEvent {
                phase: phase.as_str().to_string(),
                message: message.to_string(),
                elapsed_ms: elapsed.as_millis().try_into().unwrap_or(u64::MAX),
                step: step.map(str::to_string),
            },
        ));
        while self.events.len() > HISTORY {
            self.events.pop_front();
        }
        true
    }

    /// Records the final event of a deleted workload.
    pub fn close(&mut self, message: &str) {
        self.push(Phase::Error, message, Duration::ZERO, Some("deleted"));
        self.closed = true;
    }

    /// The recent events, oldest first (at most [`HISTORY`]), for the dashboard's log.
    pub fn recent(&self) -> Vec<ReadinessEvent> {
        self.events.iter().map(|(_, e)| e.clone()).collect()
    }

    /// The newest event.
    pub fn last(&self) -> Option<&ReadinessEvent> {
        self.events.back().map(|(_, e)| e)
    }

    fn current(&self) -> Option<(u64, ReadinessEvent)> {
        self.events.back().cloned()
    }

    fn since(&self, seq: u64) -> impl Iterator<Item = &(u64, ReadinessEvent)> {
        self.events.iter().filter(move |(s, _)| *s > seq)
    }
}

fn is_terminal(ev: &ReadinessEvent) -> bool {
    ev.is_terminal()
}

struct Cursor {
    rx: watch::Receiver<ReadinessLog>,
    last: Option<u64>,
    queue: VecDeque<ReadinessEvent>,
    done: bool,
}

/// The events a readiness stream sends: the current phase first, then each change, ending
/// after a `ready` or `error` event.
pub fn events(rx: watch::Receiver<ReadinessLog>) -> impl Stream<Item = ReadinessEvent> {
    let cursor = Cursor {
        rx,
        last: None,
        queue: VecDeque::new(),
        done: false,
    };
    futures_util::stream::unfold(cursor, |mut c| async move {
        loop {
            if c.done {
                return None;
            }
            if let Some(ev) = c.queue.pop_front() {
                if is_terminal(&ev) {
                    c.done = true;
                }
                return Some((ev, c));
            }
            match c.last {
                None => {
                    let log = c.rx.borrow_and_update();
                    let (seq, ev) = log.current()?;
                    c.last = Some(seq);
                    c.queue.push_back(ev);
                }
                Some(last) => {
                    if c.rx.changed().await.is_err() {
                        // The workload's runtime is gone without a final event (Manager
                        // shutting down): end the stream rather than hang.
                        return None;
                    }
                    let log = c.rx.borrow_and_update();
                    c.queue.extend(log.since(last).map(|(_, ev)| ev.clone()));
                    c.last = Some(log.seq);
                    if log.closed && c.queue.is_empty() {
                        c.done = true;
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn subscriber_sees_current_then_every_change() {
        let (tx, rx) = watch::channel(ReadinessLog::new("placing"));
        let mut stream = Box::pin(events(rx));
        assert_eq!(stream.next().await.unwrap().phase, "scheduling");
        tx.send_modify(|l| {
            l.push(
                Phase::Provisioning,
                "launching",
                Duration::from_millis(5),
                None,
            );
        });
        // Several changes between two polls all arrive, in order, up to the terminal one.
        tx.send_modify(|l| {
            l.push(
                Phase::Bootstrapping,
                "health",
                Duration::from_millis(9),
                None,
            );
            l.push(Phase::Ready, "serving", Duration::from_millis(12), None);
            l.push(
                Phase::Provisioning,
                "restart",
                Duration::from_millis(20),
                None,
            );
        });
        let phases: Vec<String> = stream.map(|e| e.phase).collect().await;
        assert_eq!(phases, ["provisioning", "bootstrapping", "ready"]);
    }

    #[tokio::test]
    async fn ready_on_connect_ends_at_once() {
        let mut log = ReadinessLog::new("placing");
        log.push(Phase::Ready, "serving", Duration::ZERO, None);
        let (_tx, rx) = watch::channel(log);
        let all: Vec<_> = events(rx).collect().await;
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].phase, "ready");
    }

    #[test]
    fn duplicate_reports_are_dropped() {
        let mut log = ReadinessLog::new("placing");
        assert!(log.push(Phase::Provisioning, "a", Duration::ZERO, None));
        assert!(!log.push(Phase::Provisioning, "a", Duration::ZERO, None));
        assert!(log.push(Phase::Provisioning, "b", Duration::ZERO, None));
    }
}
