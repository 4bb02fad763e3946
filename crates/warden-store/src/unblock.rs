//! Unblock requests (UNB-1..6), tickets (TKT-1) and billing records (PEN-2).

use serde::Serialize;
use sqlx::any::AnyRow;

use warden_domain::lifecycle::{RequestState, TicketKind, TicketState, UnblockRoute};

use crate::{Conditions, Result, Scope, Store, WriteTx, c, i, oi, os, page, s};

/// An unblock request.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct UnblockRequest {
    /// Id.
    pub id: String,
    /// The case.
    pub case_id: String,
    /// The account.
    pub account_id: Option<String>,
    /// Self-service or manual.
    pub kind: UnblockRoute,
    /// `pending`, then `succeeded` or `failed` (self-service), `approved` or `rejected` (manual).
    pub state: RequestState,
    /// The rectification commitment (整改承诺书) the tenant confirmed.
    pub commitment: Option<String>,
    /// The URLs that still violate (a failed self-service attempt); empty otherwise. Stored
    /// as a JSON list.
    pub still_violating: Vec<String>,
    /// Why, as the tenant sees it: the reviewer's reason (required to reject, optional to
    /// approve), or why a self-service attempt failed.
    pub reason: Option<String>,
    /// Submitted, ms.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub submitted_at: i64,
    /// SLA due, ms (manual).
    #[serde(with = "warden_domain::time::rfc3339::option")]
    #[schemars(with = "Option<warden_domain::time::Timestamp>")]
    pub due_at: Option<i64>,
    /// Decided, ms.
    #[serde(with = "warden_domain::time::rfc3339::option")]
    #[schemars(with = "Option<warden_domain::time::Timestamp>")]
    pub decided_at: Option<i64>,
    /// Reviewer token id.
    pub decided_by: Option<String>,
}

fn request_row(r: &AnyRow) -> Result<UnblockRequest> {
    Ok(UnblockRequest {
        id: s(r, "id")?,
        case_id: s(r, "case_id")?,
        account_id: os(r, "account_id")?,
        kind: c(r, "unblock_requests", "kind")?,
        state: c(r, "unblock_requests", "state")?,
        commitment: os(r, "commitment")?,
        still_violating: os(r, "still_violating")?
            .and_then(|urls| serde_json::from_str(&urls).ok())
            .unwrap_or_default(),
        reason: os(r, "reason")?,
        submitted_at: i(r, "submitted_at")?,
        due_at: oi(r, "due_at")?,
        decided_at: oi(r, "decided_at")?,
        decided_by: os(r, "decided_by")?,
    })
}

/// A ticket.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Ticket {
    /// Id.
    pub id: String,
    /// The account.
    pub account_id: String,
    /// Linked case.
    pub case_id: Option<String>,
    /// What it asks.
    pub kind: TicketKind,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: String,
    /// Open or closed.
    pub state: TicketState,
    /// Submitted, ms.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub submitted_at: i64,
    /// SLA due, ms.
    #[serde(with = "warden_domain::time::rfc3339::option")]
    #[schemars(with = "Option<warden_domain::time::Timestamp>")]
    pub due_at: Option<i64>,
    /// Closed, ms.
    #[serde(with = "warden_domain::time::rfc3339::option")]
    #[schemars(with = "Option<warden_domain::time::Timestamp>")]
    pub closed_at: Option<i64>,
    /// Reviewer token id.
    pub closed_by: Option<String>,
    /// The answer the tenant sees.
    pub resolution: Option<String>,
}

fn ticket_row(r: &AnyRow) -> Result<Ticket> {
    Ok(Ticket {
        id: s(r, "id")?,
        account_id: s(r, "account_id")?,
        case_id: os(r, "case_id")?,
        kind: c(r, "tickets", "kind")?,
        subject: s(r, "subject")?,
        body: s(r, "body")?,
        state: c(r, "tickets", "state")?,
        submitted_at: i(r, "submitted_at")?,
        due_at: oi(r, "due_at")?,
        closed_at: oi(r, "closed_at")?,
        closed_by: os(r, "closed_by")?,
        resolution: os(r, "resolution")?,
    })
}

impl WriteTx {
    /// Stores an unblock request.
    pub async fn insert_unblock_request(&mut self, u: &UnblockRequest) -> Result<()> {
        sqlx::query(
            "INSERT INTO unblock_requests (id, case_id, account_id, kind, state, commitment, still_violating, reason, submitted_at, due_at, decided_at, decided_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(u.id.as_str())
        .bind(u.case_id.as_str())
        .bind(u.account_id.as_deref())
        .bind(u.kind.code())
        .bind(u.state.code())
        .bind(u.commitment.as_deref())
        .bind(
            (!u.still_violating.is_empty())
                .then(|| serde_json::to_string(&u.still_violating).unwrap_or_default()),
        )
        .bind(u.reason.as_deref())
        .bind(u.submitted_at)
        .bind(u.due_at)
        .bind(u.decided_at)
        .bind(u.decided_by.as_deref())
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Records a decision on a pending request; false if it was not pending.
    pub async fn decide_unblock_request(
        &mut self,
        id: &str,
        state: RequestState,
        reason: Option<&str>,
        by: &str,
        now: i64,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE unblock_requests SET state = $1, reason = $2, decided_by = $3, decided_at = $4 WHERE id = $5 AND state = 'pending'",
        )
        .bind(state.code())
        .bind(reason)
        .bind(by)
        .bind(now)
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The request with this id, inside the transaction.
    pub async fn get_unblock_request(&mut self, id: &str) -> Result<Option<UnblockRequest>> {
        let r = sqlx::query("SELECT * FROM unblock_requests WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        r.as_ref().map(request_row).transpose()
    }

    /// A case's requests, inside the transaction.
    pub async fn unblock_requests(&mut self, case_id: &str) -> Result<Vec<UnblockRequest>> {
        let rows = sqlx::query("SELECT * FROM unblock_requests WHERE case_id = $1 ORDER BY id")
            .bind(case_id)
            .fetch_all(self.conn())
            .await?;
        rows.iter().map(request_row).collect()
    }

    /// Whether the case has a manual request waiting for review (UNB-6).
    pub async fn has_open_unblock_request(&mut self, case_id: &str) -> Result<bool> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS n FROM unblock_requests WHERE case_id = $1 AND state = 'pending'",
        )
        .bind(case_id)
        .fetch_one(self.conn())
        .await?;
        Ok(i(&r, "n")? > 0)
    }

    /// Stores a ticket.
    pub async fn insert_ticket(&mut self, t: &Ticket) -> Result<()> {
        sqlx::query(
            "INSERT INTO tickets (id, account_id, case_id, kind, subject, body, state, submitted_at, due_at, closed_at, closed_by, resolution) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(t.id.as_str())
        .bind(t.account_id.as_str())
        .bind(t.case_id.as_deref())
        .bind(t.kind.code())
        .bind(t.subject.as_str())
        .bind(t.body.as_str())
        .bind(t.state.code())
        .bind(t.submitted_at)
        .bind(t.due_at)
        .bind(t.closed_at)
        .bind(t.closed_by.as_deref())
        .bind(t.resolution.as_deref())
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Closes an open ticket; false if it was not open.
    pub async fn close_ticket(
        &mut self,
        id: &str,
        resolution: &str,
        by: &str,
        now: i64,
    ) -> Result<bool> {
        let r = sqlx::query("UPDATE tickets SET state = 'closed', resolution = $1, closed_by = $2, closed_at = $3 WHERE id = $4 AND state = 'open'")
            .bind(resolution)
            .bind(by)
            .bind(now)
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The ticket with this id, inside the transaction.
    pub async fn get_ticket(&mut self, id: &str) -> Result<Option<Ticket>> {
        let r = sqlx::query("SELECT * FROM tickets WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        r.as_ref().map(ticket_row).transpose()
    }

    /// Records a billing fact (PEN-2: isolation and clearance, no refund for the month).
    pub async fn insert_billing_record(
        &mut self,
        id: &str,
        account_id: &str,
        case_id: Option<&str>,
        kind: &str,
        detail: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query("INSERT INTO billing_records (id, account_id, case_id, kind, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id)
            .bind(account_id)
            .bind(case_id)
            .bind(kind)
            .bind(detail)
            .bind(now)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

impl Store {
    /// A case's unblock requests, if the scope may see them (UNB-6: status at every step).
    pub async fn list_unblock_requests(
        &self,
        scope: &Scope,
        case_id: &str,
    ) -> Result<Vec<UnblockRequest>> {
        let rows = sqlx::query("SELECT * FROM unblock_requests WHERE case_id = $1 AND ($2 = '' OR account_id = $2) ORDER BY id")
            .bind(case_id)
            .bind(scope.sql_param())
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(request_row).collect()
    }

    /// The reviewer queue: pending manual requests, earliest due first.
    pub async fn unblock_queue(&self, limit: i64) -> Result<Vec<UnblockRequest>> {
        let rows = sqlx::query(
            "SELECT * FROM unblock_requests WHERE state = 'pending' ORDER BY due_at, id LIMIT $1",
        )
        .bind(page(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(request_row).collect()
    }

    /// Tickets: the scope's own, or (staff) the open queue earliest due first.
    pub async fn list_tickets(
        &self,
        scope: &Scope,
        only_open: bool,
        limit: i64,
    ) -> Result<Vec<Ticket>> {
        let conditions = Conditions::from(1)
            .scope(scope, "account_id")
            .when(only_open, " AND state = 'open'");
        let sql = format!(
            "SELECT * FROM tickets WHERE 1 = 1{} ORDER BY due_at, id LIMIT {}",
            conditions.sql(),
            page(limit)
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql));
        let rows = conditions.bind(q).fetch_all(self.pool()).await?;
        rows.iter().map(ticket_row).collect()
    }

    /// One ticket, if the scope may see it.
    pub async fn get_ticket(&self, scope: &Scope, id: &str) -> Result<Option<Ticket>> {
        let r = sqlx::query("SELECT * FROM tickets WHERE id = $1 AND ($2 = '' OR account_id = $2)")
            .bind(id)
            .bind(scope.sql_param())
            .fetch_optional(self.pool())
            .await?;
        r.as_ref().map(ticket_row).transpose()
    }

    /// Billing records of an account (staff).
    pub async fn list_billing_records(
        &self,
        account_id: &str,
    ) -> Result<Vec<(String, Option<String>, String, String, i64)>> {
        let rows = sqlx::query("SELECT * FROM billing_records WHERE account_id = $1 ORDER BY id")
            .bind(account_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    s(r, "id")?,
                    os(r, "case_id")?,
                    s(r, "kind")?,
                    s(r, "detail")?,
                    i(r, "created_at")?,
                ))
            })
            .collect()
    }
}
