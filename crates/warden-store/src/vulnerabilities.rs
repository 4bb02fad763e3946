//! Confidential vulnerability reports (ASMT-4). The store keeps their text as the app sealed it
//! and never sees it in the clear; the rows are reached only through the functions here, which
//! nothing else (case search, counts, exports, the audit log) calls.
//!
//! The security team's reads (the inbox, one report) are on [`WriteTx`], so that the use case
//! writes the audit event of the read in the same transaction as the read itself (ASMT-4: each
//! read is audited). The reporter's status reads are on [`Store`] and return no text at all.

use serde::Serialize;
use sqlx::any::AnyRow;
use warden_domain::vulnerability::{VulnerabilitySeverity, VulnerabilityState};

use crate::{Conditions, Result, Store, StoreError, WriteTx, c, i, ob, os, page, s};

/// A stored vulnerability report, its text sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VulnerabilityRow {
    /// Id (`vul_...`).
    pub id: String,
    /// The reporting tenant's account; `None` for anyone else.
    pub account_id: Option<String>,
    /// Who reported it: the token or user id, or `anonymous`.
    pub reporter: String,
    /// SHA-256 of the status token of a reporter without an account.
    pub status_token_sha256: Option<String>,
    /// The severity as declared.
    pub severity: VulnerabilitySeverity,
    /// Where it stands.
    pub state: VulnerabilityState,
    /// Sealed title.
    pub title_enc: Vec<u8>,
    /// Sealed description.
    pub description_enc: Vec<u8>,
    /// Sealed details.
    pub details_enc: Option<Vec<u8>>,
    /// Sealed affected component.
    pub component_enc: Vec<u8>,
    /// Received, ms.
    pub received_at: i64,
    /// Last state change (or received), ms.
    pub updated_at: i64,
    /// Who made the last state change.
    pub updated_by: Option<String>,
}

/// What a reporter sees of its report: where it stands, nothing of its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct VulnerabilityStatus {
    /// Id.
    pub id: String,
    /// Where it stands.
    pub state: VulnerabilityState,
    /// Received.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub received_at: i64,
    /// Last state change.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub updated_at: i64,
}

fn sealed(r: &AnyRow, col: &str) -> Result<Vec<u8>> {
    ob(r, col)?.ok_or_else(|| StoreError::Corrupt(format!("vulnerability_reports.{col} is NULL")))
}

fn row(r: &AnyRow) -> Result<VulnerabilityRow> {
    Ok(VulnerabilityRow {
        id: s(r, "id")?,
        account_id: os(r, "account_id")?,
        reporter: s(r, "reporter")?,
        status_token_sha256: os(r, "status_token_sha256")?,
        severity: c(r, "vulnerability_reports", "severity")?,
        state: c(r, "vulnerability_reports", "state")?,
        title_enc: sealed(r, "title_enc")?,
        description_enc: sealed(r, "description_enc")?,
        details_enc: ob(r, "details_enc")?,
        component_enc: sealed(r, "component_enc")?,
        received_at: i(r, "received_at")?,
        updated_at: i(r, "updated_at")?,
        updated_by: os(r, "updated_by")?,
    })
}

fn status(r: &AnyRow) -> Result<VulnerabilityStatus> {
    Ok(VulnerabilityStatus {
        id: s(r, "id")?,
        state: c(r, "vulnerability_reports", "state")?,
        received_at: i(r, "received_at")?,
        updated_at: i(r, "updated_at")?,
    })
}

const STATUS_COLUMNS: &str = "id, state, received_at, updated_at";

impl WriteTx {
    /// Stores a new report.
    pub async fn insert_vulnerability(&mut self, v: &VulnerabilityRow) -> Result<()> {
        let res = sqlx::query(
            "INSERT INTO vulnerability_reports (id, account_id, reporter, status_token_sha256, severity, state, title_enc, description_enc, details_enc, component_enc, received_at, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(v.id.as_str())
        .bind(v.account_id.as_deref())
        .bind(v.reporter.as_str())
        .bind(v.status_token_sha256.as_deref())
        .bind(v.severity.code())
        .bind(v.state.code())
        .bind(v.title_enc.as_slice())
        .bind(v.description_enc.as_slice())
        .bind(v.details_enc.as_deref())
        .bind(v.component_enc.as_slice())
        .bind(v.received_at)
        .bind(v.updated_at)
        .bind(v.updated_by.as_deref())
        .execute(self.conn())
        .await;
        crate::conflict_on_unique(res, || {
            "vulnerability report id or status token taken".into()
        })?;
        Ok(())
    }

    /// One report, inside the transaction (the security team's read).
    pub async fn get_vulnerability(&mut self, id: &str) -> Result<Option<VulnerabilityRow>> {
        let r = sqlx::query("SELECT * FROM vulnerability_reports WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        r.as_ref().map(row).transpose()
    }

    /// The inbox, newest first: reports in `state` (every state when `None`), after the id
    /// `before` (keyset: the next page starts below the last id shown).
    pub async fn list_vulnerabilities(
        &mut self,
        state: Option<VulnerabilityState>,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<VulnerabilityRow>> {
        let conditions = Conditions::from(1)
            .eq("state", state.map(VulnerabilityState::code))
            .cmp("id", "<", before);
        let sql = format!(
            "SELECT * FROM vulnerability_reports WHERE 1 = 1{} ORDER BY id DESC LIMIT {}",
            conditions.sql(),
            page(limit)
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql));
        let rows = conditions.bind(q).fetch_all(self.conn()).await?;
        rows.iter().map(row).collect()
    }

    /// How many reports are in each state (states without any are left out).
    pub async fn count_vulnerabilities_by_state(
        &mut self,
    ) -> Result<Vec<(VulnerabilityState, i64)>> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM vulnerability_reports GROUP BY state ORDER BY state",
        )
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| Ok((c(r, "vulnerability_reports", "state")?, i(r, "n")?)))
            .collect()
    }

    /// Moves a report from `from` to `to`; false when it was no longer in `from` (someone else
    /// moved it first) or does not exist.
    pub async fn set_vulnerability_state(
        &mut self,
        id: &str,
        from: VulnerabilityState,
        to: VulnerabilityState,
        by: &str,
        now: i64,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE vulnerability_reports SET state = $1, updated_by = $2, updated_at = $3 WHERE id = $4 AND state = $5",
        )
        .bind(to.code())
        .bind(by)
        .bind(now)
        .bind(id)
        .bind(from.code())
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }
}

impl Store {
    /// The statuses of an account's reports, newest first (a tenant's view: no text).
    pub async fn vulnerability_statuses(
        &self,
        account_id: &str,
        limit: i64,
    ) -> Result<Vec<VulnerabilityStatus>> {
        if account_id.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {STATUS_COLUMNS} FROM vulnerability_reports WHERE account_id = $1 ORDER BY id DESC LIMIT {}",
            page(limit)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(status).collect()
    }

    /// The status of the report whose status token has this SHA-256 (an anonymous reporter's
    /// view: no text).
    pub async fn vulnerability_status_by_token(
        &self,
        token_sha256: &str,
    ) -> Result<Option<VulnerabilityStatus>> {
        let sql = format!(
            "SELECT {STATUS_COLUMNS} FROM vulnerability_reports WHERE status_token_sha256 = $1"
        );
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token_sha256)
            .fetch_optional(self.pool())
            .await?;
        r.as_ref().map(status).transpose()
    }
}
