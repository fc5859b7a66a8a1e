//! `POST /forecast`: the documented forecast request (contract §5) answered deterministically.
//!
//! The median extends the target along its least-squares line; quantiles and samples spread
//! around it by the fit's residual standard deviation under a normal model, widening with the
//! step ahead. Cheap, reproducible and plausible enough for clients to sanity-check shapes,
//! ordering of quantiles and timestamps.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::params::{self, type_name, Obj};
use crate::AppState;

const MAX_HORIZON: u64 = 10_000;
const MAX_SAMPLES: u64 = 1_000;
const DEFAULT_SAMPLES: usize = 20;
const DEFAULT_QUANTILES: [f64; 3] = [0.1, 0.5, 0.9];
const FIELDS: [&str; 11] = [
    "id",
    "target",
    "horizon",
    "timestamps",
    "freq",
    "quantile_levels",
    "past_covariates",
    "future_covariates",
    "num_samples",
    "return_samples",
    "model",
];

/// A validated forecast request.
struct Request {
    target: Vec<f64>,
    horizon: usize,
    timestamps: Option<Vec<String>>,
    freq: Option<String>,
    quantiles: Vec<f64>,
    samples: Option<usize>,
}

pub(crate) async fn forecast(
    State(_st): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let req = parse(&params::object(&body?)?)?;
    Ok(Json(json!({ "forecast": answer(&req) })))
}

fn parse(o: &Obj) -> Result<Request, ApiError> {
    if let Some(k) = o.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(ApiError::invalid(
            k.as_str(),
            format!("unknown field `{k}`; accepted: {}", FIELDS.join(", ")),
        ));
    }
    match params::opt_str(o, "id")? {
        Some(id) if !id.is_empty() => {}
        Some(_) => return Err(ApiError::invalid("id", "`id` must not be empty")),
        None => {
            return Err(ApiError::invalid(
                "id",
                "`id` is required: a non-empty string naming the series",
            ))
        }
    }
    let target = numbers(o.get("target"), "target", None)?
        .ok_or_else(|| ApiError::invalid("target", "`target` is required: a list of numbers"))?;
    if target.is_empty() {
        return Err(ApiError::invalid("target", "`target` must not be empty"));
    }
    let horizon = params::opt_uint(o, "horizon", 1..=MAX_HORIZON)?.ok_or_else(|| {
        ApiError::invalid(
            "horizon",
            format!("`horizon` is required: how many steps to forecast (1 to {MAX_HORIZON})"),
        )
    })? as usize;
    let timestamps = strings(o.get("timestamps"), "timestamps")?;
    if let Some(ts) = &timestamps {
        if ts.len() != target.len() {
            return Err(ApiError::invalid(
                "timestamps",
                format!(
                    "`timestamps` must have one entry per `target` value ({}), got {}",
                    target.len(),
                    ts.len()
                ),
            ));
        }
    }
    let freq = match params::opt_str(o, "freq")? {
        Some("") => return Err(ApiError::invalid("freq", "`freq` must not be empty")),
        other => other.map(str::to_string),
    };
    let quantiles = match numbers(o.get("quantile_levels"), "quantile_levels", None)? {
        None => DEFAULT_QUANTILES.to_vec(),
        Some(q) => {
            if let Some((i, x)) = q
                .iter()
                .enumerate()
                .find(|(_, x)| !(**x > 0.0 && **x < 1.0))
            {
                return Err(ApiError::invalid(
                    format!("quantile_levels[{i}]"),
                    format!("quantile_levels[{i}] must be strictly between 0 and 1, got {x}"),
                ));
            }
            q
        }
    };
    covariates(o, "past_covariates", target.len(), "`target`")?;
    covariates(o, "future_covariates", horizon, "`horizon`")?;
    let num_samples = params::opt_uint(o, "num_samples", 1..=MAX_SAMPLES)?;
    let samples = match params::opt_bool(o, "return_samples")? {
        Some(true) => Some(num_samples.map_or(DEFAULT_SAMPLES, |n| n as usize)),
        _ => None,
    };
    Ok(Request {
        target,
        horizon,
        timestamps,
        freq,
        quantiles,
        samples,
    })
}

/// A list of numbers; booleans are refused (JSON gives no other way to tell them apart).
/// `len` checks the length when given.
fn numbers(
    v: Option<&Value>,
    field: &str,
    len: Option<(usize, &str)>,
) -> Result<Option<Vec<f64>>, ApiError> {
    let items = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(ApiError::invalid(
                field,
                format!(
                    "`{field}` must be a list of numbers, got {}",
                    type_name(other)
                ),
            ))
        }
    };
    if let Some((n, what)) = len {
        if items.len() != n {
            return Err(ApiError::invalid(
                field,
                format!(
                    "`{field}` must have the length of {what} ({n}), got {}",
                    items.len()
                ),
            ));
        }
    }
    items
        .iter()
        .enumerate()
        .map(|(i, x)| match x {
            Value::Number(n) => n.as_f64().ok_or_else(|| {
                ApiError::invalid(
                    format!("{field}[{i}]"),
                    format!("{field}[{i}] must be a finite number"),
                )
            }),
            other => Err(ApiError::invalid(
                format!("{field}[{i}]"),
                format!("{field}[{i}] must be a number, got {}", type_name(other)),
            )),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn strings(v: Option<&Value>, field: &str) -> Result<Option<Vec<String>>, ApiError> {
    let items = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(ApiError::invalid(
                field,
                format!(
                    "`{field}` must be a list of strings, got {}",
                    type_name(other)
                ),
            ))
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(i, x)| {
            x.as_str().map(str::to_string).ok_or_else(|| {
                ApiError::invalid(
                    format!("{field}[{i}]"),
                    format!("{field}[{i}] must be a string, got {}", type_name(x)),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `name → numbers` with every list of length `len`.
fn covariates(o: &Obj, field: &str, len: usize, what: &str) -> Result<(), ApiError> {
    let map: &Map<String, Value> = match o.get(field) {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(ApiError::invalid(
                field,
                format!(
                    "`{field}` must be an object of name → list of numbers, got {}",
                    type_name(other)
                ),
            ))
        }
    };
    for (name, values) in map {
        numbers(Some(values), &format!("{field}.{name}"), Some((len, what)))?;
    }
    Ok(())
}

fn answer(req: &Request) -> Value {
    let (median, sigma) = trend(&req.target, req.horizon);
    // Uncertainty grows with the step ahead, like a random walk's.
    let spread = |h: usize| sigma * ((h + 1) as f64).sqrt();
    let mut out = Map::new();
    out.insert("median".into(), json!(median));
    let quantiles: Map<String, Value> = req
        .quantiles
        .iter()
        .map(|&q| {
            let z = normal_quantile(q);
            let values: Vec<f64> = median
                .iter()
                .enumerate()
                .map(|(h, m)| m + z * spread(h))
                .collect();
            (format_level(q), json!(values))
        })
        .collect();
    out.insert("quantiles".into(), Value::Object(quantiles));
    if let Some(ts) = &req.timestamps {
        if let Some(future) = future_timestamps(ts, req.freq.as_deref(), req.horizon) {
            out.insert("timestamps".into(), json!(future));
        }
    }
    if let Some(n) = req.samples {
        let samples: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                let z = normal_quantile((i as f64 + 0.5) / n as f64);
                median
                    .iter()
                    .enumerate()
                    .map(|(h, m)| m + z * spread(h))
                    .collect()
            })
            .collect();
        out.insert("samples".into(), json!(samples));
    }
    Value::Object(out)
}

/// `0.1` → `"0.1"`, `0.25` → `"0.25"`: the level as the request wrote it.
fn format_level(q: f64) -> String {
    let s = format!("{q}");
    if s.contains('.') {
        s
    } else {
        format!("{q:.1}")
    }
}

/// The next `horizon` points of the series' least-squares line, and the fit's residual
/// standard deviation.
fn trend(ys: &[f64], horizon: usize) -> (Vec<f64>, f64) {
    let n = ys.len() as f64;
    let mean_x = (n - 1.0) / 2.0;
    let mean_y = ys.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, y) in ys.iter().enumerate() {
        let dx = i as f64 - mean_x;
        sxy += dx * (y - mean_y);
        sxx += dx * dx;
    }
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let fit = |x: f64| mean_y + slope * (x - mean_x);
    let rss: f64 = ys
        .iter()
        .enumerate()
        .map(|(i, y)| (y - fit(i as f64)).powi(2))
        .sum();
    let sigma = if ys.len() > 2 {
        (rss / (n - 2.0)).sqrt()
    } else {
        0.0
    };
    let median = (0..horizon).map(|h| fit((ys.len() + h) as f64)).collect();
    (median, sigma)
}

/// The standard normal's inverse CDF (Acklam's rational approximation, |error| < 1.2e-9):
/// a handful of constants, not worth a statistics crate in a test engine.
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    const LOW: f64 = 0.02425;
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The `horizon` timestamps after the last one, stepping by the last interval of the series
/// (or by `freq` for a one-point series). Understands `YYYY-MM-DD` dates and RFC 3339
/// date-times in UTC (`…Z`); anything else gets no timestamps rather than wrong ones.
fn future_timestamps(ts: &[String], freq: Option<&str>, horizon: usize) -> Option<Vec<String>> {
    let last = ts.last()?;
    let date_only = last.len() == 10;
    let parsed: Vec<i64> = ts.iter().map(|t| parse_time(t)).collect::<Option<_>>()?;
    let step = match parsed.as_slice() {
        [.., a, b] if b > a => b - a,
        _ => freq.and_then(freq_seconds)?,
    };
    let end = *parsed.last()?;
    Some(
        (1..=horizon as i64)
            .map(|k| format_time(end + k * step, date_only))
            .collect(),
    )
}

/// Seconds in a pandas-style frequency: `D`, `H`/`h`, `min`/`T`, `S`/`s`, `W`, with an
/// optional count (`15min`).
fn freq_seconds(freq: &str) -> Option<i64> {
    let digits: String = freq.chars().take_while(char::is_ascii_digit).collect();
    let unit = &freq[digits.len()..];
    let n: i64 = if digits.is_empty() {
        1
    } else {
        digits.parse().ok()?
    };
    let per = match unit {
        "S" | "s" => 1,
        "T" | "min" => 60,
        "H" | "h" => 3600,
        "D" => 86_400,
        "W" => 7 * 86_400,
        _ => return None,
    };
    Some(n * per)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    // Howard Hinnant's days-from-civil: proleptic Gregorian, no calendar crate needed.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn parse_time(t: &str) -> Option<i64> {
    let num = |s: &str| s.parse::<i64>().ok();
    let (y, m, d) = (num(t.get(0..4)?)?, num(t.get(5..7)?)?, num(t.get(8..10)?)?);
    if t.get(4..5)? != "-"
        || t.get(7..8)? != "-"
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&d)
    {
        return None;
    }
    let day = days_from_civil(y, m, d) * 86_400;
    if t.len() == 10 {
        return Some(day);
    }
    let rest = t.get(10..)?;
    let rest = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' '))?;
    let rest = rest.strip_suffix('Z').unwrap_or(rest);
    let (hh, mm, ss) = (
        num(rest.get(0..2)?)?,
        num(rest.get(3..5)?)?,
        num(rest.get(6..8)?)?,
    );
    Some(day + hh * 3600 + mm * 60 + ss)
}

fn format_time(secs: i64, date_only: bool) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    if date_only {
        return format!("{y:04}-{m:02}-{d:02}");
    }
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extends_a_line_with_no_spread() {
        let (median, sigma) = trend(&[1.0, 2.0, 3.0], 2);
        assert_eq!(median, vec![4.0, 5.0]);
        assert_eq!(sigma, 0.0);
        assert_eq!(trend(&[7.0], 3).0, vec![7.0, 7.0, 7.0]);
    }

    #[test]
    fn normal_quantiles() {
        assert!(normal_quantile(0.5).abs() < 1e-9);
        assert!((normal_quantile(0.9) - 1.281_551_565_5).abs() < 1e-6);
        assert!((normal_quantile(0.01) + 2.326_347_874).abs() < 1e-6);
        assert!((normal_quantile(0.1) + normal_quantile(0.9)).abs() < 1e-9);
    }

    #[test]
    fn timestamps_step_by_the_series() {
        let ts = ["2026-02-27", "2026-02-28"].map(String::from);
        assert_eq!(
            future_timestamps(&ts, None, 2).unwrap(),
            ["2026-03-01", "2026-03-02"]
        );
        let ts = ["2026-12-31T23:00:00Z".to_string()];
        assert_eq!(
            future_timestamps(&ts, Some("30min"), 2).unwrap(),
            ["2026-12-31T23:30:00Z", "2027-01-01T00:00:00Z"]
        );
        assert!(future_timestamps(&["yesterday".to_string()], Some("D"), 1).is_none());
        assert!(future_timestamps(&["2026-01-01".to_string()], None, 1).is_none());
    }

    #[test]
    fn levels_print_as_written() {
        assert_eq!(format_level(0.1), "0.1");
        assert_eq!(format_level(0.25), "0.25");
    }
}
