//! IODEF, the Incident Object Description Exchange Format: v1 (RFC 5070) and v2 (RFC 7970) in
//! XML, and v2's JSON binding (RFC 8727). Each `Incident` is one report.
//!
//! Both bindings are first read into one small bounded tree of [`Element`]s (local names,
//! attributes, text, children), which one interpreter then reads: the JSON binding names its
//! members after the XML's classes (`Incident`, `EventData`) and attributes (`purpose`), so a
//! JSON member whose name starts with a capital is an element, any other an attribute, and
//! `value` (`Address`) or `id` (`IncidentID`) the element's text.
//!
//! # XML: no DTD, no entities
//!
//! The XML is read by `quick-xml`'s pull parser, which never loads anything. A document type
//! declaration (`<!DOCTYPE`, the door to external entities and to "billion laughs" expansion)
//! is refused, and so is any entity reference other than XML's five predefined ones and
//! character references: "XML with a DTD or entities is refused" (`dtd_refused`, naming the
//! part). Elements nest at most [`Limits::max_xml_depth`] deep and number at most
//! [`Limits::max_xml_elements`]. The root must be `IODEF-Document` in the namespace of v1
//! (`urn:ietf:params:xml:ns:iodef-1.0`, `version="1.00"`) or v2 (`...iodef-2.0`, `"2.00"`);
//! any other namespace or version is `unsupported_version`. Elements of other namespaces
//! (signatures, extensions) are skipped. A document in another charset is decoded first.
//!
//! # Checked
//!
//! What the schemas require of what Warden reads: an `Incident` (one at least, at most
//! [`Limits::max_reports`]), its `purpose` (v1: traceback, mitigation, reporting, other,
//! ext-value; v2 adds watch) and `IncidentID`, a `Contact`, `ReportTime` (v1) or
//! `GenerationTime` (v2), an `Assessment` (v1); every time Warden reads is a date-time; an
//! `Address` whose category says it is an IPv4 or IPv6 address or network must be one. A
//! wrong one is refused naming it (`Incident[1].EventData[1].Flow[1].System[1].Node[1].Address[1]`).
//!
//! # Categories
//!
//! In this order, the first that says something wins:
//! 1. v2's `Assessment/IncidentCategory` text, through the keyword table
//!    ([`crate::freeform::KEYWORDS`]);
//! 2. the impacts of the assessments, in document order (the table below; `unknown`,
//!    `ext-value`, `policy` and the like say nothing);
//! 3. keywords in the impacts' text, the incident's and its events' `Description`, the
//!    `Method` references' names and descriptions and the indicators' descriptions;
//! 4. else `cyber_harm`, the taxonomy's catch-all for network security.
//!
//! | impact | type | category | disposition |
//! |---|---|---|---|
//! | v1 `Impact` | `admin`, `user`, `file`, `info-leak` | `hacking` | violation |
//! | v1 `Impact` | `dos` | `ddos_attack` | violation |
//! | v1 `Impact` | `recon` | `scanning` | violation |
//! | v1 `Impact` | `social-engineering` | `fraud_phishing` | violation |
//! | v1 `Impact` | `misconfiguration` | `cyber_harm` | notify-only (a vulnerable service, INT-6) |
//! | v2 `SystemImpact` (also read as `TechnicalImpact`) | `takeover-*`, `cps-*`, `damaged-*`, `breach-*`, `integrity-*`, `traffic-redirection`, `monitoring-*` | `hacking` | violation |
//! | v2 `SystemImpact` | `availability-*` | `ddos_attack` | violation |
//! | v2 `BusinessImpact`, `IntendedImpact` | `breach-*`, `loss-of-integrity`, `asset-damage`, `asset-manipulation` | `hacking` | violation |
//! | v2 `BusinessImpact`, `IntendedImpact` | `loss-of-service` | `ddos_attack` | violation |
//! | v2 `BusinessImpact`, `IntendedImpact` | `theft-financial`, `theft-service`, `extortion` | `fraud` | violation |
//!
//! An incident whose `purpose` is `watch` (v2's watch and warning: indicators to look out for,
//! not a claim that something happened) is notify-only whatever its category, as X-ARF's
//! reputation listings are. A `completion="failed"` attempt is still a violation.
//!
//! # Targets
//!
//! The subjects of a report are the systems that did it: the `Node`s of every
//! `EventData/Flow/System` (events nest) whose `category` is `source`, `intermediate`,
//! `infrastructure`, `watchlist`, `ext-value` or absent, and the `Observable`s of
//! `IndicatorData` (their `Address`, `DomainData`, `System` and `BulkObservable`). From a
//! node: its `Address`es of category `ipv4-addr`, `ipv6-addr` (an IP), `ipv4-net`,
//! `ipv6-net` and the masked forms (one address is an IP; a wider network is kept in
//! [`IodefDetails::networks`], not a target, since a target is one address), `site-uri` (a
//! URL); its `NodeName` (v1) and `DomainData/Name` (v2) when they are a domain or an IP; and
//! a `URL` of the system, node or service. A `target` system is the victim: kept in
//! [`IodefDetails::victims`], never a target; a `sensor` is ignored. `Reference` URLs (an
//! advisory, a tool's site) and `RecordData` are never targets. Targets are deduplicated and
//! bounded by [`Limits::max_candidates`]: a watch list or a bot-net's member list is a list,
//! and the caller keeps what it hosts. An incident with no target is `no_target`.
//!
//! # Reporter and times
//!
//! The `Contact` whose `role` is `creator` (else the first): its `ContactName` (the
//! organisation's, and a person's nested in it), its `Email` (v1 text, v2 `Email/EmailTo`),
//! the domain of the address or `IncidentID@name`. These are personal data (AUD-4): the caller
//! seals them. `occurred_at` is `StartTime`, else `DetectTime` (of the incident, else of its
//! first event); `reported_at` is `ReportTime`, else `GenerationTime`.

use std::net::IpAddr;

use ipnet::IpNet;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use serde_json::Value;
use warden_domain::report::MAX_EVIDENCE_BYTES;
use warden_domain::resource::Target;
use warden_domain::taxonomy::Category;
use warden_domain::time::Timestamp;

use crate::error::MailError;
use crate::limits::{Limit, Limits};
use crate::report::{
    Details, Disposition, Format, IodefBinding, IodefDetails, IodefVersion, ParsedReport, RawPart,
    Reporter,
};
use crate::{Targets, cut_text};

/// IODEF v1's XML namespace (RFC 5070).
pub const NS_V1: &str = "urn:ietf:params:xml:ns:iodef-1.0";
/// IODEF v2's XML namespace (RFC 7970).
pub const NS_V2: &str = "urn:ietf:params:xml:ns:iodef-2.0";

/// The message of every DTD or entity refusal.
pub const DTD_REFUSED: &str = "XML with a DTD or entities is refused";

/// What a document turned out to be.
#[derive(Debug)]
pub enum Iodef {
    /// An IODEF document: one report per incident.
    Reports(Vec<ParsedReport>),
    /// Well-formed XML (or JSON) that is not IODEF (another root element).
    NotIodef,
}

/// One element of a document, as much of it as intake reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Its local name (`Incident`), without a prefix.
    pub name: String,
    /// Its attributes, by local name (`lang` for `xml:lang`), namespace declarations left out.
    pub attrs: Vec<(String, String)>,
    /// Its text (the character data directly in it, entities resolved).
    pub text: String,
    /// Its elements, in order.
    pub children: Vec<Element>,
}

impl Element {
    /// An attribute's value.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first child of that name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The children of that name, with their 1-based index among them.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = (usize, &'a Element)> + 'a {
        self.children
            .iter()
            .filter(move |c| c.name == name)
            .enumerate()
            .map(|(i, c)| (i + 1, c))
    }

    /// Its text, trimmed.
    pub fn value(&self) -> &str {
        self.text.trim()
    }
}

/// Where a document was found and how to keep it as evidence.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// How errors name it: `part 2 (application/xml)`, `body`.
    pub at: &'a str,
    /// The part's name in the evidence: `part 2`, `body`.
    pub part: &'a str,
    /// Its content type, for the evidence.
    pub content_type: &'a str,
    /// The bytes kept as evidence (the part as received).
    pub raw: &'a [u8],
}

fn report_err(at: &str, code: &'static str, field: &str, message: String) -> MailError {
    MailError::report(Format::Iodef, at, code, field, format!("IODEF: {message}"))
}

// ---------------------------------------------------------------------------------------------
// XML
// ---------------------------------------------------------------------------------------------

/// Reads an XML document: its IODEF reports, or [`Iodef::NotIodef`] for XML with another root.
pub fn parse_xml(
    bytes: &[u8],
    src: &Source<'_>,
    limits: &Limits,
    warnings: &mut Vec<String>,
) -> Result<Iodef, MailError> {
    match read_xml(bytes, src.at, limits)? {
        None => Ok(Iodef::NotIodef),
        Some((version, root)) => {
            incidents(&root, version, IodefBinding::Xml, src, limits, warnings).map(Iodef::Reports)
        }
    }
}

/// The document as text: BOM or `encoding=` of the declaration, else UTF-8.
fn xml_text(bytes: &[u8], at: &str) -> Result<String, MailError> {
    if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let rest = bytes.get(bom..).unwrap_or_default();
        return Ok(enc.decode_without_bom_handling(rest).0.into_owned());
    }
    let head = String::from_utf8_lossy(bytes.get(..bytes.len().min(256)).unwrap_or_default());
    let declared = head
        .strip_prefix("<?xml")
        .and_then(|d| d.split("?>").next())
        .and_then(|d| d.split_once("encoding"))
        .and_then(|(_, rest)| {
            let rest = rest.trim_start().strip_prefix('=')?.trim_start();
            let q = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
            rest.get(1..)?.split(q).next().map(str::to_string)
        });
    if let Some(label) = declared
        && let Some(enc) = encoding_rs::Encoding::for_label(label.trim().as_bytes())
        && enc != encoding_rs::UTF_8
    {
        return Ok(enc.decode_without_bom_handling(bytes).0.into_owned());
    }
    String::from_utf8(bytes.to_vec()).map_err(|e| {
        report_err(
            at,
            "invalid_xml",
            "$",
            format!(
                "not UTF-8 at byte {} and no other encoding declared",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// One open element while reading.
struct Frame {
    el: Element,
    foreign: bool,
}

/// The character a predefined entity stands for.
fn predefined(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    }
}

/// `&#65;`, `&#x41;` → the character (not NUL, a valid scalar value).
fn char_ref(r: &str) -> Option<char> {
    let n = r.strip_prefix('#')?;
    let v = match n.strip_prefix('x') {
        Some(h) => u32::from_str_radix(h, 16).ok()?,
        None => n.parse::<u32>().ok()?,
    };
    char::from_u32(v).filter(|c| *c != '\0')
}

/// An attribute's raw value with its references resolved; `Err` names an entity that is not
/// predefined (or a bare `&`).
fn unescape(raw: &str) -> Result<String, String> {
    if !raw.contains('&') {
        return Ok(raw.to_string());
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('&') {
        out.push_str(rest.get(..i).unwrap_or_default());
        let after = rest.get(i + 1..).unwrap_or_default();
        let Some(end) = after.find(';').filter(|e| *e <= 32) else {
            return Err(after.chars().take(16).collect());
        };
        let name = after.get(..end).unwrap_or_default();
        match predefined(name).or_else(|| char_ref(name)) {
            Some(c) => out.push(c),
            None => return Err(name.to_string()),
        }
        rest = after.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

fn entity_refused(at: &str, name: &str) -> MailError {
    report_err(
        at,
        "dtd_refused",
        "$",
        format!(
            "an entity reference `&{};`: {DTD_REFUSED}",
            name.chars().take(32).collect::<String>()
        ),
    )
}

/// The document's tree, or `None` when its root is not `IODEF-Document`.
fn read_xml(
    bytes: &[u8],
    at: &str,
    limits: &Limits,
) -> Result<Option<(IodefVersion, Element)>, MailError> {
    let text = xml_text(bytes, at)?;
    let mut reader = quick_xml::NsReader::from_str(&text);
    reader.resolver_mut().set_max_namespace_bindings(32);
    let bad = |pos: u64, why: String| {
        report_err(
            at,
            "invalid_xml",
            "$",
            format!("not well-formed XML at byte {pos}: {why}"),
        )
    };
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Element> = None;
    let mut version = IodefVersion::V1;
    let mut doc_ns = String::new();
    let mut count = 0usize;
    loop {
        let (ns, event) = match reader.read_resolved_event() {
            Ok((ns, ev)) => (
                match ns {
                    ResolveResult::Bound(n) => Some(n.as_ref().to_string()),
                    _ => None,
                },
                ev,
            ),
            Err(e) => return Err(bad(reader.error_position(), e.to_string())),
        };
        match event {
            Event::DocType(_) => {
                return Err(report_err(
                    at,
                    "dtd_refused",
                    "$",
                    format!("a document type declaration (<!DOCTYPE>): {DTD_REFUSED}"),
                ));
            }
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                count += 1;
                if count > limits.max_xml_elements {
                    return Err(MailError::Limit {
                        limit: Limit::XmlElements,
                        at: at.to_string(),
                        what: "the number of XML elements",
                        actual: count,
                        max: limits.max_xml_elements,
                    });
                }
                if stack.len() + 1 > limits.max_xml_depth {
                    return Err(MailError::Limit {
                        limit: Limit::XmlDepth,
                        at: at.to_string(),
                        what: "the nesting depth of XML elements",
                        actual: stack.len() + 1,
                        max: limits.max_xml_depth,
                    });
                }
                if root.is_some() {
                    return Err(bad(
                        reader.buffer_position(),
                        "an element after the root element".into(),
                    ));
                }
                let local = e.local_name().as_ref().to_string();
                let mut attrs = Vec::new();
                for a in e.attributes() {
                    let a = a.map_err(|err| bad(reader.buffer_position(), err.to_string()))?;
                    if a.key.as_namespace_binding().is_some() {
                        continue;
                    }
                    let value = unescape(&a.value).map_err(|name| entity_refused(at, &name))?;
                    attrs.push((a.key.local_name().as_ref().to_string(), value));
                }
                let foreign = match stack.last() {
                    None => {
                        if local != "IODEF-Document" {
                            return Ok(None);
                        }
                        let ns = ns.unwrap_or_default();
                        version = match ns.as_str() {
                            NS_V1 => IodefVersion::V1,
                            NS_V2 => IodefVersion::V2,
                            other => {
                                return Err(report_err(
                                    at,
                                    "unsupported_version",
                                    "IODEF-Document",
                                    format!(
                                        "the namespace `{}` is not IODEF's ({NS_V1} or {NS_V2})",
                                        other.chars().take(80).collect::<String>()
                                    ),
                                ));
                            }
                        };
                        doc_ns = ns;
                        false
                    }
                    Some(parent) => parent.foreign || ns.as_deref() != Some(doc_ns.as_str()),
                };
                let frame = Frame {
                    el: Element {
                        name: local,
                        attrs,
                        ..Element::default()
                    },
                    foreign,
                };
                if empty {
                    close(&mut stack, frame, &mut root);
                } else {
                    stack.push(frame);
                }
            }
            Event::End(_) => {
                let Some(frame) = stack.pop() else {
                    return Err(bad(reader.buffer_position(), "an unmatched end tag".into()));
                };
                close(&mut stack, frame, &mut root);
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                match stack.last_mut() {
                    Some(top) if !top.foreign => top.el.text.push_str(&content),
                    Some(_) => {}
                    None if content.trim().is_empty() => {}
                    None => {
                        return Err(bad(
                            reader.buffer_position(),
                            "text outside the root element".into(),
                        ));
                    }
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut().filter(|f| !f.foreign) {
                    top.el.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let name = r.into_inner();
                let c = predefined(&name)
                    .or_else(|| char_ref(&name))
                    .ok_or_else(|| entity_refused(at, &name))?;
                if let Some(top) = stack.last_mut().filter(|f| !f.foreign) {
                    top.el.text.push(c);
                }
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(report_err(
            at,
            "invalid_xml",
            "$",
            format!(
                "the document ends inside `<{}>` (truncated?)",
                open.el.name.chars().take(64).collect::<String>()
            ),
        ));
    }
    match root {
        Some(r) if r.attr("version").is_some_and(|v| version_ok(version, v)) => {
            Ok(Some((version, r)))
        }
        Some(r) => Err(bad_version(at, version, r.attr("version"))),
        None => Err(report_err(at, "invalid_xml", "$", "no root element".into())),
    }
}

fn close(stack: &mut [Frame], frame: Frame, root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => {
            if !frame.foreign {
                parent.el.children.push(frame.el);
            }
        }
        None => *root = Some(frame.el),
    }
}

fn version_ok(v: IodefVersion, text: &str) -> bool {
    match v {
        IodefVersion::V1 => matches!(text.trim(), "1.00" | "1.0"),
        IodefVersion::V2 => matches!(text.trim(), "2.00" | "2.0"),
    }
}

fn bad_version(at: &str, v: IodefVersion, found: Option<&str>) -> MailError {
    let (want, ns) = match v {
        IodefVersion::V1 => ("1.00", NS_V1),
        IodefVersion::V2 => ("2.00", NS_V2),
    };
    match found {
        None => report_err(
            at,
            "missing_field",
            "IODEF-Document.version",
            format!("missing required attribute `version` of `IODEF-Document` ({want})"),
        ),
        Some(f) => report_err(
            at,
            "unsupported_version",
            "IODEF-Document.version",
            format!(
                "`version` `{}` does not match the namespace {ns} ({want})",
                f.chars().take(32).collect::<String>()
            ),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

/// Whether a JSON document is IODEF (RFC 8727): an object with `Incident` (and `version`), or
/// one wrapped in `IODEF-Document`.
pub fn is_iodef_json(doc: &Value) -> bool {
    let Some(o) = doc.as_object() else {
        return false;
    };
    let inner = o
        .get("IODEF-Document")
        .and_then(Value::as_object)
        .unwrap_or(o);
    inner.contains_key("Incident")
}

/// Reads an IODEF JSON document (RFC 8727); `NotIodef` for JSON without `Incident`.
pub fn parse_json(
    doc: &Value,
    src: &Source<'_>,
    limits: &Limits,
    warnings: &mut Vec<String>,
) -> Result<Iodef, MailError> {
    if !is_iodef_json(doc) {
        return Ok(Iodef::NotIodef);
    }
    let obj = doc.as_object().map(|o| {
        o.get("IODEF-Document")
            .and_then(Value::as_object)
            .unwrap_or(o)
    });
    let Some(obj) = obj else {
        return Ok(Iodef::NotIodef);
    };
    let mut count = 0usize;
    let root = json_element("IODEF-Document", obj, 1, &mut count, src.at, limits)?;
    match root.attr("version") {
        Some(v) if version_ok(IodefVersion::V2, v) => {}
        other => return Err(bad_version(src.at, IodefVersion::V2, other)),
    }
    incidents(
        &root,
        IodefVersion::V2,
        IodefBinding::Json,
        src,
        limits,
        warnings,
    )
    .map(Iodef::Reports)
}

fn json_scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn json_element(
    name: &str,
    obj: &serde_json::Map<String, Value>,
    depth: usize,
    count: &mut usize,
    at: &str,
    limits: &Limits,
) -> Result<Element, MailError> {
    let mut el = Element {
        name: name.to_string(),
        ..Element::default()
    };
    json_fill(&mut el, obj, depth, count, at, limits)?;
    Ok(el)
}

fn bump(count: &mut usize, depth: usize, at: &str, limits: &Limits) -> Result<(), MailError> {
    *count += 1;
    if *count > limits.max_xml_elements {
        return Err(MailError::Limit {
            limit: Limit::XmlElements,
            at: at.to_string(),
            what: "the number of IODEF JSON members",
            actual: *count,
            max: limits.max_xml_elements,
        });
    }
    if depth > limits.max_xml_depth {
        return Err(MailError::Limit {
            limit: Limit::XmlDepth,
            at: at.to_string(),
            what: "the nesting depth of IODEF JSON",
            actual: depth,
            max: limits.max_xml_depth,
        });
    }
    Ok(())
}

fn json_fill(
    el: &mut Element,
    obj: &serde_json::Map<String, Value>,
    depth: usize,
    count: &mut usize,
    at: &str,
    limits: &Limits,
) -> Result<(), MailError> {
    bump(count, depth, at, limits)?;
    for (k, v) in obj {
        let is_element = k.chars().next().is_some_and(|c| c.is_ascii_uppercase());
        match v {
            Value::Null => {}
            Value::Object(o) => {
                el.children
                    .push(json_element(k, o, depth + 1, count, at, limits)?);
            }
            Value::Array(items) => {
                for item in items {
                    json_item(el, k, item, depth + 1, count, at, limits)?;
                }
            }
            scalar => {
                let s = json_scalar(scalar).unwrap_or_default();
                if k == "value" || (k == "id" && el.name.ends_with("ID")) {
                    el.text = s;
                } else if is_element {
                    bump(count, depth + 1, at, limits)?;
                    el.children.push(Element {
                        name: k.clone(),
                        text: s,
                        ..Element::default()
                    });
                } else {
                    el.attrs.push((k.clone(), s));
                }
            }
        }
    }
    Ok(())
}

fn json_item(
    el: &mut Element,
    name: &str,
    item: &Value,
    depth: usize,
    count: &mut usize,
    at: &str,
    limits: &Limits,
) -> Result<(), MailError> {
    match item {
        Value::Object(o) => el
            .children
            .push(json_element(name, o, depth, count, at, limits)?),
        Value::Array(inner) => {
            bump(count, depth, at, limits)?;
            for i in inner {
                json_item(el, name, i, depth + 1, count, at, limits)?;
            }
        }
        Value::Null => {}
        scalar => {
            bump(count, depth, at, limits)?;
            el.children.push(Element {
                name: name.to_string(),
                text: json_scalar(scalar).unwrap_or_default(),
                ..Element::default()
            });
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The interpreter
// ---------------------------------------------------------------------------------------------

/// The category and disposition an impact's `type` maps to (the module docs' table); `None`
/// when it says nothing (`unknown`, `ext-value`, `policy`, a type not in the table).
pub fn impact_category(element: &str, ty: &str) -> Option<(Category, Disposition)> {
    use Category::*;
    use Disposition::*;
    let t = ty.trim();
    match element {
        "Impact" => match t {
            "admin" | "user" | "file" | "info-leak" => Some((Hacking, Violation)),
            "dos" => Some((DdosAttack, Violation)),
            "recon" => Some((Scanning, Violation)),
            "social-engineering" => Some((FraudPhishing, Violation)),
            "misconfiguration" => Some((CyberHarm, NotifyOnly)),
            _ => None,
        },
        "SystemImpact" | "TechnicalImpact" => {
            if t.starts_with("availability-") {
                Some((DdosAttack, Violation))
            } else if [
                "takeover-",
                "cps-",
                "damaged-",
                "breach-",
                "integrity-",
                "monitoring-",
            ]
            .iter()
            .any(|p| t.starts_with(p))
                || t == "traffic-redirection"
            {
                Some((Hacking, Violation))
            } else {
                None
            }
        }
        "BusinessImpact" | "IntendedImpact" => match t {
            "loss-of-service" => Some((DdosAttack, Violation)),
            "theft-financial" | "theft-service" | "extortion" => Some((Fraud, Violation)),
            "loss-of-integrity" | "asset-damage" | "asset-manipulation" => {
                Some((Hacking, Violation))
            }
            _ if t.starts_with("breach-") => Some((Hacking, Violation)),
            _ => None,
        },
        _ => None,
    }
}

const PURPOSES_V1: &[&str] = &["traceback", "mitigation", "reporting", "other", "ext-value"];
const PURPOSES_V2: &[&str] = &[
    "traceback",
    "mitigation",
    "reporting",
    "watch",
    "other",
    "ext-value",
];

const IMPACTS: &[&str] = &[
    "Impact",
    "SystemImpact",
    "TechnicalImpact",
    "BusinessImpact",
    "IntendedImpact",
];

/// What a system is to the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Subject,
    Victim,
    Ignored,
}

fn role(category: Option<&str>) -> Role {
    match category.map(str::trim) {
        Some("target") => Role::Victim,
        Some("sensor") => Role::Ignored,
        _ => Role::Subject,
    }
}

struct Ctx<'a> {
    at: &'a str,
    limits: &'a Limits,
    warnings: &'a mut Vec<String>,
    targets: Targets,
    victims: Targets,
    networks: Vec<IpNet>,
    texts: Vec<String>,
}

impl Ctx<'_> {
    fn invalid(&self, field: &str, message: String) -> MailError {
        report_err(self.at, "invalid_field", field, message)
    }

    fn add(&mut self, role: Role, t: Target) {
        match role {
            Role::Subject => self.targets.push(t),
            Role::Victim => self.victims.push(t),
            Role::Ignored => {}
        }
    }

    fn add_net(&mut self, role: Role, net: IpNet) {
        let single = match net {
            IpNet::V4(n) => n.prefix_len() == 32,
            IpNet::V6(n) => n.prefix_len() == 128,
        };
        if single {
            self.add(role, Target::Ip(net.addr().to_canonical()));
        } else if role == Role::Subject && self.networks.len() < self.limits.max_targets {
            let net = net.trunc();
            if !self.networks.contains(&net) {
                self.networks.push(net);
            }
        }
    }

    /// A host name or IP written as one (`NodeName`, `DomainData/Name`); anything else is
    /// skipped with a warning (v1's `NodeName` is free text).
    fn add_name(&mut self, role: Role, text: &str, path: &str) {
        match Target::parse(text) {
            Ok(t @ (Target::Domain(_) | Target::Ip(_))) => self.add(role, t),
            _ => self.warnings.push(format!(
                "{}: {path} `{}` is not a domain name or an IP address; skipped",
                self.at,
                cut(text)
            )),
        }
    }

    fn add_url(&mut self, role: Role, text: &str, path: &str) {
        match Target::parse(text) {
            Ok(t @ Target::Url(_)) => self.add(role, t),
            _ => self.warnings.push(format!(
                "{}: {path} `{}` is not an http(s) URL Warden can act on; skipped",
                self.at,
                cut(text)
            )),
        }
    }

    /// An `Address` (or a `BulkObservable` item) of a category.
    fn address(
        &mut self,
        role: Role,
        category: &str,
        text: &str,
        path: &str,
    ) -> Result<(), MailError> {
        let t = text.trim();
        match category {
            "ipv4-addr" | "ipv6-addr" => {
                let ip: IpAddr = t.parse().map_err(|_| {
                    self.invalid(path, format!("`{path}` `{}` is not an {category}", cut(t)))
                })?;
                if ip.is_ipv4() != (category == "ipv4-addr") {
                    return Err(
                        self.invalid(path, format!("`{path}` `{}` is not an {category}", cut(t)))
                    );
                }
                self.add(role, Target::Ip(ip.to_canonical()));
            }
            "ipv4-net" | "ipv6-net" | "ipv4-net-mask" | "ipv6-net-mask" | "ipv4-net-masked"
            | "ipv6-net-masked" => {
                let net = parse_net(t).ok_or_else(|| {
                    self.invalid(path, format!("`{path}` `{}` is not an {category}", cut(t)))
                })?;
                if net.addr().is_ipv4() != category.starts_with("ipv4") {
                    return Err(
                        self.invalid(path, format!("`{path}` `{}` is not an {category}", cut(t)))
                    );
                }
                self.add_net(role, net);
            }
            "site-uri" | "http-request-url" | "url" => self.add_url(role, t, path),
            "domain-name" => self.add_name(role, t, path),
            _ => {}
        }
        Ok(())
    }

    fn node(&mut self, node: &Element, role: Role, path: &str) -> Result<(), MailError> {
        for (i, a) in node.all("Address") {
            let category = a.attr("category").unwrap_or("ipv4-addr");
            self.address(role, category, a.value(), &format!("{path}.Address[{i}]"))?;
        }
        for (i, n) in node.all("NodeName") {
            if !n.value().is_empty() {
                self.add_name(role, n.value(), &format!("{path}.NodeName[{i}]"));
            }
        }
        for (i, d) in node.all("DomainData") {
            for (j, n) in d.all("Name") {
                self.add_name(
                    role,
                    n.value(),
                    &format!("{path}.DomainData[{i}].Name[{j}]"),
                );
            }
        }
        for (i, u) in node.all("URL") {
            self.add_url(role, u.value(), &format!("{path}.URL[{i}]"));
        }
        Ok(())
    }

    fn system(&mut self, sys: &Element, path: &str) -> Result<(), MailError> {
        let role = role(sys.attr("category"));
        for (i, n) in sys.all("Node") {
            self.node(n, role, &format!("{path}.Node[{i}]"))?;
        }
        for (i, u) in sys.all("URL") {
            self.add_url(role, u.value(), &format!("{path}.URL[{i}]"));
        }
        for (i, s) in sys.all("Service") {
            for (j, u) in s.all("URL") {
                self.add_url(role, u.value(), &format!("{path}.Service[{i}].URL[{j}]"));
            }
        }
        if role == Role::Subject {
            for (_, d) in sys.all("Description") {
                self.texts.push(d.value().to_string());
            }
        }
        Ok(())
    }

    fn event_data(&mut self, ev: &Element, path: &str) -> Result<(), MailError> {
        for (_, d) in ev.all("Description") {
            self.texts.push(d.value().to_string());
        }
        for (i, flow) in ev.all("Flow") {
            for (j, sys) in flow.all("System") {
                self.system(sys, &format!("{path}.Flow[{i}].System[{j}]"))?;
            }
        }
        for (i, inner) in ev.all("EventData") {
            self.event_data(inner, &format!("{path}.EventData[{i}]"))?;
        }
        Ok(())
    }

    /// An `Observable` of an indicator, and the observables nested in expressions.
    fn observables(&mut self, el: &Element, path: &str) -> Result<(), MailError> {
        for (i, c) in el.children.iter().enumerate() {
            let p = format!("{path}.{}[{}]", c.name, i + 1);
            match c.name.as_str() {
                "Observable" => self.observable(c, &p)?,
                "Description" => self.texts.push(c.value().to_string()),
                "Indicator" | "IndicatorExpression" => self.observables(c, &p)?,
                _ => {}
            }
        }
        Ok(())
    }

    fn observable(&mut self, obs: &Element, path: &str) -> Result<(), MailError> {
        for (i, a) in obs.all("Address") {
            let category = a.attr("category").unwrap_or("ipv4-addr");
            self.address(
                Role::Subject,
                category,
                a.value(),
                &format!("{path}.Address[{i}]"),
            )?;
        }
        for (i, d) in obs.all("DomainData") {
            for (j, n) in d.all("Name") {
                self.add_name(
                    Role::Subject,
                    n.value(),
                    &format!("{path}.DomainData[{i}].Name[{j}]"),
                );
            }
        }
        for (i, s) in obs.all("System") {
            self.system(s, &format!("{path}.System[{i}]"))?;
        }
        for (i, b) in obs.all("BulkObservable") {
            let ty = b.attr("type").unwrap_or_default().to_string();
            for (j, list) in b.all("BulkObservableList") {
                let p = format!("{path}.BulkObservable[{i}].BulkObservableList[{j}]");
                for item in list
                    .value()
                    .split(|c: char| c.is_whitespace() || c == ',')
                    .filter(|s| !s.is_empty())
                {
                    self.address(Role::Subject, &ty, item, &p)?;
                }
            }
        }
        Ok(())
    }
}

/// `192.0.2.0/24`, `192.0.2.0/255.255.255.0`, `2001:db8::/32`, or a bare address.
fn parse_net(t: &str) -> Option<IpNet> {
    let t = t.trim();
    if let Ok(n) = t.parse::<IpNet>() {
        return Some(n);
    }
    let (addr, mask) = t.split_once('/')?;
    let addr: IpAddr = addr.trim().parse().ok()?;
    let mask: IpAddr = mask.trim().parse().ok()?;
    IpNet::with_netmask(addr, mask).ok()
}

fn time(
    el: &Element,
    name: &str,
    path: &str,
    at: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<Timestamp>, MailError> {
    let Some(t) = el.child(name) else {
        return Ok(None);
    };
    let text = t.value();
    let field = format!("{path}.{name}");
    if let Ok(ts) = Timestamp::parse_rfc3339(text) {
        return Ok(Some(ts));
    }
    // xs:dateTime allows a time without a zone; IODEF's examples always give one.
    if text.len() == 19
        && let Ok(ts) = Timestamp::parse_rfc3339(&format!("{text}Z"))
    {
        warnings.push(format!(
            "{at}: {field} `{text}` has no time zone; read as UTC"
        ));
        return Ok(Some(ts));
    }
    Err(report_err(
        at,
        "invalid_field",
        &field,
        format!("`{field}` `{}` is not a date-time (RFC 3339)", cut(text)),
    ))
}

/// Every `Contact`, nested ones included, in document order.
fn contacts<'a>(el: &'a Element, out: &mut Vec<&'a Element>) {
    for c in el.children.iter().filter(|c| c.name == "Contact") {
        out.push(c);
        contacts(c, out);
    }
}

fn email_of(c: &Element) -> Option<String> {
    c.all("Email").find_map(|(_, e)| {
        let v = e.child("EmailTo").map_or(e.value(), Element::value);
        let v = v.trim().trim_start_matches("mailto:").trim();
        v.contains('@').then(|| v.to_string())
    })
}

fn reporter_of(inc: &Element, id_name: Option<&str>) -> Reporter {
    let mut all = Vec::new();
    contacts(inc, &mut all);
    let creator = all
        .iter()
        .copied()
        .find(|c| c.attr("role") == Some("creator"))
        .or_else(|| all.first().copied());
    let name_of = |c: &Element| {
        c.child("ContactName")
            .map(|n| n.value().to_string())
            .filter(|n| !n.is_empty())
    };
    let org = creator
        .into_iter()
        .chain(all.iter().copied())
        .find(|c| c.attr("type") == Some("organization"))
        .and_then(name_of);
    let name = all
        .iter()
        .copied()
        .find(|c| c.attr("type") == Some("person"))
        .and_then(name_of);
    let contact = creator
        .and_then(email_of)
        .or_else(|| all.iter().copied().find_map(email_of));
    let domain = contact
        .as_deref()
        .and_then(|c| c.rsplit_once('@'))
        .map(|(_, d)| d.to_ascii_lowercase())
        .or_else(|| id_name.map(str::to_ascii_lowercase));
    Reporter {
        org,
        name,
        contact,
        domain,
        user_agent: None,
    }
}

/// Every `Assessment` of the incident (v1's events have their own).
fn assessments<'a>(el: &'a Element, out: &mut Vec<&'a Element>) {
    for c in &el.children {
        match c.name.as_str() {
            "Assessment" => out.push(c),
            "EventData" => assessments(c, out),
            _ => {}
        }
    }
}

fn incidents(
    root: &Element,
    version: IodefVersion,
    binding: IodefBinding,
    src: &Source<'_>,
    limits: &Limits,
    warnings: &mut Vec<String>,
) -> Result<Vec<ParsedReport>, MailError> {
    let at = src.at;
    let list: Vec<(usize, &Element)> = root.all("Incident").collect();
    if list.is_empty() {
        return Err(report_err(
            at,
            "missing_field",
            "Incident",
            "missing required element `Incident` (one at least)".into(),
        ));
    }
    if list.len() > limits.max_reports {
        return Err(MailError::Limit {
            limit: Limit::Reports,
            at: at.to_string(),
            what: "the number of IODEF incidents",
            actual: list.len(),
            max: limits.max_reports,
        });
    }
    let mut out = Vec::with_capacity(list.len());
    for (i, inc) in list {
        out.push(incident(inc, i, version, binding, src, limits, warnings)?);
    }
    Ok(out)
}

fn incident(
    inc: &Element,
    index: usize,
    version: IodefVersion,
    binding: IodefBinding,
    src: &Source<'_>,
    limits: &Limits,
    warnings: &mut Vec<String>,
) -> Result<ParsedReport, MailError> {
    let at = src.at;
    let path = format!("Incident[{index}]");
    let missing = |what: &str, field: String| {
        report_err(
            at,
            "missing_field",
            &field,
            format!("missing required {what} `{field}`"),
        )
    };
    let purpose = inc
        .attr("purpose")
        .map(str::trim)
        .ok_or_else(|| missing("attribute", format!("{path}.purpose")))?
        .to_string();
    let purposes = match version {
        IodefVersion::V1 => PURPOSES_V1,
        IodefVersion::V2 => PURPOSES_V2,
    };
    if !purposes.contains(&purpose.as_str()) {
        return Err(report_err(
            at,
            "invalid_field",
            &format!("{path}.purpose"),
            format!(
                "`{path}.purpose` `{}` is not one of {}",
                cut(&purpose),
                purposes.join(", ")
            ),
        ));
    }
    let id = inc
        .child("IncidentID")
        .ok_or_else(|| missing("element", format!("{path}.IncidentID")))?;
    if id.value().is_empty() {
        return Err(report_err(
            at,
            "invalid_field",
            &format!("{path}.IncidentID"),
            format!("`{path}.IncidentID` is empty"),
        ));
    }
    let incident_id = cut(id.value());
    let incident_id_name = id.attr("name").map(cut);
    if inc.child("Contact").is_none() {
        return Err(missing("element", format!("{path}.Contact")));
    }
    let report_time = time(inc, "ReportTime", &path, at, warnings)?;
    let generation_time = time(inc, "GenerationTime", &path, at, warnings)?;
    match version {
        IodefVersion::V1 if report_time.is_none() => {
            return Err(missing("element", format!("{path}.ReportTime")));
        }
        IodefVersion::V2 if generation_time.is_none() => {
            return Err(missing("element", format!("{path}.GenerationTime")));
        }
        _ => {}
    }
    let mut detect_time = time(inc, "DetectTime", &path, at, warnings)?;
    let mut start_time = time(inc, "StartTime", &path, at, warnings)?;
    let end_time = time(inc, "EndTime", &path, at, warnings)?;
    for (i, ev) in inc.all("EventData") {
        let p = format!("{path}.EventData[{i}]");
        if detect_time.is_none() {
            detect_time = time(ev, "DetectTime", &p, at, warnings)?;
        }
        if start_time.is_none() {
            start_time = time(ev, "StartTime", &p, at, warnings)?;
        }
    }

    let mut list = Vec::new();
    assessments(inc, &mut list);
    if version == IodefVersion::V1 && list.is_empty() {
        return Err(missing("element", format!("{path}.Assessment")));
    }
    let mut categories: Vec<String> = Vec::new();
    let mut impacts: Vec<(String, String)> = Vec::new();
    let mut impact_texts: Vec<String> = Vec::new();
    for a in &list {
        for c in &a.children {
            match c.name.as_str() {
                "IncidentCategory" => categories.push(c.value().to_string()),
                "Impact" if c.attr("type").is_none() => {
                    // The JSON binding wraps v2's impacts in `Impact`.
                    for inner in c
                        .children
                        .iter()
                        .filter(|x| IMPACTS.contains(&x.name.as_str()))
                    {
                        collect_impact(inner, &mut impacts, &mut impact_texts);
                    }
                }
                n if IMPACTS.contains(&n) => collect_impact(c, &mut impacts, &mut impact_texts),
                _ => {}
            }
        }
    }

    let mut ctx = Ctx {
        at,
        limits,
        warnings,
        targets: Targets::new(limits.max_candidates),
        victims: Targets::new(limits.max_targets),
        networks: Vec::new(),
        texts: Vec::new(),
    };
    for (_, d) in inc.all("Description") {
        ctx.texts.push(d.value().to_string());
    }
    for (i, ev) in inc.all("EventData") {
        ctx.event_data(ev, &format!("{path}.EventData[{i}]"))?;
    }
    for (i, data) in inc.all("IndicatorData") {
        ctx.observables(data, &format!("{path}.IndicatorData[{i}]"))?;
    }
    for (_, m) in inc.all("Method") {
        for (_, r) in m.all("Reference") {
            for n in ["ReferenceName", "Description"] {
                if let Some(t) = r.child(n) {
                    ctx.texts.push(t.value().to_string());
                }
            }
        }
        for (_, d) in m.all("Description") {
            ctx.texts.push(d.value().to_string());
        }
    }
    let Ctx {
        targets,
        victims,
        networks,
        texts,
        ..
    } = ctx;
    let mut targets = targets.finish(&format!("{at}: {path}"), warnings);
    // Most specific first: URLs, addresses, names (a stable sort keeps document order within).
    targets.sort_by_key(|t| match t {
        Target::Url(_) => 0,
        Target::Ip(_) => 1,
        _ => 2,
    });
    let victims = victims.finish(&format!("{at}: {path} (victims)"), warnings);
    if targets.is_empty() {
        let nets = if networks.is_empty() {
            String::new()
        } else {
            let n: Vec<String> = networks.iter().take(4).map(ToString::to_string).collect();
            format!("; its networks ({}) are not single addresses", n.join(", "))
        };
        return Err(report_err(
            at,
            "no_target",
            &path,
            format!(
                "`{path}` names nothing Warden can act on: no address, name or URL of a source \
                 system (EventData/Flow/System) nor of an indicator's observable{nets}"
            ),
        ));
    }

    // The category: IncidentCategory, impacts, then text; the module docs' order.
    let mut hint_texts: Vec<&str> = impact_texts.iter().map(String::as_str).collect();
    hint_texts.extend(texts.iter().map(String::as_str));
    let (category, mut disposition, category_reason) = categories
        .iter()
        .find_map(|c| {
            crate::freeform::keyword_category(c).map(|(cat, d, w)| {
                (
                    cat,
                    d,
                    format!("IncidentCategory `{}` (keyword `{w}`)", cut(c)),
                )
            })
        })
        .or_else(|| {
            impacts.iter().find_map(|(el, ty)| {
                impact_category(el, ty).map(|(c, d)| (c, d, format!("{el} type `{ty}`")))
            })
        })
        .or_else(|| {
            hint_texts.iter().find_map(|t| {
                crate::freeform::keyword_category(t)
                    .map(|(c, d, w)| (c, d, format!("keyword `{w}`")))
            })
        })
        .unwrap_or((
            Category::CyberHarm,
            Disposition::Violation,
            "no hint: the catch-all".into(),
        ));
    if purpose == "watch" {
        disposition = Disposition::NotifyOnly;
    }
    let mut impact_list: Vec<String> = categories
        .iter()
        .map(|c| format!("IncidentCategory:{}", cut(c)))
        .collect();
    impact_list.extend(impacts.iter().map(|(e, t)| format!("{e}:{t}")));
    let claimed_type = impact_list
        .first()
        .cloned()
        .unwrap_or_else(|| format!("purpose:{purpose}"));
    let v = match version {
        IodefVersion::V1 => "v1",
        IodefVersion::V2 => "v2",
    };
    let mut evidence = format!(
        "IODEF {v} incident {incident_id}{} ({purpose})",
        incident_id_name
            .as_deref()
            .map(|n| format!(" of {n}"))
            .unwrap_or_default()
    );
    for t in texts.iter().filter(|t| !t.is_empty()) {
        evidence.push('\n');
        evidence.push_str(t);
        if evidence.len() > MAX_EVIDENCE_BYTES {
            break;
        }
    }
    Ok(ParsedReport {
        format: Format::Iodef,
        reporter: reporter_of(inc, incident_id_name.as_deref()),
        targets,
        category,
        disposition,
        claimed_type,
        occurred_at: start_time.or(detect_time),
        reported_at: report_time.or(generation_time),
        evidence_text: cut_text(evidence, MAX_EVIDENCE_BYTES),
        raw: RawPart::new(src.part.to_string(), src.content_type.to_string(), src.raw),
        original: None,
        details: Details::Iodef(IodefDetails {
            version,
            binding,
            incident_id,
            incident_id_name,
            purpose,
            impacts: impact_list,
            category_reason,
            networks,
            victims,
            detect_time,
            start_time,
            end_time,
            report_time,
            generation_time,
        }),
    })
}

fn collect_impact(el: &Element, impacts: &mut Vec<(String, String)>, texts: &mut Vec<String>) {
    if let Some(t) = el.attr("type") {
        impacts.push((el.name.clone(), cut(t)));
    }
    if !el.value().is_empty() {
        texts.push(el.value().to_string());
    }
    for (_, d) in el.all("Description") {
        texts.push(d.value().to_string());
    }
}

fn cut(v: &str) -> String {
    v.trim().chars().take(80).collect()
}
