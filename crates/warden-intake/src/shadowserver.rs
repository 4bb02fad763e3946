//! Shadowserver's CSV reports: one report per row, about the row's address.
//!
//! A CSV is Shadowserver's when its header row has a `timestamp` column and an `ip` (scans) or
//! `src_ip` (events) column, as every published layout does. The report type comes from the
//! file name (`2026-11-30-scan_dns-asn-region.csv`: the word after the date), or, when the
//! CSV has no such name (the body of a mail, an API upload), from the header's columns.
//!
//! # Report types and categories
//!
//! INT-6: a vulnerable service is told, never penalised; an infected or attacking host is a
//! violation. The taxonomy has no `vulnerable_service` category yet (see the crate docs'
//! proposal), so scans land in its nearest, `cyber_harm` (危害网络安全), notify-only.
//!
//! | report type (file-name word) | category | disposition |
//! |---|---|---|
//! | `scan_*`, `scan6_*`: vulnerable and exposed services (`scan_dns` open resolvers, `scan_ntp`, `scan_ntpmonitor`, `scan_ssdp`, `scan_snmp`, `scan_http` vulnerable HTTP, `scan_rdp`, `scan_smb`, `scan_telnet`, ...) | `cyber_harm` | notify-only |
//! | `population_*`, `device_id*`, `blocklist*`: informational | `cyber_harm` | notify-only |
//! | containing `sinkhole`, `drone`, `compromised`, `sandbox` or `malware` (`event4_sinkhole`, `event6_sinkhole_http`, `botnet_drone`, `compromised_website`, `sandbox_url`): an infected bot or a compromised site (as X-ARF's `infrastructure/*`) | `malware` | violation |
//! | containing `brute_force` (`event4_honeypot_brute_force`) | `hacking` | violation |
//! | containing `darknet`, ending in `_scan`, or `scanners` (`event4_honeypot_darknet`, `event4_honeypot_http_scan`) | `scanning` | violation |
//! | containing `spam` (`spam_url`) | `spam_mail` | violation |
//! | containing `phish` (`phish_url`) | `fraud_phishing` | violation |
//! | any other | `cyber_harm` | notify-only, with a warning: a type we do not know never penalises |
//!
//! Without a file name, the header tells: an `infection` column is an event report
//! (`event4_sinkhole`, or `botnet_drone` with `ip` rather than `src_ip`); `min_amplification`
//! and `dns_version` are `scan_dns`; `stratum` or `refid` `scan_ntp`; `search_target` or
//! `unique_service_name` `scan_ssdp`; `sysdesc` `scan_snmp`; `http_code` `scan_http`; anything
//! else is an unknown type (notify-only).
//!
//! # Targets
//!
//! `url` in URL reports (a type with `url` in its name, and `compromised_website`; a drone's
//! `url` is what it asked its C2 for), then `ip` (`src_ip` for events: the infected host;
//! `dst_ip` is the sinkhole), then `hostname` (`src_hostname`), and for `compromised_website`
//! its `http_host` (for events, `http_host` is the sinkholed domain and not a target). The
//! `timestamp` (`2026-11-30 00:00:05`, UTC) is when it was seen.
//!
//! # Strict CSV
//!
//! We read RFC 4180 ourselves rather than through the `csv` crate, which is lenient by design
//! (it reads `ab"c` and `"ab"c` as data, and a field of any length): a row with a wrong field
//! count, a quote where none may be, or a quoted field never closed refuses the whole CSV naming
//! the row (the header is row 1) and the part; so do an address that is not one and a field
//! longer than [`Limits::max_csv_field_bytes`]. More than [`Limits::max_csv_rows`] rows are
//! refused naming the bound. A row is kept as evidence with the header row before it.

use warden_domain::resource::Target;
use warden_domain::taxonomy::Category;
use warden_domain::time::Timestamp;

use crate::error::MailError;
use crate::limits::{Limit, Limits};
use crate::report::{
    Details, Disposition, Format, ParsedReport, RawPart, Reporter, ShadowserverDetails, TypeSource,
};
use crate::{cut_text, push_target};

/// Most columns of a header row.
pub const MAX_COLUMNS: usize = 512;

/// What a CSV turned out to be.
#[derive(Debug)]
pub enum Csv {
    /// A Shadowserver report: one report per row (none for a header-only CSV).
    Reports(Vec<ParsedReport>),
    /// A CSV (or text) that is not a Shadowserver report.
    NotShadowserver,
}

/// The category and disposition of a report type (the table in the module docs), and whether
/// the type is known.
pub fn category_of(report_type: &str) -> (Category, Disposition, bool) {
    let t = report_type.to_ascii_lowercase();
    let has = |w: &str| t.contains(w);
    let informational = ["scan_", "scan6_", "population", "device_id", "blocklist"];
    if informational.iter().any(|p| t.starts_with(p)) {
        (Category::CyberHarm, Disposition::NotifyOnly, true)
    } else if ["sinkhole", "drone", "compromised", "sandbox", "malware"]
        .iter()
        .any(|w| has(w))
    {
        (Category::Malware, Disposition::Violation, true)
    } else if has("brute_force") {
        (Category::Hacking, Disposition::Violation, true)
    } else if has("darknet") || t.ends_with("_scan") || t == "scanners" {
        (Category::Scanning, Disposition::Violation, true)
    } else if has("spam") {
        (Category::SpamMail, Disposition::Violation, true)
    } else if has("phish") {
        (Category::FraudPhishing, Disposition::Violation, true)
    } else {
        (Category::CyberHarm, Disposition::NotifyOnly, false)
    }
}

/// The report type in a Shadowserver file name: `scan_dns` of
/// `2026-11-30-scan_dns-asn-region.csv`; `None` for a name not of that shape.
pub fn type_from_file_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let b = base.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r)
            .is_some_and(|s| !s.is_empty() && s.iter().all(u8::is_ascii_digit))
    };
    let dash = |i: usize| b.get(i) == Some(&b'-');
    if !(digits(0..4) && dash(4) && digits(5..7) && dash(7) && digits(8..10) && dash(10)) {
        return None;
    }
    let rest = base.get(11..)?;
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let after = rest.get(word.len()..).unwrap_or_default();
    let ends = after.is_empty() || after.starts_with('-') || after.starts_with('.');
    (!word.is_empty() && ends && word.len() <= 64).then(|| word.to_ascii_lowercase())
}

/// The report type a header row points at (the module docs' list).
fn type_from_header(cols: &[String]) -> &'static str {
    let has = |c: &str| cols.iter().any(|x| x == c);
    if has("infection") {
        if has("src_ip") {
            "event4_sinkhole"
        } else {
            "botnet_drone"
        }
    } else if has("min_amplification") && has("dns_version") {
        "scan_dns"
    } else if has("stratum") || has("refid") {
        "scan_ntp"
    } else if has("search_target") || has("unique_service_name") {
        "scan_ssdp"
    } else if has("sysdesc") {
        "scan_snmp"
    } else if has("http_code") {
        "scan_http"
    } else {
        "unknown"
    }
}

/// Whether the first line of `bytes` looks like a Shadowserver header row (cheap, for
/// deciding whether a text part is worth reading as CSV).
pub fn looks_like(bytes: &[u8]) -> bool {
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let end = b
        .iter()
        .take(8 * 1024)
        .position(|c| *c == b'\n')
        .unwrap_or(b.len().min(8 * 1024));
    let line = String::from_utf8_lossy(b.get(..end).unwrap_or_default()).to_ascii_lowercase();
    let cols: Vec<&str> = line
        .trim_end_matches('\r')
        .split(',')
        .map(|c| c.trim().trim_matches('"'))
        .collect();
    cols.first() == Some(&"timestamp") && cols.iter().any(|c| *c == "ip" || *c == "src_ip")
}

/// Why a CSV record is broken.
enum Fault {
    Quote(usize, &'static str),
    FieldTooLarge(usize, usize),
    TooManyFields(usize),
}

/// A strict RFC 4180 reader over bytes (CRLF, LF or CR line ends).
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    max_field: usize,
}

/// One record: where its bytes are and its fields.
struct Record {
    start: usize,
    end: usize,
    fields: Vec<String>,
}

impl Reader<'_> {
    fn eol(&self, i: usize) -> Option<usize> {
        match self.b.get(i) {
            Some(b'\n') => Some(1),
            Some(b'\r') if self.b.get(i + 1) == Some(&b'\n') => Some(2),
            Some(b'\r') => Some(1),
            _ => None,
        }
    }

    /// The next record, `max_fields` fields at most; `None` at the end.
    fn next(&mut self, max_fields: usize) -> Result<Option<Record>, Fault> {
        if self.pos >= self.b.len() {
            return Ok(None);
        }
        let start = self.pos;
        let mut fields = Vec::new();
        loop {
            let n = fields.len() + 1;
            if n > max_fields {
                return Err(Fault::TooManyFields(n));
            }
            let mut value: Vec<u8> = Vec::new();
            if self.b.get(self.pos) == Some(&b'"') {
                self.pos += 1;
                loop {
                    let rest = self.b.get(self.pos..).unwrap_or_default();
                    let Some(q) = rest.iter().position(|c| *c == b'"') else {
                        return Err(Fault::Quote(
                            n,
                            "a quoted field is never closed (truncated?)",
                        ));
                    };
                    value.extend_from_slice(rest.get(..q).unwrap_or_default());
                    self.pos += q + 1;
                    if value.len() > self.max_field {
                        return Err(Fault::FieldTooLarge(n, value.len()));
                    }
                    if self.b.get(self.pos) == Some(&b'"') {
                        value.push(b'"');
                        self.pos += 1;
                        continue;
                    }
                    break;
                }
                let at_end = self.pos >= self.b.len()
                    || self.b.get(self.pos) == Some(&b',')
                    || self.eol(self.pos).is_some();
                if !at_end {
                    return Err(Fault::Quote(n, "text after a field's closing quote"));
                }
            } else {
                let from = self.pos;
                while self.pos < self.b.len()
                    && self.b.get(self.pos) != Some(&b',')
                    && self.eol(self.pos).is_none()
                {
                    self.pos += 1;
                }
                let raw = self.b.get(from..self.pos).unwrap_or_default();
                if raw.contains(&b'"') {
                    return Err(Fault::Quote(n, "a quote inside a field that is not quoted"));
                }
                if raw.len() > self.max_field {
                    return Err(Fault::FieldTooLarge(n, raw.len()));
                }
                value.extend_from_slice(raw);
            }
            fields.push(String::from_utf8_lossy(&value).into_owned());
            if self.b.get(self.pos) == Some(&b',') {
                self.pos += 1;
                continue;
            }
            if let Some(k) = self.eol(self.pos) {
                self.pos += k;
            }
            return Ok(Some(Record {
                start,
                end: self.pos,
                fields,
            }));
        }
    }
}

struct Columns {
    ip: usize,
    hostname: Option<usize>,
    url: Option<usize>,
    http_host: Option<usize>,
    timestamp: usize,
    tag: Option<usize>,
    protocol: Option<usize>,
    port: Option<usize>,
    asn: Option<usize>,
    geo: Option<usize>,
    infection: Option<usize>,
}

/// Reads a CSV found at `at` (`part 2 (text/csv)`, `body`), whose part is named `part` in the
/// evidence, with the attachment's file name if it has one. `rows_left` is what is left of
/// [`Limits::max_csv_rows`] for the message.
#[allow(clippy::too_many_arguments)]
pub fn parse(
    bytes: &[u8],
    at: &str,
    part: &str,
    file_name: Option<&str>,
    reporter: &Reporter,
    limits: &Limits,
    rows_left: &mut usize,
    warnings: &mut Vec<String>,
) -> Result<Csv, MailError> {
    let err = |code, field: String, message: String| {
        MailError::report(Format::Shadowserver, at, code, field, message)
    };
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let named = file_name.and_then(type_from_file_name);
    let mut r = Reader {
        b: body,
        pos: 0,
        max_field: limits.max_csv_field_bytes,
    };
    let fault = |row: usize, f: Fault| match f {
        Fault::Quote(field, why) => err(
            "invalid_csv",
            format!("row {row}"),
            format!("row {row}, field {field}: {why}"),
        ),
        Fault::FieldTooLarge(field, len) => MailError::Limit {
            limit: Limit::CsvFieldBytes,
            at: format!("{at} row {row}, field {field}"),
            what: "the field, in bytes,",
            actual: len,
            max: limits.max_csv_field_bytes,
        },
        Fault::TooManyFields(n) => err(
            "invalid_csv",
            format!("row {row}"),
            format!("row {row} has more than {} fields", n.saturating_sub(1)),
        ),
    };
    let header = match r.next(MAX_COLUMNS) {
        Ok(Some(h)) => h,
        Ok(None) => return Ok(Csv::NotShadowserver),
        Err(f) => {
            return if named.is_some() || looks_like(body) {
                Err(fault(1, f))
            } else {
                Ok(Csv::NotShadowserver)
            };
        }
    };
    let cols: Vec<String> = header
        .fields
        .iter()
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    let find = |name: &str| cols.iter().position(|c| c == name);
    let ip = find("ip").or_else(|| find("src_ip"));
    let timestamp = find("timestamp");
    let (Some(ip), Some(timestamp)) = (ip, timestamp) else {
        if named.is_some() {
            let missing = if timestamp.is_none() {
                "timestamp"
            } else {
                "ip"
            };
            return Err(err(
                "missing_field",
                missing.into(),
                format!(
                    "the header row (row 1) has no `{missing}` column{}: not a Shadowserver layout",
                    if missing == "ip" {
                        " (nor `src_ip`)"
                    } else {
                        ""
                    }
                ),
            ));
        }
        return Ok(Csv::NotShadowserver);
    };
    let events = cols.get(ip).is_some_and(|c| c == "src_ip");
    let pick = |plain: &str, event: &str| {
        if events {
            find(event).or_else(|| find(plain))
        } else {
            find(plain)
        }
    };
    let (report_type, type_from) = match named {
        Some(t) => (t, TypeSource::FileName),
        None => (type_from_header(&cols).to_string(), TypeSource::Header),
    };
    let (category, disposition, known) = category_of(&report_type);
    if !known {
        warnings.push(format!(
            "{at}: Shadowserver report type `{report_type}` is not one Warden knows; read as \
             cyber_harm, notify-only"
        ));
    }
    let c = Columns {
        ip,
        hostname: pick("hostname", "src_hostname"),
        // `url` is the reported thing only in URL reports; a drone's `url` is what it asked
        // its C2 for.
        url: (report_type.contains("url") || report_type == "compromised_website")
            .then(|| find("url"))
            .flatten(),
        http_host: (report_type == "compromised_website")
            .then(|| find("http_host"))
            .flatten(),
        timestamp,
        tag: find("tag"),
        protocol: find("protocol"),
        port: pick("port", "src_port"),
        asn: pick("asn", "src_asn"),
        geo: pick("geo", "src_geo"),
        infection: find("infection"),
    };
    let header_bytes = body.get(header.start..header.end).unwrap_or_default();
    let document_sha256 = warden_domain::sha256_hex(bytes);
    let reporter = if reporter.org.is_none() {
        Reporter {
            org: Some("The Shadowserver Foundation".into()),
            ..reporter.clone()
        }
    } else {
        reporter.clone()
    };
    let mut reports = Vec::new();
    let mut row = 1usize;
    let mut skipped_hosts = 0usize;
    loop {
        row += 1;
        let rec = match r.next(cols.len()) {
            Ok(Some(rec)) => rec,
            Ok(None) => break,
            Err(Fault::TooManyFields(n)) => {
                return Err(err(
                    "invalid_csv",
                    format!("row {row}"),
                    format!(
                        "row {row} has more fields than the header's {} (at least {n})",
                        cols.len()
                    ),
                ));
            }
            Err(f) => return Err(fault(row, f)),
        };
        if rec.fields.len() == 1 && rec.fields.first().is_some_and(|f| f.trim().is_empty()) {
            continue;
        }
        if rec.fields.len() != cols.len() {
            return Err(err(
                "invalid_csv",
                format!("row {row}"),
                format!(
                    "row {row} has {} fields; the header has {}",
                    rec.fields.len(),
                    cols.len()
                ),
            ));
        }
        if *rows_left == 0 {
            return Err(MailError::Limit {
                limit: Limit::CsvRows,
                at: at.to_string(),
                what: "the number of CSV data rows",
                actual: limits.max_csv_rows + 1,
                max: limits.max_csv_rows,
            });
        }
        *rows_left -= 1;
        let get = |i: Option<usize>| {
            i.and_then(|i| rec.fields.get(i))
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
        };
        let field_err = |name: &str, why: String| {
            err(
                "invalid_field",
                format!("row {row}.{name}"),
                format!("row {row}, `{name}`: {why}"),
            )
        };
        let ip_name = cols.get(c.ip).map(String::as_str).unwrap_or("ip");
        let ip_text = get(Some(c.ip)).ok_or_else(|| field_err(ip_name, "is empty".into()))?;
        let ip_addr = ip_text
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.to_canonical())
            .map_err(|_| field_err(ip_name, format!("`{}` is not an IP address", cut(ip_text))))?;
        let ts = get(Some(c.timestamp)).ok_or_else(|| field_err("timestamp", "is empty".into()))?;
        let occurred = parse_time(ts).ok_or_else(|| {
            field_err(
                "timestamp",
                format!(
                    "`{}` is not a time (2026-11-30 00:00:05, or RFC 3339)",
                    cut(ts)
                ),
            )
        })?;
        let at_row = format!("{at} row {row}");
        let mut targets = Vec::new();
        if let Some(u) = get(c.url) {
            match Target::parse(u) {
                Ok(t @ Target::Url(_)) => push_target(&mut targets, t, limits, &at_row, warnings),
                _ => skipped_hosts += 1,
            }
        }
        push_target(&mut targets, Target::Ip(ip_addr), limits, &at_row, warnings);
        for host in [get(c.hostname), get(c.http_host)].into_iter().flatten() {
            match Target::parse(host) {
                Ok(t @ Target::Domain(_)) => {
                    push_target(&mut targets, t, limits, &at_row, warnings);
                }
                _ => skipped_hosts += 1,
            }
        }
        let tag = get(c.tag).map(cut);
        let protocol = get(c.protocol).map(cut);
        let port = get(c.port).and_then(|p| p.parse::<u16>().ok());
        let infection = get(c.infection).map(cut);
        let mut evidence = format!("Shadowserver {report_type} row {row}: {ip_addr}");
        if let Some(p) = port {
            evidence.push_str(&format!(" port {p}"));
        }
        if let Some(p) = &protocol {
            evidence.push_str(&format!("/{p}"));
        }
        if let Some(t) = &tag {
            evidence.push_str(&format!(", tag {t}"));
        }
        if let Some(i) = &infection {
            evidence.push_str(&format!(", infection {i}"));
        }
        let mut raw = Vec::with_capacity(header_bytes.len() + rec.end - rec.start);
        raw.extend_from_slice(header_bytes);
        raw.extend_from_slice(body.get(rec.start..rec.end).unwrap_or_default());
        reports.push(ParsedReport {
            format: Format::Shadowserver,
            reporter: reporter.clone(),
            targets,
            category,
            disposition,
            claimed_type: report_type.clone(),
            occurred_at: Some(occurred),
            reported_at: None,
            evidence_text: cut_text(evidence, warden_domain::report::MAX_EVIDENCE_BYTES),
            raw: RawPart::new(format!("{part} row {row}"), "text/csv".into(), &raw),
            original: None,
            details: Details::Shadowserver(ShadowserverDetails {
                report_type: report_type.clone(),
                type_from,
                row,
                document_sha256: document_sha256.clone(),
                tag,
                protocol,
                port,
                asn: get(c.asn).and_then(|a| a.trim_start_matches("AS").parse().ok()),
                geo: get(c.geo).map(cut),
                infection,
            }),
        });
    }
    if skipped_hosts > 0 {
        warnings.push(format!(
            "{at}: {skipped_hosts} hostname or url field(s) that are not a domain or an http(s) \
             URL; not targets"
        ));
    }
    Ok(Csv::Reports(reports))
}

/// `2026-11-30 00:00:05` (UTC, Shadowserver's form), `2026-11-30T00:00:05Z`, or RFC 3339 with
/// an offset.
pub fn parse_time(text: &str) -> Option<Timestamp> {
    let t = text.trim();
    Timestamp::parse_rfc3339(t)
        .or_else(|_| Timestamp::parse_rfc3339(&format!("{t}Z")))
        .ok()
}

fn cut(v: &str) -> String {
    v.trim().chars().take(80).collect()
}
