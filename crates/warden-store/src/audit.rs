//! The audit log (AUD-1..3): append-only, hash-chained, verified, purged only past retention.
//!
//! Each event's `hash` is SHA-256 over the previous event's hash and a canonical JSON encoding of
//! the event's own fields. Writers lock the one-row `audit_head` table to append, so the chain
//! has no forks even with several nodes on one PostgreSQL. Verification walks the events in
//! sequence, in one read snapshot, and names the first one whose link or content does not match.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;

use crate::{Conditions, Engine, Result, Store, StoreError, WriteTx, i, os, page, s};

/// Least retention the law allows (AUD-3): 180 days.
pub const MIN_RETENTION_DAYS: i64 = 180;

/// The hash before the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An event to append.
#[derive(Debug, Clone, Default)]
pub struct NewAuditEvent {
    /// Token id, `system`, or `anonymous`.
    pub actor: String,
    /// Role code of the actor.
    pub role: String,
    /// What happened, e.g. `report.create`.
    pub action: String,
    /// What it happened to, e.g. `case:case_...`.
    pub subject: String,
    /// The account concerned, if any (lets auditors filter; never shown to tenants).
    pub account_id: Option<String>,
    /// Digest of the subject before.
    pub before_digest: Option<String>,
    /// Digest of the subject after.
    pub after_digest: Option<String>,
    /// JSON details (no secrets, no personal data in clear).
    pub details: serde_json::Value,
    /// When, ms.
    pub at: i64,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AuditEvent {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When, ms.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub at: i64,
    /// Who.
    pub actor: String,
    /// Their role.
    pub role: String,
    /// What.
    pub action: String,
    /// To what.
    pub subject: String,
    /// Account concerned.
    pub account_id: Option<String>,
    /// Digest before.
    pub before_digest: Option<String>,
    /// Digest after.
    pub after_digest: Option<String>,
    /// JSON details as stored.
    pub details: String,
    /// Previous event's hash.
    pub prev_hash: String,
    /// This event's hash.
    pub hash: String,
}

fn row(r: &AnyRow) -> Result<AuditEvent> {
    Ok(AuditEvent {
        seq: i(r, "seq")?,
        at: i(r, "at")?,
        actor: s(r, "actor")?,
        role: s(r, "role")?,
        action: s(r, "action")?,
        subject: s(r, "subject")?,
        account_id: os(r, "account_id")?,
        before_digest: os(r, "before_digest")?,
        after_digest: os(r, "after_digest")?,
        details: s(r, "details")?,
        prev_hash: s(r, "prev_hash")?,
        hash: s(r, "hash")?,
    })
}

/// The hash of an event given its predecessor's hash.
pub fn event_hash(prev_hash: &str, e: &AuditEvent) -> String {
    let canonical = serde_json::json!([
        e.seq,
        e.at,
        e.actor,
        e.role,
        e.action,
        e.subject,
        e.account_id,
        e.before_digest,
        e.after_digest,
        e.details
    ]);
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical.to_string().as_bytes());
    hex::encode(h.finalize())
}

/// The locked head of the chain within one transaction.
#[derive(Debug, Clone)]
pub(crate) struct ChainHead {
    seq: i64,
    hash: String,
}

/// Where verification found the chain broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ChainBreak {
    /// The first bad event.
    pub seq: i64,
    /// What is wrong with it.
    pub reason: String,
}

/// Outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Verification {
    /// Events checked.
    pub checked: i64,
    /// Last good sequence number.
    pub last_seq: i64,
    /// The first break, if any.
    pub broken: Option<ChainBreak>,
}

/// A purge refused or done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Purge {
    /// Events removed.
    pub removed: i64,
}

impl WriteTx {
    /// Locks the chain head for this transaction. Intake calls it first, so that concurrent
    /// writers serialise before they read what they will change.
    pub async fn lock_chain(&mut self) -> Result<()> {
        if self.chain.is_some() {
            return Ok(());
        }
        let sql = match self.engine() {
            Engine::Postgres => "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
            Engine::Sqlite => "SELECT seq, hash FROM audit_head WHERE id = 1",
        };
        let r = sqlx::query(sql).fetch_one(self.conn()).await?;
        self.chain = Some(ChainHead {
            seq: i(&r, "seq")?,
            hash: s(&r, "hash")?,
        });
        Ok(())
    }

    /// Removes events older than `before` in this transaction — refused (`Err(Conflict)`) when `before` is
    /// less than `retention_days` (never below [`MIN_RETENTION_DAYS`]) before `now`. The chain's
    /// base moves to the last removed event so that verification still works.
    pub async fn purge_audit(
        &mut self,
        before: i64,
        retention_days: i64,
        now: i64,
    ) -> Result<Purge> {
        let days = retention_days.max(MIN_RETENTION_DAYS);
        let oldest_allowed = now - days * 86_400_000;
        if before > oldest_allowed {
            return Err(StoreError::Conflict(format!(
                "refusing to purge audit events younger than {days} days (AUD-3); the latest cut-off allowed now is {}",
                warden_domain::time::Timestamp(oldest_allowed).to_rfc3339()
            )));
        }
        let tx = self;
        tx.lock_chain().await?;
        let last = sqlx::query(
            "SELECT seq, hash FROM audit_events WHERE at < $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(before)
        .fetch_optional(tx.conn())
        .await?;
        let Some(last) = last else {
            return Ok(Purge { removed: 0 });
        };
        let (seq, hash) = (i(&last, "seq")?, s(&last, "hash")?);
        let removed = sqlx::query("DELETE FROM audit_events WHERE seq <= $1")
            .bind(seq)
            .execute(tx.conn())
            .await?
            .rows_affected();
        sqlx::query("UPDATE audit_head SET base_seq = $1, base_hash = $2 WHERE id = 1")
            .bind(seq)
            .bind(hash)
            .execute(tx.conn())
            .await?;
        Ok(Purge {
            removed: i64::try_from(removed).unwrap_or(i64::MAX),
        })
    }

    /// Appends an event to the chain in this transaction; returns its sequence number.
    pub async fn append_audit(&mut self, ev: NewAuditEvent) -> Result<i64> {
        let seqs = self.append_audits(vec![ev]).await?;
        seqs.last()
            .copied()
            .ok_or_else(|| StoreError::Corrupt("no audit event appended".into()))
    }

    /// Appends events in order, many rows per statement; returns their sequence numbers.
    pub async fn append_audits(&mut self, events: Vec<NewAuditEvent>) -> Result<Vec<i64>> {
        self.lock_chain().await?;
        let mut head = self
            .chain
            .clone()
            .ok_or_else(|| StoreError::Corrupt("audit head missing".into()))?;
        let mut rows = Vec::with_capacity(events.len());
        for ev in events {
            let mut e = AuditEvent {
                seq: head.seq + 1,
                at: ev.at,
                actor: ev.actor,
                role: ev.role,
                action: ev.action,
                subject: ev.subject,
                account_id: ev.account_id,
                before_digest: ev.before_digest,
                after_digest: ev.after_digest,
                details: ev.details.to_string(),
                prev_hash: head.hash.clone(),
                hash: String::new(),
            };
            e.hash = event_hash(&head.hash, &e);
            head = ChainHead {
                seq: e.seq,
                hash: e.hash.clone(),
            };
            rows.push(e);
        }
        let chunks = rows.len().div_ceil(self.engine().rows_per_statement());
        for (n, chunk) in rows.chunks(self.engine().rows_per_statement()).enumerate() {
            // PostgreSQL: the last insert moves the head in the same statement (one round trip
            // fewer for every write of every use case); SQLite has no INSERT inside WITH.
            let head_too = self.engine() == Engine::Postgres && n + 1 == chunks;
            let insert = format!(
                "INSERT INTO audit_events (seq, at, actor, role, action, subject, account_id, before_digest, after_digest, details, prev_hash, hash) VALUES {}",
                crate::placeholders(chunk.len(), 12)
            );
            let sql = if head_too {
                let p = chunk.len() * 12;
                format!(
                    "WITH appended AS ({insert}) UPDATE audit_head SET seq = ${}, hash = ${} WHERE id = 1",
                    p + 1,
                    p + 2
                )
            } else {
                insert
            };
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for e in chunk {
                q = q
                    .bind(e.seq)
                    .bind(e.at)
                    .bind(e.actor.as_str())
                    .bind(e.role.as_str())
                    .bind(e.action.as_str())
                    .bind(e.subject.as_str())
                    .bind(e.account_id.as_deref())
                    .bind(e.before_digest.as_deref())
                    .bind(e.after_digest.as_deref())
                    .bind(e.details.as_str())
                    .bind(e.prev_hash.as_str())
                    .bind(e.hash.as_str());
            }
            if head_too {
                q = q.bind(head.seq).bind(head.hash.as_str());
            }
            q.execute(self.conn()).await?;
        }
        if !rows.is_empty() {
            if self.engine() == Engine::Sqlite {
                sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
                    .bind(head.seq)
                    .bind(head.hash.as_str())
                    .execute(self.conn())
                    .await?;
            }
            self.chain = Some(head);
        }
        Ok(rows.iter().map(|e| e.seq).collect())
    }
}

/// Audit filter.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this action.
    pub action: Option<String>,
    /// Only this subject.
    pub subject: Option<String>,
    /// Only this account.
    pub account_id: Option<String>,
    /// Only this actor (token or user id).
    pub actor: Option<String>,
    /// Only events at or after this time, ms.
    pub from: Option<i64>,
    /// Only events before this time, ms.
    pub to: Option<i64>,
}

impl Store {
    /// Events after `after_seq` in order.
    pub async fn list_audit(
        &self,
        f: &AuditFilter,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<AuditEvent>> {
        let conditions = Conditions::from(2)
            .eq("action", f.action.as_deref())
            .eq("subject", f.subject.as_deref())
            .eq("account_id", f.account_id.as_deref())
            .eq("actor", f.actor.as_deref())
            .cmp("at", ">=", f.from)
            .cmp("at", "<", f.to);
        let sql = format!(
            "SELECT * FROM audit_events WHERE seq > $1{} ORDER BY seq LIMIT {}",
            conditions.sql(),
            page(limit)
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(after_seq);
        let rows = conditions.bind(q).fetch_all(self.pool()).await?;
        rows.iter().map(row).collect()
    }

    /// Events about any of `subjects`, in order (a case's history: the case and its reports).
    pub async fn list_audit_for_subjects(
        &self,
        subjects: &[String],
        limit: i64,
    ) -> Result<Vec<AuditEvent>> {
        let mut out = Vec::new();
        for chunk in subjects.chunks(crate::KEYS_PER_QUERY) {
            let list: Vec<String> = (0..chunk.len()).map(|n| format!("${}", n + 1)).collect();
            let sql = format!(
                "SELECT * FROM audit_events WHERE subject IN ({}) ORDER BY seq LIMIT {}",
                list.join(", "),
                page(limit)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for s in chunk {
                q = q.bind(s.as_str());
            }
            for r in q.fetch_all(self.pool()).await? {
                out.push(row(&r)?);
            }
        }
        out.sort_by_key(|e| e.seq);
        out.truncate(usize::try_from(page(limit)).unwrap_or(500));
        Ok(out)
    }

    /// Walks the whole chain and reports the first broken event (AUD-2). The head and every
    /// event are read in one snapshot ([`Store::begin_read`]): appends committed meanwhile are
    /// not seen, so they neither look like a broken tail nor keep the walk chasing the writers.
    pub async fn verify_audit(&self) -> Result<Verification> {
        let mut tx = self.begin_read().await?;
        let head =
            sqlx::query("SELECT seq, hash, base_seq, base_hash FROM audit_head WHERE id = 1")
                .fetch_one(&mut *tx)
                .await?;
        let (head_seq, head_hash) = (i(&head, "seq")?, s(&head, "hash")?);
        let mut prev_seq = i(&head, "base_seq")?;
        let mut prev_hash = s(&head, "base_hash")?;
        let mut checked = 0;
        let brk = |seq: i64, reason: String, checked: i64, last: i64| Verification {
            checked,
            last_seq: last,
            broken: Some(ChainBreak { seq, reason }),
        };
        loop {
            let rows =
                sqlx::query("SELECT * FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT 1000")
                    .bind(prev_seq)
                    .fetch_all(&mut *tx)
                    .await?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let e = match row(r) {
                    Ok(e) => e,
                    Err(err) => {
                        return Ok(brk(
                            prev_seq + 1,
                            format!("unreadable event: {err}"),
                            checked,
                            prev_seq,
                        ));
                    }
                };
                if e.seq != prev_seq + 1 {
                    return Ok(brk(
                        prev_seq + 1,
                        format!(
                            "event {} is missing (next stored is {})",
                            prev_seq + 1,
                            e.seq
                        ),
                        checked,
                        prev_seq,
                    ));
                }
                if e.prev_hash != prev_hash {
                    return Ok(brk(
                        e.seq,
                        "its prev_hash does not match the previous event's hash".into(),
                        checked,
                        prev_seq,
                    ));
                }
                if event_hash(&prev_hash, &e) != e.hash {
                    return Ok(brk(
                        e.seq,
                        "its content does not match its hash (altered)".into(),
                        checked,
                        prev_seq,
                    ));
                }
                checked += 1;
                prev_seq = e.seq;
                prev_hash = e.hash;
            }
        }
        tx.commit().await?;
        if prev_seq != head_seq || prev_hash != head_hash {
            return Ok(brk(
                prev_seq + 1,
                format!(
                    "the chain ends at {prev_seq} but the head records {head_seq} (events removed or head altered)"
                ),
                checked,
                prev_seq,
            ));
        }
        Ok(Verification {
            checked,
            last_seq: prev_seq,
            broken: None,
        })
    }
}
