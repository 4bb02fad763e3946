//! Regressions from probing intake, the lexicon and the re-check fetcher (issue 9, item 5): X-ARF
//! reporter contacts kept in clear in the evidence (AUD-4), lexicon terms that normalise to
//! nothing breaking every scan (DET-1), and IPv6 spellings of internal IPv4 addresses getting past
//! the fetcher's address check (DET-2).

use std::process::Command;

use serde_json::{Value, json};
use warden_app::Settings;

use crate::both_engines;
use crate::support::{Engine, TestApp, shared_data, spawn_app};

both_engines!(regression_xarf_reporter_contact_is_sealed_not_kept_in_evidence,);

// ---------------------------------------------------------------------------------------------
// AUD-4: X-ARF reporter contacts
// ---------------------------------------------------------------------------------------------

/// The contact fields of an X-ARF v3 document's `ReporterInfo`, as sent.
fn xarf_contacts(doc: &Value) -> Vec<String> {
    [
        "ReporterContactName",
        "ReporterContactEmail",
        "ReporterContactPhone",
    ]
    .iter()
    .filter_map(|k| doc["ReporterInfo"][k].as_str())
    .map(str::to_string)
    .collect()
}

/// Every byte the database holds: the SQLite file and its WAL, or a `pg_dump` of the PostgreSQL
/// database (whose `bytea` columns it writes as hex, so the hex spelling is searched too).
fn database_bytes(t: &TestApp) -> Vec<(String, Vec<u8>)> {
    match t.db_url.strip_prefix("sqlite://") {
        Some(path) => [path.to_string(), format!("{path}-wal")]
            .into_iter()
            .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
            .collect(),
        None => {
            let out = Command::new("pg_dump")
                .args(["--no-owner", "--dbname", &t.db_url])
                .output()
                .expect("pg_dump must be installed to search the PostgreSQL database");
            assert!(
                out.status.success(),
                "pg_dump failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            vec![("pg_dump".to_string(), out.stdout)]
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// AUD-4, INT-3: the whole X-ARF document was kept as evidence with the reporter's name, e-mail
/// and phone in clear, and staff reading the evidence saw them without any audit event. Now the
/// contact is sealed like a JSON report's, the kept document says where it went, and only the
/// audited reveal route shows it.
async fn regression_xarf_reporter_contact_is_sealed_not_kept_in_evidence(engine: Engine) {
    let Some(t) = spawn_app(engine, Settings::default()).await else {
        return;
    };
    let det = t.token("detector", None).await;
    // Every real v3 sample that names a reporter contact.
    let mut samples = Vec::new();
    for entry in std::fs::read_dir(shared_data("xarf/abusix_v3/samples")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        let contacts = xarf_contacts(&doc);
        if !contacts.is_empty() {
            samples.push((path, bytes, contacts));
        }
    }
    assert!(
        samples.len() >= 20,
        "expected the abusix samples with contacts"
    );
    let mut secrets: Vec<String> = Vec::new();
    let mut xarf_reports = Vec::new();
    for (path, bytes, contacts) in &samples {
        let (s, r) = t
            .post_raw("/api/reports/xarf", Some(&det), bytes.clone())
            .await;
        assert_eq!(s, 201, "{}: {r}", path.display());
        xarf_reports.push((
            r["report_id"].as_str().unwrap().to_string(),
            r["case_id"].as_str().unwrap().to_string(),
            contacts.join("; "),
        ));
        secrets.extend(contacts.iter().cloned());
    }
    // JSON reports with a contact, beside them.
    let json_contact = "Wen Whistle <wen.whistle@regress-contact.example> +86 139 5555 0101";
    let (s, r) = t
        .call(
            "POST",
            "/api/reports",
            Some(&t.admin),
            Some(&json!({ "target": "https://shop.example.net/fake", "category": "fraud", "evidence": "<html>pay here</html>", "reporter_contact": json_contact })),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let json_report = r["report_id"].as_str().unwrap().to_string();
    secrets.push(json_contact.to_string());
    secrets.push("wen.whistle@regress-contact.example".to_string());
    secrets.sort();
    secrets.dedup();

    // Not one contact value in clear anywhere in the database's bytes.
    for (file, bytes) in database_bytes(&t) {
        for secret in &secrets {
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "{file} holds the reporter contact {secret:?} in clear"
            );
            assert!(
                !contains(&bytes, hex::encode(secret).as_bytes()),
                "{file} holds the reporter contact {secret:?} in clear (hex bytea)"
            );
        }
    }

    // Staff reading a case's reports see the evidence, marked as sealed, and no contact; the
    // evidence digest is the digest of what is kept.
    let reviewer = t.token("reviewer", None).await;
    let op = t.token("operator", None).await;
    for (report_id, case_id, _) in &xarf_reports {
        for who in [&reviewer, &op] {
            let (s, v) = t
                .call(
                    "GET",
                    &format!("/api/cases/{case_id}/reports"),
                    Some(who),
                    None,
                )
                .await;
            assert_eq!(s, 200, "{v}");
            let text = v.to_string();
            for secret in &secrets {
                assert!(!text.contains(secret.as_str()), "{secret:?} shown: {text}");
            }
            let item = v["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["id"] == report_id.as_str())
                .unwrap_or_else(|| panic!("{report_id} not listed: {v}"));
            let evidence = item["evidence"].as_str().unwrap();
            assert!(evidence.contains("[sealed"), "{evidence}");
            assert_eq!(item["has_reporter_contact"], true, "{item}");
            assert_eq!(
                item["evidence_sha256"].as_str().unwrap(),
                warden_domain::sha256_hex(evidence.as_bytes())
            );
        }
    }
    // The reveal route opens the sealed contact, and only for admins and operators, audited.
    let (report_id, _, contact) = &xarf_reports[0];
    let (s, _) = t
        .call(
            "GET",
            &format!("/api/reports/{report_id}/reporter-contact"),
            Some(&reviewer),
            None,
        )
        .await;
    assert_eq!(s, 403);
    for (id, expected) in [
        (report_id.as_str(), contact.as_str()),
        (json_report.as_str(), json_contact),
    ] {
        let (s, rc) = t
            .call(
                "GET",
                &format!("/api/reports/{id}/reporter-contact"),
                Some(&op),
                None,
            )
            .await;
        assert_eq!((s, rc["reporter_contact"].as_str()), (200, Some(expected)));
    }
    let (_, ev) = t
        .call(
            "GET",
            "/api/audit?action=personal_data.read",
            Some(&t.admin),
            None,
        )
        .await;
    let subjects: Vec<&str> = ev["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["subject"].as_str().unwrap())
        .collect();
    assert_eq!(
        subjects,
        vec![
            format!("report:{report_id}"),
            format!("report:{json_report}")
        ],
        "{ev}"
    );
    t.stop().await;
}
