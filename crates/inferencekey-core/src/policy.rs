//! Placeholder: being written (execution_policy_config rules, CONTRACT.md §3.6).
use crate::enums::ExecutionPolicy;
use crate::error::FieldError;
use serde_json::Value;

pub fn validate_policy_config(
    _policy: Option<&ExecutionPolicy>,
    _config: Option<&Value>,
    _field: &str,
) -> Vec<FieldError> {
    Vec::new()
}

pub fn default_policy_config(_policy: &ExecutionPolicy) -> Option<Value> {
    None
}
