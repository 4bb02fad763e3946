//! The audit log (AUD-1..3): reading it, verifying its hash chain, purging past retention.

use serde::Serialize;
use warden_domain::identity::Role;
use warden_store::audit::{AuditEvent, AuditFilter, Purge, Verification};

use crate::App;
use crate::auth::{Actor, Actors, Principal};
use crate::error::AppResult;

const AUDITORS: &[Role] = &[Role::Admin, Role::Auditor];

/// An audit event as auditors read it (AUD-1/2): the actor by id and label, the details as JSON,
/// and the chain's hashes so an export can be checked.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AuditEntry {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When.
    pub at: warden_domain::time::Timestamp,
    /// Who.
    pub actor: Actor,
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
    /// Details.
    pub details: serde_json::Value,
    /// Previous event's hash.
    pub prev_hash: String,
    /// This event's hash.
    pub hash: String,
}

impl AuditEntry {
    fn of(e: AuditEvent, actors: &Actors) -> AuditEntry {
        AuditEntry {
            seq: e.seq,
            at: warden_domain::time::Timestamp(e.at),
            actor: actors.get(&e.actor),
            role: e.role,
            action: e.action,
            subject: e.subject,
            account_id: e.account_id,
            before_digest: e.before_digest,
            after_digest: e.after_digest,
            details: serde_json::from_str(&e.details)
                .unwrap_or(serde_json::Value::String(e.details)),
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

impl App {
    /// Audit events page (auditors and admins).
    pub async fn list_audit(
        &self,
        who: &Principal,
        f: &AuditFilter,
        after: i64,
        limit: i64,
    ) -> AppResult<Vec<AuditEntry>> {
        who.require(AUDITORS, "read the audit log")?;
        let events = self.store.list_audit(f, after, limit).await?;
        let actors = self.actors().await?;
        Ok(events
            .into_iter()
            .map(|e| AuditEntry::of(e, &actors))
            .collect())
    }

    /// Records that `who` exported audit events under `f` (AUD-2: reading the log in bulk is
    /// itself on the record).
    pub async fn note_audit_export(
        &self,
        who: &Principal,
        f: &AuditFilter,
        count: usize,
    ) -> AppResult<()> {
        who.require(AUDITORS, "export the audit log")?;
        let mut tx = self.store.begin_write().await?;
        let mut ev = self.event(who, "audit.export", "audit".into());
        ev.details = serde_json::json!({
            "events": count, "action": f.action, "subject": f.subject, "account_id": f.account_id,
            "actor": f.actor, "from": f.from, "to": f.to,
        });
        tx.append_audit(ev).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The actor id of a login (`alice` → `usr_...`), for searching the log by person; other
    /// text is taken as an actor id as it is.
    pub async fn actor_id(&self, who: &Principal, text: &str) -> AppResult<String> {
        who.require(AUDITORS, "search the audit log")?;
        let t = text.trim();
        let mut tx = self.store.begin_write().await?;
        let found = tx.user_by_login(&t.to_ascii_lowercase()).await?;
        drop(tx);
        Ok(found.map_or_else(|| t.to_string(), |(u, _)| u.id))
    }

    /// Verifies the audit chain (AUD-2).
    pub async fn verify_audit(&self, who: &Principal) -> AppResult<Verification> {
        who.require(AUDITORS, "verify the audit log")?;
        Ok(self.store.verify_audit().await?)
    }

    /// Purges audit events older than `before` (AUD-3: refused inside the retention period).
    pub async fn purge_audit(&self, who: &Principal, before: i64) -> AppResult<Purge> {
        who.require(&[Role::Admin], "purge the audit log")?;
        let mut tx = self.store.begin_write().await?;
        let p = tx
            .purge_audit(before, self.settings.audit_retention_days, self.now())
            .await?;
        let mut ev = self.event(who, "audit.purge", "audit".into());
        ev.details = serde_json::json!({ "before": before, "removed": p.removed });
        tx.append_audit(ev).await?;
        tx.commit().await?;
        Ok(p)
    }
}
