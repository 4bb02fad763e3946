//! X-ARF v3 intake (INT-2) against abusix/xarf's own test data (MIT): every sample is accepted
//! and mapped, every negative is rejected naming the expected field.

// The helpers below are test code too: a failed read or parse is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use serde_json::{Value, json};
use warden_domain::taxonomy::Category;
use warden_domain::time::Timestamp;
use warden_domain::xarf::{MAX_ITEMS, MAX_XARF_BYTES, XarfError, parse_v3, parse_v3_all};

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/xarf/abusix_v3"
);

fn read(dir: &str, name: &str) -> Vec<u8> {
    std::fs::read(format!("{DATA}/{dir}/{name}")).unwrap_or_else(|e| panic!("{dir}/{name}: {e}"))
}

fn files(dir: &str) -> BTreeSet<String> {
    std::fs::read_dir(format!("{DATA}/{dir}"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect()
}

/// A data file with `edit` applied, as bytes.
fn edited(dir: &str, name: &str, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut doc: Value = serde_json::from_slice(&read(dir, name)).unwrap();
    edit(&mut doc);
    serde_json::to_vec(&doc).unwrap()
}

fn report_mut(doc: &mut Value) -> &mut serde_json::Map<String, Value> {
    doc.get_mut("Report")
        .and_then(Value::as_object_mut)
        .unwrap()
}

fn err(bytes: &[u8]) -> XarfError {
    parse_v3(bytes).expect_err("must be rejected")
}

fn codes(errors: &[XarfError]) -> Vec<(&'static str, &str)> {
    errors.iter().map(|e| (e.code, e.field.as_str())).collect()
}

/// file → (ReportClass, ReportType, category, target).
const SAMPLES: &[(&str, &str, &str, Category, &str)] = &[
    (
        "botnet_sample.json",
        "Content",
        "Botnet",
        Category::Malware,
        "192.0.2.55",
    ),
    (
        "childabuse_sample.json",
        "Content",
        "ChildAbuse",
        Category::PornVulgar,
        "http://evil.website.com/index.html",
    ),
    (
        "copyright_sample.json",
        "Content",
        "Copyright",
        Category::Infringement,
        "http://www.badexample.com/badexapmplesong.mp3",
    ),
    (
        "ddos_sample.json",
        "Activity",
        "DOS",
        Category::DdosAttack,
        "192.0.2.55",
    ),
    (
        "exploit_sample.json",
        "Activity",
        "Exploit",
        Category::Hacking,
        "192.0.2.55",
    ),
    (
        "exploit_sample_minimal.json",
        "Activity",
        "Exploit",
        Category::Hacking,
        "192.0.2.55",
    ),
    (
        "harassment_sample_game.json",
        "Activity",
        "Harassment",
        Category::Defamation,
        "https://thepetgoatgame.play",
    ),
    (
        "harassment_sample_image.json",
        "Activity",
        "Harassment",
        Category::Privacy, // HarassmentType: doxing
        "https://social.media/comment/87896745329",
    ),
    (
        "harassment_sample_url.json",
        "Activity",
        "Harassment",
        Category::Defamation,
        "http://irc.5ch.net",
    ),
    (
        "loginattack_sample.json",
        "Activity",
        "LoginAttack",
        Category::Hacking,
        "192.0.2.55",
    ),
    (
        "loginattack_sample_optional_api_info.json",
        "Activity",
        "LoginAttack",
        Category::Hacking,
        "192.0.2.55",
    ),
    (
        "malware_no_url.json",
        "Content",
        "Malware",
        Category::Malware,
        "192.0.2.55",
    ),
    (
        "malware_sample.json",
        "Content",
        "Malware",
        Category::Malware,
        "http://example.org/hosted_malware.exe",
    ),
    (
        "openservice_sample.json",
        "Vulnerability",
        "OpenService",
        Category::CyberHarm,
        "192.0.2.55",
    ),
    (
        "openservice_sample_minimal.json",
        "Vulnerability",
        "OpenService",
        Category::CyberHarm,
        "192.0.2.55",
    ),
    (
        "openservice_sample_optional_api_info.json",
        "Vulnerability",
        "OpenService",
        Category::CyberHarm,
        "192.0.2.55",
    ),
    (
        "phishing_sample.json",
        "Content",
        "Phishing",
        Category::FraudPhishing,
        "http://phish.example.org/index.html",
    ),
    (
        "portscan_sample.json",
        "Activity",
        "PortScan",
        Category::Scanning,
        "192.0.2.55",
    ),
    (
        "potentially_compromised_attacker_sample.json",
        "Activity",
        "PotentiallyCompromisedAccount",
        Category::Hacking,
        "198.51.100.33",
    ),
    (
        "potentially_compromised_sample.json",
        "Activity",
        "PotentiallyCompromisedAccount",
        Category::Hacking,
        "198.51.100.33",
    ),
    (
        "potentially_compromised_sample_email.json",
        "Activity",
        "PotentiallyCompromisedAccount",
        Category::Hacking,
        "198.51.100.33",
    ),
    (
        "reporter_info_minimal.json",
        "Activity",
        "Spam",
        Category::SpamMail,
        "192.0.2.55",
    ),
    (
        "reporter_info_org.json",
        "Activity",
        "Spam",
        Category::SpamMail,
        "192.0.2.55",
    ),
    (
        "reporter_info_person.json",
        "Activity",
        "Spam",
        Category::SpamMail,
        "192.0.2.55",
    ),
    (
        "rpz_sample.json",
        "Activity",
        "Malware",
        Category::Malware,
        "192.0.2.55",
    ),
    (
        "rpz_sample_additional_fields.json",
        "Activity",
        "Malware",
        Category::Malware,
        "2001:db8:1300:9:3949:9d93:bd2:9da5",
    ),
    (
        "spam_sample.json",
        "Activity",
        "Spam",
        Category::SpamMail,
        "192.0.2.55",
    ),
    (
        "trademark_sample.json",
        "Content",
        "Trademark",
        Category::RightsInfringement,
        "http://www.i-steal-your-trademark.com/your.logo",
    ),
    (
        "webcrawler_sample.json",
        "Activity",
        "WebCrawler",
        Category::MaliciousCrawler,
        "192.0.2.59",
    ),
];

/// file → the (code, field) `parse_v3` rejects it with: the first problem in schema order. Most
/// files have one defect, the one their name gives; comments explain the others.
const NEGATIVES: &[(&str, &str, &str)] = &[
    // The file's ReportType is "Harassed", not an X-ARF type, so it fails before the harassment
    // fields are looked at; `harassment_fields_are_required` checks the named defect.
    (
        "harassment_sample_no_description.json",
        "unsupported_type",
        "Report.ReportType",
    ),
    (
        "harassment_sample_no_harasser.json",
        "unsupported_type",
        "Report.ReportType",
    ),
    // Custom values may only be strings or integers.
    (
        "invalid_additional_fields.json",
        "invalid_field",
        "Report.Custom.NumberOfIncidents",
    ),
    (
        "invalid_b64_flag.json",
        "invalid_field",
        "Report.Samples[0].Base64Encoded",
    ),
    (
        "invalid_byte_count.json",
        "invalid_field",
        "Report.ByteCount",
    ),
    ("invalid_date.json", "invalid_field", "Report.Date"),
    (
        "invalid_destination.json",
        "invalid_field",
        "Report.DestinationIp",
    ),
    (
        "invalid_destination2.json",
        "invalid_field",
        "Report.DestinationIp",
    ),
    (
        "invalid_email_as_identifier_potentially_compromised_account.json",
        "invalid_field",
        "Report.Account.AccountIdentifier",
    ),
    (
        "invalid_emails.json",
        "invalid_field",
        "Report.SmtpMailFromAddress",
    ),
    ("invalid_empty.json", "missing_field", "ReporterInfo"),
    (
        "invalid_empty_account.json",
        "invalid_field",
        "Report.Account",
    ),
    (
        "invalid_exploit_wrong_cve.json",
        "invalid_field",
        "Report.CVE",
    ),
    (
        "invalid_exploit_wrong_vector.json",
        "invalid_field",
        "Report.CVSS.Vector",
    ),
    (
        "invalid_exploit_wrong_version.json",
        "invalid_field",
        "Report.CVSS.Version",
    ),
    (
        "invalid_file_hash.json",
        "invalid_field",
        "Report.FileHash.HashAlgorithm",
    ),
    ("invalid_file_info.json", "invalid_field", "Report.FileSize"),
    (
        "invalid_first_seen.json",
        "invalid_field",
        "Report.FirstSeen",
    ),
    (
        "invalid_host_name.json",
        "invalid_field",
        "Report.RpzDomain",
    ),
    // SourceUrl (a number) is one of the broken props and the source comes first in schema
    // order; InfringedMaterial is in `NAMED_DEFECTS`.
    (
        "invalid_infringed_props.json",
        "invalid_field",
        "Report.SourceUrl",
    ),
    (
        "invalid_internal_processing_wrong_data_type.json",
        "invalid_field",
        "InternalProcessing.SubscriberInformation.ID",
    ),
    ("invalid_ip.json", "invalid_field", "Report.SourceIp"),
    ("invalid_ip2.json", "invalid_field", "Report.SourceIp"),
    (
        "invalid_missing_account.json",
        "missing_field",
        "Report.Account",
    ),
    ("invalid_missing_report.json", "missing_field", "Report"),
    (
        "invalid_missing_report_class_report_type.json",
        "missing_field",
        "Report.ReportClass",
    ),
    (
        "invalid_missing_reporter.json",
        "missing_field",
        "ReporterInfo",
    ),
    (
        "invalid_missing_reporter_props.json",
        "missing_field",
        "ReporterInfo.ReporterOrg",
    ),
    (
        "invalid_missing_reporter_props2.json",
        "invalid_field",
        "ReporterInfo",
    ),
    (
        "invalid_missing_reporter_props3.json",
        "invalid_field",
        "ReporterInfo",
    ),
    (
        "invalid_missing_reporter_props4.json",
        "invalid_field",
        "ReporterInfo",
    ),
    (
        "invalid_missing_reporter_props5.json",
        "missing_field",
        "ReporterInfo.ReporterOrgEmail",
    ),
    (
        "invalid_on_behalf_of.json",
        "invalid_field",
        "OnBehalfOf.ComplainantOrg",
    ),
    (
        "invalid_openservice.json",
        "invalid_field",
        "Report.ServiceName",
    ),
    (
        "invalid_openservice2.json",
        "invalid_field",
        "Report.TransportProtocol",
    ),
    // ServiceVersion is a number and ServiceName is missing (both in schema order).
    (
        "invalid_openservice3.json",
        "invalid_field",
        "Report.ServiceVersion",
    ),
    (
        "invalid_openservice4.json",
        "missing_field",
        "Report.ServiceName",
    ),
    (
        "invalid_openservice_missing_service.json",
        "missing_field",
        "Report.ServiceName",
    ),
    ("invalid_ports.json", "invalid_field", "Report.SourcePort"),
    (
        "invalid_report_class_report_type.json",
        "invalid_field",
        "Report.ReportClass",
    ),
    (
        "invalid_report_class_report_type2.json",
        "invalid_field",
        "Report.ReportClass",
    ),
    ("invalid_report_part.json", "missing_field", "Report.Date"),
    (
        "invalid_reporter_info.json",
        "unknown_field",
        "ReporterInfo.ShouldNotBeHere",
    ),
    (
        "invalid_reporter_metadata.json",
        "invalid_field",
        "Report.ReporterCaseID",
    ),
    (
        "invalid_reporter_metadata2.json",
        "invalid_field",
        "Report.ReporterCaseID",
    ),
    ("invalid_sample.json", "invalid_field", "Report.Samples"),
    (
        "invalid_sample_2.json",
        "invalid_field",
        "Report.Samples[0].Description",
    ),
    (
        "invalid_type.json",
        "unsupported_type",
        "Report.ReportClass",
    ),
    // The account identifier is also a number, and the account comes first in schema order;
    // the SourceIp the name refers to is in `NAMED_DEFECTS`.
    (
        "invalid_used_ip_in_potentially_compromised_account.json",
        "invalid_field",
        "Report.Account.AccountIdentifier",
    ),
    (
        "invalid_used_url_in_potentially_compromised_account.json",
        "unknown_field",
        "Report.SourceUrl",
    ),
];

/// Defects a file's name refers to that are not its first problem: `parse_v3_all` lists them.
const NAMED_DEFECTS: &[(&str, &str, &str)] = &[
    (
        "invalid_infringed_props.json",
        "invalid_field",
        "Report.InfringedMaterial",
    ),
    (
        "invalid_infringed_props.json",
        "invalid_field",
        "Report.MaterialType",
    ),
    (
        "invalid_infringed_props.json",
        "invalid_field",
        "Report.CourtOrder",
    ),
    (
        "invalid_openservice3.json",
        "missing_field",
        "Report.ServiceName",
    ),
    (
        "invalid_ports.json",
        "invalid_field",
        "Report.DestinationPort",
    ),
    (
        "invalid_byte_count.json",
        "invalid_field",
        "Report.PacketCount",
    ),
    (
        "invalid_emails.json",
        "invalid_field",
        "Report.SmtpRcptToAddress",
    ),
    (
        "invalid_destination.json",
        "invalid_field",
        "Report.DestinationPort",
    ),
    (
        "invalid_email_as_identifier_potentially_compromised_account.json",
        "unknown_field",
        "Report.SourceIp",
    ),
    (
        "invalid_used_ip_in_potentially_compromised_account.json",
        "unknown_field",
        "Report.SourceIp",
    ),
    (
        "invalid_report_class_report_type.json",
        "invalid_field",
        "Report.ReportType",
    ),
    ("invalid_empty.json", "missing_field", "Report"),
];

#[test]
fn every_sample_is_accepted_and_mapped() {
    let listed: BTreeSet<String> = SAMPLES.iter().map(|s| s.0.to_string()).collect();
    assert_eq!(
        listed,
        files("samples"),
        "SAMPLES must list every sample file"
    );
    assert_eq!(listed.len(), 29);
    for &(name, class, rtype, category, target) in SAMPLES {
        let r =
            parse_v3(&read("samples", name)).unwrap_or_else(|e| panic!("{name}: {e} ({})", e.code));
        assert_eq!(
            (r.report_class.as_str(), r.report_type.as_str()),
            (class, rtype),
            "{name}"
        );
        assert_eq!(r.category, category, "{name}");
        assert_eq!(r.target, target, "{name}");
        assert!(
            r.summary.starts_with(&format!("X-ARF {class}/{rtype}")),
            "{name}: {}",
            r.summary
        );
        assert!(parse_v3_all(&read("samples", name)).is_ok(), "{name}");
    }
}

#[test]
fn every_negative_is_rejected_for_its_reason() {
    let listed: BTreeSet<String> = NEGATIVES.iter().map(|s| s.0.to_string()).collect();
    assert_eq!(
        listed,
        files("negative"),
        "NEGATIVES must list every negative file"
    );
    assert_eq!(listed.len(), 50);
    for &(name, code, field) in NEGATIVES {
        let bytes = read("negative", name);
        let e = err(&bytes);
        assert_eq!(
            (e.code, e.field.as_str()),
            (code, field),
            "{name}: {}",
            e.message
        );
        assert!(!e.message.is_empty(), "{name}");
        let all = parse_v3_all(&bytes).expect_err(name);
        assert_eq!(
            all.first(),
            Some(&e),
            "{name}: parse_v3 reports parse_v3_all's first problem"
        );
    }
}

#[test]
fn every_named_defect_is_reported() {
    for &(name, code, field) in NAMED_DEFECTS {
        let all = parse_v3_all(&read("negative", name)).expect_err(name);
        assert!(
            codes(&all).contains(&(code, field)),
            "{name}: {field} missing from {:?}",
            codes(&all)
        );
    }
}

#[test]
fn harassment_fields_are_required() {
    // The abusix files misspell the type ("Harassed"); spelled right, they fail for the reason
    // their names give (and for the SourceUrl "192.168.0.11", which is not a URI).
    let fixed = |name| {
        edited("negative", name, |d| {
            report_mut(d).insert("ReportType".into(), json!("Harassment"));
        })
    };
    let all = parse_v3_all(&fixed("harassment_sample_no_description.json")).unwrap_err();
    assert_eq!(
        codes(&all),
        [
            ("invalid_field", "Report.SourceUrl"),
            ("missing_field", "Report.HarassmentDescription")
        ]
    );
    let all = parse_v3_all(&fixed("harassment_sample_no_harasser.json")).unwrap_err();
    assert_eq!(
        codes(&all),
        [
            ("invalid_field", "Report.SourceUrl"),
            ("missing_field", "Report.Harasser")
        ]
    );
}

#[test]
fn report_fields_are_kept() {
    let r = parse_v3(&read("samples", "copyright_sample.json")).unwrap();
    assert_eq!(
        r.occurred_at,
        Timestamp::parse_rfc3339("2018-02-05T18:17:10Z").unwrap()
    );
    assert_eq!(r.reporter_org.as_deref(), Some("ExampleOrg"));
    // No reporter contact; the complainant's (OnBehalfOf) is sealed in its place (AUD-4).
    assert_eq!(
        r.reporter_contact.as_deref(),
        Some("Legal Team; legal@complainant.example.com; 0012345678")
    );
    assert_eq!(
        r.summary,
        "X-ARF Content/Copyright: InfringedMaterial: Example - Mr. Example; MaterialType: Music"
    );

    let r = parse_v3(&read("samples", "botnet_sample.json")).unwrap();
    assert_eq!(
        r.reporter_contact.as_deref(),
        Some("Mr. Example; contact@example.com; + 01 000 1234567")
    );
    assert_eq!(r.summary, "X-ARF Content/Botnet: BotnetName: Mariposa");

    let r = parse_v3(&read("samples", "phishing_sample.json")).unwrap();
    assert_eq!(r.summary, "X-ARF Content/Phishing");

    let r = parse_v3(&read("samples", "rpz_sample.json")).unwrap();
    assert_eq!(
        r.summary,
        "X-ARF Activity/Malware (RPZ-Rewrite): MalwareName: necurs; RpzDomain: malicious.example.org"
    );

    let r = parse_v3(&read("samples", "harassment_sample_game.json")).unwrap();
    assert_eq!(r.reporter_org, None);
    assert_eq!(
        r.reporter_contact.as_deref(),
        Some("Harassed McPerson; contact@example.com; + 01 555 1234567")
    );
}

#[test]
fn target_falls_back_to_what_warden_can_act_on() {
    // An irc:// URL is a valid URI but no Warden target: the IP is used.
    let bytes = edited("samples", "malware_sample.json", |d| {
        report_mut(d).insert("SourceUrl".into(), json!("irc://irc.example.org/channel"));
    });
    assert_eq!(parse_v3(&bytes).unwrap().target, "192.0.2.55");
    // ... and with no IP the report is refused, naming the URL.
    let bytes = edited("samples", "harassment_sample_url.json", |d| {
        report_mut(d).insert("SourceUrl".into(), json!("irc://irc.5ch.net/room"));
    });
    let e = err(&bytes);
    assert_eq!(
        (e.code, e.field.as_str()),
        ("invalid_field", "Report.SourceUrl")
    );

    // A compromised account without DestinationIp: the domain of its e-mail.
    let bytes = edited(
        "samples",
        "potentially_compromised_sample_email.json",
        |d| {
            report_mut(d).remove("DestinationIp");
        },
    );
    assert_eq!(parse_v3(&bytes).unwrap().target, "gmail.com");
    let bytes = edited("samples", "potentially_compromised_sample.json", |d| {
        report_mut(d).remove("DestinationIp");
    });
    let e = err(&bytes);
    assert_eq!(
        (e.code, e.field.as_str()),
        ("missing_field", "Report.DestinationIp")
    );
}

#[test]
fn source_rules_per_type() {
    // IpAndUrlBasedReport needs one of SourceIp, SourceUrl.
    let bytes = edited("samples", "childabuse_sample.json", |d| {
        report_mut(d).remove("SourceIp");
        report_mut(d).remove("SourceUrl");
    });
    let e = err(&bytes);
    assert_eq!(
        (e.code, e.field.as_str()),
        ("missing_field", "Report.SourceIp")
    );
    // Phishing needs the URL.
    let bytes = edited("samples", "phishing_sample.json", |d| {
        report_mut(d).remove("SourceUrl");
    });
    let e = err(&bytes);
    assert_eq!(
        (e.code, e.field.as_str()),
        ("missing_field", "Report.SourceUrl")
    );
    // IpBasedReport needs the IP.
    let bytes = edited("samples", "ddos_sample.json", |d| {
        report_mut(d).remove("SourceIp");
    });
    let e = err(&bytes);
    assert_eq!(
        (e.code, e.field.as_str()),
        ("missing_field", "Report.SourceIp")
    );
    // Ports may be arrays.
    let bytes = edited("samples", "portscan_sample.json", |d| {
        report_mut(d).insert("DestinationPort".into(), json!([22, 80, 70000]));
    });
    let e = err(&bytes);
    assert_eq!(
        (e.code, e.field.as_str()),
        ("invalid_field", "Report.DestinationPort[2]")
    );
}

#[test]
fn class_and_type_must_match() {
    let bytes = edited("samples", "phishing_sample.json", |d| {
        report_mut(d).insert("ReportClass".into(), json!("Activity"));
    });
    let e = err(&bytes);
    assert_eq!(
        (e.code, e.field.as_str()),
        ("invalid_field", "Report.ReportClass")
    );
    let bytes = edited("samples", "rpz_sample.json", |d| {
        report_mut(d).insert("ReportSubType".into(), json!("Sinkhole"));
    });
    let e = err(&bytes);
    assert_eq!(
        (e.code, e.field.as_str()),
        ("invalid_field", "Report.ReportSubType")
    );
}

#[test]
fn samples_and_cvss_are_checked() {
    let bytes = edited("samples", "spam_sample.json", |d| {
        report_mut(d)["Samples"][0]["Payload"] = json!("this is not base64!");
    });
    let e = err(&bytes);
    assert_eq!(
        (e.code, e.field.as_str()),
        ("invalid_field", "Report.Samples[0].Payload")
    );
    let bytes = edited("samples", "spam_sample.json", |d| {
        report_mut(d).insert("Samples".into(), json!([]));
    });
    assert_eq!(err(&bytes).field, "Report.Samples");
    // A file sample needs no ContentType/Payload.
    let bytes = edited("samples", "botnet_sample.json", |d| {
        report_mut(d).insert(
            "Samples".into(),
            json!([{"FileName": "run_me.exe", "FileSize": 3}]),
        );
    });
    assert!(parse_v3(&bytes).is_ok());

    let cvss = |c: Value| {
        edited("samples", "exploit_sample.json", |d| {
            report_mut(d).insert("CVSS".into(), c);
        })
    };
    for ok in [
        json!({"Version": "2", "Vector": "AV:N/AC:L/Au:N/C:P/I:P/A:P", "Severity": "High"}),
        json!({"Version": "2", "Vector": "(AV:N/AC:L/Au:N/C:C/I:C/A:C/E:POC/RL:OF/RC:C)"}),
        json!({"Version": "3.0", "Vector": "CVSS:3.0/AV:L/AC:H/PR:L/UI:R/S:U/C:L/I:N/A:N/E:P/RL:O/RC:C", "Severity": "Critical"}),
        json!({"Version": "3.1", "Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H/CR:H/IR:X/AR:M/MAV:N/MAC:L/MPR:N/MUI:N/MS:C/MC:H/MI:H/MA:H"}),
    ] {
        assert!(parse_v3(&cvss(ok.clone())).is_ok(), "{ok}");
    }
    for (bad, field) in [
        (
            json!({"Version": "2", "Vector": "AV:N/AC:L/Au:N/C:P/I:P/A:P", "Severity": "Critical"}),
            "Report.CVSS.Severity",
        ),
        (
            json!({"Version": "3.1", "Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H"}),
            "Report.CVSS.Vector",
        ),
        (json!({"Version": "3.1"}), "Report.CVSS.Vector"),
        (
            json!({"Version": "3.1", "Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", "Score": "10"}),
            "Report.CVSS.Score",
        ),
    ] {
        assert_eq!(err(&cvss(bad.clone())).field, field, "{bad}");
    }
}

#[test]
fn version_and_json_errors() {
    let e = err(b"{\"Version\": ");
    assert_eq!((e.code, e.field.as_str()), ("invalid_json", "$"));
    let e = err(b"[]");
    assert_eq!((e.code, e.field.as_str()), ("invalid_field", "$"));
    let e = err(&edited("samples", "spam_sample.json", |d| {
        d["Version"] = json!("2")
    }));
    assert_eq!(
        (e.code, e.field.as_str()),
        ("unsupported_version", "Version")
    );
    let e = err(&edited("samples", "spam_sample.json", |d| {
        d["Version"] = json!(3)
    }));
    assert_eq!((e.code, e.field.as_str()), ("invalid_field", "Version"));
    let e = err(br#"{"xarf_version": "4.0.0", "category": "messaging"}"#);
    assert_eq!(
        (e.code, e.field.as_str()),
        ("unsupported_version", "xarf_version")
    );
    let e = err(&edited("samples", "spam_sample.json", |d| {
        d.as_object_mut().unwrap().remove("Disclosure");
    }));
    assert_eq!((e.code, e.field.as_str()), ("missing_field", "Disclosure"));
    // A UTF-8 byte-order mark is tolerated.
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend(read("samples", "spam_sample.json"));
    assert!(parse_v3(&bom).is_ok());
}

#[test]
fn documents_are_bounded() {
    let mut big = read("samples", "spam_sample.json");
    big.resize(MAX_XARF_BYTES + 1, b' ');
    let e = err(&big);
    assert_eq!((e.code, e.field.as_str()), ("too_large", "$"));

    let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
    let bytes = edited("samples", "spam_sample.json", |d| {
        report_mut(d).insert("Extra".into(), serde_json::from_str(&deep).unwrap());
    });
    assert_eq!(err(&bytes).code, "too_large");

    let bytes = edited("samples", "spam_sample.json", |d| {
        let sample = report_mut(d)["Samples"][0].clone();
        report_mut(d).insert("Samples".into(), Value::Array(vec![sample; MAX_ITEMS + 1]));
    });
    let e = err(&bytes);
    assert_eq!((e.code, e.field.as_str()), ("too_large", "Report.Samples"));

    // Many defects: the list is capped.
    let bytes = edited("samples", "spam_sample.json", |d| {
        report_mut(d).insert("Samples".into(), Value::Array(vec![json!(1); MAX_ITEMS]));
    });
    let all = parse_v3_all(&bytes).unwrap_err();
    assert_eq!(all.len(), warden_domain::xarf::MAX_ERRORS);
}
