//! The one shape every format's parser returns: [`ParsedReport`], and [`ParsedMail`] around
//! the reports of one message.

use std::net::IpAddr;

use warden_domain::resource::Target;
use warden_domain::taxonomy::Category;
use warden_domain::time::Timestamp;

/// The report formats intake reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// ARF, RFC 5965 (with RFC 6650's rules and RFC 6591's `auth-failure`).
    Arf,
    /// X-ARF v3 JSON (abusix), validated by [`warden_domain::xarf::parse_v3`].
    XarfV3,
    /// X-ARF v4 JSON (xarf-spec 4.x).
    XarfV4,
    /// IODEF: v1 (RFC 5070) or v2 (RFC 7970) XML, or v2's JSON binding (RFC 8727).
    Iodef,
    /// A row of a Shadowserver CSV report.
    Shadowserver,
    /// A free-form complaint: text whose addresses, URLs and domains are the candidates.
    FreeForm,
}

impl Format {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Format::Arf => "arf",
            Format::XarfV3 => "xarf_v3",
            Format::XarfV4 => "xarf_v4",
            Format::Iodef => "iodef",
            Format::Shadowserver => "shadowserver",
            Format::FreeForm => "free_form",
        }
    }
}

/// What intake should do with a report, beside its category.
///
/// The taxonomy has no notion of an informational report, but INT-6 needs one: a report of a
/// vulnerable service (an open resolver, a CVE on a tenant's host) tells the tenant and
/// penalises nothing. Until the taxonomy grows one (see the crate docs' proposal), the parser
/// says so here, next to the closest category for the notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// A claimed violation: correlated into a case, triaged or confirmed (INT-4, INT-5).
    Violation,
    /// Informational (INT-6): the tenant is told, nothing is penalised, no case is opened.
    NotifyOnly,
}

/// Who sent the report. `contact` and `name` are personal data (AUD-4): the caller seals them
/// at rest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reporter {
    /// The organisation (`reporter.org`, `ReporterInfo.ReporterOrg`); ARF has none.
    pub org: Option<String>,
    /// A person's or a desk's name (the display name of `From:`).
    pub name: Option<String>,
    /// An e-mail address to answer to (personal data).
    pub contact: Option<String>,
    /// The reporter's domain (`reporter.domain`, or the domain of `contact`).
    pub domain: Option<String>,
    /// The reporting software (ARF `User-Agent`).
    pub user_agent: Option<String>,
}

/// A part of the message kept as evidence (INT-3), as received, with its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPart {
    /// Where it was: `part 3`, `message`, `body`.
    pub part: String,
    /// Its content type.
    pub content_type: String,
    /// Its bytes as received: header fields and transfer-encoded body (at most
    /// [`crate::Limits::max_part_bytes`], or the message for a single-part message).
    pub bytes: Vec<u8>,
    /// SHA-256 of `bytes`, lower-case hex.
    pub sha256: String,
}

impl RawPart {
    pub(crate) fn new(part: String, content_type: String, bytes: &[u8]) -> RawPart {
        RawPart {
            part,
            content_type,
            sha256: warden_domain::sha256_hex(bytes),
            bytes: bytes.to_vec(),
        }
    }
}

/// One report, whatever its format.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedReport {
    /// Its format.
    pub format: Format,
    /// Who reported it.
    pub reporter: Reporter,
    /// What it is about, most specific first (a URL before its host's IP), deduplicated, at most
    /// [`crate::Limits::max_targets`] ([`crate::Limits::max_candidates`] for IODEF and
    /// free-form reports, which are lists the caller filters to what it hosts); never empty.
    pub targets: Vec<Target>,
    /// The taxonomy category the report's type maps to.
    pub category: Category,
    /// A violation, or notify-only.
    pub disposition: Disposition,
    /// The report's own type as sent: `abuse`, `Content/Phishing`, `content/phishing`.
    pub claimed_type: String,
    /// When the reported thing happened (`Arrival-Date`, `first_seen`/`timestamp`, `Date`).
    pub occurred_at: Option<Timestamp>,
    /// When it was reported (the message's `Date:`; the X-ARF `timestamp` for a bare document).
    pub reported_at: Option<Timestamp>,
    /// Human-readable text for the case (the ARF's first text part, the X-ARF description),
    /// at most [`warden_domain::report::MAX_EVIDENCE_BYTES`], cut at a character with `…`.
    pub evidence_text: String,
    /// The part that carried the report (the `message/feedback-report`, the JSON, the IODEF
    /// document; for a CSV row, the header and that row; for a free-form report, the message).
    pub raw: RawPart,
    /// The reported message itself, when the report came with it (ARF's third part): the
    /// violating content (INT-3).
    pub original: Option<RawPart>,
    /// What only this format says.
    pub details: Details,
}

/// Format-specific fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Details {
    /// ARF.
    Arf(ArfDetails),
    /// X-ARF v3.
    XarfV3 {
        /// `Report.ReportClass`.
        report_class: String,
        /// `Report.ReportType`.
        report_type: String,
    },
    /// X-ARF v4.
    XarfV4 {
        /// `xarf_version`.
        version: String,
        /// `report_id`.
        report_id: String,
        /// `category`.
        category: String,
        /// `type`.
        report_type: String,
        /// `confidence`, if given (0..=1).
        confidence: Option<f64>,
    },
    /// IODEF.
    Iodef(IodefDetails),
    /// A Shadowserver CSV row.
    Shadowserver(ShadowserverDetails),
    /// A free-form complaint.
    FreeForm(FreeFormDetails),
}

/// Which IODEF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IodefVersion {
    /// RFC 5070, `urn:ietf:params:xml:ns:iodef-1.0`, `version="1.00"`.
    V1,
    /// RFC 7970, `urn:ietf:params:xml:ns:iodef-2.0`, `version="2.00"`.
    V2,
}

/// How an IODEF document was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IodefBinding {
    /// XML (RFC 5070, RFC 7970).
    Xml,
    /// JSON (RFC 8727).
    Json,
}

/// What an IODEF incident says beyond the common fields.
#[derive(Debug, Clone, PartialEq)]
pub struct IodefDetails {
    /// v1 or v2.
    pub version: IodefVersion,
    /// XML or JSON.
    pub binding: IodefBinding,
    /// `IncidentID`'s text.
    pub incident_id: String,
    /// `IncidentID`'s `name` (the CSIRT's domain, as a rule).
    pub incident_id_name: Option<String>,
    /// `Incident`'s `purpose` (`reporting`, `mitigation`, `watch`...).
    pub purpose: String,
    /// The impacts of its assessments, as `Impact:recon` (v1), `SystemImpact:takeover-system`,
    /// `BusinessImpact:breach-proprietary` (v2) and `IncidentCategory:phishing`.
    pub impacts: Vec<String>,
    /// Why the category is what it is: `Impact type recon`, `keyword phishing`...
    pub category_reason: String,
    /// Networks of the reported systems (`ipv4-net`, `ipv6-net` wider than one address): kept,
    /// not targets (a target is one address).
    pub networks: Vec<ipnet::IpNet>,
    /// Nodes of the `target` systems: the victims, kept, not targets.
    pub victims: Vec<Target>,
    /// `DetectTime`.
    pub detect_time: Option<Timestamp>,
    /// `StartTime`.
    pub start_time: Option<Timestamp>,
    /// `EndTime`.
    pub end_time: Option<Timestamp>,
    /// `ReportTime`.
    pub report_time: Option<Timestamp>,
    /// `GenerationTime` (v2).
    pub generation_time: Option<Timestamp>,
}

/// What a Shadowserver row says beyond the common fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShadowserverDetails {
    /// The report type: `scan_dns`, `event4_sinkhole`... (see [`crate::shadowserver`]).
    pub report_type: String,
    /// Where the type came from: the file name or the header row.
    pub type_from: TypeSource,
    /// The row number, the header being row 1.
    pub row: usize,
    /// SHA-256 of the whole CSV, lower-case hex.
    pub document_sha256: String,
    /// `tag`.
    pub tag: Option<String>,
    /// `protocol`.
    pub protocol: Option<String>,
    /// `port` (`src_port` for events).
    pub port: Option<u16>,
    /// `asn` (`src_asn`).
    pub asn: Option<u32>,
    /// `geo` (`src_geo`).
    pub geo: Option<String>,
    /// `infection` of an event report.
    pub infection: Option<String>,
}

/// Where a Shadowserver report type was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeSource {
    /// The file name (`2026-11-30-scan_dns-asn-region.csv`).
    FileName,
    /// The header row's columns (no Shadowserver file name).
    Header,
}

/// How far a reporter is trusted (INT-6): a hint for the caller, which keeps its own reporter
/// list and must check the sender (DKIM, DMARC) before believing a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustHint {
    /// Its reports may confirm a case.
    Trusted,
    /// Its reports wait in triage.
    Normal,
    /// Kept, never opening a case.
    Muted,
}

/// What a free-form report says beyond the common fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeFormDetails {
    /// The [`crate::freeform::ReporterRule`] that recognised the sender, by name.
    pub rule: Option<String>,
    /// The rule's trust hint.
    pub trust: Option<TrustHint>,
    /// The keyword that chose the category (when the rule did not), as listed in
    /// [`crate::freeform::KEYWORDS`].
    pub keyword: Option<String>,
    /// The parts whose text was searched: `subject`, `part 1 (text/plain)`, `part 2
    /// (application/zip) entry `log.txt``.
    pub sources: Vec<String>,
}

/// ARF's `Feedback-Type` (RFC 5965 §7.3 registry, RFC 6591, and draft types still sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedbackType {
    /// `abuse`: unsolicited or abusive mail.
    Abuse,
    /// `fraud`: fraud or phishing.
    Fraud,
    /// `virus`: a virus or other malware.
    Virus,
    /// `not-spam` (RFC 6430): a recipient says the mail is wanted.
    NotSpam,
    /// `auth-failure` (RFC 6591): SPF/DKIM/DMARC failed.
    AuthFailure,
    /// `opt-out` / `opt-out-list` (ARF drafts): a recipient asks to be removed.
    OptOut,
    /// `other`, or a type not in the registry (kept as sent, lower case).
    Other(String),
}

impl FeedbackType {
    /// Reads a `Feedback-Type` value.
    pub fn parse(value: &str) -> FeedbackType {
        let v = value.trim().to_ascii_lowercase();
        match v.as_str() {
            "abuse" => FeedbackType::Abuse,
            "fraud" => FeedbackType::Fraud,
            "virus" => FeedbackType::Virus,
            "not-spam" => FeedbackType::NotSpam,
            "auth-failure" => FeedbackType::AuthFailure,
            "opt-out" | "opt-out-list" => FeedbackType::OptOut,
            _ => FeedbackType::Other(v.chars().take(64).collect()),
        }
    }

    /// The type's token.
    pub fn as_str(&self) -> &str {
        match self {
            FeedbackType::Abuse => "abuse",
            FeedbackType::Fraud => "fraud",
            FeedbackType::Virus => "virus",
            FeedbackType::NotSpam => "not-spam",
            FeedbackType::AuthFailure => "auth-failure",
            FeedbackType::OptOut => "opt-out",
            FeedbackType::Other(s) => s,
        }
    }
}

/// Where an ARF report's source IP came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceIpOrigin {
    /// The report's `Source-IP` field.
    Field,
    /// The first external `Received` field of the original message's header (RFC 6650 §4
    /// leaves `Source-IP` optional; the original's trace says who handed the mail over).
    Received,
}

/// What an ARF report says beyond the common fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArfDetails {
    /// `Feedback-Type`.
    pub feedback_type: FeedbackType,
    /// True when the message had no `message/feedback-report` part: a complaint forwarding the
    /// offending message as `message/rfc822` (Microsoft's JMRP and people forwarding spam), read
    /// as `abuse`.
    pub inferred: bool,
    /// `Version`.
    pub version: Option<String>,
    /// The source IP, and where it came from.
    pub source_ip: Option<(IpAddr, SourceIpOrigin)>,
    /// `Reported-Domain` values, canonical.
    pub reported_domains: Vec<String>,
    /// `Reported-Uri` values as sent.
    pub reported_uris: Vec<String>,
    /// `Original-Mail-From`, without `<>`.
    pub original_mail_from: Option<String>,
    /// `Original-Rcpt-To` values (personal data of the complaining recipients).
    pub original_rcpt_to: Vec<String>,
    /// `Arrival-Date` (or the obsolete `Received-Date`).
    pub arrival_date: Option<Timestamp>,
    /// `Authentication-Results` of the report, for `auth-failure`.
    pub authentication_results: Option<String>,
}

/// A message and the reports it carried.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedMail {
    /// SHA-256 of the raw message, lower-case hex (deduplication, INT-3).
    pub sha256: String,
    /// `Message-ID`, without `<>`.
    pub message_id: Option<String>,
    /// `From:`, RFC 2047 decoded (personal data).
    pub from: Option<String>,
    /// `Subject:`, RFC 2047 decoded.
    pub subject: Option<String>,
    /// `Date:`.
    pub date: Option<Timestamp>,
    /// How many MIME parts the message had (itself included).
    pub parts: usize,
    /// The reports, in the order their parts came; never empty.
    pub reports: Vec<ParsedReport>,
    /// What was tolerated on the way (a missing closing delimiter, a target that was skipped).
    pub warnings: Vec<String>,
}
