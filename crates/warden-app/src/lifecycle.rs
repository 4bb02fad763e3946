//! The violation lifecycle (SPEC §5–9, 12, 15): confirm and grade, alert or enforce, deadlines,
//! self-service and manual unblock, the reviewer queue, notices.
//!
//! Every use case here has the same shape: load the case's facts, let
//! [`warden_domain::lifecycle::decide`] decide, then store the new state, the action records,
//! the timers, the inbox notices and the audit event in ONE transaction ([`App::apply`]).
//! Network work (re-checks) happens before that transaction, never inside it.

use serde::{Deserialize, Serialize};
use warden_domain::calendar::Calendar;
use warden_domain::delivery::ChangeOp;
use warden_domain::grading::{GradingFacts, GradingRules, grade, override_level};
use warden_domain::identity::Role;
use warden_domain::lifecycle::{
    ActionRecord, ActionState, CaseFacts, Command, Decision, Desired, Effect, LifecycleError,
    LifecyclePolicy, NoticeKind, RequestState, State, UnblockRoute, decide, unblock_eligibility,
};
use warden_domain::penalty::{Action, PenaltyMatrix, PlannedAction, plan};
use warden_domain::report::Source;
use warden_domain::resource::{InvalidInput, Product};
use warden_domain::taxonomy::{Category, Level};
use warden_domain::time::Timestamp;
use warden_store::WriteTx;
use warden_store::jobs::{JobKind, NewJob};
use warden_store::lifecycle::{ActionRow, CaseLifecycle, Notice};
use warden_store::reports::Case;
use warden_store::unblock::UnblockRequest;

use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;
use crate::notices::NoticeFacts;
use crate::recheck::Verdict;
use crate::{App, digest};

/// Lifecycle configuration: the policy's numbers, the penalty matrix, grading rules and the
/// working-time calendar.
#[derive(Debug, Clone)]
pub struct LifecycleSettings {
    /// Grace period, violation limit, console-unblock products.
    pub policy: LifecyclePolicy,
    /// PEN-1.
    pub matrix: PenaltyMatrix,
    /// GRD-2.
    pub grading: GradingRules,
    /// UNB-3 working-time calendar.
    pub calendar: Calendar,
    /// UNB-3 manual-unblock and ticket SLA in working time, ms. Default 2 h.
    pub review_sla_ms: i64,
}

impl Default for LifecycleSettings {
    fn default() -> Self {
        LifecycleSettings {
            policy: LifecyclePolicy::default(),
            matrix: PenaltyMatrix::default(),
            grading: GradingRules::default(),
            #[allow(clippy::expect_used)] // the default calendar is valid by construction
            calendar: warden_domain::calendar::WorkCalendar::default().validate().expect("default calendar"),
            review_sla_ms: 2 * 3_600_000,
        }
    }
}

impl From<LifecycleError> for AppError {
    fn from(e: LifecycleError) -> Self {
        match e {
            LifecycleError::Refused(r) => AppError::Refused { code: r.code(), message: r.message() },
            LifecycleError::Missing { field, reason } => AppError::Invalid(InvalidInput::new(field, reason)),
            LifecycleError::CannotWithdraw => AppError::Refused {
                code: "request_cannot_be_withdrawn",
                message: "an unblock request cannot be withdrawn (UNB-3); it will be decided".into(),
            },
            LifecycleError::SelfServiceFirst => AppError::Refused {
                code: "self_service_first",
                message: "request a self-service unblock first; manual review follows a failed attempt (UNB-3)".into(),
            },
            other => AppError::Conflict(other.to_string()),
        }
    }
}

/// Most characters of an operator's free-text reason (confirm, enforce, level override).
pub const MAX_REASON_CHARS: usize = 2000;

/// An operator's reason as the API document describes it: at most [`MAX_REASON_CHARS`]
/// characters counted as sent (code points, as JSON Schema's maxLength counts) and, when
/// `required`, a non-space character ([`warden_domain::text::is_blank`]).
fn check_text(field: &str, text: &str, required: bool) -> Result<(), InvalidInput> {
    if required && warden_domain::text::is_blank(text) {
        return Err(InvalidInput::new(field, "must have a non-space character"));
    }
    if text.chars().count() > MAX_REASON_CHARS {
        return Err(InvalidInput::new(
            field,
            format!("is longer than {MAX_REASON_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Body of `POST /api/cases/{id}/confirm`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
// An overridden level comes with its reason (GRD-3). A `null` level is one left out.
#[schemars(extend("anyOf" = [
    { "properties": { "level": { "type": "null" } } },
    { "required": ["level", "level_reason"], "properties": { "level": { "type": "string" }, "level_reason": { "type": "string" } } },
]))]
pub struct ConfirmInput {
    /// Why (optional), at most 2000 characters.
    #[serde(default)]
    #[schemars(length(max = 2000))]
    pub reason: Option<String>,
    /// GRD-3: override the computed level (needs `level_reason`).
    #[serde(default)]
    #[schemars(with = "Option<Level>")]
    pub level: Option<String>,
    /// GRD-3: why the override (required with `level`), 1 to 2000 characters with a non-space
    /// one; checked whenever it is given, with `level` or without.
    #[serde(default)]
    #[schemars(length(min = 1, max = 2000), pattern(r"\S"))]
    pub level_reason: Option<String>,
    /// Violating texts the re-check looks for (DET-3): up to 50, each 1 to 200 characters.
    #[serde(default)]
    #[schemars(length(max = 50), inner(length(min = 1, max = 200), pattern(r"\S")))]
    pub markers: Option<Vec<String>>,
    /// GRD-2: the violation impacts other tenants.
    #[serde(default)]
    pub impacts_other_tenants: Option<bool>,
    /// GRD-2/PEN-2: the violation has a wide impact.
    #[serde(default)]
    pub wide_impact: Option<bool>,
}

/// Body of `POST /api/cases/{id}/enforce` (HARM-1: restrict a machine attacking others).
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnforceInput {
    /// Action codes, e.g. `["block_network"]`: 1 to 16.
    #[schemars(required, with = "Vec<Action>", length(min = 1, max = 16))]
    pub actions: Option<Vec<String>>,
    /// Never to be lifted from the console (禁止解封).
    #[serde(default)]
    pub no_unblock: bool,
    /// Why, 1 to 2000 characters.
    #[schemars(required, length(min = 1, max = 2000), pattern(r"\S"))]
    pub reason: Option<String>,
}

/// Body of a self-service unblock request.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SelfUnblockInput {
    /// The tenant confirms the rectification commitment (整改承诺书): must be `true` (UNB-1).
    #[schemars(extend("const" = true))]
    pub commitment_confirmed: bool,
}

/// How a self-service unblock ended (UNB-1/UNB-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SelfUnblockOutcome {
    /// Every violating URL was clean: the actions are lifted, the case is `lifted`.
    Lifted,
    /// Violating content is still there (or could not be ruled out): nothing was lifted;
    /// `still_violating` names the URLs. The attempt is recorded: a manual request may follow.
    Failed,
}

/// The answer to a self-service unblock: the outcome and the request as stored.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SelfUnblockResult {
    /// Lifted or failed.
    pub outcome: SelfUnblockOutcome,
    /// The recorded request (`state` `succeeded` or `failed`, `still_violating`, `reason`).
    #[serde(flatten)]
    pub request: UnblockRequest,
}

/// A review item's SLA clock (UNB-3, TKT-1): the same for unblock requests and tickets.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SlaClock {
    /// When it is due, RFC 3339.
    pub due: Option<String>,
    /// Open and past its due time.
    pub overdue: bool,
    /// Working time left until due, ms (negative once overdue); `None` when closed or
    /// without a due time.
    pub working_ms_left: Option<i64>,
}

/// A case's level, deadline, penalty actions and unblock requests (GRD-2, PEN-3, UNB-6).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Penalties {
    /// The case.
    pub case_id: String,
    /// Its state.
    pub state: State,
    /// Its level, once graded.
    pub level: Option<Level>,
    /// Why it has that level (GRD-2), in the order the rules ran.
    pub level_reasons: Vec<LevelReason>,
    /// The alerting deadline, if any (LIFE-1).
    pub deadline: Option<Timestamp>,
    /// Its action records (PEN-3).
    pub actions: Vec<PenaltyAction>,
    /// Its unblock requests, newest last (UNB-6).
    pub unblock_requests: Vec<UnblockRequest>,
}

/// One reason behind a case's level (GRD-2), as stored with the grade.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LevelReason {
    /// `base_severity`, `repeat_offence`, `wide_spread`, `regulator_notice`,
    /// `other_tenants_impacted`, `wide_impact` or `operator_override`.
    pub code: String,
    /// The level this reason asks for.
    pub level: Level,
    /// The facts and the rule, in words.
    pub detail: String,
    /// The same in codes, for the console's languages (absent on grades stored before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<warden_domain::why::Why>,
}

/// A penalty action record, with (for staff) what each enforcement point confirmed (ENF-2).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PenaltyAction {
    /// The record.
    #[serde(flatten)]
    pub action: ActionRow,
    /// Per adapter: what it must hold and whether it confirmed (staff only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliveries: Option<Vec<warden_store::enforcement::Delivery>>,
}

/// An unblock request in the reviewer queue with its SLA clock (UNB-3).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct QueuedRequest {
    /// The request.
    pub request: UnblockRequest,
    /// Its SLA clock.
    #[serde(flatten)]
    pub sla: SlaClock,
}

/// The longest reviewer reason kept, in characters.
const MAX_REVIEW_REASON: usize = 2000;

/// Which unblock requests a case takes now (see [`App::unblock_options`]).
#[derive(Debug, Clone)]
pub struct UnblockOptions {
    /// Self-service unblock (UNB-1), or why not.
    pub self_service: Result<(), LifecycleError>,
    /// Manual unblock (UNB-3), or why not (`self_service_first` before a failed attempt).
    pub manual: Result<(), LifecycleError>,
    /// A CDN case: purge the CDN cache before requesting (UNB-5).
    pub cdn: bool,
}

/// The commitment text kept with a self-service request (UNB-1).
pub const COMMITMENT: &str = "整改承诺书：我已删除全部违规内容，并承诺不再发生同类违规。/ Rectification commitment: all violating content has been removed and will not recur.";

fn deadline_key(case_id: &str) -> String {
    format!("deadline:{case_id}")
}

/// The timer name of a case's reminder (NOT-3), cancelled with its deadline.
fn reminder_key(case_id: &str) -> String {
    format!("reminder:{case_id}")
}

/// One decided step to store: the command's name (audit action `case.<command>`), the decision,
/// the planned actions (recorded as pending when the case starts alerting) and audit details.
pub(crate) struct Step<'a> {
    pub(crate) command: &'a str,
    pub(crate) decision: &'a Decision,
    pub(crate) planned: &'a [PlannedAction],
    pub(crate) extra: serde_json::Value,
    /// A reviewer's words for the tenant, shown in the step's notice.
    pub(crate) note: Option<&'a str>,
}

/// A case as the lifecycle sees it.
pub(crate) struct Loaded {
    /// The case row.
    pub(crate) case: Case,
    /// Its lifecycle columns.
    pub(crate) life: CaseLifecycle,
    /// What `decide` needs.
    pub(crate) facts: CaseFacts,
    /// Its action records.
    pub(crate) actions: Vec<ActionRow>,
}

/// The change-log entry of an applied or lifted action (ENF-1).
pub(crate) fn change(
    row: &ActionRow,
    op: ChangeOp,
    product: Option<Product>,
    now: i64,
) -> warden_store::enforcement::EnforcementChange {
    warden_store::enforcement::EnforcementChange {
        revision: 0,
        action_id: row.id.clone(),
        case_id: row.case_id.clone(),
        account_id: row.account_id.clone(),
        op,
        action: row.action,
        product,
        target: row.target.clone(),
        created_at: now,
    }
}

/// The action records as the lifecycle sees them (PEN-3).
fn records(actions: &[ActionRow]) -> Vec<ActionRecord> {
    actions
        .iter()
        .map(|a| ActionRecord {
            action: a.action,
            no_unblock: a.no_unblock,
            // The lifecycle reasons on what was decided; whether the enforcement points
            // confirmed it is the adapters' business (ENF-2).
            state: a.desired.decided_state(),
        })
        .collect()
}

fn markers(life: &CaseLifecycle) -> Vec<String> {
    life.markers
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default()
}

impl App {
    /// The SLA clock of an item due at `due_at`, at `now`; a closed item is never overdue.
    pub(crate) fn sla_clock(&self, due_at: Option<i64>, open: bool, now: i64) -> SlaClock {
        SlaClock {
            due: due_at.map(|d| Timestamp(d).to_rfc3339()),
            overdue: open && due_at.is_some_and(|d| d < now),
            working_ms_left: due_at.filter(|_| open).map(|d| {
                self.lifecycle
                    .calendar
                    .working_time_between(Timestamp(now), Timestamp(d))
            }),
        }
    }

    fn window_start(&self, now: i64) -> i64 {
        now - i64::from(self.lifecycle.grading.violation_window_days) * 86_400_000
    }

    pub(crate) async fn load(
        &self,
        tx: &mut WriteTx,
        case_id: &str,
        scope_account: Option<&str>,
    ) -> AppResult<Loaded> {
        let case = tx
            .get_case_for_update(case_id)
            .await?
            .ok_or(AppError::NotFound("case"))?;
        if let Some(a) = scope_account
            && case.account_id.as_deref() != Some(a)
        {
            return Err(AppError::NotFound("case"));
        }
        let life = tx.get_case_lifecycle(case_id).await?.unwrap_or_default();
        let actions = tx.case_actions(case_id).await?;
        let requests = tx.unblock_requests(case_id).await?;
        let now = self.now();
        let violations = match &case.account_id {
            Some(a) => {
                tx.count_account_violations(a, self.window_start(now), &case.id)
                    .await?
            }
            None => 0,
        };
        let product = match (life.product, &case.resource_id) {
            (Some(p), _) => Some(p),
            (None, Some(r)) => Some(
                tx.get_resource(r)
                    .await?
                    .ok_or(AppError::NotFound("resource"))?
                    .product,
            ),
            (None, None) => None,
        };
        let records = records(&actions);
        let open = requests
            .iter()
            .find(|r| r.state == RequestState::Pending)
            .map(|r| r.kind);
        let facts = CaseFacts {
            state: case.state,
            level: life.level,
            product,
            kind: case.category.kind(),
            first_offence: violations == 0,
            regulator: life.regulator.is_some() || case.source == Source::Regulator.code(),
            account_violations: u32::try_from(violations).unwrap_or(u32::MAX),
            open_unblock_request: open,
            actions: records,
            deadline: life.deadline_at.map(Timestamp),
            self_unblock_failed: requests
                .iter()
                .any(|r| r.kind == UnblockRoute::SelfService && r.state == RequestState::Failed),
        };
        let mut life = life;
        life.product = product;
        life.kind = Some(facts.kind);
        Ok(Loaded {
            case,
            life,
            facts,
            actions,
        })
    }

    /// Decides `cmd` for the loaded case at now and stores the decision (no planned actions).
    pub(crate) async fn act(
        &self,
        tx: &mut WriteTx,
        who: &Principal,
        l: &mut Loaded,
        cmd: &Command,
        command: &str,
        extra: serde_json::Value,
    ) -> AppResult<Decision> {
        let d = decide(&l.facts, cmd, Timestamp(self.now()), &self.lifecycle.policy)?;
        self.apply(
            tx,
            who,
            l,
            Step {
                command,
                decision: &d,
                planned: &[],
                extra,
                note: None,
            },
        )
        .await?;
        Ok(d)
    }

    /// Stores a decision: state, effects, notices and the audit event, in `tx` (LIFE-5).
    pub(crate) async fn apply(
        &self,
        tx: &mut WriteTx,
        who: &Principal,
        l: &mut Loaded,
        step: Step<'_>,
    ) -> AppResult<()> {
        let Step {
            command,
            decision: d,
            planned,
            extra,
            note,
        } = step;
        let now = self.now();
        let before = digest(&(&l.case, &l.life));
        for e in &d.effects {
            match e {
                Effect::ArmTimer { at } => {
                    let job = NewJob {
                        kind: JobKind::CaseDeadline,
                        payload: serde_json::json!({ "case_id": l.case.id }).to_string(),
                        run_at: at.millis(),
                        dedup_key: Some(deadline_key(&l.case.id)),
                        max_attempts: 10,
                    };
                    tx.enqueue(&job, &warden_store::new_id("job", now), now)
                        .await?;
                    // NOT-3: the reminder, armed with the deadline (if it is still ahead).
                    let remind_at = at.millis() - self.notices.reminder_before_ms;
                    if self.notices.reminder_before_ms > 0 && remind_at > now {
                        let reminder = NewJob {
                            kind: JobKind::CaseReminder,
                            payload: serde_json::json!({ "case_id": l.case.id }).to_string(),
                            run_at: remind_at,
                            dedup_key: Some(reminder_key(&l.case.id)),
                            max_attempts: 10,
                        };
                        tx.enqueue(&reminder, &warden_store::new_id("job", now), now)
                            .await?;
                    }
                    l.life.deadline_at = Some(at.millis());
                    // The plan waits as pending records until the deadline (LIFE-2).
                    self.record_actions(tx, l, planned, Desired::Planned)
                        .await?;
                }
                Effect::CancelTimer => {
                    tx.cancel_timer(&deadline_key(&l.case.id)).await?;
                    tx.cancel_timer(&reminder_key(&l.case.id)).await?;
                }
                Effect::Enforce(actions) => {
                    self.record_actions(tx, l, actions, Desired::InForce)
                        .await?;
                    l.life.enforced_at = Some(now);
                    if actions.iter().any(|a| a.action == Action::IsolateAccount)
                        && let Some(account) = l.case.account_id.clone()
                    {
                        // PEN-2: isolation and clearance, recorded for billing.
                        let ddos = l.case.category == Category::DdosVictimImpact;
                        let detail = if ddos {
                            serde_json::json!({ "rule": "PEN-2", "billing": "counted to the isolation day; that day not refunded", "day": Timestamp(now).to_rfc3339().get(..10) })
                        } else {
                            serde_json::json!({ "rule": "PEN-2", "billing": "the month's fee is not refunded", "month": Timestamp(now).to_rfc3339().get(..7) })
                        };
                        let kind = if ddos {
                            "ddos_isolation"
                        } else {
                            "isolation_clearance"
                        };
                        tx.insert_billing_record(
                            &warden_store::new_id("bil", now),
                            &account,
                            Some(&l.case.id),
                            kind,
                            &detail.to_string(),
                            now,
                        )
                        .await?;
                    }
                }
                Effect::Lift(actions) => {
                    for row in l
                        .actions
                        .iter_mut()
                        .filter(|r| r.desired != Desired::Lifted && !r.no_unblock)
                    {
                        if actions.contains(&row.action) {
                            tx.set_action_desired(&row.id, Desired::Lifted, now).await?;
                            row.desired = Desired::Lifted;
                            self.log_change(tx, change(row, ChangeOp::Lift, l.life.product, now))
                                .await?;
                        }
                    }
                }
                Effect::Notify { kind } => self.notify(tx, l, *kind, d.next, note).await?,
                Effect::Recheck => {}
            }
        }
        tx.set_case_state(&l.case.id, d.next, Some(&d.reason), now)
            .await?;
        tx.set_case_lifecycle(&l.case.id, &l.life).await?;
        let mut ev = self.event(
            who,
            &format!("case.{command}"),
            format!("case:{}", l.case.id),
        );
        ev.account_id = l.case.account_id.clone();
        ev.before_digest = Some(before);
        let from = l.case.state;
        l.case.state = d.next;
        l.case.state_reason = Some(d.reason.clone());
        l.case.updated_at = now;
        ev.after_digest = Some(digest(&(&l.case, &l.life)));
        ev.details = serde_json::json!({ "from": from, "to": d.next.code(), "reason": d.reason, "why": d.why, "extra": extra });
        tx.append_audit(ev).await?;
        Ok(())
    }

    async fn record_actions(
        &self,
        tx: &mut WriteTx,
        l: &mut Loaded,
        actions: &[PlannedAction],
        desired: Desired,
    ) -> AppResult<()> {
        let now = self.now();
        let evidence = tx.first_evidence_sha256(&l.case.id).await?;
        let mut new = Vec::new();
        for p in actions {
            if let Some(row) = l
                .actions
                .iter_mut()
                .find(|r| r.action == p.action && r.desired == Desired::Planned)
            {
                if desired != Desired::Planned {
                    tx.set_action_desired(&row.id, desired, now).await?;
                    row.desired = desired;
                    if desired == Desired::InForce {
                        self.log_change(tx, change(row, ChangeOp::Apply, l.life.product, now))
                            .await?;
                    }
                }
                continue;
            }
            let row = ActionRow {
                id: warden_store::new_id("act", now),
                case_id: l.case.id.clone(),
                account_id: l.case.account_id.clone(),
                action: p.action,
                target: if p.action == Action::IsolateAccount || p.action == Action::FreezeAccount {
                    l.case.account_id.clone().unwrap_or_default()
                } else {
                    l.case.target.clone()
                },
                state: ActionState::Pending,
                desired,
                no_unblock: p.no_unblock,
                attempts: 0,
                last_error: None,
                // PEN-4: the evidence is kept (by digest, the report holds it) before deletion.
                evidence_sha256: if p.action.is_destructive() {
                    evidence.clone()
                } else {
                    None
                },
                created_at: now,
                updated_at: now,
            };
            new.push(row);
        }
        tx.insert_actions(&new).await?;
        if desired == Desired::InForce {
            for row in &new {
                self.log_change(tx, change(row, ChangeOp::Apply, l.life.product, now))
                    .await?;
            }
        }
        l.actions.extend(new);
        Ok(())
    }

    /// Stores the tenant's inbox notice of `kind` on the case as it stands after the decision
    /// (`next`): the unblock advice follows the case's eligibility then (UNB-1, UNB-4). The
    /// notice is rendered once, from the templates, in the account's language; the inbox keeps
    /// its title and text, and its e-mail and SMS go out from the same transaction (NOT-2).
    pub(crate) async fn notify(
        &self,
        tx: &mut WriteTx,
        l: &Loaded,
        kind: NoticeKind,
        next: State,
        note: Option<&str>,
    ) -> AppResult<()> {
        let Some(account) = l.case.account_id.clone() else {
            return Ok(());
        };
        // Which notices advise on unblocking, and which name the deadline.
        let (advises, dated) = match kind {
            NoticeKind::Enforced
            | NoticeKind::EnforcedHostSecurity
            | NoticeKind::UnblockFailed
            | NoticeKind::UnblockRejected
            | NoticeKind::PartiallyLifted
            | NoticeKind::TicketAnswered => (true, false),
            NoticeKind::Alerting | NoticeKind::DeadlineReminder => (false, true),
            NoticeKind::Resolved | NoticeKind::Lifted | NoticeKind::UnblockQueued => (false, false),
            // The acknowledgement of the tenant's own request: its status is on the request.
            NoticeKind::SelfUnblockStarted => return Ok(()),
            // Blackhole notices are written by the DDoS use cases (crate::ddos), never here.
            NoticeKind::BlackholeStarted
            | NoticeKind::BlackholeExtended
            | NoticeKind::BlackholeReleased => return Ok(()),
            // Assessment notices are written by the assessments use cases (crate::assessments).
            NoticeKind::AssessmentApproved
            | NoticeKind::AssessmentRejected
            | NoticeKind::AssessmentStopped
            | NoticeKind::AssessmentDisclosureDue => return Ok(()),
            // Advisories open no case: written by the mail intake (crate::mail).
            NoticeKind::ReportAdvisory => return Ok(()),
        };
        let lang = tx
            .account_lang(&account)
            .await?
            .map_or(Lang::Zh, |l| Lang::from_tag(&l).unwrap_or(Lang::En));
        let resource = match &l.case.resource_id {
            Some(id) => tx.get_resource(id).await?,
            None => None,
        };
        let links = vec![l.case.target.clone()];
        let actions: Vec<Action> = l
            .actions
            .iter()
            .filter(|a| a.desired != Desired::Lifted)
            .map(|a| a.action)
            .collect();
        let unblock = advises.then(|| {
            // The decision closed any open request; the actions are as just recorded.
            let mut after = l.facts.clone();
            after.state = next;
            after.open_unblock_request = None;
            after.actions = records(&l.actions);
            unblock_eligibility(&after, &self.lifecycle.policy)
        });
        let resource_name = resource.as_ref().map_or("-", |r| r.name.as_str());
        let facts = NoticeFacts {
            case_id: &l.case.id,
            resource_name,
            resource_id: l.case.resource_id.as_deref().unwrap_or("-"),
            product: l.life.product.map_or("-", Product::code),
            links: &links,
            category: l.case.category,
            actions: &actions,
            deadline: l.life.deadline_at.map(Timestamp).filter(|_| dated),
            note,
            unblock,
            maybe_compromised: kind == NoticeKind::EnforcedHostSecurity,
            utc_offset_minutes: self.lifecycle.calendar.utc_offset_minutes(),
            console_url: self.notices.console_url.as_deref(),
        };
        let rendered = self
            .notice_templates
            .render(kind, lang, &facts)
            .map_err(|e| AppError::Internal(format!("rendering notice {}: {e}", kind.code())))?;
        let now = self.now();
        let n = Notice {
            id: warden_store::new_id("ntc", now),
            account_id: account,
            case_id: Some(l.case.id.clone()),
            template: kind,
            lang: lang.tag().to_string(),
            title: rendered.title.clone(),
            body: rendered.text.clone(),
            created_at: now,
            read_at: None,
        };
        tx.insert_notice(&n).await?;
        // NOT-1/NOT-2: the inbox has it; e-mail and SMS go out from the same transaction.
        self.send_notice(tx, &n, &rendered, resource_name, now)
            .await
    }

    /// Confirms a reported case: grade it (GRD-1..3), plan the matrix's actions (PEN-1) and let
    /// the lifecycle alert or enforce (LIFE-1, LIFE-3).
    pub async fn confirm_case(
        &self,
        who: &Principal,
        case_id: &str,
        input: ConfirmInput,
    ) -> AppResult<Case> {
        who.require(&[Role::Admin, Role::Operator], "confirm cases")?;
        if let Some(r) = &input.reason {
            check_text("reason", r, false)?;
        }
        // Checked when given even without `level`: the document promises a non-space character
        // and 2000 at most, so a blank or oversized one is refused, not silently dropped.
        if let Some(r) = &input.level_reason {
            check_text("level_reason", r, true)?;
        }
        let markers_in = input.markers.clone().unwrap_or_default();
        if markers_in.len() > 50
            || markers_in
                .iter()
                .any(|m| warden_domain::text::is_blank(m) || m.chars().count() > 200)
        {
            return Err(InvalidInput::new(
                "markers",
                "up to 50 non-empty texts of at most 200 characters",
            )
            .into());
        }
        let override_to = match input.level.as_deref() {
            None => None,
            Some("general") => Some(Level::General),
            Some("serious") => Some(Level::Serious),
            Some("especially_serious") => Some(Level::EspeciallySerious),
            Some(_) => {
                return Err(InvalidInput::new(
                    "level",
                    "is not one of general, serious, especially_serious",
                )
                .into());
            }
        };
        let mut tx = self.store.begin_write().await?;
        tx.lock_chain().await?;
        self.check_claim(&mut tx, who, &format!("case:{case_id}"))
            .await?;
        let mut l = self.load(&mut tx, case_id, None).await?;
        let Some(product) = l.facts.product else {
            return Err(LifecycleError::Unowned.into());
        };
        let now = self.now();
        let prior = match &l.case.account_id {
            Some(a) => {
                tx.count_account_violations(a, self.window_start(now), &l.case.id)
                    .await?
            }
            None => 0,
        };
        let facts = GradingFacts {
            category: l.case.category,
            prior_violations: u32::try_from(prior).unwrap_or(u32::MAX),
            reports: l.case.report_count,
            views: l.case.views,
            regulator_notice: l.facts.regulator,
            impacts_other_tenants: input.impacts_other_tenants.unwrap_or(false),
            wide_impact: input.wide_impact.unwrap_or(false),
        };
        let mut g = grade(&facts, &self.lifecycle.grading);
        if let Some(to) = override_to {
            g = override_level(&g, to, input.level_reason.as_deref().unwrap_or_default())
                .map_err(|e| InvalidInput::new("level_reason", e.reason))?;
        }
        let planned = plan(&self.lifecycle.matrix, product, g.level, l.facts.kind);
        // A case a detector already accepted in triage (INT-5) is graded now; its one
        // `case.confirm` event was written when it was accepted.
        let command = if l.facts.state == State::Confirmed {
            "grade"
        } else {
            "confirm"
        };
        let d = decide(
            &l.facts,
            &Command::Confirm {
                level: g.level,
                planned: planned.clone(),
            },
            Timestamp(now),
            &self.lifecycle.policy,
        )?;
        l.life.level = Some(g.level);
        // The notice of this step advises on the case as graded now (UNB-4).
        l.facts.level = Some(g.level);
        l.life.level_reasons = Some(serde_json::to_string(&g.reasons).unwrap_or_default());
        if !markers_in.is_empty() {
            l.life.markers = Some(serde_json::to_string(&markers_in).unwrap_or_default());
        }
        let extra = serde_json::json!({ "level": g.level.code(), "grading": g.reasons, "planned": planned, "operator_reason": input.reason });
        self.apply(
            &mut tx,
            who,
            &mut l,
            Step {
                command,
                decision: &d,
                planned: &planned,
                extra,
                note: None,
            },
        )
        .await?;
        tx.commit().await?;
        self.job_wakeup.notify_waiters();
        Ok(l.case)
    }

    /// INT-5: a case a trusted detector confirmed is graded and alerted or enforced like one an
    /// operator confirmed.
    pub(crate) async fn auto_confirm(&self, case_id: &str) -> AppResult<()> {
        match self
            .confirm_case(&Principal::System, case_id, ConfirmInput::default())
            .await
        {
            Ok(_) => Ok(()),
            // Already graded, or no longer confirmable: nothing to do.
            Err(AppError::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// An operator applies actions directly (HARM-1: a machine attacking others gets
    /// `block_network` and a notice pointing to the host-security checks).
    pub async fn enforce_case(
        &self,
        who: &Principal,
        case_id: &str,
        input: EnforceInput,
    ) -> AppResult<Case> {
        who.require(&[Role::Admin, Role::Operator], "enforce penalties")?;
        let reason = input
            .reason
            .ok_or_else(|| InvalidInput::new("reason", "is required"))?;
        check_text("reason", &reason, true)?;
        let reason = warden_domain::text::trim(&reason).to_string();
        let codes = input.actions.unwrap_or_default();
        if codes.is_empty() || codes.len() > 16 {
            return Err(InvalidInput::new("actions", "name 1 to 16 actions").into());
        }
        let mut actions = Vec::new();
        for (i, c) in codes.iter().enumerate() {
            let action = Action::parse(c)
                .map_err(|e| InvalidInput::new(format!("actions[{i}]"), e.to_string()))?;
            actions.push(PlannedAction {
                action,
                no_unblock: input.no_unblock,
            });
        }
        let mut tx = self.store.begin_write().await?;
        tx.lock_chain().await?;
        let mut l = self.load(&mut tx, case_id, None).await?;
        // DDOS-7: a blackhole null-routes an IP; a case whose target is no bare IP has none to
        // route (the BGP export would hold nothing while the action read as applied). The body
        // is valid; this case is the wrong one for it: a conflict, like the lifecycle's refusals.
        if actions.iter().any(|p| p.action == Action::Blackhole)
            && crate::enforce::blackhole_prefix(&l.case.target).is_none()
        {
            return Err(AppError::Conflict(format!(
                "blackhole needs a case whose target is an IP address; this case's target is {}",
                l.case.target
            )));
        }
        let d = decide(
            &l.facts,
            &Command::Enforce {
                actions: actions.clone(),
            },
            Timestamp(self.now()),
            &self.lifecycle.policy,
        )?;
        let extra = serde_json::json!({ "operator_reason": reason, "actions": codes });
        self.apply(
            &mut tx,
            who,
            &mut l,
            Step {
                command: "enforce",
                decision: &d,
                planned: &actions,
                extra,
                note: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(l.case)
    }

    /// The deadline timer fired (LIFE-2): re-check, then enforce or resolve.
    /// NOT-3: the reminder before an alerting case's deadline. The violating URL is re-checked
    /// first: a case already rectified is resolved then and there (LIFE-1, its deadline
    /// cancelled), and gets the resolved notice, not a reminder; one still violating (or that
    /// cannot be checked) gets the reminder. A case that left alerting cancelled the timer; one
    /// that fires anyway (a stale timer) finds the case moved on and says nothing.
    pub(crate) async fn reminder_fired(&self, case_id: &str) -> AppResult<()> {
        let Some((target, marks, category)) = self.alerting_target(case_id).await? else {
            return Ok(());
        };
        let verdict = self.recheck_target(&target, &marks, category.code()).await;
        let mut tx = self.store.begin_write().await?;
        tx.lock_chain().await?;
        let mut l = match self.load(&mut tx, case_id, None).await {
            Ok(l) => l,
            Err(AppError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        if l.facts.state != State::Alerting {
            return Ok(());
        }
        if matches!(verdict, Verdict::Clean { .. }) {
            let extra = serde_json::json!({ "recheck": verdict, "at": "reminder" });
            self.act(
                &mut tx,
                &Principal::System,
                &mut l,
                &Command::Rectified,
                "rectified",
                extra,
            )
            .await?;
        } else {
            self.notify(
                &mut tx,
                &l,
                NoticeKind::DeadlineReminder,
                State::Alerting,
                None,
            )
            .await?;
            let mut ev = self.event(
                &Principal::System,
                "case.reminder",
                format!("case:{}", l.case.id),
            );
            ev.account_id = l.case.account_id.clone();
            ev.details = serde_json::json!({ "deadline": l.life.deadline_at.map(|d| Timestamp(d).to_rfc3339()), "recheck": verdict });
            tx.append_audit(ev).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The target, markers and category of a case that is alerting; `None` for any other (a
    /// stale timer).
    async fn alerting_target(
        &self,
        case_id: &str,
    ) -> AppResult<Option<(String, Vec<String>, Category)>> {
        let Some(case) = self
            .store
            .get_case(&warden_store::Scope::All, case_id)
            .await?
        else {
            return Ok(None);
        };
        if case.state != State::Alerting {
            return Ok(None);
        }
        let life = self
            .store
            .get_case_lifecycle(&warden_store::Scope::All, case_id)
            .await?
            .unwrap_or_default();
        Ok(Some((case.target, markers(&life), case.category)))
    }

    pub(crate) async fn deadline_fired(&self, case_id: &str) -> AppResult<()> {
        // A stale timer (the case moved on and cancelled it) finds nothing to do.
        let Some((target, markers, category)) = self.alerting_target(case_id).await? else {
            return Ok(());
        };
        let verdict = self
            .recheck_target(&target, &markers, category.code())
            .await;
        let still = !matches!(verdict, Verdict::Clean { .. });
        let mut tx = self.store.begin_write().await?;
        tx.lock_chain().await?;
        let mut l = self.load(&mut tx, case_id, None).await?;
        if l.facts.state != State::Alerting {
            return Ok(());
        }
        let cmd = Command::DeadlinePassed {
            still_violating: still,
        };
        let extra = serde_json::json!({ "recheck": verdict });
        self.act(&mut tx, &Principal::System, &mut l, &cmd, "deadline", extra)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn recheck_target(&self, target: &str, markers: &[String], category: &str) -> Verdict {
        if !target.starts_with("http://") && !target.starts_with("https://") {
            return Verdict::Unknown {
                reason: format!("{target} is not a URL Warden can re-check"),
            };
        }
        self.rechecker.recheck(target, markers, category).await
    }

    /// Self-service unblock (UNB-1/UNB-2): eligibility, commitment, re-check of every violating
    /// URL, then lift or fail naming the URLs.
    pub async fn self_unblock(
        &self,
        who: &Principal,
        case_id: &str,
        input: SelfUnblockInput,
    ) -> AppResult<SelfUnblockResult> {
        who.require(&[Role::Tenant], "request unblocks")?;
        let account = match who {
            Principal::Token { account, .. } => account.clone(),
            _ => None,
        };
        // Check eligibility before doing network work.
        let (target, marks, category) = {
            let mut tx = self.store.begin_write().await?;
            let l = self.load(&mut tx, case_id, account.as_deref()).await?;
            decide(
                &l.facts,
                &Command::RequestSelfUnblock {
                    commitment_confirmed: input.commitment_confirmed,
                },
                Timestamp(self.now()),
                &self.lifecycle.policy,
            )?;
            (l.case.target.clone(), markers(&l.life), l.case.category)
        };
        let verdict = self.recheck_target(&target, &marks, category.code()).await;
        let (clean, urls) = match &verdict {
            Verdict::Clean { .. } => (true, vec![]),
            _ => (false, vec![target.clone()]),
        };
        let now = self.now();
        let mut tx = self.store.begin_write().await?;
        tx.lock_chain().await?;
        let mut l = self.load(&mut tx, case_id, account.as_deref()).await?;
        let cmd = Command::RequestSelfUnblock {
            commitment_confirmed: input.commitment_confirmed,
        };
        let route = serde_json::json!({ "route": "self" });
        let d1 = self
            .act(&mut tx, who, &mut l, &cmd, "unblock_request", route)
            .await?;
        l.facts.state = d1.next;
        l.facts.open_unblock_request = Some(UnblockRoute::SelfService);
        let cmd = Command::SelfUnblockResult {
            clean,
            still_violating_urls: urls.clone(),
        };
        let extra = serde_json::json!({ "recheck": verdict });
        self.act(
            &mut tx,
            &Principal::System,
            &mut l,
            &cmd,
            "unblock_self_result",
            extra,
        )
        .await?;
        let req = UnblockRequest {
            id: warden_store::new_id("unb", now),
            case_id: l.case.id.clone(),
            account_id: l.case.account_id.clone(),
            kind: UnblockRoute::SelfService,
            state: if clean {
                RequestState::Succeeded
            } else {
                RequestState::Failed
            },
            commitment: Some(COMMITMENT.into()),
            still_violating: urls,
            reason: (!clean).then(|| match &verdict {
                Verdict::Unknown { reason } => {
                    format!("the re-check could not confirm the content is gone: {reason}")
                }
                _ => "violating content is still present at these URLs; remove it first (UNB-2)"
                    .into(),
            }),
            submitted_at: now,
            due_at: None,
            decided_at: Some(now),
            decided_by: Some("system".into()),
        };
        tx.insert_unblock_request(&req).await?;
        tx.commit().await?;
        Ok(SelfUnblockResult {
            outcome: if clean {
                SelfUnblockOutcome::Lifted
            } else {
                SelfUnblockOutcome::Failed
            },
            request: req,
        })
    }

    /// Manual unblock (UNB-3): after a failed self-service attempt, into the reviewer queue with
    /// a working-time SLA.
    pub async fn manual_unblock(
        &self,
        who: &Principal,
        case_id: &str,
    ) -> AppResult<UnblockRequest> {
        who.require(&[Role::Tenant], "request unblocks")?;
        let account = match who {
            Principal::Token { account, .. } => account.clone(),
            _ => None,
        };
        let now = self.now();
        let mut tx = self.store.begin_write().await?;
        tx.lock_chain().await?;
        let mut l = self.load(&mut tx, case_id, account.as_deref()).await?;
        let d = decide(
            &l.facts,
            &Command::RequestManualUnblock,
            Timestamp(now),
            &self.lifecycle.policy,
        )?;
        let due = self
            .lifecycle
            .calendar
            .sla_due(Timestamp(now), self.lifecycle.review_sla_ms, 1);
        self.apply(
            &mut tx,
            who,
            &mut l,
            Step {
                command: "unblock_request",
                decision: &d,
                planned: &[],
                extra: serde_json::json!({ "route": "manual", "due_at": due.to_rfc3339() }),
                note: None,
            },
        )
        .await?;
        let req = UnblockRequest {
            id: warden_store::new_id("unb", now),
            case_id: l.case.id.clone(),
            account_id: l.case.account_id.clone(),
            kind: UnblockRoute::Manual,
            state: RequestState::Pending,
            commitment: Some(COMMITMENT.into()),
            still_violating: Vec::new(),
            reason: None,
            submitted_at: now,
            due_at: Some(due.millis()),
            decided_at: None,
            decided_by: None,
        };
        tx.insert_unblock_request(&req).await?;
        tx.commit().await?;
        Ok(req)
    }

    /// A reviewer decides a manual request (UNB-3); rejection needs a reason the tenant sees, an
    /// approval may give one. The reason is kept with the decision, in the audit event and the
    /// case history, and shown in the request's status and the notice.
    pub async fn review_unblock(
        &self,
        who: &Principal,
        request_id: &str,
        approve: bool,
        reason: Option<String>,
    ) -> AppResult<UnblockRequest> {
        who.require(&[Role::Admin, Role::Reviewer], "review unblock requests")?;
        let reason = reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty());
        if reason
            .as_ref()
            .is_some_and(|r| r.chars().count() > MAX_REVIEW_REASON)
        {
            return Err(InvalidInput::new("reason", "must be at most 2000 characters").into());
        }
        let now = self.now();
        let mut tx = self.store.begin_write().await?;
        tx.lock_chain().await?;
        self.check_claim(&mut tx, who, &format!("unblock:{request_id}"))
            .await?;
        let req = tx
            .get_unblock_request(request_id)
            .await?
            .ok_or(AppError::NotFound("unblock request"))?;
        if req.state != RequestState::Pending {
            return Err(AppError::Conflict(format!(
                "the request is already {}",
                req.state
            )));
        }
        let mut l = self.load(&mut tx, &req.case_id, None).await?;
        let cmd = if approve {
            Command::ReviewApprove {
                reason: reason.clone(),
            }
        } else {
            Command::ReviewReject {
                reason: reason.clone().unwrap_or_default(),
            }
        };
        let d = decide(&l.facts, &cmd, Timestamp(now), &self.lifecycle.policy)?;
        self.apply(
            &mut tx,
            who,
            &mut l,
            Step {
                command: if approve {
                    "unblock_approve"
                } else {
                    "unblock_reject"
                },
                decision: &d,
                planned: &[],
                extra: serde_json::json!({ "request_id": request_id, "reviewer_reason": reason }),
                note: reason.as_deref(),
            },
        )
        .await?;
        tx.decide_unblock_request(
            request_id,
            if approve {
                RequestState::Approved
            } else {
                RequestState::Rejected
            },
            reason.as_deref(),
            &who.actor(),
            now,
        )
        .await?;
        let out = tx
            .get_unblock_request(request_id)
            .await?
            .ok_or(AppError::NotFound("unblock request"))?;
        tx.commit().await?;
        Ok(out)
    }

    /// Withdrawing a request is always refused (UNB-3), with a stable code.
    pub async fn withdraw_unblock(&self, who: &Principal, request_id: &str) -> AppResult<()> {
        who.require(&[Role::Tenant], "withdraw unblock requests")?;
        let scope = who.scope();
        let mut tx = self.store.begin_write().await?;
        let req = tx.get_unblock_request(request_id).await?.filter(|r| {
            scope
                .account()
                .is_none_or(|a| r.account_id.as_deref() == Some(a))
        });
        let req = req.ok_or(AppError::NotFound("unblock request"))?;
        let l = self.load(&mut tx, &req.case_id, None).await?;
        decide(
            &l.facts,
            &Command::WithdrawUnblock,
            Timestamp(self.now()),
            &self.lifecycle.policy,
        )?;
        Err(AppError::Conflict(
            "unreachable: withdrawal is always refused".into(),
        ))
    }

    /// A case's action records and unblock requests (PEN-3, UNB-6).
    pub async fn case_penalties(&self, who: &Principal, case_id: &str) -> AppResult<Penalties> {
        let case = self.get_case(who, case_id).await?;
        let life = self
            .store
            .get_case_lifecycle(&who.scope(), &case.id)
            .await?
            .unwrap_or_default();
        let mut actions = self.store.list_case_actions(&who.scope(), &case.id).await?;
        // ENF-2: staff see which enforcement point confirmed what; tenants see the state only
        // (adapter names and their errors are the provider's infrastructure).
        let staff = who.role().is_some_and(|r| r.is_staff());
        let deliveries = if staff {
            let ids: Vec<String> = actions.iter().map(|a| a.id.clone()).collect();
            self.store.deliveries_of(&ids).await?
        } else {
            for a in &mut actions {
                a.last_error = None;
            }
            Vec::new()
        };
        let actions = actions
            .into_iter()
            .map(|a| PenaltyAction {
                deliveries: staff.then(|| {
                    deliveries
                        .iter()
                        .filter(|d| d.action_id == a.id)
                        .cloned()
                        .collect()
                }),
                action: a,
            })
            .collect();
        let unblock_requests = self
            .store
            .list_unblock_requests(&who.scope(), &case.id)
            .await?;
        let level_reasons = life
            .level_reasons
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok())
            .unwrap_or_default();
        Ok(Penalties {
            case_id: case.id,
            state: case.state,
            level: life.level,
            level_reasons,
            deadline: life.deadline_at.map(Timestamp),
            actions,
            unblock_requests,
        })
    }

    /// Which unblock requests the tenant may make on a case now (UNB-1..6), without changing
    /// anything: the console shows a button exactly where one of these is `Ok`, and the rule
    /// in words where it is not.
    pub async fn unblock_options(
        &self,
        who: &Principal,
        case_id: &str,
    ) -> AppResult<UnblockOptions> {
        who.require(&[Role::Tenant], "request unblocks")?;
        let account = match who {
            Principal::Token { account, .. } => account.clone(),
            _ => None,
        };
        let mut tx = self.store.begin_write().await?;
        let l = self.load(&mut tx, case_id, account.as_deref()).await?;
        drop(tx); // read only: rolled back
        let now = Timestamp(self.now());
        let policy = &self.lifecycle.policy;
        let self_service = decide(
            &l.facts,
            &Command::RequestSelfUnblock {
                commitment_confirmed: true,
            },
            now,
            policy,
        )
        .map(|_| ());
        let manual = decide(&l.facts, &Command::RequestManualUnblock, now, policy).map(|_| ());
        Ok(UnblockOptions {
            self_service,
            manual,
            cdn: l.facts.product == Some(Product::Cdn),
        })
    }

    /// The reviewer queue with SLA clocks (UNB-3): overdue requests are flagged.
    pub async fn unblock_queue(&self, who: &Principal) -> AppResult<Vec<QueuedRequest>> {
        who.require(
            &[Role::Admin, Role::Operator, Role::Reviewer],
            "read the unblock queue",
        )?;
        let now = self.now();
        Ok(self
            .store
            .unblock_queue(500)
            .await?
            .into_iter()
            .map(|r| QueuedRequest {
                sla: self.sla_clock(r.due_at, true, now),
                request: r,
            })
            .collect())
    }

    /// Overdue open review items (UNB-3/TKT-1), for the SLA metric.
    pub async fn sla_breaches(&self) -> AppResult<i64> {
        let now = self.now();
        let u = self
            .store
            .unblock_queue(500)
            .await?
            .iter()
            .filter(|r| r.due_at.is_some_and(|d| d < now))
            .count();
        let t = self
            .store
            .list_tickets(&warden_store::Scope::All, true, 500)
            .await?
            .iter()
            .filter(|r| r.due_at.is_some_and(|d| d < now))
            .count();
        Ok(i64::try_from(u + t).unwrap_or(i64::MAX))
    }
}
