//! Shadowserver CSVs: the published layouts as a table, the type from the name or the header,
//! 10,000 rows, the bounds, and broken rows.

use std::path::Path;

use warden_domain::taxonomy::Category;
use warden_intake::{
    Details, Disposition, Format, Limit, Limits, MailError, ParsedReport, ShadowserverDetails,
    TypeSource, parse_document, parse_message,
};

fn file(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/shadowserver")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn details(r: &ParsedReport) -> &ShadowserverDetails {
    match &r.details {
        Details::Shadowserver(d) => d,
        other => panic!("not Shadowserver: {other:?}"),
    }
}

/// One row: file, report type, each row's targets, category, disposition.
type Row = (
    &'static str,
    &'static str,
    &'static [&'static [&'static str]],
    Category,
    Disposition,
);

const LAYOUTS: &[Row] = &[
    (
        "2026-11-30-scan_dns-example_net-asn.csv",
        "scan_dns",
        &[
            &["192.0.2.10", "ns1.customer.example"],
            &["192.0.2.11"],
            &["198.51.100.7", "host7.customer.example"],
        ],
        Category::CyberHarm,
        Disposition::NotifyOnly,
    ),
    (
        "2026-11-30-scan_ntp-example_net-asn.csv",
        "scan_ntp",
        &[&["192.0.2.123"]],
        Category::CyberHarm,
        Disposition::NotifyOnly,
    ),
    (
        "2026-11-30-scan_ssdp-example_net-asn.csv",
        "scan_ssdp",
        &[&["203.0.113.19", "cpe19.customer.example"]],
        Category::CyberHarm,
        Disposition::NotifyOnly,
    ),
    (
        "2026-11-30-scan_snmp-example_net-asn.csv",
        "scan_snmp",
        &[&["2001:db8:161::1"]],
        Category::CyberHarm,
        Disposition::NotifyOnly,
    ),
    (
        "2026-11-30-scan_http-example_net-asn.csv",
        "scan_http",
        &[&["198.51.100.80", "web80.customer.example"]],
        Category::CyberHarm,
        Disposition::NotifyOnly,
    ),
    (
        "2026-11-30-event4_sinkhole-example_net-geo.csv",
        "event4_sinkhole",
        &[
            &["203.0.113.45", "vm45.customer.example"],
            &["203.0.113.46"],
        ],
        Category::Malware,
        Disposition::Violation,
    ),
    (
        // The sinkholed domain (http_host) and the request (http_url) are not targets.
        "2026-11-30-event4_sinkhole_http-example_net-geo.csv",
        "event4_sinkhole_http",
        &[&["198.51.100.44"]],
        Category::Malware,
        Disposition::Violation,
    ),
    (
        // A drone's `url` is what it asked its C2 for: not a target.
        "2026-11-30-botnet_drone-example_net-geo.csv",
        "botnet_drone",
        &[&["192.0.2.77", "bot77.customer.example"]],
        Category::Malware,
        Disposition::Violation,
    ),
    (
        "2026-11-30-compromised_website-example_net-geo.csv",
        "compromised_website",
        &[&[
            "198.51.100.88",
            "www88.customer.example",
            "shop88.customer.example",
        ]],
        Category::Malware,
        Disposition::Violation,
    ),
];

#[test]
fn every_layout_is_read_as_its_table_row_says() {
    for &(name, ty, rows, category, disposition) in LAYOUTS {
        let bytes = file(name);
        let d = parse_document(&bytes, name, &Limits::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(d.warnings.is_empty(), "{name}: {:?}", d.warnings);
        assert_eq!(d.reports.len(), rows.len(), "{name}");
        for (i, (r, want)) in d.reports.iter().zip(rows.iter()).enumerate() {
            let got: Vec<String> = r.targets.iter().map(|t| t.canonical()).collect();
            assert_eq!(&got, want, "{name} row {}", i + 2);
            assert_eq!(r.format, Format::Shadowserver);
            assert_eq!(
                (r.category, r.disposition),
                (category, disposition),
                "{name}"
            );
            let det = details(r);
            assert_eq!(det.report_type, ty);
            assert_eq!(det.type_from, TypeSource::FileName);
            assert_eq!(det.row, i + 2);
            assert_eq!(det.document_sha256, warden_domain::sha256_hex(&bytes));
            assert_eq!(r.claimed_type, ty);
            assert!(r.occurred_at.is_some(), "{name}");
            assert_eq!(r.raw.part, format!("body row {}", i + 2));
            // The evidence is the header and the row: a one-row CSV of the same layout.
            let raw = String::from_utf8(r.raw.bytes.clone()).unwrap();
            assert_eq!(raw.lines().count(), 2, "{name}");
            assert!(raw.starts_with("\"timestamp\""), "{name}");
            assert_eq!(r.raw.sha256, warden_domain::sha256_hex(&r.raw.bytes));
        }
    }
}

#[test]
fn the_fields_of_a_row_are_kept() {
    let d = parse_document(
        &file("2026-11-30-scan_dns-example_net-asn.csv"),
        "2026-11-30-scan_dns-example_net-asn.csv",
        &Limits::default(),
    )
    .unwrap();
    let r = &d.reports[0];
    let det = details(r);
    assert_eq!(det.tag.as_deref(), Some("openresolver"));
    assert_eq!(det.protocol.as_deref(), Some("udp"));
    assert_eq!(det.port, Some(53));
    assert_eq!(det.asn, Some(64496));
    assert_eq!(det.geo.as_deref(), Some("CN"));
    assert_eq!(
        r.occurred_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-11-30T00:00:05.000Z")
    );
    assert_eq!(
        r.evidence_text,
        "Shadowserver scan_dns row 2: 192.0.2.10 port 53/udp, tag openresolver"
    );
    assert_eq!(
        r.reporter.org.as_deref(),
        Some("The Shadowserver Foundation")
    );
    let ev = parse_document(
        &file("2026-11-30-event4_sinkhole-example_net-geo.csv"),
        "2026-11-30-event4_sinkhole-example_net-geo.csv",
        &Limits::default(),
    )
    .unwrap();
    let det = details(&ev.reports[0]);
    assert_eq!(det.infection.as_deref(), Some("andromeda"));
    assert_eq!((det.port, det.asn), (Some(49152), Some(64500)));
}

#[test]
fn without_a_file_name_the_header_tells_the_type() {
    let cases = [
        ("2026-11-30-scan_dns-example_net-asn.csv", "scan_dns"),
        ("2026-11-30-scan_ntp-example_net-asn.csv", "scan_ntp"),
        ("2026-11-30-scan_ssdp-example_net-asn.csv", "scan_ssdp"),
        ("2026-11-30-scan_snmp-example_net-asn.csv", "scan_snmp"),
        ("2026-11-30-scan_http-example_net-asn.csv", "scan_http"),
        (
            "2026-11-30-event4_sinkhole-example_net-geo.csv",
            "event4_sinkhole",
        ),
        (
            "2026-11-30-botnet_drone-example_net-geo.csv",
            "botnet_drone",
        ),
    ];
    for (name, ty) in cases {
        let d = parse_document(&file(name), "text/csv", &Limits::default()).unwrap();
        let det = details(&d.reports[0]);
        assert_eq!(
            (det.report_type.as_str(), det.type_from),
            (ty, TypeSource::Header),
            "{name}"
        );
    }
    // An unknown layout is notify-only, with a warning.
    let d = parse_document(
        &file("2026-11-30-compromised_website-example_net-geo.csv"),
        "text/csv",
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(details(&d.reports[0]).report_type, "unknown");
    assert_eq!(d.reports[0].disposition, Disposition::NotifyOnly);
    assert!(
        d.warnings
            .iter()
            .any(|w| w.contains("not one Warden knows")),
        "{:?}",
        d.warnings
    );
    // And a type from a name it does not know, too.
    let d = parse_document(
        &file("2026-11-30-scan_dns-example_net-asn.csv"),
        "2026-11-30-special_feed-example.csv",
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(d.reports[0].disposition, Disposition::NotifyOnly);
    assert_eq!(
        warden_intake::shadowserver::type_from_file_name("2026-11-30-scan_dns-x-asn.csv")
            .as_deref(),
        Some("scan_dns")
    );
    assert_eq!(
        warden_intake::shadowserver::type_from_file_name("report.csv"),
        None
    );
}

/// A CSV of `n` scan_dns rows.
fn generated(n: usize) -> Vec<u8> {
    let mut s = String::from(
        "\"timestamp\",\"ip\",\"protocol\",\"port\",\"hostname\",\"tag\",\"asn\",\"geo\",\"region\",\"city\",\"naics\",\"sic\",\"min_amplification\",\"dns_version\",\"p0f_genre\",\"p0f_detail\",\"sector\"\r\n",
    );
    for i in 0..n {
        let net = ["192.0.2", "198.51.100", "203.0.113"][i % 3];
        s.push_str(&format!(
            "\"2026-11-30 {:02}:{:02}:{:02}\",\"{net}.{}\",\"udp\",53,\"h{i}.customer.example\",\"openresolver\",64496,\"CN\",\"BEIJING\",\"BEIJING\",0,0,\"3.50\",\"9.11.4\",\"Linux\",\"\",\r\n",
            (i / 3600) % 24,
            (i / 60) % 60,
            i % 60,
            i % 250 + 1
        ));
    }
    s.into_bytes()
}

#[test]
fn ten_thousand_rows_parse_and_a_lower_bound_refuses_naming_it() {
    let csv = generated(10_000);
    let name = "2026-11-30-scan_dns-example_net-asn.csv";
    let started = std::time::Instant::now();
    let d = parse_document(&csv, name, &Limits::default()).unwrap();
    let took = started.elapsed();
    assert_eq!(d.reports.len(), 10_000);
    assert!(
        d.reports
            .iter()
            .all(|r| r.disposition == Disposition::NotifyOnly)
    );
    assert_eq!(details(&d.reports[9_999]).row, 10_001);
    assert!(took.as_secs() < 30, "{took:?}");
    // The same in a mail, as an attachment: CSV rows do not count toward max_reports.
    let mut m = format!(
        "From: Shadowserver <reports@shadowserver.org>\r\nSubject: report\r\nContent-Type: multipart/mixed; boundary=s\r\n\r\n--s\r\nContent-Type: text/csv; name=\"{name}\"\r\n\r\n"
    )
    .into_bytes();
    m.extend_from_slice(&csv);
    m.extend_from_slice(b"\r\n--s--\r\n");
    let mail = parse_message(&m, &Limits::default()).unwrap();
    assert_eq!(mail.reports.len(), 10_000);
    assert_eq!(mail.reports[0].raw.part, "part 1 row 2");
    assert_eq!(
        mail.reports[0].reporter.domain.as_deref(),
        Some("shadowserver.org")
    );

    let l = Limits {
        max_csv_rows: 9_999,
        ..Limits::default()
    };
    let e = parse_document(&csv, name, &l).unwrap_err();
    assert!(
        matches!(
            e,
            MailError::Limit {
                limit: Limit::CsvRows,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("max_csv_rows"), "{e}");
    let e = parse_message(&m, &l).unwrap_err();
    assert!(e.to_string().starts_with("part 1 (text/csv)"), "{e}");

    let l = Limits {
        max_csv_field_bytes: 8,
        ..Limits::default()
    };
    let e = parse_document(&csv, name, &l).unwrap_err();
    assert!(
        matches!(
            e,
            MailError::Limit {
                limit: Limit::CsvFieldBytes,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().starts_with("body row 1, field 1"), "{e}");
}

#[test]
fn a_broken_row_refuses_the_whole_csv_naming_the_row() {
    let name = "2026-11-30-scan_dns-example_net-asn.csv";
    let cases = [
        (
            "neg-wrong-field-count.csv",
            "invalid_csv",
            "row 3",
            "row 3 has 7 fields; the header has 8",
        ),
        (
            "neg-bad-quoting.csv",
            "invalid_csv",
            "row 3",
            "row 3, field 5: text after a field's closing quote",
        ),
        (
            "neg-unclosed-quote.csv",
            "invalid_csv",
            "row 3",
            "row 3, field 6: a quoted field is never closed",
        ),
        (
            "neg-bad-ip.csv",
            "invalid_field",
            "row 3.ip",
            "row 3, `ip`: `192.0.2.256` is not an IP address",
        ),
    ];
    for (f, code, field, says) in cases {
        let e = parse_document(&file(f), name, &Limits::default()).unwrap_err();
        assert_eq!((e.code(), e.field()), (code, Some(field)), "{f}: {e}");
        assert!(e.to_string().starts_with("body: "), "{f}: {e}");
        assert!(e.to_string().contains(says), "{f}: {e}");
    }
    let e = parse_document(
        b"\"timestamp\",\"ip\"\r\n\"2026-11-30 00:00:00\",\"192.0.2.1\",x\"y\r\n",
        name,
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(e.code(), "invalid_csv", "{e}");
    // A bad time names the field too.
    let bad = String::from_utf8(file(name))
        .unwrap()
        .replace("2026-11-30 00:01:15", "30/11/2026");
    let e = parse_document(bad.as_bytes(), name, &Limits::default()).unwrap_err();
    assert_eq!(e.field(), Some("row 3.timestamp"), "{e}");
    // A Shadowserver name on a CSV without Shadowserver's columns is refused naming the column.
    let e = parse_document(b"a,b\r\n1,2\r\n", name, &Limits::default()).unwrap_err();
    assert_eq!(
        (e.code(), e.field()),
        ("missing_field", Some("timestamp")),
        "{e}"
    );
}

#[test]
fn a_csv_in_a_mail_a_zip_or_a_gzip_is_read_the_same() {
    let mail = parse_message(&super::corpus("shadowserver.eml"), &Limits::default()).unwrap();
    assert_eq!(mail.reports.len(), 2);
    let r = &mail.reports[1];
    let got: Vec<String> = r.targets.iter().map(|t| t.canonical()).collect();
    assert_eq!(got, ["2001:db8:45::9"]);
    assert_eq!(r.category, Category::Malware);
    assert_eq!(r.raw.part, "part 2 row 3");
    assert_eq!(
        r.reported_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-12-01T03:00:00.000Z")
    );
    assert!(
        r.evidence_text.contains("infection necurs"),
        "{}",
        r.evidence_text
    );

    let d = parse_document(
        &super::corpus("report.csv.gz"),
        "report.csv.gz",
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(details(&d.reports[0]).report_type, "scan_ntp");
    assert_eq!(d.reports[0].raw.part, "body row 2");

    let d = parse_document(
        &super::corpus("reports.zip"),
        "reports.zip",
        &Limits::default(),
    )
    .unwrap();
    let formats: Vec<Format> = d.reports.iter().map(|r| r.format).collect();
    assert_eq!(
        formats,
        [
            Format::Iodef,
            Format::Shadowserver,
            Format::Shadowserver,
            Format::Shadowserver,
            Format::Shadowserver
        ]
    );
    // A CSV that is not Shadowserver's is skipped, not refused.
    let m = "From: a@b.example\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\nContent-Type: text/csv; name=\"list.csv\"\r\n\r\nname,count\r\nx,1\r\n--q--\r\n";
    let e = parse_message(m.as_bytes(), &Limits::default()).unwrap_err();
    assert_eq!(e.code(), "no_report", "{e}");
}
