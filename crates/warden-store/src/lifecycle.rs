//! Storage of the violation lifecycle (issue 3): a case's grade, deadline and markers, its
//! penalty action records (PEN-3) and the tenant inbox (NOT-1/NOT-2).

use serde::Serialize;
use sqlx::any::AnyRow;

use warden_domain::lifecycle::{ActionState, Desired, NoticeKind};
use warden_domain::penalty::Action;
use warden_domain::resource::Product;
use warden_domain::taxonomy::{Kind, Level};

use crate::{Result, Scope, Store, WriteTx, c, i, oc, oi, os, page, placeholders, s};

/// The lifecycle columns of a case.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CaseLifecycle {
    /// Level once graded.
    pub level: Option<Level>,
    /// JSON list of grading reasons.
    pub level_reasons: Option<String>,
    /// Content or behaviour violation.
    pub kind: Option<Kind>,
    /// Product of the owning resource.
    pub product: Option<Product>,
    /// Alerting deadline, ms (LIFE-1).
    #[serde(with = "warden_domain::time::rfc3339::option")]
    #[schemars(with = "Option<warden_domain::time::Timestamp>")]
    pub deadline_at: Option<i64>,
    /// JSON list of the violating texts a re-check looks for (DET-3).
    pub markers: Option<String>,
    /// JSON of the regulator notice (authority, document number, legal basis), if any.
    pub regulator: Option<String>,
    /// When the penalty was applied, ms.
    #[serde(with = "warden_domain::time::rfc3339::option")]
    #[schemars(with = "Option<warden_domain::time::Timestamp>")]
    pub enforced_at: Option<i64>,
}

fn lifecycle_row(r: &AnyRow) -> Result<CaseLifecycle> {
    Ok(CaseLifecycle {
        level: oc(r, "cases", "level")?,
        level_reasons: os(r, "level_reasons")?,
        kind: oc(r, "cases", "kind")?,
        product: oc(r, "cases", "product")?,
        deadline_at: oi(r, "deadline_at")?,
        markers: os(r, "markers")?,
        regulator: os(r, "regulator")?,
        enforced_at: oi(r, "enforced_at")?,
    })
}

/// A penalty action record (PEN-3).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ActionRow {
    /// Id.
    pub id: String,
    /// The case it serves.
    pub case_id: String,
    /// The account.
    pub account_id: Option<String>,
    /// The action.
    pub action: Action,
    /// What it acts on (URL, IP, resource id...).
    pub target: String,
    /// What the enforcement points confirmed (PEN-3). Only adapter confirmations move it (see
    /// `settle_action`).
    pub state: ActionState,
    /// What the lifecycle decided.
    pub desired: Desired,
    /// Whether it may ever be lifted from the console.
    pub no_unblock: bool,
    /// Attempts to apply or lift.
    pub attempts: i64,
    /// Last adapter error.
    pub last_error: Option<String>,
    /// Evidence kept before a destructive action (PEN-4).
    pub evidence_sha256: Option<String>,
    /// Created, ms.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub created_at: i64,
    /// Updated, ms.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub updated_at: i64,
}

fn action_row(r: &AnyRow) -> Result<ActionRow> {
    Ok(ActionRow {
        id: s(r, "id")?,
        case_id: s(r, "case_id")?,
        account_id: os(r, "account_id")?,
        action: c(r, "case_actions", "action")?,
        target: s(r, "target")?,
        state: c(r, "case_actions", "state")?,
        desired: c(r, "case_actions", "desired")?,
        no_unblock: i(r, "no_unblock")? != 0,
        attempts: i(r, "attempts")?,
        last_error: os(r, "last_error")?,
        evidence_sha256: os(r, "evidence_sha256")?,
        created_at: i(r, "created_at")?,
        updated_at: i(r, "updated_at")?,
    })
}

/// An inbox notice.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Notice {
    /// Id.
    pub id: String,
    /// Recipient account.
    pub account_id: String,
    /// The case it is about.
    pub case_id: Option<String>,
    /// Which notice.
    pub template: NoticeKind,
    /// `zh-CN` or `en`.
    pub lang: String,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Created, ms.
    #[serde(with = "warden_domain::time::rfc3339")]
    #[schemars(with = "warden_domain::time::Timestamp")]
    pub created_at: i64,
    /// Read, ms.
    #[serde(with = "warden_domain::time::rfc3339::option")]
    #[schemars(with = "Option<warden_domain::time::Timestamp>")]
    pub read_at: Option<i64>,
}

fn notice_row(r: &AnyRow) -> Result<Notice> {
    Ok(Notice {
        id: s(r, "id")?,
        account_id: s(r, "account_id")?,
        case_id: os(r, "case_id")?,
        template: c(r, "notices", "template")?,
        lang: s(r, "lang")?,
        title: s(r, "title")?,
        body: s(r, "body")?,
        created_at: i(r, "created_at")?,
        read_at: oi(r, "read_at")?,
    })
}

impl WriteTx {
    /// Writes a case's lifecycle columns.
    pub async fn set_case_lifecycle(&mut self, case_id: &str, l: &CaseLifecycle) -> Result<()> {
        sqlx::query(
            "UPDATE cases SET level = $1, level_reasons = $2, kind = $3, product = $4, deadline_at = $5, markers = $6, regulator = $7, enforced_at = $8 WHERE id = $9",
        )
        .bind(l.level.map(Level::code))
        .bind(l.level_reasons.as_deref())
        .bind(l.kind.map(Kind::code))
        .bind(l.product.map(Product::code))
        .bind(l.deadline_at)
        .bind(l.markers.as_deref())
        .bind(l.regulator.as_deref())
        .bind(l.enforced_at)
        .bind(case_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Marks a case as a regulator case (UNB-4) with the notice that came first; a later notice
    /// does not replace it. Returns whether the case was not one before.
    pub async fn flag_regulator(&mut self, case_id: &str, notice: &str) -> Result<bool> {
        let r = sqlx::query("UPDATE cases SET regulator = $1 WHERE id = $2 AND regulator IS NULL")
            .bind(notice)
            .bind(case_id)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Reads a case's lifecycle columns inside the transaction.
    pub async fn get_case_lifecycle(&mut self, case_id: &str) -> Result<Option<CaseLifecycle>> {
        let r = sqlx::query("SELECT * FROM cases WHERE id = $1")
            .bind(case_id)
            .fetch_optional(self.conn())
            .await?;
        r.as_ref().map(lifecycle_row).transpose()
    }

    /// Records penalty actions.
    pub async fn insert_actions(&mut self, actions: &[ActionRow]) -> Result<()> {
        for chunk in actions.chunks(self.engine().rows_per_statement()) {
            let sql = format!(
                "INSERT INTO case_actions (id, case_id, account_id, action, target, state, desired, no_unblock, attempts, last_error, evidence_sha256, created_at, updated_at) VALUES {}",
                placeholders(chunk.len(), 13)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for a in chunk {
                q = q
                    .bind(a.id.as_str())
                    .bind(a.case_id.as_str())
                    .bind(a.account_id.as_deref())
                    .bind(a.action.code())
                    .bind(a.target.as_str())
                    .bind(a.state.code())
                    .bind(a.desired.code())
                    .bind(i64::from(a.no_unblock))
                    .bind(a.attempts)
                    .bind(a.last_error.as_deref())
                    .bind(a.evidence_sha256.as_deref())
                    .bind(a.created_at)
                    .bind(a.updated_at);
            }
            q.execute(self.conn()).await?;
        }
        Ok(())
    }

    /// The action records of a case.
    pub async fn case_actions(&mut self, case_id: &str) -> Result<Vec<ActionRow>> {
        let rows = sqlx::query("SELECT * FROM case_actions WHERE case_id = $1 ORDER BY id")
            .bind(case_id)
            .fetch_all(self.conn())
            .await?;
        rows.iter().map(action_row).collect()
    }

    /// Records what the lifecycle decided for an action (`planned`, `in_force`, `lifted`); a
    /// `no_unblock` action is never moved to `lifted` — storage refuses it too. Its confirmed
    /// `state` follows when the adapters confirm (`settle_action`).
    pub async fn set_action_desired(
        &mut self,
        id: &str,
        desired: Desired,
        now: i64,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE case_actions SET desired = $1, updated_at = $2 WHERE id = $3 AND NOT ($1 = 'lifted' AND no_unblock <> 0)",
        )
        .bind(desired.code())
        .bind(now)
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Lifts a blackhole record (DDOS-4/5). Blackhole records are `no_unblock`, so that no case
    /// route (self-service, manual, ticket) can lift them and [`WriteTx::set_action_desired`]
    /// refuses to; only the blackhole's own release may, through this. False when `id` is no
    /// blackhole record.
    pub async fn lift_blackhole_action(&mut self, id: &str, now: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE case_actions SET desired = 'lifted', updated_at = $1 WHERE id = $2 AND action = 'blackhole'",
        )
        .bind(now)
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Violations of an account since `since` (GRD-2, UNB-4): its cases that were confirmed,
    /// excluding `except`. A blackhole's case (correlation key `blackhole:<id>`) records that the
    /// tenant was attacked: no violation of its own (DDOS-3).
    pub async fn count_account_violations(
        &mut self,
        account_id: &str,
        since: i64,
        except: &str,
    ) -> Result<i64> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS n FROM cases WHERE account_id = $1 AND opened_at >= $2 AND id <> $3 AND state NOT IN ('reported', 'dismissed') AND correlation_key NOT LIKE 'blackhole:%'",
        )
        .bind(account_id)
        .bind(since)
        .bind(except)
        .fetch_one(self.conn())
        .await?;
        i(&r, "n")
    }

    /// The SHA-256 of the first evidence kept for a case (PEN-4: kept before destructive actions).
    pub async fn first_evidence_sha256(&mut self, case_id: &str) -> Result<Option<String>> {
        let r = sqlx::query("SELECT evidence_sha256 FROM reports WHERE case_id = $1 AND evidence_sha256 IS NOT NULL ORDER BY id LIMIT 1")
            .bind(case_id)
            .fetch_optional(self.conn())
            .await?;
        Ok(r.as_ref()
            .map(|r| os(r, "evidence_sha256"))
            .transpose()?
            .flatten())
    }

    /// An account's notice language.
    pub async fn account_lang(&mut self, account_id: &str) -> Result<Option<String>> {
        let r = sqlx::query("SELECT lang FROM accounts WHERE id = $1")
            .bind(account_id)
            .fetch_optional(self.conn())
            .await?;
        r.as_ref().map(|r| s(r, "lang")).transpose()
    }

    /// Writes an inbox notice.
    pub async fn insert_notice(&mut self, n: &Notice) -> Result<()> {
        sqlx::query(
            "INSERT INTO notices (id, account_id, case_id, template, lang, title, body, created_at, read_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)",
        )
        .bind(n.id.as_str())
        .bind(n.account_id.as_str())
        .bind(n.case_id.as_deref())
        .bind(n.template.code())
        .bind(n.lang.as_str())
        .bind(n.title.as_str())
        .bind(n.body.as_str())
        .bind(n.created_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl Store {
    /// A case's lifecycle columns, if the scope may see the case.
    pub async fn get_case_lifecycle(
        &self,
        scope: &Scope,
        case_id: &str,
    ) -> Result<Option<CaseLifecycle>> {
        let r = sqlx::query("SELECT * FROM cases WHERE id = $1 AND ($2 = '' OR account_id = $2)")
            .bind(case_id)
            .bind(scope.sql_param())
            .fetch_optional(self.pool())
            .await?;
        r.as_ref().map(lifecycle_row).transpose()
    }

    /// The deadlines of these cases that the scope may see (a dashboard's countdowns in one
    /// query, not one per case).
    pub async fn case_deadlines(
        &self,
        scope: &Scope,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, i64>> {
        let mut out = std::collections::HashMap::new();
        for chunk in ids.chunks(crate::KEYS_PER_QUERY) {
            if chunk.is_empty() {
                continue;
            }
            let list: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let (cond, account) = crate::scope_condition(scope, "account_id", chunk.len() + 1);
            let sql = format!(
                "SELECT id, deadline_at FROM cases WHERE id IN ({}) AND deadline_at IS NOT NULL{cond}",
                list.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id.as_str());
            }
            if let Some(a) = account {
                q = q.bind(a);
            }
            for r in q.fetch_all(self.pool()).await? {
                if let Some(d) = oi(&r, "deadline_at")? {
                    out.insert(s(&r, "id")?, d);
                }
            }
        }
        Ok(out)
    }

    /// The action records of a case, if the scope may see them.
    pub async fn list_case_actions(&self, scope: &Scope, case_id: &str) -> Result<Vec<ActionRow>> {
        let rows = sqlx::query("SELECT * FROM case_actions WHERE case_id = $1 AND ($2 = '' OR account_id = $2) ORDER BY id")
            .bind(case_id)
            .bind(scope.sql_param())
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(action_row).collect()
    }

    /// Marks an inbox notice read within `scope`; false when there is no such notice.
    pub async fn mark_notice_read(&self, scope: &Scope, id: &str, now: i64) -> Result<bool> {
        let r = sqlx::query("UPDATE notices SET read_at = COALESCE(read_at, $3) WHERE id = $1 AND ($2 = '' OR account_id = $2)")
            .bind(id)
            .bind(scope.sql_param())
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Inbox notices not yet read within `scope`.
    pub async fn count_unread_notices(&self, scope: &Scope) -> Result<i64> {
        // The account written out, not `($1 = '' OR account_id = $1)`: see `scope_condition`.
        let (condition, bind) = crate::scope_condition(scope, "account_id", 1);
        let sql = format!("SELECT COUNT(*) AS n FROM notices WHERE read_at IS NULL{condition}");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(b) = bind {
            q = q.bind(b);
        }
        let r = q.fetch_one(self.pool()).await?;
        i(&r, "n")
    }

    /// A case's notices, oldest first (at most `limit`).
    pub async fn notices_of_case(&self, case_id: &str, limit: i64) -> Result<Vec<Notice>> {
        let rows = sqlx::query("SELECT * FROM notices WHERE case_id = $1 ORDER BY id LIMIT $2")
            .bind(case_id)
            .bind(page(limit))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(notice_row).collect()
    }

    /// Inbox notices in id order after `after`, as the scope may see them.
    pub async fn list_notices(
        &self,
        scope: &Scope,
        after: &str,
        limit: i64,
    ) -> Result<Vec<Notice>> {
        let (condition, bind) = crate::scope_condition(scope, "account_id", 2);
        let sql = format!(
            "SELECT * FROM notices WHERE id > $1{condition} ORDER BY id LIMIT {}",
            page(limit)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(after);
        if let Some(b) = bind {
            q = q.bind(b);
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter().map(notice_row).collect()
    }
}
