//! The cron grammar of the `scheduled` policy (docs/contract.md, "Execution policies"): the
//! portable 5-field subset, checked before croner checks the values.

use croner::parser::{CronParser, Seconds, Year};

use crate::domain::token::scrub;

const CRON_FIELDS: [&str; 5] = ["minute", "hour", "day-of-month", "month", "day-of-week"];
const CRON_FORMAT: &str =
    "expected 5 fields: minute hour day-of-month month day-of-week, e.g. \"0 2 * * *\" (02:00 daily)";
const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Checks a standard 5-field cron expression: numbers, `*`, ranges, lists, steps, and
/// month/day names. croner checks the values; we first hold it to the portable subset,
/// because croner also takes seconds, years, nicknames and Quartz extensions (`L`, `W`, `#`,
/// `?`) that the hosted platform's scheduler need not understand.
pub fn validate_cron(expr: &str) -> Result<(), String> {
    let expr = expr.trim();
    if expr.is_empty() {
        return Err(format!("is empty; {CRON_FORMAT}"));
    }
    if expr.starts_with('@') {
        return Err(format!(
            "nicknames such as @daily are not supported; write the 5 fields instead (@hourly = \"0 * * * *\", @daily = \"0 0 * * *\", @weekly = \"0 0 * * 0\", @monthly = \"0 0 1 * *\"); {CRON_FORMAT}"
        ));
    }
    let fields: Vec<&str> = expr.split_whitespace().collect();
    match fields.len() {
        5 => {}
        6 | 7 => {
            return Err(format!(
                "has {} fields; seconds and year fields are not supported, the finest granularity is one minute: drop the seconds (and year) field; {CRON_FORMAT}",
                fields.len()
            ))
        }
        n => return Err(format!("has {n} field(s); {CRON_FORMAT}")),
    }
    for (i, part) in fields.iter().enumerate() {
        check_cron_field(CRON_FIELDS[i], i, part)?;
    }
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(expr)
        .map(|_| ())
        .map_err(|e| format!("is not a valid cron expression ({e}); {CRON_FORMAT}"))
}

/// Validates `expr` and returns croner's schedule for it: the Manager fires crons from this,
/// so what runs is exactly what validated.
pub fn parse_cron(expr: &str) -> Result<croner::Cron, String> {
    validate_cron(expr)?;
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(expr)
        .map_err(|e| format!("is not a valid cron expression ({e}); {CRON_FORMAT}"))
}

/// Holds one cron field to the portable syntax and puts names only where they belong.
fn check_cron_field(name: &str, index: usize, part: &str) -> Result<(), String> {
    if let Some(c) = part
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '*' | ',' | '-' | '/')))
    {
        let what = match c {
            '?' | '#' => "is a Quartz extension",
            _ => "is not allowed",
        };
        return Err(format!(
            "the {name} field {:?} uses {c:?}, which {what}; use numbers, names, * , ranges (1-5), lists (1,15) and steps (*/10) only",
            scrub(part)
        ));
    }
    // croner tolerates `1,,2`; standard cron does not.
    if part.split(',').any(str::is_empty) {
        return Err(format!(
            "the {name} field {:?} has an empty list item; separate values with single commas, e.g. 1,15",
            scrub(part)
        ));
    }
    for token in part.split([',', '-', '/']) {
        if !token.chars().any(|c| c.is_ascii_alphabetic()) {
            continue;
        }
        let upper = token.to_ascii_uppercase();
        let names: &[&str] = match index {
            3 => &MONTH_NAMES,
            4 => &DAY_NAMES,
            _ => &[],
        };
        if !names.contains(&upper.as_str()) {
            let hint = match index {
                3 => "month names are JAN..DEC".to_string(),
                4 => "day names are SUN..SAT".to_string(),
                _ => format!("the {name} field takes numbers only"),
            };
            let extension = if matches!(upper.as_str(), "L" | "W" | "LW")
                || upper.ends_with('L')
                || upper.ends_with('W')
            {
                " (L and W are non-standard extensions)"
            } else {
                ""
            };
            return Err(format!(
                "the {name} field {:?} contains {:?}{extension}; {hint}",
                scrub(part),
                scrub(token)
            ));
        }
    }
    Ok(())
}
