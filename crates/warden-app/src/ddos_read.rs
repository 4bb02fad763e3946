//! The read side of DDoS (DDOS-1, DDOS-5, DDOS-6): an IP's protection and traffic, the
//! blackholes and the attacks, for the JSON API and the console.
//!
//! Every use case here reads through the [`warden_store::Store`]'s pool, never inside
//! [`warden_store::Store::begin_write`]: a tenant watching its traffic chart refresh every few
//! seconds, or staff paging through attacks, must never queue behind telemetry ingestion for the
//! one writer's lock (SQLite) or hold row locks (PostgreSQL). The reads are separate statements,
//! not one snapshot; what they may disagree on (a blackhole released between two reads) is
//! shown as it was a moment apart, which a page refreshing every few seconds corrects.
//!
//! Tenant isolation is the same as on the write side: an IP that is no public IP of a resource
//! of the caller's account is `NotFound("ip")`, exactly like an IP no resource has.
//!
//! The console shows a blackhole's reason in the page language from the `why` of its decisions
//! ([`BlackholeLine`]): the domain's [`Why`] is kept in each decision's audit event, so it is
//! read back from there rather than from the English `reason` (the latest decision's, for the
//! API and the audit log).

use std::collections::HashMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use warden_domain::blackhole::{Protection, Quota, State, capacity_bps};
use warden_domain::identity::{Role, Scope};
use warden_domain::resource::{InvalidInput, Target};
use warden_domain::time::Timestamp;
use warden_domain::why::Why;
use warden_store::ddos::{AttackRecord, BlackholeFilter, BlackholeRow};
use warden_store::resources::Resource;

use crate::App;
use crate::auth::Principal;
use crate::ddos::{
    BlackholeList, BlackholeQuery, BlackholeView, IpText, ProtectionView, TrafficView, parse_ip,
};
use crate::error::{AppError, AppResult};

/// Who may read protection, traffic, blackholes and attacks (a tenant: its own).
const DDOS_READERS: &[Role] = &[Role::Admin, Role::Operator, Role::Reviewer, Role::Tenant];
/// The traffic window of the chart and of `GET /api/ips/{ip}/traffic` (DDOS-6).
pub const TRAFFIC_WINDOW_MS: i64 = 86_400_000;
/// Most items of one page of attacks or blackholes.
pub const MAX_PAGE: i64 = 500;

/// What the read side knows of an IP: its resource and its protection in force.
#[derive(Debug, Clone)]
pub(crate) struct IpRead {
    ip: IpAddr,
    text: String,
    resource: Resource,
    protection: Protection,
    capacity: u64,
}

/// One public IP of an account with its protection and any active blackhole (the tenant's
/// list of IPs).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct IpLine {
    /// The IP.
    pub ip: String,
    /// Its resource.
    pub resource_id: String,
    /// The resource's name.
    pub resource_name: String,
    /// Its protection now.
    pub protection: Protection,
    /// The capacity in force, bps.
    pub capacity_bps: u64,
    /// Its active blackhole, if any.
    pub active_blackhole: Option<BlackholeView>,
}

/// A blackhole with its reasons in codes (UI-2, DDOS-6): why it started and, once extended or
/// released, why that happened last.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct BlackholeLine {
    /// The blackhole.
    pub blackhole: BlackholeView,
    /// Why it started (`blackhole_started` with the peak and capacity).
    pub started: Option<Why>,
    /// Why it was last extended or released, if it was.
    pub latest: Option<Why>,
}

/// A page of blackholes; `next` continues after the last one.
#[derive(Debug, Clone)]
pub struct BlackholePage {
    /// Newest first.
    pub items: Vec<BlackholeLine>,
    /// The id to continue below, when there may be more.
    pub next: Option<String>,
}

/// One protocol's share of an attack's inbound bytes (from the flow collector's evidence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ProtocolShare {
    /// IANA protocol number (6 TCP, 17 UDP, 1 ICMP...).
    pub protocol: u8,
    /// Bytes seen in the window.
    pub bytes: u64,
}

/// One source's share of an attack's inbound bytes (from the flow collector's evidence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SourceShare {
    /// The source address.
    #[schemars(with = "IpText")]
    pub ip: String,
    /// Bytes seen in the window.
    pub bytes: u64,
}

/// An attack against an IP (DDOS-3, DDOS-6).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AttackView {
    /// Id (`atk_...`).
    pub id: String,
    /// The IP attacked.
    pub ip: String,
    /// Its account.
    pub account_id: String,
    /// Its resource.
    pub resource_id: String,
    /// The blackhole it started.
    pub blackhole_id: Option<String>,
    /// Seen first.
    pub started_at: Timestamp,
    /// Over: its blackhole was released (absent while it holds).
    pub ended_at: Option<Timestamp>,
    /// Peak inbound bps.
    pub peak_bps: u64,
    /// Peak inbound pps.
    pub peak_pps: u64,
    /// The detection's average inbound bps over its window, when recorded.
    pub avg_bps: Option<u64>,
    /// The largest inbound protocols by bytes, largest first (flow collectors only; empty
    /// for a detector's samples, which carry none).
    pub top_protocols: Vec<ProtocolShare>,
    /// The largest inbound sources by bytes, largest first (flow collectors only).
    pub top_sources: Vec<SourceShare>,
}

impl From<&AttackRecord> for AttackView {
    fn from(a: &AttackRecord) -> Self {
        let evidence: serde_json::Value = serde_json::from_str(&a.evidence).unwrap_or_default();
        let list = |name: &str| {
            evidence
                .get(name)
                .and_then(serde_json::Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let top_protocols = list("top_protocols")
            .iter()
            .filter_map(|p| {
                Some(ProtocolShare {
                    protocol: u8::try_from(p.get("protocol")?.as_u64()?).ok()?,
                    bytes: p.get("bytes")?.as_u64()?,
                })
            })
            .take(10)
            .collect();
        let top_sources = list("top_sources")
            .iter()
            .filter_map(|p| {
                let ip: IpAddr = p.get("ip")?.as_str()?.parse().ok()?;
                Some(SourceShare {
                    ip: ip.to_string(),
                    bytes: p.get("bytes")?.as_u64()?,
                })
            })
            .take(10)
            .collect();
        AttackView {
            id: a.id.clone(),
            ip: a.ip.clone(),
            account_id: a.account_id.clone(),
            resource_id: a.resource_id.clone(),
            blackhole_id: a.blackhole_id.clone(),
            started_at: Timestamp(a.started_at),
            ended_at: a.ended_at.map(Timestamp),
            peak_bps: u64::try_from(a.peak_bps).unwrap_or(0),
            peak_pps: u64::try_from(a.peak_pps).unwrap_or(0),
            avg_bps: evidence.get("avg_bps").and_then(serde_json::Value::as_u64),
            top_protocols,
            top_sources,
        }
    }
}

/// Query of `GET /api/attacks`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttackQuery {
    /// Only attacks on this IP (an IP that is not the caller's lists nothing, like one no
    /// resource has).
    #[serde(default)]
    #[schemars(with = "Option<IpText>")]
    pub ip: Option<String>,
    /// Continue after this id (`next_after` of the previous page): the list is newest first,
    /// so the next page holds older attacks.
    #[serde(default)]
    pub after: Option<String>,
    /// At most this many items (1 to 500; default 100).
    #[serde(default)]
    #[schemars(range(min = 1, max = 500))]
    pub limit: Option<i64>,
}

/// `GET /api/attacks`: a page of attacks, newest first.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AttackPage {
    /// This page.
    pub items: Vec<AttackView>,
    /// Pass as `after` for the next page; `null` on the last.
    pub next_after: Option<String>,
}

/// The one address of a `public_ip` identifier as stored (`203.0.113.5/32`, `2001:db8::5/128`,
/// or a bare address); `None` for a wider range, whose addresses are not listed one by one.
fn single_address(value: &str) -> Option<IpAddr> {
    let (addr, len) = value.split_once('/').unwrap_or((value, ""));
    let ip: IpAddr = addr.parse().ok()?;
    let host = match ip {
        IpAddr::V4(_) => "32",
        IpAddr::V6(_) => "128",
    };
    (len.is_empty() || len == host).then_some(ip)
}

/// Keyset paging: `rows` were read with one more than `limit`; cuts them and gives the key of
/// the last one kept when there is more.
fn cut<T>(rows: &mut Vec<T>, limit: i64, key: impl Fn(&T) -> String) -> Option<String> {
    let limit = usize::try_from(limit).unwrap_or(0);
    if rows.len() <= limit {
        return None;
    }
    rows.truncate(limit);
    rows.last().map(key)
}

/// A page size asked for: `default` without one, 1 to [`MAX_PAGE`], else invalid naming `limit`.
fn page_limit(limit: Option<i64>, default: i64) -> AppResult<i64> {
    match limit {
        None => Ok(default),
        Some(n @ 1..=MAX_PAGE) => Ok(n),
        Some(_) => Err(InvalidInput::new("limit", format!("must be 1 to {MAX_PAGE}")).into()),
    }
}

impl App {
    /// The IP's resource and protection, read from the pool; `None` when no resource has it
    /// as a public IP, or (for a tenant) when it is another account's — the two alike.
    pub(crate) async fn ip_read(&self, ip: IpAddr, scope: &Scope) -> AppResult<Option<IpRead>> {
        if *scope == Scope::Nobody {
            return Ok(None);
        }
        let Some(owner) = self
            .store
            .lookup_owner(&Scope::All, &Target::Ip(ip))
            .await?
        else {
            return Ok(None);
        };
        if owner.identifier.kind != "public_ip"
            || scope.account().is_some_and(|a| a != owner.account_id)
        {
            return Ok(None);
        }
        let Some(resource) = self
            .store
            .get_resource(&Scope::All, &owner.resource_id)
            .await?
        else {
            return Ok(None);
        };
        let text = ip.to_string();
        let protection = self.store.read_ip_protection(&text).await?;
        Ok(Some(IpRead {
            capacity: capacity_bps(
                &self.ddos.protection,
                ip,
                Some(resource.region.as_str()),
                protection,
            ),
            ip,
            text,
            resource,
            protection,
        }))
    }

    async fn ip_read_or_404(&self, who: &Principal, ip: &str) -> AppResult<IpRead> {
        let ip = parse_ip(ip)?;
        self.ip_read(ip, &who.scope())
            .await?
            .ok_or(AppError::NotFound("ip"))
    }

    /// `GET /api/ips/{ip}/protection`: an IP's protection and history (a tenant: its own).
    pub async fn ip_protection(&self, who: &Principal, ip: &str) -> AppResult<ProtectionView> {
        who.require(DDOS_READERS, "read IP protection")?;
        let ctx = self.ip_read_or_404(who, ip).await?;
        let active = self
            .store
            .read_latest_blackhole(&ctx.text)
            .await?
            .filter(|b| b.state == State::Active);
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
            active_blackhole: active.as_ref().map(BlackholeView::from),
        })
    }

    /// `GET /api/ips/{ip}/traffic`: the last 24 hours of an IP's traffic (DDOS-6).
    pub async fn ip_traffic(&self, who: &Principal, ip: &str) -> AppResult<TrafficView> {
        who.require(DDOS_READERS, "read traffic")?;
        let ctx = self.ip_read_or_404(who, ip).await?;
        Ok(TrafficView {
            minutes: self
                .store
                .traffic_of(&ctx.text, self.now() - TRAFFIC_WINDOW_MS)
                .await?,
            ip: ctx.text,
            capacity_bps: ctx.capacity,
        })
    }

    /// `GET /api/blackholes`: a tenant's own (with its quota), or every one for staff.
    pub async fn list_blackholes(
        &self,
        who: &Principal,
        q: &BlackholeQuery,
    ) -> AppResult<BlackholeList> {
        who.require(DDOS_READERS, "read blackholes")?;
        let scope = who.scope();
        let rows = self
            .store
            .list_blackholes(&scope, q.active.unwrap_or(false), 500)
            .await?;
        let quota = match scope.account() {
            Some(a) => Some(self.quota_of(a).await?),
            None => None,
        };
        Ok(BlackholeList {
            items: rows.iter().map(BlackholeView::from).collect(),
            quota,
        })
    }

    /// The tenant's self-service early-release quota this month (DDOS-5); `None` for staff,
    /// who have none.
    pub async fn release_quota(&self, who: &Principal) -> AppResult<Option<Quota>> {
        who.require(DDOS_READERS, "read the release quota")?;
        match who.scope().account() {
            Some(a) => Ok(Some(self.quota_of(a).await?)),
            None => Ok(None),
        }
    }

    /// The public IPs of the caller's account (staff: of every account, at most 500 resources)
    /// with their protection, capacity and active blackhole, in the order of their resources.
    /// A `public_ip` identifier that is a range wider than one address is not listed.
    pub async fn list_ips(&self, who: &Principal) -> AppResult<Vec<IpLine>> {
        who.require(DDOS_READERS, "read IP protection")?;
        let scope = who.scope();
        let resources = self.store.list_resources(&scope, None, "", 500).await?;
        let protections: HashMap<String, Protection> = self
            .store
            .ip_protections(&scope)
            .await?
            .into_iter()
            .collect();
        let active = self
            .store
            .blackholes_page(
                &scope,
                &BlackholeFilter {
                    active_only: true,
                    ..Default::default()
                },
                MAX_PAGE,
            )
            .await?;
        let mut out = Vec::new();
        for r in &resources {
            for i in r.identifiers.iter().filter(|i| i.kind == "public_ip") {
                let Some(ip) = single_address(&i.value) else {
                    continue;
                };
                let text = ip.to_string();
                let protection = protections.get(&text).copied().unwrap_or(Protection::Basic);
                out.push(IpLine {
                    capacity_bps: capacity_bps(
                        &self.ddos.protection,
                        ip,
                        Some(r.region.as_str()),
                        protection,
                    ),
                    active_blackhole: active
                        .iter()
                        .find(|b| b.ip == text)
                        .map(BlackholeView::from),
                    ip: text,
                    resource_id: r.id.clone(),
                    resource_name: r.name.clone(),
                    protection,
                });
            }
        }
        Ok(out)
    }

    /// A page of blackholes with their reasons in codes, newest first: of one IP (`ip`, which
    /// a tenant must own: another account's is `NotFound("ip")` like an unknown one), or
    /// across the caller's scope; `f.before` continues below the previous page's last id.
    pub async fn blackhole_lines(
        &self,
        who: &Principal,
        f: &BlackholeFilter,
        limit: i64,
    ) -> AppResult<BlackholePage> {
        who.require(DDOS_READERS, "read blackholes")?;
        let limit = page_limit(Some(limit), 50)?;
        let mut f = f.clone();
        if let Some(ip) = &f.ip {
            f.ip = Some(self.ip_read_or_404(who, ip).await?.text);
        }
        let mut rows = self
            .store
            .blackholes_page(&who.scope(), &f, limit + 1)
            .await?;
        let next = cut(&mut rows, limit, |b| b.id.clone());
        let mut whys = self.blackhole_whys(&rows).await?;
        Ok(BlackholePage {
            items: rows
                .iter()
                .map(|b| {
                    let (started, latest) = whys.remove(&b.id).unwrap_or_default();
                    BlackholeLine {
                        blackhole: BlackholeView::from(b),
                        started,
                        latest,
                    }
                })
                .collect(),
            next,
        })
    }

    /// The `why` of each blackhole's start and of its latest extension or release, from the
    /// decisions' audit events (a few blackholes per query: an attack whose peak kept rising
    /// has many events, and each query reads at most 500).
    async fn blackhole_whys(
        &self,
        rows: &[BlackholeRow],
    ) -> AppResult<HashMap<String, (Option<Why>, Option<Why>)>> {
        let mut out: HashMap<String, (Option<Why>, Option<Why>)> = HashMap::new();
        for chunk in rows.chunks(5) {
            let subjects: Vec<String> = chunk
                .iter()
                .map(|b| format!("blackhole:{}", b.id))
                .collect();
            for e in self.store.list_audit_for_subjects(&subjects, 500).await? {
                let Some(id) = e.subject.strip_prefix("blackhole:") else {
                    continue;
                };
                let details: serde_json::Value =
                    serde_json::from_str(&e.details).unwrap_or_default();
                let Some(why) = details
                    .get("why")
                    .and_then(|w| serde_json::from_value::<Why>(w.clone()).ok())
                else {
                    continue;
                };
                let entry = out.entry(id.to_string()).or_default();
                match e.action.as_str() {
                    "blackhole.started" => entry.0 = Some(why),
                    "blackhole.extended" | "blackhole.released" => entry.1 = Some(why),
                    _ => {}
                }
            }
        }
        Ok(out)
    }

    /// `GET /api/attacks`: attacks, newest first (a tenant: on its own IPs); `ip` keeps one
    /// IP's; keyset paged by `after`.
    pub async fn list_attacks(&self, who: &Principal, q: &AttackQuery) -> AppResult<AttackPage> {
        who.require(DDOS_READERS, "read attacks")?;
        let limit = page_limit(q.limit, 100)?;
        let ip = match q.ip.as_deref() {
            Some(ip) => Some(parse_ip(ip)?.to_string()),
            None => None,
        };
        let after = q.after.as_deref().filter(|a| !a.is_empty());
        let mut rows = self
            .store
            .attacks_page(&who.scope(), ip.as_deref(), after, limit + 1)
            .await?;
        let next_after = cut(&mut rows, limit, |a| a.id.clone());
        Ok(AttackPage {
            items: rows.iter().map(AttackView::from).collect(),
            next_after,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_ip_identifier_is_listed_when_it_is_one_address() {
        for (value, ip) in [
            ("203.0.113.5/32", Some("203.0.113.5")),
            ("203.0.113.5", Some("203.0.113.5")),
            ("2001:db8::5/128", Some("2001:db8::5")),
            ("203.0.113.0/24", None),
            ("2001:db8::/64", None),
            ("nonsense", None),
        ] {
            assert_eq!(
                single_address(value).map(|i| i.to_string()).as_deref(),
                ip,
                "{value}"
            );
        }
    }

    #[test]
    fn an_attacks_evidence_gives_its_top_protocols_and_sources() {
        let a = AttackRecord {
            id: "atk_1".into(),
            ip: "203.0.113.5".into(),
            account_id: "acme".into(),
            resource_id: "vm".into(),
            blackhole_id: None,
            started_at: 0,
            ended_at: None,
            peak_bps: 3,
            peak_pps: -1,
            evidence: r#"{"avg_bps": 2, "top_protocols": [{"protocol": 17, "bytes": 9}, {"protocol": 999, "bytes": 1}], "top_sources": [{"ip": "198.51.100.9", "bytes": 4}, {"ip": "nope", "bytes": 1}]}"#.into(),
        };
        let v = AttackView::from(&a);
        assert_eq!(v.avg_bps, Some(2));
        assert_eq!(v.peak_pps, 0);
        assert_eq!(
            v.top_protocols,
            vec![ProtocolShare {
                protocol: 17,
                bytes: 9
            }]
        );
        assert_eq!(v.top_sources.len(), 1);
        // A detector's evidence has neither.
        let plain = AttackView::from(&AttackRecord {
            evidence: r#"{"detector": "tok_1"}"#.into(),
            ..a
        });
        assert!(plain.top_protocols.is_empty() && plain.top_sources.is_empty());
    }
}

/// What the traffic chart draws (DDOS-6): the IP's last 24 hours and the blackholes that
/// overlap them.
#[derive(Debug, Clone)]
pub struct TrafficChartData {
    /// The traffic and the capacity in force.
    pub traffic: TrafficView,
    /// The blackholes overlapping the window, newest first.
    pub blackholes: Vec<BlackholeView>,
    /// The window's start, ms.
    pub from: i64,
    /// The window's end (now), ms.
    pub to: i64,
}

impl App {
    /// An IP's traffic of the last 24 hours with the blackholes overlapping them, for its
    /// chart (a tenant: its own IP; another account's is `NotFound("ip")`).
    pub async fn traffic_chart(&self, who: &Principal, ip: &str) -> AppResult<TrafficChartData> {
        let traffic = self.ip_traffic(who, ip).await?;
        let to = self.now();
        let from = to - TRAFFIC_WINDOW_MS;
        let rows = self
            .store
            .blackholes_page(
                &who.scope(),
                &BlackholeFilter {
                    ip: Some(traffic.ip.clone()),
                    ..Default::default()
                },
                50,
            )
            .await?;
        let blackholes = rows
            .iter()
            .filter(|b| b.ended_at.is_none_or(|e| e >= from))
            .map(BlackholeView::from)
            .collect();
        Ok(TrafficChartData {
            traffic,
            blackholes,
            from,
            to,
        })
    }
}
