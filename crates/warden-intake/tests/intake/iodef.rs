//! IODEF v1, v2 and JSON: the RFCs' examples as a table, and the refusals (DTDs, entities,
//! truncation, a wrong namespace or version, a wrong address).

use std::path::Path;

use warden_domain::taxonomy::Category;
use warden_intake::{
    Details, Disposition, Format, IodefBinding, IodefDetails, IodefVersion, Limit, Limits,
    MailError, ParsedReport, parse_document, parse_message,
};

fn file(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/iodef")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn doc(name: &str) -> Result<Vec<ParsedReport>, MailError> {
    parse_document(&file(name), name, &Limits::default()).map(|d| d.reports)
}

fn details(r: &ParsedReport) -> &IodefDetails {
    match &r.details {
        Details::Iodef(d) => d,
        other => panic!("not IODEF: {other:?}"),
    }
}

fn canon(r: &ParsedReport) -> Vec<String> {
    r.targets.iter().map(|t| t.canonical()).collect()
}

/// One row: file, version, binding, targets, category, disposition, reporter contact,
/// `reported_at`.
type Row = (
    &'static str,
    IodefVersion,
    IodefBinding,
    &'static [&'static str],
    Category,
    Disposition,
    &'static str,
    &'static str,
);

const EXAMPLES: &[Row] = &[
    (
        "rfc5070-7.1-worm.xml",
        IodefVersion::V1,
        IodefBinding::Xml,
        &["192.0.2.200"],
        Category::Hacking,
        Disposition::Violation,
        "contact@csirt.example.com",
        "2001-09-13T23:19:24.000Z",
    ),
    (
        "rfc5070-7.2-reconnaissance.xml",
        IodefVersion::V1,
        IodefBinding::Xml,
        &["192.0.2.200", "192.0.2.240"],
        Category::Scanning,
        Disposition::Violation,
        "contact@csirt.example.com",
        "2006-08-02T10:54:02.000Z",
    ),
    (
        "rfc5070-7.3-botnet.xml",
        IodefVersion::V1,
        IodefBinding::Xml,
        &["192.0.2.1", "192.0.2.3", "192.0.2.20", "irc.example.com"],
        Category::DdosAttack,
        Disposition::Violation,
        "jsmith@csirt.example.com",
        "2006-06-08T10:44:53.000Z",
    ),
    (
        "rfc5070-7.4-watchlist.xml",
        IodefVersion::V1,
        IodefBinding::Xml,
        &["192.0.2.53", "192.0.2.241"],
        Category::Hacking,
        Disposition::Violation,
        "contact@csirt.example.com",
        "2006-08-01T05:00:00.000Z",
    ),
    (
        "rfc7970-7.2-campaign.xml",
        IodefVersion::V2,
        IodefBinding::Xml,
        &[
            "kj290023j09r34.example.com",
            "09ijk23jfj0k8.example.net",
            "klknjwfjiowjefr923.example.org",
            "oimireik79msd.example.org",
        ],
        Category::Hacking,
        Disposition::NotifyOnly,
        "contact@csirt.example.com",
        "2015-10-02T16:18:00.000Z",
    ),
    (
        "rfc8727-campaign.json",
        IodefVersion::V2,
        IodefBinding::Json,
        &[
            "kj290023j09r34.example.com",
            "09ijk23jfj0k8.example.net",
            "klknjwfjiowjefr923.example.org",
            "oimireik79msd.example.org",
        ],
        Category::Hacking,
        Disposition::NotifyOnly,
        "contact@csirt.example.com",
        "2015-10-02T16:18:00.000Z",
    ),
    (
        "ours-v2-phishing.xml",
        IodefVersion::V2,
        IodefBinding::Xml,
        &[
            "https://login.bank-example.net/secure/",
            "198.51.100.25",
            "login.bank-example.net",
        ],
        Category::FraudPhishing,
        Disposition::Violation,
        "soc@csirt.example.net",
        "2026-11-30T08:00:00.000Z",
    ),
    (
        "ours-v2-botnet.json",
        IodefVersion::V2,
        IodefBinding::Json,
        &["2001:db8:77::5", "c2.customer.example"],
        Category::Hacking,
        Disposition::Violation,
        "incident@cert.example.org",
        "2026-11-29T22:10:00.000Z",
    ),
    (
        "ours-json-reconnaissance.json",
        IodefVersion::V2,
        IodefBinding::Json,
        &["192.0.2.200", "192.0.2.240"],
        Category::Scanning,
        Disposition::Violation,
        "contact@csirt.example.com",
        "2006-08-02T10:54:02.000Z",
    ),
];

#[test]
fn every_example_is_read_as_its_table_row_says() {
    for &(name, version, binding, targets, category, disposition, contact, reported) in EXAMPLES {
        let reports = doc(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(reports.len(), 1, "{name}");
        let r = &reports[0];
        let d = details(r);
        assert_eq!(r.format, Format::Iodef, "{name}");
        assert_eq!((d.version, d.binding), (version, binding), "{name}");
        assert_eq!(canon(r), targets, "{name}");
        assert_eq!(
            (r.category, r.disposition),
            (category, disposition),
            "{name}: {}",
            d.category_reason
        );
        assert_eq!(r.reporter.contact.as_deref(), Some(contact), "{name}");
        assert_eq!(
            r.reported_at.map(|t| t.to_rfc3339()).as_deref(),
            Some(reported),
            "{name}"
        );
        assert_eq!(r.raw.sha256, warden_domain::sha256_hex(&r.raw.bytes));
        assert_eq!(
            r.raw.bytes,
            file(name),
            "{name}: the document is the evidence"
        );
    }
}

#[test]
fn details_name_the_victims_networks_impacts_and_times() {
    let worm = &doc("rfc5070-7.1-worm.xml").unwrap()[0];
    let d = details(worm);
    assert_eq!(d.incident_id, "189493");
    assert_eq!(d.incident_id_name.as_deref(), Some("csirt.example.com"));
    assert_eq!(d.purpose, "reporting");
    assert_eq!(d.impacts, ["Impact:admin"]);
    assert_eq!(d.category_reason, "Impact type `admin`");
    assert_eq!(worm.claimed_type, "Impact:admin");
    assert_eq!(worm.reporter.org.as_deref(), Some("Example.com CSIRT"));
    assert_eq!(worm.reporter.domain.as_deref(), Some("csirt.example.com"));
    assert!(
        worm.evidence_text
            .contains("Host sending out Code Red probes")
    );
    // The victim is a network, and the log's URL is no target.
    assert!(d.victims.is_empty());
    assert!(!canon(worm).iter().any(|t| t.contains("mylogs")));

    let recon = &doc("rfc5070-7.2-reconnaissance.xml").unwrap()[0];
    let d = details(recon);
    let victims: Vec<String> = d.victims.iter().map(|t| t.canonical()).collect();
    assert_eq!(victims, ["192.0.2.201"]);
    // The tool's site is a reference, not a target; the nested contact is the person.
    assert!(!canon(recon).iter().any(|t| t.contains("nmap")));
    assert_eq!(recon.reporter.name.as_deref(), Some("Joe Smith"));
    assert_eq!(recon.reporter.org.as_deref(), Some("CSIRT for example.com"));

    let watch = &doc("rfc5070-7.4-watchlist.xml").unwrap()[0];
    let d = details(watch);
    assert_eq!(
        d.networks,
        ["192.0.2.16/28".parse::<ipnet::IpNet>().unwrap()]
    );
    assert_eq!(d.impacts, ["Impact:admin", "Impact:recon"]);

    let phish = &doc("ours-v2-phishing.xml").unwrap()[0];
    let d = details(phish);
    assert_eq!(
        d.category_reason,
        "IncidentCategory `phishing` (keyword `phishing`)"
    );
    assert_eq!(
        d.impacts,
        [
            "IncidentCategory:phishing",
            "SystemImpact:breach-credential"
        ]
    );
    assert_eq!(
        phish.occurred_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-11-29T23:40:00.000Z")
    );
    assert!(phish.evidence_text.contains("a bank & its login"));

    let json = &doc("ours-v2-botnet.json").unwrap()[0];
    let d = details(json);
    assert_eq!(d.impacts, ["SystemImpact:takeover-system"]);
    let victims: Vec<String> = d.victims.iter().map(|t| t.canonical()).collect();
    assert_eq!(victims, ["192.0.2.9"]);
    assert_eq!(
        json.occurred_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-11-29T21:00:00.000Z")
    );

    let camp = &doc("rfc7970-7.2-campaign.xml").unwrap()[0];
    assert_eq!(details(camp).purpose, "watch");
    assert_eq!(camp.claimed_type, "BusinessImpact:breach-proprietary");
    // XML and JSON of the same example agree.
    let json = &doc("rfc8727-campaign.json").unwrap()[0];
    assert_eq!(camp.targets, json.targets);
    assert_eq!(details(camp).impacts, details(json).impacts);
}

#[test]
fn the_minimal_examples_name_nothing_to_act_on() {
    for name in ["rfc7970-7.1-minimal.xml", "rfc8727-minimal.json"] {
        let e = doc(name).unwrap_err();
        assert_eq!(e.code(), "no_target", "{name}: {e}");
        assert_eq!(e.field(), Some("Incident[1]"), "{name}");
        assert!(
            e.to_string().starts_with("body: IODEF: `Incident[1]`"),
            "{e}"
        );
    }
}

#[test]
fn dtds_entities_truncation_and_wrong_versions_are_refused_naming_the_part() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "neg-xxe.xml",
            "dtd_refused",
            "XML with a DTD or entities is refused",
        ),
        (
            "neg-billion-laughs.xml",
            "dtd_refused",
            "XML with a DTD or entities is refused",
        ),
        (
            "neg-entity-without-dtd.xml",
            "dtd_refused",
            "an entity reference `&ext;`: XML with a DTD or entities is refused",
        ),
        ("neg-truncated.xml", "invalid_xml", ""),
        (
            "neg-wrong-namespace.xml",
            "unsupported_version",
            "the namespace `urn:ietf:params:xml:ns:iodef-1.1` is not IODEF's",
        ),
        (
            "neg-wrong-version.xml",
            "unsupported_version",
            "`version` `1.00` does not match the namespace urn:ietf:params:xml:ns:iodef-2.0",
        ),
        (
            "neg-bad-address.xml",
            "invalid_field",
            "`Incident[1].EventData[1].Flow[1].System[1].Node[1].Address[1]` `192.0.2.300` is not an ipv4-addr",
        ),
        (
            "neg-json-wrong-version.json",
            "unsupported_version",
            "`version` `1.0`",
        ),
    ];
    for (name, code, says) in cases {
        let e = doc(name).unwrap_err();
        assert_eq!(e.code(), *code, "{name}: {e}");
        assert!(e.to_string().starts_with("body: IODEF: "), "{name}: {e}");
        assert!(e.to_string().contains(says), "{name}: {e}");
    }
    let e = doc("neg-bad-address.xml").unwrap_err();
    assert_eq!(
        e.field(),
        Some("Incident[1].EventData[1].Flow[1].System[1].Node[1].Address[1]")
    );
    // In a mail, the part is named.
    let m = mail_with(&file("neg-xxe.xml"), "application/xml", "incident.xml");
    let e = parse_message(&m, &Limits::default()).unwrap_err();
    assert_eq!(e.code(), "dtd_refused");
    assert!(
        e.to_string()
            .starts_with("part 2 (application/xml): IODEF: "),
        "{e}"
    );
}

#[test]
fn xml_depth_and_element_count_are_bounded() {
    let deep = format!(
        "<IODEF-Document version=\"1.00\" xmlns=\"urn:ietf:params:xml:ns:iodef-1.0\">{}{}</IODEF-Document>",
        "<a>".repeat(40),
        "</a>".repeat(40)
    );
    let e = parse_document(deep.as_bytes(), "application/xml", &Limits::default()).unwrap_err();
    assert!(
        matches!(
            e,
            MailError::Limit {
                limit: Limit::XmlDepth,
                ..
            }
        ),
        "{e}"
    );
    let wide = format!(
        "<IODEF-Document version=\"1.00\" xmlns=\"urn:ietf:params:xml:ns:iodef-1.0\">{}</IODEF-Document>",
        "<a/>".repeat(200)
    );
    let l = Limits {
        max_xml_elements: 100,
        ..Limits::default()
    };
    let e = parse_document(wide.as_bytes(), "application/xml", &l).unwrap_err();
    assert!(
        matches!(
            e,
            MailError::Limit {
                limit: Limit::XmlElements,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("max_xml_elements"), "{e}");
}

#[test]
fn required_fields_are_checked_naming_them() {
    let worm = String::from_utf8(file("rfc5070-7.1-worm.xml")).unwrap();
    let cases = [
        (
            worm.replace(" purpose=\"reporting\"", ""),
            "missing_field",
            "Incident[1].purpose",
        ),
        (
            worm.replace("purpose=\"reporting\"", "purpose=\"watch\""),
            "invalid_field",
            "Incident[1].purpose",
        ),
        (
            worm.replace("<ReportTime>2001-09-13T23:19:24+00:00</ReportTime>", ""),
            "missing_field",
            "Incident[1].ReportTime",
        ),
        (
            worm.replace("2001-09-13T23:19:24+00:00", "yesterday"),
            "invalid_field",
            "Incident[1].ReportTime",
        ),
        (
            worm.replace("<Impact completion=\"failed\" type=\"admin\"/>", "")
                .replace("<Assessment>", "")
                .replace("</Assessment>", ""),
            "missing_field",
            "Incident[1].Assessment",
        ),
    ];
    for (doc, code, field) in cases {
        let e = parse_document(doc.as_bytes(), "application/xml", &Limits::default()).unwrap_err();
        assert_eq!((e.code(), e.field()), (code, Some(field)), "{e}");
    }
    // A non-IODEF XML attachment is skipped, not refused.
    let m = mail_with(b"<rss version=\"2.0\"/>", "application/xml", "feed.xml");
    let e = parse_message(&m, &Limits::default()).unwrap_err();
    assert_eq!(e.code(), "no_report", "{e}");
}

fn mail_with(body: &[u8], content_type: &str, name: &str) -> Vec<u8> {
    let mut m = format!(
        "From: soc@csirt.example.com\r\nSubject: incident\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--b\r\nContent-Type: {content_type}; name=\"{name}\"\r\n\r\n"
    )
    .into_bytes();
    m.extend_from_slice(body);
    m.extend_from_slice(b"\r\n--b--\r\n");
    m
}

#[test]
fn an_iodef_attachment_in_a_mail_is_read_with_the_mails_date() {
    let raw = super::corpus("iodef-v2.eml");
    let mail = parse_message(&raw, &Limits::default()).unwrap();
    assert_eq!(mail.reports.len(), 1);
    let r = &mail.reports[0];
    assert_eq!(
        (r.format, r.category),
        (Format::Iodef, Category::FraudPhishing)
    );
    assert_eq!(r.raw.part, "part 2");
    assert!(String::from_utf8_lossy(&r.raw.bytes).contains("Content-Transfer-Encoding: base64"));
    // The JSON binding as a JSON part, beside nothing X-ARF.
    let json = super::corpus("iodef-json.json");
    let m = mail_with(&json, "application/json", "incident.json");
    let mail = parse_message(&m, &Limits::default()).unwrap();
    assert_eq!(mail.reports[0].format, Format::Iodef);
    // Two incidents are two reports; more than max_reports is refused naming the bound.
    let two = String::from_utf8(file("rfc5070-7.1-worm.xml")).unwrap();
    let inc = &two[two.find("<Incident ").unwrap()..two.find("</Incident>").unwrap() + 11];
    let doubled = two.replace("</Incident>", &format!("</Incident>{inc}"));
    let d = parse_document(doubled.as_bytes(), "text/xml", &Limits::default()).unwrap();
    assert_eq!(d.reports.len(), 2);
    let l = Limits {
        max_reports: 1,
        ..Limits::default()
    };
    let e = parse_document(doubled.as_bytes(), "text/xml", &l).unwrap_err();
    assert!(
        matches!(
            e,
            MailError::Limit {
                limit: Limit::Reports,
                ..
            }
        ),
        "{e}"
    );
}
