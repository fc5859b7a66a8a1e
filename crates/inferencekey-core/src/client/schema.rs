//! The field lists of the types that cross a language boundary, by name, so each binding's
//! own declaration (Python's `TypedDict`s, `Workload` attributes and `WorkloadSpec` fields,
//! Go's and Java's struct tags and records) is
//! checked against the core's by a test instead of trusted to stay in step.

use serde_json::Value;

use crate::client::config::{DataSettings, EndpointSettings, ManagementSettings};
use crate::domain::decode::field_names;
use crate::domain::request::{
    CallSettings, EmbedRequest, EnsureSettings, ForecastRequest, JobCallSettings, JobRequest,
    RerankRequest, TextRequest,
};
use crate::domain::spec::WorkloadSpec;
use crate::domain::webhook::WebhookSettings;
use crate::domain::wire::Workload;

/// The names [`type_fields`] knows.
pub const TYPES: [&str; 14] = [
    "TextRequest",
    "EmbedRequest",
    "RerankRequest",
    "ForecastRequest",
    "JobRequest",
    "ManagementSettings",
    "DataSettings",
    "EndpointSettings",
    "WebhookSettings",
    "CallSettings",
    "EnsureSettings",
    "JobCallSettings",
    "Workload",
    "WorkloadSpec",
];

/// The JSON field names of the type called `name`, or `None` for an unknown name.
pub fn type_fields(name: &str) -> Option<Vec<String>> {
    let fields: &[&str] = match name {
        "TextRequest" => field_names::<TextRequest>(),
        "EmbedRequest" => field_names::<EmbedRequest>(),
        "RerankRequest" => field_names::<RerankRequest>(),
        "ForecastRequest" => field_names::<ForecastRequest>(),
        "JobRequest" => field_names::<JobRequest>(),
        "ManagementSettings" => field_names::<ManagementSettings>(),
        "DataSettings" => field_names::<DataSettings>(),
        "EndpointSettings" => field_names::<EndpointSettings>(),
        "WebhookSettings" => field_names::<WebhookSettings>(),
        "CallSettings" => field_names::<CallSettings>(),
        "EnsureSettings" => field_names::<EnsureSettings>(),
        "JobCallSettings" => field_names::<JobCallSettings>(),
        "WorkloadSpec" => WorkloadSpec::fields(),
        // `Workload` keeps unknown fields (`#[serde(flatten)]`), so its derive lists no
        // names; the keys of an empty one serialised are its known fields.
        "Workload" => {
            return match serde_json::to_value(Workload::default()) {
                Ok(Value::Object(map)) => Some(map.keys().cloned().collect()),
                _ => None,
            }
        }
        _ => return None,
    };
    Some(fields.iter().map(|f| f.to_string()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_fields() {
        for name in TYPES {
            let fields = type_fields(name).unwrap();
            assert!(!fields.is_empty(), "{name}");
        }
        assert!(type_fields("TextRequest")
            .unwrap()
            .contains(&"frequency_penalty".to_string()));
        assert!(type_fields("Workload")
            .unwrap()
            .contains(&"execution_policy_config".to_string()));
        assert_eq!(type_fields("Nope"), None);
    }
}
