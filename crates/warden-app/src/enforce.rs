//! The enforcement plane inside Warden (ENF-1): the decision index of everything in force,
//! built from the change log at start and kept current by following it (so every node of a
//! PostgreSQL cluster converges within a poll interval), and the decisions the check endpoint,
//! the decision API and the notice page give.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;
use warden_enforce::index::{Change, Decision, Index, Rule, RuleKind, SharedIndex};
use warden_store::enforcement::EnforcementChange;

use crate::App;
use crate::error::AppResult;

/// A blocked request's explanation.
#[derive(Debug, Clone, Serialize)]
pub struct Blocked {
    /// The case.
    pub case_id: String,
    /// The action in force.
    pub action: String,
    /// The rule that matched.
    pub rule: String,
}

/// The rule an action enforces, if it is one an edge can check (account-level actions are not).
pub fn rule_for(c: &EnforcementChange) -> Option<Rule> {
    let target = c.target.as_str();
    let host = || {
        warden_domain::resource::parse_url(target)
            .map(|u| u.host)
            .or_else(|| warden_domain::resource::normalise_domain(target))
    };
    let kind = match c.action.as_str() {
        "block_url" => RuleKind::parse("url", target).ok()?,
        "block_network" | "shutdown_machine" => match target.parse::<std::net::IpAddr>() {
            Ok(_) => RuleKind::parse("ip", target).ok()?,
            Err(_) => RuleKind::parse("host", &host()?).ok()?,
        },
        "domain_offline" | "suspend_resolution" | "lock_records" | "stop_service" => {
            RuleKind::parse("domain", &host()?).ok()?
        }
        "shield_content" | "delete_file" | "freeze_bucket" => {
            RuleKind::parse("object", target.strip_prefix("cos://").unwrap_or(target)).ok()?
        }
        "stop_single_service" | "forbid_new_service" => {
            RuleKind::parse("service", target.strip_prefix("apigw:").unwrap_or(target)).ok()?
        }
        _ => return None,
    };
    Some(Rule {
        id: c.action_id.clone(),
        kind,
        action: c.action.clone(),
        case_id: c.case_id.clone(),
        notice: None,
    })
}

impl App {
    /// Loads everything in force into the index (at start).
    pub async fn load_enforcement(&self) -> AppResult<i64> {
        let (revision, items) = self.store.enforcement_snapshot().await?;
        let changes: Vec<Change> = items.iter().filter_map(rule_for).map(Change::Add).collect();
        let out = self.index.apply(changes);
        for (rule, e) in &out.rejected {
            tracing::warn!(action = %rule.id, error = %e, "an action's target cannot be enforced by edges");
        }
        Ok(revision)
    }

    /// Follows the change log until `shutdown`, applying applies and lifts to the index.
    pub async fn follow_enforcement(&self, mut shutdown: watch::Receiver<bool>, poll: Duration) {
        let mut revision = match self.load_enforcement().await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "loading the enforcement index failed; retrying");
                0
            }
        };
        loop {
            if *shutdown.borrow() {
                break;
            }
            match self.store.enforcement_changes_since(revision, 500).await {
                Ok(changes) if !changes.is_empty() => {
                    let mut batch = Vec::with_capacity(changes.len());
                    for c in &changes {
                        match c.op.as_str() {
                            "apply" => batch.extend(rule_for(c).map(Change::Add)),
                            _ => batch.push(Change::Remove(c.action_id.clone())),
                        }
                        revision = c.revision;
                    }
                    let out = self.index.apply(batch);
                    for (rule, e) in &out.rejected {
                        tracing::warn!(action = %rule.id, error = %e, "an action's target cannot be enforced by edges");
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "reading the enforcement log failed; retrying")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Whether a URL is blocked (ENF-1).
    /// A URL that cannot be parsed is not blocked (the edge serves it as it would anyway).
    pub fn check_url(&self, url: &str) -> Option<Blocked> {
        self.index
            .load()
            .check_url(url)
            .ok()
            .and_then(|d| blocked(&d))
    }

    /// Whether a host is blocked.
    pub fn check_host(&self, host: &str) -> Option<Blocked> {
        self.index
            .load()
            .check_host(host)
            .ok()
            .and_then(|d| blocked(&d))
    }

    /// Whether an IP is blocked.
    pub fn check_ip(&self, ip: std::net::IpAddr) -> Option<Blocked> {
        blocked(&self.index.load().check_ip(ip))
    }
}

fn blocked(d: &Decision<'_>) -> Option<Blocked> {
    match d {
        Decision::Allowed => None,
        Decision::Blocked { rule } => Some(Blocked {
            case_id: rule.case_id().to_string(),
            action: rule.action().to_string(),
            rule: rule.id().to_string(),
        }),
    }
}

/// A shared, empty index.
pub fn new_index() -> Arc<SharedIndex> {
    Arc::new(SharedIndex::new(Index::empty()))
}
