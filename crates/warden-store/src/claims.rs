//! Claims on queue items and staff-only notes (issue 10: working together).
//!
//! A claim is one row per item (`case:<id>`, `unblock:<id>`, `ticket:<id>`): the claimer and
//! when it was last active. A claim older than the idle limit counts as released, so a claim
//! left behind by someone who went home never blocks the queue; the check and the take happen
//! in one statement, so two reviewers claiming at once cannot both win.

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::{Result, Store, WriteTx, i, s};

/// A live or stale claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claim {
    /// The item (`unblock:unb_...`).
    pub item: String,
    /// Who holds it (actor id).
    pub claimed_by: String,
    /// Taken, ms.
    pub claimed_at: i64,
    /// Last activity of the holder on it, ms.
    pub active_at: i64,
}

/// A note staff keep on a case; tenants never read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaffNote {
    /// Id (`nte_...`).
    pub id: String,
    /// The case.
    pub case_id: String,
    /// Who wrote it (actor id).
    pub author: String,
    /// The text.
    pub body: String,
    /// Written, ms.
    pub created_at: i64,
}

fn claim_row(r: &AnyRow) -> Result<Claim> {
    Ok(Claim {
        item: s(r, "item")?,
        claimed_by: s(r, "claimed_by")?,
        claimed_at: i(r, "claimed_at")?,
        active_at: i(r, "active_at")?,
    })
}

impl WriteTx {
    /// Takes `item` for `who` unless someone else holds a claim active since `stale_before`;
    /// renews `who`'s own claim. Returns the claim that holds afterwards (``who``'s if taken).
    pub async fn take_claim(
        &mut self,
        item: &str,
        who: &str,
        now: i64,
        stale_before: i64,
    ) -> Result<Claim> {
        sqlx::query(
            "INSERT INTO claims (item, claimed_by, claimed_at, active_at) VALUES ($1, $2, $3, $3) ON CONFLICT (item) DO UPDATE SET claimed_by = excluded.claimed_by, claimed_at = CASE WHEN claims.claimed_by = excluded.claimed_by THEN claims.claimed_at ELSE excluded.claimed_at END, active_at = excluded.active_at WHERE claims.claimed_by = excluded.claimed_by OR claims.active_at < $4",
        )
        .bind(item)
        .bind(who)
        .bind(now)
        .bind(stale_before)
        .execute(self.conn())
        .await?;
        let r = sqlx::query("SELECT * FROM claims WHERE item = $1")
            .bind(item)
            .fetch_one(self.conn())
            .await?;
        claim_row(&r)
    }

    /// Gives `item` to `to` whoever holds it (an operator reassigning).
    pub async fn assign_claim(&mut self, item: &str, to: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO claims (item, claimed_by, claimed_at, active_at) VALUES ($1, $2, $3, $3) ON CONFLICT (item) DO UPDATE SET claimed_by = excluded.claimed_by, claimed_at = excluded.claimed_at, active_at = excluded.active_at",
        )
        .bind(item)
        .bind(to)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Releases `item` if `who` holds it (or anyone, with `None`); whether a claim was removed.
    pub async fn release_claim(&mut self, item: &str, who: Option<&str>) -> Result<bool> {
        let r = sqlx::query("DELETE FROM claims WHERE item = $1 AND ($2 = '' OR claimed_by = $2)")
            .bind(item)
            .bind(who.unwrap_or(""))
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// The claim on `item`, live or stale.
    pub async fn claim_of(&mut self, item: &str) -> Result<Option<Claim>> {
        let r = sqlx::query("SELECT * FROM claims WHERE item = $1")
            .bind(item)
            .fetch_optional(self.conn())
            .await?;
        r.as_ref().map(claim_row).transpose()
    }

    /// Stores a staff note.
    pub async fn insert_staff_note(&mut self, n: &StaffNote) -> Result<()> {
        sqlx::query(
            "INSERT INTO staff_notes (id, case_id, author, body, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&n.id)
        .bind(&n.case_id)
        .bind(&n.author)
        .bind(&n.body)
        .bind(n.created_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl Store {
    /// Claims on these items active since `stale_before` (live ones only).
    pub async fn live_claims(&self, items: &[String], stale_before: i64) -> Result<Vec<Claim>> {
        let mut out = Vec::new();
        for chunk in items.chunks(500) {
            if chunk.is_empty() {
                continue;
            }
            let list = crate::placeholders(1, chunk.len());
            let sql = format!(
                "SELECT * FROM claims WHERE active_at >= ${} AND item IN {list}",
                chunk.len() + 1
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for it in chunk {
                q = q.bind(it);
            }
            let rows = q.bind(stale_before).fetch_all(self.pool()).await?;
            for r in &rows {
                out.push(claim_row(r)?);
            }
        }
        Ok(out)
    }

    /// A case's staff notes, oldest first.
    pub async fn staff_notes(&self, case_id: &str) -> Result<Vec<StaffNote>> {
        let rows =
            sqlx::query("SELECT * FROM staff_notes WHERE case_id = $1 ORDER BY id LIMIT 1000")
                .bind(case_id)
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| {
                Ok(StaffNote {
                    id: s(r, "id")?,
                    case_id: s(r, "case_id")?,
                    author: s(r, "author")?,
                    body: s(r, "body")?,
                    created_at: i(r, "created_at")?,
                })
            })
            .collect()
    }
}
