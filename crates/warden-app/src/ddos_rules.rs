//! The rules beside the blackhole (issue 12):
//!
//! - **HARM-1**: outbound floods and scans from a tenant's IP, seen by the flow collector, open
//!   a harmful-behaviour case (`ddos_attack` for a flood, `scanning` for a scan) with the rates
//!   as evidence; a flood also restricts the machine at once (`block_network`) unless the
//!   provider configured `report` only. One report per IP and kind per `repeat_minutes`, so a
//!   flood lasting an hour is one case with a few reports, not 3600.
//! - **PEN-2**: an attack on one tenant's IP that harms other tenants — its traffic alone fills a
//!   configured shared uplink above the uplink's threshold — opens a `ddos_victim_impact` case
//!   that "impacts other tenants"; with `auto_isolate` it is confirmed at once with wide impact,
//!   which grades it especially serious and isolates the account (billing counted to the
//!   isolation day, as the lifecycle records it). Without `auto_isolate` it waits in triage for
//!   an operator, who may isolate.
//! - **ASMT-2**: the hook for approved stress tests. Traffic to or from an IP inside an approved
//!   plan's window and within its peak is not an attack against or by the tenant; traffic
//!   outside the plan is, and its case says so in its history (`assessment.exceeded`).
//!   [`StressPlans`] is what the assessments workflow implements
//!   ([`crate::assessments::StoredStressPlans`], the default: approved plans read from the
//!   store); [`NoStressPlans`] (nothing approved) and [`HeldStressPlans`] (plans held in
//!   memory) serve tests.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Mutex;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use warden_domain::assessment::{self, AssessmentTarget, Exceeded, Observed, Plan};
use warden_domain::report::{ReportRequest, Source};
use warden_domain::resource::InvalidInput;
use warden_domain::taxonomy::Category;
use warden_domain::time::Timestamp;

use crate::App;
use crate::auth::Principal;
use crate::ddos::FlowRate;
use crate::error::{AppError, AppResult};
use crate::lifecycle::{ConfirmInput, EnforceInput};

/// Which way traffic goes, seen from the tenant's IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// To the IP: it is one of a plan's targets.
    Inbound,
    /// From the IP: it is one of a plan's sources (the tenant's own load generator).
    Outbound,
}

/// An approved (or declared) stress-test plan in force, as the DDoS plane checks it (ASMT-2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StressPlanRecord {
    /// The assessment's id.
    pub id: String,
    /// Its targets.
    pub targets: Vec<AssessmentTarget>,
    /// Its declared sources.
    pub sources: Vec<IpNet>,
    /// Its window's start.
    pub window_start: Timestamp,
    /// Its window's end (exclusive).
    pub window_end: Timestamp,
    /// Its plan: the peaks.
    pub plan: Plan,
}

impl StressPlanRecord {
    /// Which way `ip` takes part in the plan, if at all.
    pub fn direction_of(&self, ip: IpAddr) -> Option<Direction> {
        if self.targets.iter().any(|t| t.contains_ip(ip)) {
            Some(Direction::Inbound)
        } else if self.sources.iter().any(|n| n.contains(&ip)) {
            Some(Direction::Outbound)
        } else {
            None
        }
    }

    /// Whether traffic of `ip` going `direction` stays inside the plan; `None` when the plan
    /// does not concern the IP that way. Outbound traffic is the plan's own source: only the
    /// window and the peaks apply.
    pub fn verdict(
        &self,
        ip: IpAddr,
        direction: Direction,
        o: &Observed,
    ) -> Option<Result<(), Exceeded>> {
        if self.direction_of(ip) != Some(direction) {
            return None;
        }
        let any_source = [IpNet::from(ip)];
        let sources: &[IpNet] = match direction {
            Direction::Inbound => &self.sources,
            Direction::Outbound => &any_source,
        };
        let o = match direction {
            Direction::Inbound => o.clone(),
            Direction::Outbound => Observed {
                sources: vec![],
                ..o.clone()
            },
        };
        Some(assessment::within_plan(
            self.window_start,
            self.window_end,
            sources,
            &self.plan,
            &o,
        ))
    }
}

/// What the plans in force say of some traffic (ASMT-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum PlanVerdict {
    /// No plan concerns the IP: an attack is an attack.
    NoPlan,
    /// Inside this plan: no attack.
    Inside {
        /// The assessment.
        plan_id: String,
    },
    /// A plan concerns the IP, and the traffic went beyond it: an attack, and the case says
    /// which limit was exceeded.
    Exceeded {
        /// The assessment.
        plan_id: String,
        /// The limit.
        exceeded: Exceeded,
    },
}

/// A boxed future of the hook.
pub type PlansFuture<'a> =
    Pin<Box<dyn Future<Output = AppResult<Vec<StressPlanRecord>>> + Send + 'a>>;

/// Where the stress-test plans in force come from (ASMT-2; the assessments workflow).
pub trait StressPlans: Send + Sync + std::fmt::Debug {
    /// The plans in force (approved, not ended or stopped) that name `ip` as a target or a
    /// source.
    fn plans_for(&self, ip: IpAddr) -> PlansFuture<'_>;
}

/// No plan is in force: every attack counts.
#[derive(Debug, Default)]
pub struct NoStressPlans;

impl StressPlans for NoStressPlans {
    fn plans_for(&self, _: IpAddr) -> PlansFuture<'_> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// Plans held in memory.
#[derive(Debug, Default)]
pub struct HeldStressPlans {
    plans: Mutex<Vec<StressPlanRecord>>,
}

impl HeldStressPlans {
    /// Puts `plan` in force.
    pub fn approve(&self, plan: StressPlanRecord) {
        self.plans
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(plan);
    }
}

impl StressPlans for HeldStressPlans {
    fn plans_for(&self, ip: IpAddr) -> PlansFuture<'_> {
        let found = self
            .plans
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|p| p.direction_of(ip).is_some())
            .cloned()
            .collect();
        Box::pin(async move { Ok(found) })
    }
}

/// What a harmful-behaviour detection does (HARM-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HarmAction {
    /// Open the case for an operator (triage).
    Report,
    /// Open the case and restrict the machine at once (`block_network`).
    Restrict,
}

/// `[ddos.harm]`: when outbound traffic from a tenant IP is harmful (HARM-1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HarmSettings {
    /// An outbound flood: at least this many bps from one IP (default 1 Gbps).
    pub flood_bps: u64,
    /// An outbound flood: or at least this many pps (default 500 000).
    pub flood_pps: u64,
    /// A scan: at least this many distinct hosts contacted within the collector's window
    /// (default 1000).
    pub scan_peers: u64,
    /// What a flood does (default `restrict`).
    pub flood_action: HarmAction,
    /// What a scan does (default `report`).
    pub scan_action: HarmAction,
    /// At most one report per IP and kind per this many minutes (1..=1440, default 30).
    pub repeat_minutes: u32,
}

impl Default for HarmSettings {
    fn default() -> Self {
        HarmSettings {
            flood_bps: 1_000_000_000,
            flood_pps: 500_000,
            scan_peers: 1000,
            flood_action: HarmAction::Restrict,
            scan_action: HarmAction::Report,
            repeat_minutes: 30,
        }
    }
}

/// A shared uplink (PEN-2): the prefixes behind it and the level that harms its other tenants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Uplink {
    /// Its name, as operators know it.
    pub name: String,
    /// The prefixes it carries.
    pub prefixes: Vec<IpNet>,
    /// An attack whose traffic alone reaches this many bps harms the uplink's other tenants.
    pub threshold_bps: u64,
}

/// `[ddos.isolation]` (PEN-2).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IsolationSettings {
    /// The shared uplinks; none (the default) = the rule never fires.
    pub uplinks: Vec<Uplink>,
    /// Confirm the case at once with wide impact, which isolates the account (default false:
    /// the case waits for an operator).
    pub auto_isolate: bool,
}

impl HarmSettings {
    /// Checks the configuration; the error names the field.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        for (name, v) in [
            ("flood_bps", self.flood_bps),
            ("flood_pps", self.flood_pps),
            ("scan_peers", self.scan_peers),
        ] {
            if v == 0 {
                return Err(InvalidInput::new(name, "must be above 0"));
            }
        }
        if !(1..=1440).contains(&self.repeat_minutes) {
            return Err(InvalidInput::new("repeat_minutes", "must be 1 to 1440"));
        }
        Ok(())
    }
}

impl IsolationSettings {
    /// Checks the configuration; the error names the field.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        for (i, u) in self.uplinks.iter().enumerate() {
            if warden_domain::text::is_blank(&u.name) {
                return Err(InvalidInput::new(format!("uplinks[{i}].name"), "is empty"));
            }
            if u.prefixes.is_empty() {
                return Err(InvalidInput::new(
                    format!("uplinks[{i}].prefixes"),
                    "must name at least one prefix",
                ));
            }
            if u.threshold_bps == 0 {
                return Err(InvalidInput::new(
                    format!("uplinks[{i}].threshold_bps"),
                    "must be above 0",
                ));
            }
        }
        Ok(())
    }

    /// The first uplink carrying `ip` whose threshold `bps` reaches.
    pub fn harmed(&self, ip: IpAddr, bps: u64) -> Option<&Uplink> {
        self.uplinks
            .iter()
            .find(|u| bps >= u.threshold_bps && u.prefixes.iter().any(|p| p.contains(&ip)))
    }
}

/// A harmful-behaviour finding of one IP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HarmFinding {
    pub ip: IpAddr,
    pub category: Category,
    pub action: HarmAction,
    pub description: String,
    pub evidence: serde_json::Value,
}

/// HARM-1: what one tick's outbound rates of one IP show, if anything harmful.
pub(crate) fn harm_of(h: &HarmSettings, r: &FlowRate, window_secs: u32) -> Vec<HarmFinding> {
    let mut out = Vec::new();
    let evidence = serde_json::json!({
        "out_bps": r.out_bps,
        "out_pps": r.out_pps,
        "out_peers": r.out_peers,
        "window_seconds": window_secs,
    });
    if r.out_bps >= h.flood_bps || r.out_pps >= h.flood_pps {
        out.push(HarmFinding {
            ip: r.ip,
            category: Category::DdosAttack,
            action: h.flood_action,
            description: format!(
                "HARM-1: outbound flood from {}: {} bps, {} pps (threshold {} bps or {} pps)",
                r.ip, r.out_bps, r.out_pps, h.flood_bps, h.flood_pps
            ),
            evidence: evidence.clone(),
        });
    }
    if r.out_peers >= h.scan_peers {
        out.push(HarmFinding {
            ip: r.ip,
            category: Category::Scanning,
            action: h.scan_action,
            description: format!(
                "HARM-1: {} contacted about {} distinct hosts within {} s (threshold {})",
                r.ip, r.out_peers, window_secs, h.scan_peers
            ),
            evidence,
        });
    }
    out
}

/// ASMT-2 in words: which plan and which limit.
pub(crate) fn exceeded_words(v: &PlanVerdict) -> String {
    let PlanVerdict::Exceeded { plan_id, exceeded } = v else {
        return String::new();
    };
    let limit = match exceeded {
        Exceeded::Window => "outside its window".to_string(),
        Exceeded::PeakBps {
            peak_bps,
            observed_bps,
        } => format!("{observed_bps} bps above its peak of {peak_bps} bps"),
        Exceeded::PeakPps {
            peak_pps,
            observed_pps,
        } => format!("{observed_pps} pps above its peak of {peak_pps} pps"),
        Exceeded::Source { source } => format!("from {source}, a source it did not declare"),
    };
    format!("ASMT-2: stress-test plan {plan_id} exists; this traffic went beyond it: {limit}")
}

/// The PEN-2 finding of an attacked IP: which uplink it harms, at what rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IsolationFinding {
    pub ip: IpAddr,
    pub uplink: String,
    pub threshold_bps: u64,
    pub observed_bps: u64,
}

/// What the rules opened or did after a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RuleOutcome {
    /// Harmful-behaviour cases reported (HARM-1), ids.
    pub harm_cases: Vec<String>,
    /// Cases of attacks that harmed other tenants (PEN-2), ids.
    pub isolation_cases: Vec<String>,
}

/// When each (IP, category) was last reported by these rules, ms: one report per
/// `repeat_minutes`.
#[derive(Debug, Default)]
pub struct RuleMemory {
    last: Mutex<HashMap<(IpAddr, Category), i64>>,
}

impl RuleMemory {
    /// Whether (ip, category) may be reported at `now`; if so, notes it.
    fn take(&self, ip: IpAddr, category: Category, now: i64, every_ms: i64) -> bool {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.len() > 100_000 {
            last.retain(|_, at| *at > now - every_ms);
        }
        match last.get(&(ip, category)) {
            Some(at) if *at > now - every_ms => false,
            _ => {
                last.insert((ip, category), now);
                true
            }
        }
    }
}

impl App {
    /// What the stress-test plans in force say of traffic of `ip` going `direction` (ASMT-2):
    /// inside one of them, beyond one (which limit), or no plan.
    pub(crate) async fn stress_verdict(
        &self,
        ip: IpAddr,
        direction: Direction,
        o: &Observed,
    ) -> AppResult<PlanVerdict> {
        let mut verdict = PlanVerdict::NoPlan;
        for p in self.stress_plans.plans_for(ip).await? {
            match p.verdict(ip, direction, o) {
                Some(Ok(())) => return Ok(PlanVerdict::Inside { plan_id: p.id }),
                Some(Err(exceeded)) if verdict == PlanVerdict::NoPlan => {
                    verdict = PlanVerdict::Exceeded {
                        plan_id: p.id,
                        exceeded,
                    };
                }
                _ => {}
            }
        }
        Ok(verdict)
    }

    /// ASMT-2: the case of traffic beyond a stress-test plan says so in its history: an
    /// `assessment.exceeded` event on the case naming the plan and the limit.
    pub(crate) async fn plan_exceeded_in_history(
        &self,
        tx: &mut warden_store::WriteTx,
        case_id: &str,
        account_id: &str,
        v: &PlanVerdict,
    ) -> AppResult<()> {
        let PlanVerdict::Exceeded { plan_id, exceeded } = v else {
            return Ok(());
        };
        let mut ev = self.event(
            &Principal::System,
            "assessment.exceeded",
            format!("case:{case_id}"),
        );
        ev.account_id = Some(account_id.to_string()).filter(|a| !a.is_empty());
        ev.details = serde_json::json!({
            "assessment_id": plan_id,
            "exceeded": exceeded,
            "reason": exceeded_words(v),
        });
        tx.append_audit(ev).await?;
        Ok(())
    }

    /// A report of the system's own detection, as a detector's (source `detector`), in its own
    /// transaction; the case id it joined or opened.
    async fn rule_report(
        &self,
        ip: IpAddr,
        category: Category,
        description: String,
        evidence: &serde_json::Value,
    ) -> AppResult<Option<String>> {
        let req = ReportRequest {
            target: Some(ip.to_string()),
            category: Some(category.code().to_string()),
            description: Some(description),
            evidence: Some(evidence.to_string()),
            confidence: Some(1.0),
            ..Default::default()
        };
        let valid = req.validate()?;
        let mut tx = self.store.begin_write().await?;
        let receipt = self
            .store_report(
                &mut tx,
                &Principal::System,
                Source::Detector,
                crate::intake::Format::Json,
                valid,
                None,
            )
            .await?;
        tx.commit().await?;
        self.metrics.inc_accepted(1);
        Ok(receipt.case_id.filter(|_| receipt.owned == Some(true)))
    }

    /// HARM-1 for one tick of flow rates: a case per harmful IP and kind (at most one report per
    /// `repeat_minutes`), restricted at once where configured. Traffic inside an approved
    /// stress-test plan is not harmful.
    pub(crate) async fn harm_rules(
        &self,
        at: Timestamp,
        window_secs: u32,
        rates: &[FlowRate],
        outcome: &mut RuleOutcome,
    ) -> AppResult<()> {
        let every_ms = i64::from(self.ddos.harm.repeat_minutes) * 60_000;
        for r in rates {
            for mut f in harm_of(&self.ddos.harm, r, window_secs) {
                let observed = Observed {
                    at,
                    bps: r.out_bps,
                    pps: r.out_pps,
                    sources: vec![],
                };
                let mut beyond_plan = None;
                match self
                    .stress_verdict(f.ip, Direction::Outbound, &observed)
                    .await?
                {
                    PlanVerdict::NoPlan => {}
                    PlanVerdict::Inside { plan_id } => {
                        tracing::debug!(ip = %f.ip, plan_id, "outbound traffic inside an approved stress test");
                        continue;
                    }
                    v @ PlanVerdict::Exceeded { .. } => {
                        f.description
                            .push_str(&format!(" — {}", exceeded_words(&v)));
                        if let Some(e) = f.evidence.as_object_mut() {
                            e.insert("stress_plan".into(), serde_json::json!(v));
                        }
                        beyond_plan = Some(v);
                    }
                }
                if !self
                    .rule_memory
                    .take(f.ip, f.category, self.now(), every_ms)
                {
                    continue;
                }
                let Some(case_id) = self
                    .rule_report(f.ip, f.category, f.description.clone(), &f.evidence)
                    .await?
                else {
                    // No resource owns the IP: the report waits in triage as unowned.
                    continue;
                };
                if let Some(v) = &beyond_plan {
                    let mut tx = self.store.begin_write().await?;
                    let account = tx
                        .get_case_for_update(&case_id)
                        .await?
                        .and_then(|c| c.account_id);
                    self.plan_exceeded_in_history(
                        &mut tx,
                        &case_id,
                        account.as_deref().unwrap_or_default(),
                        v,
                    )
                    .await?;
                    tx.commit().await?;
                }
                if f.action == HarmAction::Restrict {
                    let input = EnforceInput {
                        actions: Some(vec!["block_network".into()]),
                        no_unblock: false,
                        reason: Some(f.description.clone()),
                    };
                    match self.enforce_case(&Principal::System, &case_id, input).await {
                        // Already restricted (a report that joined the case), or moved on.
                        Ok(_) | Err(AppError::Conflict(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
                outcome.harm_cases.push(case_id);
            }
        }
        Ok(())
    }

    /// PEN-2 for attacked IPs whose traffic harms a shared uplink: a `ddos_victim_impact` case
    /// that impacts other tenants; confirmed with wide impact (isolation) when configured.
    pub(crate) async fn isolation_rules(
        &self,
        found: Vec<IsolationFinding>,
        outcome: &mut RuleOutcome,
    ) -> AppResult<()> {
        let every_ms = i64::from(self.ddos.harm.repeat_minutes) * 60_000;
        for f in found {
            if !self
                .rule_memory
                .take(f.ip, Category::DdosVictimImpact, self.now(), every_ms)
            {
                continue;
            }
            let description = format!(
                "PEN-2: the attack on {} ({} bps) reaches shared uplink {}'s threshold ({} bps) and harms its other tenants",
                f.ip, f.observed_bps, f.uplink, f.threshold_bps
            );
            let evidence = serde_json::json!({
                "rule": "PEN-2",
                "uplink": f.uplink,
                "threshold_bps": f.threshold_bps,
                "observed_bps": f.observed_bps,
            });
            let Some(case_id) = self
                .rule_report(
                    f.ip,
                    Category::DdosVictimImpact,
                    description.clone(),
                    &evidence,
                )
                .await?
            else {
                continue;
            };
            if self.ddos.isolation.auto_isolate {
                let input = ConfirmInput {
                    reason: Some(description),
                    impacts_other_tenants: Some(true),
                    wide_impact: Some(true),
                    ..Default::default()
                };
                match self.confirm_case(&Principal::System, &case_id, input).await {
                    Ok(_) | Err(AppError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            outcome.isolation_cases.push(case_id);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(out_bps: u64, out_pps: u64, out_peers: u64) -> FlowRate {
        FlowRate {
            ip: "203.0.113.9".parse().unwrap(),
            in_bps: 0,
            in_pps: 0,
            out_bps,
            out_pps,
            out_peers,
            top_protocols: vec![],
            top_sources: vec![],
        }
    }

    /// HARM-1: a flood by bps or by pps, a scan by peers; quiet traffic is nothing.
    #[test]
    fn harm_thresholds() {
        let h = HarmSettings::default();
        assert!(harm_of(&h, &rate(999_999_999, 499_999, 999), 10).is_empty());
        let f = harm_of(&h, &rate(1_000_000_000, 0, 0), 10);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].category, Category::DdosAttack);
        assert_eq!(f[0].action, HarmAction::Restrict);
        assert_eq!(
            harm_of(&h, &rate(0, 500_000, 0), 10)[0].category,
            Category::DdosAttack
        );
        let s = harm_of(&h, &rate(0, 0, 1000), 10);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].category, Category::Scanning);
        assert_eq!(s[0].action, HarmAction::Report);
        assert!(
            s[0].description.contains("1000 distinct hosts"),
            "{}",
            s[0].description
        );
        assert_eq!(harm_of(&h, &rate(2_000_000_000, 0, 5000), 10).len(), 2);
    }

    /// ASMT-2: a plan concerns its targets inbound and its sources outbound; outbound traffic
    /// is judged by window and peaks only.
    #[test]
    fn plan_directions() {
        let p = StressPlanRecord {
            id: "asm_1".into(),
            targets: vec![AssessmentTarget::parse("203.0.113.8/30").unwrap()],
            sources: vec!["198.51.100.0/28".parse().unwrap()],
            window_start: Timestamp(1000),
            window_end: Timestamp(2000),
            plan: Plan {
                peak_bps: 5000,
                peak_pps: 50,
                peak_rps: 0,
                method: "m".into(),
                contact: "c".into(),
                rollback_plan: "r".into(),
                attest_rights: true,
                attest_backups: false,
            },
        };
        let target: IpAddr = "203.0.113.9".parse().unwrap();
        let source: IpAddr = "198.51.100.3".parse().unwrap();
        let o = |src: &str| Observed {
            at: Timestamp(1500),
            bps: 4000,
            pps: 40,
            sources: vec![src.parse().unwrap()],
        };
        assert_eq!(p.direction_of(target), Some(Direction::Inbound));
        assert_eq!(p.direction_of(source), Some(Direction::Outbound));
        assert_eq!(
            p.verdict(target, Direction::Inbound, &o("198.51.100.4")),
            Some(Ok(()))
        );
        assert!(matches!(
            p.verdict(target, Direction::Inbound, &o("192.0.2.1")),
            Some(Err(Exceeded::Source { .. }))
        ));
        assert_eq!(
            p.verdict(source, Direction::Outbound, &o("192.0.2.1")),
            Some(Ok(()))
        );
        assert_eq!(
            p.verdict(target, Direction::Outbound, &o("198.51.100.4")),
            None
        );
    }

    /// PEN-2: the uplink rule fires only for its prefixes and at its threshold.
    #[test]
    fn uplink_rule() {
        let s = IsolationSettings {
            uplinks: vec![Uplink {
                name: "bj-1".into(),
                prefixes: vec!["203.0.113.0/24".parse().unwrap()],
                threshold_bps: 10_000,
            }],
            auto_isolate: false,
        };
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        assert!(s.harmed(ip, 9_999).is_none());
        assert_eq!(s.harmed(ip, 10_000).map(|u| u.name.as_str()), Some("bj-1"));
        assert!(s.harmed("198.51.100.7".parse().unwrap(), 1 << 40).is_none());
        assert!(s.validate().is_ok());
        let mut bad = s.clone();
        bad.uplinks[0].prefixes.clear();
        assert_eq!(bad.validate().unwrap_err().field, "uplinks[0].prefixes");
    }

    /// One report per IP and kind per period; other IPs and kinds are separate.
    #[test]
    fn memory_limits_repeats() {
        let m = RuleMemory::default();
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        assert!(m.take(ip, Category::Scanning, 0, 1000));
        assert!(!m.take(ip, Category::Scanning, 999, 1000));
        assert!(m.take(ip, Category::DdosAttack, 999, 1000));
        assert!(m.take(ip, Category::Scanning, 1000, 1000));
    }
}
