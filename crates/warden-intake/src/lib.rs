//! Warden's abuse-desk intake parsers (INT-2): a raw e-mail, or a bare X-ARF document, becomes
//! bounded [`ParsedReport`]s in one call, or one error naming the part and the field.
//!
//! ```no_run
//! # fn demo(raw: &[u8]) -> Result<(), warden_intake::MailError> {
//! let mail = warden_intake::parse_message(raw, &warden_intake::Limits::default())?;
//! for report in &mail.reports {
//!     println!("{} {:?} {:?}", report.category, report.disposition, report.targets);
//! }
//! # Ok(()) }
//! ```
//!
//! The crate owns formats, not decisions: what the e-mail *says* (who reports what, about
//! which IPs, URLs and domains, in which taxonomy category, when, with which evidence). It does
//! no IO, reads no clock and knows no database, so the HTTP door (`POST /api/reports/mail`), an
//! MTA pipe and an SMTP listener can all sit on top of it, and fuzzing it is cheap.
//!
//! # Shape
//!
//! - [`mime`]: a raw RFC 5322 message → a flat list of parts (multipart nested to
//!   [`Limits::max_depth`], Base64 / quoted-printable, charsets by `encoding_rs`, RFC 2047
//!   words, RFC 2231 parameters).
//! - [`arf`]: `message/feedback-report` parts (RFC 5965, RFC 6650) and forwarded complaints.
//! - [`xarf`]: X-ARF v4 JSON (checked against the current schemas' requirements) and v3
//!   (delegated to [`warden_domain::xarf::parse_v3`]), as a bare document or a JSON part.
//! - [`report`]: the common [`ParsedReport`], with the reporting part (and ARF's original
//!   message) kept as received with its SHA-256 (INT-3).
//! - [`fuzz`]: a deterministic mutation fuzzer over a corpus of messages (`warden fuzz mail`).
//!
//! # Why our own MIME reader
//!
//! We looked at Stalwart's `mail-parser` (0.11; 1.x needs a newer rustc than ours). It is well
//! tested, but it is lenient by design: it never fails, so a truncated message, a wrong
//! boundary or a part cut in its header fields come back as some best-effort text, and it has
//! no bound on parts or header fields that we could make it refuse with. Intake must refuse a
//! broken report naming the part (INT-2: nothing is stored half) and bound everything
//! (STYLE 6), so we would have re-checked its output for exactly the faults it hides. A
//! reader for what abuse mail needs (structure, two transfer encodings, charsets through the
//! `encoding_rs` the workspace already has, encoded words) is a few hundred lines, checks each
//! bound before doing the work, and adds no dependency.
//!
//! # Which parts are reports
//!
//! In order of the parts: each `message/feedback-report` is an ARF report; each JSON part
//! (`application/json`, `*+json`, or a `.json` file name) that is X-ARF is an X-ARF report
//! (JSON that is not X-ARF is skipped with a warning; JSON that is not JSON is refused). If
//! there is none, a forwarded message (`message/rfc822`) makes one inferred ARF `abuse`
//! report, unless the message is a delivery report (a bounce). An attached message is never
//! searched for reports. One bad report refuses the whole message.
//!
//! # The taxonomy and informational reports (a proposal)
//!
//! INT-6 makes reports of vulnerable services notify-only, and ARF has informational types
//! (`auth-failure`, `not-spam`, opt-out). The taxonomy has no such notion; this crate carries it
//! as [`Disposition::NotifyOnly`] beside the nearest category. Proposed for the taxonomy: a
//! behaviour category `vulnerable_service` (存在安全隐患的服务, base severity general) whose
//! cases are notify-only by definition, so that X-ARF `vulnerability/*`, v3
//! `Vulnerability/OpenService` and a later Shadowserver feed land there rather than in
//! `cyber_harm` with a flag; and a `notify_only` property on a category row rather than a
//! per-report flag. Until then, the caller must honour [`ParsedReport::disposition`].
//!
//! # Personal data
//!
//! [`Reporter::contact`] and [`Reporter::name`], [`ParsedMail::from`] and
//! [`ArfDetails::original_rcpt_to`] are personal data (AUD-4): the caller seals them. The raw
//! parts hold them too, as received.

pub mod arf;
pub mod date;
pub mod error;
pub mod fuzz;
pub mod limits;
pub mod mime;
pub mod report;
pub mod xarf;

pub use error::{MailError, MimeFault};
pub use limits::{Limit, Limits};
pub use report::{
    ArfDetails, Details, Disposition, FeedbackType, Format, ParsedMail, ParsedReport, RawPart,
    Reporter, SourceIpOrigin,
};

use warden_domain::resource::Target;
use warden_domain::time::Timestamp;

/// What the message's own header says, shared by its reports.
#[derive(Debug, Clone, Default)]
pub(crate) struct MailContext {
    pub reporter: Reporter,
    pub date: Option<Timestamp>,
}

/// Parses a raw RFC 5322 message into the reports it carries, within `limits`.
///
/// Either every report of the message, or the first problem: a bound exceeded
/// ([`MailError::Limit`], naming it), broken MIME ([`MailError::Mime`]), an invalid report
/// ([`MailError::Report`], naming the part and the field), or no report at all
/// ([`MailError::NoReport`]).
pub fn parse_message(raw: &[u8], limits: &Limits) -> Result<ParsedMail, MailError> {
    let msg = mime::parse(raw, limits)?;
    let Some(root) = msg.root() else {
        return Err(MailError::NoReport("the message is empty".into()));
    };
    let mut warnings = msg.warnings.clone();
    let from = root.headers.decoded("from");
    let (name, contact) = from.as_deref().map(parse_mailbox).unwrap_or_default();
    let date_text = root.headers.get("date");
    let date = date_text.and_then(date::parse_rfc5322);
    if let (Some(d), None) = (date_text, date) {
        warnings.push(format!(
            "message: Date `{}` is not an RFC 5322 date; ignored",
            d.chars().take(80).collect::<String>()
        ));
    }
    let mail = MailContext {
        reporter: Reporter {
            domain: contact
                .as_deref()
                .and_then(|c| c.rsplit_once('@'))
                .map(|(_, d)| d.to_ascii_lowercase()),
            name,
            contact,
            ..Reporter::default()
        },
        date,
    };

    for p in &msg.parts {
        if p.content_type.mime == "multipart/report"
            && is_feedback(p)
            && p.children.len() < 3
            && !p.closed
        {
            return Err(MailError::mime(
                MimeFault::Truncated,
                p.at(),
                format!(
                    "has {} part(s) and no closing delimiter: RFC 5965 needs three (truncated?)",
                    p.children.len()
                ),
            ));
        }
    }

    let mut reports: Vec<ParsedReport> = Vec::new();
    for (i, p) in msg.parts.iter().enumerate() {
        let report = if p.content_type.mime == "message/feedback-report" {
            Some(arf::feedback_report(&msg, i, &mail, limits, &mut warnings)?)
        } else if is_json_part(p) {
            let body = p.decoded()?;
            match xarf::parse_json(&body, &p.at(), limits, &mut warnings)? {
                xarf::Json::Report(mut r) => {
                    // Keep the part as received (its header fields and encoding), not the decoded body.
                    r.raw = RawPart::new(p.id.to_string(), p.content_type.mime.clone(), p.raw);
                    if r.reported_at.is_none() {
                        r.reported_at = mail.date;
                    }
                    if r.reporter == Reporter::default() {
                        r.reporter = mail.reporter.clone();
                    }
                    Some(*r)
                }
                xarf::Json::NotXarf => {
                    warnings.push(format!("{}: JSON that is not X-ARF; skipped", p.at()));
                    None
                }
            }
        } else {
            None
        };
        if let Some(r) = report {
            if reports.len() >= limits.max_reports {
                return Err(MailError::Limit {
                    limit: Limit::Reports,
                    at: p.at(),
                    what: "the number of reports",
                    actual: reports.len() + 1,
                    max: limits.max_reports,
                });
            }
            reports.push(r);
        }
    }

    if reports.is_empty() {
        if let Some(p) = msg
            .parts
            .iter()
            .find(|p| p.content_type.mime == "multipart/report" && is_feedback(p))
        {
            return Err(MailError::report(
                Format::Arf,
                p.at(),
                "missing_field",
                "message/feedback-report",
                "a feedback report without its message/feedback-report part",
            ));
        }
        let bounce = msg.parts.iter().any(|p| {
            matches!(
                p.content_type.mime.as_str(),
                "message/delivery-status" | "message/global-delivery-status"
            ) || (p.content_type.mime == "multipart/report" && !is_feedback(p))
        });
        if bounce {
            return Err(MailError::NoReport(
                "a delivery or disposition report (a bounce), not a complaint".into(),
            ));
        }
        if let Some(i) = msg
            .parts
            .iter()
            .position(|p| p.depth > 0 && p.content_type.mime == "message/rfc822")
        {
            reports.push(arf::forwarded(&msg, i, &mail, limits, &mut warnings)?);
        }
    }
    if reports.is_empty() {
        let types: Vec<String> = msg
            .parts
            .iter()
            .take(8)
            .map(|p| p.content_type.mime.clone())
            .collect();
        return Err(MailError::NoReport(format!(
            "no message/feedback-report part, no X-ARF JSON part and no attached message (parts: {})",
            types.join(", ")
        )));
    }
    Ok(ParsedMail {
        sha256: warden_domain::sha256_hex(raw),
        message_id: root
            .headers
            .get("message-id")
            .map(|m| m.trim().trim_matches(['<', '>']).to_string()),
        from,
        subject: root.headers.decoded("subject"),
        date,
        parts: msg.parts.len(),
        reports,
        warnings,
    })
}

/// Parses a bare X-ARF document (v4, or v3), e.g. the body of an API request. Errors name the
/// field; the part is `body`.
pub fn parse_xarf(bytes: &[u8], limits: &Limits) -> Result<ParsedReport, MailError> {
    if bytes.len() > limits.max_part_bytes {
        return Err(MailError::Limit {
            limit: Limit::PartBytes,
            at: "body".into(),
            what: "the document, in bytes,",
            actual: bytes.len(),
            max: limits.max_part_bytes,
        });
    }
    let mut warnings = Vec::new();
    match xarf::parse_json(bytes, "body", limits, &mut warnings)? {
        xarf::Json::Report(r) => Ok(*r),
        xarf::Json::NotXarf => Err(MailError::report(
            Format::XarfV4,
            "body",
            "missing_field",
            "xarf_version",
            "missing required field `xarf_version`: neither X-ARF v4 nor X-ARF v3 \
             (`Version`, `ReporterInfo`, `Report`)",
        )),
    }
}

fn is_feedback(p: &mime::Part<'_>) -> bool {
    p.content_type
        .param("report-type")
        .is_some_and(|t| t.eq_ignore_ascii_case("feedback-report"))
}

fn is_json_part(p: &mime::Part<'_>) -> bool {
    let m = p.content_type.mime.as_str();
    if p.content_type.is_multipart() || m.starts_with("message/") {
        return false;
    }
    m == "application/json"
        || m.ends_with("+json")
        || p.file_name()
            .is_some_and(|n| n.to_ascii_lowercase().ends_with(".json"))
}

/// `"Name" <addr@example>` or `addr@example` → (name, address).
pub fn parse_mailbox(value: &str) -> (Option<String>, Option<String>) {
    let v = value.trim();
    if let (Some(open), Some(close)) = (v.rfind('<'), v.rfind('>'))
        && open < close
    {
        let addr = v
            .get(open + 1..close)
            .unwrap_or_default()
            .trim()
            .to_string();
        let name = v
            .get(..open)
            .unwrap_or_default()
            .trim()
            .trim_matches('"')
            .trim()
            .to_string();
        return (
            (!name.is_empty()).then_some(name),
            addr.contains('@').then_some(addr),
        );
    }
    let addr = mime::strip_comments(v).trim().to_string();
    (None, addr.contains('@').then_some(addr))
}

/// Adds a target unless it is already there or the list is full (a warning then).
pub(crate) fn push_target(
    targets: &mut Vec<Target>,
    t: Target,
    limits: &Limits,
    at: &str,
    warnings: &mut Vec<String>,
) {
    if targets.iter().any(|x| x.canonical() == t.canonical()) {
        return;
    }
    if targets.len() >= limits.max_targets {
        warnings.push(format!(
            "{at}: more than {} targets; `{}` dropped",
            limits.max_targets,
            t.canonical()
        ));
        return;
    }
    targets.push(t);
}

/// `s` cut to at most `max` bytes at a character boundary, ending in `…` when cut.
pub(crate) fn cut_text(s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = s.get(..end).unwrap_or_default().to_string();
    out.push('…');
    out
}
