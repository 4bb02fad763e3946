//! DDoS protection and blackholes (SPEC §10: DDOS-1..6): telemetry in, detection, the
//! blackhole's timer, protection upgrades, self-service and operator release.
//!
//! Every change has the lifecycle's shape: load the IP's [`BlackholeFacts`], let
//! [`warden_domain::blackhole::decide`] decide, then store the next facts, the effects and the
//! audit event in ONE transaction ([`App::blackhole_step`]):
//!
//! - `Announce` / `Withdraw` apply and lift an `Action::Blackhole` record whose target is the IP,
//!   through the enforcement change log ([`App::log_change`]), so the border's adapters (the BGP
//!   export) learn it like any other action. The record belongs to a case of category
//!   `ddos_victim_impact` opened for the blackhole and owned by the IP's account, so the tenant
//!   sees it among its cases. The record is `no_unblock`: only the blackhole's own use cases
//!   lift it (a case unblock never does), and the case does not count as a violation of the
//!   tenant's (it was attacked).
//! - `ArmTimer` / `CancelTimer` arm and cancel the job `blackhole.end` (timer `blackhole:<id>`),
//!   whose handler runs `TimerFired`.
//! - `Notify` writes the inbox notice and queues its e-mail and SMS (NOT-1/NOT-2).
//! - `Audit` appends the audit event.
//!
//! Detection (DDOS-2/3) is deliberately simple: an IP's rate is the average inbound bps of its
//! samples over the last `window_seconds` (read from the 1-minute aggregates whose minute
//! overlaps the window); above the IP's capacity it is an attack whose peak is the highest
//! sample seen in the window. While the IP is blackholed every batch with samples for it is a
//! traffic report of that rate. The absence of samples is "no data" (DDOS-4): when the timer
//! fires and no sample came within the window, the traffic is recorded as unknown first, and
//! the ladder extends the blackhole.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use warden_domain::blackhole::{
    self, BlackholeError, BlackholeFacts, BlackholePolicy, Command, Decision, Effect, Protection,
    ProtectionPolicy, Quota, ReleaseKind, State, capacity_bps, self_service_quota,
};
use warden_domain::delivery::ChangeOp;
use warden_domain::identity::{Role, Scope};
use warden_domain::lifecycle::{ActionState, Desired, NoticeKind};
use warden_domain::penalty::Action;
use warden_domain::resource::{InvalidInput, Target};
use warden_domain::taxonomy::Category;
use warden_domain::time::Timestamp;
use warden_store::WriteTx;
use warden_store::ddos::{AttackEvent, BlackholeRow, ProtectionChange, Sample, TrafficMinute};
use warden_store::jobs::{JobKind, NewJob};
use warden_store::lifecycle::{ActionRow, CaseLifecycle};
use warden_store::reports::Case;
use warden_store::resources::Resource;

use crate::auth::Principal;
use crate::ddos_rules::{Direction, IsolationFinding, PlanVerdict, exceeded_words};
use crate::error::{AppError, AppResult};
use crate::notices::NoticeFacts;
use crate::{App, digest};
use warden_domain::assessment::Observed;

/// The highest rate a sample may carry (1 Pbps, 10^15 pps): beyond any link.
pub const MAX_RATE: u64 = 1_000_000_000_000_000;
/// Most samples in one telemetry batch.
pub const MAX_SAMPLES: usize = 5000;
/// Samples older than this (ms) are not stored (counted as `stale`).
const MAX_SAMPLE_AGE_MS: i64 = 86_400_000;
/// Samples further ahead than this (ms) are not stored (counted as `stale`).
const MAX_SAMPLE_AHEAD_MS: i64 = 5 * 60_000;
/// Self-service attempts read per account: this and the previous provider-month.
const RELEASES_LOOKBACK_MS: i64 = 62 * 86_400_000;

/// DDoS configuration (`[ddos]`): protection capacities, the blackhole ladder and quota, and
/// the detection window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DdosSettings {
    /// DDOS-1: basic protection's capacity.
    pub protection: ProtectionPolicy,
    /// DDOS-3..5: the ladder and the self-service quota.
    pub blackhole: BlackholePolicy,
    /// DDOS-2/3: the averaging window of detection, seconds (10..=3600). Default 60.
    pub window_seconds: u32,
    /// HARM-1: outbound floods and scans.
    pub harm: crate::ddos_rules::HarmSettings,
    /// PEN-2: attacks that harm a shared uplink's other tenants.
    pub isolation: crate::ddos_rules::IsolationSettings,
    /// DDOS-6, AUD-3: how long the 1-minute and the hourly series are kept.
    pub retention: crate::ddos_retention::TrafficRetention,
}

impl Default for DdosSettings {
    fn default() -> Self {
        DdosSettings {
            protection: ProtectionPolicy::default(),
            blackhole: BlackholePolicy::default(),
            window_seconds: 60,
            harm: Default::default(),
            isolation: Default::default(),
            retention: crate::ddos_retention::TrafficRetention::default(),
        }
    }
}

impl DdosSettings {
    /// Checks the configuration; the error names the bad field.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        self.protection
            .validate()
            .map_err(|e| InvalidInput::new(format!("protection.{}", e.field), e.reason))?;
        self.blackhole
            .validate()
            .map_err(|e| InvalidInput::new(format!("blackhole.{}", e.field), e.reason))?;
        if !(10..=3600).contains(&self.window_seconds) {
            return Err(InvalidInput::new("window_seconds", "must be 10 to 3600"));
        }
        self.harm
            .validate()
            .map_err(|e| InvalidInput::new(format!("harm.{}", e.field), e.reason))?;
        self.isolation
            .validate()
            .map_err(|e| InvalidInput::new(format!("isolation.{}", e.field), e.reason))?;
        self.retention.validate()?;
        Ok(())
    }

    fn window_ms(&self) -> i64 {
        i64::from(self.window_seconds.clamp(10, 3600)) * 1000
    }
}

/// An IP address as the API takes it: IPv4 dotted quad or IPv6.
#[derive(Debug)]
pub struct IpText;

impl schemars::JsonSchema for IpText {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "IpAddress".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "anyOf": [{ "format": "ipv4" }, { "format": "ipv6" }]
        })
    }
}

/// One traffic sample (DDOS-2): an IP's rates over one second.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SampleInput {
    /// The public IP.
    #[schemars(with = "IpText")]
    pub ip: IpAddr,
    /// When the second ended: RFC 3339 text (a number is refused, 422 naming the field).
    #[serde(deserialize_with = "warden_domain::time::rfc3339_text")]
    #[schemars(with = "Timestamp")]
    pub at: Timestamp,
    /// Inbound bits per second, at most 10^15.
    #[schemars(range(max = 1_000_000_000_000_000_u64))]
    pub in_bps: u64,
    /// Inbound packets per second, at most 10^15.
    #[schemars(range(max = 1_000_000_000_000_000_u64))]
    pub in_pps: u64,
    /// Outbound bits per second, at most 10^15.
    #[serde(default)]
    #[schemars(range(max = 1_000_000_000_000_000_u64))]
    pub out_bps: Option<u64>,
    /// Outbound packets per second, at most 10^15.
    #[serde(default)]
    #[schemars(range(max = 1_000_000_000_000_000_u64))]
    pub out_pps: Option<u64>,
}

/// Body of `POST /api/telemetry`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TelemetryInput {
    /// 1 to 5000 samples, any IPs, any order.
    #[schemars(length(min = 1, max = 5000))]
    pub samples: Vec<SampleInput>,
}

/// One local IP's rates from a node's flow collector, averaged over its window (DDOS-2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRate {
    /// The IP (a destination for inbound traffic, a source for outbound).
    pub ip: IpAddr,
    /// Inbound bits per second.
    pub in_bps: u64,
    /// Inbound packets per second.
    pub in_pps: u64,
    /// Outbound bits per second.
    pub out_bps: u64,
    /// Outbound packets per second.
    pub out_pps: u64,
    /// Distinct hosts the IP sent to in the window (an estimate; scans, HARM-1).
    pub out_peers: u64,
    /// The largest inbound protocols by bytes (IANA numbers), largest first.
    pub top_protocols: Vec<(u8, u64)>,
    /// The largest inbound sources by bytes, largest first.
    pub top_sources: Vec<(IpAddr, u64)>,
}

/// What a telemetry batch did.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct TelemetryReceipt {
    /// Samples stored.
    pub accepted: usize,
    /// Samples of IPs that are no resource's public IP (not stored).
    pub unknown_ip: usize,
    /// The distinct unknown IPs, at most 100.
    pub unknown_ips: Vec<String>,
    /// Samples older than a day or more than 5 minutes ahead (not stored).
    pub stale: usize,
    /// Blackholes this batch started (ids).
    pub blackholed: Vec<String>,
    /// IPs whose traffic above capacity stayed inside an approved stress-test plan (ASMT-2):
    /// no attack.
    pub within_plan: Vec<String>,
    /// What the HARM-1 and PEN-2 rules opened.
    #[serde(flatten)]
    pub rules: crate::ddos_rules::RuleOutcome,
}

/// Body of `PUT /api/ips/{ip}/protection`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProtectionInput {
    /// `high_defense` with `capacity_bps`, or `basic`.
    pub protection: Protection,
}

/// An IP's protection with its history (DDOS-1).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ProtectionView {
    /// The IP.
    pub ip: String,
    /// Its resource.
    pub resource_id: String,
    /// Its protection now.
    pub protection: Protection,
    /// The capacity in force, bps.
    pub capacity_bps: u64,
    /// Basic protection's capacity for it, bps.
    pub basic_bps: u64,
    /// Every change, oldest first.
    pub history: Vec<ProtectionChange>,
    /// Its active blackhole, if any.
    pub active_blackhole: Option<BlackholeView>,
}

/// The answer to a protection change (DDOS-5).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ProtectionResult {
    /// The protection as stored.
    #[serde(flatten)]
    pub view: ProtectionView,
    /// Whether an active blackhole was released by it.
    pub released: bool,
    /// With an active blackhole the new capacity does not cover: how many bps short of the
    /// attack's peak it is (the upgrade is kept; the blackhole stays).
    pub shortfall_bps: Option<u64>,
    /// In words.
    pub message: Option<String>,
}

/// A blackhole as the API shows it (DDOS-6).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct BlackholeView {
    /// Id.
    pub id: String,
    /// The IP.
    pub ip: String,
    /// Its account.
    pub account_id: String,
    /// Its resource.
    pub resource_id: String,
    /// The case carrying its enforcement action.
    pub case_id: String,
    /// `active` or `released`.
    pub state: State,
    /// Started.
    pub started_at: Timestamp,
    /// Planned end while active.
    pub planned_end: Option<Timestamp>,
    /// Released at.
    pub ended_at: Option<Timestamp>,
    /// Why it ended.
    pub released_by: Option<ReleaseKind>,
    /// The attack's peak, bps.
    pub peak_bps: u64,
    /// The attack's peak, pps.
    pub peak_pps: u64,
    /// The capacity in force, bps.
    pub capacity_bps: u64,
    /// Times extended.
    pub extensions: u32,
    /// The latest decision's reason.
    pub reason: String,
}

impl From<&BlackholeRow> for BlackholeView {
    fn from(b: &BlackholeRow) -> Self {
        BlackholeView {
            id: b.id.clone(),
            ip: b.ip.clone(),
            account_id: b.account_id.clone(),
            resource_id: b.resource_id.clone(),
            case_id: b.case_id.clone(),
            state: b.state,
            started_at: Timestamp(b.started_at),
            planned_end: b.planned_end.map(Timestamp),
            ended_at: b.ended_at.map(Timestamp),
            released_by: b.facts.released_by,
            peak_bps: b.facts.peak_bps,
            peak_pps: b.facts.peak_pps,
            capacity_bps: b.facts.capacity_bps,
            extensions: b.facts.extensions,
            reason: b.reason.clone(),
        }
    }
}

/// `GET /api/blackholes`: the blackholes and, for a tenant, its self-service quota.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct BlackholeList {
    /// Newest first.
    pub items: Vec<BlackholeView>,
    /// The tenant's self-service quota this month (absent for staff).
    pub quota: Option<Quota>,
}

/// Query of `GET /api/blackholes`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlackholeQuery {
    /// Only active blackholes.
    #[serde(default)]
    pub active: Option<bool>,
}

/// Body of `POST /api/blackholes/{id}/release`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseInput {
    /// Which release it is. Staff: why, 1 to 2000 characters with a non-space one (staff
    /// without a `reason` are refused with 403: a release without one is a tenant's
    /// self-service release). Tenants leave it out: a self-service early release within the
    /// monthly quota (a tenant giving a `reason` is refused with 403).
    #[serde(default)]
    #[schemars(length(min = 1, max = 2000), pattern(r"\S"))]
    pub reason: Option<String>,
}

/// The answer to a release request.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ReleaseResult {
    /// Whether the blackhole was released.
    pub released: bool,
    /// Why, in words (a failed self-service attempt says why; it does not use the quota).
    pub message: String,
    /// The blackhole as it stands.
    pub blackhole: BlackholeView,
    /// The tenant's quota after the attempt (absent for staff).
    pub quota: Option<Quota>,
}

/// An IP's traffic (DDOS-6).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TrafficView {
    /// The IP.
    pub ip: String,
    /// The capacity in force, bps.
    pub capacity_bps: u64,
    /// Minutes of the last 24 hours, oldest first.
    pub minutes: Vec<TrafficMinute>,
}

impl From<BlackholeError> for AppError {
    fn from(e: BlackholeError) -> Self {
        match e {
            BlackholeError::Refused(r) => AppError::Refused {
                code: r.code(),
                message: r.to_string(),
            },
            BlackholeError::Missing { field, reason } => {
                AppError::Invalid(InvalidInput::new(field, reason))
            }
            BlackholeError::Policy(p) => AppError::Internal(format!("blackhole policy: {p}")),
            other => AppError::Conflict(other.to_string()),
        }
    }
}

/// What a blackhole use case knows about the IP.
pub(crate) struct IpContext {
    ip: IpAddr,
    /// The IP, as stored.
    pub(crate) text: String,
    resource: Resource,
    protection: Protection,
    /// The capacity in force, bps.
    pub(crate) capacity: u64,
}

/// The top sources a flow collector put in a decision's evidence.
fn top_sources(evidence: &serde_json::Value) -> Vec<IpAddr> {
    evidence["top_sources"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s["ip"].as_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn timer_key(id: &str) -> String {
    format!("blackhole:{id}")
}

impl App {
    fn ddos_now(&self) -> Timestamp {
        Timestamp(self.now())
    }

    /// The IP's owner, resource and protection; `None` when no resource has it as a public IP,
    /// or (for a tenant) when it is another account's.
    pub(crate) async fn ip_context(
        &self,
        tx: &mut WriteTx,
        ip: IpAddr,
        scope: &Scope,
    ) -> AppResult<Option<IpContext>> {
        let Some(owner) = tx.lookup_owner(&Target::Ip(ip)).await? else {
            return Ok(None);
        };
        if owner.identifier.kind != "public_ip" {
            return Ok(None);
        }
        if let Some(a) = scope.account()
            && a != owner.account_id
        {
            return Ok(None);
        }
        if *scope == Scope::Nobody {
            return Ok(None);
        }
        let Some(resource) = tx.get_resource(&owner.resource_id).await? else {
            return Ok(None);
        };
        let text = ip.to_string();
        let protection = tx.ip_protection(&text).await?;
        let capacity = capacity_bps(
            &self.ddos.protection,
            ip,
            Some(resource.region.as_str()),
            protection,
        );
        Ok(Some(IpContext {
            ip,
            text,
            resource,
            protection,
            capacity,
        }))
    }

    /// The IP's latest blackhole and its facts now: protection and capacity as in force, the
    /// account's self-service attempts loaded.
    async fn ip_facts(
        &self,
        tx: &mut WriteTx,
        ctx: &IpContext,
    ) -> AppResult<(Option<BlackholeRow>, BlackholeFacts)> {
        let row = tx.latest_blackhole(&ctx.text).await?;
        let mut facts = row.as_ref().map_or_else(
            || BlackholeFacts::new(ctx.ip, ctx.protection, ctx.capacity),
            |r| r.facts.clone(),
        );
        facts.protection = ctx.protection;
        facts.capacity_bps = ctx.capacity;
        facts.account_releases = tx
            .account_releases(&ctx.resource.account_id, self.now() - RELEASES_LOOKBACK_MS)
            .await?;
        Ok((row, facts))
    }

    /// Decides `cmd` for the IP and stores the decision: the blackhole row, its case and action
    /// record, the change log, timers, notices and audit, in `tx`. Returns the decision and the
    /// blackhole as stored (`None`: nothing to store, e.g. an attack within capacity of an IP
    /// never blackholed).
    // The IP, its blackhole, its facts, the command and its evidence are all one step's.
    #[allow(clippy::too_many_arguments)]
    async fn blackhole_step(
        &self,
        tx: &mut WriteTx,
        who: &Principal,
        ctx: &IpContext,
        row: Option<BlackholeRow>,
        facts: &BlackholeFacts,
        cmd: &Command,
        evidence: serde_json::Value,
    ) -> AppResult<(Decision, Option<BlackholeRow>)> {
        let now = self.now();
        let d = blackhole::decide(facts, cmd, Timestamp(now), &self.ddos.blackhole)?;
        let starting = d.next.state == State::Active && facts.state != State::Active;
        let before = row.as_ref().map(|r| digest(&r.facts));
        let mut row = if starting {
            Some(self.open_blackhole(tx, ctx, &d, &evidence).await?)
        } else {
            row
        };
        let Some(b) = row.as_mut() else {
            return Ok((d, None));
        };
        b.state = d.next.state;
        b.planned_end = d.next.planned_end.map(Timestamp::millis);
        b.facts = d.next.clone();
        b.reason = d.reason.clone();
        b.updated_at = now;
        if let Command::SelfServiceEarlyRelease = cmd {
            tx.insert_release_attempt(&b.account_id, &b.id, now, d.next.state == State::Released)
                .await?;
        }
        for e in &d.effects {
            match e {
                Effect::Announce { .. } => {
                    self.blackhole_change(tx, b, ChangeOp::Apply, now).await?;
                }
                Effect::Withdraw { .. } => {
                    if !tx.lift_blackhole_action(&b.action_id, now).await? {
                        return Err(AppError::Internal(format!(
                            "blackhole {}: its action record {} is missing",
                            b.id, b.action_id
                        )));
                    }
                    self.blackhole_change(tx, b, ChangeOp::Lift, now).await?;
                    tx.set_case_state(
                        &b.case_id,
                        warden_domain::lifecycle::State::Lifted,
                        Some(&d.reason),
                        now,
                    )
                    .await?;
                    tx.end_attack(&b.id, i64_of(d.next.peak_bps), i64_of(d.next.peak_pps), now)
                        .await?;
                    b.ended_at = Some(now);
                }
                Effect::ArmTimer { at } => {
                    let job = NewJob {
                        kind: JobKind::BlackholeEnd,
                        payload: serde_json::json!({ "blackhole_id": b.id }).to_string(),
                        run_at: at.millis(),
                        dedup_key: Some(timer_key(&b.id)),
                        max_attempts: 10,
                    };
                    tx.enqueue(&job, &warden_store::new_id("job", now), now)
                        .await?;
                }
                Effect::CancelTimer => {
                    tx.cancel_timer(&timer_key(&b.id)).await?;
                }
                Effect::Notify { kind } => {
                    self.blackhole_notice(tx, ctx, b, *kind).await?;
                }
                Effect::Audit { event } => {
                    let mut ev = self.event(who, event.code(), format!("blackhole:{}", b.id));
                    ev.account_id = Some(b.account_id.clone());
                    ev.before_digest = before.clone();
                    ev.after_digest = Some(digest(&b.facts));
                    ev.details = serde_json::json!({
                        "ip": b.ip,
                        "command": cmd.name(),
                        "from": facts.state.code(),
                        "to": d.next.state.code(),
                        "reason": d.reason,
                        "why": d.why,
                        "evidence": evidence,
                    });
                    tx.append_audit(ev).await?;
                }
            }
        }
        if starting {
            tx.insert_blackhole(b).await?;
        } else {
            tx.update_blackhole(b).await?;
        }
        Ok((d, row))
    }

    /// A new blackhole: its case (owned by the IP's account), its `blackhole` action record
    /// (in force, `no_unblock`), its attack event, and its row (inserted by the caller).
    async fn open_blackhole(
        &self,
        tx: &mut WriteTx,
        ctx: &IpContext,
        d: &Decision,
        evidence: &serde_json::Value,
    ) -> AppResult<BlackholeRow> {
        let now = self.now();
        let id = warden_store::new_id("bh", now);
        let account = ctx.resource.account_id.clone();
        let case = Case {
            id: warden_store::new_id("case", now),
            account_id: Some(account.clone()),
            resource_id: Some(ctx.resource.id.clone()),
            target: ctx.text.clone(),
            category: Category::DdosVictimImpact,
            state: warden_domain::lifecycle::State::Enforced,
            source: warden_domain::report::Source::Detector.code().into(),
            correlation_key: timer_key(&id),
            report_count: 0,
            duplicate_count: 0,
            views: 0,
            state_reason: Some(d.reason.clone()),
            opened_at: now,
            last_report_at: now,
            updated_at: now,
        };
        tx.insert_case(&case).await?;
        tx.set_case_lifecycle(
            &case.id,
            &CaseLifecycle {
                product: Some(ctx.resource.product),
                kind: Some(Category::DdosVictimImpact.kind()),
                enforced_at: Some(now),
                ..Default::default()
            },
        )
        .await?;
        let action = ActionRow {
            id: warden_store::new_id("act", now),
            case_id: case.id.clone(),
            account_id: Some(account.clone()),
            action: Action::Blackhole,
            target: ctx.text.clone(),
            state: ActionState::Pending,
            desired: Desired::InForce,
            no_unblock: true,
            attempts: 0,
            last_error: None,
            evidence_sha256: None,
            created_at: now,
            updated_at: now,
        };
        tx.insert_actions(std::slice::from_ref(&action)).await?;
        tx.insert_attack(&AttackEvent {
            id: warden_store::new_id("atk", now),
            ip: ctx.text.clone(),
            account_id: account.clone(),
            resource_id: ctx.resource.id.clone(),
            blackhole_id: Some(id.clone()),
            started_at: now,
            peak_bps: i64_of(d.next.peak_bps),
            peak_pps: i64_of(d.next.peak_pps),
            evidence: evidence.to_string(),
        })
        .await?;
        Ok(BlackholeRow {
            id,
            ip: ctx.text.clone(),
            account_id: account,
            resource_id: ctx.resource.id.clone(),
            case_id: case.id,
            action_id: action.id,
            state: State::Active,
            started_at: now,
            planned_end: None,
            ended_at: None,
            reason: d.reason.clone(),
            facts: d.next.clone(),
            updated_at: now,
        })
    }

    /// The change-log entry of a blackhole's apply or lift (ENF-1, DDOS-7).
    async fn blackhole_change(
        &self,
        tx: &mut WriteTx,
        b: &BlackholeRow,
        op: ChangeOp,
        now: i64,
    ) -> AppResult<()> {
        let product = tx.get_resource(&b.resource_id).await?.map(|r| r.product);
        self.log_change(
            tx,
            warden_store::enforcement::EnforcementChange {
                revision: 0,
                action_id: b.action_id.clone(),
                case_id: b.case_id.clone(),
                account_id: Some(b.account_id.clone()),
                op,
                action: Action::Blackhole,
                product,
                target: b.ip.clone(),
                created_at: now,
            },
        )
        .await
    }

    /// The tenant's notice of a blackhole (DDOS-3: SMS, e-mail and inbox).
    async fn blackhole_notice(
        &self,
        tx: &mut WriteTx,
        ctx: &IpContext,
        b: &BlackholeRow,
        kind: NoticeKind,
    ) -> AppResult<()> {
        let links = vec![b.ip.clone()];
        let actions = [Action::Blackhole];
        let facts = NoticeFacts {
            case_id: &b.case_id,
            resource_name: &ctx.resource.name,
            resource_id: &ctx.resource.id,
            product: ctx.resource.product.code(),
            links: &links,
            category: Category::DdosVictimImpact,
            actions: if kind == NoticeKind::BlackholeReleased {
                &[]
            } else {
                &actions
            },
            deadline: b.facts.planned_end,
            note: None,
            unblock: None,
            maybe_compromised: false,
            utc_offset_minutes: self.ddos.blackhole.utc_offset_minutes,
            console_url: self.notices.console_url.as_deref(),
        };
        self.notify_account(tx, &b.account_id, Some(&b.case_id), kind, &facts)
            .await
    }

    /// DDOS-2: a detector's batch of samples. Each is folded into its IP's minute; then each IP
    /// of the batch is judged on its window (see the module's documentation). Samples of IPs
    /// that are no resource's public IP are counted, not refused.
    pub async fn ingest_telemetry(
        &self,
        who: &Principal,
        input: TelemetryInput,
    ) -> AppResult<TelemetryReceipt> {
        who.require(
            &[Role::Admin, Role::Operator, Role::Detector],
            "submit telemetry",
        )?;
        if input.samples.is_empty() || input.samples.len() > MAX_SAMPLES {
            return Err(InvalidInput::new(
                "samples",
                format!("must hold 1 to {MAX_SAMPLES} samples"),
            )
            .into());
        }
        for (i, s) in input.samples.iter().enumerate() {
            for (name, v) in [
                ("in_bps", Some(s.in_bps)),
                ("in_pps", Some(s.in_pps)),
                ("out_bps", s.out_bps),
                ("out_pps", s.out_pps),
            ] {
                if v.is_some_and(|v| v > MAX_RATE) {
                    return Err(InvalidInput::new(
                        format!("samples[{i}].{name}"),
                        format!("must be at most {MAX_RATE}"),
                    )
                    .into());
                }
            }
        }
        let now = self.now();
        let mut receipt = TelemetryReceipt::default();
        let mut by_ip: std::collections::BTreeMap<IpAddr, Vec<Sample>> = Default::default();
        for s in &input.samples {
            if s.at.millis() < now - MAX_SAMPLE_AGE_MS || s.at.millis() > now + MAX_SAMPLE_AHEAD_MS
            {
                receipt.stale += 1;
                continue;
            }
            by_ip.entry(s.ip).or_default().push(Sample {
                at: s.at.millis(),
                in_bps: i64_of(s.in_bps),
                in_pps: i64_of(s.in_pps),
                out_bps: s.out_bps.map(i64_of),
                out_pps: s.out_pps.map(i64_of),
            });
        }
        let mut tx = self.store.begin_write().await?;
        tx.lock_chain().await?;
        let batch = by_ip
            .into_iter()
            .map(|(ip, samples)| (ip, samples, serde_json::json!({ "detector": who.actor() })))
            .collect();
        let isolation = self
            .judge_samples(&mut tx, who, "api", batch, &mut receipt)
            .await?;
        let mut ev = self.event(who, "telemetry.ingest", "telemetry".into());
        ev.details = serde_json::json!({
            "accepted": receipt.accepted,
            "unknown_ip": receipt.unknown_ip,
            "stale": receipt.stale,
            "blackholed": receipt.blackholed,
        });
        tx.append_audit(ev).await?;
        tx.commit().await?;
        self.job_wakeup.notify_waiters();
        self.isolation_rules(isolation, &mut receipt.rules).await?;
        Ok(receipt)
    }

    /// Stores each IP's samples in its minutes and judges the IP on its window: an attack above
    /// capacity starts a blackhole, and while one holds every batch is a traffic report.
    /// `evidence` of each IP is merged into the decision's evidence (who saw it, top talkers).
    async fn judge_samples(
        &self,
        tx: &mut WriteTx,
        who: &Principal,
        source: &str,
        batch: Vec<(IpAddr, Vec<Sample>, serde_json::Value)>,
        receipt: &mut TelemetryReceipt,
    ) -> AppResult<Vec<IsolationFinding>> {
        let now = self.now();
        let mut isolation = Vec::new();
        for (ip, samples, extra) in batch {
            let Some(ctx) = self.ip_context(tx, ip, &Scope::All).await? else {
                receipt.unknown_ip += samples.len();
                if receipt.unknown_ips.len() < 100 {
                    receipt.unknown_ips.push(ip.to_string());
                }
                continue;
            };
            receipt.accepted += samples.len();
            tx.add_traffic(&ctx.text, &ctx.resource.account_id, source, &samples)
                .await?;
            let window = self.window_rate(tx, &ctx.text, now).await?;
            let Some((avg_bps, peak_bps, peak_pps)) = window else {
                continue;
            };
            let (row, facts) = self.ip_facts(tx, &ctx).await?;
            let mut evidence = serde_json::json!({
                "window_seconds": self.ddos.window_seconds,
                "avg_bps": avg_bps,
                "peak_bps": peak_bps,
                "peak_pps": peak_pps,
                "capacity_bps": ctx.capacity,
            });
            if let (Some(e), serde_json::Value::Object(x)) = (evidence.as_object_mut(), extra) {
                e.extend(x);
            }
            let mut beyond_plan = None;
            let cmd = if facts.state == State::Active {
                Command::TrafficReport {
                    observed: Some(avg_bps),
                }
            } else if avg_bps > ctx.capacity {
                let observed = Observed {
                    at: Timestamp(now),
                    bps: avg_bps,
                    pps: peak_pps,
                    sources: top_sources(&evidence),
                };
                match self
                    .stress_verdict(ip, Direction::Inbound, &observed)
                    .await?
                {
                    PlanVerdict::NoPlan => {}
                    PlanVerdict::Inside { plan_id } => {
                        tracing::info!(%ip, plan_id, avg_bps, "traffic above capacity inside an approved stress test");
                        receipt.within_plan.push(ctx.text.clone());
                        continue;
                    }
                    v @ PlanVerdict::Exceeded { .. } => {
                        if let Some(e) = evidence.as_object_mut() {
                            e.insert("stress_plan".into(), serde_json::json!(v));
                            e.insert("stress_plan_words".into(), exceeded_words(&v).into());
                        }
                        beyond_plan = Some(v);
                    }
                }
                Command::AttackDetected { peak_bps, peak_pps }
            } else {
                continue;
            };
            if let Some(u) = self.ddos.isolation.harmed(ip, avg_bps) {
                isolation.push(IsolationFinding {
                    ip,
                    uplink: u.name.clone(),
                    threshold_bps: u.threshold_bps,
                    observed_bps: avg_bps,
                });
            }
            let (d, b) = self
                .blackhole_step(tx, who, &ctx, row, &facts, &cmd, evidence)
                .await?;
            if facts.state != State::Active
                && d.next.state == State::Active
                && let Some(b) = b
            {
                if let Some(v) = &beyond_plan {
                    self.plan_exceeded_in_history(tx, &b.case_id, &b.account_id, v)
                        .await?;
                }
                receipt.blackholed.push(b.id);
            }
        }
        Ok(isolation)
    }

    /// DDOS-2: one tick of this node's flow collector — each local IP's rates over the
    /// collector's window, as seen at `at`. Stored and judged as a detector's samples, with the
    /// top protocols and sources as evidence. `node` names the collecting node (several nodes'
    /// partial views of one IP add up); `window_secs` is the collector's averaging window.
    /// Then the rules beside the blackhole run: PEN-2 on the attacked IPs, HARM-1 on the
    /// outbound rates (see [`crate::ddos_rules`]).
    pub async fn ingest_flow_rates(
        &self,
        node: &str,
        at: Timestamp,
        window_secs: u32,
        rates: &[FlowRate],
    ) -> AppResult<TelemetryReceipt> {
        let mut receipt = TelemetryReceipt::default();
        if rates.is_empty() {
            return Ok(receipt);
        }
        let who = Principal::System;
        let batch = rates
            .iter()
            .map(|r| {
                let sample = Sample {
                    at: at.millis(),
                    in_bps: i64_of(r.in_bps),
                    in_pps: i64_of(r.in_pps),
                    out_bps: Some(i64_of(r.out_bps)),
                    out_pps: Some(i64_of(r.out_pps)),
                };
                let evidence = serde_json::json!({
                    "collector": node,
                    "top_protocols": r.top_protocols.iter()
                        .map(|(p, b)| serde_json::json!({ "protocol": p, "bytes": b }))
                        .collect::<Vec<_>>(),
                    "top_sources": r.top_sources.iter()
                        .map(|(ip, b)| serde_json::json!({ "ip": ip.to_string(), "bytes": b }))
                        .collect::<Vec<_>>(),
                });
                (r.ip, vec![sample], evidence)
            })
            .collect();
        let mut tx = self.store.begin_write().await?;
        tx.lock_chain().await?;
        let source = format!("flow:{node}");
        let isolation = self
            .judge_samples(&mut tx, &who, &source, batch, &mut receipt)
            .await?;
        tx.commit().await?;
        self.job_wakeup.notify_waiters();
        self.isolation_rules(isolation, &mut receipt.rules).await?;
        self.harm_rules(at, window_secs, rates, &mut receipt.rules)
            .await?;
        Ok(receipt)
    }

    /// The IP's rate over the window ending at `now`: (average bps, peak bps, peak pps), from
    /// the minutes overlapping it; `None` without samples in it (no data).
    async fn window_rate(
        &self,
        tx: &mut WriteTx,
        ip: &str,
        now: i64,
    ) -> AppResult<Option<(u64, u64, u64)>> {
        let since = now - self.ddos.window_ms() - 59_999;
        let minutes = tx
            .traffic_since(ip, since.div_euclid(60_000) * 60_000)
            .await?;
        let minutes: Vec<&TrafficMinute> = minutes
            .iter()
            .filter(|m| m.minute.millis() + 60_000 > now - self.ddos.window_ms())
            .filter(|m| m.minute.millis() <= now)
            .collect();
        let samples: i64 = minutes.iter().map(|m| m.samples).sum();
        if samples == 0 {
            return Ok(None);
        }
        let sum: i128 = minutes
            .iter()
            .map(|m| i128::from(m.in_bps_avg) * i128::from(m.samples))
            .sum();
        let avg = u64::try_from(sum / i128::from(samples)).unwrap_or(0);
        let peak_bps = minutes.iter().map(|m| m.in_bps_max).max().unwrap_or(0);
        let peak_pps = minutes.iter().map(|m| m.in_pps_max).max().unwrap_or(0);
        Ok(Some((
            avg,
            u64::try_from(peak_bps).unwrap_or(0),
            u64::try_from(peak_pps).unwrap_or(0),
        )))
    }

    /// DDOS-4: a blackhole's planned end. A stale timer (released, or moved later) does
    /// nothing. Without a sample within the window, the traffic is recorded as "no data" first.
    pub(crate) async fn blackhole_timer_fired(&self, id: &str) -> AppResult<()> {
        let mut tx = self.store.begin_write().await?;
        tx.lock_chain().await?;
        let Some(b) = tx.get_blackhole(id).await? else {
            return Ok(());
        };
        if b.state != State::Active {
            return Ok(());
        }
        let now = self.now();
        if b.planned_end.is_some_and(|e| e > now) {
            return Ok(());
        }
        let ip: IpAddr =
            b.ip.parse()
                .map_err(|_| AppError::Internal(format!("blackhole {id} holds a bad IP")))?;
        let Some(ctx) = self.ip_context(&mut tx, ip, &Scope::All).await? else {
            return Err(AppError::Internal(format!(
                "blackhole {id}: {ip} is no longer a public IP of any resource"
            )));
        };
        let (row, mut facts) = self.ip_facts(&mut tx, &ctx).await?;
        let mut row = row;
        let window = self.window_rate(&mut tx, &ctx.text, now).await?;
        let observed = window.map(|(avg, _, _)| avg);
        let (_, stored) = self
            .blackhole_step(
                &mut tx,
                &Principal::System,
                &ctx,
                row.take(),
                &facts,
                &Command::TrafficReport { observed },
                serde_json::json!({ "at": "planned_end" }),
            )
            .await?;
        if let Some(s) = &stored {
            facts = s.facts.clone();
            facts.account_releases = tx
                .account_releases(&ctx.resource.account_id, now - RELEASES_LOOKBACK_MS)
                .await?;
        }
        self.blackhole_step(
            &mut tx,
            &Principal::System,
            &ctx,
            stored,
            &facts,
            &Command::TimerFired,
            serde_json::json!({ "observed_bps": observed }),
        )
        .await?;
        tx.commit().await?;
        self.job_wakeup.notify_waiters();
        Ok(())
    }

    async fn protection_view(
        &self,
        ctx: &IpContext,
        active: Option<&BlackholeRow>,
    ) -> AppResult<ProtectionView> {
        Ok(ProtectionView {
            ip: ctx.text.clone(),
            resource_id: ctx.resource.id.clone(),
            protection: ctx.protection,
            capacity_bps: ctx.capacity,
            basic_bps: self
                .ddos
                .protection
                .basic_for(ctx.ip, Some(ctx.resource.region.as_str())),
            history: self.store.protection_history(&ctx.text).await?,
            active_blackhole: active.map(BlackholeView::from),
        })
    }

    /// DDOS-5: enable or change an IP's protection. A new capacity that covers an active
    /// blackhole's peak releases it at once; one that does not is kept, and the answer names
    /// the shortfall.
    pub async fn set_protection(
        &self,
        who: &Principal,
        ip: &str,
        input: ProtectionInput,
    ) -> AppResult<ProtectionResult> {
        who.require(
            &[Role::Admin, Role::Operator, Role::Tenant],
            "change IP protection",
        )?;
        let ip = parse_ip(ip)?;
        if let Protection::HighDefense { capacity_bps } = input.protection
            && (capacity_bps == 0 || capacity_bps > MAX_RATE)
        {
            return Err(InvalidInput::new(
                "protection.capacity_bps",
                format!("must be 1 to {MAX_RATE}"),
            )
            .into());
        }
        let mut tx = self.store.begin_write().await?;
        tx.lock_chain().await?;
        let ctx = self
            .ip_context(&mut tx, ip, &who.scope())
            .await?
            .ok_or(AppError::NotFound("ip"))?;
        let now = self.now();
        tx.set_ip_protection(
            &ctx.text,
            &ctx.resource.account_id,
            input.protection,
            &who.actor(),
            now,
        )
        .await?;
        let mut ev = self.event(who, "ip.protection", format!("ip:{}", ctx.text));
        ev.account_id = Some(ctx.resource.account_id.clone());
        ev.details = serde_json::json!({ "from": ctx.protection, "to": input.protection });
        tx.append_audit(ev).await?;
        let ctx = self
            .ip_context(&mut tx, ip, &Scope::All)
            .await?
            .ok_or(AppError::NotFound("ip"))?;
        let (row, facts) = self.ip_facts(&mut tx, &ctx).await?;
        let mut released = false;
        let mut shortfall = None;
        let mut message = None;
        let mut active = None;
        if facts.state == State::Active {
            let cmd = Command::UpgradeProtection {
                capacity_bps: ctx.capacity,
            };
            match blackhole::decide(&facts, &cmd, Timestamp(now), &self.ddos.blackhole) {
                Ok(_) => {
                    let (d, b) = self
                        .blackhole_step(
                            &mut tx,
                            who,
                            &ctx,
                            row,
                            &facts,
                            &cmd,
                            serde_json::json!({ "protection": input.protection }),
                        )
                        .await?;
                    released = d.next.state == State::Released;
                    message = Some(d.reason);
                    active = b.filter(|b| b.state == State::Active);
                }
                Err(BlackholeError::Refused(r @ blackhole::Refusal::UpgradeShort { .. })) => {
                    if let blackhole::Refusal::UpgradeShort { shortfall_bps, .. } = &r {
                        shortfall = Some(*shortfall_bps);
                    }
                    message = Some(r.to_string());
                    // The upgrade is kept: the blackhole's facts carry the new capacity (its
                    // end is judged against it).
                    if let Some(mut b) = row {
                        b.facts.protection = ctx.protection;
                        b.facts.capacity_bps = ctx.capacity;
                        b.updated_at = now;
                        tx.update_blackhole(&b).await?;
                        active = Some(b);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        tx.commit().await?;
        self.job_wakeup.notify_waiters();
        Ok(ProtectionResult {
            view: self.protection_view(&ctx, active.as_ref()).await?,
            released,
            shortfall_bps: shortfall,
            message,
        })
    }

    /// `POST /api/blackholes/{id}/release`: a tenant's self-service early release within the
    /// monthly quota (DDOS-5; a failed attempt does not use it), or staff's release with a
    /// reason.
    pub async fn release_blackhole(
        &self,
        who: &Principal,
        id: &str,
        input: ReleaseInput,
    ) -> AppResult<ReleaseResult> {
        who.require(
            &[Role::Admin, Role::Operator, Role::Tenant],
            "release blackholes",
        )?;
        let scope = who.scope();
        // The body says which release it is: without `reason` the tenant's self-service one
        // (its quota), with one staff's. Each is one role's, so the other role is refused as
        // a role that may not do it (403, as for any field a role may not set), never as
        // invalid input: the document cannot make `reason` required for one role only.
        let cmd = match (scope.account(), input.reason) {
            (Some(_), Some(_)) => {
                return Err(AppError::Forbidden(
                    "give a release `reason` (staff only: a tenant's release is the self-service one; leave `reason` out)",
                ));
            }
            (Some(_), None) => Command::SelfServiceEarlyRelease,
            (None, None) => {
                return Err(AppError::Forbidden(
                    "make a self-service release (a tenant's, within its quota): staff give a `reason`",
                ));
            }
            (None, Some(reason)) => {
                if warden_domain::text::is_blank(&reason) || reason.chars().count() > 2000 {
                    return Err(InvalidInput::new(
                        "reason",
                        "must be 1 to 2000 characters with a non-space one",
                    )
                    .into());
                }
                Command::OperatorRelease {
                    reason: warden_domain::text::trim(&reason).to_string(),
                }
            }
        };
        let mut tx = self.store.begin_write().await?;
        tx.lock_chain().await?;
        let b = tx
            .get_blackhole(id)
            .await?
            .filter(|b| scope.account().is_none_or(|a| a == b.account_id))
            .ok_or(AppError::NotFound("blackhole"))?;
        let ip: IpAddr =
            b.ip.parse()
                .map_err(|_| AppError::Internal(format!("blackhole {id} holds a bad IP")))?;
        let ctx = self
            .ip_context(&mut tx, ip, &Scope::All)
            .await?
            .ok_or(AppError::NotFound("blackhole"))?;
        let (latest, facts) = self.ip_facts(&mut tx, &ctx).await?;
        if latest.as_ref().map(|l| l.id.as_str()) != Some(id) || facts.state != State::Active {
            return Err(AppError::Conflict(format!(
                "blackhole {id} is not active; nothing to release"
            )));
        }
        let (d, stored) = self
            .blackhole_step(
                &mut tx,
                who,
                &ctx,
                latest,
                &facts,
                &cmd,
                serde_json::json!({ "route": cmd.name() }),
            )
            .await?;
        tx.commit().await?;
        self.job_wakeup.notify_waiters();
        let stored = stored.ok_or_else(|| AppError::Internal("blackhole not stored".into()))?;
        let quota = match scope.account() {
            Some(a) => Some(self.quota_of(a).await?),
            None => None,
        };
        Ok(ReleaseResult {
            released: d.next.state == State::Released,
            message: d.reason,
            blackhole: BlackholeView::from(&stored),
            quota,
        })
    }

    /// The account's self-service quota this provider-month (DDOS-5), read from the pool (no
    /// write transaction: the GETs of `ddos_read` use it).
    pub(crate) async fn quota_of(&self, account: &str) -> AppResult<Quota> {
        let history = self
            .store
            .read_account_releases(account, self.now() - RELEASES_LOOKBACK_MS)
            .await?;
        Ok(self_service_quota(
            &self.ddos.blackhole,
            &history,
            self.ddos_now(),
        ))
    }
}

pub(crate) fn parse_ip(ip: &str) -> AppResult<IpAddr> {
    ip.parse()
        .map_err(|_| InvalidInput::new("ip", "is not an IPv4 or IPv6 address").into())
}
