//! Warden's abuse-desk intake parsers (INT-2): a raw e-mail, or a bare document (X-ARF, IODEF,
//! a Shadowserver CSV), becomes bounded [`ParsedReport`]s in one call, or one error naming the
//! part and the field.
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
//! - [`archive`]: gzip and zip attachments, inflated within [`Limits::max_decompressed_bytes`]
//!   and [`Limits::max_archive_entries`].
//! - [`arf`]: `message/feedback-report` parts (RFC 5965, RFC 6650) and forwarded complaints.
//! - [`xarf`]: X-ARF v4 JSON (checked against the current schemas' requirements) and v3
//!   (delegated to [`warden_domain::xarf::parse_v3`]), as a bare document or a JSON part.
//! - [`iodef`]: IODEF v1 and v2 XML (no DTD, no entities) and v2's JSON binding; one report
//!   per incident.
//! - [`shadowserver`]: Shadowserver's CSV reports; one report per row, scans notify-only.
//! - [`freeform`]: free-form complaints: reporter rules, keywords, and every address, URL and
//!   domain of the text as candidates.
//! - [`report`]: the common [`ParsedReport`], with the reporting part (and ARF's original
//!   message) kept as received with its SHA-256 (INT-3).
//! - [`fuzz`]: a deterministic mutation fuzzer over a corpus of messages and documents
//!   (`warden fuzz mail`).
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
//! bound before doing the work, and adds no dependency. The CSV reader is ours for the same
//! reason ([`shadowserver`]); XML is `quick-xml`'s, gzip `flate2`'s and zip `zip`'s.
//!
//! # Which parts are reports
//!
//! In order of the parts, each leaf part (and each file of a gzip or zip attachment, opened
//! one level deep; see [`archive`]) is read by the first of these that applies:
//!
//! 1. a `message/feedback-report` is an ARF report;
//! 2. a JSON part (`application/json`, `*+json`, or a `.json` file name) is X-ARF if it is
//!    X-ARF, else IODEF JSON if it has `Incident` (one report per incident), else skipped with a
//!    warning (JSON that is not JSON is refused);
//! 3. an XML part (`application/xml`, `text/xml`, `*+xml`, a type or file name with `iodef`, or
//!    a `.xml` file name) is IODEF if its root is `IODEF-Document` (one report per incident),
//!    else skipped with a warning;
//! 4. a CSV part (`text/csv`, `application/csv`, a `.csv` file name) or a text part whose first
//!    line is a Shadowserver header is a Shadowserver report if it has Shadowserver's columns
//!    (one report per row), else skipped.
//!
//! If there is none, a forwarded message (`message/rfc822`) makes one inferred ARF `abuse`
//! report, unless the message is a delivery report (a bounce). If there is still none, the
//! message is read as a free-form complaint ([`freeform`]): one report whose targets are every
//! candidate of its text, if a reporter rule or a keyword gives it a category. An attached
//! message is never searched for reports. One bad report refuses the whole message. A message
//! carries at most [`Limits::max_reports`] reports besides CSV rows, which are bounded by
//! [`Limits::max_csv_rows`].
//!
//! [`parse_document`] reads one bare document (X-ARF or IODEF JSON, IODEF XML, a Shadowserver
//! CSV, or a gzip or zip of them) by its content type or file name, else by its first byte.
//!
//! # The taxonomy and informational reports (a proposal)
//!
//! INT-6 makes reports of vulnerable services notify-only, and ARF has informational types
//! (`auth-failure`, `not-spam`, opt-out). The taxonomy has no such notion; this crate carries it
//! as [`Disposition::NotifyOnly`] beside the nearest category. Proposed for the taxonomy: a
//! behaviour category `vulnerable_service` (存在安全隐患的服务, base severity general) whose
//! cases are notify-only by definition, so that X-ARF `vulnerability/*`, v3
//! `Vulnerability/OpenService`, IODEF's `misconfiguration` and Shadowserver's `scan_*` reports
//! land there rather than in `cyber_harm` with a flag; and a `notify_only` property on a
//! category row rather than a per-report flag. Until then, the caller must honour
//! [`ParsedReport::disposition`].
//!
//! # Personal data
//!
//! [`Reporter::contact`] and [`Reporter::name`] (IODEF's `Contact`, X-ARF's `reporter`, the
//! mail's `From:`), [`ParsedMail::from`] and [`ArfDetails::original_rcpt_to`] are personal
//! data (AUD-4): the caller seals them. The raw parts hold them too, as received, and so does
//! the text of a free-form report.

pub mod archive;
pub mod arf;
pub mod date;
pub mod error;
pub mod freeform;
pub mod fuzz;
pub mod iodef;
pub mod limits;
pub mod mime;
pub mod report;
pub mod shadowserver;
pub mod xarf;

use std::collections::HashSet;

pub use error::{MailError, MimeFault};
pub use freeform::{ReporterRule, SubjectPattern, default_rules};
pub use limits::{Limit, Limits};
pub use report::{
    ArfDetails, Details, Disposition, FeedbackType, Format, FreeFormDetails, IodefBinding,
    IodefDetails, IodefVersion, ParsedMail, ParsedReport, RawPart, Reporter, ShadowserverDetails,
    SourceIpOrigin, TrustHint, TypeSource,
};

use warden_domain::resource::Target;
use warden_domain::time::Timestamp;

/// What the message's own header says, shared by its reports.
#[derive(Debug, Clone, Default)]
pub(crate) struct MailContext {
    pub reporter: Reporter,
    pub date: Option<Timestamp>,
}

/// Parses a raw RFC 5322 message into the reports it carries, within `limits`, recognising
/// free-form reporters by [`default_rules`].
///
/// Either every report of the message, or the first problem: a bound exceeded
/// ([`MailError::Limit`], naming it), broken MIME ([`MailError::Mime`]), an invalid report
/// ([`MailError::Report`], naming the part and the field), or no report at all
/// ([`MailError::NoReport`]).
pub fn parse_message(raw: &[u8], limits: &Limits) -> Result<ParsedMail, MailError> {
    parse_message_with(raw, limits, default_rules())
}

/// [`parse_message`] with the caller's reporter rules for free-form complaints (in order; the
/// first that matches wins) instead of the shipped ones.
pub fn parse_message_with(
    raw: &[u8],
    limits: &Limits,
    rules: &[ReporterRule],
) -> Result<ParsedMail, MailError> {
    let msg = mime::parse(raw, limits)?;
    let Some(root) = msg.root() else {
        return Err(MailError::NoReport("the message is empty".into()));
    };
    let mut warnings = msg.warnings.clone();
    let from = root.headers.decoded("from");
    let subject = root.headers.decoded("subject");
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

    let mut out = Reports::new(limits);
    let mut entries: Vec<(usize, String, archive::Entry)> = Vec::new();
    for (i, p) in msg.parts.iter().enumerate() {
        if p.content_type.mime == "message/feedback-report" {
            let r = arf::feedback_report(&msg, i, &mail, limits, &mut warnings)?;
            out.push(r, false, &p.at())?;
            continue;
        }
        if p.content_type.is_multipart() || p.content_type.mime.starts_with("message/") {
            continue;
        }
        let file_name = p.file_name();
        let mime = p.content_type.mime.as_str();
        let at = p.at();
        let part = p.id.to_string();
        let archive = match archive::kind(mime, file_name.as_deref(), &[]) {
            Some(k) => Some((k, p.decoded()?)),
            None if mime == "application/octet-stream" => {
                let body = p.decoded()?;
                archive::kind(mime, None, &body).map(|k| (k, body))
            }
            None => None,
        };
        if let Some((kind, body)) = archive {
            let files = archive::open(
                kind,
                &body,
                file_name.as_deref(),
                &at,
                limits,
                &mut out.budget,
                &mut warnings,
            )?;
            for e in files {
                let e_at = format!("{at} entry `{}`", e.name.as_deref().unwrap_or("-"));
                let doc = Doc {
                    at: &e_at,
                    part: &part,
                    mime: "",
                    name: e.name.as_deref(),
                    bytes: &e.bytes,
                    raw: &e.bytes,
                    sniff: false,
                };
                structured(&doc, &mail, &mut out, &mut warnings)?;
                entries.push((i, e_at.clone(), e));
            }
            continue;
        }
        let declared = is_json_part(p)
            || is_xml(mime, file_name.as_deref())
            || is_csv(mime, file_name.as_deref());
        let body = if declared {
            p.decoded()?
        } else if mime == "text/plain" {
            // Only sniffed for a Shadowserver header: a body that does not decode is left to
            // the free-form reader, which refuses it if it needs it.
            match p.decoded() {
                Ok(b) if shadowserver::looks_like(&b) => b,
                _ => continue,
            }
        } else {
            continue;
        };
        let doc = Doc {
            at: &at,
            part: &part,
            mime: if is_json_part(p) && !mime.contains("json") {
                "application/json"
            } else {
                mime
            },
            name: file_name.as_deref(),
            bytes: &body,
            raw: p.raw,
            sniff: false,
        };
        structured(&doc, &mail, &mut out, &mut warnings)?;
    }
    let mut reports = out.reports;

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
        let mut texts = Vec::new();
        for p in &msg.parts {
            if p.content_type.is_multipart() || p.content_type.mime.starts_with("message/") {
                continue;
            }
            if is_text_like(&p.content_type.mime, p.file_name().as_deref()) {
                texts.push(freeform::Text {
                    source: p.at(),
                    text: p.text()?,
                });
            }
        }
        for (_, at, e) in &entries {
            if is_text_like("", e.name.as_deref()) || looks_like_text(&e.bytes) {
                texts.push(freeform::Text {
                    source: at.clone(),
                    text: String::from_utf8_lossy(&e.bytes).into_owned(),
                });
            }
        }
        let raw_part = RawPart::new("message".into(), root.content_type.mime.clone(), raw);
        match freeform::report(
            &texts,
            subject.as_deref(),
            &mail.reporter,
            mail.date,
            rules,
            raw_part,
            limits,
            &mut warnings,
        ) {
            Ok(r) => reports.push(r),
            Err(why) => {
                let types: Vec<String> = msg
                    .parts
                    .iter()
                    .take(8)
                    .map(|p| p.content_type.mime.clone())
                    .collect();
                return Err(MailError::NoReport(format!(
                    "no structured report (ARF, X-ARF, IODEF, Shadowserver CSV), no attached \
                     message, and {why} (parts: {})",
                    types.join(", ")
                )));
            }
        }
    }
    Ok(ParsedMail {
        sha256: warden_domain::sha256_hex(raw),
        message_id: root
            .headers
            .get("message-id")
            .map(|m| m.trim().trim_matches(['<', '>']).to_string()),
        from,
        subject,
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
        return Err(body_too_large(bytes.len(), limits));
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

/// The reports of one bare document.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedDocument {
    /// SHA-256 of the document, lower-case hex.
    pub sha256: String,
    /// Its reports: one for X-ARF, one per incident for IODEF, one per row for a CSV; never
    /// empty.
    pub reports: Vec<ParsedReport>,
    /// What was tolerated on the way.
    pub warnings: Vec<String>,
}

/// Parses a bare document, e.g. an API upload: X-ARF or IODEF JSON, IODEF XML, a Shadowserver
/// CSV, or a gzip or zip of them. `hint` is its content type (`application/xml`, `text/csv`)
/// or its file name (`2026-11-30-scan_dns-asn-region.csv`, which also gives a CSV's report
/// type); when it says neither, the first byte decides (`<` XML, `{` JSON, else CSV). Errors
/// name the part `body` (`body entry `x.csv`` inside an archive).
pub fn parse_document(
    bytes: &[u8],
    hint: &str,
    limits: &Limits,
) -> Result<ParsedDocument, MailError> {
    if bytes.len() > limits.max_part_bytes {
        return Err(body_too_large(bytes.len(), limits));
    }
    let hint = hint.trim();
    let looks_like_type =
        hint.contains('/') && !hint.contains('.') && hint.split('/').all(|s| !s.is_empty());
    let (mime, name) = if looks_like_type {
        (hint.to_ascii_lowercase(), None)
    } else {
        (String::new(), (!hint.is_empty()).then_some(hint))
    };
    let mail = MailContext::default();
    let mut warnings = Vec::new();
    let mut out = Reports::new(limits);
    if let Some(kind) = archive::kind(&mime, name, bytes) {
        let files = archive::open(
            kind,
            bytes,
            name,
            "body",
            limits,
            &mut out.budget,
            &mut warnings,
        )?;
        for e in &files {
            let at = format!("body entry `{}`", e.name.as_deref().unwrap_or("-"));
            let doc = Doc {
                at: &at,
                part: "body",
                mime: "",
                name: e.name.as_deref(),
                bytes: &e.bytes,
                raw: &e.bytes,
                sniff: true,
            };
            structured(&doc, &mail, &mut out, &mut warnings)?;
        }
    } else {
        let doc = Doc {
            at: "body",
            part: "body",
            mime: &mime,
            name,
            bytes,
            raw: bytes,
            sniff: true,
        };
        structured(&doc, &mail, &mut out, &mut warnings)?;
    }
    if out.reports.is_empty() {
        return Err(MailError::NoReport(
            "the document is not X-ARF, IODEF or a Shadowserver CSV with rows".into(),
        ));
    }
    Ok(ParsedDocument {
        sha256: warden_domain::sha256_hex(bytes),
        reports: out.reports,
        warnings,
    })
}

fn body_too_large(len: usize, limits: &Limits) -> MailError {
    MailError::Limit {
        limit: Limit::PartBytes,
        at: "body".into(),
        what: "the document, in bytes,",
        actual: len,
        max: limits.max_part_bytes,
    }
}

/// The reports of a message so far, and what is left of its bounds.
struct Reports<'l> {
    reports: Vec<ParsedReport>,
    /// Reports that count toward [`Limits::max_reports`] (not CSV rows).
    counted: usize,
    /// What is left of [`Limits::max_csv_rows`].
    rows_left: usize,
    /// What is left of [`Limits::max_decompressed_bytes`].
    budget: usize,
    limits: &'l Limits,
}

impl<'l> Reports<'l> {
    fn new(limits: &'l Limits) -> Reports<'l> {
        Reports {
            reports: Vec::new(),
            counted: 0,
            rows_left: limits.max_csv_rows,
            budget: limits.max_decompressed_bytes,
            limits,
        }
    }

    fn push(&mut self, r: ParsedReport, csv_row: bool, at: &str) -> Result<(), MailError> {
        if !csv_row {
            if self.counted >= self.limits.max_reports {
                return Err(MailError::Limit {
                    limit: Limit::Reports,
                    at: at.to_string(),
                    what: "the number of reports",
                    actual: self.counted + 1,
                    max: self.limits.max_reports,
                });
            }
            self.counted += 1;
        }
        self.reports.push(r);
        Ok(())
    }
}

/// A leaf part or an archive's file, as the structured readers see it.
struct Doc<'a> {
    /// How errors name it.
    at: &'a str,
    /// Its name in the evidence (`part 2`, `body`).
    part: &'a str,
    /// Its content type, lower case (empty for an archive's file).
    mime: &'a str,
    /// Its file name.
    name: Option<&'a str>,
    /// Its decoded bytes.
    bytes: &'a [u8],
    /// Its bytes as kept for evidence (the part as received).
    raw: &'a [u8],
    /// Whether to guess the format from the first byte when type and name say nothing.
    sniff: bool,
}

/// The structured formats a document can be read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Json,
    Xml,
    Csv,
}

fn kind_of(doc: &Doc<'_>) -> Option<Kind> {
    let name = doc.name.map(str::to_ascii_lowercase);
    let ends = |ext: &str| name.as_deref().is_some_and(|n| n.ends_with(ext));
    let m = doc.mime;
    if m == "application/json" || m.ends_with("+json") || ends(".json") {
        return Some(Kind::Json);
    }
    if is_xml(m, doc.name) {
        return Some(Kind::Xml);
    }
    if is_csv(m, doc.name) || shadowserver::looks_like(doc.bytes) {
        return Some(Kind::Csv);
    }
    if doc.sniff && (m.is_empty() || m.starts_with("text/") || m == "application/octet-stream") {
        let first = doc
            .bytes
            .strip_prefix(b"\xEF\xBB\xBF")
            .unwrap_or(doc.bytes)
            .iter()
            .find(|b| !b.is_ascii_whitespace());
        return match first {
            Some(b'<') => Some(Kind::Xml),
            Some(b'{') => Some(Kind::Json),
            Some(_) => Some(Kind::Csv),
            None => None,
        };
    }
    None
}

/// Reads a document as the structured format its type, name or content says, adding its
/// reports to `out`.
fn structured(
    doc: &Doc<'_>,
    mail: &MailContext,
    out: &mut Reports<'_>,
    warnings: &mut Vec<String>,
) -> Result<(), MailError> {
    let limits = out.limits;
    let at = doc.at;
    let content_type = if doc.mime.is_empty() {
        "application/octet-stream"
    } else {
        doc.mime
    };
    let fill = |mut r: ParsedReport| {
        if r.reported_at.is_none() {
            r.reported_at = mail.date;
        }
        if r.reporter.contact.is_none() && r.reporter.org.is_none() {
            r.reporter = mail.reporter.clone();
        }
        r
    };
    match kind_of(doc) {
        None => {}
        Some(Kind::Json) => match xarf::parse_json(doc.bytes, at, limits, warnings)? {
            xarf::Json::Report(mut r) => {
                // Keep the part as received (its header fields and encoding), not the decoded body.
                r.raw = RawPart::new(doc.part.to_string(), content_type.to_string(), doc.raw);
                if r.reported_at.is_none() {
                    r.reported_at = mail.date;
                }
                if r.reporter == Reporter::default() {
                    r.reporter = mail.reporter.clone();
                }
                out.push(*r, false, at)?;
            }
            xarf::Json::NotXarf => {
                let text = doc.bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(doc.bytes);
                let value: serde_json::Value = serde_json::from_slice(text).unwrap_or_default();
                let src = iodef::Source {
                    at,
                    part: doc.part,
                    content_type,
                    raw: doc.raw,
                };
                match iodef::parse_json(&value, &src, limits, warnings)? {
                    iodef::Iodef::Reports(list) => {
                        for r in list {
                            out.push(fill(r), false, at)?;
                        }
                    }
                    iodef::Iodef::NotIodef => {
                        warnings.push(format!("{at}: JSON that is not X-ARF nor IODEF; skipped"));
                    }
                }
            }
        },
        Some(Kind::Xml) => {
            let src = iodef::Source {
                at,
                part: doc.part,
                content_type,
                raw: doc.raw,
            };
            match iodef::parse_xml(doc.bytes, &src, limits, warnings)? {
                iodef::Iodef::Reports(list) => {
                    for r in list {
                        out.push(fill(r), false, at)?;
                    }
                }
                iodef::Iodef::NotIodef => {
                    warnings.push(format!("{at}: XML that is not IODEF; skipped"));
                }
            }
        }
        Some(Kind::Csv) => {
            match shadowserver::parse(
                doc.bytes,
                at,
                doc.part,
                doc.name,
                &mail.reporter,
                limits,
                &mut out.rows_left,
                warnings,
            )? {
                shadowserver::Csv::Reports(list) => {
                    for mut r in list {
                        r.reported_at = mail.date;
                        out.push(r, true, at)?;
                    }
                }
                shadowserver::Csv::NotShadowserver => {
                    if is_csv(doc.mime, doc.name) || doc.sniff {
                        warnings.push(format!(
                            "{at}: a CSV that is not a Shadowserver report; skipped"
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

fn is_xml(mime: &str, name: Option<&str>) -> bool {
    let name = name.map(str::to_ascii_lowercase).unwrap_or_default();
    mime == "application/xml"
        || mime == "text/xml"
        || mime.ends_with("+xml")
        || mime.contains("iodef")
        || name.ends_with(".xml")
        || name.contains("iodef")
}

fn is_csv(mime: &str, name: Option<&str>) -> bool {
    mime == "text/csv"
        || mime == "application/csv"
        || mime == "text/comma-separated-values"
        || name.is_some_and(|n| n.to_ascii_lowercase().ends_with(".csv"))
}

/// Whether a part or file is text to search for free-form candidates.
fn is_text_like(mime: &str, name: Option<&str>) -> bool {
    let name = name.map(str::to_ascii_lowercase).unwrap_or_default();
    mime.starts_with("text/")
        || mime == "application/json"
        || mime == "application/xml"
        || [".txt", ".log", ".csv", ".json", ".xml"]
            .iter()
            .any(|e| name.ends_with(e))
}

/// Whether bytes look like text: UTF-8 without NUL in their first KiB.
fn looks_like_text(b: &[u8]) -> bool {
    let head = b.get(..b.len().min(1024)).unwrap_or_default();
    !head.contains(&0)
        && match std::str::from_utf8(head) {
            Ok(_) => true,
            // A cut in the middle of a character at the end of the window is still text.
            Err(e) => e.error_len().is_none(),
        }
}

/// Targets deduplicated by their canonical form, at most `cap` (the rest counted).
#[derive(Debug, Default)]
pub(crate) struct Targets {
    list: Vec<Target>,
    seen: HashSet<String>,
    cap: usize,
    dropped: usize,
}

impl Targets {
    pub(crate) fn new(cap: usize) -> Targets {
        Targets {
            cap,
            ..Targets::default()
        }
    }

    pub(crate) fn push(&mut self, t: Target) {
        let key = t.canonical();
        if self.seen.contains(&key) {
            return;
        }
        if self.list.len() >= self.cap {
            self.dropped += 1;
            return;
        }
        self.seen.insert(key);
        self.list.push(t);
    }

    /// The targets; a warning at `at` when some were dropped.
    pub(crate) fn finish(self, at: &str, warnings: &mut Vec<String>) -> Vec<Target> {
        if self.dropped > 0 {
            warnings.push(format!(
                "{at}: more than {} targets; {} dropped",
                self.cap, self.dropped
            ));
        }
        self.list
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
