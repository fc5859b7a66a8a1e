//! When a `scheduled` workload runs (CONTRACT.md §3.6).
//!
//! * `window` — `"<days> <HH:MM>-<HH:MM> <IANA zone>"`: up inside, none outside. Days and times
//!   are wall-clock times of the zone; chrono-tz (the library the core validates zones with)
//!   maps them to instants, so a window keeps its local hours across DST changes.
//! * `cron` — a 5-field expression in UTC, read by croner (the core's validator): the workload
//!   starts at each fire time and stays up for `duration` (default 1 h), or, when
//!   `idle_timeout_s` is given instead, until no request has arrived for that long.
//!
//! The core validates the strings; this module only reads configs that passed, and treats an
//! unreadable one as "never runs" with the reason in the status.

use std::time::Duration;

use chrono::{DateTime, Datelike, Days, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;

/// How long a cron fire keeps the workload up when the config says nothing.
pub const DEFAULT_CRON_DURATION: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    days: [bool; 7],
    start: u32,
    end: u32,
    tz: Tz,
    text: String,
}

impl Window {
    /// Reads a window with the core's parser (the one that validated it); `None` if it does
    /// not read.
    pub fn parse(text: &str) -> Option<Window> {
        let w = inferencekey_core::policy::parse_window(text).ok()?;
        Some(Window {
            days: w.days,
            start: w.start,
            end: w.end,
            tz: w.zone,
            text: text.to_string(),
        })
    }

    pub fn contains(&self, now: DateTime<Utc>) -> bool {
        let local = now.with_timezone(&self.tz);
        let m = local.hour_minute();
        let today = local.weekday().num_days_from_monday() as usize;
        let yesterday = (today + 6) % 7;
        if self.start < self.end {
            self.days[today] && (self.start..self.end).contains(&m)
        } else {
            // Overnight: the days name the evening the window opens.
            (self.days[today] && m >= self.start) || (self.days[yesterday] && m < self.end)
        }
    }

    /// The next opening strictly after `now`.
    pub fn next_start(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&self.tz).date_naive();
        let at = NaiveTime::from_hms_opt(self.start / 60, self.start % 60, 0)?;
        (0..=8).find_map(|d| {
            let date = local.checked_add_days(Days::new(d))?;
            if !self.days[date.weekday().num_days_from_monday() as usize] {
                return None;
            }
            // A start inside a DST gap (02:30 on the spring-forward night) opens at the
            // first instant that exists after it.
            let naive = date.and_time(at);
            let opens = self
                .tz
                .from_local_datetime(&naive)
                .earliest()
                .or_else(|| {
                    self.tz
                        .from_local_datetime(&(naive + chrono::Duration::hours(1)))
                        .earliest()
                })?
                .to_utc();
            (opens > now).then_some(opens)
        })
    }

    pub fn zone(&self) -> Tz {
        self.tz
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

trait HourMinute {
    fn hour_minute(&self) -> u32;
}

impl<T: chrono::Timelike> HourMinute for T {
    fn hour_minute(&self) -> u32 {
        self.hour() * 60 + self.minute()
    }
}

/// How long one cron fire keeps the workload up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpFor {
    Duration(Duration),
    /// Until no request arrived for this long (counted from the fire at the earliest).
    Idle(Duration),
}

/// The core's cron schedule (the parser that validated it).
pub fn parse_cron(expr: &str) -> Option<Cron> {
    inferencekey_core::policy::parse_cron(expr).ok()
}

/// The core's reading of `duration`, the one it validates with.
pub use inferencekey_core::policy::parse_duration;

/// The last fire at or before `now`.
pub fn last_fire(cron: &Cron, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    cron.find_previous_occurrence(&now, true).ok()
}

pub fn next_fire(cron: &Cron, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    cron.find_next_occurrence(&now, false).ok()
}

/// "Mon 08:00 Europe/Madrid (2026-03-30T06:00:00Z)".
pub fn describe_start(at: DateTime<Utc>, tz: Tz) -> String {
    let local = at.with_timezone(&tz);
    format!(
        "{} {}",
        local.format("%a %H:%M"),
        if tz == Tz::UTC {
            format!("UTC ({})", at.format("%Y-%m-%dT%H:%M:%SZ"))
        } else {
            format!("{tz} ({})", at.format("%Y-%m-%dT%H:%M:%SZ"))
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn weekday_window_in_its_zone() {
        let w = Window::parse("Mon-Fri 08:00-20:00 Europe/Madrid").unwrap();
        // Tuesday 2026-12-01: Madrid is UTC+1 in winter.
        for (at, inside) in [
            ("2026-12-01T06:59:00Z", false),
            ("2026-12-01T07:00:00Z", true),
            ("2026-12-01T18:59:59Z", true),
            ("2026-12-01T19:00:00Z", false),
            ("2026-12-05T10:00:00Z", false), // Saturday
        ] {
            assert_eq!(w.contains(t(at)), inside, "{at}");
        }
        // From Friday evening the next start is Monday 08:00 local.
        let next = w.next_start(t("2026-12-04T20:00:00Z")).unwrap();
        assert_eq!(next, t("2026-12-07T07:00:00Z"));
        assert_eq!(
            describe_start(next, w.zone()),
            "Mon 08:00 Europe/Madrid (2026-12-07T07:00:00Z)"
        );
    }

    #[test]
    fn window_keeps_local_hours_across_dst() {
        let w = Window::parse("Daily 08:00-20:00 Europe/Madrid").unwrap();
        // Spring forward on 2026-03-29: 08:00 is 07:00 UTC the day before, 06:00 UTC after.
        assert_eq!(
            w.next_start(t("2026-03-28T00:00:00Z")).unwrap(),
            t("2026-03-28T07:00:00Z")
        );
        assert_eq!(
            w.next_start(t("2026-03-28T20:00:00Z")).unwrap(),
            t("2026-03-29T06:00:00Z")
        );
        assert!(w.contains(t("2026-03-29T06:00:00Z")));
        assert!(!w.contains(t("2026-03-28T06:30:00Z")));
        // A start inside the DST gap opens when the gap ends.
        let gap = Window::parse("Sun 02:30-04:00 Europe/Madrid").unwrap();
        assert_eq!(
            gap.next_start(t("2026-03-28T12:00:00Z")).unwrap(),
            t("2026-03-29T01:30:00Z")
        );
    }

    #[test]
    fn overnight_and_wrapping_days() {
        let w = Window::parse("Fri-Mon 22:00-06:00 UTC").unwrap();
        assert!(w.contains(t("2026-12-04T23:00:00Z"))); // Fri night
        assert!(w.contains(t("2026-12-08T05:00:00Z"))); // Tue morning, opened Mon
        assert!(!w.contains(t("2026-12-09T05:00:00Z"))); // Wed morning, Tue not listed
        assert!(!w.contains(t("2026-12-02T12:00:00Z")));
    }

    #[test]
    fn cron_fires_and_durations() {
        let c = parse_cron("0 2 * * *").unwrap();
        let now = t("2026-12-01T02:30:00Z");
        assert_eq!(last_fire(&c, now).unwrap(), t("2026-12-01T02:00:00Z"));
        assert_eq!(next_fire(&c, now).unwrap(), t("2026-12-02T02:00:00Z"));
        for (s, secs) in [("2h", 7200), ("90m", 5400), ("1h30m", 5400), ("45s", 45)] {
            assert_eq!(parse_duration(s), Some(Duration::from_secs(secs)), "{s}");
        }
        for s in ["", "2", "h", "2d", "0s", "1.5h", "-1h"] {
            assert_eq!(parse_duration(s), None, "{s}");
        }
    }
}
