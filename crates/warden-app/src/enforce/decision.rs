//! The decision-index adapter: what nginx `auth_request`, Envoy `ext_authz` and the decision
//! API ask. Every node holds the index in memory and follows the change log into it; the point
//! holds a change once the node's index does, so it confirms at once and cannot time out.

use std::sync::Arc;

use warden_domain::delivery::ChangeOp;
use warden_domain::penalty::Action;
use warden_enforce::index::{Change, SharedIndex};
use warden_store::enforcement::EnforcementChange;

use super::adapter::{Adapter, Mode, PushFuture};
use super::rule_for;

#[derive(Debug)]
/// The adapter over this node's [`SharedIndex`].
pub struct IndexAdapter {
    index: Arc<SharedIndex>,
}

impl IndexAdapter {
    /// Over `index` (the one the check endpoints read).
    pub fn new(index: Arc<SharedIndex>) -> Self {
        IndexAdapter { index }
    }
}

impl Adapter for IndexAdapter {
    fn name(&self) -> &str {
        "index"
    }

    fn mode(&self) -> Mode {
        Mode::Follow
    }

    fn handles(&self, change: &EnforcementChange) -> bool {
        rule_for(change).is_some()
    }

    fn push<'a>(&'a self, changes: &'a [EnforcementChange]) -> PushFuture<'a> {
        Box::pin(async move {
            let mut batch = Vec::with_capacity(changes.len());
            for c in changes {
                // The last change of an id wins, so re-applying holds the rule once.
                if c.op == ChangeOp::Apply {
                    batch.extend(rule_for(c).map(Change::Add));
                } else {
                    batch.push(Change::Remove(c.action_id.clone()));
                }
            }
            let out = self.index.apply(batch);
            for (rule, e) in &out.rejected {
                tracing::warn!(action = %rule.id, error = %e, "an action's target cannot be enforced by edges");
            }
            Ok(())
        })
    }

    fn holds(&self) -> Option<Vec<(String, Action)>> {
        Some(
            self.index
                .load()
                .rules()
                // Rules come from `rule_for`, which names actions by their codes.
                .filter_map(|r| Some((r.id().to_string(), Action::parse(r.action()).ok()?)))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(op: &str, id: &str, url: &str) -> EnforcementChange {
        EnforcementChange {
            revision: 1,
            action_id: id.into(),
            case_id: "case_1".into(),
            account_id: None,
            op: if op == "apply" {
                ChangeOp::Apply
            } else {
                ChangeOp::Lift
            },
            action: warden_domain::penalty::Action::BlockUrl,
            product: None,
            target: url.into(),
            created_at: 0,
        }
    }

    #[tokio::test]
    async fn apply_twice_holds_once_and_lift_twice_is_fine() {
        let index = super::super::new_index();
        let a = IndexAdapter::new(index.clone());
        let apply = [change("apply", "act_1", "https://x.example/bad")];
        a.push(&apply).await.unwrap();
        a.push(&apply).await.unwrap();
        assert_eq!(
            a.holds().unwrap(),
            vec![("act_1".to_string(), Action::BlockUrl)]
        );
        assert!(
            index
                .load()
                .check_url("https://x.example/bad")
                .unwrap()
                .is_blocked()
        );
        let lift = [change("lift", "act_1", "https://x.example/bad")];
        a.push(&lift).await.unwrap();
        a.push(&lift).await.unwrap();
        assert!(a.holds().unwrap().is_empty());
        assert!(
            !index
                .load()
                .check_url("https://x.example/bad")
                .unwrap()
                .is_blocked()
        );
    }
}
