//! Customers' own security assessments (ASMT-1, ASMT-2, ASMT-3, ASMT-5), end to end: a tenant
//! declares a vulnerability scan, penetration test, stress test, phishing test or destructive
//! test of its own resources; stress and destructive tests wait for an operator's approval of
//! their plan within a working-time SLA; an approved stress test's plan is what the DDoS plane
//! reads ([`StoredStressPlans`]), so traffic inside it is no attack and traffic beyond it is one
//! that says which limit it exceeded; a window's end is a timer; a phishing test is not over
//! until the tenant confirms, with the text it used, that it told its users, and is reminded
//! through the outbound queue until it does (overdue ones shown to operators).
//!
//! Every change goes the way of the case lifecycle: load the row, let
//! [`warden_domain::assessment::decide`] decide, and store the new facts, the timers, the
//! notices and the audit event (the domain's effects) in one transaction.
//!
//! The scope check (ASMT-1/3) runs the owner lookup on every address and name of the targets
//! and refuses the whole declaration, storing nothing, when one is not the account's — naming
//! only the targets, never whose they are — or is the provider's own infrastructure
//! (`[assessments.infrastructure]`).

use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use warden_domain::assessment::{
    self, AssessmentCommand, AssessmentDecision, AssessmentEffect, AssessmentKind, AssessmentState,
    Infrastructure, Plan, ScopeRefusal,
};
use warden_domain::code::Code;
use warden_domain::identity::Role;
use warden_domain::lifecycle::NoticeKind;
use warden_domain::resource::InvalidInput;
use warden_domain::taxonomy::Category;
use warden_domain::time::Timestamp;
use warden_store::assessments::{AssessmentFilter, AssessmentRow};
use warden_store::jobs::{JobKind, NewJob};
use warden_store::{Store, WriteTx};

use crate::auth::Principal;
use crate::clock::Clock;
use crate::ddos_rules::{PlansFuture, StressPlanRecord, StressPlans};
use crate::error::{AppError, AppResult};
use crate::lifecycle::SlaClock;
use crate::notices::NoticeFacts;
use crate::triage::HistoryEntry;
use crate::{App, digest};

/// Who decides plans (ASMT-2).
const DECIDERS: &[Role] = &[Role::Admin, Role::Operator];
/// Who reads assessments: tenants their own, staff every account's.
const READERS: &[Role] = &[Role::Admin, Role::Operator, Role::Reviewer, Role::Tenant];
/// The longest reason or disclosure text kept, in characters.
const MAX_REASON: usize = 2000;
/// The longest disclosure text kept, in characters.
const MAX_DISCLOSURE: usize = 10_000;

/// `[assessments]`: the provider's infrastructure and the clocks of the workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssessmentSettings {
    /// ASMT-3: `[assessments.infrastructure]` `networks` (CIDRs) and `domains` (a domain and its
    /// subdomains) of the provider's own: no tenant may test them, and a report of a tenant
    /// attacking them is a behaviour violation. Default: none.
    pub infrastructure: Infrastructure,
    /// ASMT-2: working hours an operator has to approve or reject a plan (1..=720; default 8:
    /// one working day). Shown on the queue; a later decision is flagged `approved_late`.
    pub approval_sla_hours: u32,
    /// ASMT-5: hours between reminders of an unconfirmed phishing-test disclosure (1..=720;
    /// default 24).
    pub reminder_hours: u32,
    /// ASMT-5: hours after the window's end at which an unconfirmed disclosure is overdue and
    /// shown so to operators (1..=2160; default 72).
    pub disclosure_due_hours: u32,
}

impl Default for AssessmentSettings {
    fn default() -> Self {
        AssessmentSettings {
            infrastructure: Infrastructure::default(),
            approval_sla_hours: 8,
            reminder_hours: u32::try_from(assessment::REMINDER_EVERY_MS / 3_600_000).unwrap_or(24),
            disclosure_due_hours: u32::try_from(assessment::DISCLOSURE_DUE_MS / 3_600_000)
                .unwrap_or(72),
        }
    }
}

impl AssessmentSettings {
    /// Checks the configuration; the error names the field.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        for (name, v, max) in [
            ("approval_sla_hours", self.approval_sla_hours, 720),
            ("reminder_hours", self.reminder_hours, 720),
            ("disclosure_due_hours", self.disclosure_due_hours, 2160),
        ] {
            if !(1..=max).contains(&v) {
                return Err(InvalidInput::new(name, format!("must be 1 to {max}")));
            }
        }
        for (i, d) in self.infrastructure.domains.iter().enumerate() {
            let d = d.trim().trim_end_matches('.');
            if d.is_empty() || d.contains(['/', ' ', ':']) {
                return Err(InvalidInput::new(
                    format!("infrastructure.domains[{i}]"),
                    "must be a domain name (e.g. cloud.example)",
                ));
            }
        }
        Ok(())
    }

    fn approval_sla_ms(&self) -> i64 {
        i64::from(self.approval_sla_hours) * 3_600_000
    }

    fn reminder_ms(&self) -> i64 {
        i64::from(self.reminder_hours) * 3_600_000
    }

    fn disclosure_due_ms(&self) -> i64 {
        i64::from(self.disclosure_due_hours) * 3_600_000
    }
}

/// Body of `POST /api/assessments` (ASMT-1, ASMT-2, ASMT-5).
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclareInput {
    /// What is tested. `stress_test` and `destructive_test` need a `plan` and an operator's
    /// approval; the others are in force for their window once their scope holds.
    pub kind: AssessmentKind,
    /// The targets: IPs, CIDRs of at most 256 addresses (every address the account's), domains
    /// or http(s) URLs; 256 addresses and names in all.
    #[schemars(length(min = 1, max = 256))]
    pub targets: Vec<String>,
    /// Where the test traffic comes from: IPs or CIDRs, 1 to 64.
    #[schemars(length(min = 1, max = 64))]
    pub sources: Vec<String>,
    /// The window's start: RFC 3339 text, at most 10 minutes in the past and 180 days ahead.
    #[serde(deserialize_with = "warden_domain::time::rfc3339_text")]
    #[schemars(with = "Timestamp")]
    pub window_start: Timestamp,
    /// The window's end (exclusive): after the start, at most 30 days later.
    #[serde(deserialize_with = "warden_domain::time::rfc3339_text")]
    #[schemars(with = "Timestamp")]
    pub window_end: Timestamp,
    /// The plan of a stress or destructive test (ASMT-2): peaks, method, contact, rollback
    /// plan and attestations. Only those kinds take one.
    #[serde(default)]
    pub plan: Option<Plan>,
}

/// Body of an approval: the reason is optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonInput {
    /// Why, at most 2000 characters; the tenant sees it.
    #[serde(default)]
    #[schemars(length(max = 2000))]
    pub reason: Option<String>,
}

/// Body of a rejection or a stop: the reason is required.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequiredReasonInput {
    /// Why, 1 to 2000 characters; the tenant sees it.
    #[schemars(required, length(min = 1, max = 2000), pattern(r"\S"))]
    pub reason: Option<String>,
}

/// Body of `POST /api/assessments/{id}/disclosure` (ASMT-5).
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisclosureInput {
    /// The text the tested users were told, 1 to 10000 characters.
    #[schemars(required, length(min = 1, max = 10000), pattern(r"\S"))]
    pub text: Option<String>,
}

/// `GET /api/assessments`: paging and a state.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct AssessmentQuery {
    /// Continue after this id (`next_after` of the previous page).
    #[serde(default)]
    pub after: Option<String>,
    /// At most this many items (1 to 500; default 100).
    #[serde(default)]
    #[schemars(range(min = 1, max = 500))]
    pub limit: Option<i64>,
    /// Only assessments in this state (`pending_approval` is the approval queue).
    #[serde(default)]
    #[schemars(with = "Option<AssessmentState>")]
    pub state: Option<String>,
}

/// A plan as shown: everything but the contact (personal data, on the assessment's own page).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PlanView {
    /// Peak bps.
    pub peak_bps: u64,
    /// Peak pps.
    pub peak_pps: u64,
    /// Peak requests per second (0: not an HTTP test).
    pub peak_rps: u64,
    /// Tools and traffic kind.
    pub method: String,
    /// How the test is stopped and the targets brought back.
    pub rollback_plan: String,
    /// Rights over every target attested.
    pub attest_rights: bool,
    /// Own backups attested.
    pub attest_backups: bool,
}

/// An assessment as its tenant and the staff see it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AssessmentView {
    /// Id (`asm_...`).
    pub id: String,
    /// The declaring account.
    pub account_id: String,
    /// What is tested.
    pub kind: AssessmentKind,
    /// Where it stands.
    pub state: AssessmentState,
    /// Whether traffic may count as the plan's now (declared or approved).
    pub in_force: bool,
    /// The targets, canonical.
    pub targets: Vec<String>,
    /// The declared sources.
    pub sources: Vec<String>,
    /// The window's start.
    pub window_start: Timestamp,
    /// The window's end (exclusive).
    pub window_end: Timestamp,
    /// The plan (stress and destructive tests), without its contact.
    pub plan: Option<PlanView>,
    /// Why it stands where it does (the last transition's reason).
    pub reason: String,
    /// The approval SLA of a plan (ASMT-2): due, overdue, working time left while pending.
    pub approval_sla: Option<SlaClock>,
    /// The plan was approved or rejected after its SLA's due time.
    pub decided_late: bool,
    /// When it was approved, rejected or stopped.
    pub decided_at: Option<Timestamp>,
    /// When a phishing test's disclosure is overdue (ASMT-5).
    pub disclosure_due_at: Option<Timestamp>,
    /// A phishing test's disclosure is unconfirmed past its due time (ASMT-5).
    pub disclosure_overdue: bool,
    /// Reminders of the disclosure sent.
    pub reminders: u32,
    /// The text the tenant told its users (ASMT-5), once confirmed.
    pub disclosure: Option<String>,
    /// Declared.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// One assessment with its contact and its history.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AssessmentDetail {
    /// The assessment.
    #[serde(flatten)]
    pub assessment: AssessmentView,
    /// The plan's contact (personal data, AUD-4: a staff read is audited).
    pub contact: Option<String>,
    /// Every transition, oldest first (AUD-1).
    pub history: Vec<HistoryEntry>,
}

/// A page of assessments.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AssessmentPage {
    /// Newest first.
    pub items: Vec<AssessmentView>,
    /// Pass as `after` for the next (older) page; `null` on the last.
    pub next_after: Option<String>,
}

/// The staff queue (ASMT-2, ASMT-5).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AssessmentQueue {
    /// Plans waiting for a decision, earliest SLA due first.
    pub pending_approval: Vec<AssessmentView>,
    /// Phishing tests whose disclosure is unconfirmed, earliest due first; `disclosure_overdue`
    /// marks the late ones.
    pub awaiting_disclosure: Vec<AssessmentView>,
    /// How many pending plans are past their SLA.
    pub approvals_overdue: usize,
    /// How many disclosures are overdue.
    pub disclosures_overdue: usize,
}

/// The timer names of an assessment.
fn end_key(id: &str) -> String {
    format!("assessment-end:{id}")
}

fn reminder_key(id: &str) -> String {
    format!("assessment-reminder:{id}")
}

/// A reason: trimmed, at most [`MAX_REASON`] characters, required when `required`.
fn reason_of(input: Option<String>, required: bool) -> AppResult<Option<String>> {
    let r = input
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    match r {
        None if required => {
            Err(InvalidInput::new("reason", "is required: the tenant sees it").into())
        }
        Some(r) if r.chars().count() > MAX_REASON => {
            Err(InvalidInput::new("reason", format!("at most {MAX_REASON} characters")).into())
        }
        r => Ok(r),
    }
}

/// The store-backed plans in force for the DDoS plane (ASMT-2): approved stress tests whose
/// window is not over, read at each judgement (a few rows, by index), so an approval, a stop or
/// a window's end counts at once on every node.
#[derive(Debug, Clone)]
pub struct StoredStressPlans {
    store: Store,
    clock: Arc<dyn Clock>,
}

impl StoredStressPlans {
    /// The plans stored in `store`, in force at `clock`'s now.
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> StoredStressPlans {
        StoredStressPlans { store, clock }
    }
}

impl StressPlans for StoredStressPlans {
    fn plans_for(&self, ip: IpAddr) -> PlansFuture<'_> {
        Box::pin(async move {
            let rows = self
                .store
                .stress_plans_in_force(self.clock.now().millis())
                .await?;
            Ok(rows
                .into_iter()
                .filter_map(|r| {
                    let record = StressPlanRecord {
                        id: r.id,
                        targets: r.targets,
                        sources: r.sources,
                        window_start: Timestamp(r.window_start),
                        window_end: Timestamp(r.window_end),
                        plan: r.plan?,
                    };
                    record.direction_of(ip).is_some().then_some(record)
                })
                .collect())
        })
    }
}

impl App {
    /// ASMT-1/2/5: a tenant declares an assessment of its own resources. The scope is checked
    /// against the owner of every address and name (and the provider's infrastructure,
    /// ASMT-3); a refusal names the offending targets only, and nothing is stored. A stress or
    /// destructive test waits for approval within the SLA; the others are in force for their
    /// window at once.
    pub async fn declare_assessment(
        &self,
        who: &Principal,
        input: DeclareInput,
    ) -> AppResult<AssessmentView> {
        who.require(&[Role::Tenant], "declare assessments")?;
        let Principal::Token {
            account: Some(account),
            ..
        } = who
        else {
            return Err(AppError::Forbidden("declare assessments"));
        };
        let now = self.now();
        let d = assessment::declare(
            input.kind,
            &input.targets,
            &input.sources,
            input.window_start,
            input.window_end,
            input.plan,
            Timestamp(now),
        )?;
        let mut tx = self.store.begin_write().await?;
        let mut owners = Vec::with_capacity(d.targets.len());
        for t in &d.targets {
            let found = tx.lookup_owners(&t.lookups()).await?;
            owners.push(
                found
                    .into_iter()
                    .map(|o| o.map(|o| o.account_id))
                    .collect::<Vec<_>>(),
            );
        }
        if let Err(refusal) = assessment::check_scope(
            account,
            &d.targets,
            &owners,
            &self.assessments.infrastructure,
        ) {
            // Nothing is stored: the transaction rolls back when dropped.
            return Err(out_of_scope(refusal));
        }
        let s = assessment::start(&d);
        let contact_enc = d
            .plan
            .as_ref()
            .map(|p| self.sealer.seal(p.contact.as_bytes()))
            .transpose()?;
        let id = warden_store::new_id("asm", now);
        let row = AssessmentRow {
            id: id.clone(),
            account_id: account.clone(),
            kind: d.kind,
            state: s.next.state,
            targets: d.targets.clone(),
            sources: d.sources.clone(),
            window_start: d.window_start.millis(),
            window_end: d.window_end.millis(),
            plan: d.plan.clone(),
            contact_enc,
            facts: s.next.clone(),
            reason: s.reason.clone(),
            disclosure: None,
            due_at: (s.next.state == AssessmentState::PendingApproval).then(|| {
                self.lifecycle
                    .calendar
                    .add_working_time(Timestamp(now), self.assessments.approval_sla_ms())
                    .millis()
            }),
            disclosure_due_at: None,
            decided_by: None,
            decided_at: None,
            created_by: who.actor(),
            created_at: now,
            updated_at: now,
        };
        tx.insert_assessment(&row).await?;
        self.carry_out(&mut tx, who, &row, None, &s, None, serde_json::json!({
            "kind": row.kind,
            "targets": row.targets.iter().map(assessment::AssessmentTarget::text).collect::<Vec<_>>(),
            "sources": row.sources.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "window_start": Timestamp(row.window_start),
            "window_end": Timestamp(row.window_end),
            "due_at": row.due_at.map(Timestamp),
        }))
        .await?;
        tx.commit().await?;
        self.job_wakeup.notify_waiters();
        Ok(self.assessment_view(&row, now))
    }

    /// Assessments, newest first: a tenant's own, every account's for staff; keyset paged.
    pub async fn list_assessments(
        &self,
        who: &Principal,
        q: &AssessmentQuery,
    ) -> AppResult<AssessmentPage> {
        who.require(READERS, "read assessments")?;
        let limit = match q.limit {
            None => 100,
            Some(n @ 1..=500) => n,
            Some(_) => return Err(InvalidInput::new("limit", "must be 1 to 500").into()),
        };
        let state = q
            .state
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                AssessmentState::from_code(s).ok_or_else(|| {
                    InvalidInput::new(
                        "state",
                        format!("is not one of {}", AssessmentState::expected()),
                    )
                })
            })
            .transpose()?;
        let filter = AssessmentFilter {
            state,
            before: q.after.clone().filter(|a| !a.is_empty()),
        };
        let rows = self
            .store
            .assessments_page(&who.scope(), &filter, limit)
            .await?;
        let now = self.now();
        let next_after = (i64::try_from(rows.len()).unwrap_or(i64::MAX) == limit)
            .then(|| rows.last().map(|r| r.id.clone()))
            .flatten();
        Ok(AssessmentPage {
            items: rows.iter().map(|r| self.assessment_view(r, now)).collect(),
            next_after,
        })
    }

    /// One assessment with its contact and history (a tenant: its own; a foreign id is not
    /// found). A staff read of the contact is audited (AUD-4).
    pub async fn get_assessment(&self, who: &Principal, id: &str) -> AppResult<AssessmentDetail> {
        who.require(READERS, "read assessments")?;
        let row = self
            .store
            .get_assessment(&who.scope(), id)
            .await?
            .ok_or(AppError::NotFound("assessment"))?;
        let staff = who.role().is_some_and(Role::is_staff);
        let contact = row
            .contact_enc
            .as_deref()
            .map(|b| {
                self.sealer
                    .open(b)
                    .map(|v| String::from_utf8_lossy(&v).into_owned())
            })
            .transpose()?;
        if staff && contact.is_some() {
            let mut tx = self.store.begin_write().await?;
            let mut ev = self.event(who, "personal_data.read", format!("assessment:{id}"));
            ev.account_id = Some(row.account_id.clone());
            ev.details = serde_json::json!({ "field": "plan.contact" });
            tx.append_audit(ev).await?;
            tx.commit().await?;
        }
        let events = self
            .store
            .list_audit_for_subjects(&[format!("assessment:{id}")], 500)
            .await?;
        let actors = if staff {
            self.actors().await?
        } else {
            crate::auth::Actors::default()
        };
        let history = events
            .into_iter()
            .filter(|e| staff || e.action != "personal_data.read")
            .map(|e| {
                let details: serde_json::Value =
                    serde_json::from_str(&e.details).unwrap_or_default();
                let text = |k: &str| details.get(k).and_then(|v| v.as_str()).map(str::to_string);
                HistoryEntry {
                    seq: e.seq,
                    at: Timestamp(e.at).to_rfc3339(),
                    action: e.action,
                    role: e.role,
                    actor: staff.then(|| actors.get(&e.actor)),
                    from: text("from"),
                    to: text("to"),
                    reason: text("reason"),
                    why: details
                        .get("why")
                        .and_then(|w| serde_json::from_value(w.clone()).ok()),
                }
            })
            .collect();
        Ok(AssessmentDetail {
            assessment: self.assessment_view(&row, self.now()),
            contact,
            history,
        })
    }

    /// The staff queue: plans waiting for approval with their SLA clock, phishing tests whose
    /// disclosure is unconfirmed with their overdue flag (ASMT-2, ASMT-5).
    pub async fn assessment_queue(&self, who: &Principal) -> AppResult<AssessmentQueue> {
        who.require(
            &[Role::Admin, Role::Operator, Role::Reviewer],
            "read the assessment queue",
        )?;
        let now = self.now();
        let view = |rows: Vec<AssessmentRow>| -> Vec<AssessmentView> {
            rows.iter().map(|r| self.assessment_view(r, now)).collect()
        };
        let pending = view(
            self.store
                .assessment_queue(AssessmentState::PendingApproval, 500)
                .await?,
        );
        let awaiting = view(
            self.store
                .assessment_queue(AssessmentState::AwaitingDisclosure, 500)
                .await?,
        );
        Ok(AssessmentQueue {
            approvals_overdue: pending
                .iter()
                .filter(|a| a.approval_sla.as_ref().is_some_and(|s| s.overdue))
                .count(),
            disclosures_overdue: awaiting.iter().filter(|a| a.disclosure_overdue).count(),
            pending_approval: pending,
            awaiting_disclosure: awaiting,
        })
    }

    /// ASMT-2: an operator approves a plan; traffic inside it is no attack during its window.
    pub async fn approve_assessment(
        &self,
        who: &Principal,
        id: &str,
        input: ReasonInput,
    ) -> AppResult<AssessmentView> {
        who.require(DECIDERS, "approve assessment plans")?;
        let reason = reason_of(input.reason, false)?;
        self.transition(who, id, None, AssessmentCommand::Approve { reason }, None)
            .await
    }

    /// ASMT-2: an operator rejects a plan, with the reason the tenant is told.
    pub async fn reject_assessment(
        &self,
        who: &Principal,
        id: &str,
        input: RequiredReasonInput,
    ) -> AppResult<AssessmentView> {
        who.require(DECIDERS, "reject assessment plans")?;
        let reason = reason_of(input.reason, true)?.unwrap_or_default();
        self.transition(who, id, None, AssessmentCommand::Reject { reason }, None)
            .await
    }

    /// The tenant (its own) or an operator stops an assessment early, with a reason; from then
    /// on its traffic counts as any other.
    pub async fn stop_assessment(
        &self,
        who: &Principal,
        id: &str,
        input: RequiredReasonInput,
    ) -> AppResult<AssessmentView> {
        who.require(
            &[Role::Admin, Role::Operator, Role::Tenant],
            "stop assessments",
        )?;
        let reason = reason_of(input.reason, true)?.unwrap_or_default();
        let by_tenant = who.role() == Some(Role::Tenant);
        let scope = by_tenant.then(|| who.scope());
        self.transition(
            who,
            id,
            scope,
            AssessmentCommand::Stop { by_tenant, reason },
            None,
        )
        .await
    }

    /// ASMT-5: the tenant confirms, with the text it used, that it told its users about the
    /// phishing test; the reminders stop.
    pub async fn confirm_disclosure(
        &self,
        who: &Principal,
        id: &str,
        input: DisclosureInput,
    ) -> AppResult<AssessmentView> {
        who.require(&[Role::Tenant], "confirm assessment disclosures")?;
        let text = input
            .text
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                InvalidInput::new("text", "is required: the text your users were told")
            })?;
        if text.chars().count() > MAX_DISCLOSURE {
            return Err(
                InvalidInput::new("text", format!("at most {MAX_DISCLOSURE} characters")).into(),
            );
        }
        self.transition(
            who,
            id,
            Some(who.scope()),
            AssessmentCommand::ConfirmDisclosure { text: text.clone() },
            Some(text),
        )
        .await
    }

    /// The window-end timer (`assessment.end`): an in-force assessment ends, a phishing test
    /// awaits its disclosure. One that moved on (stopped, rejected) ignores it.
    pub(crate) async fn assessment_window_ended(&self, id: &str) -> AppResult<()> {
        match self
            .transition(
                &Principal::System,
                id,
                None,
                AssessmentCommand::WindowEnded,
                None,
            )
            .await
        {
            Ok(_) | Err(AppError::Conflict(_) | AppError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The disclosure reminder (`assessment.reminder`, ASMT-5): a notice, and the next
    /// reminder, until the tenant confirms.
    pub(crate) async fn assessment_reminder_due(&self, id: &str) -> AppResult<()> {
        let cmd = AssessmentCommand::ReminderDue {
            every_ms: self.assessments.reminder_ms(),
        };
        match self
            .transition(&Principal::System, id, None, cmd, None)
            .await
        {
            Ok(_) | Err(AppError::Conflict(_) | AppError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Loads, decides and stores one transition in one transaction. `scope` limits the row to
    /// a tenant's account (a foreign id is not found).
    async fn transition(
        &self,
        who: &Principal,
        id: &str,
        scope: Option<warden_domain::identity::Scope>,
        cmd: AssessmentCommand,
        disclosure: Option<String>,
    ) -> AppResult<AssessmentView> {
        let now = self.now();
        let mut tx = self.store.begin_write().await?;
        let mut row = tx
            .get_assessment_for_update(id)
            .await?
            .ok_or(AppError::NotFound("assessment"))?;
        if let Some(scope) = &scope
            && scope.account().is_some_and(|a| a != row.account_id)
        {
            return Err(AppError::NotFound("assessment"));
        }
        let before = row.clone();
        let d = assessment::decide(&row.facts, &cmd, Timestamp(now))
            .map_err(|e| AppError::Conflict(e.0))?;
        row.state = d.next.state;
        row.facts = d.next.clone();
        row.reason = d.reason.clone();
        row.updated_at = now;
        let mut extra = serde_json::json!({});
        match &cmd {
            AssessmentCommand::Approve { .. } | AssessmentCommand::Reject { .. } => {
                let late = row.due_at.is_some_and(|due| now > due);
                row.decided_by = Some(who.actor());
                row.decided_at = Some(now);
                extra = serde_json::json!({ "late": late, "due_at": row.due_at.map(Timestamp) });
            }
            AssessmentCommand::Stop { by_tenant, .. } => {
                row.decided_by = Some(who.actor());
                row.decided_at = Some(now);
                extra = serde_json::json!({ "by_tenant": by_tenant });
            }
            AssessmentCommand::WindowEnded => {
                if row.state == AssessmentState::AwaitingDisclosure {
                    row.disclosure_due_at = Some(
                        row.window_end
                            .saturating_add(self.assessments.disclosure_due_ms()),
                    );
                    extra = serde_json::json!({
                        "disclosure_due_at": row.disclosure_due_at.map(Timestamp),
                    });
                }
            }
            AssessmentCommand::ReminderDue { .. } => {
                extra = serde_json::json!({ "reminders": row.facts.reminders });
            }
            AssessmentCommand::ConfirmDisclosure { .. } => {
                row.disclosure = disclosure;
                extra = serde_json::json!({ "disclosure": row.disclosure });
            }
        }
        tx.update_assessment(&row).await?;
        let note = match &cmd {
            AssessmentCommand::Reject { reason } | AssessmentCommand::Stop { reason, .. } => {
                Some(reason.as_str())
            }
            AssessmentCommand::Approve { reason } => reason.as_deref(),
            _ => None,
        };
        self.carry_out(&mut tx, who, &row, Some(&before), &d, note, extra)
            .await?;
        tx.commit().await?;
        self.job_wakeup.notify_waiters();
        Ok(self.assessment_view(&row, now))
    }

    /// The domain's effects of `d` on `row` (already stored), in `tx`: timers, notices (with
    /// the operator's `note`), the audit event with the transition and `extra` details.
    #[allow(clippy::too_many_arguments)] // one transition's parts, each needed once
    async fn carry_out(
        &self,
        tx: &mut WriteTx,
        who: &Principal,
        row: &AssessmentRow,
        before: Option<&AssessmentRow>,
        d: &AssessmentDecision,
        note: Option<&str>,
        extra: serde_json::Value,
    ) -> AppResult<()> {
        let now = self.now();
        for e in &d.effects {
            match e {
                AssessmentEffect::ArmWindowEnd { at } => {
                    self.arm(
                        tx,
                        JobKind::AssessmentEnd,
                        end_key(&row.id),
                        &row.id,
                        *at,
                        now,
                    )
                    .await?;
                }
                AssessmentEffect::ArmReminder { at } => {
                    self.arm(
                        tx,
                        JobKind::AssessmentReminder,
                        reminder_key(&row.id),
                        &row.id,
                        *at,
                        now,
                    )
                    .await?;
                }
                AssessmentEffect::CancelTimers => {
                    tx.cancel_timer(&end_key(&row.id)).await?;
                    tx.cancel_timer(&reminder_key(&row.id)).await?;
                }
                AssessmentEffect::Notify { kind } => {
                    let kind = NoticeKind::from_code(kind).ok_or_else(|| {
                        AppError::Internal(format!("the domain named no notice kind {kind}"))
                    })?;
                    self.assessment_notice(tx, row, kind, note).await?;
                }
                AssessmentEffect::Audit { event } => {
                    let mut ev = self.event(who, event, format!("assessment:{}", row.id));
                    ev.account_id = Some(row.account_id.clone());
                    ev.before_digest = before.map(|b| digest(&b.facts));
                    ev.after_digest = Some(digest(&row.facts));
                    let mut details = serde_json::json!({
                        "kind": row.kind,
                        "from": before.map(|b| b.state.code()),
                        "to": row.state.code(),
                        "reason": d.reason,
                        "why": d.why,
                    });
                    if let (Some(m), serde_json::Value::Object(x)) =
                        (details.as_object_mut(), extra.clone())
                    {
                        m.extend(x);
                    }
                    ev.details = details;
                    tx.append_audit(ev).await?;
                }
            }
        }
        Ok(())
    }

    /// Arms (or moves) the timer `key` of assessment `id`.
    async fn arm(
        &self,
        tx: &mut WriteTx,
        kind: JobKind,
        key: String,
        id: &str,
        at: Timestamp,
        now: i64,
    ) -> AppResult<()> {
        let job = NewJob {
            kind,
            payload: serde_json::json!({ "assessment_id": id }).to_string(),
            run_at: at.millis(),
            dedup_key: Some(key),
            max_attempts: 10,
        };
        tx.enqueue(&job, &warden_store::new_id("job", now), now)
            .await?;
        Ok(())
    }

    /// The tenant's notice of an assessment (inbox, and the channels its kind goes to).
    async fn assessment_notice(
        &self,
        tx: &mut WriteTx,
        row: &AssessmentRow,
        kind: NoticeKind,
        note: Option<&str>,
    ) -> AppResult<()> {
        let links: Vec<String> = row
            .targets
            .iter()
            .map(assessment::AssessmentTarget::text)
            .collect();
        // What the subject and SMS call it: the first target, and how many more.
        let name = match links.as_slice() {
            [] => "-".to_string(),
            [one] => one.clone(),
            [first, rest @ ..] => format!("{first} +{}", rest.len()),
        };
        let facts = NoticeFacts {
            case_id: &row.id,
            resource_name: &name,
            resource_id: &row.id,
            product: "",
            links: &links,
            // Not shown by the assessment templates.
            category: Category::Scanning,
            actions: &[],
            deadline: (kind == NoticeKind::AssessmentApproved).then_some(Timestamp(row.window_end)),
            note,
            unblock: None,
            maybe_compromised: false,
            utc_offset_minutes: self.lifecycle.calendar.utc_offset_minutes(),
            console_url: self.notices.console_url.as_deref(),
        };
        self.notify_account(tx, &row.account_id, None, kind, &facts)
            .await
    }

    /// The view of a row at `now`.
    fn assessment_view(&self, r: &AssessmentRow, now: i64) -> AssessmentView {
        let pending = r.state == AssessmentState::PendingApproval;
        AssessmentView {
            id: r.id.clone(),
            account_id: r.account_id.clone(),
            kind: r.kind,
            state: r.state,
            in_force: r.state.in_force(),
            targets: r
                .targets
                .iter()
                .map(assessment::AssessmentTarget::text)
                .collect(),
            sources: r.sources.iter().map(ToString::to_string).collect(),
            window_start: Timestamp(r.window_start),
            window_end: Timestamp(r.window_end),
            plan: r.plan.as_ref().map(|p| PlanView {
                peak_bps: p.peak_bps,
                peak_pps: p.peak_pps,
                peak_rps: p.peak_rps,
                method: p.method.clone(),
                rollback_plan: p.rollback_plan.clone(),
                attest_rights: p.attest_rights,
                attest_backups: p.attest_backups,
            }),
            reason: r.reason.clone(),
            approval_sla: r.due_at.map(|_| self.sla_clock(r.due_at, pending, now)),
            decided_late: r.kind.needs_approval()
                && matches!(
                    (r.decided_at, r.due_at),
                    (Some(at), Some(due)) if at > due
                )
                && matches!(
                    r.state,
                    AssessmentState::Approved | AssessmentState::Rejected | AssessmentState::Ended
                ),
            decided_at: r.decided_at.map(Timestamp),
            disclosure_due_at: r.disclosure_due_at.map(Timestamp),
            disclosure_overdue: assessment::disclosure_overdue(
                &r.facts,
                Timestamp(now),
                self.assessments.disclosure_due_ms(),
            ),
            reminders: r.facts.reminders,
            disclosure: r.disclosure.clone(),
            created_at: Timestamp(r.created_at),
            updated_at: Timestamp(r.updated_at),
        }
    }
}

/// The refusal of a scope (ASMT-1/3): 422, naming the foreign targets and the provider's own.
fn out_of_scope(r: ScopeRefusal) -> AppError {
    AppError::OutOfScope {
        message: r.message(),
        foreign: r.foreign,
        infrastructure: r.infrastructure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_defaults_and_checks() {
        let s = AssessmentSettings::default();
        assert_eq!(
            (
                s.approval_sla_hours,
                s.reminder_hours,
                s.disclosure_due_hours
            ),
            (8, 24, 72)
        );
        assert!(s.validate().is_ok());
        let bad = AssessmentSettings {
            reminder_hours: 0,
            ..AssessmentSettings::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "reminder_hours");
        let bad = AssessmentSettings {
            infrastructure: Infrastructure {
                networks: vec![],
                domains: vec!["https://x".into()],
            },
            ..AssessmentSettings::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().field,
            "infrastructure.domains[0]"
        );
    }

    #[test]
    fn reasons_are_checked() {
        assert!(reason_of(None, false).unwrap().is_none());
        assert_eq!(
            reason_of(Some("  ".into()), true).unwrap_err().to_string(),
            "reason: is required: the tenant sees it"
        );
        assert!(reason_of(Some("x".repeat(2001)), false).is_err());
        assert_eq!(
            reason_of(Some(" ok ".into()), true).unwrap().as_deref(),
            Some("ok")
        );
    }
}
