//! Intake parsers against real senders' mail (sisimai's feedback-loop set), the X-ARF spec's
//! samples and schemas (../shared/data), the hand-written corpus, and broken input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::Value;
use warden_domain::resource::Target;
use warden_domain::taxonomy::Category;
use warden_intake::{
    Details, Disposition, Format, Limit, Limits, MailError, MimeFault, ParsedMail, ParsedReport,
    SourceIpOrigin, parse_message, parse_xarf,
};

#[path = "intake/freeform.rs"]
mod freeform;
#[path = "intake/iodef.rs"]
mod iodef;
#[path = "intake/shadowserver.rs"]
mod shadowserver;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel)
}

fn read(rel: &str) -> Vec<u8> {
    let p = data(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn corpus(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("corpus")
            .join(name),
    )
    .unwrap()
}

fn parse(raw: &[u8]) -> Result<ParsedMail, MailError> {
    parse_message(raw, &Limits::default())
}

fn arf(r: &ParsedReport) -> &warden_intake::ArfDetails {
    match &r.details {
        Details::Arf(a) => a,
        other => panic!("not ARF: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// ARF: every mail of sisimai's set, read by hand
// ---------------------------------------------------------------------------------------------

/// One row: file, `Feedback-Type` (`abuse*` = inferred from a forwarded message), source IP and
/// where it came from (F = the Source-IP field, R = the original's first external Received),
/// `Reported-Domain`s, and the category.
type Row = (
    &'static str,
    &'static str,
    &'static str,
    char,
    &'static [&'static str],
    Category,
);

const SISIMAI: &[Row] = &[
    (
        "arf-01.eml",
        "abuse",
        "192.0.2.89",
        'F',
        &["example.ed.jp"],
        Category::SpamMail,
    ),
    // No Source-IP: Yahoo's "from 127.0.0.1 (EHLO mx8.example.com) (192.0.2.8)".
    (
        "arf-02.eml",
        "abuse",
        "192.0.2.8",
        'R',
        &["example.com"],
        Category::SpamMail,
    ),
    (
        "arf-11.eml",
        "abuse",
        "192.0.2.2",
        'R',
        &[],
        Category::SpamMail,
    ),
    // text/rfc822-header (sic) and the draft type opt-out.
    (
        "arf-12.eml",
        "opt-out",
        "192.0.2.89",
        'R',
        &[],
        Category::SpamMail,
    ),
    (
        "arf-14.eml",
        "abuse",
        "192.0.2.2",
        'R',
        &["amazonses.com"],
        Category::SpamMail,
    ),
    // No closing delimiter (ReturnPath's FBL): tolerated with a warning.
    (
        "arf-15.eml",
        "abuse",
        "192.0.2.222",
        'F',
        &[],
        Category::SpamMail,
    ),
    (
        "arf-16.eml",
        "abuse",
        "192.0.2.1",
        'F',
        &["example.com", "example.org"],
        Category::SpamMail,
    ),
    (
        "arf-17.eml",
        "abuse",
        "192.0.2.3",
        'F',
        &[],
        Category::SpamMail,
    ),
    (
        "arf-18.eml",
        "auth-failure",
        "192.0.2.222",
        'F',
        &["example.net"],
        Category::SpamMail,
    ),
    (
        "arf-19.eml",
        "auth-failure",
        "203.0.113.2",
        'F',
        &["example.net"],
        Category::SpamMail,
    ),
    (
        "arf-20.eml",
        "auth-failure",
        "203.0.113.2",
        'F',
        &["example.net"],
        Category::SpamMail,
    ),
    (
        "arf-21.eml",
        "abuse",
        "198.51.100.224",
        'F',
        &[],
        Category::SpamMail,
    ),
    // Hotmail/JMRP: multipart/mixed with only the complained-of message attached.
    (
        "arf-22.eml",
        "abuse*",
        "203.0.113.245",
        'R',
        &[],
        Category::SpamMail,
    ),
    (
        "arf-23.eml",
        "abuse*",
        "203.0.113.245",
        'R',
        &[],
        Category::SpamMail,
    ),
    (
        "arf-24.eml",
        "abuse*",
        "203.0.113.245",
        'R',
        &[],
        Category::SpamMail,
    ),
    // `Source-Ip` in another case; a private address as sent.
    (
        "arf-25.eml",
        "abuse",
        "10.0.0.1",
        'F',
        &["example.com"],
        Category::SpamMail,
    ),
];

/// INT-2: every feedback-loop mail of the set parses, with the feedback type, source IP and
/// reported domains a reader sees in the file; arf-26 (Apple Mail's unsubscribe notice) is no
/// report at all.
#[test]
fn every_sisimai_feedback_mail_is_read_as_its_table_row_says() {
    let mut files: Vec<String> = std::fs::read_dir(data("arf/sisimai"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut expected: Vec<&str> = SISIMAI.iter().map(|r| r.0).collect();
    expected.push("arf-26.eml");
    assert_eq!(files, expected, "the table lists every file of the set");

    let mut mismatches = Vec::new();
    for &(file, ftype, ip, origin, domains, category) in SISIMAI {
        let mail =
            parse(&read(&format!("arf/sisimai/{file}"))).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(mail.reports.len(), 1, "{file}");
        let r = &mail.reports[0];
        let a = arf(r);
        let got_type = if a.inferred {
            format!("{}*", a.feedback_type.as_str())
        } else {
            a.feedback_type.as_str().to_string()
        };
        let (got_ip, got_origin) = a.source_ip.expect(file);
        let got_origin = match got_origin {
            SourceIpOrigin::Field => 'F',
            SourceIpOrigin::Received => 'R',
        };
        let got = (
            got_type.as_str(),
            got_ip.to_string(),
            got_origin,
            a.reported_domains.clone(),
            r.category,
        );
        let want = (
            ftype,
            ip.to_string(),
            origin,
            domains.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            category,
        );
        if got != want {
            mismatches.push(format!("{file}: got {got:?}, want {want:?}"));
        }
        assert_eq!(r.format, Format::Arf);
        assert!(r.targets.contains(&Target::Ip(got_ip)), "{file}");
        assert_eq!(r.raw.sha256, warden_domain::sha256_hex(&r.raw.bytes));
        assert!(r.original.is_some(), "{file} keeps the reported message");
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));

    let no = parse(&read("arf/sisimai/arf-26.eml")).unwrap_err();
    assert_eq!(no.code(), "no_report", "{no}");
}

#[test]
fn sisimai_details_dates_dispositions_and_warnings() {
    let m = parse(&read("arf/sisimai/arf-16.eml")).unwrap();
    let r = &m.reports[0];
    let a = arf(r);
    assert_eq!(a.original_mail_from.as_deref(), Some("neko@example.jp"));
    assert_eq!(a.original_rcpt_to.len(), 7);
    assert_eq!(
        r.occurred_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2015-04-29T23:34:45.000Z")
    );
    assert_eq!(
        m.date.map(|t| t.to_rfc3339()).as_deref(),
        Some("2015-04-29T14:34:45.000Z")
    );
    assert_eq!(
        r.reporter.contact.as_deref(),
        Some("feedbackloop@feedback.example.com")
    );
    assert_eq!(r.reporter.user_agent.as_deref(), Some("ReturnPathFBL/1.0"));
    assert!(r.evidence_text.contains("email abuse report"));
    assert_eq!(
        r.targets,
        vec![
            Target::Ip("192.0.2.1".parse().unwrap()),
            Target::Domain("example.com".into()),
            Target::Domain("example.org".into()),
        ]
    );
    assert!(
        m.warnings
            .iter()
            .any(|w| w.contains("no closing delimiter")),
        "{:?}",
        m.warnings
    );
    // auth-failure is informational: notify-only.
    let m = parse(&read("arf/sisimai/arf-18.eml")).unwrap();
    assert_eq!(m.reports[0].disposition, Disposition::NotifyOnly);
    assert!(arf(&m.reports[0]).authentication_results.is_some());
    let m = parse(&read("arf/sisimai/arf-01.eml")).unwrap();
    assert_eq!(m.reports[0].disposition, Disposition::Violation);
    assert_eq!(
        m.message_id.as_deref(),
        Some("000000000000000.000000000000@x34.mx.example.net")
    );
}

// ---------------------------------------------------------------------------------------------
// The hand-written corpus: encodings, nesting, IPv6, forwarded complaints
// ---------------------------------------------------------------------------------------------

#[test]
fn encoded_arf_decodes_words_quoted_printable_base64_and_uris() {
    let m = parse(&corpus("arf-encoded.eml")).unwrap();
    assert_eq!(
        m.subject.as_deref(),
        Some("Complaint about 192.0.2.77 – spam")
    );
    assert_eq!(m.from.as_deref(), Some("Abuse Désk <fbl@reporter.example>"));
    let r = &m.reports[0];
    assert_eq!(r.reporter.name.as_deref(), Some("Abuse Désk"));
    assert_eq!(r.reporter.domain.as_deref(), Some("reporter.example"));
    assert!(
        r.evidence_text
            .contains("Café = bad, a long line that is softly broken."),
        "{}",
        r.evidence_text
    );
    let a = arf(r);
    // Base64 text/rfc822-headers; the trace's first external hop, not the 10/8 submission.
    assert_eq!(
        a.source_ip,
        Some(("203.0.113.25".parse().unwrap(), SourceIpOrigin::Received))
    );
    let texts: Vec<String> = r.targets.iter().map(Target::canonical).collect();
    assert_eq!(texts[1..], ["203.0.113.25", "customer.example"]);
    assert!(
        texts[0].starts_with("http://prize.customer.example/claim"),
        "{texts:?}"
    );
    assert!(
        m.warnings.iter().any(|w| w.contains("mailto:")),
        "{:?}",
        m.warnings
    );
    let original = r.original.as_ref().unwrap();
    assert_eq!(original.content_type, "text/rfc822-headers");
    assert_eq!(original.part, "part 3");
    assert_eq!(r.raw.part, "part 2");
}

#[test]
fn nested_fraud_report_with_an_ipv6_trace() {
    let m = parse(&corpus("nested-fraud.eml")).unwrap();
    assert_eq!(m.parts, 8);
    let r = &m.reports[0];
    assert_eq!(r.category, Category::FraudPhishing);
    assert_eq!(r.raw.part, "part 2.2");
    assert_eq!(r.evidence_text.trim(), "Fraud.");
    assert_eq!(r.targets, vec![Target::Ip("2001:db8::25".parse().unwrap())]);
}

#[test]
fn forwarded_complaint_is_an_inferred_abuse_report_and_a_bounce_is_none() {
    let m = parse(&corpus("forwarded.eml")).unwrap();
    let a = arf(&m.reports[0]);
    assert!(a.inferred);
    assert_eq!(
        a.source_ip.map(|s| s.0),
        Some("192.0.2.99".parse().unwrap())
    );
    let bounce = b"From: MAILER-DAEMON@mx.example\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nReceived: from x ([192.0.2.5]) by y\r\nSubject: hi\r\n\r\nhi\r\n--b--\r\n";
    let e = parse(bounce).unwrap_err();
    assert_eq!(e.code(), "no_report");
    assert!(e.to_string().contains("bounce"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// X-ARF v4: the spec's samples and schemas
// ---------------------------------------------------------------------------------------------

/// (sample file, category/type, Warden category, disposition)
const V4_SAMPLES: &[(&str, &str, Category, Disposition)] = &[
    (
        "connection-ddos.json",
        "connection/ddos",
        Category::DdosAttack,
        Disposition::Violation,
    ),
    (
        "connection-infected-host.json",
        "connection/infected_host",
        Category::Malware,
        Disposition::Violation,
    ),
    (
        "connection-login-attack.json",
        "connection/login_attack",
        Category::Hacking,
        Disposition::Violation,
    ),
    (
        "connection-port-scan.json",
        "connection/port_scan",
        Category::Scanning,
        Disposition::Violation,
    ),
    (
        "connection-reconnaissance.json",
        "connection/reconnaissance",
        Category::Scanning,
        Disposition::Violation,
    ),
    (
        "connection-scraping.json",
        "connection/scraping",
        Category::MaliciousCrawler,
        Disposition::Violation,
    ),
    (
        "connection-sql-injection.json",
        "connection/sql_injection",
        Category::Hacking,
        Disposition::Violation,
    ),
    (
        "connection-vulnerability-scan.json",
        "connection/vulnerability_scan",
        Category::Scanning,
        Disposition::Violation,
    ),
    (
        "content-brand-infringement.json",
        "content/brand_infringement",
        Category::RightsInfringement,
        Disposition::Violation,
    ),
    (
        "content-csam.json",
        "content/csam",
        Category::PornVulgar,
        Disposition::Violation,
    ),
    (
        "content-csem.json",
        "content/csem",
        Category::PornVulgar,
        Disposition::Violation,
    ),
    (
        "content-exposed-data.json",
        "content/exposed_data",
        Category::Privacy,
        Disposition::Violation,
    ),
    (
        "content-fraud.json",
        "content/fraud",
        Category::Fraud,
        Disposition::Violation,
    ),
    (
        "content-malware.json",
        "content/malware",
        Category::Malware,
        Disposition::Violation,
    ),
    (
        "content-phishing.json",
        "content/phishing",
        Category::FraudPhishing,
        Disposition::Violation,
    ),
    (
        "content-remote-compromise.json",
        "content/remote_compromise",
        Category::Hacking,
        Disposition::Violation,
    ),
    (
        "content-suspicious-registration.json",
        "content/suspicious_registration",
        Category::FraudPhishing,
        Disposition::NotifyOnly,
    ),
    (
        "copyright-copyright.json",
        "copyright/copyright",
        Category::Infringement,
        Disposition::Violation,
    ),
    (
        "copyright-cyberlocker.json",
        "copyright/cyberlocker",
        Category::Infringement,
        Disposition::Violation,
    ),
    (
        "copyright-link-site.json",
        "copyright/link_site",
        Category::Infringement,
        Disposition::Violation,
    ),
    (
        "copyright-p2p.json",
        "copyright/p2p",
        Category::Infringement,
        Disposition::Violation,
    ),
    (
        "copyright-ugc-platform.json",
        "copyright/ugc_platform",
        Category::Infringement,
        Disposition::Violation,
    ),
    (
        "copyright-usenet.json",
        "copyright/usenet",
        Category::Infringement,
        Disposition::Violation,
    ),
    (
        "infrastructure-botnet.json",
        "infrastructure/botnet",
        Category::Malware,
        Disposition::Violation,
    ),
    (
        "infrastructure-compromised-server.json",
        "infrastructure/compromised_server",
        Category::Malware,
        Disposition::Violation,
    ),
    (
        "messaging-bulk-messaging.json",
        "messaging/bulk_messaging",
        Category::SpamMail,
        Disposition::Violation,
    ),
    (
        "messaging-spam.json",
        "messaging/spam",
        Category::SpamMail,
        Disposition::Violation,
    ),
    // threat_type command_and_control.
    (
        "reputation-blocklist.json",
        "reputation/blocklist",
        Category::Malware,
        Disposition::NotifyOnly,
    ),
    (
        "reputation-threat-intelligence.json",
        "reputation/threat_intelligence",
        Category::Malware,
        Disposition::NotifyOnly,
    ),
    (
        "vulnerability-cve.json",
        "vulnerability/cve",
        Category::CyberHarm,
        Disposition::NotifyOnly,
    ),
    (
        "vulnerability-misconfiguration.json",
        "vulnerability/misconfiguration",
        Category::CyberHarm,
        Disposition::NotifyOnly,
    ),
    (
        "vulnerability-open-service.json",
        "vulnerability/open_service",
        Category::CyberHarm,
        Disposition::NotifyOnly,
    ),
];

fn v4_sample_names() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(data("xarf/xarf_spec_v4/samples"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    files
}

/// A JSON document as the attachment of an e-mail, Base64-encoded.
fn in_mail(json: &[u8]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(json);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "From: Reports <reports@reporter.example>\r\nSubject: X-ARF\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"xb\"\r\n\r\n--xb\r\nContent-Type: text/plain\r\n\r\nReport attached.\r\n--xb\r\nContent-Type: application/json\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--xb--\r\n",
        lines.join("\r\n")
    )
    .into_bytes()
}

/// INT-2: every v4 sample of the spec is accepted, as a document and as a mail attachment,
/// and mapped as the table says.
#[test]
fn every_xarf_v4_sample_is_accepted_and_mapped() {
    let listed: Vec<String> = V4_SAMPLES.iter().map(|r| r.0.to_string()).collect();
    assert_eq!(v4_sample_names(), listed, "the table lists every sample");
    for &(file, ty, category, disposition) in V4_SAMPLES {
        let bytes = read(&format!("xarf/xarf_spec_v4/samples/{file}"));
        let r = parse_xarf(&bytes, &Limits::default()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(r.format, Format::XarfV4, "{file}");
        assert_eq!(
            (r.claimed_type.as_str(), r.category, r.disposition),
            (ty, category, disposition),
            "{file}"
        );
        assert!(!r.targets.is_empty(), "{file}");
        assert!(
            r.reporter.org.is_some() && r.reporter.contact.is_some(),
            "{file}"
        );
        let mail = parse(&in_mail(&bytes)).unwrap_or_else(|e| panic!("{file} in mail: {e}"));
        assert_eq!(mail.reports.len(), 1);
        assert_eq!(mail.reports[0].category, category, "{file} in mail");
        assert_eq!(mail.reports[0].raw.part, "part 2");
    }
    // Content types target the URL first.
    let r = parse_xarf(
        &read("xarf/xarf_spec_v4/samples/content-phishing.json"),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(
        r.targets.iter().map(Target::canonical).collect::<Vec<_>>(),
        [
            "http://secure-banking-login.example.com/auth",
            "203.0.113.45"
        ]
    );
}

/// The required fields of a v4 type, read from the spec's schemas (the core's, `content-base`'s
/// for content types, the type's own).
fn schema_required(category: &str, ty: &str) -> Vec<String> {
    let load = |rel: &str| -> Value {
        serde_json::from_slice(&read(&format!("xarf/xarf_spec_schemas/v4/{rel}"))).unwrap()
    };
    let req = |v: &Value| -> Vec<String> {
        v["required"]
            .as_array()
            .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    let mut out = req(&load("xarf-core.json"));
    let file = format!("types/{category}-{ty}.json");
    let alt = format!("types/{category}-{}.json", ty.replace('_', "-"));
    let path = if data(&format!("xarf/xarf_spec_schemas/v4/{file}")).exists() {
        file
    } else {
        alt
    };
    let schema = load(&path);
    if category == "content" {
        out.extend(req(&load("types/content-base.json")["allOf"][1]));
    }
    out.extend(req(&schema["allOf"][1]));
    out
}

/// INT-2: a v4 report missing any field its schemas require is refused, naming the field.
#[test]
fn a_v4_report_missing_a_required_field_is_refused_naming_it() {
    let mut checked = 0;
    for &(file, ty, ..) in V4_SAMPLES {
        let doc: Value =
            serde_json::from_slice(&read(&format!("xarf/xarf_spec_v4/samples/{file}"))).unwrap();
        let (category, ty) = ty.split_once('/').unwrap();
        for field in schema_required(category, ty) {
            let mut d = doc.clone();
            d.as_object_mut().unwrap().remove(&field);
            let e = parse_xarf(&serde_json::to_vec(&d).unwrap(), &Limits::default())
                .expect_err(&format!("{file} without {field}"));
            assert_eq!(
                e.field(),
                Some(field.as_str()),
                "{file} without {field}: {e}"
            );
            assert_eq!(e.code(), "missing_field", "{file} without {field}: {e}");
            assert!(e.to_string().contains(&field), "{e}");
            checked += 1;
        }
    }
    assert!(checked > 32 * 8, "{checked}");
    // The schemas' conditions.
    let conditional = [
        ("connection-ddos.json", "source_port", "source_port"),
        ("messaging-spam.json", "smtp_from", "smtp_from"),
        ("copyright-p2p.json", "swarm_info", "swarm_info.info_hash"),
        (
            "copyright-usenet.json",
            "message_info",
            "message_info.message_id",
        ),
    ];
    for (file, remove, field) in conditional {
        let mut d: Value =
            serde_json::from_slice(&read(&format!("xarf/xarf_spec_v4/samples/{file}"))).unwrap();
        d.as_object_mut().unwrap().remove(remove);
        let e = parse_xarf(&serde_json::to_vec(&d).unwrap(), &Limits::default()).unwrap_err();
        assert_eq!(e.field(), Some(field), "{file}: {e}");
    }
}

fn phishing_with(f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Vec<u8> {
    let mut d: Value =
        serde_json::from_slice(&read("xarf/xarf_spec_v4/samples/content-phishing.json")).unwrap();
    f(d.as_object_mut().unwrap());
    serde_json::to_vec(&d).unwrap()
}

#[test]
fn v4_unknown_types_versions_and_garbage_are_refused_naming_the_field() {
    let l = Limits::default();
    let e = parse_xarf(
        &phishing_with(|d| {
            d.insert("type".into(), "smishing".into());
        }),
        &l,
    )
    .unwrap_err();
    assert_eq!((e.code(), e.field()), ("unknown_type", Some("type")));
    assert!(
        e.to_string()
            .contains("unknown type `smishing` of category `content`"),
        "{e}"
    );
    let e = parse_xarf(
        &phishing_with(|d| {
            d.insert("category".into(), "weather".into());
        }),
        &l,
    )
    .unwrap_err();
    assert_eq!((e.code(), e.field()), ("unknown_type", Some("category")));
    let e = parse_xarf(
        &phishing_with(|d| {
            d.insert("xarf_version".into(), "5.0.0".into());
        }),
        &l,
    )
    .unwrap_err();
    assert_eq!(
        (e.code(), e.field()),
        ("unsupported_version", Some("xarf_version"))
    );
    let e = parse_xarf(
        &phishing_with(|d| {
            d.insert("report_id".into(), "nope".into());
        }),
        &l,
    )
    .unwrap_err();
    assert_eq!(e.field(), Some("report_id"));
    let e = parse_xarf(
        &phishing_with(|d| {
            d.insert("timestamp".into(), "yesterday".into());
        }),
        &l,
    )
    .unwrap_err();
    assert_eq!(e.field(), Some("timestamp"));
    let e = parse_xarf(
        &phishing_with(|d| {
            d["reporter"].as_object_mut().unwrap().remove("contact");
        }),
        &l,
    )
    .unwrap_err();
    assert_eq!(e.field(), Some("reporter.contact"));
    let e = parse_xarf(
        &phishing_with(|d| {
            d.insert("confidence".into(), 7.into());
        }),
        &l,
    )
    .unwrap_err();
    assert_eq!(e.field(), Some("confidence"));
    let e = parse_xarf(
        &phishing_with(|d| {
            d.insert("url".into(), "irc://x".into());
            d.insert("source_identifier".into(), "not a host!".into());
        }),
        &l,
    )
    .unwrap_err();
    assert_eq!(
        (e.code(), e.field()),
        ("no_target", Some("source_identifier"))
    );
    let e = parse_xarf(b"{\"xarf_version\": \"4.0.0\", ", &l).unwrap_err();
    assert_eq!((e.code(), e.field()), ("invalid_json", Some("$")));
    assert!(e.to_string().starts_with("body: not JSON"), "{e}");
    let e = parse_xarf(b"{\"hello\": 1}", &l).unwrap_err();
    assert_eq!(e.field(), Some("xarf_version"));
}

// ---------------------------------------------------------------------------------------------
// X-ARF v3: delegated to the domain's parse_v3
// ---------------------------------------------------------------------------------------------

#[test]
fn xarf_v3_is_delegated_as_a_document_and_as_an_attachment() {
    let l = Limits::default();
    let mut n = 0;
    for e in std::fs::read_dir(data("xarf/abusix_v3/samples")).unwrap() {
        let p = e.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        let r = parse_xarf(&bytes, &l).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(r.format, Format::XarfV3);
        let direct = warden_domain::xarf::parse_v3(&bytes).unwrap();
        assert_eq!(r.category, direct.category);
        assert_eq!(r.targets, vec![Target::parse(&direct.target).unwrap()]);
        let expect = if direct.report_class == "Vulnerability" {
            Disposition::NotifyOnly
        } else {
            Disposition::Violation
        };
        assert_eq!(r.disposition, expect, "{}", p.display());
        n += 1;
    }
    assert!(n >= 20);
    for e in std::fs::read_dir(data("xarf/abusix_v3/negative")).unwrap() {
        let p = e.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        if let Ok(r) = parse_xarf(&bytes, &l) {
            // Only what parse_v3 itself accepts may pass.
            assert!(
                warden_domain::xarf::parse_v3(&bytes).is_ok(),
                "{}: {r:?}",
                p.display()
            );
        }
    }
    let e = parse_xarf(&read("xarf/abusix_v3/negative/invalid_ip.json"), &l).unwrap_err();
    assert!(e.field().is_some_and(|f| f.starts_with("Report.")), "{e}");

    let m = parse(&corpus("xarf-v3.eml")).unwrap();
    let r = &m.reports[0];
    assert_eq!(r.format, Format::XarfV3);
    assert_eq!(r.category, Category::FraudPhishing);
    assert_eq!(
        r.targets[0].canonical(),
        "https://login.customer.example/bank/"
    );
    assert_eq!(r.reporter.org.as_deref(), Some("Example Brand Watch"));
    assert_eq!(
        r.reported_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-01-04T12:05:00.000Z")
    );

    let m = parse(&corpus("xarf-v4.eml")).unwrap();
    let r = &m.reports[0];
    assert_eq!((r.format, r.category), (Format::XarfV4, Category::Hacking));
    assert_eq!(
        r.targets,
        vec![Target::Ip("198.51.100.23".parse().unwrap())]
    );
    assert_eq!(
        r.occurred_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-01-05T07:58:00.000Z")
    );
    assert!(r.evidence_text.contains("SSH password guessing"));
    assert!(String::from_utf8_lossy(&r.raw.bytes).contains("Content-Transfer-Encoding: base64"));
}

// ---------------------------------------------------------------------------------------------
// Broken input: each refusal names the part (and the limit, or the field)
// ---------------------------------------------------------------------------------------------

fn arf01() -> String {
    String::from_utf8(read("arf/sisimai/arf-01.eml")).unwrap()
}

#[test]
fn a_feedback_report_without_feedback_type_names_the_part_and_the_field() {
    let m = arf01().replace("Feedback-Type: abuse\n", "");
    let e = parse(m.as_bytes()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "part 2 (message/feedback-report): missing Feedback-Type"
    );
    assert_eq!(
        (e.code(), e.field()),
        ("missing_field", Some("Feedback-Type"))
    );
    let m = arf01().replace("Source-IP: 192.0.2.89", "Source-IP: 192.0.2.300");
    let e = parse(m.as_bytes()).unwrap_err();
    assert_eq!(e.field(), Some("Source-IP"));
    assert!(
        e.to_string()
            .starts_with("part 2 (message/feedback-report): Source-IP `192.0.2.300`"),
        "{e}"
    );
    let m = arf01().replace(
        "Feedback-Type: abuse\n",
        "Feedback-Type: abuse\nFeedback-Type: fraud\n",
    );
    assert_eq!(parse(m.as_bytes()).unwrap_err().code(), "duplicate_field");
    let m = arf01().replace(
        "Reported-Domain: example.ed.jp",
        "Reported-Domain: not a domain",
    );
    assert_eq!(
        parse(m.as_bytes()).unwrap_err().field(),
        Some("Reported-Domain")
    );
}

#[test]
fn truncated_mime_is_refused_naming_the_part() {
    let full = arf01();
    // Cut inside the second part's header fields.
    let cut = &full[..full.find("Content-Type: message/feedback-report").unwrap() + 20];
    let e = parse(cut.as_bytes()).unwrap_err();
    assert!(
        matches!(
            e,
            MailError::Mime {
                fault: MimeFault::Truncated,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().starts_with("part 2 ("), "{e}");
    // Cut after the report, before the original: a feedback report needs three parts.
    let cut = &full[..full.find("Content-Type: message/rfc822").unwrap() - 40];
    let e = parse(cut.as_bytes()).unwrap_err();
    assert_eq!(e.code(), "truncated", "{e}");
    assert!(
        e.to_string().starts_with("message (multipart/report)"),
        "{e}"
    );
    // Cut after the header: an empty multipart.
    let cut = &full[..full.find("\n\n").unwrap() + 2];
    assert_eq!(parse(cut.as_bytes()).unwrap_err().code(), "truncated");
    // Base64 cut inside a quantum.
    let m = String::from_utf8(corpus("arf-encoded.eml")).unwrap();
    let head = "Content-Type: text/rfc822-headers\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    let from = m.find(head).unwrap() + head.len();
    let to = m.rfind("\r\n--=_outer_1--").unwrap();
    let broken = format!("{}UmVjZWl2ZWQ6\r\nI{}", &m[..from], &m[to..]);
    let e = parse(broken.as_bytes()).unwrap_err();
    assert_eq!(e.code(), "truncated", "{e}");
    assert!(
        e.to_string().starts_with("part 3 (text/rfc822-headers)"),
        "{e}"
    );
}

#[test]
fn a_wrong_boundary_is_refused_naming_the_multipart() {
    let m = arf01().replace(
        "boundary=\"boundary-0000-00000-0000000-000000\"",
        "boundary=\"boundary-1111\"",
    );
    let e = parse(m.as_bytes()).unwrap_err();
    assert_eq!(e.code(), "wrong_boundary");
    assert_eq!(
        e.to_string(),
        "message (multipart/report): no delimiter line `--boundary-1111` in the body: wrong boundary"
    );
    let m = arf01().replace("; boundary=\"boundary-0000-00000-0000000-000000\"", "");
    assert_eq!(parse(m.as_bytes()).unwrap_err().code(), "wrong_boundary");
}

#[test]
fn every_bound_refuses_naming_its_limit() {
    let raw = read("arf/sisimai/arf-01.eml");
    let base = Limits::default();
    let cases: [(Limits, Limit, &str); 5] = [
        (
            Limits {
                max_message_bytes: 1000,
                ..base.clone()
            },
            Limit::MessageBytes,
            "message:",
        ),
        (
            Limits {
                max_part_bytes: 600,
                ..base.clone()
            },
            Limit::PartBytes,
            "part 1 (text/plain):",
        ),
        (
            Limits {
                max_parts: 3,
                ..base.clone()
            },
            Limit::Parts,
            "part 3:",
        ),
        (
            Limits {
                max_headers: 12,
                ..base.clone()
            },
            Limit::Headers,
            "message:",
        ),
        (
            Limits {
                max_depth: 0,
                ..base.clone()
            },
            Limit::Depth,
            "message (multipart/report):",
        ),
    ];
    for (limits, limit, at) in cases {
        let e = parse_message(&raw, &limits).unwrap_err();
        match &e {
            MailError::Limit { limit: l, .. } => assert_eq!(*l, limit, "{e}"),
            other => panic!("{limit:?}: {other}"),
        }
        assert_eq!(e.code(), "too_large");
        assert!(e.to_string().starts_with(at), "{e}");
        assert!(e.to_string().contains(limit.name()), "{e}");
    }
    // Depth counts nesting: the nested corpus mail needs 2.
    let nested = corpus("nested-fraud.eml");
    assert!(
        parse_message(
            &nested,
            &Limits {
                max_depth: 2,
                ..base.clone()
            }
        )
        .is_ok()
    );
    let e = parse_message(
        &nested,
        &Limits {
            max_depth: 1,
            ..base.clone()
        },
    )
    .unwrap_err();
    assert!(
        e.to_string().starts_with("part 1 (multipart/alternative)"),
        "{e}"
    );
    // Two reports in one message, one allowed.
    let two = arf01().replacen(
        "--boundary-0000-00000-0000000-000000\nContent-Type: message/rfc822",
        "--boundary-0000-00000-0000000-000000\nContent-Type: message/feedback-report\n\nFeedback-Type: virus\nSource-IP: 192.0.2.7\n\n--boundary-0000-00000-0000000-000000\nContent-Type: message/rfc822",
        1,
    );
    assert_eq!(parse(two.as_bytes()).unwrap().reports.len(), 2);
    let e = parse_message(
        two.as_bytes(),
        &Limits {
            max_reports: 1,
            ..base
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("max_reports"), "{e}");
}

#[test]
fn garbage_json_and_unknown_v4_types_in_a_mail_name_the_part() {
    let e = parse(&in_mail(b"{\"xarf_version\": \"4.0.0\", \"report_id\": ")).unwrap_err();
    assert_eq!(e.code(), "invalid_json");
    assert!(
        e.to_string()
            .starts_with("part 2 (application/json): not JSON"),
        "{e}"
    );
    let doc = phishing_with(|d| {
        d.insert("type".into(), "smishing".into());
    });
    let e = parse(&in_mail(&doc)).unwrap_err();
    assert_eq!(e.code(), "unknown_type");
    assert!(
        e.to_string()
            .starts_with("part 2 (application/json): X-ARF v4: unknown type"),
        "{e}"
    );
    // JSON that is not X-ARF is skipped; with nothing else, there is no report.
    let e = parse(&in_mail(b"{\"weather\": \"fine\"}")).unwrap_err();
    assert_eq!(e.code(), "no_report");
    // Not a message at all.
    assert_eq!(parse(b"\r\n\r\nhello").unwrap_err().code(), "not_a_message");
    assert_eq!(parse(b"").unwrap_err().code(), "not_a_message");
    // A multipart without its report part.
    let m = arf01().replace(
        "Content-Type: message/feedback-report",
        "Content-Type: text/plain",
    );
    let e = parse(m.as_bytes()).unwrap_err();
    assert_eq!(e.field(), Some("message/feedback-report"), "{e}");
    // An unknown transfer encoding in a part that is read.
    let m = arf01().replace(
        "Content-Type: message/feedback-report\n",
        "Content-Type: message/feedback-report\nContent-Transfer-Encoding: x-uuencode\n",
    );
    let e = parse(m.as_bytes()).unwrap_err();
    assert_eq!(e.code(), "bad_encoding");
    assert!(
        e.to_string()
            .starts_with("part 2 (message/feedback-report)"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// The fuzzer
// ---------------------------------------------------------------------------------------------

/// The short in-suite run of the mail fuzzer (`warden fuzz mail` runs a million or more): the
/// hand-written corpus, sisimai's mails and the v4 samples, mutated, through every parser.
#[test]
fn the_fuzzer_over_the_corpus_finds_no_panic_and_no_broken_bound() {
    let mut owned: Vec<Vec<u8>> = warden_intake::fuzz::CORPUS
        .iter()
        .map(|(_, b)| b.to_vec())
        .collect();
    for dir in ["arf/sisimai", "xarf/xarf_spec_v4/samples"] {
        for e in std::fs::read_dir(data(dir)).unwrap() {
            owned.push(std::fs::read(e.unwrap().path()).unwrap());
        }
    }
    let corpus: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
    let report = warden_intake::fuzz::run(&corpus, 20_000, 7, |_, _| {});
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert!(report.parsed > 1_000, "{report:?}");
    assert!(report.errors.len() >= 5, "{report:?}");
    let small: Vec<&[u8]> = corpus.iter().take(4).copied().collect();
    assert_eq!(
        warden_intake::fuzz::run(&small, 500, 3, |_, _| {}),
        warden_intake::fuzz::run(&small, 500, 3, |_, _| {}),
        "deterministic from the seed"
    );
}

/// A few thousand inputs of each family of the corpus, each through every parser: each family
/// reaches its own parser (its format shows among the reports) and no result leaves its bounds.
#[test]
fn the_fuzzer_reaches_every_parser_from_each_family_of_seeds() {
    let families: &[(&str, &[&str], &str)] = &[
        ("arf", &["arf-encoded", "nested-fraud", "forwarded"], "arf"),
        ("xarf", &["xarf-v4", "xarf-v3", "xarf-v4-bare"], "xarf_v4"),
        ("iodef", &["iodef-v1", "iodef-v2", "iodef-json"], "iodef"),
        (
            "shadowserver",
            &["shadowserver-scan", "shadowserver-event", "gzip"],
            "shadowserver",
        ),
        (
            "free-form",
            &[
                "free-form-spamcop",
                "free-form-defanged",
                "free-form-gzip",
                "free-form-zip",
            ],
            "free_form",
        ),
        ("zip", &["zip"], "iodef"),
    ];
    for (family, names, format) in families {
        let corpus: Vec<&[u8]> = warden_intake::fuzz::CORPUS
            .iter()
            .filter(|(n, _)| names.contains(n))
            .map(|(_, b)| *b)
            .collect();
        assert_eq!(corpus.len(), names.len(), "{family}");
        let report = warden_intake::fuzz::run(&corpus, 2_000, 11, |_, _| {});
        assert!(
            report.violations.is_empty(),
            "{family}: {:?}",
            report.violations
        );
        assert!(
            report.formats.get(format).copied().unwrap_or(0) > 50,
            "{family}: {report:?}"
        );
        assert!(report.errors.len() >= 3, "{family}: {report:?}");
    }
}

#[test]
fn source_ip_from_received_skips_internal_hops() {
    let m = "From: fbl@reporter.example\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=q\r\n\r\n--q\r\nContent-Type: text/plain\r\n\r\nspam\r\n--q\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: t/1\r\nVersion: 1\r\n\r\n--q\r\nContent-Type: message/rfc822\r\n\r\nReceived: from relay (relay [192.168.1.5]) by mx\r\nReceived: from localhost ([127.0.0.1]) by relay\r\nReceived: from sender.example (sender.example [198.51.100.7]) by relay2\r\nSubject: x\r\n\r\nbody\r\n--q--\r\n";
    let r = &parse(m.as_bytes()).unwrap().reports[0];
    let ip: IpAddr = "198.51.100.7".parse().unwrap();
    assert_eq!(arf(r).source_ip, Some((ip, SourceIpOrigin::Received)));
    // No address anywhere: nothing to act on.
    let none = m.replace("[198.51.100.7]", "[10.9.9.9]");
    let e = parse(none.as_bytes()).unwrap_err();
    assert_eq!(e.code(), "no_target");
    assert!(
        e.to_string()
            .starts_with("part 2 (message/feedback-report)"),
        "{e}"
    );
}

#[test]
fn a_single_part_json_message_is_its_own_report() {
    let doc = read("xarf/xarf_spec_v4/samples/messaging-spam.json");
    let mut m = b"From: trap@reporter.example\r\nContent-Type: application/json\r\n\r\n".to_vec();
    m.extend_from_slice(&doc);
    let mail = parse(&m).unwrap();
    let r = &mail.reports[0];
    assert_eq!((r.format, r.category), (Format::XarfV4, Category::SpamMail));
    assert_eq!(r.raw.part, "message");
    assert_eq!(mail.parts, 1);
    // Two parts only, but closed: read, with a warning for the missing original.
    let two = "From: fbl@reporter.example\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=z\r\n\r\n--z\r\nContent-Type: text/plain\r\n\r\nspam\r\n--z\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: virus\r\nSource-IP: 2001:db8::7\r\n--z--\r\n";
    let mail = parse(two.as_bytes()).unwrap();
    assert_eq!(mail.reports[0].category, Category::Malware);
    assert!(mail.reports[0].original.is_none());
    assert!(
        mail.warnings
            .iter()
            .any(|w| w.contains("no original message part")),
        "{:?}",
        mail.warnings
    );
}
