//! §1 (tenant isolation is absolute) and "roles on every route": every route of the route table
//! × every role, including anonymous callers. A tenant never reads, lists, counts or infers
//! another account's data, and a foreign id answers exactly like a missing one (404, not 403).
//! No role but `security_team` and `admin` reads a confidential vulnerability report (ASMT-4):
//! its text appears in no other role's answer on any route — no list, count, search or export —
//! and in theirs only on the vulnerability routes.

use serde_json::{Value, json};
use warden_app::Settings;
use warden_http::routes::routes;

use crate::both_engines;
use crate::support::{Engine, TestApp, shared_data, spawn_app};

both_engines!(every_route_every_role);

/// What a confidential vulnerability report says (ASMT-4): no answer but the security team's
/// may hold it.
const VULN_MARKER: &str = "vuln-marker-7f3a9c";

/// What the tenant of account A must never see: B's ids, names and identifiers.
struct Foreign {
    account: &'static str,
    name: &'static str,
    domain: &'static str,
    resource: String,
    case: String,
    report: String,
    assessment: String,
}

async fn seed(t: &TestApp) -> Foreign {
    for (id, name) in [("acct-a", "Alpha Co"), ("acct-b", "Beta Corp")] {
        let (s, _) = t
            .call(
                "POST",
                "/api/accounts",
                Some(&t.admin),
                Some(&json!({ "id": id, "name": name, "email": format!("ops@{id}.example") })),
            )
            .await;
        assert_eq!(s, 201);
    }
    let mut res = Vec::new();
    for (acct, dom) in [
        ("acct-a", "alpha.example"),
        ("acct-b", "beta-secret.example"),
    ] {
        let (s, b) = t
            .call("POST", "/api/resources", Some(&t.admin), Some(&json!({ "account_id": acct, "product": "cvm", "identifiers": [{ "kind": "domain", "value": dom }] })))
            .await;
        assert_eq!(s, 201, "{b}");
        res.push(b["id"].as_str().unwrap().to_string());
    }
    let op = t.token("operator", None).await;
    let mut cases = Vec::new();
    let mut reports = Vec::new();
    for dom in ["alpha.example", "beta-secret.example"] {
        let (s, b) = t
            .call("POST", "/api/reports", Some(&op), Some(&json!({ "target": format!("https://{dom}/x"), "category": "gambling", "reporter_contact": "whistle@blower.example" })))
            .await;
        assert_eq!(s, 201, "{b}");
        cases.push(b["case_id"].as_str().unwrap().to_string());
        reports.push(b["report_id"].as_str().unwrap().to_string());
    }
    // B's own assessment of its domain (ASMT-1).
    let tenant_b = t.token("tenant", Some("acct-b")).await;
    let now = t.app.clock.now().millis();
    let (s, b) = t
        .call(
            "POST",
            "/api/assessments",
            Some(&tenant_b),
            Some(&json!({
                "kind": "vulnerability_scan",
                "targets": ["beta-secret.example"],
                "sources": ["198.51.100.9"],
                "window_start": warden_domain::time::Timestamp(now + 3_600_000).to_rfc3339(),
                "window_end": warden_domain::time::Timestamp(now + 7_200_000).to_rfc3339(),
            })),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    Foreign {
        account: "acct-b",
        name: "Beta Corp",
        domain: "beta-secret.example",
        resource: res[1].clone(),
        case: cases[1].clone(),
        report: reports[1].clone(),
        assessment: b["id"].as_str().unwrap().to_string(),
    }
}

fn body_for(method: &str, path: &str) -> Option<Value> {
    let xarf: Value = serde_json::from_slice(
        &std::fs::read(shared_data("xarf/abusix_v3/samples/spam_sample.json")).unwrap(),
    )
    .unwrap();
    Some(match (method, path) {
        ("POST", "/api/reports") => {
            json!({ "target": "https://alpha.example/y", "category": "gambling" })
        }
        ("POST", "/api/reports/batch") => {
            json!({ "reports": [{ "target": "https://alpha.example/z", "category": "fraud" }] })
        }
        ("POST", "/api/reports/xarf") => xarf,
        ("POST", "/api/cases/{id}/confirm") => json!({}),
        ("POST", "/api/cases/{id}/dismiss") => json!({ "reason": "test" }),
        ("POST", "/api/accounts") => json!({ "name": "Another" }),
        ("PATCH", "/api/accounts/{id}") => json!({ "name": "Renamed" }),
        ("POST", "/api/resources") => json!({ "account_id": "acct-a", "product": "cdn" }),
        ("PATCH", "/api/resources/{id}") => json!({ "name": "renamed" }),
        ("POST", "/api/resources/import") => json!({ "account_id": "acct-a", "product": "cos" }),
        ("POST", "/api/tokens") => json!({ "role": "auditor", "label": "t" }),
        ("POST", "/api/admin/jobs/ping") => json!({ "count": 1 }),
        ("POST", "/api/cases/{id}/unblock/self") => json!({ "commitment_confirmed": true }),
        ("POST", "/api/unblock-requests/{id}/reject") => json!({ "reason": "still violating" }),
        ("POST", "/api/tickets") => {
            json!({ "kind": "question", "subject": "why?", "body": "please explain" })
        }
        ("POST", "/api/tickets/{id}/close") => json!({ "resolution": "answered" }),
        // Staff's release; a tenant's is the self-service one, without a reason (see below).
        ("POST", "/api/blackholes/{id}/release") => json!({ "reason": "test" }),
        ("POST", "/api/scan") => json!({ "text": "online casino" }),
        ("POST", "/api/enforcement/webhooks/redrive") => {
            json!({ "msg_id": "msg_x", "endpoint": "none" })
        }
        ("POST", "/api/lexicon/terms" | "/api/lexicon/terms/remove") => {
            json!({ "category": "gambling", "term": "test term" })
        }
        ("POST", "/api/cases/{id}/enforce") => {
            json!({ "actions": ["block_network"], "reason": "scanning others" })
        }
        ("POST", "/api/assessments") => json!({
            "kind": "penetration_test",
            "targets": ["alpha.example"],
            "sources": ["198.51.100.10"],
            "window_start": "2026-01-05T02:00:00Z",
            "window_end": "2026-01-05T04:00:00Z",
        }),
        ("POST", "/api/assessments/{id}/reject" | "/api/assessments/{id}/stop") => {
            json!({ "reason": "test" })
        }
        ("POST", "/api/assessments/{id}/approve") => json!({}),
        ("POST", "/api/assessments/{id}/disclosure") => json!({ "text": "it was a test" }),
        ("POST", "/api/vulnerabilities") => json!({
            "title": "open redirect", "description": "a test report", "component": "console",
            "severity": "low"
        }),
        ("POST", "/api/vulnerabilities/status") => json!({ "token": "vst_no_such_token" }),
        ("POST", "/api/vulnerabilities/{id}/state") => json!({ "state": "triaged" }),
        _ => return None,
    })
}

async fn every_route_every_role(engine: Engine) {
    let settings = Settings {
        public_reports_per_minute: 10_000,
        ..Settings::default()
    };
    let Some(t) = spawn_app(engine, settings).await else {
        return;
    };
    let f = seed(&t).await;
    // ASMT-4: a confidential vulnerability report, filed by the tenant of account B.
    let tenant_b = t.token("tenant", Some(f.account)).await;
    let (s, v) = t
        .call(
            "POST",
            "/api/vulnerabilities",
            Some(&tenant_b),
            Some(&json!({
                "title": format!("{VULN_MARKER} title"),
                "description": format!("{VULN_MARKER} description"),
                "details": format!("{VULN_MARKER} details"),
                "component": format!("{VULN_MARKER}.internal.example"),
                "severity": "critical"
            })),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let vuln = v["id"].as_str().unwrap().to_string();
    let mut tokens: Vec<(&str, Option<String>)> = vec![("anonymous", None)];
    for role in [
        "admin",
        "operator",
        "reviewer",
        "auditor",
        "detector",
        "edge",
        "security_team",
    ] {
        tokens.push((role, Some(t.token(role, None).await)));
    }
    let tenant = t.token("tenant", Some("acct-a")).await;
    tokens.push(("tenant", Some(tenant.clone())));
    let spare = t
        .app
        .create_token(
            &warden_app::auth::Principal::System,
            "auditor",
            None,
            "spare",
        )
        .await
        .unwrap()
        .token
        .id;

    let mut checked = 0;
    for route in routes() {
        let foreign_id = if route.path.starts_with("/api/cases/") {
            f.case.clone()
        } else if route.path.starts_with("/api/accounts/") {
            f.account.to_string()
        } else if route.path.starts_with("/api/resources/{") {
            f.resource.clone()
        } else if route.path.starts_with("/api/reports/{") {
            f.report.clone()
        } else if route.path.starts_with("/api/assessments/{") {
            f.assessment.clone()
        } else if route.path.starts_with("/api/vulnerabilities/{") {
            vuln.clone()
        } else {
            spare.clone()
        };
        let mut path = route.path.replace("{id}", &foreign_id);
        if route.path == "/api/owner" {
            path.push_str(&format!("?target={}", f.domain));
        }
        let body = body_for(route.method, route.path);
        for (role, token) in &tokens {
            // The release body says which release it is, and each is one role's (DDOS-5).
            let body = if route.path == "/api/blackholes/{id}/release" && *role == "tenant" {
                Some(json!({}))
            } else {
                body.clone()
            };
            let (status, resp) = if route.path == "/api/resources/import" {
                t.post_raw(
                    &path,
                    token.as_deref(),
                    body.clone().unwrap().to_string().into_bytes(),
                )
                .await
            } else {
                t.call(route.method, &path, token.as_deref(), body.as_ref())
                    .await
            };
            let ctx = format!("{} {} as {role}: {status} {resp}", route.method, path);
            checked += 1;
            // ASMT-4: the report's text only to the security team and admins, and only on the
            // vulnerability routes.
            let reads = ["admin", "security_team"].contains(role)
                && route.path.starts_with("/api/vulnerabilities");
            if !reads {
                assert!(
                    !resp.to_string().contains(VULN_MARKER),
                    "a vulnerability report's text reached {role}: {ctx}"
                );
            }
            if !route.access.contains(role) {
                let want = if *role == "anonymous" { 401 } else { 403 };
                assert_eq!(status, want, "{ctx}");
                assert!(resp["code"].is_string(), "errors have a stable code: {ctx}");
                continue;
            }
            assert!(status != 401 && status != 403, "{ctx}");
            assert_ne!(
                resp["message"], "route not found",
                "route missing from the router: {ctx}"
            );
            if *role != "tenant" {
                continue;
            }
            // The tenant of account A, on a route it may use, with B's ids and names.
            let text = resp.to_string();
            // (The owner lookup echoes the target it was asked about; that is the caller's input.)
            let domain = if route.path == "/api/owner" {
                f.account
            } else {
                f.domain
            };
            for secret in [
                f.account,
                f.name,
                domain,
                f.resource.as_str(),
                f.case.as_str(),
                f.report.as_str(),
                f.assessment.as_str(),
            ] {
                assert!(!text.contains(secret), "tenant A saw {secret:?}: {ctx}");
            }
            assert!(
                !text.contains("whistle@blower"),
                "reporter contact leaked: {ctx}"
            );
            if route.path.contains("{id}") {
                assert_eq!(status, 404, "{ctx}");
                // Indistinguishable from an id that does not exist at all.
                let missing = route.path.replace("{id}", "does-not-exist");
                let (s2, r2) = t
                    .call(route.method, &missing, Some(&tenant), body.as_ref())
                    .await;
                assert_eq!(
                    (status, &resp),
                    (s2, &r2),
                    "foreign and missing ids must look the same: {ctx}"
                );
            }
        }
    }
    assert_eq!(checked, routes().len() * tokens.len());

    // The search above can fail: the security team does read the text, and B's tenant sees
    // its report's status (no text), A's tenant nothing of it.
    let sec = &tokens
        .iter()
        .find(|(r, _)| *r == "security_team")
        .unwrap()
        .1;
    let (s, r) = t
        .call(
            "GET",
            &format!("/api/vulnerabilities/{vuln}"),
            sec.as_deref(),
            None,
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert!(r.to_string().contains(VULN_MARKER), "{r}");
    let (_, mine_b) = t
        .call("GET", "/api/vulnerabilities/mine", Some(&tenant_b), None)
        .await;
    assert_eq!(mine_b["items"][0]["id"], vuln.as_str(), "{mine_b}");
    assert!(!mine_b.to_string().contains(VULN_MARKER), "{mine_b}");
    let (_, mine_a) = t
        .call("GET", "/api/vulnerabilities/mine", Some(&tenant), None)
        .await;
    assert!(!mine_a.to_string().contains(&vuln), "{mine_a}");

    // Lists and counts are the tenant's own; the owner lookup of B's domain says "unowned".
    let (_, cases) = t.call("GET", "/api/cases", Some(&tenant), None).await;
    assert!(
        cases["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["account_id"] == "acct-a"),
        "{cases}"
    );
    assert!(!cases["items"].as_array().unwrap().is_empty());
    let (_, n) = t.call("GET", "/api/cases/count", Some(&tenant), None).await;
    assert_eq!(
        n["count"].as_i64().unwrap(),
        cases["items"].as_array().unwrap().len() as i64
    );
    let (_, owner) = t
        .call(
            "GET",
            "/api/owner?target=beta-secret.example",
            Some(&tenant),
            None,
        )
        .await;
    let (_, nobody) = t
        .call(
            "GET",
            "/api/owner?target=nobody-owns.example",
            Some(&tenant),
            None,
        )
        .await;
    assert_eq!(owner["owner"], Value::Null);
    assert_eq!(owner["unowned"], nobody["unowned"]);
    let (_, own) = t
        .call(
            "GET",
            "/api/owner?target=https://alpha.example/p",
            Some(&tenant),
            None,
        )
        .await;
    assert_eq!(own["owner"]["account_id"], "acct-a");
    let (_, accts) = t.call("GET", "/api/accounts", Some(&tenant), None).await;
    assert_eq!(accts["items"].as_array().unwrap().len(), 1);
    t.stop().await;
}
