//! The enforcement change feed (ENF-1): what edges follow, and the snapshot they load first.

use serde::Serialize;
use warden_domain::identity::Role;

use crate::App;
use crate::auth::Principal;
use crate::error::AppResult;

/// A page of the enforcement change feed (ENF-1).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ChangeFeed {
    /// The revision of the last change here (`since` if there is none): pass it as the next
    /// `since`.
    pub revision: i64,
    /// Applies and lifts, oldest first.
    pub changes: Vec<warden_store::enforcement::EnforcementChange>,
}

/// Everything in force at a revision (ENF-1): what an edge loads before following the feed.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Snapshot {
    /// The revision the snapshot is at.
    pub revision: i64,
    /// The latest apply of every action in force.
    pub items: Vec<warden_store::enforcement::EnforcementChange>,
}

impl App {
    /// The change feed (ENF-1): applies and lifts after `since`; with `wait_ms`, waits (at most
    /// 30 s) for the first one, so an edge can long-poll and resume after a disconnect.
    pub async fn enforcement_changes(
        &self,
        who: &Principal,
        since: i64,
        wait_ms: u64,
    ) -> AppResult<ChangeFeed> {
        who.require(
            &[Role::Admin, Role::Operator, Role::Edge],
            "read the enforcement feed",
        )?;
        let until =
            tokio::time::Instant::now() + std::time::Duration::from_millis(wait_ms.min(30_000));
        loop {
            let changes = self.store.enforcement_changes_since(since, 50).await?;
            if !changes.is_empty() || tokio::time::Instant::now() >= until {
                let revision = changes.last().map_or(since, |c| c.revision);
                return Ok(ChangeFeed { revision, changes });
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Everything in force, at a revision (ENF-1).
    pub async fn enforcement_snapshot(&self, who: &Principal) -> AppResult<Snapshot> {
        who.require(
            &[Role::Admin, Role::Operator, Role::Edge],
            "read the enforcement feed",
        )?;
        let (revision, items) = self.store.enforcement_snapshot().await?;
        Ok(Snapshot { revision, items })
    }
}
