//! Intake over HTTP (INT-1..5), resources (RES-1..3), triage, personal data at rest (AUD-4).

use serde_json::{Value, json};
use warden_app::Settings;

use crate::both_engines;
use crate::support::{Engine, TestApp, shared_data, spawn_app};

both_engines!(
    xarf_samples_accepted_and_negatives_rejected,
    reports_correlate_within_the_window,
    batches_store_valid_items_only,
    anonymous_reports_are_rate_limited,
    bulk_import_reports_per_line,
    triage_confirms_and_dismisses_with_reason,
    personal_data_is_sealed_and_reads_are_audited,
);

async fn app(engine: Engine) -> Option<TestApp> {
    spawn_app(
        engine,
        Settings {
            public_reports_per_minute: 1_000,
            ..Settings::default()
        },
    )
    .await
}

async fn count_reports(t: &TestApp) -> i64 {
    t.app.store.count_reports().await.unwrap()
}

fn files(dir: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(shared_data(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no test data in {dir}");
    v
}

/// INT-2: every negative X-ARF sample → 4xx, stable code, offending field, nothing stored; every
/// positive sample → accepted and mapped to a taxonomy category.
async fn xarf_samples_accepted_and_negatives_rejected(engine: Engine) {
    let Some(t) = app(engine).await else { return };
    let det = t.token("detector", None).await;
    for path in files("xarf/abusix_v3/negative") {
        let before = count_reports(&t).await;
        let (status, body) = t
            .post_raw(
                "/api/reports/xarf",
                Some(&det),
                std::fs::read(&path).unwrap(),
            )
            .await;
        let name = path.file_name().unwrap().to_string_lossy();
        assert!((400..500).contains(&status), "{name}: {status} {body}");
        assert_eq!(body["code"], "invalid_xarf", "{name}: {body}");
        assert!(
            body["details"]["field"]
                .as_str()
                .is_some_and(|f| !f.is_empty()),
            "{name}: {body}"
        );
        assert!(body["details"]["reason"].is_string(), "{name}: {body}");
        assert_eq!(
            count_reports(&t).await,
            before,
            "{name}: nothing may be stored"
        );
    }
    let categories: Vec<&str> = warden_domain::taxonomy::CATEGORIES
        .iter()
        .map(|c| c.code)
        .collect();
    for path in files("xarf/abusix_v3/samples") {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let raw = std::fs::read(&path).unwrap();
        let (status, body) = t
            .post_raw("/api/reports/xarf", Some(&det), raw.clone())
            .await;
        assert_eq!(status, 201, "{name}: {body}");
        let (_, case) = t
            .call(
                "GET",
                &format!("/api/cases/{}", body["case_id"].as_str().unwrap()),
                Some(&t.admin),
                None,
            )
            .await;
        assert!(
            categories.contains(&case["category"].as_str().unwrap()),
            "{name}: {case}"
        );
        // INT-3: the whole report is the evidence, with its SHA-256; the reporter's contact in
        // it is sealed (AUD-4).
        let (_, reps) = t
            .call(
                "GET",
                &format!("/api/cases/{}/reports", case["id"].as_str().unwrap()),
                Some(&t.admin),
                None,
            )
            .await;
        let rep = reps["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == body["report_id"])
            .unwrap();
        assert_eq!(
            rep["evidence_sha256"],
            warden_domain::sha256_hex(&warden_domain::xarf::redact_contact(&raw).unwrap()),
            "{name}"
        );
        assert_eq!(rep["format"], "xarf");
    }
    let (_, b) = t
        .post_raw(
            "/api/reports/xarf",
            None,
            std::fs::read(shared_data("xarf/abusix_v3/samples/phishing_sample.json")).unwrap(),
        )
        .await;
    assert_eq!(
        b["status"], "received",
        "anonymous X-ARF reporters get a receipt: {b}"
    );
    assert!(
        b.get("case_id").is_none(),
        "anonymous reporters learn nothing about cases: {b}"
    );
    t.stop().await;
}

async fn seed_owner(t: &TestApp) {
    let (s, _) = t
        .call(
            "POST",
            "/api/accounts",
            Some(&t.admin),
            Some(&json!({ "id": "acme", "name": "Acme" })),
        )
        .await;
    assert_eq!(s, 201);
    let (s, b) = t
        .call(
            "POST",
            "/api/resources",
            Some(&t.admin),
            Some(&json!({ "id": "web-1", "account_id": "acme", "product": "cvm", "identifiers": [
                { "kind": "domain", "value": "acme.example" }, { "kind": "public_ip", "value": "203.0.113.0/28" }
            ] })),
        )
        .await;
    assert_eq!(s, 201, "{b}");
}

/// INT-4/INT-5: same (resource, target, category) within the window → one case with a duplicate
/// counter; another category or a report after the window → a new case; a sure detector confirms.
async fn reports_correlate_within_the_window(engine: Engine) {
    let Some(t) = app(engine).await else { return };
    seed_owner(&t).await;
    let r = |cat: &str| json!({ "target": "https://www.acme.example/bet?x=1", "category": cat, "views": 10 });
    let (s1, a) = t
        .call("POST", "/api/reports", None, Some(&r("gambling")))
        .await;
    assert_eq!(s1, 201, "{a}");
    let op = t.token("operator", None).await;
    let (_, b) = t
        .call("POST", "/api/reports", Some(&op), Some(&r("gambling")))
        .await;
    assert_eq!(
        (b["duplicate"].as_bool(), b["owned"].as_bool()),
        (Some(true), Some(true)),
        "{b}"
    );
    let case_id = b["case_id"].as_str().unwrap().to_string();
    let (_, c) = t
        .call(
            "GET",
            &format!("/api/cases/{case_id}"),
            Some(&t.admin),
            None,
        )
        .await;
    assert_eq!(
        (
            c["report_count"].as_i64(),
            c["duplicate_count"].as_i64(),
            c["resource_id"].as_str()
        ),
        (Some(2), Some(1), Some("web-1")),
        "{c}"
    );
    let (_, other) = t
        .call("POST", "/api/reports", Some(&op), Some(&r("fraud")))
        .await;
    assert_ne!(other["case_id"], b["case_id"]);
    // A week later (the default window) the same report opens a new case.
    t.clock.advance(7 * 86_400_000 + 1);
    let (_, late) = t
        .call("POST", "/api/reports", Some(&op), Some(&r("gambling")))
        .await;
    assert_eq!(late["duplicate"], false, "{late}");
    // Unknown targets go to triage as unowned.
    let (_, u) = t
        .call(
            "POST",
            "/api/reports",
            Some(&op),
            Some(&json!({ "target": "198.51.100.1", "category": "scanning" })),
        )
        .await;
    assert_eq!(u["owned"], false);
    let (_, q) = t
        .call("GET", "/api/cases?unowned=true", Some(&op), None)
        .await;
    assert!(
        q["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == u["case_id"])
    );
    // INT-5: a detector above its threshold confirms directly; below it, the case waits.
    let det = t.token("detector", None).await;
    let (_, lo) = t
        .call(
            "POST",
            "/api/reports",
            Some(&det),
            Some(&json!({ "target": "203.0.113.5", "category": "ddos_attack", "confidence": 0.5 })),
        )
        .await;
    assert_eq!(lo["case_state"], "reported", "{lo}");
    let (_, hi) = t
        .call(
            "POST",
            "/api/reports",
            Some(&det),
            Some(
                &json!({ "target": "203.0.113.5", "category": "ddos_attack", "confidence": 0.95 }),
            ),
        )
        .await;
    assert_eq!(
        (hi["case_state"].as_str(), hi["case_id"] == lo["case_id"]),
        (Some("confirmed"), true),
        "{hi}"
    );
    // Bad input names the field and stores nothing.
    let before = count_reports(&t).await;
    for (body, field) in [
        (json!({ "category": "gambling" }), "target"),
        (
            json!({ "target": "not a target", "category": "gambling" }),
            "target",
        ),
        (
            json!({ "target": "https://acme.example/", "category": "nonsense" }),
            "category",
        ),
        (
            json!({ "target": "https://acme.example/", "category": "gambling", "confidence": 7 }),
            "confidence",
        ),
        (
            json!({ "target": "https://acme.example/", "category": "gambling", "colour": "red" }),
            "colour",
        ),
    ] {
        let (s, e) = t.call("POST", "/api/reports", Some(&op), Some(&body)).await;
        assert_eq!(
            (s, e["code"].as_str(), e["details"]["field"].as_str()),
            (422, Some("invalid_field"), Some(field)),
            "{body}: {e}"
        );
    }
    let (s, e) = t
        .call("PUT", "/api/reports", Some(&op), Some(&json!({})))
        .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (405, Some("method_not_allowed")),
        "{e}"
    );
    let (s, e) = t
        .call("GET", "/api/cases?limit=lots", Some(&op), None)
        .await;
    assert_eq!(
        (s, e["code"].as_str(), e["details"]["field"].as_str()),
        (422, Some("invalid_field"), Some("limit")),
        "{e}"
    );
    let (s, e) = t
        .post_raw("/api/reports", Some(&op), b"{not json".to_vec())
        .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (400, Some("malformed_json")),
        "{e}"
    );
    assert_eq!(count_reports(&t).await, before);
    t.stop().await;
}

/// Batches: valid items stored in one transaction, invalid ones listed with their field.
async fn batches_store_valid_items_only(engine: Engine) {
    let Some(t) = app(engine).await else { return };
    seed_owner(&t).await;
    let det = t.token("detector", None).await;
    let items: Vec<Value> = (0..20)
        .map(|i| if i % 5 == 3 { json!({ "target": "??", "category": "gambling" }) } else { json!({ "target": format!("https://acme.example/p{}", i % 4), "category": "gambling" }) })
        .collect();
    let (s, b) = t
        .call(
            "POST",
            "/api/reports/batch",
            Some(&det),
            Some(&json!({ "reports": items })),
        )
        .await;
    assert_eq!(
        (s, b["accepted"].as_u64(), b["rejected"].as_u64()),
        (207, Some(16), Some(4)),
        "{b}"
    );
    assert_eq!(b["items"][3]["error"]["field"], "reports[3].target");
    assert_eq!(count_reports(&t).await, 16);
    let (_, n) = t
        .call("GET", "/api/cases/count", Some(&t.admin), None)
        .await;
    assert_eq!(
        n["count"], 4,
        "16 reports on 4 targets correlate into 4 cases"
    );
    let (s, e) = t
        .call(
            "POST",
            "/api/reports/batch",
            Some(&det),
            Some(&json!({ "reports": [] })),
        )
        .await;
    assert_eq!((s, e["details"]["field"].as_str()), (422, Some("reports")));
    t.stop().await;
}

/// INT-1: anonymous reporters are rate-limited per source IP; tokens are not.
async fn anonymous_reports_are_rate_limited(engine: Engine) {
    let Some(t) = spawn_app(
        engine,
        Settings {
            public_reports_per_minute: 3,
            ..Settings::default()
        },
    )
    .await
    else {
        return;
    };
    let body = json!({ "target": "https://spam.example/", "category": "spam_ads" });
    for _ in 0..3 {
        assert_eq!(
            t.call("POST", "/api/reports", None, Some(&body)).await.0,
            201
        );
    }
    let (s, e) = t.call("POST", "/api/reports", None, Some(&body)).await;
    assert_eq!((s, e["code"].as_str()), (429, Some("rate_limited")));
    let op = t.token("operator", None).await;
    assert_eq!(
        t.call("POST", "/api/reports", Some(&op), Some(&body))
            .await
            .0,
        201
    );
    t.clock.advance(60_000);
    assert_eq!(
        t.call("POST", "/api/reports", None, Some(&body)).await.0,
        201,
        "a new minute, a new allowance"
    );
    assert_eq!(count_reports(&t).await, 5);
    // X-Forwarded-For is ignored from an untrusted peer: it cannot buy a fresh allowance.
    for _ in 0..3 {
        t.call("POST", "/api/reports", None, Some(&body)).await;
    }
    let spoofed = t
        .client
        .post(format!("{}/api/reports", t.base))
        .header("x-forwarded-for", "192.0.2.99")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(spoofed.status().as_u16(), 429);
    t.stop().await;

    // Behind a trusted proxy (nginx on 127.0.0.1), each forwarded client has its own allowance.
    let settings = Settings {
        public_reports_per_minute: 2,
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..Settings::default()
    };
    let Some(t) = spawn_app(engine, settings).await else {
        return;
    };
    let send = |client: &'static str| {
        let req = t
            .client
            .post(format!("{}/api/reports", t.base))
            .header("x-forwarded-for", format!("{client}, 127.0.0.1"))
            .json(&body);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        (
            send("198.51.100.1").await,
            send("198.51.100.1").await,
            send("198.51.100.1").await
        ),
        (201, 201, 429)
    );
    assert_eq!(send("198.51.100.2").await, 201);
    t.stop().await;
}

/// RES-3: bulk import reports per line; a bad line stores nothing of itself and stops nothing.
async fn bulk_import_reports_per_line(engine: Engine) {
    let Some(t) = app(engine).await else { return };
    seed_owner(&t).await;
    let lines = [
        json!({ "id": "cdn-1", "account_id": "acme", "product": "cdn", "identifiers": [{ "kind": "domain", "value": "cdn.acme.example" }] }).to_string(),
        json!({ "id": "bad-1", "account_id": "acme", "product": "cvm", "identifiers": [{ "kind": "domain", "value": "ok.acme.example" }, { "kind": "public_ip", "value": "999.1.1.1" }] }).to_string(),
        "{ not json".to_string(),
        json!({ "id": "dup-1", "account_id": "acme", "product": "cvm", "identifiers": [{ "kind": "domain", "value": "fresh.acme.example" }, { "kind": "domain", "value": "acme.example" }] }).to_string(),
        json!({ "id": "cos-1", "account_id": "acme", "product": "cos", "identifiers": [{ "kind": "bucket_key", "value": "media-125/img" }] }).to_string(),
        json!({ "id": "x-1", "account_id": "nobody", "product": "cvm" }).to_string(),
    ];
    let (s, r) = t
        .post_raw(
            "/api/resources/import",
            Some(&t.admin),
            lines.join("\n").into_bytes(),
        )
        .await;
    assert_eq!(
        (s, r["created"].as_u64(), r["failed"].as_u64()),
        (207, Some(2), Some(4)),
        "{r}"
    );
    assert_eq!(r["lines"][1]["field"], "identifiers[1].value", "{r}");
    assert_eq!(r["lines"][2]["line"], 3);
    assert_eq!(r["lines"][3]["code"], "conflict");
    assert_eq!(r["lines"][5]["field"], "account_id");
    for (id, exists) in [
        ("cdn-1", true),
        ("bad-1", false),
        ("dup-1", false),
        ("cos-1", true),
    ] {
        assert_eq!(
            t.call("GET", &format!("/api/resources/{id}"), Some(&t.admin), None)
                .await
                .0
                == 200,
            exists,
            "{id}"
        );
    }
    // The half of a failed line is not there either: its first identifier is still free.
    let (_, o) = t
        .call(
            "GET",
            "/api/owner?target=https://ok.acme.example/",
            Some(&t.admin),
            None,
        )
        .await;
    assert_eq!(
        o["owner"]["resource_id"], "web-1",
        "longest match falls back to acme.example: {o}"
    );
    let (_, o) = t
        .call(
            "GET",
            "/api/owner?target=cos://media-125/img/a.png",
            Some(&t.admin),
            None,
        )
        .await;
    assert_eq!(o["owner"]["resource_id"], "cos-1");
    t.stop().await;
}

/// LIFE-1/LIFE-5: triage confirm/dismiss; a dismissal needs a reason; every step is audited.
async fn triage_confirms_and_dismisses_with_reason(engine: Engine) {
    let Some(t) = app(engine).await else { return };
    seed_owner(&t).await;
    let op = t.token("operator", None).await;
    let (_, a) = t
        .call(
            "POST",
            "/api/reports",
            None,
            Some(&json!({ "target": "https://acme.example/a", "category": "porn_vulgar" })),
        )
        .await;
    let (_, b) = t
        .call(
            "POST",
            "/api/reports",
            None,
            Some(&json!({ "target": "https://acme.example/b", "category": "porn_vulgar" })),
        )
        .await;
    let (_, q) = t
        .call("GET", "/api/cases?state=reported", Some(&op), None)
        .await;
    assert_eq!(q["items"].as_array().unwrap().len(), 2);
    let case_a = q["items"][0]["id"].as_str().unwrap().to_string();
    let case_b = q["items"][1]["id"].as_str().unwrap().to_string();
    let _ = (a, b);
    let (s, c) = t
        .call(
            "POST",
            &format!("/api/cases/{case_a}/confirm"),
            Some(&op),
            None,
        )
        .await;
    // LIFE-1: a general first offence is confirmed into alerting (rectify before the deadline).
    assert_eq!((s, c["state"].as_str()), (200, Some("alerting")), "{c}");
    let (s, e) = t
        .call(
            "POST",
            &format!("/api/cases/{case_b}/dismiss"),
            Some(&op),
            Some(&json!({})),
        )
        .await;
    assert_eq!(
        (s, e["details"]["field"].as_str()),
        (422, Some("reason")),
        "{e}"
    );
    let (s, d) = t
        .call(
            "POST",
            &format!("/api/cases/{case_b}/dismiss"),
            Some(&op),
            Some(&json!({ "reason": "page is a medical textbook" })),
        )
        .await;
    assert_eq!(
        (s, d["state_reason"].as_str()),
        (200, Some("page is a medical textbook"))
    );
    let (s, e) = t
        .call(
            "POST",
            &format!("/api/cases/{case_b}/confirm"),
            Some(&op),
            None,
        )
        .await;
    assert_eq!((s, e["code"].as_str()), (409, Some("conflict")), "{e}");
    let (_, q) = t
        .call("GET", "/api/cases?state=reported", Some(&op), None)
        .await;
    assert!(q["items"].as_array().unwrap().is_empty());
    let (s, e) = t
        .call("GET", "/api/cases?state=nonsense", Some(&op), None)
        .await;
    assert_eq!((s, e["details"]["field"].as_str()), (422, Some("state")));
    let aud = t.token("auditor", None).await;
    let (_, ev) = t
        .call(
            "GET",
            &format!("/api/audit?subject=case:{case_b}"),
            Some(&aud),
            None,
        )
        .await;
    let ev = &ev["items"][0];
    assert_eq!(
        (ev["action"].as_str(), ev["role"].as_str()),
        (Some("case.dismiss"), Some("operator")),
        "{ev}"
    );
    assert_eq!(
        ev["details"]["reason"], "page is a medical textbook",
        "{ev}"
    );
    // Actors are shown by token id and label.
    assert!(
        ev["actor"]["id"].as_str().unwrap().starts_with("tok_"),
        "{ev}"
    );
    assert!(ev["actor"]["label"].is_string(), "{ev}");
    assert!(ev["before_digest"].is_string() && ev["after_digest"].is_string());
    let (s, v) = t.call("GET", "/api/audit/verify", Some(&aud), None).await;
    assert_eq!((s, v["broken"].clone()), (200, Value::Null), "{v}");
    // LIFE-5: the case page shows the whole history; tenants see roles, not staff token ids.
    let (_, h) = t
        .call(
            "GET",
            &format!("/api/cases/{case_b}/history"),
            Some(&op),
            None,
        )
        .await;
    let items = h["items"].as_array().unwrap();
    let actions: Vec<&str> = items
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["report.create", "case.dismiss"], "{h}");
    assert_eq!(items[1]["reason"], "page is a medical textbook");
    assert_eq!(
        (items[1]["from"].as_str(), items[1]["to"].as_str()),
        (Some("reported"), Some("dismissed"))
    );
    assert!(
        items[1]["actor"]["id"]
            .as_str()
            .unwrap()
            .starts_with("tok_")
    );
    assert!(items[1]["actor"]["label"].is_string(), "{h}");
    let tenant = t.token("tenant", Some("acme")).await;
    let (_, th) = t
        .call(
            "GET",
            &format!("/api/cases/{case_b}/history"),
            Some(&tenant),
            None,
        )
        .await;
    assert_eq!(th["items"][1]["role"], "operator");
    assert!(th["items"][1].get("actor").is_none(), "{th}");
    t.stop().await;
}

/// AUD-4: reporter contacts and tenant e-mail/phone are not in the database in clear, and every
/// decrypting read is an audit event.
async fn personal_data_is_sealed_and_reads_are_audited(engine: Engine) {
    let Some(t) = app(engine).await else { return };
    let (s, _) = t.call("POST", "/api/accounts", Some(&t.admin), Some(&json!({ "id": "acme", "name": "Acme", "email": "cfo@acme-private.example", "phone": "+86 138 0000 1234" }))).await;
    assert_eq!(s, 201);
    let (_, r) = t.call("POST", "/api/reports", Some(&t.admin), Some(&json!({ "target": "https://x.example/", "category": "fraud", "reporter_contact": "reporter@whistle-private.example" }))).await;
    // Nothing readable in any table.
    use sqlx::Row;
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&t.db_url)
        .await
        .unwrap();
    for (table, col) in [
        ("accounts", "email_enc"),
        ("accounts", "phone_enc"),
        ("reports", "reporter_contact_enc"),
    ] {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {col} AS v FROM {table}"
        )))
        .fetch_all(&pool)
        .await
        .unwrap();
        for row in rows {
            let v: Option<Vec<u8>> = row.try_get("v").unwrap();
            let v = String::from_utf8_lossy(&v.unwrap_or_default()).to_string();
            assert!(
                !v.contains("private") && !v.contains("138"),
                "{table}.{col} holds clear text"
            );
        }
    }
    let audit_text: Vec<String> = sqlx::query("SELECT details FROM audit_events")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String, _>("details").unwrap())
        .collect();
    assert!(
        audit_text.iter().all(|d| !d.contains("private")),
        "the audit log holds no personal data"
    );
    pool.close().await;
    // Reading it back is audited.
    let (_, c) = t
        .call("GET", "/api/accounts/acme/contacts", Some(&t.admin), None)
        .await;
    assert_eq!(c["email"], "cfo@acme-private.example");
    let (_, rc) = t
        .call(
            "GET",
            &format!(
                "/api/reports/{}/reporter-contact",
                r["report_id"].as_str().unwrap()
            ),
            Some(&t.admin),
            None,
        )
        .await;
    assert_eq!(rc["reporter_contact"], "reporter@whistle-private.example");
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
            "account:acme".to_string(),
            format!("report:{}", r["report_id"].as_str().unwrap())
        ]
    );
    // The account view itself never shows contacts.
    let (_, a) = t
        .call("GET", "/api/accounts/acme", Some(&t.admin), None)
        .await;
    assert_eq!(
        (a["has_email"].as_bool(), a.get("email")),
        (Some(true), None)
    );
    t.stop().await;
}
