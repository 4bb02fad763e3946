//! Free-form complaints: reporter rules, keywords, candidates (defanged, deduplicated), and
//! gzip and zip attachments within their bounds.

use std::io::Write as _;

use warden_domain::taxonomy::Category;
use warden_intake::freeform::{self, ReporterRule, SubjectPattern};
use warden_intake::{
    Details, Disposition, Format, FreeFormDetails, Limit, Limits, MailError, ParsedReport,
    TrustHint, parse_document, parse_message, parse_message_with,
};

fn details(r: &ParsedReport) -> &FreeFormDetails {
    match &r.details {
        Details::FreeForm(d) => d,
        other => panic!("not free-form: {other:?}"),
    }
}

fn canon(r: &ParsedReport) -> Vec<String> {
    r.targets.iter().map(|t| t.canonical()).collect()
}

/// One row: corpus file, category, disposition, rule, keyword, targets.
type Row = (
    &'static str,
    Category,
    Disposition,
    Option<&'static str>,
    Option<&'static str>,
    &'static [&'static str],
);

const MAILS: &[Row] = &[
    (
        "spamcop.eml",
        Category::SpamMail,
        Disposition::Violation,
        Some("spamcop"),
        None,
        &[
            "http://shop.customer.example/",
            "http://www.spamcop.net/w3m?i=z7290923893z0000000000000000000000000000z",
            "http://shop.customer.example/watches?id=42",
            "http://www.spamcop.net/w3m?i=z7290923893z0000000000000000000000000001z",
            "203.0.113.9",
            "mail.customer.example",
            "mx.victim.example",
        ],
    ),
    (
        "defanged.eml",
        Category::FraudPhishing,
        Disposition::Violation,
        None,
        Some("钓鱼"),
        &[
            "https://secure-login.customer.example/bank/login.php",
            "198.51.100.80",
            "2001:db8:80::1",
        ],
    ),
    (
        "gzip-log.eml",
        Category::Hacking,
        Disposition::Violation,
        Some("fail2ban"),
        None,
        &["203.0.113.61", "2001:db8:61::7", "server.victim.example"],
    ),
    (
        "zip-evidence.eml",
        Category::Malware,
        Disposition::Violation,
        None,
        Some("malware"),
        &[
            "http://files.customer.example/payload.exe",
            "198.51.100.99",
            "198.51.100.98",
            "c2.customer.example",
        ],
    ),
];

#[test]
fn every_free_form_mail_is_read_as_its_table_row_says() {
    for &(name, category, disposition, rule, keyword, targets) in MAILS {
        let raw = super::corpus(name);
        let mail =
            parse_message(&raw, &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(mail.reports.len(), 1, "{name}");
        let r = &mail.reports[0];
        let d = details(r);
        assert_eq!(r.format, Format::FreeForm);
        assert_eq!(
            (r.category, r.disposition),
            (category, disposition),
            "{name}"
        );
        assert_eq!(d.rule.as_deref(), rule, "{name}");
        assert_eq!(d.keyword.as_deref(), keyword, "{name}");
        assert_eq!(canon(r), targets, "{name}");
        // The whole message is the evidence.
        assert_eq!(r.raw.part, "message");
        assert_eq!(r.raw.bytes, raw);
        assert_eq!(r.reported_at, mail.date);
    }
    let r = &parse_message(&super::corpus("gzip-log.eml"), &Limits::default())
        .unwrap()
        .reports[0];
    let d = details(r);
    assert_eq!(d.trust, Some(TrustHint::Normal));
    assert_eq!(
        d.sources,
        [
            "part 1 (text/plain)",
            "part 2 (application/gzip) entry `auth.log`"
        ]
    );
    assert_eq!(r.reporter.org.as_deref(), Some("fail2ban"));
    assert!(
        r.evidence_text.starts_with("[Fail2Ban] sshd: banned"),
        "{}",
        r.evidence_text
    );
}

fn text_mail(from: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nSubject: {subject}\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

#[test]
fn the_shipped_rules_recognise_their_reporters() {
    let cases = [
        (
            "noc@cert.org.cn",
            "关于贵单位服务器的通报",
            "经监测，IP 203.0.113.5 存在木马控制行为。",
            Some("cert"),
            Category::Malware,
            Some(TrustHint::Trusted),
        ),
        (
            "alerts@mail.netcraft.com",
            "Issue 123: site on your network",
            "Please take down http://203.0.113.8/paypal/",
            Some("brand-protection"),
            Category::FraudPhishing,
            Some(TrustHint::Normal),
        ),
        (
            "noc@cert.pl",
            "Incident notice",
            "Host 198.51.100.3 seen.",
            Some("cert"),
            Category::CyberHarm,
            Some(TrustHint::Trusted),
        ),
        (
            "someone@isp.example",
            "abuse from your network",
            "该IP 198.51.100.61 对我方服务器进行暴力破解",
            None,
            Category::Hacking,
            None,
        ),
        (
            "someone@isp.example",
            "Open resolver on your network",
            "192.0.2.53 answers recursive queries and takes part in DDoS amplification.",
            None,
            Category::CyberHarm,
            None,
        ),
    ];
    for (from, subject, body, rule, category, trust) in cases {
        let mail = parse_message(&text_mail(from, subject, body), &Limits::default())
            .unwrap_or_else(|e| panic!("{subject}: {e}"));
        let r = &mail.reports[0];
        let d = details(r);
        assert_eq!(
            (d.rule.as_deref(), r.category, d.trust),
            (rule, category, trust),
            "{subject}"
        );
    }
    // The open resolver is notify-only (the first row of the keyword table), though it names a DDoS.
    let mail = parse_message(
        &text_mail(
            "someone@isp.example",
            "Open resolver on your network",
            "192.0.2.53, DDoS",
        ),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(mail.reports[0].disposition, Disposition::NotifyOnly);
    // A CERT notice without a keyword is read, with a warning.
    let mail = parse_message(
        &text_mail("noc@cert.pl", "Incident notice", "Host 198.51.100.3 seen."),
        &Limits::default(),
    )
    .unwrap();
    assert!(
        mail.warnings.iter().any(|w| w.contains("no keyword")),
        "{:?}",
        mail.warnings
    );
    // A spoofed subdomain-lookalike is not a CERT.
    assert!(!freeform::default_rules()[2].matches(Some("evilcert.org.cn"), None));
    assert!(freeform::default_rules()[2].matches(Some("mail.cert.org.cn"), None));
}

#[test]
fn without_a_rule_or_a_keyword_there_is_no_report() {
    let e = parse_message(
        &text_mail("someone@isp.example", "hello", "see 198.51.100.3"),
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(e.code(), "no_report");
    assert!(e.to_string().contains("no recognised reporter"), "{e}");
    let e = parse_message(
        &text_mail(
            "someone@isp.example",
            "phishing!",
            "there is a phishing site somewhere",
        ),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("names no IP address, URL or domain"),
        "{e}"
    );
}

#[test]
fn the_caller_replaces_the_rules() {
    let rules = vec![
        ReporterRule {
            name: "brand-desk".into(),
            sender_domains: vec!["brand.example".into()],
            subject: Some(SubjectPattern::regex(r"(?i)^trademark notice #\d+").unwrap()),
            category: Some(Category::RightsInfringement),
            trust: Some(TrustHint::Trusted),
        },
        ReporterRule {
            name: "muted".into(),
            sender_domains: vec!["noisy.example".into()],
            subject: None,
            category: None,
            trust: Some(TrustHint::Muted),
        },
    ];
    let m = text_mail(
        "legal@brand.example",
        "Trademark notice #77",
        "Counterfeit shop at https://shop.customer.example/",
    );
    let r = &parse_message_with(&m, &Limits::default(), &rules)
        .unwrap()
        .reports[0];
    assert_eq!(r.category, Category::RightsInfringement);
    assert_eq!(details(r).trust, Some(TrustHint::Trusted));
    assert_eq!(r.claimed_type, "rule:brand-desk");
    // The subject must match too.
    let m = text_mail("legal@brand.example", "Re: notice", "spam from 192.0.2.1");
    let r = &parse_message_with(&m, &Limits::default(), &rules)
        .unwrap()
        .reports[0];
    assert_eq!(details(r).rule, None);
    assert_eq!(r.category, Category::SpamMail);
    let m = text_mail("bot@noisy.example", "scan", "port scan from 192.0.2.2");
    let r = &parse_message_with(&m, &Limits::default(), &rules)
        .unwrap()
        .reports[0];
    assert_eq!(
        (details(r).trust, r.category),
        (Some(TrustHint::Muted), Category::Scanning)
    );
    // With no rules at all, a SpamCop report says no keyword (`SpamCop` is not the word
    // `spam`): no report; the rule is what reads it.
    let e = parse_message_with(&super::corpus("spamcop.eml"), &Limits::default(), &[]).unwrap_err();
    assert_eq!(e.code(), "no_report", "{e}");
    let e = SubjectPattern::regex("(unclosed").unwrap_err();
    assert!(e.to_string().contains("(unclosed"), "{e}");
    let empty = ReporterRule {
        name: "all".into(),
        sender_domains: vec![],
        subject: None,
        category: None,
        trust: None,
    };
    assert!(
        !empty.matches(Some("x.example"), Some("y")),
        "a rule of nothing matches nothing"
    );
}

#[test]
fn candidates_are_refanged_canonical_and_deduplicated() {
    let cases: &[(&str, &[&str])] = &[
        (
            "192.0.2[.]1 and 192.0.2(.)1 and 192{.}0{.}2{.}1",
            &["192.0.2.1"],
        ),
        (
            "hxxp://bad[.]customer[.]example/x",
            &["http://bad.customer.example/x"],
        ),
        (
            "hXXps[://]login[dot]customer[dot]example/a?b=1&amp;c=2.",
            &["https://login.customer.example/a?b=1&c=2"],
        ),
        (
            "IP:203.0.113.4, port 192.0.2.7:8080; [2001:db8::1]:443",
            &["203.0.113.4", "192.0.2.7", "2001:db8::1"],
        ),
        (
            "2001:DB8:0:0:0:0:0:1 and 2001:db8::1 and ::ffff:192.0.2.9",
            &["2001:db8::1", "192.0.2.9"],
        ),
        (
            "version 1.2.3.4.5, v10.0.0.1, 999.1.1.1, 12:30:45, 00:1a:2b:3c:4d:5e",
            &[],
        ),
        ("127.0.0.1 0.0.0.0 224.0.0.1 ::1 :: 255.255.255.255", &[]),
        (
            "report.csv index.php e.g. U.S. node.js Mr.Smith",
            &["mr.smith"],
        ),
        (
            "EXAMPLE.com, www.Example.COM. and mail@sub.example.org",
            &["example.com", "www.example.com", "sub.example.org"],
        ),
        ("(see http://a.example/path)", &["http://a.example/path"]),
        (
            "https://b.example/x and b.example and https://203.0.113.50/p 203.0.113.50",
            &["https://b.example/x", "https://203.0.113.50/p"],
        ),
        ("std::vec::Vec and Foo::bar", &[]),
        ("例子.中国 and 服务器198.51.100.9被入侵", &["198.51.100.9"]),
    ];
    for (text, want) in cases {
        let got: Vec<String> = freeform::candidates(text, 100)
            .iter()
            .map(|t| t.canonical())
            .collect();
        assert_eq!(&got, want, "{text}");
    }
    let many: String = (1..=200).map(|i| format!("198.51.100.{i} ")).collect();
    assert_eq!(freeform::candidates(&many, 50).len(), 50);
    assert_eq!(freeform::refang("hxxp://x[.]example"), "http://x.example");
    assert_eq!(
        freeform::keyword_category("Brute-force SSH logins").map(|k| k.0),
        Some(Category::Hacking)
    );
    assert_eq!(
        freeform::keyword_category("windows update"),
        None,
        "`dos` is a word"
    );
    assert_eq!(freeform::keyword_category("robots.txt"), None);
}

#[test]
fn many_candidates_are_cut_at_the_bound_with_a_warning() {
    let body: String = (1..=250)
        .map(|i| format!("sshd: Failed password from 198.51.100.{i}\r\n"))
        .collect();
    let m = text_mail("root@server.victim.example", "[Fail2Ban] digest", &body);
    let l = Limits {
        max_candidates: 100,
        ..Limits::default()
    };
    let mail = parse_message(&m, &l).unwrap();
    assert_eq!(mail.reports[0].targets.len(), 100);
    assert!(
        mail.warnings.iter().any(|w| w.contains("dropped")),
        "{:?}",
        mail.warnings
    );
    // The default keeps them all (the caller filters to what it hosts).
    let mail = parse_message(&m, &Limits::default()).unwrap();
    assert_eq!(mail.reports[0].targets.len(), 250);
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        z.start_file(*name, opts).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap().into_inner()
}

fn gzip_of(bytes: &[u8]) -> Vec<u8> {
    let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    g.write_all(bytes).unwrap();
    g.finish().unwrap()
}

fn mail_with_attachment(bytes: &[u8], content_type: &str, name: &str) -> Vec<u8> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut m = format!(
        "From: analyst@lab.example\r\nSubject: malware on your network\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: text/plain\r\n\r\nEvidence attached.\r\n--a\r\nContent-Type: {content_type}; name=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    )
    .into_bytes();
    for line in b64.as_bytes().chunks(76) {
        m.extend_from_slice(line);
        m.extend_from_slice(b"\r\n");
    }
    m.extend_from_slice(b"--a--\r\n");
    m
}

#[test]
fn zip_and_gzip_bombs_are_refused_naming_the_bound() {
    let l = Limits {
        max_decompressed_bytes: 1024 * 1024,
        ..Limits::default()
    };
    let zeros = vec![0u8; 2 * 1024 * 1024];
    let bomb = zip_of(&[("zeros.txt", &zeros)]);
    assert!(bomb.len() < 16 * 1024, "{} bytes", bomb.len());
    let e = parse_message(
        &mail_with_attachment(&bomb, "application/zip", "bomb.zip"),
        &l,
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            MailError::Limit {
                limit: Limit::DecompressedBytes,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string()
            .starts_with("part 2 (application/zip) entry `zeros.txt`"),
        "{e}"
    );
    assert!(e.to_string().contains("max_decompressed_bytes"), "{e}");

    let gz = gzip_of(&zeros);
    let e = parse_message(
        &mail_with_attachment(&gz, "application/gzip", "log.txt.gz"),
        &l,
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            MailError::Limit {
                limit: Limit::DecompressedBytes,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string().starts_with("part 2 (application/gzip)"),
        "{e}"
    );
    let e = parse_document(&gz, "log.txt.gz", &l).unwrap_err();
    assert!(
        matches!(
            e,
            MailError::Limit {
                limit: Limit::DecompressedBytes,
                ..
            }
        ),
        "{e}"
    );

    // The budget is the message's: two halves of it in two attachments add up.
    let half = zip_of(&[
        ("a.txt", &zeros[..700 * 1024]),
        ("b.txt", &zeros[..700 * 1024]),
    ]);
    let e = parse_message(
        &mail_with_attachment(&half, "application/zip", "two.zip"),
        &l,
    )
    .unwrap_err();
    assert!(e.to_string().contains("entry `b.txt`"), "{e}");

    let many: Vec<(String, Vec<u8>)> = (0..20)
        .map(|i| (format!("f{i}.txt"), b"x".to_vec()))
        .collect();
    let refs: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let e = parse_message(
        &mail_with_attachment(&zip_of(&refs), "application/zip", "many.zip"),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            MailError::Limit {
                limit: Limit::ArchiveEntries,
                actual: 20,
                ..
            }
        ),
        "{e}"
    );

    let e = parse_message(
        &mail_with_attachment(b"not a zip at all", "application/zip", "x.zip"),
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(e.code(), "bad_archive", "{e}");
    assert!(e.to_string().starts_with("part 2 (application/zip)"), "{e}");
}

#[test]
fn an_archive_inside_an_archive_is_not_opened() {
    let inner = zip_of(&[("evidence.txt", b"malware at 198.51.100.5")]);
    let outer = zip_of(&[
        ("inner.zip", &inner),
        ("note.txt", b"trojan dropper on 198.51.100.6"),
    ]);
    let mail = parse_message(
        &mail_with_attachment(&outer, "application/zip", "outer.zip"),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(canon(&mail.reports[0]), ["198.51.100.6"]);
    assert!(
        mail.warnings.iter().any(|w| w.contains("one level only")),
        "{:?}",
        mail.warnings
    );
    // An octet-stream attachment that is a zip is opened too.
    let mail = parse_message(
        &mail_with_attachment(&outer, "application/octet-stream", "blob"),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(canon(&mail.reports[0]), ["198.51.100.6"]);
    // A zipped Shadowserver CSV is a structured report.
    let csv = super::corpus("2026-11-30-scan_dns-example-asn.csv");
    let z = zip_of(&[("2026-11-30-scan_dns-example-asn.csv", &csv)]);
    let mail = parse_message(
        &mail_with_attachment(&z, "application/zip", "report.zip"),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(mail.reports.len(), 4);
    assert_eq!(mail.reports[0].format, Format::Shadowserver);
    assert_eq!(mail.reports[0].raw.part, "part 2 row 2");
}
