//! A custom backend's `manifest.json` (docs/contract.md §7): its keys and their rules, declared
//! once here so `inferencekey backend package` (Python, through the native module) and the
//! Manager's publish route refuse the same manifests with the same words.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::decode::{decode, field_names, no_hint, Role};
use crate::domain::enums::{Backend, TaskType};
use crate::domain::error::{Error, FieldError};
use crate::domain::slug::canonical_slug;

/// The largest package the platform takes: the Manager's publish route refuses a bigger
/// upload, and `inferencekey backend package` refuses to write one.
pub const MAX_PACKAGE_BYTES: usize = 64 * 1024 * 1024;

/// The runtime protocol this SDK's runtime speaks (`sdk_protocol` in the manifest).
pub const SDK_PROTOCOL: &str = "1";

/// A checked manifest, decoded by serde through [`crate::domain::decode`] like every other
/// core type (unknown keys, wrong types and missing keys all reported at once, each naming
/// its key); `slug` is always set after [`BackendManifest::from_json`] (the canonical form of
/// `name` when the manifest had none). Serialised, it is the manifest the package ships and
/// `/meta` serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendManifest {
    pub name: String,
    #[serde(default)]
    pub slug: String,
    pub version: String,
    pub task_type: TaskType,
    pub requires_python: String,
    pub entrypoint: String,
    pub sdk_protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_only: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The manifest keys, in the order the docs list them.
pub fn manifest_keys() -> &'static [&'static str] {
    field_names::<BackendManifest>()
}

/// What a manifest key must hold, for the "is required" message.
fn example(key: &str) -> Option<&'static str> {
    Some(match key {
        "name" => "\"my-backend\"",
        "version" => "\"0.1.0\"",
        "task_type" => "\"text2text\"",
        "requires_python" => "\">=3.9\"",
        "entrypoint" => "\"my_backend:MyBackend\"",
        "sdk_protocol" => "\"1\"",
        _ => return None,
    })
}

/// Whether `s` is a Python identifier path (`pkg.module`, `Class`): ASCII identifiers joined
/// by dots.
fn dotted_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|part| {
            let mut chars = part.chars();
            matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
                && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
        })
}

/// A `requires_python` specifier: comma-separated clauses `<op><version>` with `op` one of
/// `>=`, `<=`, `==`, `!=`, `~=`, `>`, `<` and a dotted numeric version (`==` may end in `.*`).
pub fn parse_requires_python(spec: &str) -> Result<Vec<(String, Vec<u64>, bool)>, String> {
    let mut out = Vec::new();
    for clause in spec.split(',') {
        let clause = clause.trim();
        let op = [">=", "<=", "==", "!=", "~=", ">", "<"]
            .into_iter()
            .find(|op| clause.starts_with(op))
            .ok_or_else(|| {
                format!("clause {clause:?} has no operator; write e.g. \">=3.9\" or \">=3.9,<4\"")
            })?;
        let mut version = clause[op.len()..].trim();
        let mut wildcard = false;
        if let Some(v) = version.strip_suffix(".*") {
            if op != "==" && op != "!=" {
                return Err(format!(
                    "clause {clause:?}: only == and != take a .* version"
                ));
            }
            version = v;
            wildcard = true;
        }
        let parts: Result<Vec<u64>, _> = version.split('.').map(str::parse::<u64>).collect();
        match parts {
            Ok(p) if !p.is_empty() => out.push((op.to_string(), p, wildcard)),
            _ => {
                return Err(format!(
                    "clause {clause:?}: {version:?} is not a version like 3.9"
                ))
            }
        }
    }
    Ok(out)
}

/// Whether the interpreter version `have` (e.g. `[3, 11, 4]`) satisfies `spec` (already
/// checked by [`parse_requires_python`]). Versions compare numerically, missing parts as 0.
pub fn python_satisfies(spec: &str, have: &[u64]) -> Result<bool, String> {
    let cmp = |a: &[u64], b: &[u64]| {
        let n = a.len().max(b.len());
        (0..n)
            .map(|i| {
                a.get(i)
                    .copied()
                    .unwrap_or(0)
                    .cmp(&b.get(i).copied().unwrap_or(0))
            })
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    };
    for (op, v, wildcard) in parse_requires_python(spec)? {
        let prefix_eq = have.len() >= v.len() && have[..v.len()] == v[..];
        let ord = cmp(have, &v);
        let ok = match (op.as_str(), wildcard) {
            ("==", true) => prefix_eq,
            ("!=", true) => !prefix_eq,
            ("==", false) => ord.is_eq(),
            ("!=", false) => !ord.is_eq(),
            (">=", _) => ord.is_ge(),
            ("<=", _) => ord.is_le(),
            (">", _) => ord.is_gt(),
            ("<", _) => ord.is_lt(),
            // `~=X.Y` is `>=X.Y, ==X.*`: the last part may grow, the others stay.
            ("~=", _) => {
                let keep = v.len().saturating_sub(1).max(1);
                ord.is_ge() && have.len() >= keep && have[..keep] == v[..keep]
            }
            _ => false,
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The manifest rules beyond types: strings kept as written (a blank or padded one is refused,
/// never trimmed), a known task type, this SDK's protocol, the `requires_python` grammar,
/// `module:Class`, and a canonical slug that is not a built-in backend.
fn rules(obj: &Map<String, Value>) -> Vec<FieldError> {
    let mut problems = Vec::new();
    for (key, v) in obj {
        if let Value::String(text) = v {
            if text.trim().is_empty() {
                problems.push(FieldError::new(key.clone(), "must not be blank"));
            } else if text.trim() != text {
                problems.push(FieldError::new(
                    key.clone(),
                    "starts or ends with whitespace; remove it",
                ));
            }
        }
    }
    let text = |key: &str| {
        obj.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
    };
    if let Some(t) = text("task_type") {
        if let Err(e) = TaskType::parse_strict(t, "task_type") {
            problems.push(e);
        }
    }
    if let Some(p) = text("sdk_protocol") {
        if p != SDK_PROTOCOL {
            problems.push(FieldError::new(
                "sdk_protocol",
                format!("this SDK speaks protocol \"{SDK_PROTOCOL}\", not {p:?}"),
            ));
        }
    }
    if let Some(rp) = text("requires_python") {
        if let Err(e) = parse_requires_python(rp) {
            problems.push(FieldError::new("requires_python", e));
        }
    }
    if let Some(ep) = text("entrypoint") {
        let ok = ep
            .split_once(':')
            .is_some_and(|(m, c)| dotted_identifier(m) && dotted_identifier(c));
        if !ok {
            problems.push(FieldError::new(
                "entrypoint",
                format!("{ep:?} is not \"module:Class\" (for example \"my_backend:MyBackend\")"),
            ));
        }
    }
    let (field, slug) = match (text("slug"), text("name")) {
        (Some(s), _) => ("slug", s.to_string()),
        (None, Some(n)) => ("name", canonical_slug(n)),
        (None, None) => return problems,
    };
    let canonical = canonical_slug(&slug);
    if canonical.is_empty() || canonical != slug {
        problems.push(FieldError::new(
            field,
            format!(
                "the slug {slug:?} is not canonical; use {:?} (lowercase letters, digits and single dashes)",
                if canonical.is_empty() { "my-backend" } else { &canonical }
            ),
        ));
    } else if Backend::from_wire(&slug).is_known() {
        problems.push(FieldError::new(
            field,
            format!("{slug:?} is a built-in backend; choose another slug"),
        ));
    }
    problems
}

impl BackendManifest {
    /// Parses and checks `manifest.json`; the error lists every problem, each naming its key.
    pub fn from_json(text: &str) -> Result<BackendManifest, Error> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            Error::validation(vec![FieldError::new(
                "manifest.json",
                format!("is not valid JSON: {e}"),
            )])
        })?;
        Self::from_value(&value)
    }

    /// As [`BackendManifest::from_json`], from a parsed value.
    pub fn from_value(value: &Value) -> Result<BackendManifest, Error> {
        let empty = Map::new();
        let obj = value.as_object().unwrap_or(&empty);
        // The rules serde's types do not say, on the values as written (so they are named
        // even when another key has the wrong type); then serde's own: unknown keys, types,
        // required keys.
        let mut problems = rules(obj);
        match decode::<BackendManifest>(value.clone(), "manifest.json", Role::Request, no_hint) {
            Ok(mut m) if problems.is_empty() => {
                if m.slug.is_empty() {
                    m.slug = canonical_slug(&m.name);
                }
                Ok(m)
            }
            Ok(_) => Err(Error::validation(problems)),
            Err(e) => {
                for p in e.problems.iter() {
                    if problems.iter().any(|q| q.field == p.field) {
                        continue;
                    }
                    problems.push(match (p.message.as_str(), example(&p.field)) {
                        ("is required", Some(ex)) => FieldError::new(
                            p.field.clone(),
                            format!("is required (for example \"{}\": {ex})", p.field),
                        ),
                        _ => p.clone(),
                    });
                }
                Err(Error::validation(problems))
            }
        }
    }

    /// The manifest as JSON, with `slug` filled in (what the package ships and `/meta` serves).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// A published custom backend, as `POST`/`GET /api/tenants/{tenant}/custom-backends` answer
/// it (docs/contract.md §7). The Manager renders this type and the SDK decodes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublishedBackend {
    pub id: String,
    pub slug: String,
    /// Hex SHA-256 of the archive as uploaded.
    pub sha256: String,
    pub size_bytes: u64,
    pub version: String,
    pub task_type: String,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub created_at: String,
}

/// The local Manager's one tenant: what the SDK publishes to when neither `tenant` nor
/// `INFERENCEKEY_TENANT` names another.
pub const LOCAL_TENANT: &str = "tnt_local";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> Value {
        json!({"name": "Echo Box", "version": "0.1.0", "task_type": "text2text",
               "requires_python": ">=3.9", "entrypoint": "echo:Echo", "sdk_protocol": "1"})
    }

    #[test]
    fn a_good_manifest_gets_its_slug_from_the_name() {
        let m = BackendManifest::from_value(&good()).unwrap();
        assert_eq!(m.slug, "echo-box");
        assert_eq!(m.to_value()["slug"], "echo-box");
    }

    #[test]
    fn every_problem_names_its_key() {
        let bad = json!({"name": "x", "version": 3, "task_type": "chat",
                         "requires_python": "3.9", "entrypoint": "nocolon",
                         "sdk_protocol": "2", "extra": 1});
        let err = BackendManifest::from_value(&bad).unwrap_err();
        let fields: Vec<_> = err.problems.iter().map(|p| p.field.as_str()).collect();
        for f in [
            "extra",
            "version",
            "task_type",
            "requires_python",
            "entrypoint",
            "sdk_protocol",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
        let mut missing = good();
        missing.as_object_mut().unwrap().remove("entrypoint");
        let err = BackendManifest::from_value(&missing).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("entrypoint"));
        assert!(err.message.contains("is required"), "{}", err.message);
    }

    #[test]
    fn builtin_and_non_canonical_slugs_are_refused() {
        let mut m = good();
        m["slug"] = "vllm".into();
        assert!(BackendManifest::from_value(&m).is_err());
        m["slug"] = "My Slug".into();
        let err = BackendManifest::from_value(&m).unwrap_err();
        assert!(err.message.contains("\"my-slug\""), "{}", err.message);
    }

    #[test]
    fn requires_python_is_compared_numerically() {
        assert!(python_satisfies(">=3.9", &[3, 11, 4]).unwrap());
        assert!(python_satisfies(">=3.9,<4", &[3, 10]).unwrap());
        assert!(!python_satisfies(">=3.12", &[3, 11, 4]).unwrap());
        assert!(python_satisfies("==3.11.*", &[3, 11, 4]).unwrap());
        assert!(!python_satisfies("==3.10.*", &[3, 11, 4]).unwrap());
        assert!(python_satisfies("~=3.9", &[3, 11]).unwrap());
        assert!(!python_satisfies("~=3.9", &[4, 0]).unwrap());
        assert!(parse_requires_python("3.9").is_err());
        assert!(parse_requires_python(">=x").is_err());
    }
}
