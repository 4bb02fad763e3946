//! The abuse desk's mail (INT-2, INT-6): each e-mail taken in, once, with the receipt it was
//! answered; and the reports kept without a case (notify-only, or from a muted reporter).
//!
//! Both are written in the transaction that stores the mail's case reports, so a message is
//! wholly in or not at all: the caller acknowledges the message only after the commit.

use sqlx::any::AnyRow;
use warden_domain::taxonomy::Category;

use crate::{Result, Store, WriteTx, i, ob, oi, os, placeholders, s};

/// A message taken in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRow {
    /// Id (`mail_...`).
    pub id: String,
    /// SHA-256 of the raw message, lower-case hex: the same bytes are the same message.
    pub sha256: String,
    /// `Message-ID`, without `<>`.
    pub message_id: Option<String>,
    /// How it came: `api`, `pipe`, `smtp`.
    pub door: String,
    /// The reporter it was recognised as (a configured reporter's name, or the sender's domain).
    pub reporter: Option<String>,
    /// The reporter's trust: `trusted`, `normal`, `muted`.
    pub trust: String,
    /// The sealed `From:` (personal data, AUD-4).
    pub from_enc: Option<Vec<u8>>,
    /// Size of the raw message, bytes.
    pub size: i64,
    /// Case reports stored from it.
    pub reports: i64,
    /// Reports kept without a case.
    pub held: i64,
    /// The token or user that handed it in (`system` for the pipe and the SMTP listener).
    pub submitted_by: String,
    /// The receipt answered, JSON.
    pub receipt: String,
    /// Taken in, ms.
    pub received_at: i64,
}

/// A report kept without a case (INT-6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldReport {
    /// Id (`held_...`).
    pub id: String,
    /// The message it came in.
    pub mail_id: String,
    /// `notify_only` (a vulnerable service: told, not penalised) or `muted` (its reporter is
    /// muted: kept, never a case).
    pub disposition: String,
    /// The owning account, if the target is the provider's.
    pub account_id: Option<String>,
    /// The owning resource.
    pub resource_id: Option<String>,
    /// The target, canonical.
    pub target: String,
    /// The category the report's type maps to.
    pub category: Category,
    /// Its format (`arf`, `xarf_v4`, ...).
    pub format: String,
    /// The reporter.
    pub reporter: Option<String>,
    /// Text for people.
    pub description: String,
    /// The reporting part as received.
    pub evidence: Option<Vec<u8>>,
    /// SHA-256 of `evidence`.
    pub evidence_sha256: Option<String>,
    /// Taken in, ms.
    pub received_at: i64,
}

fn mail_row(r: &AnyRow) -> Result<MailRow> {
    Ok(MailRow {
        id: s(r, "id")?,
        sha256: s(r, "sha256")?,
        message_id: os(r, "message_id")?,
        door: s(r, "door")?,
        reporter: os(r, "reporter")?,
        trust: s(r, "trust")?,
        from_enc: ob(r, "from_enc")?,
        size: i(r, "size")?,
        reports: i(r, "reports")?,
        held: i(r, "held")?,
        submitted_by: s(r, "submitted_by")?,
        receipt: s(r, "receipt")?,
        received_at: i(r, "received_at")?,
    })
}

fn held_row(r: &AnyRow) -> Result<HeldReport> {
    Ok(HeldReport {
        id: s(r, "id")?,
        mail_id: s(r, "mail_id")?,
        disposition: s(r, "disposition")?,
        account_id: os(r, "account_id")?,
        resource_id: os(r, "resource_id")?,
        target: s(r, "target")?,
        category: crate::c(r, "held_reports", "category")?,
        format: s(r, "format")?,
        reporter: os(r, "reporter")?,
        description: s(r, "description")?,
        evidence: ob(r, "evidence")?,
        evidence_sha256: os(r, "evidence_sha256")?,
        received_at: i(r, "received_at")?,
    })
}

impl WriteTx {
    /// The message with these bytes, if it was taken in before (read in the writing
    /// transaction, so two deliveries of one message cannot both store it).
    pub async fn mail_by_sha256(&mut self, sha256: &str) -> Result<Option<MailRow>> {
        let r = sqlx::query("SELECT * FROM mail_messages WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(self.conn())
            .await?;
        r.as_ref().map(mail_row).transpose()
    }

    /// Records a message taken in.
    pub async fn insert_mail(&mut self, m: &MailRow) -> Result<()> {
        let res = sqlx::query(
            "INSERT INTO mail_messages (id, sha256, message_id, door, reporter, trust, from_enc, size, reports, held, submitted_by, receipt, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(m.id.as_str())
        .bind(m.sha256.as_str())
        .bind(m.message_id.as_deref())
        .bind(m.door.as_str())
        .bind(m.reporter.as_deref())
        .bind(m.trust.as_str())
        .bind(m.from_enc.as_deref())
        .bind(m.size)
        .bind(m.reports)
        .bind(m.held)
        .bind(m.submitted_by.as_str())
        .bind(m.receipt.as_str())
        .bind(m.received_at)
        .execute(self.conn())
        .await;
        crate::conflict_on_unique(res, || "this message was taken in already".into())?;
        Ok(())
    }

    /// Stores reports kept without a case, in multi-row statements.
    pub async fn insert_held_reports(&mut self, rows: &[HeldReport]) -> Result<()> {
        for chunk in rows.chunks(self.engine().rows_per_statement()) {
            let sql = format!(
                "INSERT INTO held_reports (id, mail_id, disposition, account_id, resource_id, target, category, format, reporter, description, evidence, evidence_sha256, received_at) VALUES {}",
                placeholders(chunk.len(), 13)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for h in chunk {
                q = q
                    .bind(h.id.as_str())
                    .bind(h.mail_id.as_str())
                    .bind(h.disposition.as_str())
                    .bind(h.account_id.as_deref())
                    .bind(h.resource_id.as_deref())
                    .bind(h.target.as_str())
                    .bind(h.category.code())
                    .bind(h.format.as_str())
                    .bind(h.reporter.as_deref())
                    .bind(h.description.as_str())
                    .bind(h.evidence.as_deref())
                    .bind(h.evidence_sha256.as_deref())
                    .bind(h.received_at);
            }
            q.execute(self.conn()).await?;
        }
        Ok(())
    }
}

impl Store {
    /// A message by id.
    pub async fn get_mail(&self, id: &str) -> Result<Option<MailRow>> {
        let r = sqlx::query("SELECT * FROM mail_messages WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        r.as_ref().map(mail_row).transpose()
    }

    /// How many messages were taken in.
    pub async fn count_mails(&self) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM mail_messages")
            .fetch_one(self.pool())
            .await?;
        Ok(oi(&r, "n")?.unwrap_or(0))
    }

    /// The reports a message left without a case, oldest first.
    pub async fn held_reports_of_mail(&self, mail_id: &str) -> Result<Vec<HeldReport>> {
        let rows = sqlx::query("SELECT * FROM held_reports WHERE mail_id = $1 ORDER BY id")
            .bind(mail_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(held_row).collect()
    }
}
