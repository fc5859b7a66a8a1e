//! The `ensure()` decision (docs/contract.md, "ensure"), pure: given the spec, what the server
//! has (if anything) and the drift policy, what to do next. The client performs the I/O the
//! decision asks for; the decision itself is tested with tables, without a server.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::diff::{diff, update_body};
use crate::domain::enums::OnDrift;
use crate::domain::error::{Error, ErrorKind};
use crate::domain::plan::{Change, Plan};
use crate::domain::spec::WorkloadSpec;
use crate::domain::wire::Workload;

/// What `ensure()` did (or, in `dry_run`, would do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EnsureAction {
    Created,
    Updated,
    Unchanged,
    /// Drift was found and left alone (`warn` / `ignore`).
    Drifted,
    WouldCreate,
    WouldUpdate,
}

impl EnsureAction {
    pub fn as_str(self) -> &'static str {
        match self {
            EnsureAction::Created => "created",
            EnsureAction::Updated => "updated",
            EnsureAction::Unchanged => "unchanged",
            EnsureAction::Drifted => "drifted",
            EnsureAction::WouldCreate => "would_create",
            EnsureAction::WouldUpdate => "would_update",
        }
    }
}

/// The next step of `ensure()`.
#[derive(Debug, Clone)]
pub enum EnsureStep {
    /// Nothing with this slug exists: create it from the spec.
    Create,
    /// The call ends here with this action and plan (the live workload, if any, is unchanged).
    Done {
        action: EnsureAction,
        plan: Plan,
        /// For `OnDrift::Warn`: the one warning text every binding shows, logged once by the
        /// client that ran the decision.
        warning: Option<String>,
    },
    /// Send this PATCH body to bring the workload in line; the plan says why.
    Patch {
        plan: Plan,
        body: Map<String, Value>,
    },
    /// `OnDrift::Fail` found drift: the error carries the plan.
    Fail(Error),
}

/// Decides the next step. `live` is the workload the lookup found, `None` when there is none.
pub fn decide(spec: &WorkloadSpec, live: Option<&Workload>, on_drift: OnDrift) -> EnsureStep {
    let Some(live) = live else {
        if on_drift == OnDrift::DryRun {
            let plan = spec
                .create_body()
                .into_iter()
                .map(|(field, desired)| Change {
                    field,
                    live: Value::Null,
                    desired,
                })
                .collect();
            return done(EnsureAction::WouldCreate, plan, None);
        }
        return EnsureStep::Create;
    };
    let plan = diff(spec, live);
    if plan.is_empty() {
        return done(EnsureAction::Unchanged, plan, None);
    }
    let slug = spec.canonical_slug();
    match on_drift {
        OnDrift::Reconcile => EnsureStep::Patch {
            body: update_body(spec, live, &plan),
            plan,
        },
        OnDrift::Fail => {
            let fields: Vec<&str> = plan.iter().map(|c| c.field.as_str()).collect();
            let mut err = Error::new(
                ErrorKind::Drift,
                format!(
                    "workload {slug:?} differs from the spec in {}; use on_drift=reconcile to apply, or dry_run to preview",
                    fields.join(", ")
                ),
            )
            .with_code("drift_detected")
            .with_field(fields[0]);
            err.plan = Some(plan);
            EnsureStep::Fail(err)
        }
        OnDrift::DryRun => done(EnsureAction::WouldUpdate, plan, None),
        OnDrift::Warn => {
            let warning = drift_warning(&slug, &plan);
            done(EnsureAction::Drifted, plan, Some(warning))
        }
        OnDrift::Ignore => done(EnsureAction::Drifted, plan, None),
    }
}

/// The text `OnDrift::Warn` shows: which workload, and each change as `field: live -> desired`.
pub fn drift_warning(slug: &str, plan: &Plan) -> String {
    format!(
        "workload {slug:?} has drifted from its spec: {}",
        plan.iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    )
}

fn done(action: EnsureAction, plan: Plan, warning: Option<String>) -> EnsureStep {
    EnsureStep::Done {
        action,
        plan,
        warning,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> WorkloadSpec {
        WorkloadSpec {
            name: "Bot".into(),
            slug: "bot".into(),
            model: "m".into(),
            command: Some("serve m".into()),
            ..Default::default()
        }
    }

    fn live(command: &str) -> Workload {
        Workload {
            id: Some("1".into()),
            name: Some("Bot".into()),
            slug: Some("bot".into()),
            model_name: Some("m".into()),
            config: Some(serde_json::json!({"command": command})),
            ..Default::default()
        }
    }

    fn action(step: &EnsureStep) -> Option<EnsureAction> {
        match step {
            EnsureStep::Done { action, .. } => Some(*action),
            _ => None,
        }
    }

    #[test]
    fn nothing_live() {
        assert!(matches!(
            decide(&spec(), None, OnDrift::Reconcile),
            EnsureStep::Create
        ));
        let step = decide(&spec(), None, OnDrift::DryRun);
        assert_eq!(action(&step), Some(EnsureAction::WouldCreate));
    }

    #[test]
    fn every_drift_policy() {
        let same = live("serve m");
        let drifted = live("serve other");
        for on_drift in [
            OnDrift::Reconcile,
            OnDrift::Fail,
            OnDrift::Warn,
            OnDrift::Ignore,
            OnDrift::DryRun,
        ] {
            assert_eq!(
                action(&decide(&spec(), Some(&same), on_drift)),
                Some(EnsureAction::Unchanged)
            );
        }
        match decide(&spec(), Some(&drifted), OnDrift::Reconcile) {
            EnsureStep::Patch { plan, body } => {
                assert_eq!(plan[0].field, "config.command");
                assert_eq!(body["config"]["command"], "serve m");
            }
            other => panic!("{other:?}"),
        }
        match decide(&spec(), Some(&drifted), OnDrift::Fail) {
            EnsureStep::Fail(e) => {
                assert_eq!(e.kind, ErrorKind::Drift);
                assert_eq!(e.field.as_deref(), Some("config.command"));
                assert_eq!(e.plan.as_ref().map(Vec::len), Some(1));
            }
            other => panic!("{other:?}"),
        }
        match decide(&spec(), Some(&drifted), OnDrift::Warn) {
            EnsureStep::Done {
                action, warning, ..
            } => {
                assert_eq!(action, EnsureAction::Drifted);
                let w = warning.expect("warn carries its text");
                assert!(w.contains("config.command"), "{w}");
            }
            other => panic!("{other:?}"),
        }
        match decide(&spec(), Some(&drifted), OnDrift::Ignore) {
            EnsureStep::Done { warning, .. } => assert_eq!(warning, None),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            action(&decide(&spec(), Some(&drifted), OnDrift::DryRun)),
            Some(EnsureAction::WouldUpdate)
        );
    }
}
