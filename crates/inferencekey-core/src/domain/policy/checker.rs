//! The `execution_policy_config` checker (docs/contract.md, "Execution policies"). The SDK checks a spec locally and the
//! local Manager checks every create and update with these same functions, so the two can
//! never disagree about what a valid policy config is.
//!
//! Validation collects every problem instead of stopping at the first, so a user fixes a
//! config in one round trip; each problem names its full path (for example
//! `execution_policy_config.workers.cloud_pool.gpu_pool[0]`) and says how to fix it.

use serde_json::{json, Map, Value};

use crate::domain::enums::ExecutionPolicy;
use crate::domain::error::FieldError;
use crate::domain::token::scrub;

use super::cron::validate_cron;
use super::window::validate_window;

/// Problems with `config` for `policy`, each naming a path under `field`.
///
/// `config` omitted is valid: the Manager fills in [`default_policy_config`]. `policy` omitted
/// means the server default, `fixed`. An unknown policy is reported by spec validation, and
/// its config shape is the newer server's business, so it is not checked here.
pub fn validate_policy_config(
    policy: Option<&ExecutionPolicy>,
    config: Option<&Value>,
    field: &str,
) -> Vec<FieldError> {
    let Some(config) = config else {
        return Vec::new();
    };
    let (kind, label) = match policy {
        None => (
            Kind::Fixed,
            "fixed (the server default when execution_policy is omitted)",
        ),
        Some(ExecutionPolicy::Fixed) => (Kind::Fixed, "fixed"),
        Some(ExecutionPolicy::Scheduled) => (Kind::Scheduled, "scheduled"),
        Some(ExecutionPolicy::Autoscaling) => (Kind::Autoscaling, "autoscaling"),
        Some(ExecutionPolicy::Other(_)) => return Vec::new(),
    };
    let mut c = Checker {
        out: Vec::new(),
        kind,
        label,
    };
    let Some(obj) = config.as_object() else {
        c.push(
            field,
            format!(
                "must be a JSON object for the {label} policy, such as {}; got {}",
                kind.example(),
                describe(config)
            ),
        );
        return c.out;
    };
    match kind {
        Kind::Fixed => c.fixed(field, obj),
        Kind::Scheduled => c.scheduled(field, obj),
        Kind::Autoscaling => c.autoscaling(field, obj),
    }
    c.out
}

/// The config the Manager stores when a spec gives a policy but no config (docs/contract.md §3.6).
///
/// Autoscaling defaults to at most one worker on the cloud pool named `"local"` — the local
/// Manager's own machine, which it registers as its default pool — under a $1/h ceiling, so an
/// unconfigured workload can never scale out or spend more than one worker's worth.
/// `scheduled` has no sensible default (any guessed schedule would be wrong), so it is `None`
/// and the Manager asks for a `cron` or `window`; an unknown policy is `None` too.
pub fn default_policy_config(policy: &ExecutionPolicy) -> Option<Value> {
    match policy {
        ExecutionPolicy::Fixed => Some(json!({"replicas": 1})),
        ExecutionPolicy::Autoscaling => Some(json!({
            "min_workers": 0,
            "max_workers": 1,
            "max_hourly_cost_usd": 1.0,
            "workers": {"source": "cloud", "cloud_pool": {"gpu_pool": ["local"]}},
        })),
        ExecutionPolicy::Scheduled | ExecutionPolicy::Other(_) => None,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Cloud,
    Private,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Fixed,
    Scheduled,
    Autoscaling,
}

impl Kind {
    fn example(self) -> &'static str {
        match self {
            Kind::Fixed => r#"{"replicas": 1}"#,
            Kind::Scheduled => {
                r#"{"cron": "0 2 * * *"} or {"window": "Mon-Fri 08:00-20:00 Europe/Madrid"}"#
            }
            Kind::Autoscaling => {
                r#"{"min_workers": 0, "max_workers": 5, "max_hourly_cost_usd": 5.0, "workers": {"source": "cloud", "cloud_pool": {"gpu_pool": ["NVIDIA A100-SXM4-80GB"]}}}"#
            }
        }
    }
}

const FIXED_KEYS: &[&str] = &["replicas"];
const SCHEDULED_KEYS: &[&str] = &["cron", "window", "duration", "idle_timeout_s"];
const AUTOSCALING_KEYS: &[&str] = &[
    "target_concurrency",
    "scale_up_delay_s",
    "scale_down_delay_s",
    "idle_timeout_s",
    "metrics_window_s",
    "min_workers",
    "max_workers",
    "max_hourly_cost_usd",
    "workers",
    "gpu_pool",
];
const WORKERS_KEYS: &[&str] = &["source", "cloud_pool", "private_worker_ids"];
const CLOUD_POOL_KEYS: &[&str] = &[
    "gpu_pool",
    "max_hourly_cost_usd",
    "max_instances",
    "allowed_cuda_versions",
];

const WORKERS_SHAPES: &str = r#"{"source": "cloud", "cloud_pool": {"gpu_pool": ["<GPU display name>"]}} for cloud GPUs, or {"source": "private", "private_worker_ids": ["<worker id>"]} for your own registered workers"#;

/// `path.key`, with any token in the key scrubbed: paths end up in error text and logs.
fn join(path: &str, key: &str) -> String {
    format!("{path}.{}", scrub(key))
}

/// A short, secret-free description of a value for "got …" in messages.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => {
            let shown: String = scrub(s).chars().take(40).collect();
            format!("the string {shown:?}")
        }
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// The value as an integer. Counts are written as JSON integers: `2.0` and `1e2` are floats
/// (serde reads them as such), and accepting them once meant `replicas: 2.0` silently ran one
/// replica. Booleans and numeric strings are not numbers.
fn whole(v: &Value) -> Option<i64> {
    v.as_number()?.as_i64()
}

/// The most replicas (or workers) one workload may ask for. A Manager may cap the total over
/// all its workloads lower (`--max-replicas`).
pub const MAX_REPLICAS: i64 = 64;

/// A cron schedule's `duration`: whole units of `h`, `m` and `s` (`"2h"`, `"1h30m"`), more
/// than zero. Hand-written: three suffixes are less than a dependency, and the Manager reads
/// `duration` with this same function.
pub fn parse_duration(s: &str) -> Option<std::time::Duration> {
    let (mut total, mut digits, mut any) = (0u64, String::new(), false);
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        total = total.checked_add(digits.parse::<u64>().ok()?.checked_mul(unit)?)?;
        digits.clear();
        any = true;
    }
    (any && digits.is_empty() && total > 0).then(|| std::time::Duration::from_secs(total))
}

/// Where the config belongs instead, for keys of another policy or another nesting level.
fn misplaced_hint(kind: Kind, key: &str) -> Option<String> {
    let autoscaling = kind == Kind::Autoscaling;
    let fixed = kind == Kind::Fixed;
    let hint = match key {
        "min_replicas" | "max_replicas" if autoscaling => format!(
            "the autoscaling bounds are min_workers / max_workers: rename {key} to {}",
            key.replace("replicas", "workers")
        ),
        "min_replicas" | "max_replicas" if fixed => "fixed runs a constant number of replicas: use replicas (or execution_policy \"autoscaling\" with min_workers / max_workers)".into(),
        "min_replicas" | "max_replicas" => format!(
            "bounds belong to execution_policy \"autoscaling\" and are named min_workers / max_workers, not {key}"
        ),
        "replicas" if autoscaling => {
            "autoscaling has no fixed replica count: set min_workers / max_workers".into()
        }
        "replicas" => "replicas belongs to execution_policy \"fixed\"".into(),
        "cron" | "window" => format!("{key} belongs to execution_policy \"scheduled\""),
        "min_workers" | "max_workers" | "max_hourly_cost_usd" | "workers" | "gpu_pool" => {
            format!("{key} belongs to execution_policy \"autoscaling\"")
        }
        "max_instances" | "allowed_cuda_versions" if autoscaling => {
            format!("{key} belongs in workers.cloud_pool")
        }
        "source" | "cloud_pool" | "private_worker_ids" if autoscaling => {
            format!("{key} belongs inside workers: {WORKERS_SHAPES}")
        }
        _ => return None,
    };
    Some(hint)
}

struct Checker {
    out: Vec<FieldError>,
    kind: Kind,
    /// The policy being checked, as named in messages.
    label: &'static str,
}

impl Checker {
    fn push(&mut self, path: &str, message: impl Into<String>) {
        self.out.push(FieldError::new(path, message));
    }

    /// Reports every key of `obj` outside `allowed`, with a hint when it belongs elsewhere.
    fn unknown_keys(&mut self, path: &str, obj: &Map<String, Value>, allowed: &[&str]) {
        for key in obj.keys().filter(|k| !allowed.contains(&k.as_str())) {
            let policy = self.label;
            let hint = misplaced_hint(self.kind, key)
                .map(|h| format!("{h}; "))
                .unwrap_or_default();
            self.push(
                &join(path, key),
                format!(
                    "unknown key for the {policy} policy; {hint}allowed keys here: {}",
                    allowed.join(", ")
                ),
            );
        }
    }

    /// An integer ≥ `min`; `None` (after reporting) when it is not.
    fn int_at_least(&mut self, path: &str, v: &Value, min: i64, why: &str) -> Option<i64> {
        self.int_in(path, v, min, i64::MAX, why)
    }

    /// An integer in `min..=max`; `None` (after reporting) when it is not.
    fn int_in(&mut self, path: &str, v: &Value, min: i64, max: i64, why: &str) -> Option<i64> {
        let limit = if max == i64::MAX {
            String::new()
        } else {
            format!(" and ≤ {max}")
        };
        match whole(v) {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(n) if n < min => {
                self.push(path, format!("must be at least {min}{why}; got {n}"));
                None
            }
            Some(n) => {
                self.push(
                    path,
                    format!("must be at most {max} (the per-workload limit); got {n}"),
                );
                None
            }
            None => {
                let float = v.as_number().and_then(|n| n.as_f64());
                let problem = match float {
                    Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!(
                        "must be written as an integer such as {}, not {}; use an integer ≥ {min}{limit}{why}",
                        f as i64,
                        describe(v)
                    ),
                    Some(f) if f.fract() == 0.0 => {
                        format!("is too large; use an integer ≥ {min}{limit}{why}")
                    }
                    _ => format!("must be a whole number ≥ {min}{limit}{why}; got {}", describe(v)),
                };
                self.push(path, problem);
                None
            }
        }
    }

    /// A number of seconds ≥ `min` (fractions allowed: delays and windows are durations).
    fn seconds(&mut self, path: &str, v: &Value, min: f64) {
        match v.as_number().and_then(|n| n.as_f64()) {
            Some(f) if f >= min && f <= 31_536_000.0 => {}
            _ => self.push(
                path,
                format!(
                    "must be a number of seconds ≥ {min} and at most a year (31536000), such as 30; got {}",
                    describe(v)
                ),
            ),
        }
    }

    /// A cost ceiling: a number of US dollars per hour, greater than 0.
    fn positive(&mut self, path: &str, v: &Value) {
        match v.as_number().and_then(|n| n.as_f64()) {
            Some(f) if f > 0.0 => {}
            _ => self.push(
                path,
                format!(
                    "must be a number of US dollars per hour greater than 0, such as 5.0; got {}",
                    describe(v)
                ),
            ),
        }
    }

    /// A non-empty list of non-blank strings; `what` names an element for messages.
    fn string_list(&mut self, path: &str, v: &Value, what: &str) {
        let Some(items) = v.as_array() else {
            self.push(
                path,
                format!(
                    "must be a list of {what}s such as [\"...\"]; got {}",
                    describe(v)
                ),
            );
            return;
        };
        if items.is_empty() {
            self.push(path, format!("must list at least one {what}"));
        }
        for (i, item) in items.iter().enumerate() {
            match item.as_str() {
                Some(s) if !s.trim().is_empty() => {}
                Some(_) => self.push(
                    &format!("{path}[{i}]"),
                    format!("must be a non-blank {what}; remove the empty entry"),
                ),
                None => self.push(
                    &format!("{path}[{i}]"),
                    format!("must be a {what} (a string); got {}", describe(item)),
                ),
            }
        }
    }

    fn fixed(&mut self, path: &str, obj: &Map<String, Value>) {
        self.unknown_keys(path, obj, FIXED_KEYS);
        match obj.get("replicas") {
            Some(v) => {
                self.int_in(&join(path, "replicas"), v, 1, MAX_REPLICAS, "");
            }
            None => self.push(
                &join(path, "replicas"),
                format!(
                    "is required for the {} policy when a config is given, e.g. {{\"replicas\": 1}}; or omit the config for 1 replica",
                    self.label
                ),
            ),
        }
    }

    fn scheduled(&mut self, path: &str, obj: &Map<String, Value>) {
        self.unknown_keys(path, obj, SCHEDULED_KEYS);
        let (cron, window) = (obj.get("cron"), obj.get("window"));
        match (cron, window) {
            (None, None) => self.push(
                path,
                "the scheduled policy needs exactly one of cron (e.g. \"0 2 * * *\") or window (e.g. \"Mon-Fri 08:00-20:00 Europe/Madrid\"); neither is set",
            ),
            (Some(_), Some(_)) => self.push(
                path,
                "the scheduled policy takes exactly one of cron or window, not both; keep one and remove the other",
            ),
            _ => {}
        }
        self.cron_lifetime(path, obj, window.is_some());
        for (key, v, check) in [
            (
                "cron",
                cron,
                validate_cron as fn(&str) -> Result<(), String>,
            ),
            ("window", window, validate_window),
        ] {
            let Some(v) = v else { continue };
            let p = join(path, key);
            match v.as_str() {
                Some(s) => {
                    if let Err(msg) = check(s) {
                        self.push(&p, msg);
                    }
                }
                None => self.push(&p, format!("must be a string; got {}", describe(v))),
            }
        }
    }

    /// How long a cron fire keeps the workload up: `duration` or `idle_timeout_s`, not both
    /// (neither: one hour). A window says its own end, so it takes neither.
    fn cron_lifetime(&mut self, path: &str, obj: &Map<String, Value>, window: bool) {
        let (duration, idle) = (obj.get("duration"), obj.get("idle_timeout_s"));
        for (key, v) in [("duration", duration), ("idle_timeout_s", idle)] {
            if v.is_some() && window {
                self.push(
                    &join(path, key),
                    format!("applies to cron schedules only: a window already says when it ends; remove {key}"),
                );
            }
        }
        if window {
            return;
        }
        if duration.is_some() && idle.is_some() {
            self.push(
                &join(path, "idle_timeout_s"),
                "a cron schedule stays up for a fixed duration or until idle, not both; keep duration or idle_timeout_s",
            );
        }
        if let Some(v) = duration {
            let ok = v.as_str().is_some_and(|d| parse_duration(d).is_some());
            if !ok {
                self.push(
                    &join(path, "duration"),
                    format!(
                        "must be a duration string of whole hours, minutes and seconds such as \"2h\", \"90m\" or \"1h30m\"; got {}",
                        describe(v)
                    ),
                );
            }
        }
        if let Some(v) = idle {
            self.int_in(&join(path, "idle_timeout_s"), v, 1, 31_536_000, " seconds");
        }
    }

    fn autoscaling(&mut self, path: &str, obj: &Map<String, Value>) {
        for key in ["scale_up_delay_s", "scale_down_delay_s", "idle_timeout_s"] {
            if let Some(v) = obj.get(key) {
                self.seconds(&join(path, key), v, 0.0);
            }
        }
        if let Some(v) = obj.get("metrics_window_s") {
            self.seconds(&join(path, "metrics_window_s"), v, 1.0);
        }
        if let Some(v) = obj.get("target_concurrency") {
            match v.as_number().and_then(|n| n.as_f64()) {
                Some(f) if f > 0.0 && f <= 10_000.0 => {}
                _ => self.push(
                    &join(path, "target_concurrency"),
                    format!(
                        "must be a number of requests in flight per replica, greater than 0 and at most 10000, such as 2; got {}",
                        describe(v)
                    ),
                ),
            }
        }
        let legacy = obj.contains_key("gpu_pool") && !obj.contains_key("workers");
        let mut allowed = AUTOSCALING_KEYS.to_vec();
        if legacy {
            // Reported below with the specific fix rather than as an unknown key.
            allowed.push("allowed_cuda_versions");
        }
        self.unknown_keys(path, obj, &allowed);

        let min = match obj.get("min_workers") {
            Some(v) => self.int_in(&join(path, "min_workers"), v, 0, MAX_REPLICAS, ""),
            None => Some(0),
        };
        match obj.get("max_workers") {
            Some(v) => {
                let floor = min.unwrap_or(0).max(1);
                let why = if floor > 1 {
                    " (it may not be below min_workers)"
                } else {
                    ""
                };
                self.int_in(&join(path, "max_workers"), v, floor, MAX_REPLICAS, why);
            }
            None => self.push(
                &join(path, "max_workers"),
                "is required: the most workers autoscaling may run (at least 1 and at least min_workers)",
            ),
        }

        let cost_path = join(path, "max_hourly_cost_usd");
        if let Some(v) = obj.get("max_hourly_cost_usd") {
            self.positive(&cost_path, v);
        }

        let cloud = match (obj.get("workers"), obj.get("gpu_pool")) {
            (Some(workers), Some(_)) => {
                self.push(
                    &join(path, "gpu_pool"),
                    "give the GPU pool in one place: workers.cloud_pool.gpu_pool (preferred) or the legacy root gpu_pool, not both; remove the root gpu_pool",
                );
                self.workers(path, workers) == Some(Source::Cloud)
            }
            (Some(workers), None) => self.workers(path, workers) == Some(Source::Cloud),
            (None, Some(pool)) => {
                self.string_list(&join(path, "gpu_pool"), pool, "GPU display name");
                if obj.contains_key("allowed_cuda_versions") {
                    self.push(
                        &join(path, "allowed_cuda_versions"),
                        "the legacy flat gpu_pool form cannot carry allowed_cuda_versions; move both gpu_pool and allowed_cuda_versions into workers.cloud_pool (with workers.source \"cloud\")",
                    );
                }
                true
            }
            (None, None) => {
                self.push(
                    &join(path, "workers"),
                    format!("is required: {WORKERS_SHAPES} (a flat gpu_pool at the root is the legacy cloud form)"),
                );
                false
            }
        };
        if cloud && !obj.contains_key("max_hourly_cost_usd") {
            self.push(
                &cost_path,
                "is required for cloud autoscaling: a cost ceiling in US dollars per hour greater than 0, e.g. 5.0",
            );
        }
    }

    /// Checks `workers` and returns its source when that is usable.
    fn workers(&mut self, root: &str, v: &Value) -> Option<Source> {
        let path = join(root, "workers");
        let Some(obj) = v.as_object() else {
            self.push(
                &path,
                format!("must be an object: {WORKERS_SHAPES}; got {}", describe(v)),
            );
            return None;
        };
        self.unknown_keys(&path, obj, WORKERS_KEYS);
        let source_path = join(&path, "source");
        let source = match obj.get("source") {
            Some(Value::String(s)) if s == "cloud" => Some(Source::Cloud),
            Some(Value::String(s)) if s == "private" => Some(Source::Private),
            Some(other) => {
                self.push(
                    &source_path,
                    format!("must be \"cloud\" or \"private\"; got {}", describe(other)),
                );
                None
            }
            None => {
                self.push(
                    &source_path,
                    "is required: \"cloud\" (with cloud_pool) or \"private\" (with private_worker_ids)",
                );
                None
            }
        };
        let pool_path = join(&path, "cloud_pool");
        let ids_path = join(&path, "private_worker_ids");
        let (pool, ids) = (obj.get("cloud_pool"), obj.get("private_worker_ids"));
        match source {
            Some(Source::Cloud) => {
                match pool {
                    Some(pool) => self.cloud_pool(&pool_path, pool),
                    None => self.push(
                        &pool_path,
                        "is required for source \"cloud\": {\"gpu_pool\": [\"<GPU display name from the catalog>\"]}",
                    ),
                }
                if ids.is_some() {
                    self.push(
                        &ids_path,
                        "only applies to source \"private\"; remove it, or set source to \"private\" and drop cloud_pool",
                    );
                }
            }
            Some(Source::Private) => {
                match ids {
                    Some(ids) => self.string_list(&ids_path, ids, "registered worker id"),
                    None => self.push(
                        &ids_path,
                        "is required for source \"private\": the ids of your registered workers, e.g. [\"wrk_...\"]",
                    ),
                }
                if pool.is_some() {
                    self.push(
                        &pool_path,
                        "only applies to source \"cloud\"; remove it, or set source to \"cloud\" and drop private_worker_ids",
                    );
                }
            }
            None => {
                // The source is unusable; still check whatever was given under it.
                if let Some(pool) = pool {
                    self.cloud_pool(&pool_path, pool);
                }
                if let Some(ids) = ids {
                    self.string_list(&ids_path, ids, "registered worker id");
                }
            }
        }
        source
    }

    fn cloud_pool(&mut self, path: &str, v: &Value) {
        let Some(obj) = v.as_object() else {
            self.push(
                path,
                format!(
                    "must be an object such as {{\"gpu_pool\": [\"NVIDIA A100-SXM4-80GB\"]}}; got {}",
                    describe(v)
                ),
            );
            return;
        };
        self.unknown_keys(path, obj, CLOUD_POOL_KEYS);
        match obj.get("gpu_pool") {
            Some(pool) => self.string_list(&join(path, "gpu_pool"), pool, "GPU display name"),
            None => self.push(
                &join(path, "gpu_pool"),
                "is required: a non-empty list of GPU display names from the cloud catalog, e.g. [\"NVIDIA A100-SXM4-80GB\"]",
            ),
        }
        if let Some(v) = obj.get("max_hourly_cost_usd") {
            self.positive(&join(path, "max_hourly_cost_usd"), v);
        }
        if let Some(v) = obj.get("max_instances") {
            self.int_at_least(&join(path, "max_instances"), v, 1, "");
        }
        if let Some(v) = obj.get("allowed_cuda_versions") {
            self.cuda_versions(&join(path, "allowed_cuda_versions"), v);
        }
    }

    fn cuda_versions(&mut self, path: &str, v: &Value) {
        let Some(items) = v.as_array() else {
            self.push(
                path,
                format!(
                    "must be a list of CUDA versions such as [\"13.0\"]; got {}",
                    describe(v)
                ),
            );
            return;
        };
        if items.is_empty() {
            self.push(
                path,
                "must list at least one CUDA version such as \"13.0\"; omit it to allow any",
            );
        }
        for (i, item) in items.iter().enumerate() {
            let ok = item.as_str().is_some_and(is_cuda_version);
            if !ok {
                self.push(
                    &format!("{path}[{i}]"),
                    format!(
                        "must be a CUDA version string such as \"13.0\" or \"12.4\"; got {}",
                        describe(item)
                    ),
                );
            }
        }
    }
}

/// `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`, all digits.
fn is_cuda_version(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const P: &str = "execution_policy_config";

    fn check(policy: Option<ExecutionPolicy>, config: Value) -> Vec<FieldError> {
        validate_policy_config(policy.as_ref(), Some(&config), P)
    }

    fn cloud(extra: Value) -> Value {
        let mut base = json!({
            "min_workers": 0, "max_workers": 5, "max_hourly_cost_usd": 5.0,
            "workers": {"source": "cloud", "cloud_pool": {"gpu_pool": ["NVIDIA A100-SXM4-80GB"]}}
        });
        merge(&mut base, extra);
        base
    }

    fn private(extra: Value) -> Value {
        let mut base = json!({
            "min_workers": 1, "max_workers": 4,
            "workers": {"source": "private", "private_worker_ids": ["wrk_7Yc2abcd"]}
        });
        merge(&mut base, extra);
        base
    }

    /// Overlays `extra` on `base`; a `null` in `extra` removes the key.
    fn merge(base: &mut Value, extra: Value) {
        let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) else {
            return;
        };
        for (k, v) in e {
            match (b.get_mut(&k), v) {
                (_, Value::Null) => {
                    b.remove(&k);
                }
                (Some(existing @ Value::Object(_)), v @ Value::Object(_)) => merge(existing, v),
                (_, v) => {
                    b.insert(k, v);
                }
            }
        }
    }

    /// Every policy config shown in the seed docs (003 "Backends & policies", 004 "Three axes").
    fn seed_configs() -> Vec<(ExecutionPolicy, Value)> {
        use ExecutionPolicy::*;
        let cloud_pool = |n: u32| {
            json!({
                "min_workers": 0, "max_workers": n, "max_hourly_cost_usd": 5.0,
                "workers": {"source": "cloud", "cloud_pool": {
                    "gpu_pool": ["NVIDIA A100-SXM4-80GB"], "max_hourly_cost_usd": 5.0, "max_instances": n,
                }},
            })
        };
        vec![
            (Fixed, json!({"replicas": 1})),
            (Fixed, json!({"replicas": 2})),
            (Scheduled, json!({"cron": "0 2 * * *"})),
            (Scheduled, json!({"cron": "0 1 * * *"})),
            (Scheduled, json!({"cron": "0 6 * * *"})),
            (Scheduled, json!({"cron": "0 0 * * *"})),
            (
                Scheduled,
                json!({"window": "Mon-Fri 08:00-20:00 Europe/Madrid"}),
            ),
            (
                Autoscaling,
                json!({
                    "min_workers": 0, "max_workers": 5, "max_hourly_cost_usd": 5.0,
                    "workers": {"source": "cloud", "cloud_pool": {
                        "gpu_pool": ["NVIDIA A100-SXM4-80GB"], "max_hourly_cost_usd": 5.0,
                        "max_instances": 5, "allowed_cuda_versions": ["13.0"],
                    }},
                }),
            ),
            (Autoscaling, cloud_pool(3)),
            (Autoscaling, cloud_pool(4)),
            (Autoscaling, cloud_pool(6)),
            (
                Autoscaling,
                json!({
                    "min_workers": 1, "max_workers": 4,
                    "workers": {"source": "private", "private_worker_ids": ["wrk_7Yc2abcd"]},
                }),
            ),
        ]
    }

    #[test]
    fn seed_configs_are_valid() {
        for (policy, config) in seed_configs() {
            assert_eq!(
                check(Some(policy.clone()), config.clone()),
                vec![],
                "{policy} {config}"
            );
        }
    }

    #[test]
    fn omitted_config_is_valid_for_every_policy() {
        for p in ExecutionPolicy::KNOWN {
            assert!(validate_policy_config(Some(p), None, P).is_empty());
        }
        assert!(validate_policy_config(None, None, P).is_empty());
    }

    #[test]
    fn defaults_are_valid_configs() {
        for p in ExecutionPolicy::KNOWN {
            if let Some(config) = default_policy_config(p) {
                assert_eq!(check(Some(p.clone()), config.clone()), vec![], "{p}");
            }
        }
        assert_eq!(
            default_policy_config(&ExecutionPolicy::Fixed),
            Some(json!({"replicas": 1}))
        );
        assert_eq!(
            default_policy_config(&ExecutionPolicy::Autoscaling).unwrap()["workers"]["cloud_pool"]
                ["gpu_pool"],
            json!(["local"])
        );
        assert_eq!(default_policy_config(&ExecutionPolicy::Scheduled), None);
        assert_eq!(
            default_policy_config(&ExecutionPolicy::Other("burst".into())),
            None
        );
    }

    #[test]
    fn omitted_policy_means_fixed() {
        assert!(check(None, json!({"replicas": 3})).is_empty());
        let errs = check(None, json!({"cron": "0 2 * * *"}));
        assert!(errs
            .iter()
            .any(|e| e.field == "execution_policy_config.cron"
                && e.message.contains("server default")
                && e.message.contains("scheduled")));
    }

    #[test]
    fn unknown_policy_is_not_checked() {
        let other = Some(ExecutionPolicy::Other("burst".into()));
        assert!(check(other.clone(), json!({"anything": true})).is_empty());
        assert!(check(other, json!("not an object")).is_empty());
    }

    #[test]
    fn autoscaling_timing_keys() {
        let a = Some(ExecutionPolicy::Autoscaling);
        let ok = cloud(
            json!({"min_workers": 0, "max_workers": 4, "target_concurrency": 2,
            "scale_up_delay_s": 30, "scale_down_delay_s": 600.5, "idle_timeout_s": 0,
            "metrics_window_s": 10}),
        );
        assert!(check(a.clone(), ok).is_empty());
        for (key, bad) in [
            ("target_concurrency", json!(0)),
            ("target_concurrency", json!("2")),
            ("scale_up_delay_s", json!(-1)),
            ("scale_down_delay_s", json!(true)),
            ("idle_timeout_s", json!(1e12)),
            ("metrics_window_s", json!(0)),
        ] {
            let errs = check(a.clone(), cloud(json!({ key: bad })));
            assert_eq!(errs.len(), 1, "{key}={bad}: {errs:?}");
            assert_eq!(errs[0].field, format!("execution_policy_config.{key}"));
        }
    }

    #[test]
    fn cron_lifetime_keys() {
        let s = Some(ExecutionPolicy::Scheduled);
        for ok in [
            json!({"cron": "0 2 * * *", "duration": "2h"}),
            json!({"cron": "0 2 * * *", "duration": "1h30m"}),
            json!({"cron": "0 2 * * *", "idle_timeout_s": 600}),
            json!({"cron": "0 2 * * *"}),
        ] {
            assert!(check(s.clone(), ok.clone()).is_empty(), "{ok}");
        }
        for (bad, field) in [
            (
                json!({"cron": "0 2 * * *", "duration": "2 hours"}),
                "duration",
            ),
            (json!({"cron": "0 2 * * *", "duration": 7200}), "duration"),
            (
                json!({"cron": "0 2 * * *", "idle_timeout_s": 0}),
                "idle_timeout_s",
            ),
            (
                json!({"cron": "0 2 * * *", "idle_timeout_s": 60.0}),
                "idle_timeout_s",
            ),
            (
                json!({"cron": "0 2 * * *", "duration": "2h", "idle_timeout_s": 60}),
                "idle_timeout_s",
            ),
            (
                json!({"window": "Mon-Fri 08:00-20:00 UTC", "duration": "2h"}),
                "duration",
            ),
        ] {
            let errs = check(s.clone(), bad.clone());
            assert_eq!(errs.len(), 1, "{bad}: {errs:?}");
            assert_eq!(errs[0].field, format!("execution_policy_config.{field}"));
        }
        assert_eq!(
            parse_duration("90m"),
            Some(std::time::Duration::from_secs(5400))
        );
        for bad in ["", "2", "h", "2d", "0s", "1.5h", "-1h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    /// Finding 13 of issue #19: counts are integers within the documented limits.
    #[test]
    fn counts_are_integers_within_limits() {
        let a = Some(ExecutionPolicy::Autoscaling);
        for (config, field) in [
            (json!({"min_workers": 1.0, "max_workers": 2}), "min_workers"),
            (json!({"min_workers": 0, "max_workers": 1e2}), "max_workers"),
            (json!({"min_workers": 0, "max_workers": 65}), "max_workers"),
            (json!({"min_workers": 65, "max_workers": 65}), "min_workers"),
        ] {
            let errs = check(a.clone(), cloud(config.clone()));
            assert!(
                errs.iter()
                    .any(|e| e.field == format!("execution_policy_config.{field}")),
                "{config}: {errs:?}"
            );
        }
    }

    #[test]
    fn whole_numbers() {
        let fixed = Some(ExecutionPolicy::Fixed);
        assert!(check(fixed.clone(), json!({"replicas": 2})).is_empty());
        assert!(check(fixed.clone(), json!({"replicas": 64})).is_empty());
        for bad in [
            json!(2.0),
            json!(1e2),
            json!(65),
            json!(1_000_000),
            json!(1.5),
            json!(true),
            json!("2"),
            json!(0),
            json!(-3),
            json!(null),
        ] {
            let errs = check(fixed.clone(), json!({ "replicas": bad }));
            assert_eq!(errs.len(), 1, "{bad}");
            assert_eq!(errs[0].field, "execution_policy_config.replicas");
        }
        let errs = check(fixed.clone(), json!({"replicas": 1e300}));
        assert!(errs[0].message.contains("too large"), "{}", errs[0].message);
        let errs = check(fixed.clone(), json!({"replicas": 2.0}));
        assert!(
            errs[0].message.contains("written as an integer such as 2"),
            "{}",
            errs[0].message
        );
        let errs = check(fixed, json!({"replicas": 1_000_000}));
        assert!(
            errs[0].message.contains("at most 64"),
            "{}",
            errs[0].message
        );
    }

    #[test]
    fn min_workers_defaults_to_zero_and_max_may_equal_min() {
        let a = Some(ExecutionPolicy::Autoscaling);
        assert!(check(a.clone(), cloud(json!({"min_workers": null}))).is_empty());
        assert!(check(
            a.clone(),
            cloud(json!({"min_workers": 3, "max_workers": 3}))
        )
        .is_empty());
        assert!(check(a, private(json!({"max_hourly_cost_usd": 2.5}))).is_empty());
    }

    #[test]
    fn legacy_flat_gpu_pool_is_accepted() {
        let legacy = json!({"min_workers": 0, "max_workers": 2, "max_hourly_cost_usd": 3, "gpu_pool": ["RTX 4090"]});
        assert!(check(Some(ExecutionPolicy::Autoscaling), legacy).is_empty());
    }

    #[test]
    fn every_problem_is_collected() {
        let errs = check(
            Some(ExecutionPolicy::Autoscaling),
            json!({"min_replicas": 0, "max_replicas": 5, "max_hourly_cost_usd": 0}),
        );
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "execution_policy_config.min_replicas",
            "execution_policy_config.max_replicas",
            "execution_policy_config.max_workers",
            "execution_policy_config.max_hourly_cost_usd",
            "execution_policy_config.workers",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
    }

    #[test]
    fn invalid_configs_name_field_and_fix() {
        use ExecutionPolicy::*;
        let a = Autoscaling;
        #[rustfmt::skip]
        let cases: Vec<(Option<ExecutionPolicy>, Value, &str, &str)> = vec![
            // fixed
            (Some(Fixed), json!(5), "", "must be a JSON object"),
            (Some(Fixed), json!([]), "", "{\"replicas\": 1}"),
            (Some(Fixed), json!({}), ".replicas", "is required"),
            (Some(Fixed), json!({"replicas": 0}), ".replicas", "at least 1"),
            (Some(Fixed), json!({"replicas": -1}), ".replicas", "at least 1"),
            (Some(Fixed), json!({"replicas": 1.5}), ".replicas", "whole number"),
            (Some(Fixed), json!({"replicas": true}), ".replicas", "boolean"),
            (Some(Fixed), json!({"replicas": "2"}), ".replicas", "string"),
            (Some(Fixed), json!({"replicas": 1, "min_replicas": 1}), ".min_replicas", "constant number"),
            (Some(Fixed), json!({"replicas": 1, "cron": "0 2 * * *"}), ".cron", "\"scheduled\""),
            (Some(Fixed), json!({"replicas": 1, "replica": 2}), ".replica", "allowed keys here: replicas"),
            (None, json!({"min_workers": 0, "max_workers": 2}), ".min_workers", "server default"),
            // scheduled
            (Some(Scheduled), json!({}), "", "exactly one of cron"),
            (Some(Scheduled), json!({"cron": "0 2 * * *", "window": "Daily 08:00-20:00 UTC"}), "", "not both"),
            (Some(Scheduled), json!({"cron": 5}), ".cron", "must be a string"),
            (Some(Scheduled), json!({"cron": "0 0 2 * * *"}), ".cron", "seconds"),
            (Some(Scheduled), json!({"cron": "0 2 * *"}), ".cron", "has 4 field"),
            (Some(Scheduled), json!({"cron": "61 * * * *"}), ".cron", "not a valid cron"),
            (Some(Scheduled), json!({"cron": "@daily"}), ".cron", "\"0 0 * * *\""),
            (Some(Scheduled), json!({"cron": "0 0 L * *"}), ".cron", "non-standard"),
            (Some(Scheduled), json!({"cron": "0 0 * * 5#2"}), ".cron", "Quartz"),
            (Some(Scheduled), json!({"cron": "0 2 * * *", "replicas": 1}), ".replicas", "\"fixed\""),
            (Some(Scheduled), json!({"window": "Mon-Fri 08:00-20:00"}), ".window", "needs 3"),
            (Some(Scheduled), json!({"window": "Mon-Fri 08:00-20:00 Mars/Olympus"}), ".window", "unknown time zone"),
            (Some(Scheduled), json!({"window": "Mon-Fri 08:00-08:00 UTC"}), ".window", "same time"),
            (Some(Scheduled), json!({"window": "Mon-Fry 08:00-20:00 UTC"}), ".window", "unknown day"),
            (Some(Scheduled), json!({"window": "Mon-Fri 8:00-20:00 UTC"}), ".window", "HH:MM"),
            (Some(Scheduled), json!({"window": "Mon-Fri 08:00-24:00 UTC"}), ".window", "00:00"),
            (Some(Scheduled), json!({"window": ["Mon-Fri 08:00-20:00 UTC"]}), ".window", "a list"),
            // autoscaling bounds
            (Some(a.clone()), cloud(json!({"min_workers": null, "min_replicas": 0})), ".min_replicas", "rename min_replicas to min_workers"),
            (Some(a.clone()), cloud(json!({"max_workers": null, "max_replicas": 5})), ".max_replicas", "rename max_replicas to max_workers"),
            (Some(a.clone()), cloud(json!({"max_workers": null})), ".max_workers", "is required"),
            (Some(a.clone()), cloud(json!({"max_workers": 0})), ".max_workers", "at least 1"),
            (Some(a.clone()), cloud(json!({"min_workers": 3, "max_workers": 2})), ".max_workers", "below min_workers"),
            (Some(a.clone()), cloud(json!({"min_workers": -1})), ".min_workers", "at least 0"),
            (Some(a.clone()), cloud(json!({"min_workers": true})), ".min_workers", "boolean"),
            (Some(a.clone()), cloud(json!({"replicas": 2})), ".replicas", "min_workers / max_workers"),
            (Some(a.clone()), cloud(json!({"max_instances": 2})), ".max_instances", "workers.cloud_pool"),
            (Some(a.clone()), cloud(json!({"window": "Daily 08:00-20:00 UTC"})), ".window", "\"scheduled\""),
            // autoscaling cost
            (Some(a.clone()), cloud(json!({"max_hourly_cost_usd": null})), ".max_hourly_cost_usd", "is required for cloud"),
            (Some(a.clone()), cloud(json!({"max_hourly_cost_usd": 0})), ".max_hourly_cost_usd", "greater than 0"),
            (Some(a.clone()), cloud(json!({"max_hourly_cost_usd": "5"})), ".max_hourly_cost_usd", "string"),
            (Some(a.clone()), cloud(json!({"max_hourly_cost_usd": true})), ".max_hourly_cost_usd", "boolean"),
            (Some(a.clone()), private(json!({"max_hourly_cost_usd": -1})), ".max_hourly_cost_usd", "greater than 0"),
            // autoscaling workers
            (Some(a.clone()), cloud(json!({"workers": null})), ".workers", "private_worker_ids"),
            (Some(a.clone()), cloud(json!({"workers": "cloud"})), ".workers", "must be an object"),
            (Some(a.clone()), cloud(json!({"workers": {"source": null}})), ".workers.source", "is required"),
            (Some(a.clone()), cloud(json!({"workers": {"source": "aws"}})), ".workers.source", "\"cloud\" or \"private\""),
            (Some(a.clone()), cloud(json!({"workers": {"region": "eu"}})), ".workers.region", "allowed keys here"),
            (Some(a.clone()), cloud(json!({"workers": {"cloud_pool": null}})), ".workers.cloud_pool", "is required"),
            (Some(a.clone()), cloud(json!({"workers": {"cloud_pool": []}})), ".workers.cloud_pool", "must be an object"),
            (Some(a.clone()), cloud(json!({"workers": {"cloud_pool": {"gpu_pool": null}}})), ".workers.cloud_pool.gpu_pool", "is required"),
            (Some(a.clone()), cloud(json!({"workers": {"cloud_pool": {"gpu_pool": []}}})), ".workers.cloud_pool.gpu_pool", "at least one"),
            (Some(a.clone()), cloud(json!({"workers": {"cloud_pool": {"gpu_pool": "A100"}}})), ".workers.cloud_pool.gpu_pool", "must be a list"),
            (Some(a.clone()), cloud(json!({"workers": {"cloud_pool": {"gpu_pool": [" "]}}})), ".workers.cloud_pool.gpu_pool[0]", "non-blank"),
            (Some(a.clone()), cloud(json!({"workers": {"cloud_pool": {"gpu_pool": ["A", 3]}}})), ".workers.cloud_pool.gpu_pool[1]", "the number 3"),
            (Some(a.clone()), cloud(json!({"workers": {"cloud_pool": {"max_instances": 0}}})), ".workers.cloud_pool.max_instances", "at least 1"),
            (Some(a.clone()), cloud(json!({"workers": {"cloud_pool": {"max_hourly_cost_usd": 0.0}}})), ".workers.cloud_pool.max_hourly_cost_usd", "greater than 0"),
            (Some(a.clone()), cloud(json!({"workers": {"cloud_pool": {"allowed_cuda_versions": "13.0"}}})), ".workers.cloud_pool.allowed_cuda_versions", "list"),
            (Some(a.clone()), cloud(json!({"workers": {"cloud_pool": {"allowed_cuda_versions": []}}})), ".workers.cloud_pool.allowed_cuda_versions", "omit it"),
            (Some(a.clone()), cloud(json!({"workers": {"cloud_pool": {"allowed_cuda_versions": ["cuda13"]}}})), ".workers.cloud_pool.allowed_cuda_versions[0]", "\"13.0\""),
            (Some(a.clone()), cloud(json!({"workers": {"cloud_pool": {"region": "eu"}}})), ".workers.cloud_pool.region", "allowed keys here: gpu_pool"),
            (Some(a.clone()), cloud(json!({"workers": {"private_worker_ids": ["w"]}})), ".workers.private_worker_ids", "only applies to source \"private\""),
            (Some(a.clone()), private(json!({"workers": {"private_worker_ids": null}})), ".workers.private_worker_ids", "is required"),
            (Some(a.clone()), private(json!({"workers": {"private_worker_ids": []}})), ".workers.private_worker_ids", "at least one"),
            (Some(a.clone()), private(json!({"workers": {"private_worker_ids": [""]}})), ".workers.private_worker_ids[0]", "non-blank"),
            (Some(a.clone()), private(json!({"workers": {"cloud_pool": {"gpu_pool": ["A"]}}})), ".workers.cloud_pool", "only applies to source \"cloud\""),
            (Some(a.clone()), private(json!({"cloud_pool": {"gpu_pool": ["A"]}})), ".cloud_pool", "inside workers"),
            // legacy
            (Some(a.clone()), cloud(json!({"gpu_pool": ["A"]})), ".gpu_pool", "not both"),
            (Some(a.clone()), json!({"max_workers": 2, "gpu_pool": ["A"]}), ".max_hourly_cost_usd", "is required"),
            (Some(a.clone()), json!({"max_workers": 2, "max_hourly_cost_usd": 1, "gpu_pool": []}), ".gpu_pool", "at least one"),
            (Some(a.clone()), json!({"max_workers": 2, "max_hourly_cost_usd": 1, "gpu_pool": ["A"], "allowed_cuda_versions": ["13.0"]}), ".allowed_cuda_versions", "move both gpu_pool and allowed_cuda_versions into workers.cloud_pool"),
            (Some(a.clone()), cloud(json!({"allowed_cuda_versions": ["13.0"]})), ".allowed_cuda_versions", "workers.cloud_pool"),
        ];
        assert!(cases.len() >= 30);
        for (policy, config, suffix, needle) in cases {
            let want = format!("{P}{suffix}");
            let errs = check(policy.clone(), config.clone());
            let hit = errs.iter().find(|e| e.field == want);
            let Some(hit) = hit else {
                panic!("no error on {want} for {policy:?} {config}: {errs:?}");
            };
            assert!(
                hit.message.contains(needle),
                "{want}: {:?} lacks {needle:?}",
                hit.message
            );
        }
    }

    #[test]
    fn cron_forms() {
        for ok in [
            "0 2 * * *",
            "  0 2 * * *  ",
            "*/15 * * * *",
            "0 9-17 * * 1-5",
            "0 0 1,15 * *",
            "30 4 * JAN-MAR MON-FRI",
            "0 0 * * sun",
            "0 0 * * 7",
            "5-55/10 * * * *",
            "0 0 1 jan *",
            "0 0 * * SAT,SUN",
        ] {
            assert_eq!(validate_cron(ok), Ok(()), "{ok}");
        }
        for (bad, needle) in [
            ("", "is empty"),
            ("   ", "is empty"),
            ("* * * * * *", "seconds"),
            ("0 2 * * * 2030", "seconds and year"),
            ("0 2 * * * * * *", "has 8 field"),
            ("@weekly", "nicknames"),
            ("0 2 * * MON-FRY", "day names are SUN..SAT"),
            ("0 MON * * *", "numbers only"),
            ("0 2 * MON *", "month names"),
            ("0 2 32 * *", "not a valid cron"),
            ("0 2 * 13 *", "not a valid cron"),
            ("0 24 * * *", "not a valid cron"),
            ("0 2 * * 8", "not a valid cron"),
            ("*/0 * * * *", "not a valid cron"),
            ("5-1 * * * *", "not a valid cron"),
            ("0 2 * * 1-", "not a valid cron"),
            ("0 2 1,,2 * *", "empty list item"),
            ("0 2 1, * *", "empty list item"),
            ("1-2-3 * * * *", "not a valid cron"),
            ("*/5/2 * * * *", "not a valid cron"),
            ("0 2 * * -1", "not a valid cron"),
            ("99999999999999999999 * * * *", "not a valid cron"),
            ("0 2 ? * *", "Quartz"),
            ("0 2 * * 1L", "non-standard"),
            ("0 0 15W * *", "non-standard"),
            ("0 2 * * FRI#3", "Quartz"),
            ("0 2 * * * ;", "has 6"),
            ("0 2 * * %", "not allowed"),
        ] {
            let err = validate_cron(bad).expect_err(bad);
            assert!(err.contains(needle), "{bad:?}: {err}");
        }
    }

    #[test]
    fn window_forms() {
        for ok in [
            "Mon-Fri 08:00-20:00 Europe/Madrid",
            "mon-fri 08:00-20:00 UTC",
            "Daily 22:00-06:00 America/New_York",
            "* 00:00-23:59 Asia/Tokyo",
            "Sat,Sun 10:00-14:00 Europe/London",
            "Mon,Wed-Fri 09:30-17:30 Australia/Sydney",
            "Fri-Mon 18:00-02:00 UTC",
        ] {
            assert_eq!(validate_window(ok), Ok(()), "{ok}");
        }
        for (bad, needle) in [
            ("", "needs 3"),
            ("Mon-Fri 08:00 - 20:00 UTC", "needs 3"),
            ("Weekdays 08:00-20:00 UTC", "unknown day"),
            ("Mon-Fri 0800-2000 UTC", "HH:MM"),
            ("Mon-Fri 08:00 UTC", "start and an end"),
            ("Mon-Fri 08:00/20:00 UTC", "start and an end"),
            ("Mon-Fri 08:60-20:00 UTC", "HH:MM"),
            ("Mon-Fri 20:00-20:00 UTC", "same time"),
            ("Mon-Fri 08:00-20:00 europe/madrid", "case-sensitive"),
            ("Mon-Fri 08:00-20:00 CEST+1", "unknown time zone"),
            ("Mon,,Fri 08:00-20:00 UTC", "unknown day"),
        ] {
            let err = validate_window(bad).expect_err(bad);
            assert!(err.contains(needle), "{bad:?}: {err}");
        }
    }

    #[test]
    fn secrets_never_reach_error_text() {
        let secret = "ik_live_abcdefghij_SECRETSECRET";
        let configs = [
            (ExecutionPolicy::Fixed, json!({"replicas": 1, secret: 1})),
            (ExecutionPolicy::Fixed, json!({ "replicas": secret })),
            (
                ExecutionPolicy::Scheduled,
                json!({ "cron": format!("0 {secret} * * *") }),
            ),
            (
                ExecutionPolicy::Scheduled,
                json!({ "window": format!("Mon {secret} UTC") }),
            ),
            (
                ExecutionPolicy::Scheduled,
                json!({ "window": format!("Mon 08:00-09:00 {secret}") }),
            ),
            (
                ExecutionPolicy::Autoscaling,
                cloud(json!({"workers": {"source": secret}})),
            ),
        ];
        for (policy, config) in configs {
            let errs = check(Some(policy), config.clone());
            assert!(!errs.is_empty(), "{config}");
            for e in errs {
                assert!(!e.to_string().contains("SECRET"), "{e}");
            }
        }
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            prop::sample::select(vec![
                "replicas",
                "cron",
                "window",
                "min_workers",
                "max_workers",
                "min_replicas",
                "max_replicas",
                "max_hourly_cost_usd",
                "workers",
                "gpu_pool",
                "source",
                "cloud_pool",
                "private_worker_ids",
                "max_instances",
                "allowed_cuda_versions",
            ])
            .prop_map(str::to_string),
            ".{0,8}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            prop::sample::select(vec![
                "cloud",
                "private",
                "0 2 * * *",
                "Mon-Fri 08:00-20:00 Europe/Madrid",
                "13.0",
                "",
            ])
            .prop_map(Value::from),
            ".{0,24}".prop_map(Value::String),
            "[0-9A-Za-z*/,#?@ -]{0,20}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(key.clone(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn arb_policy() -> impl Strategy<Value = Option<ExecutionPolicy>> {
        prop_oneof![
            Just(None),
            Just(Some(ExecutionPolicy::Fixed)),
            Just(Some(ExecutionPolicy::Scheduled)),
            Just(Some(ExecutionPolicy::Autoscaling)),
            Just(Some(ExecutionPolicy::Other("burst".into()))),
        ]
    }

    proptest! {
        #[test]
        fn never_panics_and_paths_stay_under_prefix(
            policy in arb_policy(),
            config in arb_json(),
            prefix in "[a-z_.]{1,20}",
        ) {
            for e in validate_policy_config(policy.as_ref(), Some(&config), &prefix) {
                prop_assert!(e.field.starts_with(&prefix), "{} not under {}", e.field, prefix);
                prop_assert!(!e.message.is_empty());
            }
        }

        #[test]
        fn cron_and_window_never_panic(s in "[0-9A-Za-z*/,#?@:+ -]{0,40}", t in ".{0,40}") {
            let _ = validate_cron(&s);
            let _ = validate_cron(&t);
            let _ = validate_window(&s);
            let _ = validate_window(&t);
        }
    }
}
