//! Reading request fields. Bodies are parsed by hand from `serde_json::Value` rather than
//! derived structs so that every rejection names the exact field (`messages[2].content`) and
//! says what would be accepted, the way OpenAI's own 400s do. JSON `null` counts as absent,
//! because OpenAI clients send explicit nulls for unset options.

use std::ops::RangeInclusive;

use serde_json::{Map, Value};

use crate::error::ApiError;

pub(crate) type Obj = Map<String, Value>;

/// Parses a JSON request body that must be an object.
pub(crate) fn object(body: &[u8]) -> Result<Obj, ApiError> {
    if body.is_empty() {
        return Err(ApiError::invalid(
            "body",
            "request body is empty; send a JSON object",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(other) => Err(ApiError::invalid(
            "body",
            format!(
                "request body must be a JSON object, got {}",
                type_name(&other)
            ),
        )),
        Err(e) => Err(ApiError::invalid(
            "body",
            format!("request body is not valid JSON: {e}"),
        )),
    }
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn present<'a>(o: &'a Obj, key: &str) -> Option<&'a Value> {
    o.get(key).filter(|v| !v.is_null())
}

pub(crate) fn opt_str<'a>(o: &'a Obj, key: &str) -> Result<Option<&'a str>, ApiError> {
    match present(o, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(ApiError::invalid(
            key,
            format!("`{key}` must be a string, got {}", type_name(v)),
        )),
    }
}

/// A required, non-blank string.
pub(crate) fn req_str<'a>(o: &'a Obj, key: &str) -> Result<&'a str, ApiError> {
    match opt_str(o, key)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        Some(_) => Err(ApiError::invalid(key, format!("`{key}` must not be empty"))),
        None => Err(ApiError::invalid(key, format!("`{key}` is required"))),
    }
}

/// A string restricted to `allowed` values.
pub(crate) fn opt_choice<'a>(
    o: &'a Obj,
    key: &str,
    allowed: &[&str],
) -> Result<Option<&'a str>, ApiError> {
    match opt_str(o, key)? {
        Some(s) if !allowed.contains(&s) => Err(ApiError::invalid(
            key,
            format!("`{key}` must be one of {}, got {s:?}", allowed.join(", ")),
        )),
        other => Ok(other),
    }
}

pub(crate) fn opt_bool(o: &Obj, key: &str) -> Result<Option<bool>, ApiError> {
    match present(o, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(ApiError::invalid(
            key,
            format!("`{key}` must be true or false, got {}", type_name(v)),
        )),
    }
}

/// An integer within `range`. Whole floats (`5.0`) are accepted as integers, as OpenAI does.
pub(crate) fn opt_uint(
    o: &Obj,
    key: &str,
    range: RangeInclusive<u64>,
) -> Result<Option<u64>, ApiError> {
    let Some(v) = present(o, key) else {
        return Ok(None);
    };
    uint_value(v, key, range).map(Some)
}

pub(crate) fn uint_value(
    v: &Value,
    key: &str,
    range: RangeInclusive<u64>,
) -> Result<u64, ApiError> {
    let n = match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        }),
        _ => None,
    };
    match n {
        Some(n) if range.contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(
            key,
            format!(
                "`{key}` must be an integer from {} to {}, got {v}",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// A finite number within `range`.
pub(crate) fn opt_num(
    o: &Obj,
    key: &str,
    range: RangeInclusive<f64>,
) -> Result<Option<f64>, ApiError> {
    let Some(v) = present(o, key) else {
        return Ok(None);
    };
    match v.as_f64() {
        Some(f) if range.contains(&f) => Ok(Some(f)),
        _ => Err(ApiError::invalid(
            key,
            format!(
                "`{key}` must be a number from {} to {}, got {v}",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// Any integer (e.g. `seed`, which OpenAI lets be negative).
pub(crate) fn opt_int(o: &Obj, key: &str) -> Result<Option<i64>, ApiError> {
    match present(o, key) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| ApiError::invalid(key, format!("`{key}` must be an integer, got {v}"))),
    }
}

/// Parses a text field of a multipart form as a number within `range`.
pub(crate) fn form_uint(
    value: Option<&str>,
    key: &str,
    range: RangeInclusive<u64>,
) -> Result<Option<u64>, ApiError> {
    let Some(raw) = value else {
        return Ok(None);
    };
    match raw.trim().parse::<u64>() {
        Ok(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(ApiError::invalid(
            key,
            format!(
                "`{key}` must be an integer from {} to {}, got {raw:?}",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// Words as the engine counts "tokens": whitespace-separated runs.
pub(crate) fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Obj {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn nulls_are_absent_and_types_are_named() {
        let o = obj(json!({"a": null, "b": 3, "c": "x", "d": 2.0, "e": -1}));
        assert_eq!(opt_str(&o, "a").unwrap(), None);
        let e = opt_str(&o, "b").unwrap_err();
        assert_eq!(e.param.as_deref(), Some("b"));
        assert!(e.message.contains("a number"), "{}", e.message);
        assert_eq!(opt_uint(&o, "d", 1..=5).unwrap(), Some(2));
        assert!(opt_uint(&o, "e", 0..=5).is_err());
        assert!(opt_uint(&o, "b", 4..=5)
            .unwrap_err()
            .message
            .contains("4 to 5"));
        assert_eq!(opt_int(&o, "e").unwrap(), Some(-1));
    }

    #[test]
    fn body_errors_say_what_is_wrong() {
        assert!(object(b"").unwrap_err().message.contains("empty"));
        assert!(object(b"[1]").unwrap_err().message.contains("an array"));
        assert!(object(b"{\"a\":")
            .unwrap_err()
            .message
            .contains("not valid JSON"));
    }
}
