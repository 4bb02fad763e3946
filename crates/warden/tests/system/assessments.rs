//! Customers' own security assessments (issue 13) through the real routes: the scope is the
//! account's own (ASMT-1) and never the provider's infrastructure (ASMT-3), refused naming only
//! the offending targets and storing nothing; a stress test's approved plan is what the DDoS
//! plane reads (ASMT-2) — traffic inside it is no attack, traffic before its window, above its
//! peak or from an undeclared source is one whose blackhole and case say which limit; a phishing
//! test reminds its tenant until the disclosure is confirmed, overdue ones shown to operators
//! (ASMT-5); plans are decided within a working-time SLA, late ones flagged; every transition
//! is in the audit log (AUD-1).

use serde_json::{Value, json};
use warden_app::Settings;
use warden_app::assessments::AssessmentSettings;
use warden_app::clock::Clock as _;
use warden_app::ddos::FlowRate;
use warden_app::lifecycle::LifecycleSettings;
use warden_app::outbound::NoticeSettings;
use warden_domain::assessment::Infrastructure;
use warden_domain::time::Timestamp;
use warden_store::audit::AuditFilter;

use crate::both_engines;
use crate::support::{Engine, TestApp, spawn_app_wired};

both_engines!(
    scope_is_the_accounts_own_and_never_the_providers,
    stress_test_plan_is_what_the_ddos_plane_reads,
    phishing_test_reminds_until_disclosed,
    plans_are_decided_within_the_sla_and_every_transition_is_audited,
    attacking_the_providers_infrastructure_is_a_behaviour_case,
);

const GBPS: u64 = 1_000_000_000;
const HOUR: i64 = 3_600_000;
/// The tenant's four public IPs (one resource) and its site.
const IPS: [&str; 4] = [
    "203.0.113.40",
    "203.0.113.41",
    "203.0.113.42",
    "203.0.113.43",
];
const SITE: &str = "shop.acme.example";
/// Another tenant's IP.
const OTHER_IP: &str = "198.51.100.7";
/// The stress test's generators.
const SOURCES: &str = "198.51.100.64/28";

async fn spawn(engine: Engine, worker: bool) -> Option<TestApp> {
    spawn_app_wired(
        engine,
        Settings::default(),
        LifecycleSettings::default(),
        NoticeSettings::default(),
        worker,
        |a| {
            a.with_assessments(AssessmentSettings {
                infrastructure: Infrastructure {
                    networks: vec!["192.0.2.0/24".parse().unwrap()],
                    domains: vec!["cloud.example".into()],
                },
                ..AssessmentSettings::default()
            })
        },
    )
    .await
}

struct Tokens {
    tenant: String,
    other: String,
    operator: String,
    detector: String,
}

async fn setup(t: &TestApp) -> Tokens {
    for (id, identifiers) in [
        (
            "acme",
            json!([
                { "kind": "public_ip", "value": IPS[0] },
                { "kind": "public_ip", "value": IPS[1] },
                { "kind": "public_ip", "value": IPS[2] },
                { "kind": "public_ip", "value": IPS[3] },
                { "kind": "domain", "value": SITE },
            ]),
        ),
        ("other", json!([{ "kind": "public_ip", "value": OTHER_IP }])),
    ] {
        let (s, b) = t
            .call(
                "POST",
                "/api/accounts",
                Some(&t.admin),
                Some(&json!({ "id": id, "name": format!("{id} Co") })),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        let (s, b) = t
            .call(
                "POST",
                "/api/resources",
                Some(&t.admin),
                Some(&json!({ "account_id": id, "product": "cvm", "identifiers": identifiers })),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    Tokens {
        tenant: t.token("tenant", Some("acme")).await,
        other: t.token("tenant", Some("other")).await,
        operator: t.token("operator", None).await,
        detector: t.token("detector", None).await,
    }
}

fn at(ms: i64) -> String {
    Timestamp(ms).to_rfc3339()
}

fn now(t: &TestApp) -> i64 {
    t.clock.now().millis()
}

fn plan(peak_bps: u64) -> Value {
    json!({
        "peak_bps": peak_bps,
        "peak_pps": peak_bps / 1000,
        "method": "UDP load from our generators",
        "contact": "+86 138 0000 0000",
        "rollback_plan": "stop the generators; traffic ends within a minute",
        "attest_rights": true,
    })
}

async fn declare(t: &TestApp, token: &str, body: Value) -> (u16, Value) {
    t.call("POST", "/api/assessments", Some(token), Some(&body))
        .await
}

async fn get(t: &TestApp, token: &str, id: &str) -> Value {
    let (s, b) = t
        .call("GET", &format!("/api/assessments/{id}"), Some(token), None)
        .await;
    assert_eq!(s, 200, "{b}");
    b
}

async fn act(t: &TestApp, token: &str, id: &str, what: &str, body: Value) -> (u16, Value) {
    t.call(
        "POST",
        &format!("/api/assessments/{id}/{what}"),
        Some(token),
        Some(&body),
    )
    .await
}

/// The actions of the assessment's history, oldest first.
fn history(a: &Value) -> Vec<String> {
    a["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .filter(|a| a != "personal_data.read")
        .collect()
}

async fn audit(t: &TestApp, action: &str) -> Vec<Value> {
    t.app
        .store
        .list_audit(
            &AuditFilter {
                action: Some(action.into()),
                ..Default::default()
            },
            0,
            100,
        )
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            let mut v: Value = serde_json::from_str(&e.details).unwrap();
            v["subject"] = e.subject.into();
            v
        })
        .collect()
}

/// ASMT-1/3: one own target and one of another tenant: refused naming only the foreign one,
/// nothing about its owner; an infrastructure range or domain refused as such; nothing stored
/// by any refusal. Bad input is 422 naming the field. The tenant's own scope is declared, and
/// another tenant cannot see it.
async fn scope_is_the_accounts_own_and_never_the_providers(engine: Engine) {
    let Some(t) = spawn(engine, false).await else {
        return;
    };
    let k = setup(&t).await;
    let start = now(&t) + HOUR;
    let body = |targets: Value| {
        json!({
            "kind": "penetration_test",
            "targets": targets,
            "sources": ["198.51.100.10"],
            "window_start": at(start),
            "window_end": at(start + 2 * HOUR),
        })
    };
    let (s, b) = declare(&t, &k.tenant, body(json!([IPS[0], OTHER_IP]))).await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(b["code"], "out_of_scope", "{b}");
    assert_eq!(b["details"]["field"], "targets");
    assert_eq!(b["details"]["foreign"], json!([OTHER_IP]), "{b}");
    assert_eq!(b["details"]["infrastructure"], json!([]), "{b}");
    let text = b.to_string();
    assert!(
        !text.contains(IPS[0]),
        "only the foreign target is named: {b}"
    );
    assert!(
        !text.contains("other Co") && !text.contains("\"other\""),
        "nothing about the owner: {b}"
    );

    // A CIDR holding one foreign address is foreign as a whole.
    let (s, b) = declare(
        &t,
        &k.tenant,
        body(json!(["203.0.113.40/29", "203.0.113.44"])),
    )
    .await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(
        b["details"]["foreign"],
        json!(["203.0.113.40/29", "203.0.113.44"]),
        "{b}"
    );

    // The provider's own infrastructure is refused as such (ASMT-3).
    let (s, b) = declare(
        &t,
        &k.tenant,
        body(json!([
            IPS[0],
            "192.0.2.0/28",
            "https://api.cloud.example/v1"
        ])),
    )
    .await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(b["details"]["foreign"], json!([]), "{b}");
    assert_eq!(
        b["details"]["infrastructure"],
        json!(["192.0.2.0/28", "https://api.cloud.example/v1"]),
        "{b}"
    );
    assert!(b["message"].as_str().unwrap().contains("ASMT-3"), "{b}");

    // Nothing was stored, nothing audited as declared.
    for token in [&k.tenant, &k.operator] {
        let (s, b) = t.call("GET", "/api/assessments", Some(token), None).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["items"], json!([]), "{b}");
    }
    assert!(audit(&t, "assessment.declare").await.is_empty());

    // Bad input names the field.
    for (patch, field) in [
        (
            json!({ "targets": [IPS[0], "cos://bucket/key"] }),
            "targets[1]",
        ),
        (json!({ "targets": [] }), "targets"),
        (json!({ "sources": ["not-an-ip"] }), "sources[0]"),
        (json!({ "window_end": at(start) }), "window_end"),
        (
            json!({ "window_start": at(start - 2 * HOUR) }),
            "window_start",
        ),
        (json!({ "kind": "stress_test" }), "plan"),
        (
            json!({ "kind": "stress_test", "plan": { "peak_bps": 0, "peak_pps": 1, "method": "m", "contact": "c", "rollback_plan": "r", "attest_rights": true } }),
            "plan.peak_bps",
        ),
        (
            json!({ "kind": "stress_test", "plan": { "peak_bps": 1, "peak_pps": 1, "method": "m", "contact": "c", "rollback_plan": "r", "attest_rights": false } }),
            "plan.attest_rights",
        ),
        (json!({ "kind": "moon_landing" }), "kind"),
    ] {
        let mut b = body(json!([IPS[0]]));
        for (k2, v) in patch.as_object().unwrap() {
            b[k2] = v.clone();
        }
        let (s, r) = declare(&t, &k.tenant, b).await;
        assert_eq!(s, 422, "{patch}: {r}");
        assert_eq!(r["details"]["field"], field, "{patch}: {r}");
    }

    // Its own IP and site: declared, in force for its window.
    let (s, a) = declare(
        &t,
        &k.tenant,
        body(json!([IPS[0], format!("https://{SITE}/")])),
    )
    .await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(a["state"], "declared", "{a}");
    assert_eq!(a["in_force"], true);
    let id = a["id"].as_str().unwrap();
    // Only tenants declare, for their own account.
    let (s, _) = declare(&t, &k.operator, body(json!([IPS[0]]))).await;
    assert_eq!(s, 403);
    // Another tenant sees nothing of it, and cannot stop it.
    let (s, b) = t
        .call(
            "GET",
            &format!("/api/assessments/{id}"),
            Some(&k.other),
            None,
        )
        .await;
    assert_eq!(s, 404, "{b}");
    let (s, _) = act(&t, &k.other, id, "stop", json!({ "reason": "mine now" })).await;
    assert_eq!(s, 404);
    let (_, list) = t
        .call("GET", "/api/assessments", Some(&k.other), None)
        .await;
    assert_eq!(list["items"], json!([]));
    // A penetration test has no plan to approve (409).
    let (s, b) = act(&t, &k.operator, id, "approve", json!({})).await;
    assert_eq!(s, 409, "{b}");
    t.stop().await;
}

/// Telemetry through the real route, as a detector posts it: five seconds at `bps`.
async fn telemetry(t: &TestApp, det: &str, ip: &str, bps: u64) -> Value {
    let n = now(t);
    let s: Vec<Value> = (0..5)
        .map(|i| json!({ "ip": ip, "at": at(n - i * 1000), "in_bps": bps, "in_pps": bps / 2000 }))
        .collect();
    let (st, b) = t
        .call(
            "POST",
            "/api/telemetry",
            Some(det),
            Some(&json!({ "samples": s })),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    b
}

/// The `blackhole.started` audit event of `ip`: its evidence.
async fn blackhole_evidence(t: &TestApp, ip: &str) -> Value {
    audit(t, "blackhole.started")
        .await
        .into_iter()
        .find(|e| e["ip"] == ip)
        .unwrap_or_else(|| panic!("no blackhole of {ip}"))["evidence"]
        .clone()
}

/// The case history of the blackhole of `ip`.
async fn case_history_of(t: &TestApp, op: &str, ip: &str) -> Value {
    let (_, b) = t.call("GET", "/api/blackholes", Some(op), None).await;
    let case = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["ip"] == ip)
        .unwrap_or_else(|| panic!("no blackhole of {ip}: {b}"))["case_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, h) = t
        .call("GET", &format!("/api/cases/{case}/history"), Some(op), None)
        .await;
    assert_eq!(s, 200, "{h}");
    h
}

/// ASMT-2 end to end: declare → approve → telemetry. Before the window, traffic above the
/// capacity blackholes and says "outside its window"; inside it and below the peak it does not;
/// above the peak it does ("peak_bps"); through the flow collector with an undeclared top
/// source it does ("source"). Each case's history names the plan and the limit.
async fn stress_test_plan_is_what_the_ddos_plane_reads(engine: Engine) {
    let Some(t) = spawn(engine, false).await else {
        return;
    };
    let k = setup(&t).await;
    let start = now(&t) + HOUR;
    let (s, a) = declare(
        &t,
        &k.tenant,
        json!({
            "kind": "stress_test",
            "targets": ["203.0.113.40/30"],
            "sources": [SOURCES],
            "window_start": at(start),
            "window_end": at(start + 2 * HOUR),
            "plan": plan(5 * GBPS),
        }),
    )
    .await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(a["state"], "pending_approval");
    assert_eq!(a["in_force"], false);
    assert!(
        a["plan"].get("contact").is_none(),
        "no contact in a view: {a}"
    );
    let id = a["id"].as_str().unwrap().to_string();

    // Not approved yet: an attack is an attack (no plan in its evidence).
    let r = telemetry(&t, &k.detector, IPS[3], 3 * GBPS).await;
    assert_eq!(r["blackholed"].as_array().unwrap().len(), 1, "{r}");
    assert!(
        blackhole_evidence(&t, IPS[3])
            .await
            .get("stress_plan")
            .is_none()
    );

    // The operator sees it in the queue with its SLA, and approves it.
    let (s, q) = t
        .call("GET", "/api/assessments/queue", Some(&k.operator), None)
        .await;
    assert_eq!(s, 200, "{q}");
    assert_eq!(q["pending_approval"][0]["id"], id.as_str(), "{q}");
    assert_eq!(
        q["pending_approval"][0]["approval_sla"]["overdue"], false,
        "{q}"
    );
    assert!(
        q["pending_approval"][0]["approval_sla"]["working_ms_left"]
            .as_i64()
            .unwrap()
            > 0
    );
    let (s, a) = act(
        &t,
        &k.operator,
        &id,
        "approve",
        json!({ "reason": "peaks fit the uplink" }),
    )
    .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["state"], "approved");
    assert_eq!(a["decided_late"], false);
    // The staff read of the plan shows the contact, and that read is audited (AUD-4).
    let full = get(&t, &k.operator, &id).await;
    assert_eq!(full["contact"], "+86 138 0000 0000");
    assert!(!audit(&t, "personal_data.read").await.is_empty());

    // Before its window: traffic above the capacity is an attack outside the plan.
    let r = telemetry(&t, &k.detector, IPS[0], 3 * GBPS).await;
    assert_eq!(r["blackholed"].as_array().unwrap().len(), 1, "{r}");
    let e = blackhole_evidence(&t, IPS[0]).await;
    assert_eq!(e["stress_plan"]["plan_id"], id.as_str(), "{e}");
    assert_eq!(e["stress_plan"]["exceeded"]["limit"], "window", "{e}");
    let h = case_history_of(&t, &k.operator, IPS[0]).await;
    let exceeded = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "assessment.exceeded")
        .cloned()
        .unwrap_or_else(|| panic!("the plan is in the case history: {h}"));
    assert!(
        exceeded["reason"].as_str().unwrap().contains(&id)
            && exceeded["reason"]
                .as_str()
                .unwrap()
                .contains("outside its window"),
        "{exceeded}"
    );

    // Inside the window and below the peak: no attack.
    t.clock.advance(HOUR + 60_000);
    let r = telemetry(&t, &k.detector, IPS[1], 4 * GBPS).await;
    assert_eq!(r["blackholed"], json!([]), "{r}");
    assert_eq!(r["within_plan"], json!([IPS[1]]), "{r}");

    // Above the peak: an attack, and it says which limit.
    let r = telemetry(&t, &k.detector, IPS[2], 6 * GBPS).await;
    assert_eq!(r["blackholed"].as_array().unwrap().len(), 1, "{r}");
    let e = blackhole_evidence(&t, IPS[2]).await;
    assert_eq!(e["stress_plan"]["exceeded"]["limit"], "peak_bps", "{e}");
    assert_eq!(e["stress_plan"]["exceeded"]["peak_bps"], 5 * GBPS, "{e}");
    assert!(
        e["stress_plan_words"]
            .as_str()
            .unwrap()
            .contains("above its peak of 5000000000 bps"),
        "{e}"
    );

    // Through the flow collector, within the peak but from an undeclared top source.
    let target: std::net::IpAddr = "203.0.113.41".parse().unwrap();
    let declared = FlowRate {
        ip: target,
        in_bps: 4 * GBPS,
        in_pps: 4 * GBPS / 2000,
        out_bps: 0,
        out_pps: 0,
        out_peers: 0,
        top_protocols: vec![(17, GBPS)],
        top_sources: vec![("198.51.100.66".parse().unwrap(), GBPS)],
    };
    t.clock.advance(1000);
    let r = t
        .app
        .ingest_flow_rates("n1", t.clock.now(), 10, std::slice::from_ref(&declared))
        .await
        .unwrap();
    assert!(r.blackholed.is_empty(), "{r:?}");
    t.clock.advance(1000);
    let stranger = FlowRate {
        top_sources: vec![("203.0.113.99".parse().unwrap(), GBPS)],
        ..declared
    };
    let r = t
        .app
        .ingest_flow_rates("n1", t.clock.now(), 10, &[stranger])
        .await
        .unwrap();
    assert_eq!(
        r.blackholed.len(),
        1,
        "an undeclared source is an attack: {r:?}"
    );
    let e = blackhole_evidence(&t, IPS[1]).await;
    assert_eq!(e["stress_plan"]["exceeded"]["limit"], "source", "{e}");
    assert_eq!(
        e["stress_plan"]["exceeded"]["source"], "203.0.113.99",
        "{e}"
    );
    let h = case_history_of(&t, &k.operator, IPS[1]).await;
    assert!(
        h.to_string()
            .contains("203.0.113.99, a source it did not declare"),
        "{h}"
    );

    // Stopped by the tenant: no plan in force any more (ASMT-2 "outside it").
    let (s, a) = act(
        &t,
        &k.tenant,
        &id,
        "stop",
        json!({ "reason": "done early" }),
    )
    .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["state"], "stopped");
    let a = get(&t, &k.tenant, &id).await;
    assert_eq!(
        history(&a),
        [
            "assessment.declare",
            "assessment.approve",
            "assessment.stop"
        ]
    );
    t.stop().await;
}

/// Waits (the worker runs on the manual clock) until `check` holds of the assessment.
async fn wait_for(t: &TestApp, token: &str, id: &str, check: impl Fn(&Value) -> bool) -> Value {
    t.app.job_wakeup.notify_waiters();
    for _ in 0..250 {
        let a = get(t, token, id).await;
        if check(&a) {
            return a;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{id} never got there: {}", get(t, token, id).await);
}

async fn inbox_count(t: &TestApp, tenant: &str, kind: &str) -> usize {
    let (s, b) = t
        .call("GET", "/api/notices?limit=100", Some(tenant), None)
        .await;
    assert_eq!(s, 200, "{b}");
    b["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["template"] == kind)
        .count()
}

/// ASMT-5: a phishing test's end asks for the disclosure; the tenant is reminded every
/// `reminder_hours` until it confirms with the text it used; past `disclosure_due_hours` the
/// operators' queue shows it overdue; once confirmed, the reminders stop.
async fn phishing_test_reminds_until_disclosed(engine: Engine) {
    let Some(t) = spawn(engine, true).await else {
        return;
    };
    let k = setup(&t).await;
    let start = now(&t);
    let (s, a) = declare(
        &t,
        &k.tenant,
        json!({
            "kind": "phishing_test",
            "targets": [SITE],
            "sources": ["198.51.100.10"],
            "window_start": at(start),
            "window_end": at(start + HOUR),
        }),
    )
    .await;
    assert_eq!(s, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_string();
    // Too early to confirm: the test is not over (409).
    let (s, b) = act(
        &t,
        &k.tenant,
        &id,
        "disclosure",
        json!({ "text": "it was a test" }),
    )
    .await;
    assert_eq!(s, 409, "{b}");

    // The window ends: disclosure due, the first reminder at once.
    t.clock.advance(HOUR);
    let a = wait_for(&t, &k.tenant, &id, |a| a["reminders"] == 1).await;
    assert_eq!(a["state"], "awaiting_disclosure", "{a}");
    assert_eq!(a["disclosure_overdue"], false);
    assert_eq!(
        inbox_count(&t, &k.tenant, "assessment.disclosure_due").await,
        1
    );

    // A day later, another reminder; still not overdue for the operators.
    t.clock.advance(24 * HOUR);
    wait_for(&t, &k.tenant, &id, |a| a["reminders"] == 2).await;
    let (_, q) = t
        .call("GET", "/api/assessments/queue", Some(&k.operator), None)
        .await;
    assert_eq!(q["awaiting_disclosure"][0]["id"], id.as_str(), "{q}");
    assert_eq!(q["disclosures_overdue"], 0, "{q}");

    // Three days after the end: overdue on the operators' queue and in the list filter (the
    // reminder due meanwhile goes out once, however long the clock jumped).
    t.clock.advance(48 * HOUR);
    wait_for(&t, &k.tenant, &id, |a| a["reminders"] == 3).await;
    let (_, q) = t
        .call("GET", "/api/assessments/queue", Some(&k.operator), None)
        .await;
    assert_eq!(q["disclosures_overdue"], 1, "{q}");
    assert_eq!(
        q["awaiting_disclosure"][0]["disclosure_overdue"], true,
        "{q}"
    );
    let (_, l) = t
        .call(
            "GET",
            "/api/assessments?state=awaiting_disclosure",
            Some(&k.operator),
            None,
        )
        .await;
    assert_eq!(l["items"][0]["disclosure_overdue"], true, "{l}");

    // Confirmed with the text: the reminders stop.
    let (s, b) = act(&t, &k.tenant, &id, "disclosure", json!({ "text": " " })).await;
    assert_eq!(
        (s, b["details"]["field"].clone()),
        (422, json!("text")),
        "{b}"
    );
    let told = "Last week's mail about the new payroll portal was our phishing test.";
    let (s, a) = act(&t, &k.tenant, &id, "disclosure", json!({ "text": told })).await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["state"], "disclosed");
    assert_eq!(a["disclosure"], told);
    let (s, _) = act(&t, &k.tenant, &id, "disclosure", json!({ "text": told })).await;
    assert_eq!(s, 409);
    t.clock.advance(72 * HOUR);
    t.app.job_wakeup.notify_waiters();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let a = get(&t, &k.tenant, &id).await;
    assert_eq!(a["reminders"], 3, "no reminder after the confirmation: {a}");
    assert_eq!(
        inbox_count(&t, &k.tenant, "assessment.disclosure_due").await,
        3
    );
    assert_eq!(
        history(&a),
        [
            "assessment.declare",
            "assessment.end",
            "assessment.remind",
            "assessment.remind",
            "assessment.remind",
            "assessment.disclose",
        ]
    );
    let (_, q) = t
        .call("GET", "/api/assessments/queue", Some(&k.operator), None)
        .await;
    assert_eq!(q["awaiting_disclosure"], json!([]), "{q}");
    t.stop().await;
}

/// ASMT-2: a rejection needs a reason (422) and is told to the tenant; a decided plan cannot be
/// decided again (409); past the approval SLA (8 working hours from Monday 09:00 Beijing) the
/// queue shows it overdue and the approval is flagged late; an operator's stop is told to the
/// tenant; every transition is an audit event with its from and to states (AUD-1).
async fn plans_are_decided_within_the_sla_and_every_transition_is_audited(engine: Engine) {
    let Some(t) = spawn(engine, false).await else {
        return;
    };
    let k = setup(&t).await;
    let start = now(&t) + 24 * HOUR;
    let stress = json!({
        "kind": "stress_test",
        "targets": [IPS[0]],
        "sources": [SOURCES],
        "window_start": at(start),
        "window_end": at(start + HOUR),
        "plan": plan(GBPS),
    });
    let (_, a) = declare(&t, &k.tenant, stress.clone()).await;
    let first = a["id"].as_str().unwrap().to_string();
    let (s, b) = act(&t, &k.operator, &first, "reject", json!({})).await;
    assert_eq!(
        (s, b["details"]["field"].clone()),
        (422, json!("reason")),
        "{b}"
    );
    let (s, b) = act(&t, &k.tenant, &first, "approve", json!({})).await;
    assert_eq!(s, 403, "a tenant cannot approve its own plan: {b}");
    let (s, a) = act(
        &t,
        &k.operator,
        &first,
        "reject",
        json!({ "reason": "the peak is above the uplink" }),
    )
    .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["state"], "rejected");
    let (s, b) = act(&t, &k.operator, &first, "approve", json!({})).await;
    assert_eq!(s, 409, "{b}");
    assert_eq!(inbox_count(&t, &k.tenant, "assessment.rejected").await, 1);

    // The second waits past its SLA: overdue on the queue, approved late.
    let (_, a) = declare(&t, &k.tenant, stress.clone()).await;
    let second = a["id"].as_str().unwrap().to_string();
    assert!(a["approval_sla"]["due"].is_string(), "{a}");
    t.clock.advance(9 * HOUR);
    let (_, q) = t
        .call("GET", "/api/assessments/queue", Some(&k.operator), None)
        .await;
    assert_eq!(q["approvals_overdue"], 1, "{q}");
    assert_eq!(
        q["pending_approval"][0]["approval_sla"]["overdue"], true,
        "{q}"
    );
    let (s, a) = act(&t, &k.operator, &second, "approve", json!({})).await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["decided_late"], true, "{a}");
    let approvals = audit(&t, "assessment.approve").await;
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0]["late"], true, "{:?}", approvals[0]);
    assert_eq!(approvals[0]["from"], "pending_approval");
    assert_eq!(approvals[0]["to"], "approved");
    assert_eq!(inbox_count(&t, &k.tenant, "assessment.approved").await, 1);

    // An operator stops it: the tenant is told; stopping again is 409; a stop needs a reason.
    let (s, b) = act(&t, &k.operator, &second, "stop", json!({ "reason": "" })).await;
    assert_eq!(
        (s, b["details"]["field"].clone()),
        (422, json!("reason")),
        "{b}"
    );
    let (s, a) = act(
        &t,
        &k.operator,
        &second,
        "stop",
        json!({ "reason": "uplink maintenance tonight" }),
    )
    .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["state"], "stopped");
    let (s, _) = act(&t, &k.tenant, &second, "stop", json!({ "reason": "again" })).await;
    assert_eq!(s, 409);
    assert_eq!(inbox_count(&t, &k.tenant, "assessment.stopped").await, 1);

    // Every transition is in the audit log, with its subject and states.
    for (action, subject, to) in [
        ("assessment.declare", &first, "pending_approval"),
        ("assessment.reject", &first, "rejected"),
        ("assessment.declare", &second, "pending_approval"),
        ("assessment.approve", &second, "approved"),
        ("assessment.stop", &second, "stopped"),
    ] {
        assert!(
            audit(&t, action)
                .await
                .iter()
                .any(|e| e["subject"] == format!("assessment:{subject}") && e["to"] == to),
            "{action} of {subject}"
        );
    }
    let a = get(&t, &k.tenant, &second).await;
    assert_eq!(
        history(&a),
        [
            "assessment.declare",
            "assessment.approve",
            "assessment.stop"
        ]
    );
    // The tenant's history names no staff actor; the contact is its own.
    assert!(a["history"][1].get("actor").is_none(), "{a}");
    assert_eq!(a["contact"], "+86 138 0000 0000");
    // Listed, newest first, paged by id.
    let (_, l) = t
        .call("GET", "/api/assessments?limit=1", Some(&k.tenant), None)
        .await;
    assert_eq!(l["items"][0]["id"], second.as_str(), "{l}");
    let after = l["next_after"].as_str().unwrap();
    let (_, l2) = t
        .call(
            "GET",
            &format!("/api/assessments?limit=1&after={after}"),
            Some(&k.tenant),
            None,
        )
        .await;
    assert_eq!(l2["items"][0]["id"], first.as_str(), "{l2}");
    let (s, b) = t
        .call(
            "GET",
            "/api/assessments?state=paused",
            Some(&k.tenant),
            None,
        )
        .await;
    assert_eq!(
        (s, b["details"]["field"].clone()),
        (422, json!("state")),
        "{b}"
    );
    t.stop().await;
}

/// ASMT-3: a detector's (or operator's) report of a tenant IP scanning or attacking the
/// provider's own infrastructure is a `scanning` / `hacking` case through the normal intake,
/// owned by the tenant, whose report says which provider address was attacked; an address
/// outside the configured infrastructure is named but no ASMT-3 finding; a name instead of an
/// address, or another category, is 422.
async fn attacking_the_providers_infrastructure_is_a_behaviour_case(engine: Engine) {
    let Some(t) = spawn(engine, false).await else {
        return;
    };
    let k = setup(&t).await;
    let report = |category: &str, attacked: &str| {
        json!({
            "target": IPS[0],
            "category": category,
            "description": "SYN scan of our API endpoints",
            "confidence": 0.5,
            "attacked_address": attacked,
        })
    };
    let (s, r) = t
        .call(
            "POST",
            "/api/reports",
            Some(&k.detector),
            Some(&report("scanning", "192.0.2.10")),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let case = r["case_id"].as_str().unwrap();
    let (_, c) = t
        .call(
            "GET",
            &format!("/api/cases/{case}"),
            Some(&k.operator),
            None,
        )
        .await;
    assert_eq!(c["category"], "scanning", "{c}");
    assert_eq!(c["account_id"], "acme", "{c}");
    let (_, reports) = t
        .call(
            "GET",
            &format!("/api/cases/{case}/reports"),
            Some(&k.operator),
            None,
        )
        .await;
    assert!(
        reports
            .to_string()
            .contains("ASMT-3: attacked the provider's own infrastructure at 192.0.2.10. SYN scan"),
        "{reports}"
    );
    let (s, r) = t
        .call(
            "POST",
            "/api/reports",
            Some(&k.operator),
            Some(&report("hacking", "192.0.2.11")),
        )
        .await;
    assert_eq!(s, 201, "{r}");

    // An address outside the infrastructure is named, not refused (a report is never lost
    // over it), and is no ASMT-3 finding.
    let (s, r) = t
        .call(
            "POST",
            "/api/reports",
            Some(&k.detector),
            Some(&report("scanning", "203.0.113.99")),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let (_, reports) = t
        .call(
            "GET",
            &format!("/api/cases/{}/reports", r["case_id"].as_str().unwrap()),
            Some(&k.operator),
            None,
        )
        .await;
    assert!(
        reports
            .to_string()
            .contains("Attacked 203.0.113.99 (not in the provider's configured infrastructure)"),
        "{reports}"
    );

    for (who, body) in [
        (
            Some(k.detector.as_str()),
            report("scanning", "api.cloud.example"),
        ),
        (Some(k.detector.as_str()), report("gambling", "192.0.2.10")),
    ] {
        let (s, r) = t.call("POST", "/api/reports", who, Some(&body)).await;
        assert_eq!(s, 422, "{body}: {r}");
        assert_eq!(r["details"]["field"], "attacked_address", "{body}: {r}");
    }
    t.stop().await;
}
