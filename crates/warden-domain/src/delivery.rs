//! Confirmation of penalty actions by the enforcement points (PEN-3, ENF-2), as a pure function.
//!
//! Every adapter that enforces an action (the decision index, the RPZ, each webhook endpoint)
//! has one delivery per action: the change it must hold (`apply` or `lift`) and whether it
//! confirmed it. [`settle`] derives the action's confirmed [`ActionState`] from what the lifecycle
//! decided ([`Desired`]) and those deliveries: `applied` only when every adapter confirmed the
//! apply, `lifted` only when every one confirmed the lift (a lift keeps the action `applied`
//! until then), `failed` while one adapter has run out of retries. Storage loads the rows, calls
//! it and stores the result in the same transaction.

use crate::lifecycle::{ActionState, Desired};

crate::codes! {
    /// What an adapter must hold of an action: one entry of the enforcement change log (ENF-1).
    pub enum ChangeOp: "change op" {
        /// The action is in force.
        Apply = "apply",
        /// The action is lifted.
        Lift = "lift",
    }
}

crate::codes! {
    /// Where one adapter's delivery of one action stands (ENF-2).
    pub enum DeliveryState: "delivery state" {
        /// Sent or to be sent; not confirmed yet.
        Pending = "pending",
        /// The adapter holds the change.
        Confirmed = "confirmed",
        /// Retries exhausted; reconciliation re-sends it.
        Failed = "failed",
        /// The adapter is no longer configured; it no longer counts.
        Retired = "retired",
    }
}

/// The error an action carries when no configured adapter enforces it.
pub const NO_ADAPTER: &str = "no enforcement point is configured for this action: configure one that enforces it ([[webhooks]] with its action code; [[exabgp]] for blackhole) or apply it by hand";

/// One adapter's delivery of an action, as [`settle`] needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryFacts<'a> {
    /// The adapter's name (`index`, `rpz`, `webhook:<endpoint>`).
    pub adapter: &'a str,
    /// What it must hold.
    pub op: ChangeOp,
    /// Whether it confirmed.
    pub state: DeliveryState,
    /// Its last failure, if any.
    pub last_error: Option<&'a str>,
}

/// An action's confirmed state after [`settle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// The confirmed state.
    pub state: ActionState,
    /// What the operators see as the action's error (each failing adapter named), if any.
    pub error: Option<String>,
    /// The adapters that confirmed what the action must be now (for the audit event).
    pub confirmed_by: Vec<String>,
}

/// The confirmed state of an action that is `current` now, should be `desired`, and has these
/// deliveries. `None` while the action is only planned (nothing is sent before its deadline).
pub fn settle(
    current: ActionState,
    desired: Desired,
    deliveries: &[DeliveryFacts<'_>],
) -> Option<Settlement> {
    let want = match desired {
        Desired::Planned => return None,
        Desired::InForce => ChangeOp::Apply,
        Desired::Lifted => ChangeOp::Lift,
    };
    let live: Vec<&DeliveryFacts<'_>> = deliveries
        .iter()
        .filter(|d| d.state != DeliveryState::Retired)
        .collect();
    let errors: Vec<String> = live
        .iter()
        .filter(|d| d.state != DeliveryState::Confirmed)
        .filter_map(|d| d.last_error.map(|e| format!("{}: {e}", d.adapter)))
        .collect();
    let joined = || (!errors.is_empty()).then(|| errors.join("; "));
    let confirmed_by: Vec<String> = live
        .iter()
        .filter(|d| d.op == want && d.state == DeliveryState::Confirmed)
        .map(|d| d.adapter.to_string())
        .collect();
    let (state, error) = if live.is_empty() {
        match want {
            ChangeOp::Apply => (ActionState::Pending, Some(NO_ADAPTER.to_string())),
            ChangeOp::Lift => (ActionState::Lifted, None),
        }
    } else if confirmed_by.len() == live.len() {
        match want {
            ChangeOp::Apply => (ActionState::Applied, None),
            ChangeOp::Lift => (ActionState::Lifted, None),
        }
    } else if live.iter().any(|d| d.state == DeliveryState::Failed) {
        (ActionState::Failed, joined())
    } else {
        let state = match (current, want) {
            // Re-sent after a failure: back to what it was waiting for.
            (ActionState::Failed, ChangeOp::Apply) => ActionState::Pending,
            (ActionState::Failed, ChangeOp::Lift) => ActionState::Applied,
            (
                s @ (ActionState::Pending | ActionState::Applied | ActionState::Lifted),
                ChangeOp::Apply | ChangeOp::Lift,
            ) => s,
        };
        (state, joined())
    };
    Some(Settlement {
        state,
        error,
        confirmed_by,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn op() -> impl Strategy<Value = ChangeOp> {
        prop::sample::select(ChangeOp::ALL.to_vec())
    }
    fn delivery_state() -> impl Strategy<Value = DeliveryState> {
        prop::sample::select(DeliveryState::ALL.to_vec())
    }
    fn action_state() -> impl Strategy<Value = ActionState> {
        prop::sample::select(ActionState::ALL.to_vec())
    }

    const ADAPTERS: [&str; 4] = ["index", "rpz", "webhook:a", "webhook:b"];

    fn deliveries() -> impl Strategy<Value = Vec<(ChangeOp, DeliveryState, bool)>> {
        prop::collection::vec((op(), delivery_state(), any::<bool>()), 0..=4)
    }

    fn facts(raw: &[(ChangeOp, DeliveryState, bool)]) -> Vec<DeliveryFacts<'static>> {
        raw.iter()
            .enumerate()
            .map(|(i, &(op, state, err))| DeliveryFacts {
                adapter: ADAPTERS[i],
                op,
                state,
                last_error: err.then_some("connection refused"),
            })
            .collect()
    }

    proptest! {
        /// PEN-3/ENF-2: an action becomes `applied` only when every live adapter confirmed the
        /// apply, and always does then.
        #[test]
        fn applied_only_when_every_adapter_confirms_the_apply(
            current in action_state(), raw in deliveries()
        ) {
            let d = facts(&raw);
            let s = settle(current, Desired::InForce, &d).unwrap();
            let live: Vec<_> = d.iter().filter(|d| d.state != DeliveryState::Retired).collect();
            let all = !live.is_empty() && live.iter().all(|d| d.op == ChangeOp::Apply && d.state == DeliveryState::Confirmed);
            if current != ActionState::Applied {
                prop_assert_eq!(s.state == ActionState::Applied, all);
            }
            if all {
                prop_assert_eq!(s.state, ActionState::Applied);
                prop_assert_eq!(s.confirmed_by.len(), live.len());
                prop_assert_eq!(s.error, None);
            }
            // An apply never makes an action lifted.
            if current != ActionState::Lifted {
                prop_assert_ne!(s.state, ActionState::Lifted);
            }
        }

        /// PEN-3: a lift keeps the action `applied` (or `failed`) until every adapter confirms
        /// the lift; only then is it `lifted`.
        #[test]
        fn lift_keeps_applied_until_every_adapter_confirms_the_lift(raw in deliveries()) {
            let d = facts(&raw);
            let s = settle(ActionState::Applied, Desired::Lifted, &d).unwrap();
            let live: Vec<_> = d.iter().filter(|d| d.state != DeliveryState::Retired).collect();
            let all = live.iter().all(|d| d.op == ChangeOp::Lift && d.state == DeliveryState::Confirmed);
            if all {
                prop_assert_eq!(s.state, ActionState::Lifted);
            } else if live.iter().any(|d| d.state == DeliveryState::Failed) {
                prop_assert_eq!(s.state, ActionState::Failed);
                prop_assert!(s.error.is_some() || live.iter().all(|d| d.last_error.is_none() || d.state == DeliveryState::Confirmed));
            } else {
                prop_assert_eq!(s.state, ActionState::Applied);
            }
        }

        /// ENF-2: a failure names every failing adapter, and a failed action that was re-sent
        /// goes back to what it waits for, never straight to applied or lifted.
        #[test]
        fn failures_name_the_adapter_and_resends_wait(raw in deliveries(), lift in any::<bool>()) {
            let d = facts(&raw);
            let desired = if lift { Desired::Lifted } else { Desired::InForce };
            let s = settle(ActionState::Failed, desired, &d).unwrap();
            if let Some(e) = &s.error {
                for f in d.iter().filter(|f| f.state != DeliveryState::Confirmed && f.state != DeliveryState::Retired && f.last_error.is_some()) {
                    prop_assert!(e.contains(f.adapter), "{} missing from {}", f.adapter, e);
                }
            }
            let live: Vec<_> = d.iter().filter(|d| d.state != DeliveryState::Retired).collect();
            if !live.is_empty() && live.iter().all(|d| d.state == DeliveryState::Pending) {
                let back = if lift { ActionState::Applied } else { ActionState::Pending };
                prop_assert_eq!(s.state, back);
            }
        }
    }

    #[test]
    fn planned_actions_are_not_settled_and_no_adapter_is_an_error() {
        assert_eq!(settle(ActionState::Pending, Desired::Planned, &[]), None);
        let s = settle(ActionState::Pending, Desired::InForce, &[]).unwrap();
        assert_eq!(s.state, ActionState::Pending);
        assert_eq!(s.error.as_deref(), Some(NO_ADAPTER));
        let s = settle(ActionState::Applied, Desired::Lifted, &[]).unwrap();
        assert_eq!(s.state, ActionState::Lifted);
    }
}
