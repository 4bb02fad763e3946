//! Customers' own security assessments (ASMT-1, ASMT-2, ASMT-5): one row per declaration, with
//! the domain's facts as JSON beside the columns the queues and the DDoS plane filter on.
//!
//! The plan is stored without its contact, which is personal data: the caller seals it
//! (AUD-4) and it is kept in `contact_enc`. Kinds and states are decoded into their enums here,
//! once; a stored code this version does not know is an error naming the column.

use ipnet::IpNet;
use sqlx::any::AnyRow;
use warden_domain::assessment::{
    AssessmentFacts, AssessmentKind, AssessmentState, AssessmentTarget, Plan,
};

use crate::{Conditions, Result, Scope, Store, StoreError, WriteTx, c, i, ob, oi, os, page, s};

/// One stored assessment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssessmentRow {
    /// Id (`asm_...`), sortable by creation: the key of keyset paging.
    pub id: String,
    /// The declaring account.
    pub account_id: String,
    /// What it tests.
    pub kind: AssessmentKind,
    /// Where it stands (the same as `facts.state`).
    pub state: AssessmentState,
    /// The targets, canonical.
    pub targets: Vec<AssessmentTarget>,
    /// Where the test traffic comes from.
    pub sources: Vec<IpNet>,
    /// The window's start, ms.
    pub window_start: i64,
    /// The window's end (exclusive), ms.
    pub window_end: i64,
    /// The plan of a stress or destructive test, its `contact` empty (sealed in `contact_enc`).
    pub plan: Option<Plan>,
    /// The plan's contact, sealed.
    pub contact_enc: Option<Vec<u8>>,
    /// The domain's facts.
    pub facts: AssessmentFacts,
    /// Why it stands where it does, in words (the last transition's reason).
    pub reason: String,
    /// The text the tenant told its users (a phishing test's disclosure, ASMT-5).
    pub disclosure: Option<String>,
    /// The approval SLA's due time of a plan (working time), ms.
    pub due_at: Option<i64>,
    /// When a phishing test's disclosure is overdue, ms.
    pub disclosure_due_at: Option<i64>,
    /// Who approved, rejected or stopped it (token id, `system`).
    pub decided_by: Option<String>,
    /// When, ms.
    pub decided_at: Option<i64>,
    /// Who declared it (token id).
    pub created_by: String,
    /// Declared, ms.
    pub created_at: i64,
    /// Last change, ms.
    pub updated_at: i64,
}

fn json<T: serde::de::DeserializeOwned>(r: &AnyRow, col: &str) -> Result<T> {
    let text = s(r, col)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("assessments.{col}: {e}")))
}

fn row(r: &AnyRow) -> Result<AssessmentRow> {
    Ok(AssessmentRow {
        id: s(r, "id")?,
        account_id: s(r, "account_id")?,
        kind: c(r, "assessments", "kind")?,
        state: c(r, "assessments", "state")?,
        targets: json(r, "targets")?,
        sources: json(r, "sources")?,
        window_start: i(r, "window_start")?,
        window_end: i(r, "window_end")?,
        plan: os(r, "plan")?
            .map(|p| {
                serde_json::from_str(&p)
                    .map_err(|e| StoreError::Corrupt(format!("assessments.plan: {e}")))
            })
            .transpose()?,
        contact_enc: ob(r, "contact_enc")?,
        facts: json(r, "facts")?,
        reason: s(r, "reason")?,
        disclosure: os(r, "disclosure")?,
        due_at: oi(r, "due_at")?,
        disclosure_due_at: oi(r, "disclosure_due_at")?,
        decided_by: os(r, "decided_by")?,
        decided_at: oi(r, "decided_at")?,
        created_by: s(r, "created_by")?,
        created_at: i(r, "created_at")?,
        updated_at: i(r, "updated_at")?,
    })
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The plan as stored: without its contact.
fn plan_json(p: &Option<Plan>) -> Option<String> {
    p.as_ref().map(|p| {
        to_json(&Plan {
            contact: String::new(),
            ..p.clone()
        })
    })
}

/// Which assessments a list holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssessmentFilter {
    /// Only this state.
    pub state: Option<AssessmentState>,
    /// Keyset: only ids below this one (the last id of the previous page).
    pub before: Option<String>,
}

/// Most stress-test plans in force read at once by the DDoS plane: a bound, far above what a
/// provider approves at one time.
pub const MAX_PLANS_IN_FORCE: i64 = 1000;

impl WriteTx {
    /// Stores a new assessment.
    pub async fn insert_assessment(&mut self, a: &AssessmentRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO assessments (id, account_id, kind, state, targets, sources, window_start, window_end, plan, contact_enc, facts, reason, disclosure, due_at, disclosure_due_at, decided_by, decided_at, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
        )
        .bind(a.id.as_str())
        .bind(a.account_id.as_str())
        .bind(a.kind.code())
        .bind(a.state.code())
        .bind(to_json(&a.targets))
        .bind(to_json(&a.sources))
        .bind(a.window_start)
        .bind(a.window_end)
        .bind(plan_json(&a.plan))
        .bind(a.contact_enc.clone())
        .bind(to_json(&a.facts))
        .bind(a.reason.as_str())
        .bind(a.disclosure.as_deref())
        .bind(a.due_at)
        .bind(a.disclosure_due_at)
        .bind(a.decided_by.as_deref())
        .bind(a.decided_at)
        .bind(a.created_by.as_str())
        .bind(a.created_at)
        .bind(a.updated_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The assessment with this id, locked for the transaction (PostgreSQL; SQLite's write
    /// transactions are serialised).
    pub async fn get_assessment_for_update(&mut self, id: &str) -> Result<Option<AssessmentRow>> {
        let sql = match self.engine() {
            crate::Engine::Postgres => "SELECT * FROM assessments WHERE id = $1 FOR UPDATE",
            crate::Engine::Sqlite => "SELECT * FROM assessments WHERE id = $1",
        };
        let r = sqlx::query(sql)
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        r.as_ref().map(row).transpose()
    }

    /// Stores what a transition changed: state, facts, reason, disclosure, due times, decision.
    pub async fn update_assessment(&mut self, a: &AssessmentRow) -> Result<()> {
        sqlx::query(
            "UPDATE assessments SET state = $1, facts = $2, reason = $3, disclosure = $4, due_at = $5, disclosure_due_at = $6, decided_by = $7, decided_at = $8, updated_at = $9 WHERE id = $10",
        )
        .bind(a.state.code())
        .bind(to_json(&a.facts))
        .bind(a.reason.as_str())
        .bind(a.disclosure.as_deref())
        .bind(a.due_at)
        .bind(a.disclosure_due_at)
        .bind(a.decided_by.as_deref())
        .bind(a.decided_at)
        .bind(a.updated_at)
        .bind(a.id.as_str())
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl Store {
    /// One assessment, if the scope may see it.
    pub async fn get_assessment(&self, scope: &Scope, id: &str) -> Result<Option<AssessmentRow>> {
        let conditions = Conditions::from(2).scope(scope, "account_id");
        let sql = format!(
            "SELECT * FROM assessments WHERE id = $1{}",
            conditions.sql()
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
        let r = conditions.bind(q).fetch_optional(self.pool()).await?;
        r.as_ref().map(row).transpose()
    }

    /// A page of the scope's assessments, newest first (keyset on the id, never an offset).
    pub async fn assessments_page(
        &self,
        scope: &Scope,
        f: &AssessmentFilter,
        limit: i64,
    ) -> Result<Vec<AssessmentRow>> {
        let conditions = Conditions::from(1)
            .scope(scope, "account_id")
            .eq("state", f.state.map(|s| s.code()))
            .cmp("id", "<", f.before.as_deref());
        let sql = format!(
            "SELECT * FROM assessments WHERE 1 = 1{} ORDER BY id DESC LIMIT {}",
            conditions.sql(),
            page(limit)
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql));
        let rows = conditions.bind(q).fetch_all(self.pool()).await?;
        rows.iter().map(row).collect()
    }

    /// The staff queue of one state, earliest due first: plans waiting for approval by their
    /// SLA due time, phishing tests awaiting disclosure by their disclosure due time.
    pub async fn assessment_queue(
        &self,
        state: AssessmentState,
        limit: i64,
    ) -> Result<Vec<AssessmentRow>> {
        let order = if state == AssessmentState::AwaitingDisclosure {
            "disclosure_due_at"
        } else {
            "due_at"
        };
        let sql = format!(
            "SELECT * FROM assessments WHERE state = $1 ORDER BY {order}, id LIMIT {}",
            page(limit)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(state.code())
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(row).collect()
    }

    /// Stress-test plans in force at `now` (ASMT-2): approved, their window not over (it may
    /// not have begun: traffic before it is outside the plan). At most
    /// [`MAX_PLANS_IN_FORCE`], the soonest ending first.
    pub async fn stress_plans_in_force(&self, now: i64) -> Result<Vec<AssessmentRow>> {
        let rows = sqlx::query(
            "SELECT * FROM assessments WHERE kind = 'stress_test' AND state = 'approved' AND window_end > $1 ORDER BY window_end, id LIMIT $2",
        )
        .bind(now)
        .bind(MAX_PLANS_IN_FORCE)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(row).collect()
    }
}
