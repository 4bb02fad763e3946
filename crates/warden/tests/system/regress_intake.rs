//! Regressions from probing intake, the lexicon and the re-check fetcher (issue 9, item 5): X-ARF
//! reporter contacts kept in clear in the evidence (AUD-4), lexicon terms that normalise to
//! nothing breaking every scan (DET-1), and IPv6 spellings of internal IPv4 addresses getting past
//! the fetcher's address check (DET-2).

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use warden_app::Settings;
use warden_app::recheck::{Verdict, is_internal};
use warden_domain::calendar::WorkCalendar;

use crate::both_engines;
use crate::lifecycle::{lifecycle, world};
use crate::support::{Engine, TestApp, shared_data, spawn_app};

both_engines!(
    regression_xarf_reporter_contact_is_sealed_not_kept_in_evidence,
    regression_lexicon_term_empty_after_normalisation_is_refused,
    regression_ipv6_forms_of_internal_ipv4_are_refused_before_connect,
    regression_xarf_complainant_contact_was_kept_in_clear,
);

// ---------------------------------------------------------------------------------------------
// AUD-4: X-ARF reporter contacts
// ---------------------------------------------------------------------------------------------

/// The contact fields of an X-ARF v3 document's `ReporterInfo`, then of its `OnBehalfOf`, as sent.
fn xarf_contacts(doc: &Value) -> Vec<String> {
    let reporter = warden_domain::xarf::CONTACT_FIELDS
        .iter()
        .filter_map(|k| doc["ReporterInfo"][k].as_str());
    let complainant = warden_domain::xarf::COMPLAINANT_CONTACT_FIELDS
        .iter()
        .filter_map(|k| doc["OnBehalfOf"][k].as_str());
    reporter.chain(complainant).map(str::to_string).collect()
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
        // Those with a reporter contact (the complainant's has a test of its own: the one
        // sample naming a complainant quotes "Mr. Example", another sample's reporter, as the
        // infringed material, which is no contact and is kept).
        let has_reporter = warden_domain::xarf::CONTACT_FIELDS
            .iter()
            .any(|k| doc["ReporterInfo"][k].is_string());
        if has_reporter {
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

/// AUD-4: an X-ARF report's `OnBehalfOf` names the complainant's contact person
/// (`ComplainantContactName`, `…Email`, `…Phone`), personal data like the reporter's; it was kept
/// in clear in the stored evidence and shown to reviewers. Now it is sealed with the reporter's
/// contact, and only the audited reveal route shows it.
async fn regression_xarf_complainant_contact_was_kept_in_clear(engine: Engine) {
    let Some(t) = spawn_app(engine, Settings::default()).await else {
        return;
    };
    let det = t.token("detector", None).await;
    let mut doc: Value = serde_json::from_slice(
        &std::fs::read(shared_data("xarf/abusix_v3/samples/copyright_sample.json")).unwrap(),
    )
    .unwrap();
    doc["OnBehalfOf"]["ComplainantContactName"] = json!("Cora Complainant-Regress");
    doc["OnBehalfOf"]["ComplainantContactEmail"] = json!("cora@complainant-regress.example");
    doc["OnBehalfOf"]["ComplainantContactPhone"] = json!("+86 139 7777 0202");
    let secrets = [
        "Cora Complainant-Regress",
        "cora@complainant-regress.example",
        "+86 139 7777 0202",
    ];
    let (s, r) = t
        .post_raw(
            "/api/reports/xarf",
            Some(&det),
            serde_json::to_vec(&doc).unwrap(),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let report = r["report_id"].as_str().unwrap().to_string();
    let case = r["case_id"].as_str().unwrap().to_string();
    for (file, bytes) in database_bytes(&t) {
        for secret in secrets {
            assert!(
                !contains(&bytes, secret.as_bytes())
                    && !contains(&bytes, hex::encode(secret).as_bytes()),
                "{file} holds the complainant contact {secret:?} in clear"
            );
        }
    }
    let reviewer = t.token("reviewer", None).await;
    let (s, v) = t
        .call(
            "GET",
            &format!("/api/cases/{case}/reports"),
            Some(&reviewer),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    for secret in secrets {
        assert!(
            !v.to_string().contains(secret),
            "{secret:?} shown to a reviewer: {v}"
        );
    }
    assert!(
        v.to_string().contains("ExampleComplainantOrg"),
        "the organisation stays: {v}"
    );
    let op = t.token("operator", None).await;
    let (s, rc) = t
        .call(
            "GET",
            &format!("/api/reports/{report}/reporter-contact"),
            Some(&op),
            None,
        )
        .await;
    assert_eq!(s, 200, "{rc}");
    let contact = rc["reporter_contact"].as_str().unwrap();
    for secret in secrets {
        assert!(
            contact.contains(secret),
            "{secret:?} missing from the sealed contact: {contact}"
        );
    }
    t.stop().await;
}

// ---------------------------------------------------------------------------------------------
// DET-1: lexicon terms that normalise to nothing
// ---------------------------------------------------------------------------------------------

/// Terms with nothing left after normalisation (DET-1 drops filler: controls, invisible chars,
/// punctuation, emoji, spaces).
const EMPTY_TERMS: &[&str] = &["\u{0}", "\u{200b}", "!!!", "🎰", " . "];

async fn lexicon_version(t: &TestApp, op: &str) -> u64 {
    let (s, l) = t.call("GET", "/api/lexicon", Some(op), None).await;
    assert_eq!(s, 200, "{l}");
    l["version"].as_u64().unwrap()
}

async fn scan_version(t: &TestApp, op: &str) -> u64 {
    let (s, v) = t
        .call(
            "POST",
            "/api/scan",
            Some(op),
            Some(&json!({ "text": "在线赌场 online casino" })),
        )
        .await;
    assert_eq!(s, 200, "a scan must keep working: {v}");
    v["verdict"]["lexicon_version"].as_u64().unwrap()
}

/// DET-1, DET-3, UNB-1: a term or `near` marker that normalised to nothing was accepted as a new
/// lexicon version that could not be built, and from then on every scan and every self-service
/// unblock failed with 409 until it was removed. Now it is refused naming the field and the
/// version does not move; a version that cannot be built (a bad row left by an older release)
/// never replaces the working scanner; removing a term that is not there is 404.
async fn regression_lexicon_term_empty_after_normalisation_is_refused(engine: Engine) {
    let Some(w) = world(engine, lifecycle(WorkCalendar::default())).await else {
        return;
    };
    let t = &w.t;
    let case = w.enforced_after_failed_self_unblock().await;
    let v0 = lexicon_version(t, &w.op).await;
    for bad in EMPTY_TERMS {
        for (body, field) in [
            (json!({ "category": "gambling", "term": bad }), "term"),
            (
                json!({ "category": "gambling", "term": "zorblax", "near": bad }),
                "near",
            ),
        ] {
            let (s, e) = t
                .call("POST", "/api/lexicon/terms", Some(&w.op), Some(&body))
                .await;
            assert_eq!(
                (s, e["code"].as_str(), e["details"]["field"].as_str()),
                (422, Some("invalid_field"), Some(field)),
                "{bad:?} as {field}: {e}"
            );
            assert!(
                e["details"]["reason"]
                    .as_str()
                    .unwrap()
                    .contains("nothing is left after normalisation"),
                "{e}"
            );
        }
    }
    // NUL and other control characters inside a term are refused as well (PostgreSQL text
    // cannot even store NUL).
    let (s, e) = t
        .call(
            "POST",
            "/api/lexicon/terms",
            Some(&w.op),
            Some(&json!({ "category": "gambling", "term": "zor\u{0}blax" })),
        )
        .await;
    assert_eq!(
        (s, e["details"]["field"].as_str()),
        (422, Some("term")),
        "{e}"
    );
    assert!(
        e["details"]["reason"]
            .as_str()
            .unwrap()
            .contains("control characters"),
        "{e}"
    );
    assert_eq!(lexicon_version(t, &w.op).await, v0, "nothing was stored");
    // Removing a term that is not there changes nothing.
    let (s, e) = t
        .call(
            "POST",
            "/api/lexicon/terms/remove",
            Some(&w.op),
            Some(&json!({ "category": "gambling", "term": "zorblax-never-added" })),
        )
        .await;
    assert_eq!((s, e["code"].as_str()), (404, Some("not_found")), "{e}");
    assert_eq!(lexicon_version(t, &w.op).await, v0, "no new version");
    assert_eq!(scan_version(t, &w.op).await, v0);

    // A row an older release let in: the version it makes cannot be built, so the working
    // scanner keeps serving scans and re-checks.
    let mut tx = t.app.store.begin_write().await.unwrap();
    tx.put_lexicon_term(&warden_store::scan::TermRow {
        category: "gambling".into(),
        term: "\u{200b}".into(),
        weight_milli: 1000,
        near_term: None,
        near_within: None,
        removed: false,
        updated_at: 0,
        updated_by: "older-release".into(),
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        scan_version(t, &w.op).await,
        v0,
        "the working version serves"
    );
    *w.page.lock().unwrap() = "<html>花店 flower shop</html>".into();
    let (s, r) = w.self_unblock(&case, true).await;
    assert_eq!((s, r["state"].as_str()), (201, Some("succeeded")), "{r}");
    // The bad row can be removed although it is invalid; the next version builds and serves.
    let (s, c) = t
        .call(
            "POST",
            "/api/lexicon/terms/remove",
            Some(&w.op),
            Some(&json!({ "category": "gambling", "term": "\u{200b}" })),
        )
        .await;
    assert_eq!(s, 200, "{c}");
    let v2 = c["version"].as_u64().unwrap();
    assert!(v2 > v0);
    assert_eq!(scan_version(t, &w.op).await, v2);
    w.t.stop().await;
}

/// DET-1: `warden lexicon add` and `remove` follow the same rules as the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_cli_lexicon_refuses_empty_terms_and_missing_removals() {
    let dir = tempfile::tempdir().unwrap();
    let warden = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("WARDEN_")) {
            cmd.env_remove(k);
        }
        let out = cmd.current_dir(dir.path()).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let version = || {
        let (code, out, err) = warden(&["lexicon", "list"]);
        assert_eq!(code, Some(0), "{err}");
        serde_json::from_str::<Value>(&out).unwrap()["version"].clone()
    };
    // Commands other than serve and migrate refuse a folder without a database.
    let (code, _, err) = warden(&["migrate"]);
    assert_eq!(code, Some(0), "{err}");
    let v0 = version();
    // A command-line argument cannot hold NUL; the rest go through the same checks.
    for bad in EMPTY_TERMS.iter().filter(|t| !t.contains('\0')) {
        let (code, _, err) = warden(&["lexicon", "add", "--category", "gambling", "--term", bad]);
        assert_eq!(code, Some(2), "{bad:?}: {err}");
        assert!(
            err.contains("term: nothing is left after normalisation"),
            "{bad:?}: {err}"
        );
    }
    let (code, _, err) = warden(&[
        "lexicon",
        "remove",
        "--category",
        "gambling",
        "--term",
        "zorblax-never-added",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("not found"), "{err}");
    assert_eq!(version(), v0, "nothing was stored");
    let (code, out, err) = warden(&[
        "lexicon",
        "add",
        "--category",
        "gambling",
        "--term",
        "zorblax",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(serde_json::from_str::<Value>(&out).unwrap()["version"] != v0);
}

// ---------------------------------------------------------------------------------------------
// DET-2: IPv6 spellings of internal IPv4 addresses
// ---------------------------------------------------------------------------------------------

/// DET-2: `http://[::127.0.0.1]/`, `http://[::ffff:0:127.0.0.1]/`, `http://[2002:7f00:1::]/` and
/// the like were not classed as internal, so a scan or re-check tried to connect to them. Each
/// address is first checked by classification, so that this test never makes the fetcher connect
/// to a non-loopback address; then the scan API and the re-checker must refuse naming the
/// address class. A literal loopback host (not allow-listed) is refused before any connection: a
/// listener on it sees none.
async fn regression_ipv6_forms_of_internal_ipv4_are_refused_before_connect(engine: Engine) {
    let Some(t) = spawn_app(engine, Settings::default()).await else {
        return;
    };
    let det = t.token("detector", None).await;
    let cases = [
        ("::127.0.0.1", "IPv4-compatible"),
        ("::ffff:0:127.0.0.1", "IPv4-translated"),
        // A mapped address is its IPv4 address everywhere (one canonical form per target), so
        // it is refused as that address; 127.0.0.1 itself is the tests' allow-listed page host.
        ("::ffff:127.0.0.2", "loopback"),
        ("2002:7f00:1::", "6to4"),
        ("2002:a9fe:a9fe::1", "6to4"),
        ("64:ff9b::127.0.0.1", "NAT64"),
        ("64:ff9b::10.0.0.1", "NAT64"),
        ("64:ff9b:1:7f00:0:100::", "NAT64"),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo"),
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "Teredo"),
    ];
    for (addr, class) in cases {
        assert!(
            is_internal(addr.parse().unwrap()),
            "{addr} must be classed internal ({class}) before anything may fetch it"
        );
    }
    for (addr, class) in cases {
        let url = format!("http://[{addr}]/");
        let (s, e) = t
            .call(
                "POST",
                "/api/scan",
                Some(&det),
                Some(&json!({ "url": url })),
            )
            .await;
        assert_eq!(
            (s, e["details"]["field"].as_str()),
            (422, Some("url")),
            "{e}"
        );
        let message = e["message"].as_str().unwrap();
        assert!(
            message.contains("non-public address") && message.contains(class),
            "{url}: {message}"
        );
        match t.app.rechecker.recheck(&url, &[], "porn_vulgar").await {
            Verdict::Unknown { reason } => {
                assert!(reason.contains(class), "{url}: {reason}")
            }
            other => panic!("{url}: {other:?}"),
        }
    }
    // Literal loopback hosts that are not allow-listed (the tests allow only 127.0.0.1): refused
    // before connecting, so the listener behind them is never reached.
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let v6 = tokio::net::TcpListener::bind("[::1]:0").await.ok();
    let mut urls = vec![
        format!("http://127.0.0.2:{port}/"),
        format!("http://127.0.0.2.:{port}/"),
        format!("http://2130706434:{port}/"),
        format!("http://0x7f.0.0.2:{port}/"),
        format!("http://[::ffff:127.0.0.2]:{port}/"),
        format!("http://[::ffff:7f00:2]:{port}/"),
    ];
    if let Some(l) = &v6 {
        urls.push(format!("http://[::1]:{}/", l.local_addr().unwrap().port()));
    }
    for url in &urls {
        let (s, e) = t
            .call(
                "POST",
                "/api/scan",
                Some(&det),
                Some(&json!({ "url": url })),
            )
            .await;
        assert_eq!(s, 422, "{url}: {e}");
        let message = e["message"].as_str().unwrap();
        assert!(
            message.contains("loopback") || message.contains("not an http(s) URL"),
            "{url}: {message}"
        );
    }
    for l in std::iter::once(&listener).chain(v6.as_ref()) {
        assert!(
            tokio::time::timeout(Duration::from_millis(200), l.accept())
                .await
                .is_err(),
            "the fetcher connected to {}",
            l.local_addr().unwrap()
        );
    }
    t.stop().await;
}
