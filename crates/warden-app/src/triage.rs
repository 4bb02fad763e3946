//! Cases, the operator triage queue (INT-5, LIFE-1), case reports and history, reporter
//! contacts (AUD-4) and inbox notices.

use serde::{Deserialize, Serialize};
use warden_domain::identity::Role;
use warden_domain::lifecycle::{Command, State};
use warden_domain::resource::InvalidInput;
use warden_store::reports::{Case, CaseFilter, Report};

use crate::App;
use crate::auth::{Actor, Actors, Principal};
use crate::error::{AppError, AppResult};

const CASE_READERS: &[Role] = &[Role::Admin, Role::Operator, Role::Reviewer, Role::Tenant];
const TRIAGERS: &[Role] = &[Role::Admin, Role::Operator];

/// Body of a triage decision.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TriageInput {
    /// Why, 1 to 2000 characters (required to dismiss).
    #[schemars(required, length(min = 1, max = 2000), pattern(r"\S"))]
    pub reason: Option<String>,
}

/// A report as staff see it: the evidence text is included; the contact only says whether it is
/// on file.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ReportView {
    /// The row.
    #[serde(flatten)]
    pub report: Report,
    /// Evidence as text (lossy UTF-8), for staff only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// Whether a reporter contact is on file.
    pub has_reporter_contact: bool,
}

/// One line of a case's history.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct HistoryEntry {
    /// Audit sequence number.
    pub seq: i64,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// What happened (`report.create`, `case.confirm`, ...).
    pub action: String,
    /// The actor's role.
    pub role: String,
    /// The actor (token id), staff only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
    /// State before, for transitions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// State after, for transitions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The reason given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The same reason in codes, for the console's languages (UI-2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<warden_domain::why::Why>,
}

impl App {
    /// One case.
    pub async fn get_case(&self, who: &Principal, id: &str) -> AppResult<Case> {
        who.require(CASE_READERS, "read cases")?;
        self.store
            .get_case(&who.scope(), id)
            .await?
            .ok_or(AppError::NotFound("case"))
    }

    /// Cases page (the triage queue is `state=reported`).
    pub async fn list_cases(
        &self,
        who: &Principal,
        f: &CaseFilter,
        after: &str,
        limit: i64,
    ) -> AppResult<Vec<Case>> {
        who.require(CASE_READERS, "list cases")?;
        Ok(self.store.list_cases(&who.scope(), f, after, limit).await?)
    }

    /// Cases newest first, before the last id of the previous page (the tenant's case list).
    pub async fn list_cases_newest(
        &self,
        who: &Principal,
        f: &CaseFilter,
        before: &str,
        limit: i64,
    ) -> AppResult<Vec<Case>> {
        who.require(CASE_READERS, "list cases")?;
        Ok(self
            .store
            .list_cases_newest(&who.scope(), f, before, limit)
            .await?)
    }

    /// Cases by spread, most reported first (the triage queue's other order).
    pub async fn list_cases_by_spread(
        &self,
        who: &Principal,
        f: &CaseFilter,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> AppResult<Vec<Case>> {
        who.require(CASE_READERS, "list cases")?;
        Ok(self
            .store
            .list_cases_by_spread(&who.scope(), f, after, limit)
            .await?)
    }

    /// The deadlines of these cases (the tenant's dashboard countdowns).
    pub async fn case_deadlines(
        &self,
        who: &Principal,
        ids: &[String],
    ) -> AppResult<std::collections::HashMap<String, i64>> {
        who.require(CASE_READERS, "read cases")?;
        Ok(self.store.case_deadlines(&who.scope(), ids).await?)
    }

    /// Count of cases.
    pub async fn count_cases(&self, who: &Principal, f: &CaseFilter) -> AppResult<i64> {
        who.require(CASE_READERS, "count cases")?;
        Ok(self.store.count_cases(&who.scope(), f).await?)
    }

    /// A case's reports. Tenants see the reports but never reporter data or raw evidence.
    pub async fn case_reports(&self, who: &Principal, case_id: &str) -> AppResult<Vec<ReportView>> {
        let case = self.get_case(who, case_id).await?;
        let staff = who.role().is_some_and(Role::is_staff);
        let reports = self
            .store
            .list_case_reports(&who.scope(), &case.id, 500)
            .await?;
        Ok(reports
            .into_iter()
            .map(|mut r| {
                let has = r.reporter_contact_enc.is_some();
                if !staff {
                    r.submitted_by = String::new();
                }
                let evidence = r
                    .evidence
                    .as_deref()
                    .filter(|_| staff)
                    .map(|e| String::from_utf8_lossy(e).into_owned());
                ReportView {
                    report: r,
                    evidence,
                    has_reporter_contact: has,
                }
            })
            .collect())
    }

    /// A case's history (LIFE-5): every transition and report with time, role and reason.
    /// Staff see who (token ids); tenants see the role only.
    pub async fn case_history(
        &self,
        who: &Principal,
        case_id: &str,
    ) -> AppResult<Vec<HistoryEntry>> {
        let case = self.get_case(who, case_id).await?;
        let mut subjects = vec![format!("case:{}", case.id)];
        let reports = self
            .store
            .list_case_reports(&who.scope(), &case.id, 499)
            .await?;
        subjects.extend(reports.iter().map(|r| format!("report:{}", r.id)));
        let staff = who.role().is_some_and(Role::is_staff);
        let events = self.store.list_audit_for_subjects(&subjects, 500).await?;
        let actors = if staff {
            self.actors().await?
        } else {
            Actors::default()
        };
        Ok(events
            .into_iter()
            .filter(|e| staff || e.action != "personal_data.read")
            .map(|e| {
                let details: serde_json::Value =
                    serde_json::from_str(&e.details).unwrap_or_default();
                HistoryEntry {
                    at: warden_domain::time::Timestamp(e.at).to_rfc3339(),
                    action: e.action,
                    role: e.role,
                    actor: staff.then(|| actors.get(&e.actor)),
                    reason: details
                        .get("reason")
                        .and_then(|r| r.as_str())
                        .map(str::to_string),
                    why: details
                        .get("why")
                        .and_then(|w| serde_json::from_value(w.clone()).ok()),
                    from: details
                        .get("from")
                        .and_then(|r| r.as_str())
                        .map(str::to_string),
                    to: details
                        .get("to")
                        .and_then(|r| r.as_str())
                        .map(str::to_string),
                    seq: e.seq,
                }
            })
            .collect())
    }

    /// Inbox notices page (NOT-2).
    pub async fn list_notices(
        &self,
        who: &Principal,
        after: &str,
        limit: i64,
    ) -> AppResult<Vec<warden_store::lifecycle::Notice>> {
        who.require(CASE_READERS, "read notices")?;
        Ok(self.store.list_notices(&who.scope(), after, limit).await?)
    }

    /// Marks an inbox notice read (the tenant's own notices only).
    pub async fn mark_notice_read(&self, who: &Principal, id: &str) -> AppResult<()> {
        who.require(&[Role::Tenant], "mark notices read")?;
        if self
            .store
            .mark_notice_read(&who.scope(), id, self.now())
            .await?
        {
            Ok(())
        } else {
            Err(AppError::NotFound("notice"))
        }
    }

    /// How many inbox notices are unread.
    pub async fn count_unread_notices(&self, who: &Principal) -> AppResult<i64> {
        who.require(CASE_READERS, "read notices")?;
        Ok(self.store.count_unread_notices(&who.scope()).await?)
    }

    /// Decrypts a report's reporter contact (staff; audited, AUD-4).
    pub async fn reveal_reporter(
        &self,
        who: &Principal,
        report_id: &str,
    ) -> AppResult<Option<String>> {
        who.require(&[Role::Admin, Role::Operator], "read reporter contacts")?;
        let r = self
            .store
            .get_report(&who.scope(), report_id)
            .await?
            .ok_or(AppError::NotFound("report"))?;
        let contact = r
            .reporter_contact_enc
            .as_deref()
            .map(|b| {
                self.sealer
                    .open(b)
                    .map(|v| String::from_utf8_lossy(&v).into_owned())
            })
            .transpose()?;
        let mut tx = self.store.begin_write().await?;
        let mut ev = self.event(who, "personal_data.read", format!("report:{report_id}"));
        ev.account_id = r.account_id;
        ev.details = serde_json::json!({ "fields": ["reporter_contact"] });
        tx.append_audit(ev).await?;
        tx.commit().await?;
        Ok(contact)
    }

    /// Dismisses a reported case with a reason (LIFE-1, LIFE-5); confirming is the lifecycle's
    /// (it grades and plans the penalty).
    pub async fn dismiss(
        &self,
        who: &Principal,
        case_id: &str,
        input: TriageInput,
    ) -> AppResult<Case> {
        who.require(TRIAGERS, "triage cases")?;
        let reason = input
            .reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty());
        if reason.as_ref().is_some_and(|r| r.chars().count() > 2000) {
            return Err(InvalidInput::new("reason", "at most 2000 characters").into());
        }
        let reason =
            reason.ok_or_else(|| InvalidInput::new("reason", "is required to dismiss a case"))?;
        let mut tx = self.store.begin_write().await?;
        tx.lock_chain().await?;
        self.check_claim(&mut tx, who, &format!("case:{case_id}"))
            .await?;
        let mut l = self.load(&mut tx, case_id, None).await?;
        // LIFE-1: only a case still in triage is dismissed; a confirmed one goes on to grading.
        if l.facts.state != State::Reported {
            return Err(AppError::Conflict(format!(
                "a {} case cannot be dismissed: only reported cases are (LIFE-1)",
                l.facts.state
            )));
        }
        let cmd = Command::Dismiss {
            reason: reason.clone(),
        };
        self.act(
            &mut tx,
            who,
            &mut l,
            &cmd,
            "dismiss",
            serde_json::Value::Null,
        )
        .await?;
        tx.commit().await?;
        Ok(l.case)
    }
}
