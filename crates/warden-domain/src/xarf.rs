//! X-ARF v3 reports (INT-2): validation against the v3 schemas and mapping onto the taxonomy.
//!
//! [`parse_v3`] checks a report by hand against the X-ARF v3 JSON schemas (abusix/xarf,
//! `schemas/3/*.schema.json`): the core (`Version`, `ReporterInfo`, `OnBehalfOf`, `Disclosure`,
//! `InternalProcessing`), the report base (`ReportClass`, `ReportType`, `Date`...) and the fields
//! of each of the 16 types, with their types, formats (`ipv4`/`ipv6`, `email`, `hostname`, `uri`,
//! `date-time`), enums, ranges and patterns (CVE ids, CVSS v2/v3 vectors). `ReporterInfo` is the
//! only object the schemas close (`additionalProperties: false`); elsewhere unknown fields are
//! allowed, as in the schemas. Where the schemas are loose, Warden is a little stricter:
//!
//! - a field that is present must be valid even where the schema's `anyOf` would let a bad one
//!   pass (an invalid `SourceIp` next to a valid `SourceUrl`, a bad `Base64Encoded` on a file
//!   sample);
//! - a sample with `Base64Encoded: true` must carry a Base64 `Payload` (whitespace, missing
//!   padding and the URL-safe alphabet are accepted);
//! - the target must be something Warden can act on ([`crate::resource::Target::parse`]).
//!
//! Documents larger than [`MAX_XARF_BYTES`], nested deeper than [`MAX_DEPTH`] or with an array or
//! object of more than [`MAX_ITEMS`] entries are refused (`too_large`) before any other check.
//!
//! # Mapping
//!
//! | `ReportClass`/`ReportType`            | Category                                            | Target (first present)           |
//! |---------------------------------------|-----------------------------------------------------|----------------------------------|
//! | Activity/DOS                          | [`Category::DdosAttack`]                            | `SourceIp`                       |
//! | Activity/Exploit                      | [`Category::Hacking`]                               | `SourceIp`                       |
//! | Activity/LoginAttack                  | [`Category::Hacking`]                               | `SourceIp`                       |
//! | Activity/PortScan                     | [`Category::Scanning`]                              | `SourceIp`                       |
//! | Activity/Spam                         | [`Category::SpamMail`]                              | `SourceIp`                       |
//! | Activity/Malware (RPZ-Rewrite)        | [`Category::Malware`] (an infected host looked up a malware domain) | `SourceIp`       |
//! | Activity/WebCrawler                   | [`Category::MaliciousCrawler`]                      | `SourceIp`, `SourceUrl`          |
//! | Activity/Harassment                   | [`Category::Defamation`]; `HarassmentType: doxing` → [`Category::Privacy`] | `SourceUrl`, `SourceIp` |
//! | Activity/PotentiallyCompromisedAccount| [`Category::Hacking`]                               | `DestinationIp` (the service holding the account), else the domain of `Account.AccountEmail` |
//! | Content/Botnet                        | [`Category::Malware`]                               | `SourceIp`, `SourceUrl`          |
//! | Content/Malware                       | [`Category::Malware`]                               | `SourceUrl`, `SourceIp`          |
//! | Content/Phishing                      | [`Category::FraudPhishing`]                         | `SourceUrl`, `SourceIp`          |
//! | Content/ChildAbuse                    | [`Category::PornVulgar`] (the taxonomy's sexual-content category) | `SourceUrl`, `SourceIp` |
//! | Content/Copyright                     | [`Category::Infringement`]                          | `SourceUrl`, `SourceIp`          |
//! | Content/Trademark                     | [`Category::RightsInfringement`]                    | `SourceUrl`, `SourceIp`          |
//! | Vulnerability/OpenService             | [`Category::CyberHarm`]                             | `SourceIp`, `SourceUrl`          |
//!
//! Types about hosted content prefer the URL (the content is what is reported, the IP only hosts
//! it); types about a machine (a bot, an open service, a crawler) prefer the IP. A candidate that
//! [`crate::resource::Target::parse`] refuses (e.g. an `irc://` URL) is skipped.
//!
//! # Errors
//!
//! Errors name the field by its dotted path from the document root (`Report.SourceIp`,
//! `Report.Samples[0].Base64Encoded`, `$` for the whole document). [`parse_v3`] returns the first
//! problem in document-schema order (core, `ReporterInfo`, `OnBehalfOf`, `Disclosure`,
//! `InternalProcessing`, then `Report`: class and type, base fields, dates, source, then the
//! type's own fields in schema order); [`parse_v3_all`] returns all of them (at most
//! [`MAX_ERRORS`]).
//!
//! # Personal data
//!
//! The reporter's contact ([`CONTACT_FIELDS`]) and the complainant's
//! ([`COMPLAINANT_CONTACT_FIELDS`], in `OnBehalfOf`) become [`XarfReport::reporter_contact`],
//! which intake seals (AUD-4); [`redact_contact`] gives the document to keep as evidence, the same
//! bytes with [`SEALED_CONTACT`] in place of each contact value.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde_json::{Map, Value};

use crate::report::{MAX_CONTACT_CHARS, MAX_DESCRIPTION_CHARS};
use crate::resource::Target;
use crate::taxonomy::Category;
use crate::time::Timestamp;

/// A validated X-ARF v3 report, reduced to what Warden keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct XarfReport {
    /// The Warden category the report's class/type maps to.
    pub category: Category,
    /// `Report.ReportClass` as sent, e.g. `Content`.
    pub report_class: String,
    /// `Report.ReportType` as sent, e.g. `Phishing`.
    pub report_type: String,
    /// `Report.Date`.
    pub occurred_at: Timestamp,
    /// The reported thing on the provider's network: a URL, a domain or an IP address (the
    /// `Url`, `SourceIp`, `Domain`... field the type defines), as text.
    pub target: String,
    /// `ReporterInfo.ReporterOrg`, if given.
    pub reporter_org: Option<String>,
    /// The people to contact (the reporter's name, e-mail and phone, then the complainant's, joined
    /// by `; `): personal data, encrypted at rest.
    pub reporter_contact: Option<String>,
    /// A human-readable summary (type, description fields) for the case's free text.
    pub summary: String,
}

/// Why an X-ARF report was rejected: a stable code and the offending field (a JSON path such as
/// `Report.SourceIp`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct XarfError {
    /// Stable snake_case reason: `invalid_json`, `missing_field`, `invalid_field`,
    /// `unknown_field`, `unsupported_version`, `unsupported_type`, `too_large`.
    pub code: &'static str,
    /// JSON path of the offending field (`$` for the whole document).
    pub field: String,
    /// Human-readable explanation.
    pub message: String,
}

impl XarfError {
    fn new(code: &'static str, field: impl Into<String>, message: impl Into<String>) -> Self {
        XarfError {
            code,
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Largest X-ARF document accepted, in bytes.
pub const MAX_XARF_BYTES: usize = 1024 * 1024;
/// Deepest nesting of objects and arrays accepted (the schemas need 4).
pub const MAX_DEPTH: usize = 32;
/// Most entries in one array or object.
pub const MAX_ITEMS: usize = 1000;
/// Most problems [`parse_v3_all`] reports.
pub const MAX_ERRORS: usize = 100;

/// Parses and validates an X-ARF v3 JSON report.
pub fn parse_v3(bytes: &[u8]) -> Result<XarfReport, XarfError> {
    parse_v3_all(bytes).map_err(|errors| {
        errors.into_iter().next().unwrap_or_else(|| {
            XarfError::new("invalid_field", "$", "is not a valid X-ARF v3 report")
        })
    })
}

/// Like [`parse_v3`], but reports every problem found (at most [`MAX_ERRORS`], never none), in
/// the order [`parse_v3`] would pick the first.
pub fn parse_v3_all(bytes: &[u8]) -> Result<XarfReport, Vec<XarfError>> {
    if bytes.len() > MAX_XARF_BYTES {
        return Err(vec![XarfError::new(
            "too_large",
            "$",
            format!(
                "the document is {} bytes; at most {MAX_XARF_BYTES} are accepted",
                bytes.len()
            ),
        )]);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| {
        vec![XarfError::new(
            "invalid_json",
            "$",
            format!("is not JSON: {e}"),
        )]
    })?;
    let mut c = Checker::default();
    c.bounds(&doc, "$", 0);
    if !c.errors.is_empty() {
        return Err(c.errors);
    }
    let Some(root) = doc.as_object() else {
        return Err(vec![XarfError::new(
            "invalid_field",
            "$",
            format!("must be a JSON object, not {}", type_name(&doc)),
        )]);
    };
    let kind = c.document(root);
    if !c.errors.is_empty() {
        return Err(c.errors);
    }
    let report = root.get("Report").and_then(Value::as_object);
    match (kind, report) {
        (Some(kind), Some(report)) => build(root, report, kind).map_err(|e| vec![e]),
        _ => Err(vec![XarfError::new(
            "invalid_field",
            "Report",
            "is not a valid X-ARF v3 report",
        )]),
    }
}

// ---------------------------------------------------------------------------------------------
// Report types
// ---------------------------------------------------------------------------------------------

/// The 16 report schemas of X-ARF v3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Botnet,
    ChildAbuse,
    Copyright,
    Dos,
    Exploit,
    Harassment,
    LoginAttack,
    Malware,
    OpenService,
    Phishing,
    PortScan,
    CompromisedAccount,
    Rpz,
    Spam,
    Trademark,
    WebCrawler,
}

/// `(ReportClass, ReportType, schema)`.
const TYPES: &[(&str, &str, Kind)] = &[
    ("Activity", "DOS", Kind::Dos),
    ("Activity", "Exploit", Kind::Exploit),
    ("Activity", "Harassment", Kind::Harassment),
    ("Activity", "LoginAttack", Kind::LoginAttack),
    ("Activity", "Malware", Kind::Rpz),
    ("Activity", "PortScan", Kind::PortScan),
    (
        "Activity",
        "PotentiallyCompromisedAccount",
        Kind::CompromisedAccount,
    ),
    ("Activity", "Spam", Kind::Spam),
    ("Activity", "WebCrawler", Kind::WebCrawler),
    ("Content", "Botnet", Kind::Botnet),
    ("Content", "ChildAbuse", Kind::ChildAbuse),
    ("Content", "Copyright", Kind::Copyright),
    ("Content", "Malware", Kind::Malware),
    ("Content", "Phishing", Kind::Phishing),
    ("Content", "Trademark", Kind::Trademark),
    ("Vulnerability", "OpenService", Kind::OpenService),
];

const CLASSES: &[&str] = &["Content", "Activity", "Vulnerability"];

/// How a schema names the reported source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SourceShape {
    /// `IpBasedReport`: `SourceIp` required.
    Ip,
    /// `IpAndUrlBasedReport`: `SourceIp` or `SourceUrl`.
    IpOrUrl,
    /// `AccountBasedReport`: an `Account`, and no `SourceIp`/`SourceUrl`.
    Account,
}

impl Kind {
    fn source_shape(self) -> SourceShape {
        match self {
            Kind::Dos
            | Kind::Exploit
            | Kind::LoginAttack
            | Kind::PortScan
            | Kind::Rpz
            | Kind::Spam => SourceShape::Ip,
            Kind::CompromisedAccount => SourceShape::Account,
            Kind::Botnet
            | Kind::ChildAbuse
            | Kind::Copyright
            | Kind::Harassment
            | Kind::Malware
            | Kind::OpenService
            | Kind::Phishing
            | Kind::Trademark
            | Kind::WebCrawler => SourceShape::IpOrUrl,
        }
    }

    fn category(self, report: &Map<String, Value>) -> Category {
        match self {
            Kind::Botnet | Kind::Malware | Kind::Rpz => Category::Malware,
            Kind::ChildAbuse => Category::PornVulgar,
            Kind::Copyright => Category::Infringement,
            Kind::Trademark => Category::RightsInfringement,
            Kind::Dos => Category::DdosAttack,
            Kind::Exploit | Kind::LoginAttack | Kind::CompromisedAccount => Category::Hacking,
            Kind::Harassment => {
                if report.get("HarassmentType").and_then(Value::as_str) == Some("doxing") {
                    Category::Privacy
                } else {
                    Category::Defamation
                }
            }
            Kind::OpenService => Category::CyberHarm,
            Kind::Phishing => Category::FraudPhishing,
            Kind::PortScan => Category::Scanning,
            Kind::Spam => Category::SpamMail,
            Kind::WebCrawler => Category::MaliciousCrawler,
        }
    }

    /// `Report` fields naming the target, most preferred first.
    fn target_fields(self) -> &'static [&'static str] {
        match self {
            Kind::Dos
            | Kind::Exploit
            | Kind::LoginAttack
            | Kind::PortScan
            | Kind::Rpz
            | Kind::Spam => &["SourceIp"],
            Kind::Botnet | Kind::OpenService | Kind::WebCrawler => &["SourceIp", "SourceUrl"],
            Kind::ChildAbuse
            | Kind::Copyright
            | Kind::Harassment
            | Kind::Malware
            | Kind::Phishing
            | Kind::Trademark => &["SourceUrl", "SourceIp"],
            Kind::CompromisedAccount => &["DestinationIp"],
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

const REQUIRED: bool = true;
const OPTIONAL: bool = false;

/// The enums of the schemas, read by both the checks and [`document_schema`].
const PARTY_TYPES: &[&str] = &["Org", "Person"];
const SEVERITIES: &[&str] = &["low", "medium", "high"];
const TRANSPORTS: &[&str] = &["tcp", "udp"];
const HARASSMENT_TYPES: &[&str] = &[
    "doxing",
    "stalking",
    "sexual",
    "believes",
    "defamation",
    "extortion",
    "hate",
];
const HARASSMENT_LOCATIONS: &[&str] = &["website", "chat", "game"];
const RPZ_SUBTYPES: &[&str] = &["RPZ-Rewrite"];
const CVSS_VERSIONS: &[&str] = &["3.1", "3.0", "2"];
const CVSS2_SEVERITIES: &[&str] = &["Low", "Medium", "High"];
const CVSS3_SEVERITIES: &[&str] = &["None", "Low", "Medium", "High", "Critical"];

const HASH_ALGORITHMS: &[&str] = &[
    "sha1", "sha2", "sha3", "sha256", "sha512", "md5", "argon2id", "scrypt", "bcrypt", "pbkdf2",
];

/// Collects problems while walking the document.
#[derive(Debug, Default)]
struct Checker {
    errors: Vec<XarfError>,
}

/// String formats of the schemas.
#[derive(Debug, Clone, Copy)]
enum Format {
    Email,
    Hostname,
    Uri,
    DateTime,
}

impl Format {
    fn accepts(self, s: &str) -> bool {
        match self {
            Format::Email => is_email(s),
            Format::Hostname => is_hostname(s),
            Format::Uri => is_uri(s),
            Format::DateTime => s.trim() == s && Timestamp::parse_rfc3339(s).is_ok(),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Format::Email => "an e-mail address",
            Format::Hostname => "a host name",
            Format::Uri => "an absolute URI (scheme:...)",
            Format::DateTime => "an RFC 3339 date-time (e.g. 2018-02-05T14:17:10Z)",
        }
    }
}

/// `base.key`, or `key` at the root.
fn at(base: &str, key: &str) -> String {
    if base.is_empty() || base == "$" {
        key.to_string()
    } else {
        format!("{base}.{key}")
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The value as a JSON-schema integer (a number with no fraction).
fn int_value(v: &Value) -> Option<i128> {
    if let Some(i) = v.as_i64() {
        return Some(i128::from(i));
    }
    if let Some(u) = v.as_u64() {
        return Some(i128::from(u));
    }
    let f = v.as_f64()?;
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 1e30).then_some(f as i128)
}

impl Checker {
    fn fail(&mut self, code: &'static str, field: impl Into<String>, message: impl Into<String>) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(XarfError::new(code, field, message));
        }
    }

    /// Refuses documents nested too deep or with too many entries in one place.
    fn bounds(&mut self, v: &Value, path: &str, depth: usize) -> bool {
        let (len, children): (usize, Vec<(String, &Value)>) = match v {
            Value::Array(items) => (
                items.len(),
                items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| (format!("{path}[{i}]"), x))
                    .collect(),
            ),
            Value::Object(map) => (
                map.len(),
                map.iter().map(|(k, x)| (at(path, k), x)).collect(),
            ),
            _ => return true,
        };
        if depth >= MAX_DEPTH {
            self.fail(
                "too_large",
                path,
                format!("is nested deeper than {MAX_DEPTH} levels"),
            );
            return false;
        }
        if len > MAX_ITEMS {
            self.fail(
                "too_large",
                path,
                format!("has {len} entries; at most {MAX_ITEMS} are accepted"),
            );
            return false;
        }
        children
            .into_iter()
            .all(|(p, child)| self.bounds(child, &p, depth + 1))
    }

    // --- primitive fields --------------------------------------------------------------------

    fn present<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        base: &str,
        key: &str,
        required: bool,
    ) -> Option<&'a Value> {
        let v = obj.get(key);
        if v.is_none() && required {
            self.fail("missing_field", at(base, key), "is required");
        }
        v
    }

    fn string<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        base: &str,
        key: &str,
        required: bool,
    ) -> Option<&'a str> {
        let v = self.present(obj, base, key, required)?;
        let s = v.as_str();
        if s.is_none() {
            self.fail(
                "invalid_field",
                at(base, key),
                format!("must be a string, not {}", type_name(v)),
            );
        }
        s
    }

    fn string_min<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        base: &str,
        key: &str,
        required: bool,
        min: usize,
    ) -> Option<&'a str> {
        let s = self.string(obj, base, key, required)?;
        if s.chars().count() < min {
            let message = if min == 1 {
                "must not be empty".to_string()
            } else {
                format!("must be at least {min} characters long")
            };
            self.fail("invalid_field", at(base, key), message);
            return None;
        }
        Some(s)
    }

    fn one_of<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        base: &str,
        key: &str,
        required: bool,
        allowed: &[&str],
    ) -> Option<&'a str> {
        let v = self.present(obj, base, key, required)?;
        match v.as_str() {
            Some(s) if allowed.contains(&s) => Some(s),
            _ => {
                self.fail(
                    "invalid_field",
                    at(base, key),
                    format!("must be one of {}", allowed.join(", ")),
                );
                None
            }
        }
    }

    fn formatted<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        base: &str,
        key: &str,
        required: bool,
        format: Format,
    ) -> Option<&'a str> {
        let s = self.string(obj, base, key, required)?;
        if !format.accepts(s) {
            self.fail(
                "invalid_field",
                at(base, key),
                format!("is not {}", format.describe()),
            );
            return None;
        }
        Some(s)
    }

    fn ip(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        key: &str,
        required: bool,
    ) -> Option<IpAddr> {
        let s = self.string(obj, base, key, required)?;
        let ip = s.parse::<IpAddr>().ok();
        if ip.is_none() {
            self.fail(
                "invalid_field",
                at(base, key),
                "is not an IPv4 or IPv6 address",
            );
        }
        ip
    }

    fn boolean(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        key: &str,
        required: bool,
    ) -> Option<bool> {
        let v = self.present(obj, base, key, required)?;
        let b = v.as_bool();
        if b.is_none() {
            self.fail(
                "invalid_field",
                at(base, key),
                format!("must be true or false, not {}", type_name(v)),
            );
        }
        b
    }

    fn number(&mut self, obj: &Map<String, Value>, base: &str, key: &str) {
        if let Some(v) = obj.get(key)
            && !v.is_number()
        {
            self.fail(
                "invalid_field",
                at(base, key),
                format!("must be a number, not {}", type_name(v)),
            );
        }
    }

    fn integer(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        key: &str,
        min: i128,
        max: i128,
    ) -> Option<i128> {
        let v = obj.get(key)?;
        self.integer_value(v, &at(base, key), min, max)
    }

    fn integer_value(&mut self, v: &Value, path: &str, min: i128, max: i128) -> Option<i128> {
        match int_value(v) {
            Some(i) if (min..=max).contains(&i) => Some(i),
            Some(_) if max == i128::MAX => {
                self.fail("invalid_field", path, format!("must be at least {min}"));
                None
            }
            Some(_) => {
                self.fail(
                    "invalid_field",
                    path,
                    format!("must be between {min} and {max}"),
                );
                None
            }
            None => {
                self.fail(
                    "invalid_field",
                    path,
                    format!("must be an integer, not {}", type_name(v)),
                );
                None
            }
        }
    }

    fn object<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        base: &str,
        key: &str,
        required: bool,
    ) -> Option<&'a Map<String, Value>> {
        let v = self.present(obj, base, key, required)?;
        let o = v.as_object();
        if o.is_none() {
            self.fail(
                "invalid_field",
                at(base, key),
                format!("must be an object, not {}", type_name(v)),
            );
        }
        o
    }

    /// An object whose values must all be strings.
    fn string_map(&mut self, obj: &Map<String, Value>, base: &str, key: &str) {
        if let Some(m) = self.object(obj, base, key, OPTIONAL) {
            let path = at(base, key);
            for (k, v) in m {
                if !v.is_string() {
                    self.fail(
                        "invalid_field",
                        at(&path, k),
                        format!("must be a string, not {}", type_name(v)),
                    );
                }
            }
        }
    }

    /// A port (`0..=65535`) or an array of ports.
    fn ports(&mut self, obj: &Map<String, Value>, base: &str, key: &str) {
        let path = at(base, key);
        match obj.get(key) {
            None => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    self.integer_value(item, &format!("{path}[{i}]"), 0, 65535);
                }
            }
            Some(v) => {
                self.integer_value(v, &path, 0, 65535);
            }
        }
    }

    // --- the document --------------------------------------------------------------------------

    /// Checks the whole document; the report's schema if it could be told.
    fn document(&mut self, root: &Map<String, Value>) -> Option<Kind> {
        match root.get("Version") {
            Some(Value::String(v)) if v == "3" => {}
            Some(Value::String(v)) => {
                self.fail(
                    "unsupported_version",
                    "Version",
                    format!(
                        "X-ARF version {:?} is not supported; only \"3\" is",
                        v.chars().take(16).collect::<String>()
                    ),
                );
                return None;
            }
            Some(v) => {
                self.fail(
                    "invalid_field",
                    "Version",
                    format!("must be the string \"3\", not {}", type_name(v)),
                );
                return None;
            }
            None if root.contains_key("xarf_version") => {
                self.fail(
                    "unsupported_version",
                    "xarf_version",
                    "X-ARF v4 is not supported; only v3 is",
                );
                return None;
            }
            None => {
                self.fail(
                    "missing_field",
                    "Version",
                    "is required (\"3\" for X-ARF v3)",
                );
                return None;
            }
        }
        self.reporter_info(root);
        self.on_behalf_of(root);
        self.boolean(root, "", "Disclosure", REQUIRED);
        self.internal_processing(root);
        let report = self.object(root, "", "Report", REQUIRED)?;
        self.report(report)
    }

    fn reporter_info(&mut self, root: &Map<String, Value>) {
        const B: &str = "ReporterInfo";
        const KNOWN: &[&str] = &[
            "ReporterType",
            "ReporterOrg",
            "ReporterOrgDomain",
            "ReporterOrgEmail",
            "ReporterOrgAddress",
            "ReporterContactEmail",
            "ReporterContactName",
            "ReporterContactPhone",
        ];
        let Some(info) = self.object(root, "", B, REQUIRED) else {
            return;
        };
        for key in info.keys() {
            if !KNOWN.contains(&key.as_str()) {
                self.fail(
                    "unknown_field",
                    at(B, key),
                    format!("is not a ReporterInfo field ({})", KNOWN.join(", ")),
                );
            }
        }
        let kind = self.one_of(info, B, "ReporterType", OPTIONAL, PARTY_TYPES);
        // Contact details are optional only for a natural person.
        let org = kind != Some("Person");
        self.string_min(info, B, "ReporterOrg", org, 3);
        self.formatted(info, B, "ReporterOrgDomain", org, Format::Hostname);
        self.formatted(info, B, "ReporterOrgEmail", org, Format::Email);
        self.string(info, B, "ReporterOrgAddress", OPTIONAL);
        self.formatted(info, B, "ReporterContactEmail", OPTIONAL, Format::Email);
        self.string_min(info, B, "ReporterContactName", OPTIONAL, 3);
        self.string_min(info, B, "ReporterContactPhone", OPTIONAL, 3);
    }

    fn on_behalf_of(&mut self, root: &Map<String, Value>) {
        const B: &str = "OnBehalfOf";
        let Some(obo) = self.object(root, "", B, OPTIONAL) else {
            return;
        };
        let kind = self.one_of(obo, B, "ComplainantType", OPTIONAL, PARTY_TYPES);
        let org = kind != Some("Person");
        self.string_min(obo, B, "ComplainantOrg", org, 3);
        self.formatted(obo, B, "ComplainantOrgDomain", org, Format::Hostname);
        self.formatted(obo, B, "ComplainantOrgEmail", org, Format::Email);
        self.formatted(obo, B, "ComplainantContactEmail", OPTIONAL, Format::Email);
        self.string_min(obo, B, "ComplainantContactName", OPTIONAL, 3);
        self.string_min(obo, B, "ComplainantContactPhone", OPTIONAL, 3);
    }

    fn internal_processing(&mut self, root: &Map<String, Value>) {
        const B: &str = "InternalProcessing";
        let Some(ip) = self.object(root, "", B, OPTIONAL) else {
            return;
        };
        for (key, data) in [
            ("SubscriberInformation", "SubscriberData"),
            ("ContractInformation", "ResolverData"),
        ] {
            if let Some(o) = self.object(ip, B, key, OPTIONAL) {
                let base = at(B, key);
                self.string(o, &base, "ID", OPTIONAL);
                self.string_map(o, &base, data);
            }
        }
        match ip.get("EventTags") {
            None => {}
            Some(Value::Array(tags)) => {
                for (i, tag) in tags.iter().enumerate() {
                    if !tag.is_string() {
                        self.fail(
                            "invalid_field",
                            format!("{B}.EventTags[{i}]"),
                            format!("must be a string, not {}", type_name(tag)),
                        );
                    }
                }
            }
            Some(v) => self.fail(
                "invalid_field",
                at(B, "EventTags"),
                format!("must be an array of strings, not {}", type_name(v)),
            ),
        }
    }

    // --- the report ----------------------------------------------------------------------------

    fn report(&mut self, r: &Map<String, Value>) -> Option<Kind> {
        const B: &str = "Report";
        let class = self.string_min(r, B, "ReportClass", REQUIRED, 1);
        let rtype = self.string_min(r, B, "ReportType", REQUIRED, 1);
        let kind = match (class, rtype) {
            (Some(class), Some(rtype)) => self.resolve(class, rtype),
            _ => None,
        };
        self.string(r, B, "ReportSubType", OPTIONAL);
        self.string(r, B, "ReporterCaseID", OPTIONAL);
        self.one_of(r, B, "ReporterSeverity", OPTIONAL, SEVERITIES);
        self.string(r, B, "ReporterNotes", OPTIONAL);
        if let Some(custom) = self.object(r, B, "Custom", OPTIONAL) {
            for (k, v) in custom {
                if !(v.is_string() || (v.is_number() && int_value(v).is_some())) {
                    self.fail(
                        "invalid_field",
                        at("Report.Custom", k),
                        format!(
                            "custom values must be strings or integers, not {}",
                            type_name(v)
                        ),
                    );
                }
            }
        }
        self.formatted(r, B, "Date", REQUIRED, Format::DateTime);
        self.formatted(r, B, "FirstSeen", OPTIONAL, Format::DateTime);
        let kind = kind?;

        match kind.source_shape() {
            SourceShape::Ip => {
                self.ip(r, B, "SourceIp", REQUIRED);
                self.integer(r, B, "SourcePort", 0, 65535);
                self.integer(r, B, "ASN", 1, 4_199_999_999);
            }
            SourceShape::IpOrUrl => {
                self.ip(r, B, "SourceIp", OPTIONAL);
                self.integer(r, B, "SourcePort", 0, 65535);
                self.integer(r, B, "ASN", 1, 4_199_999_999);
                self.formatted(r, B, "SourceUrl", kind == Kind::Phishing, Format::Uri);
                if !r.contains_key("SourceIp") && !r.contains_key("SourceUrl") {
                    self.fail(
                        "missing_field",
                        "Report.SourceIp",
                        "SourceIp or SourceUrl is required",
                    );
                }
            }
            SourceShape::Account => {
                self.account(r);
                for key in ["SourceIp", "SourceUrl"] {
                    if r.contains_key(key) {
                        self.fail(
                            "unknown_field",
                            at(B, key),
                            "is not a field of PotentiallyCompromisedAccount reports (the account is the \
                             subject; the attacker goes in AttackerIp)",
                        );
                    }
                }
            }
        }

        match kind {
            Kind::Botnet => {
                self.string(r, B, "BotnetName", OPTIONAL);
                self.common(r);
            }
            Kind::ChildAbuse => {}
            Kind::Copyright => {
                self.string(r, B, "InfringedMaterial", REQUIRED);
                self.string(r, B, "MaterialType", OPTIONAL);
                self.string(r, B, "SharingProtocol", OPTIONAL);
                self.formatted(r, B, "CourtOrder", OPTIONAL, Format::Uri);
                self.file(r, B, REQUIRED);
            }
            Kind::Dos | Kind::LoginAttack | Kind::PortScan => {
                self.destination(r);
                self.integer(r, B, "ByteCount", i128::MIN, i128::MAX);
                self.integer(r, B, "PacketCount", i128::MIN, i128::MAX);
                self.common(r);
            }
            Kind::Exploit => {
                self.one_of(r, B, "TransportProtocol", OPTIONAL, TRANSPORTS);
                self.cve(r);
                self.cvss(r);
                self.destination(r);
                self.string(r, B, "ServiceName", OPTIONAL);
                self.string(r, B, "ServiceVersion", OPTIONAL);
                self.common(r);
            }
            Kind::Harassment => {
                self.string(r, B, "Harasser", REQUIRED);
                self.string(r, B, "HarassmentDescription", REQUIRED);
                self.one_of(r, B, "HarassmentType", OPTIONAL, HARASSMENT_TYPES);
                self.one_of(r, B, "HarassmentLocation", OPTIONAL, HARASSMENT_LOCATIONS);
                self.common(r);
            }
            Kind::Malware => {
                self.string(r, B, "MalwareName", OPTIONAL);
                self.common(r);
            }
            Kind::OpenService => {
                self.one_of(r, B, "TransportProtocol", OPTIONAL, TRANSPORTS);
                self.string(r, B, "ServiceName", OPTIONAL);
                self.string(r, B, "ServiceVersion", OPTIONAL);
                self.present(r, B, "ServiceName", REQUIRED);
                self.common(r);
            }
            Kind::Phishing | Kind::WebCrawler => self.common(r),
            Kind::CompromisedAccount => {
                self.ip(r, B, "AttackerIp", OPTIONAL);
                self.ports(r, B, "AttackerPort");
                self.destination(r);
                self.common(r);
                self.hash(r, B, "PasswordHash");
            }
            Kind::Rpz => {
                self.one_of(r, B, "ReportSubType", OPTIONAL, RPZ_SUBTYPES);
                self.formatted(r, B, "RpzDomain", OPTIONAL, Format::Hostname);
                self.string(r, B, "MalwareName", OPTIONAL);
            }
            Kind::Spam => {
                self.destination(r);
                self.common(r);
                self.formatted(r, B, "SmtpMailFromAddress", OPTIONAL, Format::Email);
                self.formatted(r, B, "SmtpRcptToAddress", OPTIONAL, Format::Email);
            }
            Kind::Trademark => {
                self.string(r, B, "TrademarkedMaterial", REQUIRED);
                self.string(r, B, "RegistrationOffice", OPTIONAL);
                self.string(r, B, "RegistrationNumber", OPTIONAL);
            }
        }
        Some(kind)
    }

    /// Finds the schema for a class and type.
    fn resolve(&mut self, class: &str, rtype: &str) -> Option<Kind> {
        if !CLASSES.contains(&class) {
            self.fail(
                "unsupported_type",
                "Report.ReportClass",
                format!(
                    "report class {class:?} is not supported; use one of {}",
                    CLASSES.join(", ")
                ),
            );
            return None;
        }
        if let Some((_, _, kind)) = TYPES.iter().find(|(c, t, _)| *c == class && *t == rtype) {
            return Some(*kind);
        }
        let classes: Vec<&str> = TYPES
            .iter()
            .filter(|(_, t, _)| *t == rtype)
            .map(|(c, _, _)| *c)
            .collect();
        if classes.is_empty() {
            let known: Vec<&str> = TYPES
                .iter()
                .filter(|(c, _, _)| *c == class)
                .map(|(_, t, _)| *t)
                .collect();
            self.fail(
                "unsupported_type",
                "Report.ReportType",
                format!(
                    "report type {:?} is not supported; {class} types are {}",
                    rtype.chars().take(64).collect::<String>(),
                    known.join(", ")
                ),
            );
        } else {
            self.fail(
                "invalid_field",
                "Report.ReportClass",
                format!("{rtype} reports have ReportClass {}", classes.join(" or ")),
            );
        }
        None
    }

    fn account(&mut self, r: &Map<String, Value>) {
        const B: &str = "Report.Account";
        let Some(account) = self.object(r, "Report", "Account", REQUIRED) else {
            return;
        };
        if account.is_empty() {
            self.fail(
                "invalid_field",
                B,
                "must name the account (AccountIdentifier, AccountEmail...)",
            );
        }
        if let Some(id) = self.string(account, B, "AccountIdentifier", OPTIONAL)
            && is_email(id)
        {
            let message = "is an e-mail address; put it in AccountEmail";
            self.fail("invalid_field", at(B, "AccountIdentifier"), message);
        }
        self.string(account, B, "AccountEmail", OPTIONAL);
    }

    /// `CommonProps`: `Ongoing`, `ThreatActor`, `Samples`.
    fn common(&mut self, r: &Map<String, Value>) {
        const B: &str = "Report";
        self.boolean(r, B, "Ongoing", OPTIONAL);
        self.string(r, B, "ThreatActor", OPTIONAL);
        let Some(v) = r.get("Samples") else { return };
        let Some(samples) = v.as_array() else {
            self.fail(
                "invalid_field",
                "Report.Samples",
                format!("must be an array of samples, not {}", type_name(v)),
            );
            return;
        };
        if samples.is_empty() {
            self.fail(
                "invalid_field",
                "Report.Samples",
                "must hold at least one sample",
            );
        }
        for (i, sample) in samples.iter().enumerate() {
            self.sample(sample, &format!("Report.Samples[{i}]"));
        }
    }

    /// A sample: inline (`ContentType` and `Payload`) or a file (`FileName`).
    fn sample(&mut self, v: &Value, path: &str) {
        let Some(s) = v.as_object() else {
            self.fail(
                "invalid_field",
                path,
                format!("must be an object, not {}", type_name(v)),
            );
            return;
        };
        self.string(s, path, "ContentType", OPTIONAL);
        let base64 = self.boolean(s, path, "Base64Encoded", OPTIONAL);
        self.string(s, path, "Description", OPTIONAL);
        let payload = self.string(s, path, "Payload", OPTIONAL);
        self.file(s, path, OPTIONAL);
        let inline = s.contains_key("ContentType") && s.contains_key("Payload");
        if !inline && !s.contains_key("FileName") {
            let missing = if s.contains_key("ContentType") {
                "Payload"
            } else {
                "ContentType"
            };
            self.fail(
                "missing_field",
                at(path, missing),
                "a sample needs ContentType and Payload, or a FileName",
            );
        }
        if let (Some(true), Some(payload)) = (base64, payload)
            && !is_base64(payload)
        {
            let message = "Base64Encoded is true but the payload is not Base64";
            self.fail("invalid_field", at(path, "Payload"), message);
        }
    }

    /// The `File` properties.
    fn file(&mut self, obj: &Map<String, Value>, base: &str, name_required: bool) {
        self.string(obj, base, "FileName", name_required);
        self.integer(obj, base, "FileSize", 0, i128::MAX);
        self.hash(obj, base, "FileHash");
    }

    fn hash(&mut self, obj: &Map<String, Value>, base: &str, key: &str) {
        let Some(h) = self.object(obj, base, key, OPTIONAL) else {
            return;
        };
        let path = at(base, key);
        self.string(h, &path, "HashValue", REQUIRED);
        self.one_of(h, &path, "HashAlgorithm", REQUIRED, HASH_ALGORITHMS);
        self.boolean(h, &path, "HashComplete", OPTIONAL);
    }

    /// `WithDestination`.
    fn destination(&mut self, r: &Map<String, Value>) {
        self.ip(r, "Report", "DestinationIp", OPTIONAL);
        self.ports(r, "Report", "DestinationPort");
    }

    fn cve(&mut self, r: &Map<String, Value>) {
        if let Some(cve) = self.string(r, "Report", "CVE", OPTIONAL)
            && !is_cve(cve)
        {
            self.fail(
                "invalid_field",
                "Report.CVE",
                "is not a CVE id (CVE-YYYY-NNNN)",
            );
        }
    }

    fn cvss(&mut self, r: &Map<String, Value>) {
        const B: &str = "Report.CVSS";
        let Some(c) = self.object(r, "Report", "CVSS", OPTIONAL) else {
            return;
        };
        self.number(c, B, "Score");
        let version = self.one_of(c, B, "Version", REQUIRED, CVSS_VERSIONS);
        let vector = self.string(c, B, "Vector", REQUIRED);
        let severity = self.string(c, B, "Severity", OPTIONAL);
        let v2 = version == Some("2");
        if let Some(severity) = severity {
            let allowed: &[&str] = if v2 {
                CVSS2_SEVERITIES
            } else {
                CVSS3_SEVERITIES
            };
            if !allowed.contains(&severity) {
                self.fail(
                    "invalid_field",
                    at(B, "Severity"),
                    format!("must be one of {}", allowed.join(", ")),
                );
            }
        }
        if let Some(vector) = vector {
            if v2 && !is_cvss2_vector(vector) {
                self.fail(
                    "invalid_field",
                    at(B, "Vector"),
                    "is not a CVSS v2 vector (AV:N/AC:L/Au:N/C:P/I:P/A:P)",
                );
            } else if !v2 && !is_cvss3_vector(vector) {
                self.fail(
                    "invalid_field",
                    at(B, "Vector"),
                    "is not a CVSS v3 vector (CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H)",
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Formats
// ---------------------------------------------------------------------------------------------

/// RFC 1123 host name (a trailing dot allowed).
fn is_hostname(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// RFC 5321 mailbox: a dot-atom or quoted local part, a host name or address literal.
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    if local.is_empty() || local.len() > 64 || s.len() > 254 {
        return false;
    }
    let local_ok = match local.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
        Some(quoted) => {
            let mut escaped = false;
            quoted.bytes().all(|b| {
                let ok = (0x20..=0x7e).contains(&b) && (escaped || b != b'"');
                escaped = !escaped && b == b'\\';
                ok
            }) && !escaped
        }
        None => local.split('.').all(|atom| {
            !atom.is_empty()
                && atom
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b))
        }),
    };
    let domain_ok = match domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        Some(literal) => {
            literal.parse::<Ipv4Addr>().is_ok()
                || literal
                    .strip_prefix("IPv6:")
                    .is_some_and(|v6| v6.parse::<Ipv6Addr>().is_ok())
        }
        None => !domain.ends_with('.') && is_hostname(domain),
    };
    local_ok && domain_ok
}

/// RFC 3986 URI: a scheme, then only URI characters and `%XX` escapes, at most one `#`.
fn is_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut sb = scheme.bytes();
    if !sb.next().is_some_and(|b| b.is_ascii_alphabetic())
        || !sb.all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return false;
    }
    let b = rest.as_bytes();
    let mut i = 0;
    let mut fragments = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = |j: usize| b.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
            continue;
        }
        if c == b'#' {
            fragments += 1;
        }
        if !(c.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&c)) {
            return false;
        }
        i += 1;
    }
    fragments <= 1
}

/// `^CVE-\d{4}-\d{4,7}$`.
fn is_cve(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("CVE-") else {
        return false;
    };
    let Some((year, number)) = rest.split_once('-') else {
        return false;
    };
    year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && (4..=7).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// One CVSS metric: its name and allowed values.
type Metric = (&'static str, &'static [&'static str]);

const XLMH: &[&str] = &["X", "L", "M", "H"];
const XNLH: &[&str] = &["X", "N", "L", "H"];
const NLH: &[&str] = &["N", "L", "H"];
const NPC: &[&str] = &["N", "P", "C"];
const V3_BASE: &[Metric] = &[
    ("AV", &["N", "A", "L", "P"]),
    ("AC", &["L", "H"]),
    ("PR", NLH),
    ("UI", &["N", "R"]),
    ("S", &["U", "C"]),
    ("C", NLH),
    ("I", NLH),
    ("A", NLH),
];
const V3_TEMPORAL: &[Metric] = &[
    ("E", &["X", "U", "P", "F", "H"]),
    ("RL", &["X", "O", "T", "W", "U"]),
    ("RC", &["X", "U", "R", "C"]),
];
const V3_ENVIRONMENTAL: &[Metric] = &[
    ("CR", XLMH),
    ("IR", XLMH),
    ("AR", XLMH),
    ("MAV", &["X", "N", "A", "L", "P"]),
    ("MAC", &["X", "L", "H"]),
    ("MPR", XNLH),
    ("MUI", &["X", "N", "R"]),
    ("MS", &["X", "U", "C"]),
    ("MC", XNLH),
    ("MI", XNLH),
    ("MA", XNLH),
];
const V2_BASE: &[Metric] = &[
    ("AV", &["L", "A", "N"]),
    ("AC", &["H", "M", "L"]),
    ("Au", &["M", "S", "N"]),
    ("C", NPC),
    ("I", NPC),
    ("A", NPC),
];
const V2_TEMPORAL: &[Metric] = &[
    ("E", &["ND", "POC", "U", "F", "H"]),
    ("RL", &["W", "U", "ND", "OF", "TF"]),
    ("RC", &["C", "ND", "UC", "UR"]),
];
const V2_ENVIRONMENTAL: &[Metric] = &[
    ("CDP", &["N", "L", "H", "ND", "LM", "MH"]),
    ("TD", &["ND", "N", "L", "M", "H"]),
    ("CR", &["ND", "N", "L", "M", "H"]),
    ("IR", &["ND", "L", "M", "H"]),
    ("AR", &["ND", "L", "M", "H"]),
];

/// Matches `/`-separated metrics against a required base group and optional further groups,
/// in order (each group starts with its own metric, so no backtracking is needed).
fn metrics_match(text: &str, base: &[Metric], optional: &[&[Metric]]) -> bool {
    let parts: Vec<&str> = text.split('/').collect();
    let take = |parts: &[&str], group: &[Metric]| -> Option<usize> {
        if parts.len() < group.len() {
            return None;
        }
        parts
            .iter()
            .zip(group)
            .all(|(part, (name, values))| {
                part.split_once(':')
                    .is_some_and(|(k, v)| k == *name && values.contains(&v))
            })
            .then_some(group.len())
    };
    let Some(mut used) = take(&parts, base) else {
        return false;
    };
    for group in optional {
        if let Some(n) = parts.get(used..).and_then(|rest| take(rest, group)) {
            used += n;
        }
    }
    used == parts.len()
}

/// The schema's CVSS v3 vector pattern (`^CVSS:3.[01]/AV:...`).
fn is_cvss3_vector(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("CVSS:3") else {
        return false;
    };
    let mut chars = rest.chars();
    let (Some(_), Some('0' | '1'), Some('/')) = (chars.next(), chars.next(), chars.next()) else {
        return false;
    };
    metrics_match(chars.as_str(), V3_BASE, &[V3_TEMPORAL, V3_ENVIRONMENTAL])
}

/// The schema's CVSS v2 vector pattern (`^\(?AV:[LAN]/...\)?$`).
fn is_cvss2_vector(s: &str) -> bool {
    let s = s.strip_prefix('(').unwrap_or(s);
    let s = s.strip_suffix(')').unwrap_or(s);
    metrics_match(s, V2_BASE, &[V2_TEMPORAL, V2_ENVIRONMENTAL])
}

/// Base64 (standard or URL-safe alphabet), whitespace ignored, padding optional.
fn is_base64(s: &str) -> bool {
    let mut data = 0usize;
    let mut padding = 0usize;
    for b in s.bytes() {
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => {}
            b'=' => padding += 1,
            _ if padding > 0 => return false,
            b if b.is_ascii_alphanumeric() || b"+/-_".contains(&b) => data += 1,
            _ => return false,
        }
    }
    padding <= 2 && data % 4 != 1 && (padding == 0 || (data + padding).is_multiple_of(4))
}

// ---------------------------------------------------------------------------------------------
// Mapping
// ---------------------------------------------------------------------------------------------

/// `Report` text fields quoted in the summary, in order.
const SUMMARY_FIELDS: &[&str] = &[
    "BotnetName",
    "MalwareName",
    "RpzDomain",
    "InfringedMaterial",
    "MaterialType",
    "SharingProtocol",
    "TrademarkedMaterial",
    "RegistrationOffice",
    "RegistrationNumber",
    "ServiceName",
    "ServiceVersion",
    "CVE",
    "HarassmentType",
    "HarassmentLocation",
    "HarassmentDescription",
    "ReporterSeverity",
    "ReporterCaseID",
    "ReporterNotes",
];

fn text<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Control characters become spaces.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn truncate(s: String, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s;
    }
    let mut out: String = s.chars().take(max_chars.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Reduces a validated report to an [`XarfReport`].
fn build(
    root: &Map<String, Value>,
    r: &Map<String, Value>,
    kind: Kind,
) -> Result<XarfReport, XarfError> {
    let report_class = text(r, "ReportClass").unwrap_or_default().to_string();
    let report_type = text(r, "ReportType").unwrap_or_default().to_string();
    let date = r.get("Date").and_then(Value::as_str).unwrap_or_default();
    let occurred_at = Timestamp::parse_rfc3339(date)
        .map_err(|e| XarfError::new("invalid_field", "Report.Date", e.to_string()))?;

    let mut header = format!("X-ARF {report_class}/{report_type}");
    if let Some(sub) = text(r, "ReportSubType") {
        header.push_str(&format!(" ({sub})"));
    }
    let details: Vec<String> = SUMMARY_FIELDS
        .iter()
        .filter_map(|k| text(r, k).map(|v| format!("{k}: {v}")))
        .collect();
    let summary = if details.is_empty() {
        header
    } else {
        format!("{header}: {}", details.join("; "))
    };
    let summary = truncate(clean(&summary), MAX_DESCRIPTION_CHARS);

    let info = root.get("ReporterInfo").and_then(Value::as_object);
    let reporter_org = info.and_then(|i| text(i, "ReporterOrg")).map(clean);
    // The reporter's contact, then the complainant's: both are people's (AUD-4).
    let contact: Vec<&str> = SEALED_FIELDS
        .iter()
        .flat_map(|(object, fields)| {
            let o = root.get(*object).and_then(Value::as_object);
            fields
                .iter()
                .filter_map(move |k| o.and_then(|o| text(o, k)))
        })
        .collect();
    let reporter_contact =
        (!contact.is_empty()).then(|| truncate(clean(&contact.join("; ")), MAX_CONTACT_CHARS));

    Ok(XarfReport {
        category: kind.category(r),
        report_class,
        report_type,
        occurred_at,
        target: target(r, kind)?,
        reporter_org,
        reporter_contact,
        summary,
    })
}

/// The first target candidate Warden can act on.
fn target(r: &Map<String, Value>, kind: Kind) -> Result<String, XarfError> {
    let mut candidates: Vec<(String, String)> = kind
        .target_fields()
        .iter()
        .filter_map(|k| text(r, k).map(|v| (at("Report", k), v.to_string())))
        .collect();
    if kind == Kind::CompromisedAccount {
        let email = r
            .get("Account")
            .and_then(Value::as_object)
            .and_then(|a| text(a, "AccountEmail"));
        if let Some((_, domain)) = email.and_then(|e| e.rsplit_once('@')) {
            candidates.push(("Report.Account.AccountEmail".into(), domain.to_string()));
        }
    }
    if let Some((_, t)) = candidates.iter().find(|(_, t)| Target::parse(t).is_ok()) {
        return Ok(t.clone());
    }
    Err(match candidates.first() {
        Some((field, _)) => XarfError::new(
            "invalid_field",
            field.clone(),
            "is not a target Warden can act on (an IP address, an http(s) URL or a domain)",
        ),
        None => XarfError::new(
            "missing_field",
            at(
                "Report",
                kind.target_fields().first().copied().unwrap_or("SourceIp"),
            ),
            "is required: Warden needs the reported IP address, URL or domain",
        ),
    })
}

// ---------------------------------------------------------------------------------------------
// Personal data in the kept document (AUD-4)
// ---------------------------------------------------------------------------------------------

/// The `ReporterInfo` fields that hold the reporter's personal contact (AUD-4). Their values
/// make up [`XarfReport::reporter_contact`], which is sealed; the document kept as evidence says
/// [`SEALED_CONTACT`] in their place ([`redact_contact`]).
pub const CONTACT_FIELDS: &[&str] = &[
    "ReporterContactName",
    "ReporterContactEmail",
    "ReporterContactPhone",
];

/// The `OnBehalfOf` fields that hold the complainant's personal contact: sealed with the
/// reporter's, after them.
pub const COMPLAINANT_CONTACT_FIELDS: &[&str] = &[
    "ComplainantContactName",
    "ComplainantContactEmail",
    "ComplainantContactPhone",
];

/// Each top-level object whose contact fields are sealed, with those fields.
const SEALED_FIELDS: &[(&str, &[&str])] = &[
    ("ReporterInfo", CONTACT_FIELDS),
    ("OnBehalfOf", COMPLAINANT_CONTACT_FIELDS),
];

/// What the kept document says in place of a reporter contact value.
pub const SEALED_CONTACT: &str =
    "[sealed: personal data, kept encrypted as the report's reporter contact]";

/// The document as sent, byte for byte, except that the value of every [`CONTACT_FIELDS`] member
/// of the top-level `ReporterInfo` and every [`COMPLAINANT_CONTACT_FIELDS`] member of the
/// top-level `OnBehalfOf` (each occurrence, should a key be repeated) is the JSON string
/// [`SEALED_CONTACT`]. The layout, the key order and every other value stay as the reporter wrote
/// them, so the kept evidence still reads as their report. Meant for a document [`parse_v3`]
/// accepted; anything that is not a JSON object is refused (`invalid_json`).
pub fn redact_contact(bytes: &[u8]) -> Result<Vec<u8>, XarfError> {
    let refused = || XarfError::new("invalid_json", "$", "is not a JSON object");
    let start = if bytes.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let mut root = Scan { b: bytes, i: start };
    let mut spans = Vec::new();
    for (key, value) in root.members().ok_or_else(refused)? {
        let name = root.key(&key);
        let Some((_, fields)) = SEALED_FIELDS
            .iter()
            .find(|(object, _)| name.as_deref() == Some(*object))
        else {
            continue;
        };
        let mut info = Scan {
            b: bytes,
            i: value.start,
        };
        if info.peek() != Some(b'{') {
            continue;
        }
        for (key, value) in info.members().ok_or_else(refused)? {
            if info.key(&key).is_some_and(|k| fields.contains(&k.as_str())) {
                spans.push(value);
            }
        }
    }
    spans.sort_by_key(|r| r.start);
    let marker = serde_json::to_vec(SEALED_CONTACT).map_err(|_| refused())?;
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    for span in spans {
        out.extend_from_slice(bytes.get(at..span.start).ok_or_else(refused)?);
        out.extend_from_slice(&marker);
        at = span.end;
    }
    out.extend_from_slice(bytes.get(at..).ok_or_else(refused)?);
    Ok(out)
}

/// A cursor over JSON text that finds where members start and end without building values.
struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.peek() == Some(c)).then(|| self.i += 1)
    }

    /// A string from its opening quote; its span with the quotes.
    fn string(&mut self) -> Option<std::ops::Range<usize>> {
        self.ws();
        let start = self.i;
        self.eat(b'"')?;
        loop {
            match self.peek()? {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    return Some(start..self.i);
                }
                _ => self.i += 1,
            }
        }
    }

    /// Any value; its span.
    fn value(&mut self) -> Option<std::ops::Range<usize>> {
        self.ws();
        let start = self.i;
        match self.peek()? {
            b'"' => self.string(),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => depth = depth.checked_sub(1)?,
                        _ => {}
                    }
                    self.i += 1;
                    if depth == 0 {
                        return Some(start..self.i);
                    }
                }
            }
            _ => {
                while self.peek().is_some_and(|c| {
                    !matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                }) {
                    self.i += 1;
                }
                (self.i > start).then_some(start..self.i)
            }
        }
    }

    /// The members of the object starting here: (key span, value span) each.
    fn members(&mut self) -> Option<Vec<(std::ops::Range<usize>, std::ops::Range<usize>)>> {
        self.eat(b'{')?;
        let mut out = Vec::new();
        if self.eat(b'}').is_some() {
            return Some(out);
        }
        loop {
            self.ws();
            let key = self.string()?;
            self.eat(b':')?;
            let value = self.value()?;
            out.push((key, value));
            if self.eat(b',').is_none() {
                self.eat(b'}')?;
                return Some(out);
            }
        }
    }

    /// A key's text, escapes decoded.
    fn key(&self, span: &std::ops::Range<usize>) -> Option<String> {
        serde_json::from_slice(self.b.get(span.clone())?).ok()
    }
}

// ---------------------------------------------------------------------------------------------
// The document's schema, for the API's OpenAPI document
// ---------------------------------------------------------------------------------------------

/// The JSON schema of what [`parse_v3`] accepts, built from the same tables as the checks
/// (types, classes, hash algorithms), so that a client can tell a valid report before sending it.
/// Strings with a grammar of their own carry a format of Warden's: `ip-address`, `xarf-uri`
/// (an absolute URI; the report's `SourceUrl` must be an http(s) URL Warden can act on),
/// `xarf-email`, `xarf-hostname`, `xarf-date-time` (RFC 3339), `base64`, `cvss2-vector`,
/// `cvss3-vector` and `xarf-account-id` (an account identifier that is no e-mail address).
pub fn document_schema() -> Value {
    use serde_json::json;
    let string = || json!({ "type": "string" });
    let formatted = |f: &str| json!({ "type": "string", "format": f });
    let min = |n: usize| json!({ "type": "string", "minLength": n });
    let port = json!({ "type": "integer", "minimum": 0, "maximum": 65535 });
    let ports =
        json!({ "anyOf": [port, { "type": "array", "maxItems": MAX_ITEMS, "items": port }] });
    let hash = json!({
        "type": "object",
        "required": ["HashValue", "HashAlgorithm"],
        "properties": {
            "HashValue": string(),
            "HashAlgorithm": { "type": "string", "enum": HASH_ALGORITHMS },
            "HashComplete": { "type": "boolean" },
        },
    });
    let file = |name_required: bool| {
        let required: &[&str] = if name_required { &["FileName"] } else { &[] };
        json!({
            "properties": {
                "FileName": string(),
                "FileSize": { "type": "integer", "format": "int64", "minimum": 0 },
                "FileHash": hash,
            },
            "required": required,
        })
    };
    let sample = json!({
        "type": "object",
        "allOf": [
            file(false),
            {
                "properties": {
                    "ContentType": string(),
                    "Base64Encoded": { "type": "boolean" },
                    "Description": string(),
                    "Payload": string(),
                },
            },
            // Inline (ContentType and Payload) or a file.
            { "anyOf": [{ "required": ["ContentType", "Payload"] }, { "required": ["FileName"] }] },
            // A payload said to be Base64 is Base64.
            { "anyOf": [
                { "properties": { "Base64Encoded": { "const": true }, "Payload": formatted("base64") } },
                { "properties": { "Base64Encoded": { "const": false } } },
            ] },
        ],
    });
    let common = json!({
        "properties": {
            "Ongoing": { "type": "boolean" },
            "ThreatActor": string(),
            "Samples": { "type": "array", "minItems": 1, "maxItems": MAX_ITEMS, "items": sample },
        },
    });
    let destination = json!({
        "properties": { "DestinationIp": formatted("ip-address"), "DestinationPort": ports },
    });
    let ip_source = json!({
        "properties": {
            "SourceIp": formatted("ip-address"),
            "SourcePort": port,
            "ASN": { "type": "integer", "minimum": 1, "maximum": 4_199_999_999_u64 },
        },
    });
    let kind_schema = |kind: Kind| -> Value {
        let mut parts = vec![];
        match kind.source_shape() {
            SourceShape::Ip => {
                parts.push(ip_source.clone());
                parts.push(json!({ "required": ["SourceIp"] }));
            }
            SourceShape::IpOrUrl => {
                parts.push(ip_source.clone());
                parts.push(json!({ "properties": { "SourceUrl": formatted("xarf-uri") } }));
                parts.push(json!({ "anyOf": [{ "required": ["SourceIp"] }, { "required": ["SourceUrl"] }] }));
                if kind == Kind::Phishing {
                    parts.push(json!({ "required": ["SourceUrl"] }));
                }
            }
            SourceShape::Account => {
                parts.push(json!({
                    "required": ["Account"],
                    "properties": { "Account": {
                        "type": "object",
                        "minProperties": 1,
                        "properties": {
                            "AccountIdentifier": formatted("xarf-account-id"),
                            "AccountEmail": formatted("xarf-email"),
                        },
                    } },
                    "not": { "anyOf": [{ "required": ["SourceIp"] }, { "required": ["SourceUrl"] }] },
                }));
                // The target: the service holding the account, or the domain of its e-mail.
                parts.push(json!({ "anyOf": [
                    { "required": ["DestinationIp"] },
                    { "properties": { "Account": { "required": ["AccountEmail"] } } },
                ] }));
            }
        }
        let own =
            |props: Value, required: &[&str]| json!({ "properties": props, "required": required });
        let tcp_udp = json!({ "type": "string", "enum": TRANSPORTS });
        match kind {
            Kind::Botnet => parts.extend([own(json!({ "BotnetName": string() }), &[]), common.clone()]),
            Kind::ChildAbuse => {}
            Kind::Copyright => parts.extend([
                own(
                    json!({
                        "InfringedMaterial": string(),
                        "MaterialType": string(),
                        "SharingProtocol": string(),
                        "CourtOrder": formatted("xarf-uri"),
                    }),
                    &["InfringedMaterial"],
                ),
                file(true),
            ]),
            Kind::Dos | Kind::LoginAttack | Kind::PortScan => parts.extend([
                destination.clone(),
                own(json!({ "ByteCount": { "type": "integer", "format": "int64" }, "PacketCount": { "type": "integer", "format": "int64" } }), &[]),
                common.clone(),
            ]),
            Kind::Exploit => parts.extend([
                own(
                    json!({
                        "TransportProtocol": tcp_udp,
                        "CVE": { "type": "string", "pattern": "^CVE-[0-9]{4}-[0-9]{4,7}$" },
                        "CVSS": {
                            "type": "object",
                            "required": ["Version", "Vector"],
                            "properties": { "Score": { "type": "number" } },
                            "anyOf": [
                                { "properties": {
                                    "Version": { "const": "2" },
                                    "Vector": formatted("cvss2-vector"),
                                    "Severity": { "enum": CVSS2_SEVERITIES },
                                } },
                                { "properties": {
                                    "Version": { "enum": CVSS_VERSIONS.iter().filter(|v| **v != "2").collect::<Vec<_>>() },
                                    "Vector": formatted("cvss3-vector"),
                                    "Severity": { "enum": CVSS3_SEVERITIES },
                                } },
                            ],
                        },
                        "ServiceName": string(),
                        "ServiceVersion": string(),
                    }),
                    &[],
                ),
                destination.clone(),
                common.clone(),
            ]),
            Kind::Harassment => parts.extend([
                own(
                    json!({
                        "Harasser": string(),
                        "HarassmentDescription": string(),
                        "HarassmentType": { "type": "string", "enum": HARASSMENT_TYPES },
                        "HarassmentLocation": { "type": "string", "enum": HARASSMENT_LOCATIONS },
                    }),
                    &["Harasser", "HarassmentDescription"],
                ),
                common.clone(),
            ]),
            Kind::Malware => parts.extend([own(json!({ "MalwareName": string() }), &[]), common.clone()]),
            Kind::OpenService => parts.extend([
                own(
                    json!({ "TransportProtocol": tcp_udp, "ServiceName": string(), "ServiceVersion": string() }),
                    &["ServiceName"],
                ),
                common.clone(),
            ]),
            Kind::Phishing | Kind::WebCrawler => parts.push(common.clone()),
            Kind::CompromisedAccount => parts.extend([
                own(json!({ "AttackerIp": formatted("ip-address"), "AttackerPort": ports, "PasswordHash": hash }), &[]),
                destination.clone(),
                common.clone(),
            ]),
            Kind::Rpz => parts.push(own(
                json!({
                    "ReportSubType": { "type": "string", "enum": RPZ_SUBTYPES },
                    "RpzDomain": formatted("xarf-hostname"),
                    "MalwareName": string(),
                }),
                &[],
            )),
            Kind::Spam => parts.extend([
                destination.clone(),
                common.clone(),
                own(
                    json!({ "SmtpMailFromAddress": formatted("xarf-email"), "SmtpRcptToAddress": formatted("xarf-email") }),
                    &[],
                ),
            ]),
            Kind::Trademark => parts.push(own(
                json!({
                    "TrademarkedMaterial": string(),
                    "RegistrationOffice": string(),
                    "RegistrationNumber": string(),
                }),
                &["TrademarkedMaterial"],
            )),
        }
        Value::Array(parts)
    };
    let types: Vec<Value> = TYPES
        .iter()
        .map(|(class, rtype, kind)| {
            let mut all = vec![json!({
                "properties": { "ReportClass": { "const": class }, "ReportType": { "const": rtype } },
            })];
            if let Value::Array(parts) = kind_schema(*kind) {
                all.extend(parts);
            }
            json!({ "title": format!("{class}/{rtype}"), "allOf": all })
        })
        .collect();
    let report = json!({
        "type": "object",
        "description": "The report: its class and type (one of the listed pairs), when, the source, and the type's own fields.",
        "required": ["ReportClass", "ReportType", "Date"],
        "properties": {
            "ReportClass": { "type": "string", "enum": CLASSES },
            "ReportType": min(1),
            "ReportSubType": string(),
            "ReporterCaseID": string(),
            "ReporterSeverity": { "type": "string", "enum": SEVERITIES },
            "ReporterNotes": string(),
            "Custom": { "type": "object", "additionalProperties": { "anyOf": [{ "type": "string" }, { "type": "integer", "format": "int64" }] } },
            "Date": formatted("xarf-date-time"),
            "FirstSeen": formatted("xarf-date-time"),
        },
        "anyOf": types,
    });
    // An organisation names itself; a natural person need not.
    let party = |prefix: &str, closed: bool| {
        let mut properties = Map::new();
        properties.insert(
            format!("{prefix}Type"),
            json!({ "type": "string", "enum": PARTY_TYPES }),
        );
        properties.insert(format!("{prefix}Org"), min(3));
        properties.insert(format!("{prefix}OrgDomain"), formatted("xarf-hostname"));
        properties.insert(format!("{prefix}OrgEmail"), formatted("xarf-email"));
        properties.insert(format!("{prefix}ContactEmail"), formatted("xarf-email"));
        properties.insert(format!("{prefix}ContactName"), min(3));
        properties.insert(format!("{prefix}ContactPhone"), min(3));
        if closed {
            properties.insert(format!("{prefix}OrgAddress"), string());
        }
        json!({
            "type": "object",
            "properties": properties,
            // Only ReporterInfo is closed, as in the schemas.
            "additionalProperties": !closed,
            "anyOf": [
                { "required": [format!("{prefix}Type")], "properties": { format!("{prefix}Type"): { "const": "Person" } } },
                { "required": [format!("{prefix}Org"), format!("{prefix}OrgDomain"), format!("{prefix}OrgEmail")] },
            ],
        })
    };
    let string_map = json!({ "type": "object", "additionalProperties": { "type": "string" } });
    let info = |data: &str| json!({ "type": "object", "properties": { "ID": string(), data: string_map } });
    json!({
        "type": "object",
        "title": "X-ARF v3 report",
        "description": "An X-ARF v3 report (https://github.com/abusix/xarf, schemas/3), as Warden validates it. At most 1 MiB, nested at most 32 levels, at most 1000 entries in any array or object.",
        "required": ["Version", "ReporterInfo", "Disclosure", "Report"],
        "properties": {
            "Version": { "const": "3" },
            "ReporterInfo": party("Reporter", true),
            "OnBehalfOf": party("Complainant", false),
            "Disclosure": { "type": "boolean" },
            "InternalProcessing": {
                "type": "object",
                "properties": {
                    "SubscriberInformation": info("SubscriberData"),
                    "ContractInformation": info("ResolverData"),
                    "EventTags": { "type": "array", "maxItems": MAX_ITEMS, "items": { "type": "string" } },
                },
            },
            "Report": report,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AUD-4: the kept X-ARF document held the reporter's name, e-mail and phone in clear. Now
    /// each contact value (also a repeated key, also a key spelled with escapes) is the sealed
    /// marker, and every other byte is as sent: other fields that look alike are untouched.
    #[test]
    fn regression_reporter_contact_is_redacted_from_the_kept_document() {
        let doc = "\u{feff}{ \"Version\": \"3\",\n  \"ReporterInfo\" : {\"ReporterOrg\": \"Org {x}\", \"ReporterContactEmail\":\"a@x.example\",\n \"ReporterContactEmail\": \"b@y.example\", \"Reporter\\u0043ontactName\": \"Ann \\\"Q\\\" Lee\", \"ReporterContactPhone\" : 12345 },\n  \"OnBehalfOf\": {\"ComplainantContactEmail\": \"c@z.example\", \"ReporterContactName\": \"kept\"},\n  \"Report\": {\"ReporterContactName\": [\"kept\", {\"a\": \"}\"}]} }";
        let out = String::from_utf8(redact_contact(doc.as_bytes()).unwrap()).unwrap();
        let m = serde_json::to_string(SEALED_CONTACT).unwrap();
        let expected = format!(
            "\u{feff}{{ \"Version\": \"3\",\n  \"ReporterInfo\" : {{\"ReporterOrg\": \"Org {{x}}\", \"ReporterContactEmail\":{m},\n \"ReporterContactEmail\": {m}, \"Reporter\\u0043ontactName\": {m}, \"ReporterContactPhone\" : {m} }},\n  \"OnBehalfOf\": {{\"ComplainantContactEmail\": {m}, \"ReporterContactName\": \"kept\"}},\n  \"Report\": {{\"ReporterContactName\": [\"kept\", {{\"a\": \"}}\"}}]}} }}"
        );
        assert_eq!(out, expected);
        assert!(redact_contact(b"[1]").is_err());
        assert!(redact_contact(b"{\"ReporterInfo\": ").is_err());
        assert_eq!(
            redact_contact(b"{\"ReporterInfo\": null}").unwrap(),
            b"{\"ReporterInfo\": null}"
        );
    }

    /// AUD-4: on every real sample the kept document is the same JSON with only the contact
    /// values (the reporter's and the complainant's) replaced.
    #[test]
    fn samples_keep_everything_but_the_contact() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/xarf/abusix_v3/samples"
        );
        let mut redacted = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            let mut expected: Value = serde_json::from_slice(&bytes).unwrap();
            for (object, fields) in SEALED_FIELDS {
                if let Some(info) = expected.get_mut(*object).and_then(Value::as_object_mut) {
                    for k in *fields {
                        if let Some(v) = info.get_mut(*k) {
                            *v = Value::from(SEALED_CONTACT);
                            redacted += 1;
                        }
                    }
                }
            }
            let kept: Value = serde_json::from_slice(&redact_contact(&bytes).unwrap()).unwrap();
            assert_eq!(kept, expected);
        }
        assert!(redacted >= 60, "{redacted}");
    }

    #[test]
    fn formats() {
        for ok in [
            "a@example.com",
            "first.last+tag@sub.example.org",
            "\"a b\"@example.com",
            "x@[192.0.2.1]",
            "x@[IPv6:2001:db8::1]",
        ] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "spamexample.com",
            "0012345678",
            "a@",
            "@example.com",
            "a..b@example.com",
            "a@exa mple.com",
            "a@example.com.",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
        for ok in [
            "example.com",
            "a-b.example.com.",
            "localhost",
            "xn--bcher-kva.example",
        ] {
            assert!(is_hostname(ok), "{ok}");
        }
        for bad in [
            "this is not a hostname",
            "-a.example",
            "a..b",
            "",
            "exa_mple.com",
        ] {
            assert!(!is_hostname(bad), "{bad}");
        }
        for ok in [
            "http://example.org/a?b=c#d",
            "https://court.example.com/courtorder.pdf",
            "mailto:a@b.c",
            "urn:isbn:123",
            "http://x/%20",
        ] {
            assert!(is_uri(ok), "{ok}");
        }
        for bad in [
            "no",
            "192.168.0.11",
            "http://exa mple.org",
            "1http://x",
            "http://x/%2",
            "http://x/#a#b",
            "http://x/ü",
        ] {
            assert!(!is_uri(bad), "{bad}");
        }
        for ok in ["CVE-2021-44228", "CVE-1999-0001", "CVE-2024-1234567"] {
            assert!(is_cve(ok), "{ok}");
        }
        for bad in [
            "CVE-NOW-23112",
            "CVE-2021-123",
            "CVE-2021-12345678",
            "cve-2021-44228",
            "CVE-2021-44228 ",
        ] {
            assert!(!is_cve(bad), "{bad}");
        }
        for ok in [
            "bWFpbA==",
            "AAAAAAAAAAAAAAAAAAAAAA",
            "bWFp\nbA==",
            "",
            "a-_b",
        ] {
            assert!(is_base64(ok), "{ok}");
        }
        for bad in ["bWFpbA=", "bWF=pbA", "A", "bWFpbA===", "not base64!"] {
            assert!(!is_base64(bad), "{bad}");
        }
    }

    #[test]
    fn cvss_vectors() {
        assert!(is_cvss3_vector(
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"
        ));
        assert!(is_cvss3_vector(
            "CVSS:3.0/AV:P/AC:H/PR:H/UI:R/S:U/C:N/I:L/A:N/E:X/RL:X/RC:X"
        ));
        assert!(!is_cvss3_vector(
            "CVSS:3.2/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"
        ));
        assert!(!is_cvss3_vector(
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H/"
        ));
        assert!(!is_cvss3_vector(
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H/E:X"
        ));
        assert!(!is_cvss3_vector("AV:N/AC:L/Au:N/C:P/I:P/A:P"));
        assert!(is_cvss2_vector("AV:N/AC:L/Au:N/C:P/I:P/A:P"));
        assert!(is_cvss2_vector(
            "AV:L/AC:H/Au:M/C:N/I:N/A:C/CDP:LM/TD:ND/CR:ND/IR:L/AR:H"
        ));
        assert!(!is_cvss2_vector(
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"
        ));
        assert!(!is_cvss2_vector("AV:N/AC:L/Au:N/C:P/I:P"));
    }
}
