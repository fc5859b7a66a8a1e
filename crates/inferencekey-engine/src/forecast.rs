//! `POST /forecast`: extends the series along its least-squares line, which is deterministic,
//! cheap and plausible enough for clients to sanity-check.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::params::{self, type_name};
use crate::AppState;

const MAX_HORIZON: u64 = 10_000;

pub(crate) async fn forecast(
    State(st): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let o = params::object(&body?)?;
    let series = series(o.get("series"))?;
    let horizon = params::opt_uint(&o, "horizon", 1..=MAX_HORIZON)?.ok_or_else(|| {
        ApiError::invalid(
            "horizon",
            format!("`horizon` is required: how many steps to forecast (1 to {MAX_HORIZON})"),
        )
    })?;
    Ok(Json(json!({"forecast": {
        "model": st.cfg.model,
        "horizon": horizon,
        "values": extend(&series, horizon as usize),
    }})))
}

fn series(v: Option<&Value>) -> Result<Vec<f64>, ApiError> {
    let items = match v {
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(Value::Array(_)) => {
            return Err(ApiError::invalid("series", "`series` must not be empty"))
        }
        None | Some(Value::Null) => {
            return Err(ApiError::invalid(
                "series",
                "`series` is required: an array of numbers",
            ))
        }
        Some(other) => {
            return Err(ApiError::invalid(
                "series",
                format!(
                    "`series` must be an array of numbers, got {}",
                    type_name(other)
                ),
            ))
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(i, x)| {
            x.as_f64().ok_or_else(|| {
                ApiError::invalid(
                    format!("series[{i}]"),
                    format!("series[{i}] must be a number, got {}", type_name(x)),
                )
            })
        })
        .collect()
}

/// The next `horizon` points of the series' least-squares line.
fn extend(ys: &[f64], horizon: usize) -> Vec<f64> {
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
    (0..horizon)
        .map(|h| mean_y + slope * ((ys.len() + h) as f64 - mean_x))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extends_a_line() {
        assert_eq!(extend(&[1.0, 2.0, 3.0], 2), vec![4.0, 5.0]);
        assert_eq!(extend(&[7.0], 3), vec![7.0, 7.0, 7.0]);
    }
}
