//! The case lifecycle (SPEC §7–9: LIFE-1..5, UNB-1..6, HARM-1/2) as one pure state machine.
//!
//! [`decide`] is the only way a case moves: it takes the case's facts, a command and `now`, and
//! returns the next state plus the effects to carry out (enforce, lift, notify, arm or cancel the
//! deadline timer, re-check). The caller stores state and effects in one transaction and workers
//! carry the effects out, so a crash never loses an enforcement nor applies one twice. The
//! `match (state, command)` names every pair (states grouped with `|`, no catch-all), so a new
//! state or command makes the compiler point at every transition that must consider it.
//!
//! What the caller records from a command itself (the facts are its to store, not ours):
//! `Confirm` stores its level and its `planned` actions as `pending` [`ActionRecord`]s (PEN-3) —
//! an alerting case enforces exactly those at the deadline; `ArmTimer { at }` is also the new
//! `deadline`; `RequestSelfUnblock`/`RequestManualUnblock` open a request of that route; a
//! self-service result, an approval or a rejection closes it; a failed self-service result sets
//! `self_unblock_failed`. The reviewer SLA timer of a manual request (UNB-3) needs the working-time
//! calendar and is armed by the caller.

use serde::{Deserialize, Serialize};

use crate::penalty::{Action, PlannedAction};
use crate::resource::{InvalidInput, Product};
use crate::taxonomy::{Kind, Level};
use crate::time::Timestamp;
use crate::why::Why;

/// Where a case stands (§7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Reported, waiting in the triage queue.
    Reported,
    /// Confirmed in triage, not yet graded.
    Confirmed,
    /// 告警中: a general first offence with a rectification deadline, not yet blocked (LIFE-1).
    Alerting,
    /// 封禁: the penalty actions are in force (LIFE-2/LIFE-3, HARM-1).
    Enforced,
    /// An unblock request (self-service re-check or manual review) is open (UNB-1..6).
    UnblockRequested,
    /// Every action was lifted.
    Lifted,
    /// Rectified in time, or clean at the deadline; nothing was ever enforced.
    Resolved,
    /// Dismissed in triage, with a reason.
    Dismissed,
}

impl State {
    /// Every state.
    pub const ALL: [State; 8] = [
        State::Reported,
        State::Confirmed,
        State::Alerting,
        State::Enforced,
        State::UnblockRequested,
        State::Lifted,
        State::Resolved,
        State::Dismissed,
    ];

    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            State::Reported => "reported",
            State::Confirmed => "confirmed",
            State::Alerting => "alerting",
            State::Enforced => "enforced",
            State::UnblockRequested => "unblock_requested",
            State::Lifted => "lifted",
            State::Resolved => "resolved",
            State::Dismissed => "dismissed",
        }
    }

    /// Parses a state code (as stored).
    pub fn parse(code: &str) -> Result<State, InvalidInput> {
        State::ALL
            .into_iter()
            .find(|s| s.code() == code)
            .ok_or_else(|| {
                InvalidInput::new(
                    "state",
                    "is not one of reported, confirmed, alerting, enforced, unblock_requested, lifted, resolved, dismissed",
                )
            })
    }
}

crate::impl_code!(State, "case state");

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

crate::codes! {
    /// Where one penalty action record stands (PEN-3): what the enforcement points confirmed.
    pub enum ActionState: "action state" {
        /// Planned, not yet applied.
        Pending = "pending",
        /// In force.
        Applied = "applied",
        /// Lifted.
        Lifted = "lifted",
        /// Applying failed; the worker retries.
        Failed = "failed",
    }
}

crate::codes! {
    /// What the lifecycle decided for one penalty action record (PEN-3); the adapters' confirmations
    /// then move its [`ActionState`].
    pub enum Desired: "desired action state" {
        /// Waits for the alerting deadline (LIFE-1).
        Planned = "planned",
        /// Must be in force.
        InForce = "in_force",
        /// Must be lifted.
        Lifted = "lifted",
    }
}

impl Desired {
    /// The state the lifecycle reasons on: what was decided, whatever the enforcement points
    /// confirmed so far (ENF-2).
    pub fn decided_state(self) -> ActionState {
        match self {
            Desired::Planned => ActionState::Pending,
            Desired::InForce => ActionState::Applied,
            Desired::Lifted => ActionState::Lifted,
        }
    }
}

/// One penalty action of a case (PEN-3), as far as the lifecycle needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ActionRecord {
    /// The action.
    pub action: Action,
    /// 禁止解封: never lifted.
    pub no_unblock: bool,
    /// Its state.
    pub state: ActionState,
}

crate::codes! {
    /// How an unblock request is decided.
    pub enum UnblockRoute: "unblock request kind" {
        /// 自助解封: an automated re-check decides (UNB-1/UNB-2).
        SelfService = "self",
        /// 人工解封: a reviewer decides (UNB-3).
        Manual = "manual",
    }
}

crate::codes! {
    /// Where an unblock request stands (UNB-6: the tenant sees it at every step).
    pub enum RequestState: "unblock request state" {
        /// Open: the re-check runs, or the request waits in the reviewer queue.
        Pending = "pending",
        /// Self-service: every URL was clean and the actions were lifted.
        Succeeded = "succeeded",
        /// Self-service: violating content is still present (UNB-2).
        Failed = "failed",
        /// Manual: a reviewer approved it.
        Approved = "approved",
        /// Manual: a reviewer rejected it, with a reason.
        Rejected = "rejected",
    }
}

crate::codes! {
    /// What a ticket asks (TKT-1).
    pub enum TicketKind: "ticket kind" {
        /// Unblock that the console cannot grant (UNB-4/UNB-5).
        Unblock = "unblock",
        /// A regulator case: whether and how it can be unblocked (UNB-4).
        Regulator = "regulator",
        /// Lift a restriction after cleaning up a machine (HARM-2).
        HarmfulBehaviour = "harmful_behaviour",
        /// Anything else.
        Question = "question",
    }
}

crate::codes! {
    /// Where a ticket stands.
    pub enum TicketState: "ticket state" {
        /// Waiting for a reviewer.
        Open = "open",
        /// Answered.
        Closed = "closed",
    }
}

/// What the lifecycle knows about a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CaseFacts {
    /// Current state.
    pub state: State,
    /// Level once graded; `None` before, and for cases an operator enforced directly (HARM-1).
    pub level: Option<Level>,
    /// Product of the resource; `None` while the case is unowned (RES-2): it can be accepted or
    /// dismissed in triage, but not graded.
    pub product: Option<Product>,
    /// Content or behaviour violation.
    pub kind: Kind,
    /// Whether this is the account's first offence(s) (LIFE-1).
    pub first_offence: bool,
    /// Whether the case comes from a regulator notice (UNB-4).
    pub regulator: bool,
    /// The account's violations in the counting window (UNB-4).
    pub account_violations: u32,
    /// The route of the open unblock request, if one is open (UNB-6).
    pub open_unblock_request: Option<UnblockRoute>,
    /// The case's penalty actions (PEN-3).
    pub actions: Vec<ActionRecord>,
    /// The alerting deadline (LIFE-1).
    pub deadline: Option<Timestamp>,
    /// Whether a self-service unblock has failed; manual unblock needs one (UNB-3).
    pub self_unblock_failed: bool,
}

/// Something that happened to a case, or that someone asks of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Confirm and grade: `planned` is [`crate::penalty::plan`] for the case (LIFE-1/LIFE-3).
    Confirm {
        /// The level (GRD-1).
        level: Level,
        /// The matrix's actions for product × level × kind.
        planned: Vec<PlannedAction>,
    },
    /// Accept in triage without grading yet: a trusted detector's sure detection (INT-5). The
    /// grading follows as [`Command::Confirm`] once the case is owned.
    Accept {
        /// Why, e.g. the detection's confidence against the detector's threshold.
        reason: String,
    },
    /// Dismiss in triage, with a mandatory reason.
    Dismiss {
        /// Why.
        reason: String,
    },
    /// The alerting deadline fired and the re-check ran (LIFE-2, DET-3).
    DeadlinePassed {
        /// Whether the violating content is still there.
        still_violating: bool,
    },
    /// The tenant rectified an alerting case before the deadline (LIFE-1).
    Rectified,
    /// The tenant asks for self-service unblock (UNB-1).
    RequestSelfUnblock {
        /// The tenant confirmed the rectification commitment (整改承诺书).
        commitment_confirmed: bool,
    },
    /// The self-service re-check finished (UNB-1/UNB-2).
    SelfUnblockResult {
        /// Every violating URL is clean.
        clean: bool,
        /// The URLs that still violate, shown to the tenant.
        still_violating_urls: Vec<String>,
    },
    /// The tenant asks for manual unblock after a failed self-service attempt (UNB-3).
    RequestManualUnblock,
    /// A reviewer approves the manual request, optionally saying why (kept with the decision and
    /// shown to the tenant like a rejection's reason).
    ReviewApprove {
        /// Why, e.g. "checked by hand"; `None` or blank for no reason.
        reason: Option<String>,
    },
    /// A reviewer rejects the manual request, with a reason the tenant sees (UNB-3).
    ReviewReject {
        /// Why, e.g. "the URL still has violating content".
        reason: String,
    },
    /// The tenant tries to withdraw a request; always refused (UNB-3).
    WithdrawUnblock,
    /// A reviewer lifts the penalty on a ticket (HARM-2, TKT-1); never lifts no_unblock actions.
    LiftByTicket,
    /// An operator applies actions directly, e.g. block_network on harmful behaviour (HARM-1).
    Enforce {
        /// The actions.
        actions: Vec<PlannedAction>,
    },
}

impl Command {
    /// Stable name, for errors and audit.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Confirm { .. } => "confirm",
            Command::Accept { .. } => "accept",
            Command::Dismiss { .. } => "dismiss",
            Command::DeadlinePassed { .. } => "deadline_passed",
            Command::Rectified => "rectified",
            Command::RequestSelfUnblock { .. } => "request_self_unblock",
            Command::SelfUnblockResult { .. } => "self_unblock_result",
            Command::RequestManualUnblock => "request_manual_unblock",
            Command::ReviewApprove { .. } => "review_approve",
            Command::ReviewReject { .. } => "review_reject",
            Command::WithdrawUnblock => "withdraw_unblock",
            Command::LiftByTicket => "lift_by_ticket",
            Command::Enforce { .. } => "enforce",
        }
    }
}

crate::codes! {
    /// The notices the lifecycle asks for (NOT-1); the code is the stored template name.
    pub enum NoticeKind: "notice kind" {
        /// LIFE-1: alerting, rectify before the deadline.
        Alerting = "case.alerting",
        /// NOT-3: the deadline is near and the case is not rectified yet.
        DeadlineReminder = "case.reminder",
        /// LIFE-2/LIFE-3: the penalty applies.
        Enforced = "case.enforced",
        /// HARM-1/PEN-5: access restricted for harmful behaviour; points to host-security checks.
        EnforcedHostSecurity = "case.enforced_host_security",
        /// Rectified or clean at the deadline.
        Resolved = "case.resolved",
        /// UNB-1: the self-service re-check started (the request's status says so; no inbox
        /// notice).
        SelfUnblockStarted = "unblock.started",
        /// UNB-2: the self-service re-check found violations.
        UnblockFailed = "unblock.failed",
        /// UNB-3: the manual request is in the reviewer queue.
        UnblockQueued = "unblock.queued",
        /// UNB-3: the reviewer rejected the request, with the reason.
        UnblockRejected = "unblock.rejected",
        /// Every action lifted.
        Lifted = "case.lifted",
        /// Some actions lifted; the no_unblock ones stay.
        PartiallyLifted = "case.partially_lifted",
        /// TKT-1: a reviewer answered the tenant's ticket on the case (without lifting: a lift
        /// is told by the lifted notice, with the answer).
        TicketAnswered = "ticket.answered",
        /// DDOS-3: the IP was blackholed, with the planned end (written by the blackhole use
        /// cases, never by the case lifecycle).
        BlackholeStarted = "blackhole.started",
        /// DDOS-4: the attack goes on or is unknown at the planned end: a new planned end.
        BlackholeExtended = "blackhole.extended",
        /// DDOS-4/5: the blackhole was released.
        BlackholeReleased = "blackhole.released",
        /// ASMT-2: an operator approved the tenant's assessment plan (written by the
        /// assessments use cases, never by the case lifecycle).
        AssessmentApproved = "assessment.approved",
        /// ASMT-2: an operator rejected the plan, with the reason.
        AssessmentRejected = "assessment.rejected",
        /// An operator stopped the tenant's assessment early, with the reason.
        AssessmentStopped = "assessment.stopped",
        /// ASMT-5: the phishing test is over; confirm that the users were told (a reminder
        /// until the tenant does).
        AssessmentDisclosureDue = "assessment.disclosure_due",
        /// INT-6: a report says a service of the tenant's is exposed or vulnerable (an open
        /// resolver): told, nothing penalised, no case (written by the mail intake).
        ReportAdvisory = "report.advisory",
    }
}

/// Something the caller must carry out after storing the decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Effect {
    /// Arm the case's deadline timer (LIFE-1, LIFE-4); `at` is also the case's new deadline.
    ArmTimer {
        /// When it fires.
        at: Timestamp,
    },
    /// Cancel the case's deadline timer.
    CancelTimer,
    /// Apply these actions; destructive ones keep the evidence first (PEN-4).
    Enforce(Vec<PlannedAction>),
    /// Lift these actions. Never names an action the case holds as no_unblock.
    Lift(Vec<Action>),
    /// Send the tenant a notice.
    Notify {
        /// Which notice.
        kind: NoticeKind,
    },
    /// Re-check every violating URL of the case (UNB-1, DET-3); the result comes back as
    /// [`Command::SelfUnblockResult`].
    Recheck,
}

/// The outcome of a command: the next state, the effects, and the reason for the audit (LIFE-5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Decision {
    /// The next state.
    pub next: State,
    /// What to carry out, in order.
    pub effects: Vec<Effect>,
    /// Why, citing the rule (English, for the API and the audit log).
    pub reason: String,
    /// The same reason in codes, for the console's languages (UI-2).
    pub why: Why,
}

/// The lifecycle's configurable numbers. Defaults are the policy's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LifecyclePolicy {
    /// Grace period of an alerting case, ms (LIFE-1). Default 24 h.
    pub grace_ms: i64,
    /// More violations than this in the window bar console unblock (UNB-4). Default 5.
    pub violation_limit: u32,
    /// Products with console (self-service and manual) unblock (UNB-1/UNB-5). Default cvm, clb,
    /// cdn.
    pub self_unblock_products: Vec<Product>,
}

impl Default for LifecyclePolicy {
    fn default() -> Self {
        LifecyclePolicy {
            grace_ms: 24 * 60 * 60 * 1000,
            violation_limit: 5,
            self_unblock_products: vec![Product::Cvm, Product::Clb, Product::Cdn],
        }
    }
}

/// What a reviewer can still lift on a ticket for a case the console refuses (TKT-1): every
/// action in force except the no_unblock ones, which are never lifted (PEN-3). Refusals carry it
/// so that they send the tenant to a ticket only when the ticket can lift something.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketLift {
    /// Actions in force that a reviewer can lift on a ticket ([`Command::LiftByTicket`]).
    pub liftable: Vec<Action>,
    /// Actions in force marked no_unblock (禁止解封): never lifted, by a ticket neither.
    pub locked: Vec<Action>,
}

impl TicketLift {
    /// What a ticket could lift on `case` now.
    pub fn of(case: &CaseFacts) -> TicketLift {
        let locked = locked_actions(case);
        let mut liftable: Vec<Action> = Vec::new();
        for r in &case.actions {
            if r.state != ActionState::Lifted
                && !locked.contains(&r.action)
                && !liftable.contains(&r.action)
            {
                liftable.push(r.action);
            }
        }
        TicketLift { liftable, locked }
    }

    /// The tenant's next step: `ticket` (what to do, ending in filing the ticket) when a ticket
    /// can lift something, naming what stays in force; otherwise that nothing can be unblocked.
    fn next_step(&self, ticket: &str) -> String {
        let codes = |a: &[Action]| a.iter().map(|a| a.code()).collect::<Vec<_>>().join(", ");
        match (self.liftable.is_empty(), self.locked.is_empty()) {
            (true, true) => "nothing on this case is in force".into(),
            (true, false) => format!(
                "{} is marked 禁止解封 (no_unblock) and is never lifted, neither from the console nor by a ticket (PEN-3): nothing on this case can be unblocked",
                codes(&self.locked)
            ),
            (false, true) => format!("{ticket} and a reviewer decides (TKT-1)"),
            (false, false) => format!(
                "{ticket}: a reviewer can lift {}; {} is marked 禁止解封 (no_unblock) and stays in force (PEN-3)",
                codes(&self.liftable),
                codes(&self.locked)
            ),
        }
    }
}

/// The ticket a refused tenant files for a content case.
const UNBLOCK_TICKET: &str =
    "remove the violating content, then file a ticket (kind unblock) linked to this case";

/// Why the console refuses an unblock request (UNB-4..6). The code is stable; the message names
/// the rule and what the tenant can do instead, and is shown to the tenant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub enum Refusal {
    /// Nothing is blocked: alerting (LIFE-1) or no penalty in force.
    NotBlockedYet {
        /// The case's state.
        state: State,
    },
    /// Serious and especially serious cases, and ungraded operator enforcements (UNB-4, HARM-2).
    LevelNotUnblockable {
        /// The case's level.
        level: Option<Level>,
        /// What a ticket can lift instead.
        ticket: TicketLift,
    },
    /// The case holds no_unblock actions (UNB-4): `ticket.locked`.
    ActionNotUnblockable {
        /// What a ticket can lift instead, and the no_unblock actions.
        ticket: TicketLift,
    },
    /// The case comes from a regulator notice (UNB-4).
    RegulatorCase {
        /// What a ticket can lift instead.
        ticket: TicketLift,
    },
    /// The account is past the violation-count limit (UNB-4).
    ViolationLimit {
        /// The account's violations.
        count: u32,
        /// The limit.
        limit: u32,
        /// What a ticket can lift instead (TKT-1: unblock requests the console cannot grant).
        ticket: TicketLift,
    },
    /// The product has no console unblock (UNB-1, UNB-5).
    ProductNeedsTicket {
        /// The product.
        product: Product,
        /// What a ticket can lift instead.
        ticket: TicketLift,
    },
    /// A request is already open (UNB-6).
    RequestAlreadyOpen,
}

impl Refusal {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NotBlockedYet { .. } => "not_blocked_yet",
            Refusal::LevelNotUnblockable { .. } => "level_not_unblockable",
            Refusal::ActionNotUnblockable { .. } => "action_not_unblockable",
            Refusal::RegulatorCase { .. } => "regulator_case",
            Refusal::ViolationLimit { .. } => "violation_limit",
            Refusal::ProductNeedsTicket { .. } => "product_needs_ticket",
            Refusal::RequestAlreadyOpen => "request_already_open",
        }
    }

    /// The message for the tenant: the rule, and what the tenant can do instead.
    pub fn message(&self) -> String {
        match self {
            Refusal::NotBlockedYet {
                state: State::Alerting,
            } => "not blocked, rectify before the deadline (LIFE-1): remove the violating content; the re-check at the deadline then closes the case without a penalty".into(),
            Refusal::NotBlockedYet { state } => {
                format!("nothing on this case is blocked (the case is {state})")
            }
            Refusal::LevelNotUnblockable {
                level: Some(level),
                ticket,
            } => format!(
                "{} cases cannot be unblocked from the console (UNB-4); {}",
                level.code(),
                ticket.next_step(UNBLOCK_TICKET)
            ),
            Refusal::LevelNotUnblockable {
                level: None,
                ticket,
            } => format!(
                "the access restriction was applied by an operator and is not lifted from the console (HARM-2); {}",
                ticket.next_step(
                    "after cleaning up the machine, file a ticket (kind harmful_behaviour) linked to this case"
                )
            ),
            Refusal::ActionNotUnblockable { ticket } => format!(
                "the case holds actions that are never unblocked (UNB-4); {}",
                ticket.next_step(UNBLOCK_TICKET)
            ),
            Refusal::RegulatorCase { ticket } => format!(
                "a case from a regulator notice cannot be unblocked from the console (UNB-4); {}",
                ticket.next_step(
                    "delete the content and file a ticket (kind regulator) linked to this case asking whether and how it can be unblocked"
                )
            ),
            Refusal::ViolationLimit {
                count,
                limit,
                ticket,
            } => format!(
                "the account has {count} violations, more than the limit of {limit}; no console unblock (UNB-4); {}",
                ticket.next_step(UNBLOCK_TICKET)
            ),
            Refusal::ProductNeedsTicket { product, ticket } => format!(
                "{} has no console unblock (UNB-5); {}",
                product.code(),
                ticket.next_step(UNBLOCK_TICKET)
            ),
            Refusal::RequestAlreadyOpen => {
                "an unblock request is already open for this case (UNB-6); wait for its decision, shown with the case's unblock requests".into()
            }
        }
    }
}

/// A command the lifecycle does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    /// The command does not apply in this state.
    #[error("a {from} case cannot take {command}")]
    InvalidTransition {
        /// Current state.
        from: State,
        /// The command's name.
        command: &'static str,
    },
    /// The console refuses the unblock request (UNB-4..6).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// A required field is missing or false.
    #[error("{field}: {reason}")]
    Missing {
        /// The field.
        field: &'static str,
        /// What is required.
        reason: &'static str,
    },
    /// Enforcing would apply no action; every enforced case has at least one (PEN-3).
    #[error("no actions to enforce; an enforced case needs at least one action (PEN-3)")]
    EmptyPlan,
    /// A plan names an action twice (PEN-3 keeps one record per action).
    #[error("actions: {action} is named twice")]
    DuplicateAction {
        /// The action.
        action: Action,
    },
    /// Every requested action is already in force.
    #[error("every requested action is already in force")]
    AlreadyEnforced,
    /// The deadline timer fired early (LIFE-4 timers never fire before their time).
    #[error("the deadline {} has not passed yet", .deadline.to_rfc3339())]
    DeadlineNotReached {
        /// The deadline.
        deadline: Timestamp,
    },
    /// An unblock request cannot be withdrawn (UNB-3).
    #[error("an unblock request cannot be withdrawn (UNB-3)")]
    CannotWithdraw,
    /// Manual unblock follows a failed self-service attempt (UNB-3).
    #[error(
        "manual unblock follows a failed self-service unblock; try self-service unblock first (UNB-3)"
    )]
    SelfServiceFirst,
    /// The case is unowned: without a product it cannot be graded or penalised (RES-2).
    #[error(
        "the case is unowned: register the resource its target belongs to, then confirm (RES-2)"
    )]
    Unowned,
}

impl LifecycleError {
    /// The stable code (a refusal's own code for [`LifecycleError::Refused`]).
    pub fn code(&self) -> &'static str {
        match self {
            LifecycleError::InvalidTransition { .. } => "invalid_transition",
            LifecycleError::Refused(r) => r.code(),
            LifecycleError::Missing { .. } => "missing_field",
            LifecycleError::EmptyPlan => "empty_plan",
            LifecycleError::DuplicateAction { .. } => "duplicate_action",
            LifecycleError::AlreadyEnforced => "already_enforced",
            LifecycleError::DeadlineNotReached { .. } => "deadline_not_reached",
            LifecycleError::CannotWithdraw => "cannot_withdraw",
            LifecycleError::SelfServiceFirst => "self_service_first",
            LifecycleError::Unowned => "case_unowned",
        }
    }
}

/// Whether the console may take an unblock request for this case (UNB-4..6): `Ok` or the one
/// rule that refuses it. Self-service and manual requests share these rules.
pub fn unblock_eligibility(case: &CaseFacts, policy: &LifecyclePolicy) -> Result<(), Refusal> {
    match case.state {
        State::Enforced => {}
        State::UnblockRequested => return Err(Refusal::RequestAlreadyOpen),
        State::Reported
        | State::Confirmed
        | State::Alerting
        | State::Lifted
        | State::Resolved
        | State::Dismissed => return Err(Refusal::NotBlockedYet { state: case.state }),
    }
    if case.open_unblock_request.is_some() {
        return Err(Refusal::RequestAlreadyOpen);
    }
    let ticket = TicketLift::of(case);
    match case.level {
        Some(Level::General) => {}
        level @ (Some(Level::Serious | Level::EspeciallySerious) | None) => {
            return Err(Refusal::LevelNotUnblockable { level, ticket });
        }
    }
    if !ticket.locked.is_empty() {
        return Err(Refusal::ActionNotUnblockable { ticket });
    }
    if case.regulator {
        return Err(Refusal::RegulatorCase { ticket });
    }
    if case.account_violations > policy.violation_limit {
        return Err(Refusal::ViolationLimit {
            count: case.account_violations,
            limit: policy.violation_limit,
            ticket,
        });
    }
    match case.product {
        Some(p) if policy.self_unblock_products.contains(&p) => {}
        Some(product) => return Err(Refusal::ProductNeedsTicket { product, ticket }),
        // Unowned cases are never enforced; nothing of theirs is blocked.
        None => return Err(Refusal::NotBlockedYet { state: case.state }),
    }
    Ok(())
}

/// Decides what `cmd` does to `case` at `now`.
pub fn decide(
    case: &CaseFacts,
    cmd: &Command,
    now: Timestamp,
    policy: &LifecyclePolicy,
) -> Result<Decision, LifecycleError> {
    use State as S;
    let invalid = || LifecycleError::InvalidTransition {
        from: case.state,
        command: cmd.name(),
    };
    match (case.state, cmd) {
        (S::Reported | S::Confirmed, Command::Confirm { level, planned }) => {
            if case.product.is_none() {
                return Err(LifecycleError::Unowned);
            }
            confirm(case, *level, planned, now, policy)
        }
        (S::Reported, Command::Accept { reason }) => {
            let reason = required(reason, "reason", "an acceptance needs a reason")?;
            Ok(decision(
                S::Confirmed,
                vec![],
                format!("INT-5: {reason}"),
                Why::new("accepted").with("note", reason),
            ))
        }
        (
            S::Confirmed
            | S::Alerting
            | S::Enforced
            | S::UnblockRequested
            | S::Lifted
            | S::Resolved
            | S::Dismissed,
            Command::Accept { .. },
        ) => Err(invalid()),
        (
            S::Alerting
            | S::Enforced
            | S::UnblockRequested
            | S::Lifted
            | S::Resolved
            | S::Dismissed,
            Command::Confirm { .. },
        ) => Err(invalid()),

        (S::Reported, Command::Dismiss { reason }) => {
            let reason = required(reason, "reason", "a dismissal needs a reason")?;
            // The operator's reason is the whole reason: the tenant sees it as it was written.
            Ok(decision(
                S::Dismissed,
                vec![],
                reason.to_string(),
                Why::new("dismissed").with("note", reason),
            ))
        }
        // Confirmed cases go on to grading (as in triage); later ones are past dismissal.
        (
            S::Confirmed
            | S::Alerting
            | S::Enforced
            | S::UnblockRequested
            | S::Lifted
            | S::Resolved
            | S::Dismissed,
            Command::Dismiss { .. },
        ) => Err(invalid()),

        (S::Alerting, Command::DeadlinePassed { still_violating }) => {
            if let Some(deadline) = case.deadline.filter(|d| now < *d) {
                return Err(LifecycleError::DeadlineNotReached { deadline });
            }
            if *still_violating {
                let planned = pending(case);
                if planned.is_empty() {
                    return Err(LifecycleError::EmptyPlan);
                }
                Ok(decision(
                    S::Enforced,
                    vec![Effect::Enforce(planned), notify(enforced_notice(case.kind))],
                    "LIFE-2: still violating at the deadline; the penalty applies".into(),
                    Why::new("deadline_enforced"),
                ))
            } else {
                Ok(decision(
                    S::Resolved,
                    vec![notify(NoticeKind::Resolved)],
                    "LIFE-2: clean at the deadline".into(),
                    Why::new("deadline_clean"),
                ))
            }
        }
        // A stale timer: the case left alerting and cancelled it.
        (
            S::Reported
            | S::Confirmed
            | S::Enforced
            | S::UnblockRequested
            | S::Lifted
            | S::Resolved
            | S::Dismissed,
            Command::DeadlinePassed { .. },
        ) => Err(invalid()),

        (S::Alerting, Command::Rectified) => Ok(decision(
            S::Resolved,
            vec![Effect::CancelTimer, notify(NoticeKind::Resolved)],
            "LIFE-1: rectified before the deadline".into(),
            Why::new("rectified"),
        )),
        (
            S::Reported
            | S::Confirmed
            | S::Enforced
            | S::UnblockRequested
            | S::Lifted
            | S::Resolved
            | S::Dismissed,
            Command::Rectified,
        ) => Err(invalid()),

        (
            S::Enforced,
            Command::RequestSelfUnblock {
                commitment_confirmed,
            },
        ) => {
            unblock_eligibility(case, policy)?;
            if !commitment_confirmed {
                return Err(LifecycleError::Missing {
                    field: "commitment_confirmed",
                    reason: "confirm the rectification commitment (整改承诺书) first (UNB-1)",
                });
            }
            Ok(decision(
                S::UnblockRequested,
                vec![Effect::Recheck, notify(NoticeKind::SelfUnblockStarted)],
                "UNB-1: self-service unblock requested; re-checking every violating URL".into(),
                Why::new("self_unblock_requested"),
            ))
        }
        (S::Enforced, Command::RequestManualUnblock) => {
            unblock_eligibility(case, policy)?;
            if !case.self_unblock_failed {
                return Err(LifecycleError::SelfServiceFirst);
            }
            Ok(decision(
                S::UnblockRequested,
                vec![notify(NoticeKind::UnblockQueued)],
                "UNB-3: manual unblock requested; in the reviewer queue".into(),
                Why::new("manual_unblock_requested"),
            ))
        }
        (
            S::Reported
            | S::Confirmed
            | S::Alerting
            | S::UnblockRequested
            | S::Lifted
            | S::Resolved
            | S::Dismissed,
            Command::RequestSelfUnblock { .. } | Command::RequestManualUnblock,
        ) => Err(refused(case, policy, invalid())),

        (
            S::UnblockRequested,
            Command::SelfUnblockResult {
                clean,
                still_violating_urls,
            },
        ) => {
            if case.open_unblock_request != Some(UnblockRoute::SelfService) {
                return Err(invalid());
            }
            if *clean {
                if !still_violating_urls.is_empty() {
                    return Err(LifecycleError::Missing {
                        field: "still_violating_urls",
                        reason: "must be empty when the re-check is clean",
                    });
                }
                lift(
                    case,
                    cmd.name(),
                    "UNB-1: self-service re-check clean",
                    Why::new("self_unblock_clean"),
                )
            } else {
                Ok(decision(
                    S::Enforced,
                    vec![notify(NoticeKind::UnblockFailed)],
                    format!(
                        "UNB-2: self-service re-check found violating content still present: {}",
                        still_violating_urls.join(", ")
                    ),
                    Why::new("self_unblock_failed").with("urls", still_violating_urls.join("\n")),
                ))
            }
        }
        (S::UnblockRequested, Command::ReviewApprove { reason }) => {
            if case.open_unblock_request != Some(UnblockRoute::Manual) {
                return Err(invalid());
            }
            let approved = "UNB-3: manual unblock approved by a reviewer";
            let why = Why::new("manual_unblock_approved");
            match reason.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
                Some(reason) => lift(
                    case,
                    cmd.name(),
                    &format!("{approved}: {reason}"),
                    why.with("note", reason),
                ),
                None => lift(case, cmd.name(), approved, why),
            }
        }
        (S::UnblockRequested, Command::ReviewReject { reason }) => {
            if case.open_unblock_request != Some(UnblockRoute::Manual) {
                return Err(invalid());
            }
            let reason = required(
                reason,
                "reason",
                "a rejection needs a reason the tenant sees",
            )?;
            Ok(decision(
                S::Enforced,
                vec![notify(NoticeKind::UnblockRejected)],
                format!("UNB-3: manual unblock rejected: {reason}"),
                Why::new("manual_unblock_rejected").with("note", reason),
            ))
        }
        (
            S::Reported
            | S::Confirmed
            | S::Alerting
            | S::Enforced
            | S::Lifted
            | S::Resolved
            | S::Dismissed,
            Command::SelfUnblockResult { .. }
            | Command::ReviewApprove { .. }
            | Command::ReviewReject { .. },
        ) => Err(invalid()),

        // UNB-3: "a request cannot be withdrawn", whatever the state.
        (_, Command::WithdrawUnblock) => Err(LifecycleError::CannotWithdraw),

        (S::Enforced, Command::LiftByTicket) => lift(
            case,
            cmd.name(),
            "HARM-2/TKT-1: lifted by a reviewer on a ticket",
            Why::new("lifted_by_ticket"),
        ),
        // An open console request is decided first (UNB-6); other states hold nothing to lift.
        (
            S::Reported
            | S::Confirmed
            | S::Alerting
            | S::UnblockRequested
            | S::Lifted
            | S::Resolved
            | S::Dismissed,
            Command::LiftByTicket,
        ) => Err(invalid()),

        (S::Reported | S::Confirmed, Command::Enforce { actions }) => enforce(
            case,
            actions,
            false,
            "HARM-1: enforced by an operator",
            Why::new("enforced_by_operator"),
        ),
        // Enforcing ends the grace period early: the planned actions apply too.
        (S::Alerting, Command::Enforce { actions }) => enforce(
            case,
            actions,
            true,
            "enforced by an operator before the deadline",
            Why::new("enforced_before_deadline"),
        ),
        (S::Enforced, Command::Enforce { actions }) => enforce(
            case,
            actions,
            false,
            "further actions enforced by an operator",
            Why::new("enforced_further"),
        ),
        // An open request is decided first, so an approval never lifts what it did not review;
        // a closed case does not reopen: a new violation is a new case.
        (S::UnblockRequested | S::Lifted | S::Resolved | S::Dismissed, Command::Enforce { .. }) => {
            Err(invalid())
        }
    }
}

fn decision(next: State, effects: Vec<Effect>, reason: String, why: Why) -> Decision {
    Decision {
        next,
        effects,
        reason,
        why,
    }
}

fn notify(kind: NoticeKind) -> Effect {
    Effect::Notify { kind }
}

/// HARM-1/PEN-5: behaviour violations point the tenant to the host-security checks.
fn enforced_notice(kind: Kind) -> NoticeKind {
    match kind {
        Kind::Content => NoticeKind::Enforced,
        Kind::Behaviour => NoticeKind::EnforcedHostSecurity,
    }
}

fn required<'a>(
    value: &'a str,
    field: &'static str,
    reason: &'static str,
) -> Result<&'a str, LifecycleError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(LifecycleError::Missing { field, reason });
    }
    Ok(value)
}

/// The refusal for an unblock request outside `enforced`; `fallback` if, against expectation,
/// the rules find none.
fn refused(case: &CaseFacts, policy: &LifecyclePolicy, fallback: LifecycleError) -> LifecycleError {
    match unblock_eligibility(case, policy) {
        Err(refusal) => LifecycleError::Refused(refusal),
        Ok(()) => fallback,
    }
}

/// LIFE-1/LIFE-3: a general first offence is alerted with a deadline; anything else is enforced
/// at once.
fn confirm(
    case: &CaseFacts,
    level: Level,
    planned: &[PlannedAction],
    now: Timestamp,
    policy: &LifecyclePolicy,
) -> Result<Decision, LifecycleError> {
    check_plan(planned)?;
    match level {
        Level::General if case.first_offence => {
            let at = now.plus_millis(policy.grace_ms);
            Ok(decision(
                State::Alerting,
                vec![Effect::ArmTimer { at }, notify(NoticeKind::Alerting)],
                format!(
                    "LIFE-1: general first offence; rectify before {}",
                    at.to_rfc3339()
                ),
                Why::new("first_offence_alerted").with("at", at.to_rfc3339()),
            ))
        }
        Level::General => Ok(decision(
            State::Enforced,
            vec![
                Effect::Enforce(planned.to_vec()),
                notify(enforced_notice(case.kind)),
            ],
            "LIFE-1: general, not a first offence; enforced at once".into(),
            Why::new("repeat_general_enforced"),
        )),
        Level::Serious | Level::EspeciallySerious => Ok(decision(
            State::Enforced,
            vec![
                Effect::Enforce(planned.to_vec()),
                notify(enforced_notice(case.kind)),
            ],
            format!("LIFE-3: {} case enforced at once", level.code()),
            Why::new("serious_enforced").with("level", level.code()),
        )),
    }
}

/// Applies `actions` that are not already in force (plus the pending plan when `with_pending`).
fn enforce(
    case: &CaseFacts,
    actions: &[PlannedAction],
    with_pending: bool,
    reason: &str,
    why: Why,
) -> Result<Decision, LifecycleError> {
    check_plan(actions)?;
    let planned = if with_pending {
        pending(case)
    } else {
        Vec::new()
    };
    // In force (or queued): a record not lifted, at least as strict (a no_unblock request
    // upgrades). In alerting the pending records are the plan, which applies anyway.
    let in_force = |p: &PlannedAction| {
        case.actions.iter().any(|r| {
            r.action == p.action
                && r.state != ActionState::Lifted
                && (r.no_unblock || !p.no_unblock)
        })
    };
    let new = dedup(
        planned
            .into_iter()
            .chain(actions.iter().copied().filter(|p| !in_force(p))),
    );
    if new.is_empty() {
        return Err(LifecycleError::AlreadyEnforced);
    }
    let mut effects = Vec::with_capacity(3);
    if with_pending {
        effects.push(Effect::CancelTimer);
    }
    let codes: Vec<&str> = new.iter().map(|p| p.action.code()).collect();
    let reason = format!("{reason}: {}", codes.join(", "));
    let why = why.with("actions", codes.join(","));
    effects.push(Effect::Enforce(new));
    effects.push(notify(enforced_notice(case.kind)));
    Ok(decision(State::Enforced, effects, reason, why))
}

/// Lifts every action that is not held as no_unblock. The case is `lifted` when nothing stays
/// in force, else it stays `enforced` with the no_unblock actions.
fn lift(
    case: &CaseFacts,
    command: &'static str,
    reason: &str,
    why: Why,
) -> Result<Decision, LifecycleError> {
    let ticket = TicketLift::of(case);
    if ticket.liftable.is_empty() {
        // An enforced case always holds an action, so only no_unblock ones can be left.
        return Err(if ticket.locked.is_empty() {
            LifecycleError::InvalidTransition {
                from: case.state,
                command,
            }
        } else {
            LifecycleError::Refused(Refusal::ActionNotUnblockable { ticket })
        });
    }
    let TicketLift { liftable, locked } = ticket;
    if locked.is_empty() {
        Ok(decision(
            State::Lifted,
            vec![Effect::Lift(liftable), notify(NoticeKind::Lifted)],
            reason.to_string(),
            why,
        ))
    } else {
        let codes: Vec<&str> = locked.iter().map(|a| a.code()).collect();
        Ok(decision(
            State::Enforced,
            vec![Effect::Lift(liftable), notify(NoticeKind::PartiallyLifted)],
            format!("{reason}; {} stay (no_unblock)", codes.join(", ")),
            why.with("stay", codes.join(",")),
        ))
    }
}

/// Actions the case holds as no_unblock and not lifted. Lifting one of these by name could lift
/// the no_unblock record too, so a liftable record of the same action stays as well.
fn locked_actions(case: &CaseFacts) -> Vec<Action> {
    let mut locked = Vec::new();
    for r in &case.actions {
        if r.no_unblock && r.state != ActionState::Lifted && !locked.contains(&r.action) {
            locked.push(r.action);
        }
    }
    locked
}

/// A plan must name at least one action, each once.
fn check_plan(planned: &[PlannedAction]) -> Result<(), LifecycleError> {
    if planned.is_empty() {
        return Err(LifecycleError::EmptyPlan);
    }
    for (i, p) in planned.iter().enumerate() {
        if planned.iter().skip(i + 1).any(|q| q.action == p.action) {
            return Err(LifecycleError::DuplicateAction { action: p.action });
        }
    }
    Ok(())
}

fn pending(case: &CaseFacts) -> Vec<PlannedAction> {
    dedup(
        case.actions
            .iter()
            .filter(|r| r.state == ActionState::Pending)
            .map(|r| PlannedAction {
                action: r.action,
                no_unblock: r.no_unblock,
            }),
    )
}

fn dedup(actions: impl IntoIterator<Item = PlannedAction>) -> Vec<PlannedAction> {
    let mut out: Vec<PlannedAction> = Vec::new();
    for p in actions {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}
