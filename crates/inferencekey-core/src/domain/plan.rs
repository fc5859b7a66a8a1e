//! A plan: the field changes `ensure()` would make. Its own leaf module because errors carry
//! a plan (`OnDrift::Fail`) and the diff produces one; with the plan inside the diff, the
//! error type would depend on the spec, the policy checker and the wire decoder.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

/// One field that differs: `field` is a dotted path (`config.command`,
/// `execution_policy_config.max_workers`); `live` is `null` when the server has no value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub field: String,
    pub live: Value,
    pub desired: Value,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} -> {}", self.field, self.live, self.desired)
    }
}

/// What `ensure()` would change, in field order.
pub type Plan = Vec<Change>;
