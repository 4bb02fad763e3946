//! The enforcement change log (ENF-1): every apply and lift of an action with a revision that
//! only grows, written in the transaction that changes the action.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;

use warden_domain::delivery::{ChangeOp, DeliveryFacts, DeliveryState, settle};
use warden_domain::lifecycle::{ActionState, Desired};
use warden_domain::penalty::Action;
use warden_domain::resource::Product;

use crate::{Result, Store, WriteTx, c, i, oc, os, page, s};

/// One apply or lift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EnforcementChange {
    /// Revision (assigned by the database; 0 before insert).
    pub revision: i64,
    /// The action record.
    pub action_id: String,
    /// Its case.
    pub case_id: String,
    /// Its account.
    pub account_id: Option<String>,
    /// Apply or lift.
    pub op: ChangeOp,
    /// The action.
    pub action: Action,
    /// Product of the resource.
    pub product: Option<Product>,
    /// What it acts on.
    pub target: String,
    /// When, ms.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub created_at: i64,
}

fn row(r: &AnyRow) -> Result<EnforcementChange> {
    Ok(EnforcementChange {
        revision: i(r, "revision")?,
        action_id: s(r, "action_id")?,
        case_id: s(r, "case_id")?,
        account_id: os(r, "account_id")?,
        op: c(r, "enforcement_changes", "op")?,
        action: c(r, "enforcement_changes", "action")?,
        product: oc(r, "enforcement_changes", "product")?,
        target: s(r, "target")?,
        created_at: i(r, "created_at")?,
    })
}

impl WriteTx {
    /// Logs an apply or lift; returns its revision.
    ///
    /// On PostgreSQL two transactions could take revisions 10 and 11 and commit 11 first; a
    /// follower that read 11 would then never see 10. A transaction-scoped advisory lock taken
    /// before the revision is drawn makes revisions commit in order (SQLite writes one at a time).
    pub async fn record_enforcement_change(&mut self, c: &EnforcementChange) -> Result<i64> {
        if self.engine() == crate::Engine::Postgres {
            sqlx::query("SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(5005)) l")
                .fetch_one(self.conn())
                .await?;
        }
        let r = sqlx::query(
            "INSERT INTO enforcement_changes (action_id, case_id, account_id, op, action, product, target, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING revision",
        )
        .bind(c.action_id.as_str())
        .bind(c.case_id.as_str())
        .bind(c.account_id.as_deref())
        .bind(c.op.code())
        .bind(c.action.code())
        .bind(c.product.map(Product::code))
        .bind(c.target.as_str())
        .bind(c.created_at)
        .fetch_one(self.conn())
        .await?;
        i(&r, "revision")
    }
}

/// One webhook delivery attempt.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct WebhookAttempt {
    /// Id.
    pub id: String,
    /// The message id (`webhook-id`), the same on every attempt.
    pub msg_id: String,
    /// The endpoint's name.
    pub endpoint: String,
    /// 1-based attempt number.
    pub attempt: i64,
    /// HTTP status, if the endpoint answered.
    pub status: Option<i64>,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// When, ms.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub at: i64,
}

impl Store {
    /// Webhook delivery attempts (the outbound queue's, channel `webhook`), newest first;
    /// optionally only those of the messages about `subject` (`change:<action id>:<op>`).
    pub async fn webhook_attempts(
        &self,
        subject: Option<&str>,
        limit: i64,
    ) -> Result<Vec<WebhookAttempt>> {
        let mut sql = String::from(
            "SELECT a.id, a.attempt, a.status, a.error, a.at, o.id AS outbound_id, o.endpoint FROM outbound_attempts a JOIN outbound o ON o.id = a.outbound_id WHERE o.channel = 'webhook'",
        );
        if subject.is_some() {
            sql.push_str(" AND o.subject = $2");
        }
        sql.push_str(" ORDER BY a.id DESC LIMIT $1");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(page(limit));
        if let Some(subject) = subject {
            q = q.bind(subject);
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                let endpoint = s(r, "endpoint")?;
                let id = s(r, "outbound_id")?;
                let msg_id = id
                    .strip_prefix(&format!("webhook:{endpoint}:"))
                    .unwrap_or(&id)
                    .to_string();
                Ok(WebhookAttempt {
                    id: s(r, "id")?,
                    msg_id,
                    endpoint,
                    attempt: i(r, "attempt")?,
                    status: crate::oi(r, "status")?,
                    error: os(r, "error")?,
                    at: i(r, "at")?,
                })
            })
            .collect()
    }

    /// Changes after `since`, oldest first.
    pub async fn enforcement_changes_since(
        &self,
        since: i64,
        limit: i64,
    ) -> Result<Vec<EnforcementChange>> {
        let rows = sqlx::query(
            "SELECT * FROM enforcement_changes WHERE revision > $1 ORDER BY revision LIMIT $2",
        )
        .bind(since)
        .bind(page(limit).max(1) * 20)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(row).collect()
    }

    /// What is in force at the latest revision: the last change of every action is an apply.
    pub async fn enforcement_snapshot(&self) -> Result<(i64, Vec<EnforcementChange>)> {
        let mut tx = self.begin_read().await?;
        let r = sqlx::query("SELECT COALESCE(MAX(revision), 0) AS rev FROM enforcement_changes")
            .fetch_one(&mut *tx)
            .await?;
        let rows = sqlx::query(
            "SELECT c.* FROM enforcement_changes c JOIN (SELECT action_id, MAX(revision) AS rev FROM enforcement_changes GROUP BY action_id) l ON l.action_id = c.action_id AND l.rev = c.revision WHERE c.op = 'apply' ORDER BY c.revision",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((i(&r, "rev")?, rows.iter().map(row).collect::<Result<_>>()?))
    }
}

/// What one adapter must hold of one action, and whether it confirmed it (ENF-2).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Delivery {
    /// The action record.
    pub action_id: String,
    /// The adapter's name (`index`, `rpz`, `webhook:<endpoint>`).
    pub adapter: String,
    /// What the adapter must hold.
    pub op: ChangeOp,
    /// The change it answers.
    pub revision: i64,
    /// Whether it confirmed (`failed`: retries exhausted, reconciliation re-sends; `retired`:
    /// the adapter is no longer configured).
    pub state: DeliveryState,
    /// Attempts since the change.
    pub attempts: i64,
    /// The last failure.
    pub last_error: Option<String>,
    /// Last change of this row, ms.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub updated_at: i64,
    /// When the adapter confirmed, ms.
    #[serde(with = "warden_domain::time::rfc3339::option")]
    #[schemars(with = "Option<warden_domain::time::Timestamp>")]
    pub confirmed_at: Option<i64>,
}

fn delivery_row(r: &AnyRow) -> Result<Delivery> {
    Ok(Delivery {
        action_id: s(r, "action_id")?,
        adapter: s(r, "adapter")?,
        op: c(r, "action_deliveries", "op")?,
        revision: i(r, "revision")?,
        state: c(r, "action_deliveries", "state")?,
        attempts: i(r, "attempts")?,
        last_error: os(r, "last_error")?,
        updated_at: i(r, "updated_at")?,
        confirmed_at: crate::oi(r, "confirmed_at")?,
    })
}

pub use warden_domain::delivery::NO_ADAPTER;

/// An action whose confirmed state moved.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Settled {
    /// The action.
    pub action_id: String,
    /// Its case.
    pub case_id: String,
    /// Its account.
    pub account_id: Option<String>,
    /// Before.
    pub from: ActionState,
    /// After.
    pub to: ActionState,
    /// The adapters that confirmed (for the audit event).
    pub adapters: Vec<String>,
}

impl WriteTx {
    /// Says that `adapter` must now hold change `revision` (`op`) of an action: a new pending
    /// delivery, replacing what it had to hold before.
    pub async fn expect_delivery(
        &mut self,
        action_id: &str,
        adapter: &str,
        op: ChangeOp,
        revision: i64,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO action_deliveries (action_id, adapter, op, revision, state, attempts, last_error, updated_at, confirmed_at) VALUES ($1, $2, $3, $4, 'pending', 0, NULL, $5, NULL) \
             ON CONFLICT (action_id, adapter) DO UPDATE SET op = excluded.op, revision = excluded.revision, state = 'pending', attempts = 0, last_error = NULL, updated_at = excluded.updated_at, confirmed_at = NULL",
        )
        .bind(action_id)
        .bind(adapter)
        .bind(op.code())
        .bind(revision)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Confirms one delivery of exactly change `revision` (a confirmation of an older change
    /// never confirms a newer one). Returns whether it moved.
    pub async fn confirm_delivery(
        &mut self,
        action_id: &str,
        adapter: &str,
        revision: i64,
        now: i64,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE action_deliveries SET state = 'confirmed', confirmed_at = $1, updated_at = $1, last_error = NULL, attempts = attempts + 1 WHERE action_id = $2 AND adapter = $3 AND revision = $4 AND state IN ('pending', 'failed')",
        )
        .bind(now)
        .bind(action_id)
        .bind(adapter)
        .bind(revision)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Confirms every open delivery of `adapter` up to `revision` (an adapter that holds the
    /// whole log up to there); returns the actions concerned.
    pub async fn confirm_deliveries_up_to(
        &mut self,
        adapter: &str,
        revision: i64,
        now: i64,
    ) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "UPDATE action_deliveries SET state = 'confirmed', confirmed_at = $1, updated_at = $1, last_error = NULL, attempts = attempts + 1 WHERE adapter = $2 AND revision <= $3 AND state IN ('pending', 'failed') RETURNING action_id",
        )
        .bind(now)
        .bind(adapter)
        .bind(revision)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(|r| s(r, "action_id")).collect()
    }

    /// Records a failed attempt on one delivery; `give_up` marks it `failed` (reconciliation
    /// re-sends it). Returns whether it moved.
    pub async fn fail_delivery(
        &mut self,
        action_id: &str,
        adapter: &str,
        revision: i64,
        error: &str,
        give_up: bool,
        now: i64,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE action_deliveries SET state = $1, last_error = $2, attempts = attempts + 1, updated_at = $3 WHERE action_id = $4 AND adapter = $5 AND revision = $6 AND state IN ('pending', 'failed')",
        )
        .bind(if give_up { "failed" } else { "pending" })
        .bind(error)
        .bind(now)
        .bind(action_id)
        .bind(adapter)
        .bind(revision)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records a failed attempt on every open delivery of `adapter` up to `revision`; those
    /// with `max_attempts` or more attempts become `failed`. Returns the actions concerned.
    pub async fn fail_deliveries_up_to(
        &mut self,
        adapter: &str,
        revision: i64,
        error: &str,
        max_attempts: i64,
        now: i64,
    ) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "UPDATE action_deliveries SET attempts = attempts + 1, last_error = $1, updated_at = $2, state = CASE WHEN attempts + 1 >= $3 THEN 'failed' ELSE 'pending' END WHERE adapter = $4 AND revision <= $5 AND state IN ('pending', 'failed') RETURNING action_id",
        )
        .bind(error)
        .bind(now)
        .bind(max_attempts)
        .bind(adapter)
        .bind(revision)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(|r| s(r, "action_id")).collect()
    }

    /// Retires the deliveries of adapters that are no longer configured; returns the actions.
    pub async fn retire_deliveries(&mut self, keep: &[String], now: i64) -> Result<Vec<String>> {
        let rows =
            sqlx::query("SELECT DISTINCT adapter FROM action_deliveries WHERE state <> 'retired'")
                .fetch_all(self.conn())
                .await?;
        let mut actions = Vec::new();
        for r in &rows {
            let adapter = s(r, "adapter")?;
            if keep.contains(&adapter) {
                continue;
            }
            let moved = sqlx::query(
                "UPDATE action_deliveries SET state = 'retired', updated_at = $1 WHERE adapter = $2 AND state <> 'retired' RETURNING action_id",
            )
            .bind(now)
            .bind(adapter.as_str())
            .fetch_all(self.conn())
            .await?;
            for m in &moved {
                actions.push(s(m, "action_id")?);
            }
        }
        Ok(actions)
    }

    /// Moves an action's confirmed state from its deliveries (PEN-3): `applied` when every
    /// adapter that enforces it confirmed the apply, `lifted` when every one confirmed the lift
    /// (or none enforces it), `failed` while a delivery's retries are exhausted, otherwise as it
    /// was. Returns the move, if any.
    pub async fn settle_action(&mut self, action_id: &str, now: i64) -> Result<Option<Settled>> {
        let Some(a) = sqlx::query("SELECT * FROM case_actions WHERE id = $1")
            .bind(action_id)
            .fetch_optional(self.conn())
            .await?
        else {
            return Ok(None);
        };
        let state: ActionState = c(&a, "case_actions", "state")?;
        let desired: Desired = c(&a, "case_actions", "desired")?;
        let last_error = os(&a, "last_error")?;
        let rows = sqlx::query(
            "SELECT * FROM action_deliveries WHERE action_id = $1 AND state <> 'retired' ORDER BY adapter",
        )
        .bind(action_id)
        .fetch_all(self.conn())
        .await?;
        let deliveries = rows.iter().map(delivery_row).collect::<Result<Vec<_>>>()?;
        let facts: Vec<DeliveryFacts<'_>> = deliveries
            .iter()
            .map(|d| DeliveryFacts {
                adapter: &d.adapter,
                op: d.op,
                state: d.state,
                last_error: d.last_error.as_deref(),
            })
            .collect();
        let Some(settled) = settle(state, desired, &facts) else {
            return Ok(None);
        };
        if settled.state == state && settled.error == last_error {
            return Ok(None);
        }
        sqlx::query(
            "UPDATE case_actions SET state = $1, last_error = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(settled.state.code())
        .bind(settled.error.as_deref())
        .bind(now)
        .bind(action_id)
        .execute(self.conn())
        .await?;
        Ok((settled.state != state).then(|| Settled {
            action_id: action_id.to_string(),
            case_id: s(&a, "case_id").unwrap_or_default(),
            account_id: os(&a, "account_id").ok().flatten(),
            from: state,
            to: settled.state,
            adapters: settled.confirmed_by,
        }))
    }
}

impl Store {
    /// The deliveries of some actions.
    pub async fn deliveries_of(&self, action_ids: &[String]) -> Result<Vec<Delivery>> {
        let mut out = Vec::new();
        for id in action_ids {
            let rows = sqlx::query(
                "SELECT * FROM action_deliveries WHERE action_id = $1 ORDER BY adapter",
            )
            .bind(id.as_str())
            .fetch_all(self.pool())
            .await?;
            for r in &rows {
                out.push(delivery_row(r)?);
            }
        }
        Ok(out)
    }

    /// Deliveries not confirmed (optionally of one adapter, or only `failed` ones), oldest
    /// change first: what the operators watch and reconciliation re-sends.
    pub async fn open_deliveries(
        &self,
        adapter: Option<&str>,
        only_failed: bool,
        updated_before: i64,
        limit: i64,
    ) -> Result<Vec<Delivery>> {
        let rows = sqlx::query(
            "SELECT * FROM action_deliveries WHERE state IN ('pending', 'failed') AND ($1 = '' OR adapter = $1) AND ($2 = 0 OR state = 'failed') AND updated_at < $3 ORDER BY revision LIMIT $4",
        )
        .bind(adapter.unwrap_or(""))
        .bind(i64::from(only_failed))
        .bind(updated_before)
        .bind(page(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(delivery_row).collect()
    }

    /// Open deliveries (`pending`, `failed`) per adapter and state, for the metrics.
    pub async fn delivery_counts(&self) -> Result<Vec<(String, DeliveryState, i64)>> {
        let rows = sqlx::query(
            "SELECT adapter, state, COUNT(*) AS n FROM action_deliveries WHERE state IN ('pending', 'failed') GROUP BY adapter, state ORDER BY adapter, state",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    s(r, "adapter")?,
                    c(r, "action_deliveries", "state")?,
                    i(r, "n")?,
                ))
            })
            .collect()
    }

    /// The latest change of an action (what its adapters must hold).
    pub async fn latest_change(&self, action_id: &str) -> Result<Option<EnforcementChange>> {
        let r = sqlx::query(
            "SELECT * FROM enforcement_changes WHERE action_id = $1 ORDER BY revision DESC LIMIT 1",
        )
        .bind(action_id)
        .fetch_optional(self.pool())
        .await?;
        r.as_ref().map(row).transpose()
    }

    /// The latest change of every action in force that `adapter` has no delivery for (an
    /// adapter configured after the action was applied), oldest first.
    pub async fn in_force_without_delivery(
        &self,
        adapter: &str,
        after_revision: i64,
        limit: i64,
    ) -> Result<Vec<EnforcementChange>> {
        let rows = sqlx::query(
            "SELECT c.* FROM enforcement_changes c JOIN case_actions a ON a.id = c.action_id \
             WHERE c.op = 'apply' AND c.revision > $1 AND a.desired = 'in_force' \
             AND NOT EXISTS (SELECT 1 FROM action_deliveries d WHERE d.action_id = c.action_id AND d.adapter = $2 AND d.state <> 'retired') \
             ORDER BY c.revision LIMIT $3",
        )
        .bind(after_revision)
        .bind(adapter)
        .bind(page(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(row).collect()
    }
}
