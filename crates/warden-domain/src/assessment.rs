//! Customers' own security assessments (SPEC §11, ASMT-1..5): what a tenant declares, the scope
//! check against its account's resources and the provider's infrastructure, the stress-test plan
//! and its approval, the stop, the phishing-test disclosure, and whether traffic stays inside an
//! approved plan.
//!
//! Pure, like the case lifecycle: [`decide`] takes the facts of one assessment and a command and
//! returns the next facts and the effects (timers, notices, audit) for the caller to carry out.
//!
//! States:
//!
//! ```text
//! declared ──────────────(window ends)──► ended
//!    │  (a phishing test, at the end) ──► awaiting_disclosure ──(confirmed)──► disclosed
//! pending_approval ─approve─► approved ─(window ends)─► ended / awaiting_disclosure
//!        └─reject─► rejected
//! declared / pending_approval / approved ──stop──► stopped
//! ```
//!
//! A vulnerability scan, penetration test or phishing test is `declared` at once once its scope
//! holds (ASMT-1). A stress test — and a destructive test, which may take the targets down — waits
//! for an operator's approval of its plan (ASMT-2).

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::resource::{InvalidInput, Target};
use crate::time::Timestamp;
use crate::why::Why;

/// The longest window an assessment may declare: 30 days.
pub const MAX_WINDOW_MS: i64 = 30 * 86_400_000;
/// How far in the past a window may start (clock skew, a form filled slowly): 10 minutes.
pub const MAX_START_PAST_MS: i64 = 10 * 60_000;
/// How far ahead a window may start: 180 days.
pub const MAX_START_AHEAD_MS: i64 = 180 * 86_400_000;
/// Most targets (after expanding CIDRs) and most sources of one assessment.
pub const MAX_TARGETS: usize = 256;
/// Most declared source networks.
pub const MAX_SOURCES: usize = 64;
/// Largest CIDR target, in addresses (a /24 or a /120): every address must be the account's.
pub const MAX_CIDR_ADDRESSES: u128 = 256;

crate::codes! {
    /// What a tenant tests (ASMT-1).
    pub enum AssessmentKind: "assessment kind" {
        /// 漏洞扫描.
        VulnerabilityScan = "vulnerability_scan",
        /// 渗透测试.
        PenetrationTest = "penetration_test",
        /// 压力测试 (ASMT-2: needs an approved plan).
        StressTest = "stress_test",
        /// 钓鱼测试 (ASMT-5: disclosure afterwards).
        PhishingTest = "phishing_test",
        /// A test that may destroy code or data (ASMT-2: needs an approved plan and the
        /// tenant's attestation of its own backups).
        DestructiveTest = "destructive_test",
    }
}

impl AssessmentKind {
    /// Whether an operator must approve a plan first (ASMT-2).
    pub fn needs_approval(self) -> bool {
        matches!(
            self,
            AssessmentKind::StressTest | AssessmentKind::DestructiveTest
        )
    }
}

crate::codes! {
    /// Where an assessment stands.
    pub enum AssessmentState: "assessment state" {
        /// In force for its window (no approval needed).
        Declared = "declared",
        /// Its plan waits for an operator (ASMT-2).
        PendingApproval = "pending_approval",
        /// Its plan was approved: in force for its window.
        Approved = "approved",
        /// Its plan was refused.
        Rejected = "rejected",
        /// Stopped early by the tenant or an operator.
        Stopped = "stopped",
        /// Its window is over.
        Ended = "ended",
        /// A phishing test whose window is over: the tenant must confirm its disclosure
        /// (ASMT-5).
        AwaitingDisclosure = "awaiting_disclosure",
        /// A phishing test whose disclosure the tenant confirmed.
        Disclosed = "disclosed",
    }
}

impl AssessmentState {
    /// Whether traffic of the assessment may count as the plan's during its window.
    pub fn in_force(self) -> bool {
        matches!(self, AssessmentState::Declared | AssessmentState::Approved)
    }

    /// Whether nothing more happens to it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            AssessmentState::Rejected
                | AssessmentState::Stopped
                | AssessmentState::Ended
                | AssessmentState::Disclosed
        )
    }
}

/// One target as declared: an IP, a CIDR of at most [`MAX_CIDR_ADDRESSES`], a domain or a URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum AssessmentTarget {
    /// One address.
    Ip(IpAddr),
    /// A network; every address in it must be the account's.
    Cidr(IpNet),
    /// A domain.
    Domain(String),
    /// An http(s) URL.
    Url(String),
}

impl AssessmentTarget {
    /// Parses a declared target; the error names what is wrong (the caller names the field).
    pub fn parse(text: &str) -> Result<AssessmentTarget, String> {
        let t = text.trim();
        if t.contains('/') && !t.contains("://") {
            let net: IpNet = t
                .parse()
                .map_err(|_| format!("{t:?} is not a CIDR (e.g. 203.0.113.0/28)"))?;
            let bits = match net {
                IpNet::V4(n) => 32 - u32::from(n.prefix_len()),
                IpNet::V6(n) => 128 - u32::from(n.prefix_len()),
            };
            if bits >= 128 || (1u128 << bits) > MAX_CIDR_ADDRESSES {
                return Err(format!(
                    "{t} holds more than {MAX_CIDR_ADDRESSES} addresses; name at most a /24 (IPv4) or /120 (IPv6)"
                ));
            }
            return Ok(if bits == 0 {
                AssessmentTarget::Ip(net.addr())
            } else {
                AssessmentTarget::Cidr(net.trunc())
            });
        }
        match Target::parse(t).map_err(|e| e.reason)? {
            Target::Ip(ip) => Ok(AssessmentTarget::Ip(ip)),
            Target::Domain(d) => Ok(AssessmentTarget::Domain(d)),
            u @ Target::Url(_) => Ok(AssessmentTarget::Url(u.canonical())),
            _ => Err(format!("{t:?} is not an IP, CIDR, domain or http(s) URL")),
        }
    }

    /// The target as text (canonical).
    pub fn text(&self) -> String {
        match self {
            AssessmentTarget::Ip(ip) => ip.to_string(),
            AssessmentTarget::Cidr(n) => n.to_string(),
            AssessmentTarget::Domain(d) | AssessmentTarget::Url(d) => d.clone(),
        }
    }

    /// The targets the owner lookup checks: each address of a CIDR, or the target itself.
    pub fn lookups(&self) -> Vec<Target> {
        match self {
            AssessmentTarget::Ip(ip) => vec![Target::Ip(*ip)],
            AssessmentTarget::Cidr(n) => n.hosts_all().map(Target::Ip).collect(),
            AssessmentTarget::Domain(d) => vec![Target::Domain(d.clone())],
            AssessmentTarget::Url(u) => Target::parse(u).map(|t| vec![t]).unwrap_or_default(),
        }
    }

    /// Whether `ip` is this target (an IP or inside a CIDR).
    pub fn contains_ip(&self, ip: IpAddr) -> bool {
        match self {
            AssessmentTarget::Ip(t) => *t == ip,
            AssessmentTarget::Cidr(n) => n.contains(&ip),
            AssessmentTarget::Domain(_) | AssessmentTarget::Url(_) => false,
        }
    }
}

/// Every address of a network, network and broadcast addresses included (a tenant's /30 holds
/// four addresses it may test).
trait HostsAll {
    fn hosts_all(&self) -> Box<dyn Iterator<Item = IpAddr>>;
}

impl HostsAll for IpNet {
    fn hosts_all(&self) -> Box<dyn Iterator<Item = IpAddr>> {
        match *self {
            IpNet::V4(n) => {
                let first = u32::from(n.network());
                let last = u32::from(n.broadcast());
                Box::new((first..=last).map(|a| IpAddr::V4(a.into())))
            }
            IpNet::V6(n) => {
                let first = u128::from(n.network());
                let last = u128::from(n.broadcast());
                Box::new((first..=last).map(|a| IpAddr::V6(a.into())))
            }
        }
    }
}

/// The provider's own infrastructure (ASMT-3): networks and domains no tenant may test.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Infrastructure {
    /// The provider's networks (its API endpoints, consoles, DNS, control plane).
    pub networks: Vec<IpNet>,
    /// The provider's domains; a target under one (the domain or a subdomain) is refused.
    pub domains: Vec<String>,
}

impl Infrastructure {
    /// Whether a lookup target is the provider's.
    pub fn holds(&self, t: &Target) -> bool {
        let host = match t {
            Target::Ip(ip) => return self.networks.iter().any(|n| n.contains(ip)),
            Target::Domain(d) => d.as_str(),
            Target::Url(u) => u.host.as_str(),
            _ => return false,
        };
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            return self.networks.iter().any(|n| n.contains(&ip));
        }
        self.domains
            .iter()
            .any(|d| crate::resource::within_domain(host, d))
    }
}

/// Why a scope does not hold (ASMT-1/3). Foreign targets are named, and nothing about whose
/// they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}", self.message())]
pub struct ScopeRefusal {
    /// Targets (as declared) not all of whose addresses are the account's.
    pub foreign: Vec<String>,
    /// Targets in the provider's own infrastructure.
    pub infrastructure: Vec<String>,
}

impl ScopeRefusal {
    /// In words.
    pub fn message(&self) -> String {
        let mut parts = Vec::new();
        if !self.foreign.is_empty() {
            parts.push(format!(
                "ASMT-1: not resources of this account: {}",
                self.foreign.join(", ")
            ));
        }
        if !self.infrastructure.is_empty() {
            parts.push(format!(
                "ASMT-3: the provider's own infrastructure may not be tested: {}",
                self.infrastructure.join(", ")
            ));
        }
        parts.join("; ")
    }
}

/// ASMT-1/3: the scope holds when every lookup of every target is the account's and none is
/// the provider's. `owners[i][j]` is the account owning `targets[i].lookups()[j]`, if any.
pub fn check_scope(
    account: &str,
    targets: &[AssessmentTarget],
    owners: &[Vec<Option<String>>],
    infra: &Infrastructure,
) -> Result<(), ScopeRefusal> {
    let mut refusal = ScopeRefusal {
        foreign: Vec::new(),
        infrastructure: Vec::new(),
    };
    for (i, t) in targets.iter().enumerate() {
        let lookups = t.lookups();
        if lookups.iter().any(|l| infra.holds(l)) {
            refusal.infrastructure.push(t.text());
            continue;
        }
        let own = owners.get(i).is_some_and(|o| {
            o.len() == lookups.len()
                && !o.is_empty()
                && o.iter().all(|a| a.as_deref() == Some(account))
        });
        if !own {
            refusal.foreign.push(t.text());
        }
    }
    if refusal.foreign.is_empty() && refusal.infrastructure.is_empty() {
        Ok(())
    } else {
        Err(refusal)
    }
}

/// A stress-test or destructive-test plan (ASMT-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// The highest rate the test sends, bps (1 to 10^15).
    pub peak_bps: u64,
    /// The highest rate, pps (1 to 10^15).
    pub peak_pps: u64,
    /// The highest request rate, requests per second (0 = not an HTTP test).
    #[serde(default)]
    pub peak_rps: u64,
    /// How: tools and traffic kind, 1 to 2000 characters.
    pub method: String,
    /// Who to call during the test (personal data: sealed at rest), 1 to 320 characters.
    pub contact: String,
    /// How the test is stopped and the targets brought back, 1 to 2000 characters.
    pub rollback_plan: String,
    /// The tenant attests it has the rights over every target.
    pub attest_rights: bool,
    /// The tenant attests it has its own backups (required for a destructive test).
    #[serde(default)]
    pub attest_backups: bool,
}

/// What a tenant declares (ASMT-1/2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    /// What it tests.
    pub kind: AssessmentKind,
    /// The targets.
    pub targets: Vec<AssessmentTarget>,
    /// Where the test traffic comes from.
    pub sources: Vec<IpNet>,
    /// The window's start.
    pub window_start: Timestamp,
    /// The window's end (exclusive).
    pub window_end: Timestamp,
    /// The plan (stress and destructive tests).
    pub plan: Option<Plan>,
}

fn text_field(field: &str, v: &str, max: usize) -> Result<(), InvalidInput> {
    if crate::text::is_blank(v) {
        return Err(InvalidInput::new(field, "is required"));
    }
    if v.chars().count() > max {
        return Err(InvalidInput::new(
            field,
            format!("at most {max} characters"),
        ));
    }
    if v.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(InvalidInput::new(field, "holds control characters"));
    }
    Ok(())
}

/// Reads and checks a declaration; the error names the field (`targets[1]`, `plan.peak_bps`).
pub fn declare(
    kind: AssessmentKind,
    targets: &[String],
    sources: &[String],
    window_start: Timestamp,
    window_end: Timestamp,
    plan: Option<Plan>,
    now: Timestamp,
) -> Result<Declaration, InvalidInput> {
    if targets.is_empty() {
        return Err(InvalidInput::new("targets", "name at least one target"));
    }
    let mut parsed = Vec::new();
    let mut lookups = 0usize;
    for (i, t) in targets.iter().enumerate() {
        let p = AssessmentTarget::parse(t)
            .map_err(|r| InvalidInput::new(format!("targets[{i}]"), r))?;
        lookups += p.lookups().len();
        if lookups > MAX_TARGETS {
            return Err(InvalidInput::new(
                "targets",
                format!("at most {MAX_TARGETS} addresses and names in all"),
            ));
        }
        if !parsed.contains(&p) {
            parsed.push(p);
        }
    }
    if sources.is_empty() {
        return Err(InvalidInput::new(
            "sources",
            "name the addresses the test comes from (IPs or CIDRs)",
        ));
    }
    if sources.len() > MAX_SOURCES {
        return Err(InvalidInput::new(
            "sources",
            format!("at most {MAX_SOURCES}"),
        ));
    }
    let mut nets = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        let s = s.trim();
        let net = s
            .parse::<IpNet>()
            .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| {
                InvalidInput::new(
                    format!("sources[{i}]"),
                    format!("{s:?} is not an IP or CIDR"),
                )
            })?;
        nets.push(net.trunc());
    }
    if window_end.millis() <= window_start.millis() {
        return Err(InvalidInput::new(
            "window_end",
            "must be after window_start",
        ));
    }
    if window_end.millis() - window_start.millis() > MAX_WINDOW_MS {
        return Err(InvalidInput::new(
            "window_end",
            "the window may last at most 30 days",
        ));
    }
    if window_start.millis() < now.millis() - MAX_START_PAST_MS {
        return Err(InvalidInput::new("window_start", "is in the past"));
    }
    if window_start.millis() > now.millis() + MAX_START_AHEAD_MS {
        return Err(InvalidInput::new(
            "window_start",
            "is more than 180 days ahead",
        ));
    }
    match (kind.needs_approval(), &plan) {
        (true, None) => {
            return Err(InvalidInput::new(
                "plan",
                "a stress or destructive test needs a plan (ASMT-2)",
            ));
        }
        (false, Some(_)) => {
            return Err(InvalidInput::new(
                "plan",
                "only stress and destructive tests have a plan",
            ));
        }
        _ => {}
    }
    if let Some(p) = &plan {
        for (name, v) in [("plan.peak_bps", p.peak_bps), ("plan.peak_pps", p.peak_pps)] {
            if v == 0 || v > 1_000_000_000_000_000 {
                return Err(InvalidInput::new(name, "must be 1 to 10^15"));
            }
        }
        if p.peak_rps > 1_000_000_000_000 {
            return Err(InvalidInput::new("plan.peak_rps", "must be at most 10^12"));
        }
        text_field("plan.method", &p.method, 2000)?;
        text_field("plan.contact", &p.contact, 320)?;
        text_field("plan.rollback_plan", &p.rollback_plan, 2000)?;
        if !p.attest_rights {
            return Err(InvalidInput::new(
                "plan.attest_rights",
                "the tenant must attest its rights over every target",
            ));
        }
        if kind == AssessmentKind::DestructiveTest && !p.attest_backups {
            return Err(InvalidInput::new(
                "plan.attest_backups",
                "a destructive test needs the tenant's attestation of its own backups",
            ));
        }
    }
    Ok(Declaration {
        kind,
        targets: parsed,
        sources: nets,
        window_start,
        window_end,
        plan,
    })
}

/// What the domain knows about one assessment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssessmentFacts {
    /// What it tests.
    pub kind: AssessmentKind,
    /// Where it stands.
    pub state: AssessmentState,
    /// The window's start.
    pub window_start: Timestamp,
    /// The window's end.
    pub window_end: Timestamp,
    /// When the tenant last was reminded of its disclosure (ASMT-5).
    pub reminded_at: Option<Timestamp>,
    /// Reminders sent.
    pub reminders: u32,
}

/// Something asked of, or happening to, an assessment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssessmentCommand {
    /// An operator approves the plan.
    Approve {
        /// Why (optional for an approval).
        reason: Option<String>,
    },
    /// An operator refuses the plan; the reason is required.
    Reject {
        /// Why.
        reason: String,
    },
    /// The tenant or an operator stops it early; the reason is required.
    Stop {
        /// Whether the tenant stops it (else an operator).
        by_tenant: bool,
        /// Why.
        reason: String,
    },
    /// Its window's end timer fired.
    WindowEnded,
    /// The disclosure reminder timer fired (ASMT-5); the next one is due `every_ms` later
    /// (the provider's reminder period).
    ReminderDue {
        /// The reminder period, ms (at least a minute).
        every_ms: i64,
    },
    /// The tenant confirms its phishing-test disclosure, with the text it used.
    ConfirmDisclosure {
        /// The text the tenant's users were told.
        text: String,
    },
}

/// What the caller carries out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssessmentEffect {
    /// Arm the window's end timer.
    ArmWindowEnd {
        /// When.
        at: Timestamp,
    },
    /// Cancel the timers.
    CancelTimers,
    /// Arm the disclosure reminder.
    ArmReminder {
        /// When.
        at: Timestamp,
    },
    /// Tell the tenant (inbox, e-mail) with this notice kind code.
    Notify {
        /// `assessment.approved`, `assessment.rejected`, `assessment.stopped`,
        /// `assessment.disclosure_due`.
        kind: &'static str,
    },
    /// Audit event code.
    Audit {
        /// `assessment.approve`, ….
        event: &'static str,
    },
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssessmentDecision {
    /// The facts after.
    pub next: AssessmentFacts,
    /// What to do.
    pub effects: Vec<AssessmentEffect>,
    /// Why, in words (the API's and the audit log's).
    pub reason: String,
    /// The same reason in codes, for the console's languages (UI-2): `why.<code>`, with the
    /// words a person typed as `note`.
    pub why: Why,
}

/// A command that does not apply to the assessment as it stands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AssessmentConflict(pub String);

/// How often the tenant is reminded of an unconfirmed disclosure by default (ASMT-5): daily.
pub const REMINDER_EVERY_MS: i64 = 86_400_000;
/// By default a disclosure is overdue (shown to operators) this long after the window's end:
/// 3 days.
pub const DISCLOSURE_DUE_MS: i64 = 3 * 86_400_000;

/// The first state of a declaration, and its effects.
pub fn start(d: &Declaration) -> AssessmentDecision {
    let state = if d.kind.needs_approval() {
        AssessmentState::PendingApproval
    } else {
        AssessmentState::Declared
    };
    // A plan never approved ends with its window too (it leaves the approval queue).
    let effects = vec![
        AssessmentEffect::Audit {
            event: "assessment.declare",
        },
        AssessmentEffect::ArmWindowEnd { at: d.window_end },
    ];
    AssessmentDecision {
        next: AssessmentFacts {
            kind: d.kind,
            state,
            window_start: d.window_start,
            window_end: d.window_end,
            reminded_at: None,
            reminders: 0,
        },
        effects,
        reason: if state == AssessmentState::Declared {
            "ASMT-1: every target is the account's; declared for its window".into()
        } else {
            "ASMT-2: the plan waits for the security team's approval".into()
        },
        why: if state == AssessmentState::Declared {
            Why::new("assessment_declared")
        } else {
            Why::new("assessment_plan_pending")
        },
    }
}

/// Decides `cmd` for an assessment at `now`.
pub fn decide(
    f: &AssessmentFacts,
    cmd: &AssessmentCommand,
    now: Timestamp,
) -> Result<AssessmentDecision, AssessmentConflict> {
    use AssessmentCommand as C;
    use AssessmentState as S;
    let mut next = f.clone();
    let conflict = |what: &str| {
        Err(AssessmentConflict(format!(
            "cannot {what} an assessment that is {}",
            f.state.code()
        )))
    };
    let ended = |next: &mut AssessmentFacts| {
        if f.kind == AssessmentKind::PhishingTest {
            next.state = S::AwaitingDisclosure;
            let effects = vec![
                AssessmentEffect::ArmReminder {
                    at: f.window_end.max(now),
                },
                AssessmentEffect::Audit {
                    event: "assessment.end",
                },
            ];
            (effects, Why::new("assessment_awaiting_disclosure"))
        } else {
            next.state = S::Ended;
            let effects = vec![AssessmentEffect::Audit {
                event: "assessment.end",
            }];
            (effects, Why::new("assessment_window_ended"))
        }
    };
    match (f.state, cmd) {
        (S::PendingApproval, C::Approve { reason }) => {
            if now.millis() >= f.window_end.millis() {
                return Err(AssessmentConflict(
                    "the plan's window is already over; the tenant must declare a new one".into(),
                ));
            }
            next.state = S::Approved;
            Ok(AssessmentDecision {
                next,
                effects: vec![
                    AssessmentEffect::ArmWindowEnd { at: f.window_end },
                    AssessmentEffect::Notify {
                        kind: "assessment.approved",
                    },
                    AssessmentEffect::Audit {
                        event: "assessment.approve",
                    },
                ],
                reason: "ASMT-2: the plan was approved; traffic inside it is no attack during its window".into(),
                why: match reason.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
                    Some(note) => Why::new("assessment_approved_note").with("note", note),
                    None => Why::new("assessment_approved"),
                },
            })
        }
        (_, C::Approve { .. }) => conflict("approve"),
        (S::PendingApproval, C::Reject { reason }) => {
            if crate::text::is_blank(reason) {
                return Err(AssessmentConflict("a rejection needs a reason".into()));
            }
            next.state = S::Rejected;
            Ok(AssessmentDecision {
                next,
                effects: vec![
                    AssessmentEffect::CancelTimers,
                    AssessmentEffect::Notify {
                        kind: "assessment.rejected",
                    },
                    AssessmentEffect::Audit {
                        event: "assessment.reject",
                    },
                ],
                reason: format!("ASMT-2: the plan was rejected: {}", reason.trim()),
                why: Why::new("assessment_rejected").with("note", reason.trim()),
            })
        }
        (_, C::Reject { .. }) => conflict("reject"),
        (S::Declared | S::PendingApproval | S::Approved, C::Stop { by_tenant, reason }) => {
            if crate::text::is_blank(reason) {
                return Err(AssessmentConflict("stopping needs a reason".into()));
            }
            next.state = S::Stopped;
            let mut effects = vec![AssessmentEffect::CancelTimers];
            if !by_tenant {
                effects.push(AssessmentEffect::Notify {
                    kind: "assessment.stopped",
                });
            }
            effects.push(AssessmentEffect::Audit {
                event: "assessment.stop",
            });
            Ok(AssessmentDecision {
                next,
                effects,
                reason: format!(
                    "stopped early by {}: {}",
                    if *by_tenant {
                        "the tenant"
                    } else {
                        "an operator"
                    },
                    reason.trim()
                ),
                why: if *by_tenant {
                    Why::new("assessment_stopped_by_tenant")
                } else {
                    Why::new("assessment_stopped_by_operator")
                }
                .with("note", reason.trim()),
            })
        }
        (_, C::Stop { .. }) => conflict("stop"),
        (S::Declared | S::Approved, C::WindowEnded) => {
            if now.millis() < f.window_end.millis() {
                return Err(AssessmentConflict("the window is not over yet".into()));
            }
            let (effects, why) = ended(&mut next);
            Ok(AssessmentDecision {
                next,
                effects,
                reason: "the window is over".into(),
                why,
            })
        }
        (S::PendingApproval, C::WindowEnded) => {
            // Never approved in time: it simply ends.
            next.state = S::Ended;
            Ok(AssessmentDecision {
                next,
                effects: vec![AssessmentEffect::Audit {
                    event: "assessment.end",
                }],
                reason: "the window ended before the plan was approved".into(),
                why: Why::new("assessment_expired_unapproved"),
            })
        }
        (_, C::WindowEnded) => conflict("end"),
        (S::AwaitingDisclosure, C::ReminderDue { every_ms }) => {
            next.reminded_at = Some(now);
            next.reminders = f.reminders.saturating_add(1);
            Ok(AssessmentDecision {
                next,
                effects: vec![
                    AssessmentEffect::Notify {
                        kind: "assessment.disclosure_due",
                    },
                    AssessmentEffect::ArmReminder {
                        at: now.plus_millis((*every_ms).max(60_000)),
                    },
                    AssessmentEffect::Audit {
                        event: "assessment.remind",
                    },
                ],
                reason: "ASMT-5: the phishing test's disclosure is not confirmed yet".into(),
                why: Why::new("assessment_reminded")
                    .with("n", f.reminders.saturating_add(1).to_string()),
            })
        }
        (_, C::ReminderDue { .. }) => conflict("remind of"),
        (S::AwaitingDisclosure, C::ConfirmDisclosure { text }) => {
            if crate::text::is_blank(text) {
                return Err(AssessmentConflict(
                    "the disclosure needs the text the users were told".into(),
                ));
            }
            next.state = S::Disclosed;
            Ok(AssessmentDecision {
                next,
                effects: vec![
                    AssessmentEffect::CancelTimers,
                    AssessmentEffect::Audit {
                        event: "assessment.disclose",
                    },
                ],
                reason: "ASMT-5: the tenant confirmed it disclosed the phishing test to its users"
                    .into(),
                why: Why::new("assessment_disclosed"),
            })
        }
        (_, C::ConfirmDisclosure { .. }) => conflict("confirm the disclosure of"),
    }
}

/// Whether a disclosure is overdue at `now`, `due_ms` after the window's end (ASMT-5: shown
/// to operators).
pub fn disclosure_overdue(f: &AssessmentFacts, now: Timestamp, due_ms: i64) -> bool {
    f.state == AssessmentState::AwaitingDisclosure
        && now.millis() >= f.window_end.millis().saturating_add(due_ms)
}

/// Which limit of a plan traffic exceeded (ASMT-2: the case says which).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "limit")]
pub enum Exceeded {
    /// Outside the window.
    Window,
    /// Above the plan's peak bps.
    PeakBps {
        /// The plan's peak.
        peak_bps: u64,
        /// Observed.
        observed_bps: u64,
    },
    /// Above the plan's peak pps.
    PeakPps {
        /// The plan's peak.
        peak_pps: u64,
        /// Observed.
        observed_pps: u64,
    },
    /// From a source the plan did not declare.
    Source {
        /// The undeclared source.
        source: IpAddr,
    },
}

/// Traffic as the DDoS plane sees it, to compare with a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// When.
    pub at: Timestamp,
    /// Rate, bps.
    pub bps: u64,
    /// Rate, pps.
    pub pps: u64,
    /// The largest sources seen, where known (flows); empty for detectors' samples.
    pub sources: Vec<IpAddr>,
}

/// ASMT-2: whether observed traffic stays inside the plan of an in-force assessment: `Ok(())`
/// inside, else the first limit exceeded (window, peaks, then sources).
pub fn within_plan(
    window_start: Timestamp,
    window_end: Timestamp,
    sources: &[IpNet],
    plan: &Plan,
    o: &Observed,
) -> Result<(), Exceeded> {
    if o.at.millis() < window_start.millis() || o.at.millis() >= window_end.millis() {
        return Err(Exceeded::Window);
    }
    if o.bps > plan.peak_bps {
        return Err(Exceeded::PeakBps {
            peak_bps: plan.peak_bps,
            observed_bps: o.bps,
        });
    }
    if o.pps > plan.peak_pps {
        return Err(Exceeded::PeakPps {
            peak_pps: plan.peak_pps,
            observed_pps: o.pps,
        });
    }
    if let Some(s) = o
        .sources
        .iter()
        .find(|s| !sources.iter().any(|n| n.contains(*s)))
    {
        return Err(Exceeded::Source { source: *s });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    fn plan() -> Plan {
        Plan {
            peak_bps: 5_000_000_000,
            peak_pps: 1_000_000,
            peak_rps: 0,
            method: "UDP flood from our load generators".into(),
            contact: "+86 138 0000 0000".into(),
            rollback_plan: "stop the generators; traffic ends within a minute".into(),
            attest_rights: true,
            attest_backups: false,
        }
    }

    fn decl(kind: AssessmentKind, plan: Option<Plan>) -> Result<Declaration, InvalidInput> {
        declare(
            kind,
            &["203.0.113.8/30".into(), "shop.example.com".into()],
            &["198.51.100.0/28".into()],
            t("2026-12-02T10:00:00+08:00"),
            t("2026-12-02T12:00:00+08:00"),
            plan,
            t("2026-12-01T10:00:00+08:00"),
        )
    }

    #[test]
    fn targets_parse_and_expand() {
        let c = AssessmentTarget::parse("203.0.113.9/30").unwrap();
        assert_eq!(c.text(), "203.0.113.8/30");
        assert_eq!(c.lookups().len(), 4);
        assert!(c.contains_ip("203.0.113.11".parse().unwrap()));
        assert!(!c.contains_ip("203.0.113.12".parse().unwrap()));
        assert_eq!(
            AssessmentTarget::parse("203.0.113.7/32").unwrap(),
            AssessmentTarget::Ip("203.0.113.7".parse().unwrap())
        );
        assert!(
            AssessmentTarget::parse("203.0.113.0/23")
                .unwrap_err()
                .contains("/24")
        );
        assert!(AssessmentTarget::parse("2001:db8::/64").is_err());
        assert_eq!(
            AssessmentTarget::parse("2001:db8::/120")
                .unwrap()
                .lookups()
                .len(),
            256
        );
        assert!(matches!(
            AssessmentTarget::parse("https://shop.example.com/a").unwrap(),
            AssessmentTarget::Url(_)
        ));
        assert!(AssessmentTarget::parse("cos://bucket/key").is_err());
    }

    /// ASMT-1/3: foreign targets are named (a CIDR with one foreign address is foreign), the
    /// provider's are refused as such, and nothing says whose the foreign ones are.
    #[test]
    fn scope() {
        let infra = Infrastructure {
            networks: vec!["192.0.2.0/24".parse().unwrap()],
            domains: vec!["cloud.example".into()],
        };
        let targets = vec![
            AssessmentTarget::parse("203.0.113.8/31").unwrap(),
            AssessmentTarget::parse("198.51.100.7").unwrap(),
            AssessmentTarget::parse("api.cloud.example").unwrap(),
            AssessmentTarget::parse("192.0.2.10").unwrap(),
        ];
        let own = Some("acme".to_string());
        let owners = vec![
            vec![own.clone(), own.clone()],
            vec![Some("other".into())],
            vec![None],
            vec![None],
        ];
        let r = check_scope("acme", &targets, &owners, &infra).unwrap_err();
        assert_eq!(r.foreign, ["198.51.100.7"]);
        assert_eq!(r.infrastructure, ["api.cloud.example", "192.0.2.10"]);
        assert!(!r.message().contains("other"), "{}", r.message());
        let owners_half = vec![vec![own.clone(), None]];
        assert_eq!(
            check_scope("acme", &targets[..1], &owners_half, &infra)
                .unwrap_err()
                .foreign,
            ["203.0.113.8/31"]
        );
        assert!(check_scope("acme", &targets[..1], &owners[..1], &infra).is_ok());
    }

    #[test]
    fn declarations_name_the_bad_field() {
        assert!(decl(AssessmentKind::PenetrationTest, None).is_ok());
        assert_eq!(
            decl(AssessmentKind::StressTest, None).unwrap_err().field,
            "plan"
        );
        assert_eq!(
            decl(AssessmentKind::PenetrationTest, Some(plan()))
                .unwrap_err()
                .field,
            "plan"
        );
        assert_eq!(
            decl(AssessmentKind::DestructiveTest, Some(plan()))
                .unwrap_err()
                .field,
            "plan.attest_backups"
        );
        let mut p = plan();
        p.attest_rights = false;
        assert_eq!(
            decl(AssessmentKind::StressTest, Some(p)).unwrap_err().field,
            "plan.attest_rights"
        );
        let mut p = plan();
        p.peak_bps = 0;
        assert_eq!(
            decl(AssessmentKind::StressTest, Some(p)).unwrap_err().field,
            "plan.peak_bps"
        );
        let e = declare(
            AssessmentKind::VulnerabilityScan,
            &["203.0.113.7".into(), "cos://b/k".into()],
            &["198.51.100.1".into()],
            t("2026-12-02T10:00:00Z"),
            t("2026-12-02T11:00:00Z"),
            None,
            t("2026-12-02T09:00:00Z"),
        )
        .unwrap_err();
        assert_eq!(e.field, "targets[1]");
        let e = declare(
            AssessmentKind::VulnerabilityScan,
            &["203.0.113.7".into()],
            &["198.51.100.1".into()],
            t("2026-12-02T10:00:00Z"),
            t("2026-12-02T10:00:00Z"),
            None,
            t("2026-12-02T09:00:00Z"),
        )
        .unwrap_err();
        assert_eq!(e.field, "window_end");
    }

    #[test]
    fn stress_test_approved_then_ends() {
        let d = decl(AssessmentKind::StressTest, Some(plan())).unwrap();
        let s = start(&d);
        assert_eq!(s.next.state, AssessmentState::PendingApproval);
        assert!(!s.next.state.in_force());
        // Never approved, it still ends with its window.
        assert!(
            s.effects
                .contains(&AssessmentEffect::ArmWindowEnd { at: d.window_end })
        );
        let unapproved = decide(&s.next, &AssessmentCommand::WindowEnded, d.window_end).unwrap();
        assert_eq!(unapproved.next.state, AssessmentState::Ended);
        let a = decide(
            &s.next,
            &AssessmentCommand::Approve { reason: None },
            t("2026-12-01T11:00:00+08:00"),
        )
        .unwrap();
        assert_eq!(a.next.state, AssessmentState::Approved);
        assert!(
            a.effects
                .contains(&AssessmentEffect::ArmWindowEnd { at: d.window_end })
        );
        assert!(
            decide(
                &a.next,
                &AssessmentCommand::WindowEnded,
                t("2026-12-02T11:00:00+08:00")
            )
            .is_err()
        );
        let e = decide(&a.next, &AssessmentCommand::WindowEnded, d.window_end).unwrap();
        assert_eq!(e.next.state, AssessmentState::Ended);
        assert!(
            decide(
                &e.next,
                &AssessmentCommand::Approve { reason: None },
                d.window_end
            )
            .is_err()
        );
        let r = decide(
            &s.next,
            &AssessmentCommand::Reject { reason: " ".into() },
            d.window_start,
        );
        assert!(r.is_err());
    }

    #[test]
    fn phishing_test_reminds_until_disclosed() {
        let d = decl(AssessmentKind::PhishingTest, None).unwrap();
        let s = start(&d);
        assert_eq!(s.next.state, AssessmentState::Declared);
        let e = decide(&s.next, &AssessmentCommand::WindowEnded, d.window_end).unwrap();
        assert_eq!(e.next.state, AssessmentState::AwaitingDisclosure);
        let remind = AssessmentCommand::ReminderDue {
            every_ms: REMINDER_EVERY_MS,
        };
        let r = decide(&e.next, &remind, d.window_end).unwrap();
        assert!(r.effects.contains(&AssessmentEffect::ArmReminder {
            at: d.window_end.plus_millis(REMINDER_EVERY_MS)
        }));
        assert_eq!(r.next.reminders, 1);
        assert!(r.effects.contains(&AssessmentEffect::Notify {
            kind: "assessment.disclosure_due"
        }));
        assert!(!disclosure_overdue(
            &r.next,
            d.window_end.plus_millis(DISCLOSURE_DUE_MS - 1),
            DISCLOSURE_DUE_MS
        ));
        assert!(disclosure_overdue(
            &r.next,
            d.window_end.plus_millis(DISCLOSURE_DUE_MS),
            DISCLOSURE_DUE_MS
        ));
        let c = decide(
            &r.next,
            &AssessmentCommand::ConfirmDisclosure {
                text: "Last week's mail was our test.".into(),
            },
            d.window_end,
        )
        .unwrap();
        assert_eq!(c.next.state, AssessmentState::Disclosed);
        assert!(decide(&c.next, &remind, d.window_end).is_err());
    }

    /// UI-2: every transition says why in codes too, with the words a person typed as `note`
    /// (and an approval without a reason has no `note` to fill).
    #[test]
    fn every_transition_says_why_in_codes() {
        let d = decl(AssessmentKind::StressTest, Some(plan())).unwrap();
        let s = start(&d);
        assert_eq!(s.why, Why::new("assessment_plan_pending"));
        let at = t("2026-12-01T11:00:00+08:00");
        let why = |cmd: AssessmentCommand| decide(&s.next, &cmd, at).unwrap().why;
        assert_eq!(
            why(AssessmentCommand::Approve { reason: None }),
            Why::new("assessment_approved")
        );
        assert_eq!(
            why(AssessmentCommand::Approve {
                reason: Some(" ok, call first ".into())
            }),
            Why::new("assessment_approved_note").with("note", "ok, call first")
        );
        assert_eq!(
            why(AssessmentCommand::Reject {
                reason: "too large".into()
            }),
            Why::new("assessment_rejected").with("note", "too large")
        );
        assert_eq!(
            why(AssessmentCommand::Stop {
                by_tenant: true,
                reason: "done early".into()
            }),
            Why::new("assessment_stopped_by_tenant").with("note", "done early")
        );
        assert_eq!(
            why(AssessmentCommand::Stop {
                by_tenant: false,
                reason: "hurts others".into()
            }),
            Why::new("assessment_stopped_by_operator").with("note", "hurts others")
        );
        let expired = decide(&s.next, &AssessmentCommand::WindowEnded, d.window_end).unwrap();
        assert_eq!(expired.why, Why::new("assessment_expired_unapproved"));
        let p = start(&decl(AssessmentKind::PhishingTest, None).unwrap());
        assert_eq!(p.why, Why::new("assessment_declared"));
        let e = decide(&p.next, &AssessmentCommand::WindowEnded, d.window_end).unwrap();
        assert_eq!(e.why, Why::new("assessment_awaiting_disclosure"));
        let remind = AssessmentCommand::ReminderDue { every_ms: 60_000 };
        let r = decide(&e.next, &remind, d.window_end).unwrap();
        assert_eq!(r.why, Why::new("assessment_reminded").with("n", "1"));
        let text = AssessmentCommand::ConfirmDisclosure {
            text: "told".into(),
        };
        let c = decide(&r.next, &text, d.window_end).unwrap();
        assert_eq!(c.why, Why::new("assessment_disclosed"));
        let scan = start(&decl(AssessmentKind::VulnerabilityScan, None).unwrap());
        let ended = decide(&scan.next, &AssessmentCommand::WindowEnded, d.window_end).unwrap();
        assert_eq!(ended.why, Why::new("assessment_window_ended"));
    }

    /// ASMT-2: inside the window, peaks and sources is inside; each limit is named.
    #[test]
    fn plan_limits() {
        let d = decl(AssessmentKind::StressTest, Some(plan())).unwrap();
        let p = plan();
        let o = |at: &str, bps: u64, pps: u64, src: &str| Observed {
            at: t(at),
            bps,
            pps,
            sources: vec![src.parse().unwrap()],
        };
        let inside = o(
            "2026-12-02T11:00:00+08:00",
            4_000_000_000,
            900_000,
            "198.51.100.3",
        );
        assert_eq!(
            within_plan(d.window_start, d.window_end, &d.sources, &p, &inside),
            Ok(())
        );
        assert_eq!(
            within_plan(
                d.window_start,
                d.window_end,
                &d.sources,
                &p,
                &o("2026-12-02T12:00:00+08:00", 1, 1, "198.51.100.3")
            ),
            Err(Exceeded::Window)
        );
        assert!(matches!(
            within_plan(
                d.window_start,
                d.window_end,
                &d.sources,
                &p,
                &o(
                    "2026-12-02T11:00:00+08:00",
                    6_000_000_000,
                    1,
                    "198.51.100.3"
                )
            ),
            Err(Exceeded::PeakBps { .. })
        ));
        assert_eq!(
            within_plan(
                d.window_start,
                d.window_end,
                &d.sources,
                &p,
                &o("2026-12-02T11:00:00+08:00", 1, 1, "198.51.100.99")
            ),
            Err(Exceeded::Source {
                source: "198.51.100.99".parse().unwrap()
            })
        );
    }
}
