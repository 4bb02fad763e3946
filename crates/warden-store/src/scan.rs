//! Lexicon changes and scan verdicts (DET-1..3).

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::{Result, Store, WriteTx, i, oi, os, s};

/// A lexicon change: adds or replaces a term, or (`removed`) drops it.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TermRow {
    /// Category code.
    pub category: String,
    /// The term as entered.
    pub term: String,
    /// Weight × 1000.
    pub weight_milli: i64,
    /// Context rule: counts only with this term nearby.
    pub near_term: Option<String>,
    /// ... within this many characters.
    pub near_within: Option<i64>,
    /// Whether this row removes the term.
    pub removed: bool,
    /// Changed, ms.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub updated_at: i64,
    /// Who changed it (token id).
    pub updated_by: String,
}

/// A stored verdict.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct VerdictRow {
    /// Id.
    pub id: String,
    /// The case it was for, if any.
    pub case_id: Option<String>,
    /// URL or `text`.
    pub target: String,
    /// The lexicon version used.
    pub lexicon_version: i64,
    /// The verdict, JSON.
    pub verdict: String,
    /// SHA-256 of what was scanned.
    pub evidence_sha256: Option<String>,
    /// When, ms.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub created_at: i64,
}

fn term_row(r: &AnyRow) -> Result<TermRow> {
    Ok(TermRow {
        category: s(r, "category")?,
        term: s(r, "term")?,
        weight_milli: i(r, "weight_milli")?,
        near_term: os(r, "near_term")?,
        near_within: oi(r, "near_within")?,
        removed: i(r, "removed")? != 0,
        updated_at: i(r, "updated_at")?,
        updated_by: s(r, "updated_by")?,
    })
}

impl WriteTx {
    /// Records a lexicon change and bumps the version; returns the new version.
    pub async fn put_lexicon_term(&mut self, t: &TermRow) -> Result<i64> {
        sqlx::query(
            "INSERT INTO lexicon_terms (category, term, weight_milli, near_term, near_within, removed, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (category, term) DO UPDATE SET weight_milli = excluded.weight_milli, near_term = excluded.near_term, near_within = excluded.near_within, removed = excluded.removed, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(t.category.as_str())
        .bind(t.term.as_str())
        .bind(t.weight_milli)
        .bind(t.near_term.as_deref())
        .bind(t.near_within)
        .bind(i64::from(t.removed))
        .bind(t.updated_at)
        .bind(t.updated_by.as_str())
        .execute(self.conn())
        .await?;
        sqlx::query("UPDATE lexicon_meta SET version = version + 1 WHERE id = 1")
            .execute(self.conn())
            .await?;
        let r = sqlx::query("SELECT version FROM lexicon_meta WHERE id = 1")
            .fetch_one(self.conn())
            .await?;
        i(&r, "version")
    }

    /// Stores a verdict.
    pub async fn insert_verdict(&mut self, v: &VerdictRow) -> Result<()> {
        sqlx::query("INSERT INTO scan_verdicts (id, case_id, target, lexicon_version, verdict, evidence_sha256, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(v.id.as_str())
            .bind(v.case_id.as_deref())
            .bind(v.target.as_str())
            .bind(v.lexicon_version)
            .bind(v.verdict.as_str())
            .bind(v.evidence_sha256.as_deref())
            .bind(v.created_at)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

impl Store {
    /// The current lexicon version (cheap: one row).
    pub async fn lexicon_version(&self) -> Result<i64> {
        let r = sqlx::query("SELECT version FROM lexicon_meta WHERE id = 1")
            .fetch_one(self.pool())
            .await?;
        i(&r, "version")
    }

    /// Every lexicon change, with the version they make up.
    pub async fn lexicon_terms(&self) -> Result<(i64, Vec<TermRow>)> {
        let mut tx = self.begin_read().await?;
        let r = sqlx::query("SELECT version FROM lexicon_meta WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        let rows = sqlx::query("SELECT * FROM lexicon_terms ORDER BY category, term")
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((
            i(&r, "version")?,
            rows.iter().map(term_row).collect::<Result<_>>()?,
        ))
    }

    /// The verdicts of a case, newest last.
    pub async fn case_verdicts(&self, case_id: &str) -> Result<Vec<(String, i64, String)>> {
        let rows = sqlx::query("SELECT target, lexicon_version, verdict FROM scan_verdicts WHERE case_id = $1 ORDER BY id")
            .bind(case_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((s(r, "target")?, i(r, "lexicon_version")?, s(r, "verdict")?)))
            .collect()
    }
}
