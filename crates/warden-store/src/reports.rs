//! Reports and cases (INT-3, INT-4): evidence kept with its digest, correlation into cases.

use serde::Serialize;
use sqlx::any::AnyRow;

use std::collections::HashMap;

use warden_domain::lifecycle::State;
use warden_domain::taxonomy::Category;

use crate::{
    Conditions, KEYS_PER_QUERY, Result, Scope, Store, WriteTx, c, i, ob, oi, os, page,
    placeholders, s,
};

/// A case row.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Case {
    /// Id.
    pub id: String,
    /// Owning account; `None` while `unowned`.
    pub account_id: Option<String>,
    /// Owning resource; `None` while `unowned`.
    pub resource_id: Option<String>,
    /// Canonical target.
    pub target: String,
    /// Category.
    pub category: Category,
    /// State.
    pub state: State,
    /// Source of the first report.
    pub source: String,
    /// (resource, target, category) key.
    #[serde(skip)]
    pub correlation_key: String,
    /// Reports in this case.
    pub report_count: i64,
    /// Reports beyond the first (spread signal).
    pub duplicate_count: i64,
    /// Largest view count reported.
    pub views: i64,
    /// Why the case is in its state (dismiss reason...).
    pub state_reason: Option<String>,
    /// First report, ms.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub opened_at: i64,
    /// Last report, ms.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub last_report_at: i64,
    /// Last change, ms.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub updated_at: i64,
}

/// A report row.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Report {
    /// Id.
    pub id: String,
    /// Its case.
    pub case_id: String,
    /// Owning account, if resolved.
    pub account_id: Option<String>,
    /// Source code.
    pub source: String,
    /// `json` or `xarf`.
    pub format: String,
    /// Category.
    pub category: Category,
    /// Canonical target.
    pub target: String,
    /// Free text.
    pub description: String,
    /// Evidence snapshot.
    #[serde(skip)]
    pub evidence: Option<Vec<u8>>,
    /// SHA-256 of the evidence.
    pub evidence_sha256: Option<String>,
    /// Sealed reporter contact.
    #[serde(skip)]
    pub reporter_contact_enc: Option<Vec<u8>>,
    /// Token id (or `anonymous`).
    pub submitted_by: String,
    /// Detector confidence.
    pub confidence: Option<f64>,
    /// Views, if given.
    pub views: Option<i64>,
    /// Received, ms.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub received_at: i64,
}

pub(crate) fn case_row(r: &AnyRow) -> Result<Case> {
    Ok(Case {
        id: s(r, "id")?,
        account_id: os(r, "account_id")?,
        resource_id: os(r, "resource_id")?,
        target: s(r, "target")?,
        category: c(r, "cases", "category")?,
        state: c(r, "cases", "state")?,
        source: s(r, "source")?,
        correlation_key: s(r, "correlation_key")?,
        report_count: i(r, "report_count")?,
        duplicate_count: i(r, "duplicate_count")?,
        views: i(r, "views")?,
        state_reason: os(r, "state_reason")?,
        opened_at: i(r, "opened_at")?,
        last_report_at: i(r, "last_report_at")?,
        updated_at: i(r, "updated_at")?,
    })
}

fn report_row(r: &AnyRow) -> Result<Report> {
    Ok(Report {
        id: s(r, "id")?,
        case_id: s(r, "case_id")?,
        account_id: os(r, "account_id")?,
        source: s(r, "source")?,
        format: s(r, "format")?,
        category: c(r, "reports", "category")?,
        target: s(r, "target")?,
        description: s(r, "description")?,
        evidence: ob(r, "evidence")?,
        evidence_sha256: os(r, "evidence_sha256")?,
        reporter_contact_enc: ob(r, "reporter_contact_enc")?,
        submitted_by: s(r, "submitted_by")?,
        confidence: oi(r, "confidence_ppm")?.map(|ppm| ppm as f64 / 1e6),
        views: oi(r, "views")?,
        received_at: i(r, "received_at")?,
    })
}

/// The conditions of a case list or count (` AND ...`, binds numbered from `$first`), naming
/// only those that apply. A condition that may be vacuous, `($n = '' OR account_id = $n)`,
/// hides its column from SQLite's planner, which plans before it sees the values: it then
/// walks the whole table in id order (measured on 1,000,000 cases: four full scans for one
/// tenant's dashboard, one for the triage count). Spelled out, the scope and the state use
/// `cases_account_state` and `cases_state` on both engines.
fn case_conditions(scope: &Scope, f: &CaseFilter, first: usize) -> Conditions {
    Conditions::from(first)
        .scope(scope, "account_id")
        .eq("state", f.state.map(State::code))
        .eq("category", f.category.map(Category::code))
        .eq("source", f.source.as_deref())
        .when(f.unowned, " AND account_id IS NULL")
        .when(f.confirmed, " AND state NOT IN ('reported', 'dismissed')")
}

/// Case filter for lists and counts.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// Only this state.
    pub state: Option<State>,
    /// Only cases without an owner.
    pub unowned: bool,
    /// Only this category.
    pub category: Option<Category>,
    /// Only this source (`public`, `detector`, `regulator`, `operator`).
    pub source: Option<String>,
    /// Only cases confirmed in triage: not `reported` (it may be false) nor `dismissed` (it
    /// was). What a tenant has heard of (LIFE-1).
    pub confirmed: bool,
}

impl WriteTx {
    /// The open case with this correlation key whose last report is at or after `since` (INT-4).
    pub async fn find_correlated_case(&mut self, key: &str, since: i64) -> Result<Option<Case>> {
        Ok(self
            .find_correlated_cases(&[key.to_string()], since)
            .await?
            .remove(key))
    }

    /// Inserts a new case.
    pub async fn insert_case(&mut self, c: &Case) -> Result<()> {
        self.insert_cases(std::slice::from_ref(c)).await
    }

    /// Inserts new cases, many rows per statement.
    pub async fn insert_cases(&mut self, cases: &[Case]) -> Result<()> {
        for chunk in cases.chunks(self.engine().rows_per_statement()) {
            let sql = format!(
                "INSERT INTO cases (id, account_id, resource_id, target, category, state, source, correlation_key, report_count, duplicate_count, views, state_reason, opened_at, last_report_at, updated_at) VALUES {}",
                placeholders(chunk.len(), 15)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for c in chunk {
                q = q
                    .bind(c.id.as_str())
                    .bind(c.account_id.as_deref())
                    .bind(c.resource_id.as_deref())
                    .bind(c.target.as_str())
                    .bind(c.category.code())
                    .bind(c.state.code())
                    .bind(c.source.as_str())
                    .bind(c.correlation_key.as_str())
                    .bind(c.report_count)
                    .bind(c.duplicate_count)
                    .bind(c.views)
                    .bind(c.state_reason.as_deref())
                    .bind(c.opened_at)
                    .bind(c.last_report_at)
                    .bind(c.updated_at);
            }
            q.execute(self.conn()).await?;
        }
        Ok(())
    }

    /// The open cases with these correlation keys whose last report is at or after `since`
    /// (INT-4), by key (the most recent one per key).
    pub async fn find_correlated_cases(
        &mut self,
        keys: &[String],
        since: i64,
    ) -> Result<HashMap<String, Case>> {
        let mut out: HashMap<String, Case> = HashMap::new();
        self.prefer_indexes().await?;
        for chunk in keys.chunks(KEYS_PER_QUERY) {
            let list: Vec<String> = (0..chunk.len()).map(|n| format!("${}", n + 2)).collect();
            let sql = format!(
                "SELECT * FROM cases WHERE last_report_at >= $1 AND state <> 'dismissed' AND correlation_key IN ({})",
                list.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(since);
            for k in chunk {
                q = q.bind(k.as_str());
            }
            for r in q.fetch_all(self.conn()).await? {
                let c = case_row(&r)?;
                if out
                    .get(&c.correlation_key)
                    .is_none_or(|o| o.last_report_at < c.last_report_at)
                {
                    out.insert(c.correlation_key.clone(), c);
                }
            }
        }
        Ok(out)
    }

    /// Counts more reports on cases — `(case id, reports added, largest views)` each — in one
    /// statement per chunk (duplicates raise the counter, INT-4).
    pub async fn add_reports_to_cases(
        &mut self,
        bumps: &[(String, i64, i64)],
        now: i64,
    ) -> Result<()> {
        for chunk in bumps.chunks(self.engine().rows_per_statement()) {
            let sql = format!(
                "WITH v(id, n, views) AS (VALUES {}) \
                 UPDATE cases SET report_count = cases.report_count + v.n, duplicate_count = cases.duplicate_count + v.n, \
                 views = CASE WHEN cases.views > v.views THEN cases.views ELSE v.views END, last_report_at = ${p}, updated_at = ${p} \
                 FROM v WHERE cases.id = v.id",
                placeholders(chunk.len(), 3),
                p = chunk.len() * 3 + 1
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (id, n, views) in chunk {
                q = q.bind(id.as_str()).bind(*n).bind(*views);
            }
            q.bind(now).execute(self.conn()).await?;
        }
        Ok(())
    }

    /// Gives a case that was `unowned` its owner and the correlation key that goes with it,
    /// and its reports the account (RES-2). False when the case has an owner already.
    pub async fn assign_case_owner(
        &mut self,
        case_id: &str,
        account_id: &str,
        resource_id: &str,
        correlation_key: &str,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE cases SET account_id = $1, resource_id = $2, correlation_key = $3, updated_at = $4 WHERE id = $5 AND account_id IS NULL",
        )
        .bind(account_id)
        .bind(resource_id)
        .bind(correlation_key)
        .bind(now)
        .bind(case_id)
        .execute(self.conn())
        .await?
        .rows_affected()
            == 1;
        if done {
            sqlx::query("UPDATE reports SET account_id = $1 WHERE case_id = $2")
                .bind(account_id)
                .bind(case_id)
                .execute(self.conn())
                .await?;
        }
        Ok(done)
    }

    /// Counts one more report on a case (a duplicate raises the counter, INT-4).
    pub async fn add_report_to_case(&mut self, case_id: &str, views: i64, now: i64) -> Result<()> {
        self.add_reports_to_cases(&[(case_id.to_string(), 1, views)], now)
            .await
    }

    /// Sets a case's state and reason.
    pub async fn set_case_state(
        &mut self,
        case_id: &str,
        state: State,
        reason: Option<&str>,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE cases SET state = $1, state_reason = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(state.code())
        .bind(reason.map(str::to_string))
        .bind(now)
        .bind(case_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Reads a case inside the transaction, locking it on PostgreSQL.
    pub async fn get_case_for_update(&mut self, id: &str) -> Result<Option<Case>> {
        let sql = match self.engine() {
            crate::Engine::Postgres => "SELECT * FROM cases WHERE id = $1 FOR UPDATE",
            crate::Engine::Sqlite => "SELECT * FROM cases WHERE id = $1",
        };
        let r = sqlx::query(sql)
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        r.as_ref().map(case_row).transpose()
    }

    /// Inserts a report.
    pub async fn insert_report(&mut self, r: &Report) -> Result<()> {
        self.insert_reports(std::slice::from_ref(r)).await
    }

    /// Inserts reports, many rows per statement.
    pub async fn insert_reports(&mut self, reports: &[Report]) -> Result<()> {
        for chunk in reports.chunks(self.engine().rows_per_statement()) {
            let sql = format!(
                "INSERT INTO reports (id, case_id, account_id, source, format, category, target, description, evidence, evidence_sha256, reporter_contact_enc, submitted_by, confidence_ppm, views, received_at) VALUES {}",
                placeholders(chunk.len(), 15)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in chunk {
                q = q
                    .bind(r.id.as_str())
                    .bind(r.case_id.as_str())
                    .bind(r.account_id.as_deref())
                    .bind(r.source.as_str())
                    .bind(r.format.as_str())
                    .bind(r.category.code())
                    .bind(r.target.as_str())
                    .bind(r.description.as_str())
                    .bind(r.evidence.as_deref())
                    .bind(r.evidence_sha256.as_deref())
                    .bind(r.reporter_contact_enc.as_deref())
                    .bind(r.submitted_by.as_str())
                    // Parts per million: sqlx's Any driver (0.9.0) declares a NULL f64 as float4
                    // on PostgreSQL, which breaks the cached statement for the next value.
                    .bind(r.confidence.map(|c| (c * 1e6).round() as i64))
                    .bind(r.views)
                    .bind(r.received_at);
            }
            q.execute(self.conn()).await?;
        }
        Ok(())
    }
}

impl Store {
    /// One case, if the scope may see it.
    pub async fn get_case(&self, scope: &Scope, id: &str) -> Result<Option<Case>> {
        let r = sqlx::query("SELECT * FROM cases WHERE id = $1 AND ($2 = '' OR account_id = $2)")
            .bind(id)
            .bind(scope.sql_param())
            .fetch_optional(self.pool())
            .await?;
        r.as_ref().map(case_row).transpose()
    }

    /// Cases in id order after `after`, as the scope may see them.
    pub async fn list_cases(
        &self,
        scope: &Scope,
        f: &CaseFilter,
        after: &str,
        limit: i64,
    ) -> Result<Vec<Case>> {
        let conditions = case_conditions(scope, f, 2);
        let sql = format!(
            "SELECT * FROM cases WHERE id > $1{} ORDER BY id LIMIT {}",
            conditions.sql(),
            page(limit)
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(after);
        let rows = conditions.bind(q).fetch_all(self.pool()).await?;
        rows.iter().map(case_row).collect()
    }

    /// Cases newest first (ids follow creation) before `before`, the last id of the previous
    /// page (empty for the first): keyset paging, never an offset.
    pub async fn list_cases_newest(
        &self,
        scope: &Scope,
        f: &CaseFilter,
        before: &str,
        limit: i64,
    ) -> Result<Vec<Case>> {
        let conditions =
            case_conditions(scope, f, 1).cmp("id", "<", Some(before).filter(|b| !b.is_empty()));
        let sql = format!(
            "SELECT * FROM cases WHERE 1 = 1{} ORDER BY id DESC LIMIT {}",
            conditions.sql(),
            page(limit)
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql));
        let rows = conditions.bind(q).fetch_all(self.pool()).await?;
        rows.iter().map(case_row).collect()
    }

    /// Cases by spread: most reports first, then by id; `after` is the `(report_count, id)` of
    /// the last case of the previous page (keyset paging, never an offset).
    pub async fn list_cases_by_spread(
        &self,
        scope: &Scope,
        f: &CaseFilter,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<Case>> {
        let (count, id) = after.unwrap_or((i64::MAX, ""));
        let conditions = case_conditions(scope, f, 3);
        let sql = format!(
            "SELECT * FROM cases WHERE (report_count < $1 OR (report_count = $1 AND id > $2)){} ORDER BY report_count DESC, id LIMIT {}",
            conditions.sql(),
            page(limit)
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(count).bind(id);
        let rows = conditions.bind(q).fetch_all(self.pool()).await?;
        rows.iter().map(case_row).collect()
    }

    /// How many cases the scope may see under the filter.
    pub async fn count_cases(&self, scope: &Scope, f: &CaseFilter) -> Result<i64> {
        let conditions = case_conditions(scope, f, 1);
        let sql = format!(
            "SELECT COUNT(*) AS n FROM cases WHERE 1 = 1{}",
            conditions.sql()
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql));
        let r = conditions.bind(q).fetch_one(self.pool()).await?;
        i(&r, "n")
    }

    /// The reports of a case, if the scope may see them.
    pub async fn list_case_reports(
        &self,
        scope: &Scope,
        case_id: &str,
        limit: i64,
    ) -> Result<Vec<Report>> {
        let rows = sqlx::query(
            "SELECT * FROM reports WHERE case_id = $1 AND ($2 = '' OR account_id = $2) ORDER BY id LIMIT $3",
        )
        .bind(case_id)
        .bind(scope.sql_param())
        .bind(page(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(report_row).collect()
    }

    /// One report, if the scope may see it.
    pub async fn get_report(&self, scope: &Scope, id: &str) -> Result<Option<Report>> {
        let r = sqlx::query("SELECT * FROM reports WHERE id = $1 AND ($2 = '' OR account_id = $2)")
            .bind(id)
            .bind(scope.sql_param())
            .fetch_optional(self.pool())
            .await?;
        r.as_ref().map(report_row).transpose()
    }

    /// Number of reports stored (all accounts; staff statistics and tests).
    pub async fn count_reports(&self) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM reports")
            .fetch_one(self.pool())
            .await?;
        i(&r, "n")
    }
}
