//! The enforcement change log (ENF-1): every apply and lift of an action with a revision that
//! only grows, written in the transaction that changes the action.

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::{Result, Store, WriteTx, i, os, page, s};

/// One apply or lift.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnforcementChange {
    /// Revision (assigned by the database; 0 before insert).
    pub revision: i64,
    /// The action record.
    pub action_id: String,
    /// Its case.
    pub case_id: String,
    /// Its account.
    pub account_id: Option<String>,
    /// `apply` or `lift`.
    pub op: String,
    /// Action code.
    pub action: String,
    /// Product of the resource.
    pub product: Option<String>,
    /// What it acts on.
    pub target: String,
    /// When, ms.
    pub created_at: i64,
}

fn row(r: &AnyRow) -> Result<EnforcementChange> {
    Ok(EnforcementChange {
        revision: i(r, "revision")?,
        action_id: s(r, "action_id")?,
        case_id: s(r, "case_id")?,
        account_id: os(r, "account_id")?,
        op: s(r, "op")?,
        action: s(r, "action")?,
        product: os(r, "product")?,
        target: s(r, "target")?,
        created_at: i(r, "created_at")?,
    })
}

impl WriteTx {
    /// Logs an apply or lift.
    pub async fn record_enforcement_change(&mut self, c: &EnforcementChange) -> Result<()> {
        sqlx::query(
            "INSERT INTO enforcement_changes (action_id, case_id, account_id, op, action, product, target, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(c.action_id.as_str())
        .bind(c.case_id.as_str())
        .bind(c.account_id.as_deref())
        .bind(c.op.as_str())
        .bind(c.action.as_str())
        .bind(c.product.as_deref())
        .bind(c.target.as_str())
        .bind(c.created_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

/// One webhook delivery attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    pub at: i64,
}

impl WriteTx {
    /// Logs a delivery attempt.
    pub async fn record_webhook_attempt(&mut self, a: &WebhookAttempt) -> Result<()> {
        sqlx::query("INSERT INTO webhook_attempts (id, msg_id, endpoint, attempt, status, error, at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(a.id.as_str())
            .bind(a.msg_id.as_str())
            .bind(a.endpoint.as_str())
            .bind(a.attempt)
            .bind(a.status)
            .bind(a.error.as_deref())
            .bind(a.at)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

impl Store {
    /// Delivery attempts, newest message first; optionally of one message.
    pub async fn webhook_attempts(
        &self,
        msg_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<WebhookAttempt>> {
        let rows = sqlx::query("SELECT * FROM webhook_attempts WHERE ($1 = '' OR msg_id = $1) ORDER BY id DESC LIMIT $2")
            .bind(msg_id.unwrap_or(""))
            .bind(page(limit))
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(WebhookAttempt {
                    id: s(r, "id")?,
                    msg_id: s(r, "msg_id")?,
                    endpoint: s(r, "endpoint")?,
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
