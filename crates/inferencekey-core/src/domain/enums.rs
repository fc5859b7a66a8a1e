//! Wire enumerations (docs/contract.md §3.5). The server's enums are open: a newer server may add
//! a task type, backend or policy, so decoding keeps any unknown string instead of failing.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::error::{Error, FieldError};

macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $other:ident, $what:literal {
            $($variant:ident => $wire:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)+
            /// A wire string this SDK version does not know; kept verbatim.
            $other(String),
        }

        impl $name {
            /// Every variant this SDK version knows, in documentation order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::$other(s) => s.as_str(),
                }
            }

            /// Decodes a wire string; never fails (unknown strings are kept).
            pub fn from_wire(s: &str) -> Self {
                match s {
                    $($wire => $name::$variant,)+
                    other => $name::$other(other.to_string()),
                }
            }

            pub fn is_known(&self) -> bool {
                !matches!(self, $name::$other(_))
            }

            /// The comma-separated list of known wire strings, for error messages.
            pub fn known_list() -> String {
                [$($wire),+].join(", ")
            }

            #[doc = concat!("Parses a user-supplied ", $what, "; unlike [`Self::from_wire`] an unknown string is an error naming `field`.")]
            pub fn parse_strict(s: &str, field: &str) -> Result<Self, FieldError> {
                let v = Self::from_wire(s);
                if v.is_known() {
                    Ok(v)
                } else {
                    Err(FieldError::new(
                        field,
                        format!("unknown {} {:?}; expected one of: {}", $what, s, Self::known_list()),
                    ))
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok(Self::from_wire(&s))
            }
        }

        /// A string: the known values are listed, but decoding keeps any other, so the schema
        /// is open (a request that must name a known one uses [`Self::known_schema`]).
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some(format!(
                        "{}: one of {}; a newer server may send another",
                        $what,
                        Self::known_list()
                    )))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}

        #[cfg(feature = "openapi")]
        impl $name {
            /// The closed schema: exactly the known wire strings.
            pub fn known_schema() -> utoipa::openapi::schema::Object {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($wire),+]))
                    .build()
            }
        }
    };
}

open_enum! {
    /// The serving engine. Any string outside the native six names a tenant's custom backend.
    Backend, Custom, "backend" {
        Ollama => "ollama",
        Vllm => "vllm",
        VllmOmni => "vllm-omni",
        Sglang => "sglang",
        Llamacpp => "llamacpp",
        Stablediffusioncpp => "stablediffusioncpp",
    }
}

impl Backend {
    /// Backends whose `config` carries the launch `command` (docs/contract.md §3.2).
    pub fn takes_command(&self) -> bool {
        !matches!(self, Backend::Ollama)
    }

    /// Backends that accept `vllm_version` in their config.
    pub fn takes_vllm_version(&self) -> bool {
        matches!(self, Backend::Vllm | Backend::VllmOmni)
    }

    /// Parses a backend given by a user: known names, or a custom backend slug. Exact: a
    /// padded `" vllm"` is refused rather than read as `vllm`, because the server stores the
    /// string it is sent.
    pub fn parse_user(s: &str, field: &str) -> Result<Self, FieldError> {
        let b = Backend::from_wire(s);
        if let Backend::Custom(name) = &b {
            let canonical = crate::domain::slug::canonical_slug(name);
            if canonical.is_empty() || canonical != *name {
                return Err(FieldError::new(
                    field,
                    format!(
                        "unknown backend {s:?}; expected one of: {} (or a custom backend slug such as \"my-engine\")",
                        Backend::known_list()
                    ),
                ));
            }
        }
        Ok(b)
    }
}

open_enum! {
    /// The modality a workload serves (13 on the wire; `text2text` is the default).
    TaskType, Other, "task_type" {
        Text2text => "text2text",
        Embedding => "embedding",
        Text2image => "text2image",
        Text2video => "text2video",
        Text2audio => "text2audio",
        Image2image => "image2image",
        Image2video => "image2video",
        Audio2text => "audio2text",
        Omni => "omni",
        Reranker => "reranker",
        Classification => "classification",
        Reward => "reward",
        Forecast => "forecast",
    }
}

impl TaskType {
    /// Task types with no synchronous OpenAI-compatible route (chat, embeddings, images,
    /// audio): `/jobs` serves them, plus [`TaskType::sync_routes`].
    pub fn is_async_only(&self) -> bool {
        matches!(
            self,
            TaskType::Reranker | TaskType::Classification | TaskType::Reward
        )
    }

    /// The synchronous data-plane routes (relative to `/endpoint/{p}/{w}/`, besides
    /// `v1/models`) an async-only task type still serves; `None` when every route is open.
    /// A reranker answers `POST /v1/rerank` (docs/contract.md §5): the public SDK's
    /// `rerank()` and its reranker examples call exactly that.
    pub fn sync_routes(&self) -> Option<&'static [&'static str]> {
        match self {
            TaskType::Reranker => Some(&["v1/rerank"]),
            TaskType::Classification | TaskType::Reward => Some(&[]),
            _ => None,
        }
    }
}

// Written by hand because the enum comes out of `open_enum!`, where `#[default]` can't go.
#[allow(clippy::derivable_impls)]
impl Default for TaskType {
    fn default() -> Self {
        TaskType::Text2text
    }
}

open_enum! {
    /// How a workload is kept running (server default `fixed`).
    ExecutionPolicy, Other, "execution_policy" {
        Fixed => "fixed",
        Scheduled => "scheduled",
        Autoscaling => "autoscaling",
    }
}

/// What `ensure()` does when the live workload differs from the spec. SDK-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OnDrift {
    #[default]
    Reconcile,
    Fail,
    DryRun,
    Warn,
    Ignore,
}

impl OnDrift {
    pub const ALL: [OnDrift; 5] = [
        OnDrift::Reconcile,
        OnDrift::Fail,
        OnDrift::DryRun,
        OnDrift::Warn,
        OnDrift::Ignore,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OnDrift::Reconcile => "reconcile",
            OnDrift::Fail => "fail",
            OnDrift::DryRun => "dry_run",
            OnDrift::Warn => "warn",
            OnDrift::Ignore => "ignore",
        }
    }
}

impl FromStr for OnDrift {
    type Err = Error;

    /// Accepts the wire form and the spellings the docs use (`dry-run`, `DryRun`, `DRY_RUN`).
    fn from_str(s: &str) -> Result<Self, Error> {
        let norm: String = s
            .trim()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match norm.as_str() {
            "reconcile" => Ok(OnDrift::Reconcile),
            "fail" => Ok(OnDrift::Fail),
            "dryrun" => Ok(OnDrift::DryRun),
            "warn" => Ok(OnDrift::Warn),
            "ignore" => Ok(OnDrift::Ignore),
            _ => Err(Error::configuration(format!(
                "unknown on_drift {s:?}; expected one of: reconcile, fail, dry_run, warn, ignore"
            ))
            .with_field("on_drift")),
        }
    }
}

impl fmt::Display for OnDrift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_strings_round_trip() {
        for b in Backend::KNOWN {
            assert_eq!(&Backend::from_wire(b.as_str()), b);
        }
        for t in TaskType::KNOWN {
            assert_eq!(&TaskType::from_wire(t.as_str()), t);
        }
        assert_eq!(TaskType::KNOWN.len(), 13);
        assert_eq!(Backend::KNOWN.len(), 6);
        for p in ExecutionPolicy::KNOWN {
            assert_eq!(&ExecutionPolicy::from_wire(p.as_str()), p);
        }
        for d in OnDrift::ALL {
            assert_eq!(d.as_str().parse::<OnDrift>().unwrap(), d);
        }
    }

    #[test]
    fn unknown_strings_are_kept() {
        let t: TaskType = serde_json::from_str("\"text2hologram\"").unwrap();
        assert_eq!(t, TaskType::Other("text2hologram".into()));
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"text2hologram\"");
        assert_eq!(
            Backend::from_wire("my-engine"),
            Backend::Custom("my-engine".into())
        );
    }

    #[test]
    fn strict_parsing_names_the_field() {
        let e = TaskType::parse_strict("text-to-text", "task_type").unwrap_err();
        assert_eq!(e.field, "task_type");
        assert!(e.message.contains("text2text"));
        assert!(Backend::parse_user("My Engine", "backend").is_err());
        assert!(Backend::parse_user(" vllm", "backend").is_err());
        assert_eq!(
            Backend::parse_user("my-engine", "backend").unwrap(),
            Backend::Custom("my-engine".into())
        );
    }

    #[test]
    fn async_only_types_name_their_sync_routes() {
        assert_eq!(TaskType::Reranker.sync_routes(), Some(&["v1/rerank"][..]));
        for t in TaskType::KNOWN {
            // Exactly the async-only types restrict their routes.
            assert_eq!(t.sync_routes().is_some(), t.is_async_only(), "{t}");
        }
        assert_eq!(TaskType::Classification.sync_routes(), Some(&[][..]));
        assert_eq!(TaskType::Text2text.sync_routes(), None);
    }

    #[test]
    fn on_drift_accepts_doc_spellings() {
        for s in ["dry_run", "DRY_RUN", "DryRun", "dry-run"] {
            assert_eq!(s.parse::<OnDrift>().unwrap(), OnDrift::DryRun);
        }
        assert!("sometimes".parse::<OnDrift>().is_err());
    }
}
