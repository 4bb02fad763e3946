//! X-ARF: v4 (the JSON of the current xarf-spec, `schemas/v4`) checked here, v3 delegated to
//! [`warden_domain::xarf::parse_v3`]. [`parse_json`] tells them apart by their keys:
//! `xarf_version` is v4, `Version`/`ReporterInfo`/`Report` is v3.
//!
//! # v4 validation
//!
//! What the schemas require is required here, field by field, and a missing or wrong one is
//! refused naming it: the core (`xarf_version` 4.x.y, `report_id` a UUID, `timestamp` RFC 3339,
//! `reporter` and `sender` with `org`/`contact`/`domain`, `source_identifier`, `category`,
//! `type`), the category's known types (an unknown type is `unknown_type`), each type's own
//! required fields ([`V4_TYPES`]) and the schemas' conditions (`source_port` for an IP source of
//! `login_attack`/`port_scan`/`ddos`; `smtp_from` and `source_port` for SMTP `spam` and
//! `bulk_messaging`; `swarm_info.info_hash` or `.magnet_uri` for `p2p`;
//! `message_info.message_id` for `usenet`). Of the optional fields, those Warden reads are
//! checked (`source_port`, `confidence`, `first_seen`, `evidence` items). Unknown fields are
//! allowed, as in the schemas (`additionalProperties: true`).
//!
//! # v4 mapping
//!
//! | category/type | Warden category | disposition |
//! |---|---|---|
//! | messaging/spam, messaging/bulk_messaging | `spam_mail` | violation |
//! | connection/login_attack, connection/sql_injection | `hacking` | violation |
//! | connection/port_scan, connection/reconnaissance, connection/vulnerability_scan | `scanning` | violation |
//! | connection/ddos | `ddos_attack` | violation |
//! | connection/infected_host | `malware` (a bot on the tenant's host) | violation |
//! | connection/scraping | `malicious_crawler` | violation |
//! | vulnerability/cve, vulnerability/open_service, vulnerability/misconfiguration | `cyber_harm` | notify-only (INT-6) |
//! | reputation/blocklist, reputation/threat_intelligence | by `threat_type` (spam → `spam_mail`, phishing → `fraud_phishing`, malware/botnet/C2 → `malware`, scan → `scanning`, DDoS → `ddos_attack`, brute force → `hacking`, else `cyber_harm`) | notify-only: a listing is not evidence of an act |
//! | infrastructure/botnet, infrastructure/compromised_server | `malware` | violation |
//! | content/phishing | `fraud_phishing` | violation |
//! | content/malware | `malware` | violation |
//! | content/csam, content/csem | `porn_vulgar` (the taxonomy's sexual-content category, as v3's ChildAbuse) | violation |
//! | content/exposed_data | `privacy` | violation |
//! | content/brand_infringement | `rights_infringement` | violation |
//! | content/fraud | `fraud` | violation |
//! | content/remote_compromise | `hacking` (a webshell, a defacement: the site was broken into) | violation |
//! | content/suspicious_registration | `fraud_phishing` | notify-only: nothing has happened yet |
//! | copyright/* | `infringement` | violation |
//!
//! Targets: `url` (content) or `infringing_url` (copyright) first, then `source_identifier`;
//! one Warden cannot act on is skipped with a warning; none at all is `no_target`.
//! X-ARF v3's `Vulnerability/*` (open services) is notify-only too.

use serde_json::{Map, Value};
use warden_domain::report::MAX_EVIDENCE_BYTES;
use warden_domain::resource::Target;
use warden_domain::taxonomy::Category;
use warden_domain::time::Timestamp;

use crate::error::MailError;
use crate::report::{Details, Disposition, Format, ParsedReport, RawPart, Reporter};
use crate::{Limits, cut_text, push_target};

/// What a JSON part turned out to be.
#[derive(Debug)]
pub enum Json {
    /// An X-ARF report (v3 or v4).
    Report(Box<ParsedReport>),
    /// Valid JSON that is not X-ARF (neither `xarf_version` nor `Version`/`Report`).
    NotXarf,
}

/// Conditions the schemas add with `if`/`then` and `anyOf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// None.
    None,
    /// `source_port` when `source_identifier` is an IP address.
    PortIfIp,
    /// `smtp_from` and `source_port` when `protocol` is `smtp`.
    Smtp,
    /// `swarm_info` with `info_hash` or `magnet_uri`.
    Swarm,
    /// `message_info` with `message_id`.
    UsenetMessage,
}

/// One v4 type: category, type, its own required fields, its condition, and the mapping.
#[derive(Debug, Clone, Copy)]
pub struct V4Type {
    /// `category`.
    pub category: &'static str,
    /// `type`.
    pub report_type: &'static str,
    /// Fields the type's schema requires beyond the core.
    pub required: &'static [&'static str],
    /// The schema's condition.
    pub condition: Condition,
    /// The Warden category (reputation types: see [`reputation_category`]).
    pub maps_to: Category,
    /// Violation or notify-only.
    pub disposition: Disposition,
}

macro_rules! v4 {
    ($($cat:literal / $ty:literal [$($req:literal),*] $cond:ident => $c:ident $d:ident;)*) => {
        /// Every type of X-ARF v4 (xarf-spec `schemas/v4/types`).
        pub const V4_TYPES: &[V4Type] = &[$(V4Type {
            category: $cat,
            report_type: $ty,
            required: &[$($req),*],
            condition: Condition::$cond,
            maps_to: Category::$c,
            disposition: Disposition::$d,
        }),*];
    };
}

v4! {
    "messaging"/"spam" ["protocol"] Smtp => SpamMail Violation;
    "messaging"/"bulk_messaging" ["protocol", "recipient_count"] Smtp => SpamMail Violation;
    "connection"/"login_attack" ["protocol", "first_seen"] PortIfIp => Hacking Violation;
    "connection"/"port_scan" ["protocol", "first_seen"] PortIfIp => Scanning Violation;
    "connection"/"ddos" ["protocol", "first_seen"] PortIfIp => DdosAttack Violation;
    "connection"/"infected_host" ["protocol", "bot_type", "first_seen"] None => Malware Violation;
    "connection"/"reconnaissance" ["protocol", "probed_resources", "first_seen"] None => Scanning Violation;
    "connection"/"scraping" ["protocol", "first_seen", "total_requests"] None => MaliciousCrawler Violation;
    "connection"/"sql_injection" ["protocol", "first_seen"] None => Hacking Violation;
    "connection"/"vulnerability_scan" ["scan_type", "protocol", "first_seen"] None => Scanning Violation;
    "vulnerability"/"cve" ["service", "service_port", "cve_id"] None => CyberHarm NotifyOnly;
    "vulnerability"/"open_service" ["service"] None => CyberHarm NotifyOnly;
    "vulnerability"/"misconfiguration" ["service"] None => CyberHarm NotifyOnly;
    "reputation"/"blocklist" ["threat_type"] None => CyberHarm NotifyOnly;
    "reputation"/"threat_intelligence" ["threat_type"] None => CyberHarm NotifyOnly;
    "infrastructure"/"botnet" ["compromise_evidence"] None => Malware Violation;
    "infrastructure"/"compromised_server" ["compromise_method"] None => Malware Violation;
    "content"/"phishing" ["url"] None => FraudPhishing Violation;
    "content"/"malware" ["url"] None => Malware Violation;
    "content"/"csam" ["url", "classification", "detection_method"] None => PornVulgar Violation;
    "content"/"csem" ["url", "exploitation_type", "detection_method"] None => PornVulgar Violation;
    "content"/"exposed_data" ["url", "data_types", "exposure_method"] None => Privacy Violation;
    "content"/"brand_infringement" ["url", "infringement_type", "legitimate_site"] None => RightsInfringement Violation;
    "content"/"fraud" ["url", "fraud_type"] None => Fraud Violation;
    "content"/"remote_compromise" ["url", "compromise_type"] None => Hacking Violation;
    "content"/"suspicious_registration" ["url", "registration_date", "suspicious_indicators"] None => FraudPhishing NotifyOnly;
    "copyright"/"copyright" ["infringing_url"] None => Infringement Violation;
    "copyright"/"p2p" ["p2p_protocol"] Swarm => Infringement Violation;
    "copyright"/"cyberlocker" ["infringing_url", "hosting_service"] None => Infringement Violation;
    "copyright"/"ugc_platform" ["infringing_url", "platform_name"] None => Infringement Violation;
    "copyright"/"link_site" ["infringing_url", "site_name"] None => Infringement Violation;
    "copyright"/"usenet" ["newsgroup"] UsenetMessage => Infringement Violation;
}

/// The core's required fields, in the schema's order.
pub const V4_CORE_REQUIRED: &[&str] = &[
    "xarf_version",
    "report_id",
    "timestamp",
    "reporter",
    "sender",
    "source_identifier",
    "category",
    "type",
];

/// The category a reputation listing's `threat_type` points at.
pub fn reputation_category(threat_type: &str) -> Category {
    let t = threat_type.to_ascii_lowercase();
    let has = |w: &[&str]| w.iter().any(|w| t.contains(w));
    if has(&["spam"]) {
        Category::SpamMail
    } else if has(&["phish"]) {
        Category::FraudPhishing
    } else if has(&["malware", "botnet", "command_and_control", "c2", "trojan"]) {
        Category::Malware
    } else if has(&["scan"]) {
        Category::Scanning
    } else if has(&["ddos", "dos"]) {
        Category::DdosAttack
    } else if has(&["brute", "login"]) {
        Category::Hacking
    } else {
        Category::CyberHarm
    }
}

/// Reads a JSON document found at `at` (`part 2 (application/json)`, or `body`).
pub fn parse_json(
    bytes: &[u8],
    at: &str,
    limits: &Limits,
    warnings: &mut Vec<String>,
) -> Result<Json, MailError> {
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let doc: Value = serde_json::from_slice(text).map_err(|e| {
        MailError::report(
            Format::XarfV4,
            at,
            "invalid_json",
            "$",
            format!("not JSON: {e}"),
        )
    })?;
    let Some(root) = doc.as_object() else {
        return Ok(Json::NotXarf);
    };
    if root.contains_key("xarf_version") {
        return v4(&doc, root, bytes, at, limits, warnings).map(|r| Json::Report(Box::new(r)));
    }
    if ["Version", "ReporterInfo", "Report"]
        .iter()
        .any(|k| root.contains_key(*k))
    {
        return v3(bytes, at).map(|r| Json::Report(Box::new(r)));
    }
    Ok(Json::NotXarf)
}

fn v3(bytes: &[u8], at: &str) -> Result<ParsedReport, MailError> {
    let x = warden_domain::xarf::parse_v3(bytes).map_err(|e| {
        MailError::report(
            Format::XarfV3,
            at,
            e.code,
            e.field.clone(),
            format!("X-ARF v3: {}: {}", e.field, e.message),
        )
    })?;
    let target = Target::parse(&x.target)
        .map_err(|e| MailError::report(Format::XarfV3, at, "no_target", "Report", e.to_string()))?;
    let disposition = if x.report_class.eq_ignore_ascii_case("Vulnerability") {
        Disposition::NotifyOnly
    } else {
        Disposition::Violation
    };
    Ok(ParsedReport {
        format: Format::XarfV3,
        reporter: Reporter {
            org: x.reporter_org.clone(),
            contact: x.reporter_contact.clone(),
            ..Reporter::default()
        },
        targets: vec![target],
        category: x.category,
        disposition,
        claimed_type: format!("{}/{}", x.report_class, x.report_type),
        occurred_at: Some(x.occurred_at),
        reported_at: None,
        evidence_text: cut_text(x.summary.clone(), MAX_EVIDENCE_BYTES),
        raw: RawPart::new(at_part(at), "application/json".into(), bytes),
        original: None,
        details: Details::XarfV3 {
            report_class: x.report_class,
            report_type: x.report_type,
        },
    })
}

/// `part 2` of `part 2 (application/json)`.
fn at_part(at: &str) -> String {
    at.split(" (").next().unwrap_or(at).to_string()
}

struct V4<'a> {
    at: &'a str,
    root: &'a Map<String, Value>,
}

impl V4<'_> {
    fn err(&self, code: &'static str, field: &str, message: String) -> MailError {
        MailError::report(
            Format::XarfV4,
            self.at,
            code,
            field,
            format!("X-ARF v4: {message}"),
        )
    }

    fn missing(&self, field: &str, of: &str) -> MailError {
        self.err(
            "missing_field",
            field,
            format!("missing required field `{field}` ({of})"),
        )
    }

    fn string(
        &self,
        obj: &Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Result<Option<String>, MailError> {
        match obj.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.err("invalid_field", path, format!("`{path}` must be a string"))),
        }
    }

    fn required_string(&self, path: &str, of: &str) -> Result<String, MailError> {
        self.string(self.root, path, path)?
            .ok_or_else(|| self.missing(path, of))
    }

    fn contact(&self, key: &str) -> Result<Reporter, MailError> {
        let obj = self
            .root
            .get(key)
            .ok_or_else(|| self.missing(key, "core"))?
            .as_object()
            .ok_or_else(|| {
                self.err(
                    "invalid_field",
                    key,
                    format!("`{key}` must be an object with org, contact and domain"),
                )
            })?;
        let mut parts = Vec::with_capacity(3);
        for f in ["org", "contact", "domain"] {
            let path = format!("{key}.{f}");
            let v = self
                .string(obj, &path, f)?
                .ok_or_else(|| self.missing(&path, "core"))?;
            parts.push(v);
        }
        let (org, contact, domain) = match parts.as_slice() {
            [o, c, d] => (o.clone(), c.clone(), d.clone()),
            _ => return Err(self.missing(key, "core")),
        };
        if !contact.contains('@') {
            return Err(self.err(
                "invalid_field",
                &format!("{key}.contact"),
                format!("`{key}.contact` must be an e-mail address"),
            ));
        }
        Ok(Reporter {
            org: Some(org),
            contact: Some(contact),
            domain: Some(domain),
            ..Reporter::default()
        })
    }
}

fn v4(
    doc: &Value,
    root: &Map<String, Value>,
    bytes: &[u8],
    at: &str,
    limits: &Limits,
    warnings: &mut Vec<String>,
) -> Result<ParsedReport, MailError> {
    let c = V4 { at, root };
    bounded(doc, 0).map_err(|why| c.err("too_large", "$", why))?;
    let version = c.required_string("xarf_version", "core")?;
    if !is_v4_version(&version) {
        return Err(c.err(
            "unsupported_version",
            "xarf_version",
            format!("`xarf_version` `{}` is not 4.x.y", cut(&version)),
        ));
    }
    for f in V4_CORE_REQUIRED {
        if !root.contains_key(*f) {
            return Err(c.missing(f, "core"));
        }
    }
    let report_id = c.required_string("report_id", "core")?;
    if !is_uuid(&report_id) {
        return Err(c.err(
            "invalid_field",
            "report_id",
            format!("`report_id` `{}` is not a UUID", cut(&report_id)),
        ));
    }
    let timestamp = c.required_string("timestamp", "core")?;
    let timestamp = Timestamp::parse_rfc3339(&timestamp)
        .map_err(|e| c.err("invalid_field", "timestamp", format!("`timestamp`: {e}")))?;
    let reporter = c.contact("reporter")?;
    c.contact("sender")?;
    let source = c.required_string("source_identifier", "core")?;
    if source.trim().is_empty() {
        return Err(c.err(
            "invalid_field",
            "source_identifier",
            "`source_identifier` is empty".into(),
        ));
    }
    let category = c.required_string("category", "core")?;
    let report_type = c.required_string("type", "core")?;
    if !V4_TYPES.iter().any(|t| t.category == category) {
        return Err(c.err(
            "unknown_type",
            "category",
            format!(
                "unknown category `{}` (messaging, connection, content, copyright, vulnerability, infrastructure, reputation)",
                cut(&category)
            ),
        ));
    }
    let Some(ty) = V4_TYPES
        .iter()
        .find(|t| t.category == category && t.report_type == report_type)
    else {
        let known: Vec<&str> = V4_TYPES
            .iter()
            .filter(|t| t.category == category)
            .map(|t| t.report_type)
            .collect();
        return Err(c.err(
            "unknown_type",
            "type",
            format!(
                "unknown type `{}` of category `{category}` (known: {})",
                cut(&report_type),
                known.join(", ")
            ),
        ));
    };
    let of = format!("{category}/{report_type}");
    for f in ty.required {
        if !root.contains_key(*f) {
            return Err(c.missing(f, &of));
        }
    }
    let source_ip = crate::arf::parse_ip(&source);
    match ty.condition {
        Condition::None => {}
        Condition::PortIfIp => {
            if source_ip.is_some() && !root.contains_key("source_port") {
                return Err(c.missing("source_port", &format!("{of} with an IP source")));
            }
        }
        Condition::Smtp => {
            if root.get("protocol").and_then(Value::as_str) == Some("smtp") {
                for f in ["smtp_from", "source_port"] {
                    if !root.contains_key(f) {
                        return Err(c.missing(f, &format!("{of} over smtp")));
                    }
                }
            }
        }
        Condition::Swarm => {
            let swarm = root.get("swarm_info").and_then(Value::as_object);
            if !swarm.is_some_and(|s| s.contains_key("info_hash") || s.contains_key("magnet_uri")) {
                return Err(c.missing(
                    "swarm_info.info_hash",
                    &format!("{of}: or swarm_info.magnet_uri"),
                ));
            }
        }
        Condition::UsenetMessage => {
            let info = root.get("message_info").and_then(Value::as_object);
            if !info.is_some_and(|s| s.contains_key("message_id")) {
                return Err(c.missing("message_info.message_id", &of));
            }
        }
    }
    if let Some(p) = root.get("source_port")
        && !p.as_u64().is_some_and(|p| (1..=65535).contains(&p))
    {
        return Err(c.err(
            "invalid_field",
            "source_port",
            "`source_port` must be an integer from 1 to 65535".into(),
        ));
    }
    let confidence = match root.get("confidence") {
        None => None,
        Some(v) => Some(
            v.as_f64()
                .filter(|x| (0.0..=1.0).contains(x))
                .ok_or_else(|| {
                    c.err(
                        "invalid_field",
                        "confidence",
                        "`confidence` must be a number from 0 to 1".into(),
                    )
                })?,
        ),
    };
    let first_seen = match c.string(root, "first_seen", "first_seen")? {
        None => None,
        Some(s) => Some(
            Timestamp::parse_rfc3339(&s)
                .map_err(|e| c.err("invalid_field", "first_seen", format!("`first_seen`: {e}")))?,
        ),
    };
    if let Some(ev) = root.get("evidence") {
        let items = ev.as_array().ok_or_else(|| {
            c.err(
                "invalid_field",
                "evidence",
                "`evidence` must be an array".into(),
            )
        })?;
        if items.len() > 50 {
            return Err(c.err(
                "invalid_field",
                "evidence",
                format!("`evidence` has {} items; the schema allows 50", items.len()),
            ));
        }
        for (i, item) in items.iter().enumerate() {
            let path = format!("evidence[{i}]");
            let obj = item.as_object().ok_or_else(|| {
                c.err(
                    "invalid_field",
                    &path,
                    format!("`{path}` must be an object"),
                )
            })?;
            for f in ["content_type", "payload"] {
                let p = format!("{path}.{f}");
                if c.string(obj, &p, f)?.is_none() {
                    return Err(c.missing(&p, "evidence item"));
                }
            }
        }
    }
    let category_mapped = match ty.category {
        "reputation" => reputation_category(
            root.get("threat_type")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        ),
        _ => ty.maps_to,
    };
    let mut targets = Vec::new();
    let url_field = match ty.category {
        "content" => Some("url"),
        "copyright" => Some("infringing_url"),
        _ => None,
    };
    let mut candidates: Vec<(&str, String)> = Vec::new();
    if let Some(f) = url_field
        && let Some(u) = c.string(root, f, f)?
    {
        candidates.push((f, u));
    }
    candidates.push(("source_identifier", source.clone()));
    for (field, text) in &candidates {
        match Target::parse(text) {
            Ok(t) => push_target(&mut targets, t, limits, at, warnings),
            Err(_) => warnings.push(format!(
                "{at}: `{field}` `{}` is not a target Warden can act on; skipped",
                cut(text)
            )),
        }
    }
    if targets.is_empty() {
        return Err(c.err(
            "no_target",
            "source_identifier",
            format!(
                "`source_identifier` `{}` is not an IP address, domain or http(s) URL",
                cut(&source)
            ),
        ));
    }
    let description = c.string(root, "description", "description")?;
    let mut evidence = format!("X-ARF v4 {of} from {}", cut(&source));
    if let Some(d) = &description {
        evidence.push_str(": ");
        evidence.push_str(d);
    }
    Ok(ParsedReport {
        format: Format::XarfV4,
        reporter,
        targets,
        category: category_mapped,
        disposition: ty.disposition,
        claimed_type: of,
        occurred_at: Some(first_seen.unwrap_or(timestamp)),
        reported_at: Some(timestamp),
        evidence_text: cut_text(evidence, MAX_EVIDENCE_BYTES),
        raw: RawPart::new(at_part(at), "application/json".into(), bytes),
        original: None,
        details: Details::XarfV4 {
            version,
            report_id,
            category,
            report_type,
            confidence,
        },
    })
}

/// Nesting and size bounds of a document (as [`warden_domain::xarf::MAX_DEPTH`] and
/// [`warden_domain::xarf::MAX_ITEMS`] for v3).
fn bounded(v: &Value, depth: usize) -> Result<(), String> {
    use warden_domain::xarf::{MAX_DEPTH, MAX_ITEMS};
    if depth > MAX_DEPTH {
        return Err(format!("nested deeper than {MAX_DEPTH}"));
    }
    match v {
        Value::Array(a) => {
            if a.len() > MAX_ITEMS {
                return Err(format!("an array has more than {MAX_ITEMS} items"));
            }
            a.iter().try_for_each(|x| bounded(x, depth + 1))
        }
        Value::Object(o) => {
            if o.len() > MAX_ITEMS {
                return Err(format!("an object has more than {MAX_ITEMS} fields"));
            }
            o.values().try_for_each(|x| bounded(x, depth + 1))
        }
        _ => Ok(()),
    }
}

fn is_v4_version(v: &str) -> bool {
    let mut it = v.split('.');
    let ok =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    it.clone().next() == Some("4") && {
        let (a, b, c) = (it.next(), it.next(), it.next());
        ok(a) && ok(b) && ok(c) && it.next().is_none()
    }
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn cut(v: &str) -> String {
    v.chars().take(80).collect()
}
