//! Raw figures for the handling-times dashboard (issue 10): when cases were opened and first
//! triaged, when manual unblock requests and tickets were submitted, due and decided.

use crate::{Result, Store, i, oi};

/// Handling times since a moment, as raw rows (the app groups them by week).
#[derive(Debug, Clone, Default)]
pub struct HandlingRows {
    /// (opened, first confirm or dismiss) of cases opened since.
    pub triage: Vec<(i64, Option<i64>)>,
    /// (submitted, due, decided) of manual unblock requests submitted since.
    pub unblocks: Vec<(i64, Option<i64>, Option<i64>)>,
    /// (submitted, due, closed) of tickets submitted since.
    pub tickets: Vec<(i64, Option<i64>, Option<i64>)>,
}

/// At most this many rows of each kind are read (the dashboard shows weeks, not every case).
const MAX_ROWS: i64 = 200_000;

impl Store {
    /// The rows of [`HandlingRows`] since `since` (ms).
    pub async fn handling_rows(&self, since: i64) -> Result<HandlingRows> {
        let triage = sqlx::query(
            "SELECT c.opened_at AS opened, (SELECT MIN(a.at) FROM audit_events a WHERE a.subject = 'case:' || c.id AND a.action IN ('case.confirm', 'case.dismiss')) AS triaged FROM cases c WHERE c.opened_at >= $1 ORDER BY c.opened_at LIMIT $2",
        )
        .bind(since)
        .bind(MAX_ROWS)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| Ok((i(r, "opened")?, oi(r, "triaged")?)))
        .collect::<Result<Vec<_>>>()?;
        let unblocks = sqlx::query(
            "SELECT submitted_at, due_at, decided_at FROM unblock_requests WHERE kind = 'manual' AND submitted_at >= $1 ORDER BY submitted_at LIMIT $2",
        )
        .bind(since)
        .bind(MAX_ROWS)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| Ok((i(r, "submitted_at")?, oi(r, "due_at")?, oi(r, "decided_at")?)))
        .collect::<Result<Vec<_>>>()?;
        let tickets = sqlx::query(
            "SELECT submitted_at, due_at, closed_at FROM tickets WHERE submitted_at >= $1 ORDER BY submitted_at LIMIT $2",
        )
        .bind(since)
        .bind(MAX_ROWS)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| Ok((i(r, "submitted_at")?, oi(r, "due_at")?, oi(r, "closed_at")?)))
        .collect::<Result<Vec<_>>>()?;
        Ok(HandlingRows {
            triage,
            unblocks,
            tickets,
        })
    }
}
