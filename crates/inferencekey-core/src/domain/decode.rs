//! Decoding the values a binding hands over (request options, client settings) into the
//! core's serde types, with every failure turned into the core's field errors: the field's
//! path and how to fix it, never a bare serde message.
//!
//! Every problem is reported at once, so one error lists every typo and every wrong value:
//! unknown keys first, then each known key whose value has the wrong type or is out of
//! bounds, with its path (`messages[2]`, `timeout`). JSON `null` counts as absent, as it does
//! for the OpenAI clients whose arguments these mirror.

use std::time::Duration;

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::error::{Error, ErrorKind, FieldError};
use crate::domain::token::scrub;

/// The longest duration any seconds argument takes (about 31 years): larger values are a
/// mistake, and they would overflow a deadline computed from the current time.
pub const MAX_SECONDS: f64 = 1e9;
/// The most retries a client may be configured for.
pub const MAX_RETRIES: u32 = 100;

/// What a decoding failure becomes: client settings and call options are configuration,
/// request bodies are validation (as the rest of the core classifies them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Settings,
    Request,
}

/// The fields of a request that are call settings, not part of the request: a problem with
/// one is a configuration error wherever it was passed.
pub const CALL_SETTINGS: [&str; 2] = ["timeout", "max_retries"];

impl Role {
    /// The role a problem with `field` has, in a value of this role.
    pub fn of_field(self, field: &str) -> Role {
        if CALL_SETTINGS.contains(&field) {
            Role::Settings
        } else {
            self
        }
    }
}

/// The error for `problems` found in a value of `role`: configuration for settings,
/// validation for requests.
pub fn failure(role: Role, problems: Vec<FieldError>) -> Error {
    let mut e = Error::validation(problems);
    if role == Role::Settings {
        e.kind = ErrorKind::Configuration;
        e.code = Some("configuration_error".into());
    }
    e
}

/// What kind of JSON value `v` is, as error messages name it ("a string", "null").
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Decodes `value` (an object; `null` = `{}`) as `T`. `what` names the argument in messages
/// (`options`, `request`); `hint` may explain a known wrong key better than "not a field".
pub fn decode<T: DeserializeOwned>(
    value: Value,
    what: &str,
    role: Role,
    hint: fn(&str) -> Option<String>,
) -> Result<T, Error> {
    let map = match value {
        Value::Null => Map::new(),
        Value::Object(map) => map,
        other => {
            return Err(failure(
                role,
                vec![FieldError::new(
                    what,
                    format!("must be a JSON object, not {}", json_type(&other)),
                )],
            ))
        }
    };
    let fields = field_names::<T>();
    let mut problems: Vec<FieldError> = Vec::new();
    let mut known = Map::new();
    for (k, v) in map {
        if !fields.contains(&k.as_str()) {
            let message = hint(&k).unwrap_or_else(|| {
                format!(
                    "is not a field of {what}; expected one of: {}",
                    fields.join(", ")
                )
            });
            problems.push(FieldError::new(scrub(&k), message));
        } else if !v.is_null() {
            known.insert(k, v);
        }
    }
    let mut role = role;
    let first = match deserialize_known::<T>(&known, what) {
        Ok(value) if problems.is_empty() => return Ok(value),
        Ok(_) => return Err(failure(role, problems)),
        Err(problem) => problem,
    };
    // serde stops at the first bad value; each known key alone, in declaration order, then
    // names every other one (serde checks a lone value before it finds other fields missing,
    // so a "required" answer means this key's value was fine).
    let mut bad: Vec<FieldError> = Vec::new();
    for (k, v) in fields.iter().filter_map(|f| known.get_key_value(*f)) {
        let alone = Map::from_iter([(k.clone(), v.clone())]);
        if let Err(p) = deserialize_known::<T>(&alone, what) {
            if p.message != "is required" && !bad.iter().any(|b| b.field == p.field) {
                bad.push(p);
            }
        }
    }
    if !bad.iter().any(|b| b.field == first.field) {
        // A problem no single key shows (serde's own, on the whole value) leads.
        bad.insert(0, first);
    }
    if bad
        .iter()
        .any(|p| role.of_field(&p.field) == Role::Settings)
    {
        role = Role::Settings;
    }
    // Unknown keys first, then the bad values among the known ones.
    problems.extend(bad);
    Err(failure(role, problems))
}

/// One serde pass over the known keys; its first failure as a field error.
fn deserialize_known<T: DeserializeOwned>(
    known: &Map<String, Value>,
    what: &str,
) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(Value::Object(known.clone())).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        // serde reports a missing field at the parent: name the field itself.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next());
        let field = match (missing, path.as_str()) {
            (Some(name), ".") => name.to_string(),
            (Some(name), parent) => format!("{parent}.{name}"),
            (None, ".") => what.to_string(),
            (None, _) => path.clone(),
        };
        let message = if missing.is_some() {
            "is required".to_string()
        } else {
            fix(&message)
        };
        FieldError::new(field, message)
    })
}

/// Decodes a JSON text (NULL or blank = `{}`); bad JSON names the argument.
pub fn decode_str<T: DeserializeOwned>(
    text: Option<&str>,
    what: &str,
    role: Role,
    hint: fn(&str) -> Option<String>,
) -> Result<T, Error> {
    let text = text
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or("{}");
    let value: Value = serde_json::from_str(text).map_err(|e| {
        failure(
            role,
            vec![FieldError::new(what, format!("is not valid JSON: {e}"))],
        )
    })?;
    decode(value, what, role, hint)
}

/// No hint for any key.
pub fn no_hint(_: &str) -> Option<String> {
    None
}

/// serde's "invalid type: string \"x\", expected f64" in the project's words, secret-free.
fn fix(message: &str) -> String {
    let message = scrub(message);
    let rest = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "));
    match rest.and_then(|r| r.split_once(", expected ")) {
        Some((got, want)) => format!("must be {}, not {got}", plain(want)),
        None => message,
    }
}

/// serde's Rust type names as a user reads them.
fn plain(want: &str) -> &str {
    match want {
        "f64" | "f32" => "a number",
        "u64" | "u32" | "usize" | "u16" | "u8" => "a non-negative integer",
        "i64" | "i32" => "an integer",
        "a boolean" | "bool" => "true or false",
        "a string" => "a string",
        "a sequence" => "a list",
        "a map" => "an object",
        other => other,
    }
}

/// The field names a serde struct accepts, read from its derived `Deserialize` (which passes
/// them to `deserialize_struct`), so a list of fields is never written out by hand.
pub fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Probe<'a>(&'a mut &'static [&'static str]);
    #[derive(Debug)]
    struct Stop;
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("field probe")
        }
    }
    impl std::error::Error for Stop {}
    impl de::Error for Stop {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Stop
        }
    }
    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = Stop;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            *self.0 = fields;
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// A positive, finite number of seconds no larger than [`MAX_SECONDS`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(into = "f64")]
pub struct Seconds(pub Duration);

impl From<Seconds> for f64 {
    fn from(s: Seconds) -> f64 {
        s.0.as_secs_f64()
    }
}

impl Seconds {
    /// Checks a number of seconds; the error text is the fix.
    pub fn new(s: f64) -> Result<Seconds, String> {
        if s.is_finite() && s > 0.0 && s <= MAX_SECONDS {
            Ok(Seconds(Duration::from_secs_f64(s)))
        } else {
            Err(format!(
                "must be a positive number of seconds up to {MAX_SECONDS:e}, not {s}"
            ))
        }
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = f64::deserialize(d)?;
        Seconds::new(s).map_err(de::Error::custom)
    }
}

/// A retry count no larger than [`MAX_RETRIES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Retries(pub u32);

impl Retries {
    /// Checks a retry count; the error text is the fix.
    pub fn new(n: i64) -> Result<Retries, String> {
        match u32::try_from(n) {
            Ok(n) if n <= MAX_RETRIES => Ok(Retries(n)),
            _ => Err(format!("must be between 0 and {MAX_RETRIES}, not {n}")),
        }
    }
}

impl<'de> Deserialize<'de> for Retries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Retries::new(i64::deserialize(d)?).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Opts {
        timeout: Option<Seconds>,
        max_retries: Option<Retries>,
        #[allow(dead_code)]
        name: Option<String>,
    }

    #[test]
    fn fields_are_read_from_the_derive() {
        assert_eq!(field_names::<Opts>(), ["timeout", "max_retries", "name"]);
    }

    #[test]
    fn every_unknown_key_at_once() {
        let e = decode::<Opts>(
            serde_json::json!({"timout": 1, "retries": 2}),
            "options",
            Role::Settings,
            no_hint,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Configuration);
        assert_eq!(e.problems.len(), 2);
        assert!(e.problems[0].message.contains("expected one of: timeout"));
        let e = decode::<Opts>(
            serde_json::json!({"bogus": 1, "timeout": -1}),
            "options",
            Role::Settings,
            no_hint,
        )
        .unwrap_err();
        let fields: Vec<&str> = e.problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["bogus", "timeout"]);
    }

    #[test]
    fn every_bad_value_at_once() {
        let e = decode::<Opts>(
            serde_json::json!({"timeout": -1, "max_retries": 1000, "name": "ok"}),
            "options",
            Role::Settings,
            no_hint,
        )
        .unwrap_err();
        // Declaration order (timeout, max_retries), whatever the map's order.
        let fields: Vec<&str> = e.problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["timeout", "max_retries"]);
        // A bad value beside a missing required field: the bad value is named, not "required".
        #[derive(Debug, Deserialize)]
        struct Two {
            #[allow(dead_code)]
            a: String,
            #[allow(dead_code)]
            b: u32,
        }
        let e = decode::<Two>(
            serde_json::json!({"b": "x"}),
            "request",
            Role::Request,
            no_hint,
        )
        .unwrap_err();
        assert!(e
            .problems
            .iter()
            .any(|p| p.field == "b" && p.message.contains("non-negative")));
    }

    #[test]
    fn bounds_and_types_name_the_field() {
        let table = [
            (
                serde_json::json!({"timeout": 1e300}),
                "timeout",
                "up to 1e9",
            ),
            (serde_json::json!({"timeout": -1}), "timeout", "positive"),
            (
                serde_json::json!({"max_retries": 101}),
                "max_retries",
                "between 0 and 100",
            ),
            (
                serde_json::json!({"max_retries": -1}),
                "max_retries",
                "between 0 and 100",
            ),
            (serde_json::json!({"name": 5}), "name", "must be a string"),
            (serde_json::json!([1]), "options", "JSON object"),
        ];
        for (value, field, text) in table {
            let e = decode::<Opts>(value, "options", Role::Settings, no_hint).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field));
            assert!(e.message.contains(text), "{}", e.message);
        }
        #[derive(Debug, Deserialize)]
        struct Needs {
            #[allow(dead_code)]
            query: String,
        }
        let e =
            decode::<Needs>(serde_json::json!({}), "request", Role::Request, no_hint).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("query"));
        assert!(e.message.contains("is required"), "{}", e.message);
        let ok: Opts = decode(
            serde_json::json!({"timeout": 2.5, "max_retries": null}),
            "options",
            Role::Settings,
            no_hint,
        )
        .unwrap();
        assert_eq!(ok.timeout, Some(Seconds(Duration::from_millis(2500))));
        assert_eq!(ok.max_retries, None);
    }

    #[test]
    fn type_errors_never_echo_a_token() {
        let e = decode::<Opts>(
            serde_json::json!({"name": ["ik_live_abcdefghij_SECRETSECRET"]}),
            "options",
            Role::Settings,
            no_hint,
        )
        .unwrap_err();
        assert!(!e.to_string().contains("SECRET"));
    }
}
