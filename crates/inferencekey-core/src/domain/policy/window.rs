//! The run-window grammar of the `scheduled` policy (docs/contract.md, "Execution policies"):
//! `<days> <HH:MM>-<HH:MM> <IANA zone>`.

use std::str::FromStr;

use crate::domain::token::scrub;

const WINDOW_FORMAT: &str =
    "expected \"<days> <HH:MM>-<HH:MM> <IANA zone>\", e.g. \"Mon-Fri 08:00-20:00 Europe/Madrid\"";
const WEEKDAYS: [&str; 7] = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];

/// Checks a run window `<days> <HH:MM>-<HH:MM> <IANA zone>`. Days are `Mon`..`Sun` (any case),
/// ranges (`Mon-Fri`, or wrapping `Fri-Mon`), comma lists, or `Daily` / `*`. An end before the
/// start runs overnight (`22:00-06:00`); equal times are rejected because they are ambiguous
/// between "never" and "always". Hand-written: no maintained crate parses this format.
pub fn validate_window(window: &str) -> Result<(), String> {
    parse_window(window).map(|_| ())
}

/// A parsed run window: what the Manager runs the schedule from, so the grammar it enforces is
/// exactly the one validated here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunWindow {
    /// Monday first.
    pub days: [bool; 7],
    /// Minutes since local midnight; `end < start` runs overnight.
    pub start: u32,
    pub end: u32,
    pub zone: chrono_tz::Tz,
}

/// Parses (and so validates) a run window; the error says what is wrong and how to write it.
pub fn parse_window(window: &str) -> Result<RunWindow, String> {
    let parts: Vec<&str> = window.split_whitespace().collect();
    let [days, times, zone] = parts.as_slice() else {
        return Err(format!(
            "has {} part(s) separated by spaces, needs 3; {WINDOW_FORMAT}",
            parts.len()
        ));
    };
    let day_set = check_days(days)?;
    let (start, end) = times.split_once('-').ok_or_else(|| {
        format!(
            "time range {:?} needs a start and an end such as 08:00-20:00; {WINDOW_FORMAT}",
            scrub(times)
        )
    })?;
    let start = parse_hhmm(start)?;
    let end = parse_hhmm(end)?;
    if start == end {
        return Err(format!(
            "time range {times:?} starts and ends at the same time; for an always-on workload use execution_policy \"fixed\""
        ));
    }
    let zone = chrono_tz::Tz::from_str(zone).map_err(|_| {
        format!(
            "unknown time zone {:?}; use an IANA zone name such as \"Europe/Madrid\", \"America/New_York\" or \"UTC\" (names are case-sensitive)",
            scrub(zone)
        )
    })?;
    Ok(RunWindow {
        days: day_set,
        start,
        end,
        zone,
    })
}

/// The days a window names, Monday first. Ranges may wrap (`Fri-Mon`).
fn check_days(days: &str) -> Result<[bool; 7], String> {
    if days.eq_ignore_ascii_case("daily") || days == "*" {
        return Ok([true; 7]);
    }
    let day = |s: &str| {
        let upper = s.to_ascii_uppercase();
        if let Some(i) = WEEKDAYS.iter().position(|d| *d == upper) {
            Ok(i)
        } else {
            Err(format!(
                "unknown day {:?} in {:?}; days are Mon, Tue, Wed, Thu, Fri, Sat, Sun, ranges (Mon-Fri), comma lists (Mon,Wed,Fri), or Daily; {WINDOW_FORMAT}",
                scrub(s),
                scrub(days)
            ))
        }
    };
    let mut set = [false; 7];
    for item in days.split(',') {
        match item.split_once('-') {
            Some((a, b)) => {
                let (mut i, j) = (day(a)?, day(b)?);
                loop {
                    set[i] = true;
                    if i == j {
                        break;
                    }
                    i = (i + 1) % 7;
                }
            }
            None => set[day(item)?] = true,
        }
    }
    Ok(set)
}

/// Minutes since midnight of a strict `HH:MM` (two digits each, 00:00..23:59).
fn parse_hhmm(s: &str) -> Result<u32, String> {
    let bad = || {
        format!(
            "time {:?} must be HH:MM on a 24-hour clock, 00:00 to 23:59 (write midnight as 00:00); {WINDOW_FORMAT}",
            scrub(s)
        )
    };
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let two_digits = |x: &str| x.len() == 2 && x.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(h) || !two_digits(m) {
        return Err(bad());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}
