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

/// What a pulling point's confirmation settled (ENF-2).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Confirmed {
    /// The adapter (`exabgp:<name>`).
    pub adapter: String,
    /// The revision it holds the log up to.
    pub revision: i64,
    /// The actions whose deliveries this confirmation closed.
    pub confirmed: Vec<String>,
}

impl App {
    /// A point that pulls the feed itself (the ExaBGP bridge, [`super::Mode::Pull`]) holds
    /// every change of its adapter up to `revision`: its deliveries are confirmed and the
    /// actions settled, as the follower does for a local point (ENF-2, PEN-3). Idempotent: a
    /// repeated confirmation closes nothing new. Audited when it closes something.
    pub async fn confirm_pulled(
        &self,
        who: &Principal,
        adapter: &str,
        revision: i64,
    ) -> AppResult<Confirmed> {
        who.require(
            &[Role::Admin, Role::Operator, Role::Edge],
            "confirm enforcement deliveries",
        )?;
        if revision < 0 {
            return Err(warden_domain::resource::InvalidInput::new(
                "revision",
                "must be a revision of the change feed (0 or more)",
            )
            .into());
        }
        if self.adapters.pulled(adapter).is_none() {
            return Err(crate::error::AppError::NotFound("pulling adapter"));
        }
        let mut tx = self.store.begin_write().await?;
        // Chain first, the lock order of every lifecycle change (see `confirm_follower`).
        tx.lock_chain().await?;
        let ids = tx
            .confirm_deliveries_up_to(adapter, revision, self.now())
            .await?;
        if !ids.is_empty() {
            self.settle(&mut tx, &ids).await?;
            let mut ev = self.event(who, "enforcement.confirm", format!("adapter:{adapter}"));
            ev.details = serde_json::json!({ "revision": revision, "actions": ids });
            tx.append_audit(ev).await?;
        }
        tx.commit().await?;
        Ok(Confirmed {
            adapter: adapter.to_string(),
            revision,
            confirmed: ids,
        })
    }
}
