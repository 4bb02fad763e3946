//! The abuse desk's mail (INT-2, INT-6): a raw e-mail becomes reports on the one intake path.
//!
//! Three doors hand a message in — `POST /api/reports/mail` (detectors, operators), `warden
//! intake mail` for an MTA's pipe transport, and the SMTP listener — and all of them call
//! [`App::submit_mail`]. The message is parsed by `warden_intake` (ARF, X-ARF and the other
//! formats it reads); then one write transaction
//!
//! 1. looks the message up by the SHA-256 of its bytes: a message taken in before answers its
//!    first receipt again (`duplicate: true`) and stores nothing, so a sender that retries
//!    because it never saw the acknowledgement cannot store a report twice;
//! 2. finds the owners of every target the reports name (RES-2) and picks, per report, the
//!    most specific target the provider hosts — one report per hosted resource the report
//!    names, or the most specific target when none is hosted (it goes to triage, unowned);
//! 3. stores the case reports exactly as the JSON path does (correlation, evidence digest,
//!    sealed reporter contact, INT-5 confirmation, audit), keeps the reports that open no
//!    case (INT-6: notify-only ones and those of a muted reporter) and records the message;
//! 4. commits. Only then is the message acknowledged (201 / exit 0 / SMTP 250): a crash before
//!    leaves nothing of it, and the sender retries.
//!
//! # Reporter trust (INT-6)
//!
//! `[[mail.reporters]]` names reporters by the domain they write from (the domain of the
//! X-ARF reporter, else of `From:`, a subdomain included) and gives each a trust: `trusted`
//! reports confirm their case at once, like a high-confidence detection (INT-5); `normal`
//! ones wait in triage; `muted` ones are kept and never open a case. An unknown sender is
//! `normal`. The sender's domain is what the message claims, so a `trusted` reporter is
//! trusted only when a DKIM signature of one of its domains verifies (`require_dkim`, the
//! default), looked up at `[mail] dkim_resolver` through Stalwart's `mail-auth` — before the
//! write transaction, so no DNS wait holds a database lock.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use warden_domain::identity::Role;
use warden_domain::report::{MAX_DESCRIPTION_CHARS, Source, ValidReport};
use warden_domain::resource::{InvalidInput, Target, within_domain};
use warden_domain::taxonomy::Category;
use warden_intake::{Disposition, Limits, MailError, ParsedMail, ParsedReport};
use warden_store::mail::{HeldReport, MailRow};

use warden_domain::lifecycle::NoticeKind;

use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::intake::{Format, Item, Receipt};
use crate::notices::NoticeFacts;
use crate::{App, digest};

/// How much a receipt lists, item by item; the counts are always whole.
const MAX_LISTED: usize = 1000;

/// How trusted a reporter is (INT-6).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    /// Its reports confirm their case at once (INT-5).
    Trusted,
    /// Its reports wait in triage.
    #[default]
    Normal,
    /// Its reports are kept and never open a case.
    Muted,
}

impl Trust {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Trust::Trusted => "trusted",
            Trust::Normal => "normal",
            Trust::Muted => "muted",
        }
    }
}

/// One `[[mail.reporters]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReporterSetting {
    /// What the reporter is called in receipts and the audit log (`SpamCop`).
    pub name: String,
    /// The domains it writes from; a subdomain matches too (`spamcop.net`).
    pub domains: Vec<String>,
    /// Its trust.
    pub trust: Trust,
    /// A `trusted` reporter is trusted only when the message carries a DKIM signature of one
    /// of its domains that verifies (default true); otherwise its reports are `normal`.
    #[serde(default = "yes")]
    pub require_dkim: bool,
}

fn yes() -> bool {
    true
}

/// `[mail]`: bounds of one message and the reporters Warden knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailSettings {
    /// Largest message, bytes (default 10 MiB; at most 64 MiB).
    pub max_message_bytes: usize,
    /// Most reports one message may carry (default 10,000: a Shadowserver CSV; at most 100,000).
    pub max_reports: usize,
    /// Known reporters and their trust (INT-6).
    pub reporters: Vec<ReporterSetting>,
    /// The DNS resolver DKIM keys are looked up at (`127.0.0.1:53`): the provider's own. None
    /// by default — then no signature is verified, and a `trusted` reporter that requires DKIM
    /// is refused at start.
    pub dkim_resolver: Option<String>,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            max_message_bytes: 10 * 1024 * 1024,
            max_reports: 10_000,
            reporters: Vec::new(),
            dkim_resolver: None,
        }
    }
}

impl MailSettings {
    /// Checks the configuration; the error names the field.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        if !(1024..=64 * 1024 * 1024).contains(&self.max_message_bytes) {
            return Err(InvalidInput::new(
                "max_message_bytes",
                "must be between 1024 and 67108864 (64 MiB)",
            ));
        }
        if !(1..=100_000).contains(&self.max_reports) {
            return Err(InvalidInput::new(
                "max_reports",
                "must be between 1 and 100000",
            ));
        }
        for (n, r) in self.reporters.iter().enumerate() {
            if r.name.trim().is_empty() {
                return Err(InvalidInput::new(
                    format!("reporters[{n}].name"),
                    "is required",
                ));
            }
            if r.domains.is_empty() {
                return Err(InvalidInput::new(
                    format!("reporters[{n}].domains"),
                    "must name at least one domain",
                ));
            }
            if r.trust == Trust::Trusted && r.require_dkim && self.dkim_resolver.is_none() {
                return Err(InvalidInput::new(
                    format!("reporters[{n}].require_dkim"),
                    "a trusted reporter's DKIM signature is verified through mail.dkim_resolver: set it (the provider's resolver, e.g. \"127.0.0.1:53\"), or set require_dkim = false to trust the claimed sender",
                ));
            }
            for d in &r.domains {
                let ok = matches!(Target::parse(d), Ok(Target::Domain(_)));
                if !ok {
                    return Err(InvalidInput::new(
                        format!("reporters[{n}].domains"),
                        format!("{d:?} is not a domain name"),
                    ));
                }
            }
        }
        if let Some(r) = &self.dkim_resolver
            && r.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(InvalidInput::new(
                "dkim_resolver",
                format!("{r:?} is not an address and port (\"127.0.0.1:53\")"),
            ));
        }
        Ok(())
    }

    /// The DKIM verifier over [`MailSettings::dkim_resolver`], if one is configured.
    pub fn dkim_verifier(&self) -> Option<Arc<DkimVerifier>> {
        let addr: std::net::SocketAddr = self.dkim_resolver.as_deref()?.parse().ok()?;
        let servers = mail_auth::hickory_resolver::config::NameServerConfigGroup::from_ips_clear(
            &[addr.ip()],
            addr.port(),
            true,
        );
        let config =
            mail_auth::hickory_resolver::config::ResolverConfig::from_parts(None, vec![], servers);
        let mut opts = mail_auth::hickory_resolver::config::ResolverOpts::default();
        opts.timeout = std::time::Duration::from_secs(3);
        opts.attempts = 2;
        mail_auth::MessageAuthenticator::new(config, opts)
            .ok()
            .map(|a| Arc::new(DkimVerifier(a)))
    }

    /// The parser's bounds.
    pub fn limits(&self) -> Limits {
        Limits {
            max_message_bytes: self.max_message_bytes,
            max_reports: self.max_reports,
            ..Limits::default()
        }
    }

    /// The configured reporter writing from `domain`, if any.
    fn reporter(&self, domain: &str) -> Option<&ReporterSetting> {
        self.reporters
            .iter()
            .find(|r| r.domains.iter().any(|d| within_domain(domain, d)))
    }
}

/// DKIM verification over the configured resolver (INT-6).
pub struct DkimVerifier(mail_auth::MessageAuthenticator);

impl std::fmt::Debug for DkimVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DkimVerifier")
    }
}

/// The DKIM check of a message from a trusted reporter (INT-6).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Dkim {
    /// Not checked: the reporter is not a trusted one that requires it.
    #[default]
    NotChecked,
    /// A signature of one of the reporter's domains verifies.
    Pass,
    /// Signatures of the reporter's domains, none verifying.
    Fail,
    /// No signature of the reporter's domains at all.
    None,
    /// The key could not be looked up (resolver down or not configured).
    Unverifiable,
}

impl Dkim {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Dkim::NotChecked => "not_checked",
            Dkim::Pass => "pass",
            Dkim::Fail => "fail",
            Dkim::None => "none",
            Dkim::Unverifiable => "unverifiable",
        }
    }
}

/// Which door a message came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailDoor {
    /// `POST /api/reports/mail`.
    Api,
    /// `warden intake mail` (an MTA's pipe transport).
    Pipe,
    /// The SMTP listener.
    Smtp,
}

impl MailDoor {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            MailDoor::Api => "api",
            MailDoor::Pipe => "pipe",
            MailDoor::Smtp => "smtp",
        }
    }
}

/// A rejected message: the part and the field, and nothing of it stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct MailRefusal {
    /// Stable reason (`truncated`, `wrong_boundary`, `too_large`, `missing_field`, `no_report`).
    pub code: &'static str,
    /// Where: `message`, `part 2 (message/feedback-report)`.
    pub part: Option<String>,
    /// The field of a report part, if one is at fault.
    pub field: Option<String>,
    /// In words, naming the part.
    pub message: String,
}

impl From<MailError> for MailRefusal {
    fn from(e: MailError) -> Self {
        let part = match &e {
            MailError::Limit { at, .. }
            | MailError::Mime { at, .. }
            | MailError::Report { at, .. } => Some(at.clone()),
            MailError::NoReport(_) => None,
        };
        MailRefusal {
            code: e.code(),
            field: e.field().map(str::to_string),
            part,
            message: e.to_string(),
        }
    }
}

/// A case report stored from a message.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MailReport {
    /// The report id.
    pub report_id: String,
    /// The case it joined.
    pub case_id: String,
    /// Whether the case existed before.
    pub duplicate: bool,
    /// Whether an owner was found (`false`: unowned, in triage).
    pub owned: bool,
    /// The target it is about, canonical.
    pub target: String,
    /// Its category.
    pub category: Category,
    /// Its format (`arf`, `xarf_v4`, ...).
    pub format: String,
}

/// A report kept without a case (INT-6).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HeldView {
    /// Id (`held_...`).
    pub id: String,
    /// `notify_only` or `muted`.
    pub disposition: String,
    /// The target, canonical.
    pub target: String,
    /// Its category.
    pub category: Category,
    /// Whether the target is the provider's.
    pub owned: bool,
}

/// What the sender of a message learns.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MailReceipt {
    /// The message's id (`mail_...`).
    pub mail_id: String,
    /// The same message (the same bytes) was taken in before: this is its first receipt, and
    /// nothing was stored again.
    pub duplicate: bool,
    /// Its `Message-ID`.
    pub message_id: Option<String>,
    /// The reporter it was recognised as (a configured reporter, or the sender's domain).
    pub reporter: Option<String>,
    /// The reporter's trust (INT-6), after its DKIM check.
    pub trust: Trust,
    /// The DKIM check of a trusted reporter's message.
    pub dkim: Dkim,
    /// How many case reports were stored.
    pub stored: usize,
    /// How many reports were kept without a case (notify-only, muted).
    pub held: usize,
    /// The case reports, in the message's order (at most 1000 listed).
    pub reports: Vec<MailReport>,
    /// The reports kept without a case (at most 1000 listed).
    pub held_reports: Vec<HeldView>,
    /// What the parser tolerated on the way.
    pub warnings: Vec<String>,
}

/// A parsed report on its way into storage: what is stored as a case report, and what is held.
enum Planned {
    Case(Box<Item>, MailReport),
    /// A report kept without a case, and the type its report claimed (`vulnerability/open_service`).
    Held(HeldReport, String),
}

impl App {
    /// Takes in one raw e-mail (INT-2, INT-6); see the module docs. `Api` is for detectors,
    /// operators and admins; `Pipe` and `Smtp` for the system principal of the CLI and the
    /// listener.
    pub async fn submit_mail(
        &self,
        who: &Principal,
        door: MailDoor,
        raw: &[u8],
    ) -> AppResult<MailReceipt> {
        let source = match door {
            MailDoor::Api => {
                who.require(
                    &[Role::Detector, Role::Operator, Role::Admin],
                    "submit e-mail reports",
                )?;
                if matches!(
                    who,
                    Principal::Token {
                        role: Role::Detector,
                        ..
                    }
                ) {
                    Source::Detector
                } else {
                    Source::Operator
                }
            }
            MailDoor::Pipe | MailDoor::Smtp => {
                if !matches!(who, Principal::System) {
                    return Err(AppError::Forbidden("hand in mail as the MTA"));
                }
                Source::Mail
            }
        };
        let mail = warden_intake::parse_message(raw, &self.mail.limits()).map_err(|e| {
            self.metrics.inc_rejected("invalid_mail");
            AppError::Mail(MailRefusal::from(e))
        })?;
        let mut warnings = mail.warnings.clone();
        let (reporter, trust, dkim) = self.reporter_of(&mail, raw, &mut warnings).await;
        let now = self.now();
        let mut tx = self.store.begin_write().await?;
        if let Some(m) = tx.mail_by_sha256(&mail.sha256).await? {
            drop(tx);
            let mut r: MailReceipt = serde_json::from_str(&m.receipt)
                .map_err(|e| AppError::Internal(format!("mail {} receipt: {e}", m.id)))?;
            r.duplicate = true;
            return Ok(r);
        }
        let mail_id = warden_store::new_id("mail", now);
        // RES-2: the owners of every target named, in one lookup.
        let mut all: Vec<Target> = mail
            .reports
            .iter()
            .flat_map(|r| r.targets.iter().cloned())
            .collect();
        all.sort_by_key(Target::canonical);
        all.dedup_by_key(|t| t.canonical());
        let owners: HashMap<String, Option<warden_store::resources::OwnerMatch>> = all
            .iter()
            .map(Target::canonical)
            .zip(tx.lookup_owners(&all).await?)
            .collect();
        let mut planned = Vec::new();
        for r in &mail.reports {
            for (target, owner) in pick_targets(r, &owners) {
                planned.push(self.plan(
                    who, r, source, target, owner, &reporter, trust, &mail_id, now,
                ));
            }
        }
        let mut items = Vec::new();
        let mut listed = Vec::new();
        let mut held = Vec::new();
        let mut claimed = Vec::new();
        for p in planned {
            match p {
                Planned::Case(item, view) => {
                    items.push(*item);
                    listed.push(view);
                }
                Planned::Held(h, c) => {
                    held.push(h);
                    claimed.push(c);
                }
            }
        }
        let receipts: Vec<Receipt> = self.store_reports(&mut tx, &items).await?;
        for (view, receipt) in listed.iter_mut().zip(&receipts) {
            view.report_id = receipt.report_id.clone();
            view.case_id = receipt.case_id.clone().unwrap_or_default();
            view.duplicate = receipt.duplicate.unwrap_or(false);
            view.owned = receipt.owned.unwrap_or(false);
        }
        let receipt = MailReceipt {
            mail_id: mail_id.clone(),
            duplicate: false,
            message_id: mail.message_id.clone(),
            reporter: reporter.clone(),
            trust,
            stored: listed.len(),
            held: held.len(),
            reports: listed.into_iter().take(MAX_LISTED).collect(),
            held_reports: held
                .iter()
                .take(MAX_LISTED)
                .map(|h| HeldView {
                    id: h.id.clone(),
                    disposition: h.disposition.clone(),
                    target: h.target.clone(),
                    category: h.category,
                    owned: h.account_id.is_some(),
                })
                .collect(),
            dkim,
            warnings: warnings.into_iter().take(100).collect(),
        };
        let row = MailRow {
            id: mail_id.clone(),
            sha256: mail.sha256.clone(),
            message_id: mail.message_id.clone(),
            door: door.code().into(),
            reporter: reporter.clone(),
            trust: trust.code().into(),
            from_enc: mail
                .from
                .as_ref()
                .map(|f| self.sealer.seal(f.as_bytes()))
                .transpose()?,
            size: i64::try_from(raw.len()).unwrap_or(i64::MAX),
            reports: i64::try_from(receipt.stored).unwrap_or(i64::MAX),
            held: i64::try_from(receipt.held).unwrap_or(i64::MAX),
            submitted_by: who.actor(),
            receipt: serde_json::to_string(&receipt)
                .map_err(|e| AppError::Internal(format!("mail receipt: {e}")))?,
            received_at: now,
        };
        tx.insert_mail(&row).await?;
        tx.insert_held_reports(&held).await?;
        let advised = self.advise(&mut tx, &held, &claimed).await?;
        let mut ev = self.event(who, "mail.receive", format!("mail:{mail_id}"));
        ev.after_digest = Some(digest(&row.sha256));
        ev.details = serde_json::json!({
            "door": door.code(), "sha256": row.sha256, "message_id": row.message_id,
            "reporter": reporter, "trust": trust.code(), "dkim": dkim.code(), "size": row.size,
            "stored": receipt.stored, "held": receipt.held, "advisories": advised,
            "formats": formats(&mail),
        });
        tx.append_audits(vec![ev]).await?;
        tx.commit().await?;
        self.metrics.inc_accepted(receipt.stored as u64);
        Ok(receipt)
    }

    /// INT-6: the tenant is told of the notify-only reports about its resources — one advisory
    /// per resource per message (inbox, and the kind's channels), in the same transaction.
    /// `claimed[i]` is the type `held[i]`'s report claimed. Returns how many were written.
    async fn advise(
        &self,
        tx: &mut warden_store::WriteTx,
        held: &[HeldReport],
        claimed: &[String],
    ) -> AppResult<usize> {
        let mut by_resource: BTreeMap<(String, String), Vec<(&HeldReport, &str)>> = BTreeMap::new();
        for (h, c) in held.iter().zip(claimed) {
            if let (Some(a), Some(r), "notify_only") =
                (&h.account_id, &h.resource_id, h.disposition.as_str())
            {
                by_resource
                    .entry((a.clone(), r.clone()))
                    .or_default()
                    .push((h, c.as_str()));
            }
        }
        let written = by_resource.len();
        for ((account, resource_id), reports) in by_resource {
            let resource = tx.get_resource(&resource_id).await?;
            let name = resource
                .as_ref()
                .map_or(resource_id.as_str(), |r| r.name.as_str());
            let product = resource.as_ref().map_or("-", |r| r.product.code());
            let mut links: Vec<String> = reports.iter().map(|(h, _)| h.target.clone()).collect();
            links.dedup();
            let first = reports.first();
            let facts = NoticeFacts {
                case_id: first.map_or("-", |(h, _)| h.mail_id.as_str()),
                resource_name: name,
                resource_id: &resource_id,
                product,
                links: &links,
                category: first.map_or(Category::CyberHarm, |(h, _)| h.category),
                actions: &[],
                deadline: None,
                note: first.map(|(_, c)| *c),
                unblock: None,
                maybe_compromised: false,
                utc_offset_minutes: self.lifecycle.calendar.utc_offset_minutes(),
                console_url: self.notices.console_url.as_deref(),
            };
            self.notify_account(tx, &account, None, NoticeKind::ReportAdvisory, &facts)
                .await?;
        }
        Ok(written)
    }

    /// The reporter a message is from and its trust: the first configured reporter matching a
    /// report's reporter domain or the sender's, else the domain itself, `normal`.
    async fn reporter_of(
        &self,
        mail: &ParsedMail,
        raw: &[u8],
        warnings: &mut Vec<String>,
    ) -> (Option<String>, Trust, Dkim) {
        let domains: Vec<&str> = mail
            .reports
            .iter()
            .filter_map(|r| r.reporter.domain.as_deref())
            .collect();
        for d in &domains {
            if let Some(r) = self.mail.reporter(d) {
                if r.trust != Trust::Trusted || !r.require_dkim {
                    return (Some(r.name.clone()), r.trust, Dkim::NotChecked);
                }
                // INT-6: trusted only on a verifying signature of one of its domains.
                let dkim = self.dkim_of(raw, &r.domains).await;
                let trust = if dkim == Dkim::Pass {
                    Trust::Trusted
                } else {
                    warnings.push(format!(
                        "DKIM: no valid signature of {} ({}); its reports are treated as a normal reporter's",
                        r.domains.join(", "),
                        dkim.code()
                    ));
                    Trust::Normal
                };
                return (Some(r.name.clone()), trust, dkim);
            }
        }
        let named = mail
            .reports
            .iter()
            .find_map(|r| r.reporter.org.clone())
            .or_else(|| domains.first().map(|d| (*d).to_string()));
        (named, Trust::Normal, Dkim::NotChecked)
    }

    /// Whether `raw` carries a DKIM signature by one of `domains` (or a parent of one) that
    /// verifies against the configured resolver.
    async fn dkim_of(&self, raw: &[u8], domains: &[String]) -> Dkim {
        let Some(verifier) = self.dkim.as_ref() else {
            return Dkim::Unverifiable;
        };
        let Some(msg) = mail_auth::AuthenticatedMessage::parse(raw) else {
            return Dkim::Fail;
        };
        let outputs = verifier.0.verify_dkim(&msg).await;
        // The signing domain is the reporter's domain or a parent of it.
        let signed_by_reporter = |d: &str| domains.iter().any(|r| within_domain(r, d));
        let mut seen = Dkim::None;
        for o in &outputs {
            let Some(sig) = o.signature() else { continue };
            if !signed_by_reporter(&sig.d) {
                continue;
            }
            match o.result() {
                mail_auth::DkimResult::Pass => return Dkim::Pass,
                mail_auth::DkimResult::TempError(_) => seen = Dkim::Unverifiable,
                _ if seen == Dkim::None => seen = Dkim::Fail,
                _ => {}
            }
        }
        seen
    }

    #[allow(clippy::too_many_arguments)]
    fn plan(
        &self,
        who: &Principal,
        r: &ParsedReport,
        source: Source,
        target: Target,
        owner: Option<&warden_store::resources::OwnerMatch>,
        reporter: &Option<String>,
        trust: Trust,
        mail_id: &str,
        now: i64,
    ) -> Planned {
        let format = r.format.code().to_string();
        let description = describe(r, reporter.as_deref());
        let disposition = match (r.disposition, trust) {
            (Disposition::NotifyOnly, _) => Some("notify_only"),
            (_, Trust::Muted) => Some("muted"),
            _ => None,
        };
        if let Some(d) = disposition {
            return Planned::Held(
                HeldReport {
                    id: warden_store::new_id("held", now),
                    mail_id: mail_id.to_string(),
                    disposition: d.into(),
                    account_id: owner.map(|o| o.account_id.clone()),
                    resource_id: owner.map(|o| o.resource_id.clone()),
                    target: target.canonical(),
                    category: r.category,
                    format,
                    reporter: reporter.clone(),
                    description,
                    evidence_sha256: Some(r.raw.sha256.clone()),
                    evidence: Some(r.raw.bytes.clone()),
                    received_at: now,
                },
                r.claimed_type.clone(),
            );
        }
        let view = MailReport {
            report_id: String::new(),
            case_id: String::new(),
            duplicate: false,
            owned: owner.is_some(),
            target: target.canonical(),
            category: r.category,
            format,
        };
        let report = ValidReport {
            target,
            category: r.category,
            description,
            evidence: None,
            reporter_contact: r.reporter.contact.clone(),
            confidence: None,
            views: None,
            regulator: None,
            attacked_address: None,
        };
        let item = Item {
            who: who.clone(),
            source,
            format: Format::Mail(r.format.code()),
            report,
            raw: Some(r.raw.bytes.clone()),
            trusted: (trust == Trust::Trusted).then(|| {
                reporter
                    .clone()
                    .unwrap_or_else(|| "a trusted reporter".into())
            }),
        };
        Planned::Case(Box::new(item), view)
    }
}

/// The targets a report is stored under: per hosted resource it names, the most specific
/// target of that resource (the report lists targets most specific first); when it names
/// nothing hosted, its most specific target, unowned.
fn pick_targets<'a>(
    r: &ParsedReport,
    owners: &'a HashMap<String, Option<warden_store::resources::OwnerMatch>>,
) -> Vec<(Target, Option<&'a warden_store::resources::OwnerMatch>)> {
    let mut by_resource: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for t in &r.targets {
        if let Some(Some(o)) = owners.get(&t.canonical())
            && !by_resource.contains_key(&o.resource_id)
        {
            by_resource.insert(o.resource_id.clone(), out.len());
            out.push((t.clone(), Some(o)));
        }
    }
    if out.is_empty()
        && let Some(t) = r.targets.first()
    {
        out.push((t.clone(), None));
    }
    out
}

/// The case report's text: what it is, who says so, and the report's own words.
fn describe(r: &ParsedReport, reporter: Option<&str>) -> String {
    let head = format!(
        "{} report ({}){}.",
        r.format.code(),
        r.claimed_type,
        reporter.map(|n| format!(" from {n}")).unwrap_or_default()
    );
    let room = MAX_DESCRIPTION_CHARS.saturating_sub(head.chars().count() + 1);
    let text: String = r.evidence_text.chars().take(room).collect();
    if text.trim().is_empty() {
        head
    } else {
        format!("{head} {text}")
    }
}

/// The formats of a message's reports, each once.
fn formats(mail: &ParsedMail) -> Vec<&'static str> {
    let mut f: Vec<&'static str> = mail.reports.iter().map(|r| r.format.code()).collect();
    f.sort_unstable();
    f.dedup();
    f
}
