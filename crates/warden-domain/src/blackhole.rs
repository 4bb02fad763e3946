//! DDoS protection capacity and the blackhole (黑洞) of one public IP (SPEC §10: DDOS-1, DDOS-3,
//! DDOS-4, DDOS-5) as one pure state machine.
//!
//! An IP has a protection capacity ([`capacity_bps`], DDOS-1). When an attack exceeds it the IP is
//! blackholed for a time taken from a configurable ladder ([`BlackholePolicy`], DDOS-3): the more
//! blackholes the IP had earlier the same provider-day, and the larger the attack against the
//! capacity, the higher the step; every step lasts between 30 min and 24 h.
//!
//! [`decide`] is the only way a blackhole moves, like the case lifecycle's: it takes the
//! blackhole's facts, a command, `now` and the policy, and returns the next facts, the effects to
//! carry out (announce or withdraw the route, arm or cancel the end timer, notify, audit) and the
//! reason. Unlike the case lifecycle, the decision carries the whole next [`BlackholeFacts`]: the
//! ladder's bookkeeping (step, peak, the IP's earlier blackholes, the account's self-service
//! releases) is the domain's to keep right, not the caller's. The caller stores the next facts
//! and the effects in one transaction.
//!
//! The one rule that shapes the machine (DDOS-4): a blackholed IP's traffic is often invisible to
//! the network, so "no data" is *unknown*, never "the attack is over". At its planned end a
//! blackhole lifts only when the latest known traffic is at or below capacity; when the attack
//! goes on, or nothing is known, it is **extended by one step**: the ladder step goes up by one
//! (staying at the last step once there) and the new planned end is `now` plus that step's
//! duration — so no single step holds the IP past 24 h, and nothing but a known-quiet IP, a
//! covering protection upgrade, or an operator (with a reason) ever ends it early.
//!
//! Provider days and months use a fixed UTC offset, as the working-time calendar does
//! ([`crate::calendar`]): Warden ships no tz database and the default zone (Asia/Shanghai,
//! UTC+08:00) has no daylight saving time.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// The notices a blackhole asks for (DDOS-3: SMS, e-mail and inbox): the notice kinds
/// `blackhole.started`, `blackhole.extended` and `blackhole.released` of the one notice vocabulary.
pub use crate::lifecycle::NoticeKind;
use crate::resource::InvalidInput;
use crate::time::{Timestamp, civil_from_days, days_from_civil};
use crate::why::Why;

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

/// The shortest blackhole step (DDOS-3: "30 分钟至 24 小时不等"), ms.
pub const MIN_STEP_MS: i64 = 30 * MINUTE_MS;
/// The longest blackhole step (DDOS-3), ms.
pub const MAX_STEP_MS: i64 = 24 * 60 * MINUTE_MS;
/// Most ladder steps or size tiers accepted.
pub const MAX_STEPS: usize = 32;
/// Most earlier blackhole starts kept per IP (enough for any one provider-day's count).
pub const MAX_KEPT_STARTS: usize = 64;
/// Most self-service release attempts kept per account (the current and the previous month).
pub const MAX_KEPT_RELEASES: usize = 256;

/// One gigabit per second, in bps.
pub const GBPS: u64 = 1_000_000_000;

/// An IP's DDoS protection (DDOS-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Protection {
    /// 基础防护: the free basic protection, whose capacity is configured
    /// ([`ProtectionPolicy`]).
    Basic,
    /// 高防: a high-defense package the tenant enabled, with its capacity.
    HighDefense {
        /// The package's capacity, bps: 1 to 10^15 (1 Pbps).
        #[schemars(range(min = 1, max = 1_000_000_000_000_000_u64))]
        capacity_bps: u64,
    },
}

/// Basic protection's capacity, as configured (DDOS-1: 2 Gbps in the 2024 policy; the 2022 text
/// says 2–10 Gbps, so it is configurable per region and per IP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ProtectionPolicy {
    /// Basic protection's capacity, bps. Default 2 Gbps (`2000000000`).
    pub basic_bps: u64,
    /// Basic capacity per region code (`ap-guangzhou`…), overriding `basic_bps`. Default empty.
    pub regions: BTreeMap<String, u64>,
    /// Basic capacity per IP, overriding the region's and `basic_bps`. Default empty.
    pub ips: BTreeMap<IpAddr, u64>,
}

impl Default for ProtectionPolicy {
    fn default() -> Self {
        ProtectionPolicy {
            basic_bps: 2 * GBPS,
            regions: BTreeMap::new(),
            ips: BTreeMap::new(),
        }
    }
}

impl ProtectionPolicy {
    /// Checks the configuration; the error names the bad field.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        if self.basic_bps == 0 {
            return Err(InvalidInput::new("basic_bps", "must be more than 0"));
        }
        if let Some((r, _)) = self.regions.iter().find(|(_, bps)| **bps == 0) {
            return Err(InvalidInput::new(
                format!("regions.{r}"),
                "must be more than 0",
            ));
        }
        if let Some((ip, _)) = self.ips.iter().find(|(_, bps)| **bps == 0) {
            return Err(InvalidInput::new(
                format!("ips.{ip}"),
                "must be more than 0",
            ));
        }
        Ok(())
    }

    /// Basic protection's capacity for `ip` in `region`: the IP's own, else the region's, else
    /// the default.
    pub fn basic_for(&self, ip: IpAddr, region: Option<&str>) -> u64 {
        self.ips
            .get(&ip)
            .or_else(|| region.and_then(|r| self.regions.get(r)))
            .copied()
            .unwrap_or(self.basic_bps)
    }
}

/// The capacity in force for `ip` (DDOS-1): basic protection's for its region and IP, or the
/// high-defense package's — never less than basic, since a package adds to the free protection.
pub fn capacity_bps(
    policy: &ProtectionPolicy,
    ip: IpAddr,
    region: Option<&str>,
    protection: Protection,
) -> u64 {
    let basic = policy.basic_for(ip, region);
    match protection {
        Protection::Basic => basic,
        Protection::HighDefense { capacity_bps } => capacity_bps.max(basic),
    }
}

/// The blackhole ladder and the self-service quota (DDOS-3..5). Defaults are the policy's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct BlackholePolicy {
    /// The ladder: step *n*'s duration in minutes, each within 30..=1440 and none shorter than
    /// the one before (DDOS-3). A new blackhole starts at step *k* = the IP's blackholes earlier
    /// the same provider-day + the attack's size tier; each extension goes one step up; past the
    /// last step the last applies. Default `[120, 240, 480, 720, 1440]` (2 h for the first
    /// blackhole of the day).
    pub steps_minutes: Vec<u32>,
    /// Size tiers (DDOS-3, larger attacks longer): an attack whose peak is at least *m* times
    /// the capacity starts one step higher for every listed *m* it reaches. Strictly increasing,
    /// each at least 2. Default `[4, 10]`.
    pub size_multiples: Vec<u32>,
    /// The provider's time zone as a fixed offset from UTC in minutes, −720..=840: where the
    /// provider-day (repeat count) and provider-month (self-service quota) begin. Default `480`
    /// (UTC+08:00).
    pub utc_offset_minutes: i32,
    /// Successful self-service early releases per account per provider-month (DDOS-5); reset at
    /// 00:00 provider time on the 1st. At most 1000. Default 3.
    pub self_service_per_month: u32,
}

impl Default for BlackholePolicy {
    fn default() -> Self {
        BlackholePolicy {
            steps_minutes: vec![120, 240, 480, 720, 1440],
            size_multiples: vec![4, 10],
            utc_offset_minutes: 480,
            self_service_per_month: 3,
        }
    }
}

impl BlackholePolicy {
    /// Checks the configuration; the error names the bad field (`steps_minutes[2]`, …).
    pub fn validate(&self) -> Result<(), InvalidInput> {
        if self.steps_minutes.is_empty() {
            return Err(InvalidInput::new(
                "steps_minutes",
                "needs at least one step",
            ));
        }
        if self.steps_minutes.len() > MAX_STEPS {
            return Err(InvalidInput::new(
                "steps_minutes",
                format!("at most {MAX_STEPS} steps"),
            ));
        }
        let mut before = 0u32;
        for (i, &m) in self.steps_minutes.iter().enumerate() {
            if !(30..=1440).contains(&m) {
                return Err(InvalidInput::new(
                    format!("steps_minutes[{i}]"),
                    format!("{m} is outside 30..=1440 minutes (DDOS-3: 30 min to 24 h)"),
                ));
            }
            if m < before {
                return Err(InvalidInput::new(
                    format!("steps_minutes[{i}]"),
                    format!(
                        "{m} is shorter than the step before ({before}); repeats never get shorter"
                    ),
                ));
            }
            before = m;
        }
        if self.size_multiples.len() > MAX_STEPS {
            return Err(InvalidInput::new(
                "size_multiples",
                format!("at most {MAX_STEPS} tiers"),
            ));
        }
        let mut before = 1u32;
        for (i, &m) in self.size_multiples.iter().enumerate() {
            if m <= before {
                return Err(InvalidInput::new(
                    format!("size_multiples[{i}]"),
                    format!("{m} must be at least 2 and more than the tier before"),
                ));
            }
            before = m;
        }
        if !(-720..=840).contains(&self.utc_offset_minutes) {
            return Err(InvalidInput::new(
                "utc_offset_minutes",
                "must be between -720 (UTC-12:00) and 840 (UTC+14:00)",
            ));
        }
        if self.self_service_per_month > 1000 {
            return Err(InvalidInput::new(
                "self_service_per_month",
                "must be at most 1000",
            ));
        }
        Ok(())
    }

    fn offset_ms(&self) -> i64 {
        i64::from(self.utc_offset_minutes.clamp(-720, 840)) * MINUTE_MS
    }

    /// The provider-day of `t`, as days since 1970-01-01.
    pub fn provider_day(&self, t: Timestamp) -> i64 {
        t.0.saturating_add(self.offset_ms()).div_euclid(DAY_MS)
    }

    /// The start of the provider-month holding `t` and the start of the next one (00:00
    /// provider time on the 1st).
    pub fn provider_month(&self, t: Timestamp) -> (Timestamp, Timestamp) {
        let (y, m, _) = civil_from_days(self.provider_day(t));
        let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        let at = |y: i64, m: i64| {
            Timestamp(
                days_from_civil(y, m, 1)
                    .saturating_mul(DAY_MS)
                    .saturating_sub(self.offset_ms()),
            )
        };
        (at(y, m), at(ny, nm))
    }

    /// Step `index`'s duration, ms: past the last step the last; always within
    /// [[`MIN_STEP_MS`], [`MAX_STEP_MS`]] even for a policy that was never validated (DDOS-3).
    pub fn step_ms(&self, index: u32) -> i64 {
        let minutes = usize::try_from(index)
            .ok()
            .and_then(|i| self.steps_minutes.get(i))
            .or(self.steps_minutes.last())
            .copied()
            .unwrap_or(120);
        (i64::from(minutes) * MINUTE_MS).clamp(MIN_STEP_MS, MAX_STEP_MS)
    }

    /// The size tier of an attack (DDOS-3): how many `size_multiples` its peak reaches.
    pub fn size_tier(&self, peak_bps: u64, capacity_bps: u64) -> u32 {
        let n = self
            .size_multiples
            .iter()
            .filter(|&&m| u128::from(peak_bps) >= u128::from(m) * u128::from(capacity_bps))
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    fn last_step(&self) -> u32 {
        u32::try_from(self.steps_minutes.len().saturating_sub(1)).unwrap_or(0)
    }
}

/// Where a new blackhole starts on the ladder (DDOS-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct LadderStep {
    /// The IP's blackholes that started earlier the same provider-day.
    pub earlier_today: u32,
    /// The attack's size tier.
    pub size_tier: u32,
    /// The ladder step (`earlier_today + size_tier`, at most the last step).
    pub step: u32,
    /// Its duration, ms, within [30 min, 24 h].
    pub duration_ms: i64,
}

/// The ladder step of a blackhole starting at `now` (DDOS-3): `earlier_starts` are the IP's
/// earlier blackholes' start times (any order; those of other provider-days and of the future
/// are ignored).
pub fn new_blackhole_step(
    policy: &BlackholePolicy,
    earlier_starts: &[Timestamp],
    now: Timestamp,
    peak_bps: u64,
    capacity_bps: u64,
) -> LadderStep {
    let today = policy.provider_day(now);
    let earlier_today = u32::try_from(
        earlier_starts
            .iter()
            .filter(|&&t| t <= now && policy.provider_day(t) == today)
            .count(),
    )
    .unwrap_or(u32::MAX);
    let size_tier = policy.size_tier(peak_bps, capacity_bps);
    let step = earlier_today
        .saturating_add(size_tier)
        .min(policy.last_step());
    LadderStep {
        earlier_today,
        size_tier,
        step,
        duration_ms: policy.step_ms(step),
    }
}

/// One self-service early release an account asked for (DDOS-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SelfServiceRelease {
    /// When.
    pub at: Timestamp,
    /// Whether the blackhole was released; a failed attempt does not use the quota.
    pub succeeded: bool,
}

/// An account's self-service quota this provider-month (DDOS-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Quota {
    /// Releases allowed per provider-month.
    pub limit: u32,
    /// Successful releases this provider-month.
    pub used: u32,
    /// Releases left (`limit − used`, never negative).
    pub remaining: u32,
    /// When the quota resets: 00:00 provider time on the next month's 1st.
    pub resets_at: Timestamp,
}

/// The account's self-service quota at `now` (DDOS-5): successful releases in the provider-month
/// holding `now` count; failed attempts and other months' releases do not.
pub fn self_service_quota(
    policy: &BlackholePolicy,
    history: &[SelfServiceRelease],
    now: Timestamp,
) -> Quota {
    let (start, next) = policy.provider_month(now);
    let used = history
        .iter()
        .filter(|r| r.succeeded && r.at >= start && r.at < next && r.at <= now)
        .count();
    let used = u32::try_from(used).unwrap_or(u32::MAX);
    let limit = policy.self_service_per_month;
    Quota {
        limit,
        used,
        remaining: limit.saturating_sub(used),
        resets_at: next,
    }
}

crate::codes! {
    /// Where an IP's blackhole stands (DDOS-3/4).
    pub enum State: "blackhole state" {
        /// Never blackholed.
        None = "none",
        /// 黑洞中: the route is announced; the IP's public traffic is dropped.
        Active = "active",
        /// The last blackhole was released; a new attack starts a new one.
        Released = "released",
    }
}

crate::codes! {
    /// Why a blackhole ended.
    pub enum ReleaseKind: "blackhole release" {
        /// DDOS-4: at its planned end, the attack was over.
        Expired = "expired",
        /// DDOS-5: a protection upgrade covers the attack's peak.
        Upgrade = "upgrade",
        /// DDOS-5: the tenant's self-service early release, within the quota.
        SelfService = "self_service",
        /// An operator released it, with a reason.
        Operator = "operator",
    }
}

/// The latest that is known about an IP's inbound traffic (DDOS-2/4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Traffic {
    /// Nothing was ever reported.
    Never,
    /// The latest report had a rate.
    Known {
        /// Inbound bps.
        bps: u64,
        /// When it was reported.
        at: Timestamp,
    },
    /// The latest report was "no data": unknown, not zero (DDOS-4).
    NoData {
        /// When it was reported.
        at: Timestamp,
    },
}

/// What the domain knows about one public IP's blackhole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BlackholeFacts {
    /// The IP.
    pub ip: IpAddr,
    /// The IP's protection now.
    pub protection: Protection,
    /// The capacity in force now ([`capacity_bps`]).
    pub capacity_bps: u64,
    /// Current state.
    pub state: State,
    /// When the current (or last) blackhole started.
    pub started_at: Option<Timestamp>,
    /// When its current step started (the start, or the latest extension).
    pub step_started_at: Option<Timestamp>,
    /// Its planned end; the end timer is armed for it while active.
    pub planned_end: Option<Timestamp>,
    /// Its ladder step.
    pub step: u32,
    /// How many times it was extended.
    pub extensions: u32,
    /// The attack's peak so far, bps (DDOS-5: an upgrade must cover it).
    pub peak_bps: u64,
    /// The attack's peak so far, pps.
    pub peak_pps: u64,
    /// The latest traffic report.
    pub traffic: Traffic,
    /// Why the last blackhole ended, once released.
    pub released_by: Option<ReleaseKind>,
    /// Start times of the IP's recent blackholes (the repeat count, DDOS-3), at most
    /// [`MAX_KEPT_STARTS`], oldest first.
    pub recent_starts: Vec<Timestamp>,
    /// The account's self-service release attempts (DDOS-5), at most [`MAX_KEPT_RELEASES`],
    /// oldest first. The account's, not the IP's: the caller loads them for the account.
    pub account_releases: Vec<SelfServiceRelease>,
}

impl BlackholeFacts {
    /// An IP that was never blackholed.
    pub fn new(ip: IpAddr, protection: Protection, capacity_bps: u64) -> BlackholeFacts {
        BlackholeFacts {
            ip,
            protection,
            capacity_bps,
            state: State::None,
            started_at: None,
            step_started_at: None,
            planned_end: None,
            step: 0,
            extensions: 0,
            peak_bps: 0,
            peak_pps: 0,
            traffic: Traffic::Never,
            released_by: None,
            recent_starts: Vec::new(),
            account_releases: Vec::new(),
        }
    }

    /// Whether the latest known traffic shows the attack over: a rate at or below capacity. "No
    /// data" and no report at all are unknown, never over (DDOS-4).
    pub fn attack_over(&self) -> bool {
        match self.traffic {
            Traffic::Known { bps, .. } => bps <= self.capacity_bps,
            Traffic::Never | Traffic::NoData { .. } => false,
        }
    }
}

/// Something that happened to an IP, or that someone asks of its blackhole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A detector saw an attack (DDOS-2/3): above capacity it blackholes the IP.
    AttackDetected {
        /// Peak inbound bps.
        peak_bps: u64,
        /// Peak inbound pps.
        peak_pps: u64,
    },
    /// The end timer fired (DDOS-4).
    TimerFired,
    /// A traffic reading for the IP: `Some(bps)`, or `None` for "no data" (DDOS-4: unknown).
    TrafficReport {
        /// The rate, or no data.
        observed: Option<u64>,
    },
    /// The tenant enabled or upgraded high-defense protection (DDOS-5); `capacity_bps` is the
    /// capacity now in force ([`capacity_bps`]).
    UpgradeProtection {
        /// The new capacity, bps.
        capacity_bps: u64,
    },
    /// The tenant asks for a self-service early release (DDOS-5).
    SelfServiceEarlyRelease,
    /// An operator releases the blackhole, with a mandatory reason.
    OperatorRelease {
        /// Why.
        reason: String,
    },
}

impl Command {
    /// Stable name, for errors and audit.
    pub fn name(&self) -> &'static str {
        match self {
            Command::AttackDetected { .. } => "attack_detected",
            Command::TimerFired => "timer_fired",
            Command::TrafficReport { .. } => "traffic_report",
            Command::UpgradeProtection { .. } => "upgrade_protection",
            Command::SelfServiceEarlyRelease => "self_service_early_release",
            Command::OperatorRelease { .. } => "operator_release",
        }
    }
}

crate::codes! {
    /// What the audit log records of a decision (every state change is an audit event).
    pub enum AuditEvent: "blackhole audit event" {
        /// A blackhole started.
        Started = "blackhole.started",
        /// A blackhole was extended.
        Extended = "blackhole.extended",
        /// A blackhole was released.
        Released = "blackhole.released",
        /// A self-service early release failed (the quota is not used).
        SelfReleaseFailed = "blackhole.self_release_failed",
        /// The attack's peak went up while blackholed.
        PeakRaised = "blackhole.peak_raised",
    }
}

/// Something the caller must carry out after storing the decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Effect {
    /// Announce the blackhole route (DDOS-7: RFC 7999 BLACKHOLE, /32 or /128).
    Announce {
        /// The IP.
        ip: IpAddr,
        /// 32 for IPv4, 128 for IPv6.
        prefix_len: u8,
    },
    /// Withdraw the blackhole route.
    Withdraw {
        /// The IP.
        ip: IpAddr,
        /// 32 for IPv4, 128 for IPv6.
        prefix_len: u8,
    },
    /// Arm the end timer; `at` is the planned end.
    ArmTimer {
        /// When it fires.
        at: Timestamp,
    },
    /// Cancel the end timer.
    CancelTimer,
    /// Tell the tenant (SMS, e-mail and inbox, DDOS-3).
    Notify {
        /// Which notice.
        kind: NoticeKind,
    },
    /// Record an audit event.
    Audit {
        /// What happened.
        event: AuditEvent,
    },
}

/// The outcome of a command: the next facts, the effects, and the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Decision {
    /// The next facts, to store.
    pub next: BlackholeFacts,
    /// What to carry out, in order.
    pub effects: Vec<Effect>,
    /// Why, citing the rule (English, for the API and the audit log).
    pub reason: String,
    /// The same reason in codes (UI-2).
    pub why: Why,
}

/// Why the tenant's early release is refused (DDOS-5). The message names what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The upgraded capacity is still below the attack's peak.
    #[error(
        "the new capacity of {capacity_bps} bps is {shortfall_bps} bps short of the attack's peak of {peak_bps} bps (DDOS-5): upgrade to at least {peak_bps} bps to release the blackhole at once"
    )]
    UpgradeShort {
        /// The new capacity.
        capacity_bps: u64,
        /// The attack's peak.
        peak_bps: u64,
        /// `peak − capacity`.
        shortfall_bps: u64,
    },
    /// The month's self-service releases are used up.
    #[error(
        "the {limit} self-service early releases of this month are used up (DDOS-5); the quota resets at {}: wait for the planned end, or upgrade protection",
        .resets_at.to_rfc3339()
    )]
    QuotaUsedUp {
        /// Releases per month.
        limit: u32,
        /// When the quota resets.
        resets_at: Timestamp,
    },
}

impl Refusal {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::UpgradeShort { .. } => "upgrade_short_of_peak",
            Refusal::QuotaUsedUp { .. } => "self_release_quota_used",
        }
    }
}

/// A command the blackhole does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlackholeError {
    /// The command does not apply in this state (e.g. a stale timer, releasing what is not
    /// blackholed).
    #[error("a blackhole in state {from} cannot take {command}")]
    InvalidTransition {
        /// Current state.
        from: State,
        /// The command's name.
        command: &'static str,
    },
    /// The early release is refused (DDOS-5).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// A required field is missing.
    #[error("{field}: {reason}")]
    Missing {
        /// The field.
        field: &'static str,
        /// What is required.
        reason: &'static str,
    },
    /// The end timer fired before the planned end (timers never fire early).
    #[error("the planned end {} has not come yet", .planned_end.to_rfc3339())]
    TimerNotDue {
        /// The planned end.
        planned_end: Timestamp,
    },
    /// The policy is invalid.
    #[error("blackhole policy: {0}")]
    Policy(InvalidInput),
}

impl BlackholeError {
    /// The stable code (a refusal's own code for [`BlackholeError::Refused`]).
    pub fn code(&self) -> &'static str {
        match self {
            BlackholeError::InvalidTransition { .. } => "invalid_transition",
            BlackholeError::Refused(r) => r.code(),
            BlackholeError::Missing { .. } => "missing_field",
            BlackholeError::TimerNotDue { .. } => "timer_not_due",
            BlackholeError::Policy(_) => "invalid_policy",
        }
    }
}

/// The route's prefix length for `ip`: a single address.
pub fn host_prefix_len(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// Decides what `cmd` does to the blackhole of `facts.ip` at `now` (DDOS-3..5).
pub fn decide(
    facts: &BlackholeFacts,
    cmd: &Command,
    now: Timestamp,
    policy: &BlackholePolicy,
) -> Result<Decision, BlackholeError> {
    use State as S;
    policy.validate().map_err(BlackholeError::Policy)?;
    let invalid = || BlackholeError::InvalidTransition {
        from: facts.state,
        command: cmd.name(),
    };
    let mut next = facts.clone();
    match (facts.state, cmd) {
        (S::None | S::Released, Command::AttackDetected { peak_bps, peak_pps }) => {
            next.traffic = Traffic::Known {
                bps: *peak_bps,
                at: now,
            };
            if *peak_bps <= facts.capacity_bps {
                return Ok(Decision {
                    next,
                    effects: vec![],
                    reason: format!(
                        "DDOS-3: the attack's {peak_bps} bps is within the capacity of {} bps; no blackhole",
                        facts.capacity_bps
                    ),
                    why: Why::new("within_capacity")
                        .with("peak_bps", peak_bps.to_string())
                        .with("capacity_bps", facts.capacity_bps.to_string()),
                });
            }
            let ladder = new_blackhole_step(
                policy,
                &facts.recent_starts,
                now,
                *peak_bps,
                facts.capacity_bps,
            );
            let end = now.plus_millis(ladder.duration_ms);
            next.state = S::Active;
            next.started_at = Some(now);
            next.step_started_at = Some(now);
            next.planned_end = Some(end);
            next.step = ladder.step;
            next.extensions = 0;
            next.peak_bps = *peak_bps;
            next.peak_pps = *peak_pps;
            next.released_by = None;
            // Only today's starts ever count; yesterday's are kept for a day of slack.
            let horizon = now.plus_millis(-2 * DAY_MS);
            next.recent_starts.retain(|t| *t >= horizon);
            next.recent_starts.push(now);
            trim_front(&mut next.recent_starts, MAX_KEPT_STARTS);
            let ip = facts.ip;
            Ok(Decision {
                next,
                effects: vec![
                    Effect::Announce {
                        ip,
                        prefix_len: host_prefix_len(ip),
                    },
                    Effect::ArmTimer { at: end },
                    Effect::Notify {
                        kind: NoticeKind::BlackholeStarted,
                    },
                    Effect::Audit {
                        event: AuditEvent::Started,
                    },
                ],
                reason: format!(
                    "DDOS-3: {peak_bps} bps ({peak_pps} pps) exceeds the capacity of {} bps; blackholed for {} min until {} (ladder step {}: {} earlier today, size tier {})",
                    facts.capacity_bps,
                    ladder.duration_ms / MINUTE_MS,
                    end.to_rfc3339(),
                    ladder.step,
                    ladder.earlier_today,
                    ladder.size_tier
                ),
                why: Why::new("blackhole_started")
                    .with("peak_bps", peak_bps.to_string())
                    .with("capacity_bps", facts.capacity_bps.to_string())
                    .with("minutes", (ladder.duration_ms / MINUTE_MS).to_string())
                    .with("at", end.to_rfc3339())
                    .with("earlier_today", ladder.earlier_today.to_string())
                    .with("size_tier", ladder.size_tier.to_string()),
            })
        }
        (S::Active, Command::AttackDetected { peak_bps, peak_pps }) => {
            next.traffic = Traffic::Known {
                bps: *peak_bps,
                at: now,
            };
            next.peak_pps = facts.peak_pps.max(*peak_pps);
            let raised = *peak_bps > facts.peak_bps;
            next.peak_bps = facts.peak_bps.max(*peak_bps);
            Ok(Decision {
                next,
                effects: if raised {
                    vec![Effect::Audit {
                        event: AuditEvent::PeakRaised,
                    }]
                } else {
                    vec![]
                },
                reason: format!(
                    "DDOS-4: still attacked at {peak_bps} bps while blackholed; the planned end stays, and is extended then if the attack goes on"
                ),
                why: Why::new("attack_ongoing").with("peak_bps", peak_bps.to_string()),
            })
        }

        (S::Active, Command::TimerFired) => {
            let planned_end = facts.planned_end.unwrap_or(now);
            if now < planned_end {
                return Err(BlackholeError::TimerNotDue { planned_end });
            }
            if facts.attack_over() {
                next.released_by = Some(ReleaseKind::Expired);
                return Ok(release(
                    next,
                    false,
                    "DDOS-4: at the planned end the latest traffic is within capacity; the blackhole lifts".into(),
                    Why::new("blackhole_expired"),
                ));
            }
            let step = facts.step.saturating_add(1).min(policy.last_step());
            let ms = policy.step_ms(step);
            let end = now.plus_millis(ms);
            next.step = step;
            next.step_started_at = Some(now);
            next.planned_end = Some(end);
            next.extensions = facts.extensions.saturating_add(1);
            let (why, cause) = match facts.traffic {
                Traffic::Known { bps, .. } => (
                    Why::new("blackhole_extended_attack")
                        .with("bps", bps.to_string())
                        .with("capacity_bps", facts.capacity_bps.to_string()),
                    format!(
                        "the attack goes on ({bps} bps, above the capacity of {} bps)",
                        facts.capacity_bps
                    ),
                ),
                Traffic::Never | Traffic::NoData { .. } => (
                    Why::new("blackhole_extended_no_data"),
                    "the traffic is unknown (no data while blackholed is not \"attack over\")"
                        .to_string(),
                ),
            };
            Ok(Decision {
                next,
                effects: vec![
                    Effect::ArmTimer { at: end },
                    Effect::Notify {
                        kind: NoticeKind::BlackholeExtended,
                    },
                    Effect::Audit {
                        event: AuditEvent::Extended,
                    },
                ],
                reason: format!(
                    "DDOS-4: at the planned end {cause}; extended by ladder step {step} ({} min) until {}",
                    ms / MINUTE_MS,
                    end.to_rfc3339()
                ),
                why: why
                    .with("minutes", (ms / MINUTE_MS).to_string())
                    .with("at", end.to_rfc3339()),
            })
        }
        // A stale timer: the blackhole was released and its timer cancelled.
        (S::None | S::Released, Command::TimerFired) => Err(invalid()),

        (state, Command::TrafficReport { observed }) => {
            next.traffic = match observed {
                Some(bps) => Traffic::Known { bps: *bps, at: now },
                None => Traffic::NoData { at: now },
            };
            let mut effects = vec![];
            if state == S::Active
                && let Some(bps) = observed
                && *bps > facts.peak_bps
            {
                next.peak_bps = *bps;
                effects.push(Effect::Audit {
                    event: AuditEvent::PeakRaised,
                });
            }
            let (reason, why) = match observed {
                Some(bps) => (
                    format!("DDOS-2: traffic {bps} bps recorded"),
                    Why::new("traffic_recorded").with("bps", bps.to_string()),
                ),
                None => (
                    "DDOS-4: no data recorded; unknown, not \"attack over\"".to_string(),
                    Why::new("traffic_no_data"),
                ),
            };
            Ok(Decision {
                next,
                effects,
                reason,
                why,
            })
        }

        (S::Active, Command::UpgradeProtection { capacity_bps }) => {
            if *capacity_bps < facts.peak_bps {
                return Err(Refusal::UpgradeShort {
                    capacity_bps: *capacity_bps,
                    peak_bps: facts.peak_bps,
                    shortfall_bps: facts.peak_bps - *capacity_bps,
                }
                .into());
            }
            next.capacity_bps = *capacity_bps;
            next.protection = Protection::HighDefense {
                capacity_bps: *capacity_bps,
            };
            next.released_by = Some(ReleaseKind::Upgrade);
            Ok(release(
                next,
                true,
                format!(
                    "DDOS-5: the new capacity of {capacity_bps} bps covers the attack's peak of {} bps; released at once",
                    facts.peak_bps
                ),
                Why::new("released_by_upgrade")
                    .with("capacity_bps", capacity_bps.to_string())
                    .with("peak_bps", facts.peak_bps.to_string()),
            ))
        }
        (S::None | S::Released, Command::UpgradeProtection { .. }) => Err(invalid()),

        (S::Active, Command::SelfServiceEarlyRelease) => {
            let quota = self_service_quota(policy, &facts.account_releases, now);
            if quota.remaining == 0 {
                return Err(Refusal::QuotaUsedUp {
                    limit: quota.limit,
                    resets_at: quota.resets_at,
                }
                .into());
            }
            let succeeded = facts.attack_over();
            next.account_releases
                .push(SelfServiceRelease { at: now, succeeded });
            trim_front(&mut next.account_releases, MAX_KEPT_RELEASES);
            if succeeded {
                next.released_by = Some(ReleaseKind::SelfService);
                let left = quota.remaining - 1;
                Ok(release(
                    next,
                    true,
                    format!(
                        "DDOS-5: self-service early release, the latest traffic being within capacity; {left} of {} left this month",
                        quota.limit
                    ),
                    Why::new("released_self_service")
                        .with("remaining", left.to_string())
                        .with("at", quota.resets_at.to_rfc3339()),
                ))
            } else {
                Ok(Decision {
                    next,
                    effects: vec![Effect::Audit {
                        event: AuditEvent::SelfReleaseFailed,
                    }],
                    reason: format!(
                        "DDOS-5: self-service early release failed: the attack is still going or its traffic is unknown; the blackhole stays until {}, and the quota is not used ({} of {} left)",
                        facts.planned_end.unwrap_or(now).to_rfc3339(),
                        quota.remaining,
                        quota.limit
                    ),
                    why: Why::new("self_release_failed")
                        .with("remaining", quota.remaining.to_string()),
                })
            }
        }
        (S::None | S::Released, Command::SelfServiceEarlyRelease) => Err(invalid()),

        (S::Active, Command::OperatorRelease { reason }) => {
            let reason = reason.trim();
            if reason.is_empty() {
                return Err(BlackholeError::Missing {
                    field: "reason",
                    reason: "an operator release needs a reason",
                });
            }
            next.released_by = Some(ReleaseKind::Operator);
            Ok(release(
                next,
                true,
                format!("released by an operator: {reason}"),
                Why::new("released_by_operator").with("note", reason),
            ))
        }
        (S::None | S::Released, Command::OperatorRelease { .. }) => Err(invalid()),
    }
}

/// A release: withdraw the route, cancel the timer unless it is the one that fired, tell the
/// tenant, audit.
fn release(mut next: BlackholeFacts, cancel_timer: bool, reason: String, why: Why) -> Decision {
    next.state = State::Released;
    next.planned_end = None;
    let ip = next.ip;
    let mut effects = vec![Effect::Withdraw {
        ip,
        prefix_len: host_prefix_len(ip),
    }];
    if cancel_timer {
        effects.push(Effect::CancelTimer);
    }
    effects.push(Effect::Notify {
        kind: NoticeKind::BlackholeReleased,
    });
    effects.push(Effect::Audit {
        event: AuditEvent::Released,
    });
    Decision {
        next,
        effects,
        reason,
        why,
    }
}

/// Keeps the newest `max` entries.
fn trim_front<T>(v: &mut Vec<T>, max: usize) {
    let extra = v.len().saturating_sub(max);
    if extra > 0 {
        v.drain(..extra);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_is_valid_and_deserialises_from_empty() {
        let p: BlackholePolicy = serde_json::from_str("{}").unwrap();
        assert_eq!(p, BlackholePolicy::default());
        p.validate().unwrap();
        assert!(serde_json::from_str::<BlackholePolicy>(r#"{"step":[1]}"#).is_err());
        let p: ProtectionPolicy =
            serde_json::from_str(r#"{"ips":{"203.0.113.5":5000000000}}"#).unwrap();
        p.validate().unwrap();
    }
}
