//! Reading the JSON arguments C callers pass (options, specs, request bodies). Every reader
//! checks shape only and collects *all* problems, each naming its key, so one error tells the
//! caller everything to fix; judging values stays with the core.

use std::time::Duration;

use inferencekey_core::{Error, ErrorKind, FieldError};
use serde_json::{Map, Value};

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The kind of error a shape problem becomes: client and call options are configuration,
/// specs and request bodies are validation (as the core classifies them).
#[derive(Clone, Copy)]
pub enum Role {
    Options,
    Body,
}

/// Fields of one JSON object argument, read with type checks.
pub struct Reader {
    map: Map<String, Value>,
    role: Role,
    problems: Vec<FieldError>,
}

impl Reader {
    /// Parses `text` (NULL or empty = `{}`) as an object whose keys must all be in `allowed`.
    /// `what` names the argument in messages (`options`, `spec`, `request`).
    pub fn parse(
        text: Option<&str>,
        what: &str,
        role: Role,
        allowed: &[&str],
    ) -> Result<Reader, Error> {
        Self::parse_hinted(text, what, role, allowed, |_| None)
    }

    /// [`Reader::parse`] where `hint` may explain a known mistake better than "not a field".
    pub fn parse_hinted(
        text: Option<&str>,
        what: &str,
        role: Role,
        allowed: &[&str],
        hint: fn(&str) -> Option<&'static str>,
    ) -> Result<Reader, Error> {
        let text = text
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .unwrap_or("{}");
        let fail = |message: String| finish(role, vec![FieldError::new(what, message)]);
        let value: Value =
            serde_json::from_str(text).map_err(|e| fail(format!("is not valid JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(fail(format!(
                "must be a JSON object, not {}",
                json_type(&value)
            )));
        };
        let mut problems = Vec::new();
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                let message = match hint(key) {
                    Some(h) => h.to_string(),
                    None => format!(
                        "is not a field of {what}; expected one of: {}",
                        allowed.join(", ")
                    ),
                };
                problems.push(FieldError::new(key.clone(), message));
            }
        }
        Ok(Reader {
            map,
            role,
            problems,
        })
    }

    pub fn problem(&mut self, field: &str, message: impl Into<String>) {
        self.problems.push(FieldError::new(field, message));
    }

    fn get(&self, field: &str) -> Option<&Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    fn wrong(&mut self, field: &str, want: &str) {
        let got = json_type(&self.map[field]);
        self.problem(field, format!("must be {want}, not {got}"));
    }

    /// A string; absent or `null` is `None`.
    pub fn string(&mut self, field: &str) -> Option<String> {
        match self.get(field)? {
            Value::String(s) => Some(s.clone()),
            _ => {
                self.wrong(field, "a string");
                None
            }
        }
    }

    pub fn f64(&mut self, field: &str) -> Option<f64> {
        match self.get(field)? {
            Value::Number(n) => n.as_f64(),
            _ => {
                self.wrong(field, "a number");
                None
            }
        }
    }

    pub fn u64(&mut self, field: &str) -> Option<u64> {
        match self.get(field)?.as_u64() {
            Some(n) => Some(n),
            None => {
                self.wrong(field, "a non-negative integer");
                None
            }
        }
    }

    pub fn i64(&mut self, field: &str) -> Option<i64> {
        match self.get(field)?.as_i64() {
            Some(n) => Some(n),
            None => {
                self.wrong(field, "an integer");
                None
            }
        }
    }

    /// Any JSON value but `null`.
    pub fn value(&self, field: &str) -> Option<Value> {
        self.get(field).cloned()
    }

    pub fn object(&mut self, field: &str) -> Option<Map<String, Value>> {
        match self.get(field)? {
            Value::Object(o) => Some(o.clone()),
            _ => {
                self.wrong(field, "an object");
                None
            }
        }
    }

    pub fn array(&mut self, field: &str) -> Option<Vec<Value>> {
        match self.get(field)? {
            Value::Array(a) => Some(a.clone()),
            _ => {
                self.wrong(field, "an array");
                None
            }
        }
    }

    /// A positive, finite number of seconds.
    pub fn seconds(&mut self, field: &str) -> Option<Duration> {
        let s = self.f64(field)?;
        if s.is_finite() && s > 0.0 && s < 1e9 {
            Some(Duration::from_secs_f64(s))
        } else {
            self.problem(
                field,
                format!("must be a positive number of seconds, not {s}"),
            );
            None
        }
    }

    /// Ends reading: every problem found, or `Ok`.
    pub fn finish(self) -> Result<(), Error> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(finish(self.role, self.problems))
        }
    }
}

fn finish(role: Role, problems: Vec<FieldError>) -> Error {
    match role {
        Role::Body => Error::validation(problems),
        Role::Options => {
            let mut e = Error::validation(problems);
            e.kind = ErrorKind::Configuration;
            e.code = Some("configuration_error".into());
            e
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_every_problem() {
        let mut r = Reader::parse(
            Some(r#"{"a": 1, "b": "x", "zzz": true}"#),
            "request",
            Role::Body,
            &["a", "b"],
        )
        .unwrap();
        assert_eq!(r.string("a"), None);
        assert_eq!(r.string("b").as_deref(), Some("x"));
        let e = r.finish().unwrap_err();
        assert_eq!(e.kind, ErrorKind::Validation);
        assert_eq!(e.problems.len(), 2);
        assert_eq!(e.field.as_deref(), Some("zzz"));
    }

    #[test]
    fn options_problems_are_configuration() {
        let mut r = Reader::parse(
            Some(r#"{"timeout": -1}"#),
            "options",
            Role::Options,
            &["timeout"],
        )
        .unwrap();
        assert_eq!(r.seconds("timeout"), None);
        let e = r.finish().unwrap_err();
        assert_eq!(e.kind, ErrorKind::Configuration);
        assert_eq!(e.field.as_deref(), Some("timeout"));
    }

    #[test]
    fn shape_of_the_argument() {
        for bad in ["[1]", "{", "\"x\""] {
            let e = Reader::parse(Some(bad), "spec", Role::Body, &[])
                .err()
                .unwrap();
            assert_eq!(e.field.as_deref(), Some("spec"));
        }
        assert!(Reader::parse(None, "options", Role::Options, &[]).is_ok());
        assert!(Reader::parse(Some("  "), "options", Role::Options, &[]).is_ok());
    }
}
