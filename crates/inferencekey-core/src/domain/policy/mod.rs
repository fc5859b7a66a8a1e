//! Execution policies: the config checker, and the two schedule grammars it calls (cron
//! expressions and run windows). The grammars are pure string parsers with no knowledge of
//! the config shape, so each can be read and tested alone.

mod checker;
mod cron;
mod window;

pub use checker::{default_policy_config, parse_duration, validate_policy_config, MAX_REPLICAS};
pub use cron::{parse_cron, validate_cron};
pub use window::{parse_window, validate_window, RunWindow};
