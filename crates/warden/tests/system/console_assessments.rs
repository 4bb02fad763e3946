//! The console pages of customers' security assessments (issue 13 item 6; ASMT-1, ASMT-2,
//! ASMT-3, UI-1), driven as a browser would: a tenant declaring a test of one own target and
//! one of another tenant is refused naming only the foreign target — never the other account
//! nor its name — the form keeps what was typed, and nothing is stored; the provider's own
//! infrastructure is refused as such; a valid stress test typed in the provider's local time
//! (and rates with SI prefixes) waits for approval; an operator approves it from the staff
//! queue, which shows its SLA clock; the tenant sees it approved with the operator's note, and
//! stops it (a stop without a reason changes nothing). A reviewer reads the queue but decides
//! nothing.
//!
//! The generic checks (every page parses, labels its fields, speaks its language; every page
//! and form lets in exactly its roles; CSRF; another account's ids) cover these pages through
//! `console_pages` and `console_access`, whose fixture holds assessments in every state the
//! pages branch on.

use serde_json::{Value, json};
use warden_app::Settings;
use warden_app::assessments::AssessmentSettings;
use warden_app::clock::Clock as _;
use warden_app::lifecycle::LifecycleSettings;
use warden_app::outbound::NoticeSettings;
use warden_domain::assessment::Infrastructure;
use warden_domain::identity::Role;
use warden_domain::time::{Timestamp, civil_from_days};
use warden_http::console::Lang;

use crate::both_engines;
use crate::console::{Answer, Client, PASSWORD, person};
use crate::console_pages::check_page;
use crate::support::{Engine, TestApp, spawn_app_wired};

both_engines!(a_tenant_declares_an_operator_approves_and_the_tenant_stops,);

const ACME_IP: &str = "203.0.113.40";
const GLOBEX_IP: &str = "198.51.100.7";
/// An address of the provider's own infrastructure.
const INFRA_IP: &str = "192.0.2.10";
const SOURCES: &str = "198.51.100.64/28";
const HOUR: i64 = 3_600_000;
/// The provider's zone (the default calendar's, UTC+08:00), minutes.
const OFFSET_MIN: i64 = 480;

async fn spawn(engine: Engine) -> Option<TestApp> {
    let mut settings = Settings::default();
    settings.sessions.secure_cookies = false; // plain HTTP on loopback
    settings.sessions.attempts_per_minute = 1000;
    spawn_app_wired(
        engine,
        settings,
        LifecycleSettings::default(),
        NoticeSettings::default(),
        false,
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

/// `ms` as a `datetime-local` input sends it, in the provider's zone (minutes, no seconds).
fn local(ms: i64) -> String {
    let t = ms + OFFSET_MIN * 60_000;
    let (y, mo, d) = civil_from_days(t.div_euclid(86_400_000));
    let rem = t.rem_euclid(86_400_000);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}",
        rem / HOUR,
        (rem / 60_000) % 60
    )
}

/// The text of the page's error paragraph (the refusal on top), unescaped enough to read.
fn error_of(a: &Answer) -> String {
    let at = a
        .body
        .find("id=\"error\">")
        .unwrap_or_else(|| panic!("no error on the page ({}): {}", a.status, a.body));
    let rest = &a.body[at + "id=\"error\">".len()..];
    rest[..rest.find("</p>").unwrap()]
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
}

/// The tenant's assessments through the API.
async fn stored(t: &TestApp, token: &str) -> Vec<Value> {
    let (s, b) = t.call("GET", "/api/assessments", Some(token), None).await;
    assert_eq!(s, 200, "{b}");
    b["items"].as_array().unwrap().clone()
}

async fn a_tenant_declares_an_operator_approves_and_the_tenant_stops(engine: Engine) {
    let Some(t) = spawn(engine).await else {
        return;
    };
    for (id, name, ip) in [
        ("acme", "Acme Trading", ACME_IP),
        ("globex", "Globex Corporation", GLOBEX_IP),
    ] {
        let (s, b) = t
            .call(
                "POST",
                "/api/accounts",
                Some(&t.admin),
                Some(&json!({ "id": id, "name": name })),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        let (s, b) = t
            .call(
                "POST",
                "/api/resources",
                Some(&t.admin),
                Some(&json!({ "account_id": id, "product": "cvm", "identifiers": [{ "kind": "public_ip", "value": ip }] })),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    person(&t, "tina", Role::Tenant, Some("acme"), false).await;
    person(&t, "olga", Role::Operator, None, false).await;
    person(&t, "rita", Role::Reviewer, None, false).await;
    let tenant = t.token("tenant", Some("acme")).await;
    let en = Lang::En.catalog();
    let now = t.clock.now().millis();
    let (start, end) = (local(now + HOUR), local(now + 3 * HOUR));

    let mut tina = Client::new(&t.base, "en");
    assert_eq!(tina.sign_in("tina", PASSWORD).await.status, 303);
    let form = tina.get("/console/assessments/new").await;
    assert_eq!(form.status, 200);
    assert!(
        form.body.contains("UTC+08:00"),
        "the form names the provider's zone"
    );

    // ASMT-1: one own target and one of globex's: refused naming only globex's, and nothing of
    // globex itself; the form shows again what was typed; nothing is stored.
    let targets = format!("{ACME_IP}\n{GLOBEX_IP}");
    let scan = |targets: &str| -> Vec<(&'static str, String)> {
        vec![
            ("kind", "penetration_test".into()),
            ("targets", targets.to_string()),
            ("sources", "198.51.100.20".into()),
            ("window_start", start.clone()),
            ("window_end", end.clone()),
        ]
    };
    let fields = scan(&targets);
    let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = tina
        .post(
            "/console/assessments/new",
            "/console/assessments",
            &borrowed,
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    let error = error_of(&a);
    assert_eq!(
        error,
        en.fmt("asm_refused.foreign", &[("targets", GLOBEX_IP)]),
        "the refusal names the foreign target only"
    );
    assert!(!error.contains(ACME_IP), "{error}");
    for theirs in ["globex", "Globex Corporation"] {
        assert!(
            !a.body.to_lowercase().contains(&theirs.to_lowercase()),
            "the page names {theirs:?}"
        );
    }
    assert!(
        a.body
            .contains(&format!("{ACME_IP}\n{GLOBEX_IP}</textarea>")),
        "the targets as typed"
    );
    assert!(a.body.contains(&format!("value=\"{start}\"")), "the start");
    assert!(
        a.body
            .contains("<option value=\"penetration_test\" selected>"),
        "the kind"
    );
    let mut problems = Vec::new();
    check_page("the refused declaration", &a.body, "en", &mut problems);
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(stored(&t, &tenant).await, Vec::<Value>::new(), "stored");

    // ASMT-3: the provider's own infrastructure is refused as such.
    let fields = scan(&format!("{ACME_IP}\n{INFRA_IP}"));
    let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = tina
        .post(
            "/console/assessments/new",
            "/console/assessments",
            &borrowed,
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(
        error_of(&a),
        en.fmt("asm_refused.infrastructure", &[("targets", INFRA_IP)])
    );
    assert_eq!(stored(&t, &tenant).await, Vec::<Value>::new(), "stored");

    // ASMT-2: a valid stress test, its window in the provider's local time, its rates with SI
    // prefixes: it waits for approval.
    let a = tina
        .post(
            "/console/assessments/new",
            "/console/assessments",
            &[
                ("kind", "stress_test"),
                ("targets", ACME_IP),
                ("sources", SOURCES),
                ("window_start", &start),
                ("window_end", &end),
                ("peak_bps", "2G"),
                ("peak_pps", "1.5M"),
                ("peak_rps", ""),
                ("method", "UDP load from our generators"),
                ("contact", "+86 138 0000 0000"),
                (
                    "rollback_plan",
                    "stop the generators; traffic ends within a minute",
                ),
                ("attest_rights", "1"),
            ],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let items = stored(&t, &tenant).await;
    assert_eq!(items.len(), 1, "{items:?}");
    let id = items[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        a.location,
        format!("/console/assessments/{id}?done=assessment_submitted")
    );
    assert_eq!(items[0]["state"], "pending_approval");
    assert_eq!(items[0]["plan"]["peak_bps"], 2_000_000_000u64);
    assert_eq!(items[0]["plan"]["peak_pps"], 1_500_000);
    assert_eq!(items[0]["plan"]["peak_rps"], 0);
    let minute = |ms: i64| Timestamp(ms - ms.rem_euclid(60_000)).to_rfc3339();
    assert_eq!(
        (
            items[0]["window_start"].as_str().unwrap(),
            items[0]["window_end"].as_str().unwrap()
        ),
        (minute(now + HOUR).as_str(), minute(now + 3 * HOUR).as_str()),
        "the window read in the provider's zone"
    );
    let page = tina.get(&a.location).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&en.get("done.assessment_submitted")));
    assert!(page.body.contains("data-state=\"pending_approval\""));
    assert!(page.body.contains("id=\"asm-sla\""), "the approval clock");
    assert!(page.body.contains("2 Gbps"), "the peak in words");
    let list = tina.get("/console/assessments").await;
    assert!(list.body.contains(&format!("id=\"asm-{id}\"")));

    // The staff queue: the plan with its SLA clock; a reviewer reads it but decides nothing.
    let mut rita = Client::new(&t.base, "en");
    assert_eq!(rita.sign_in("rita", PASSWORD).await.status, 303);
    let queue = rita.get("/staff/assessments").await;
    assert_eq!(queue.status, 200);
    assert!(queue.body.contains(&format!("id=\"asm-{id}\"")));
    assert!(queue.body.contains("class=\"sla-left"), "working time left");
    assert!(queue.body.contains("data-n=\"1\" data-overdue=\"0\""));
    let one = rita.get(&format!("/staff/assessments/{id}")).await;
    assert_eq!(one.status, 200);
    assert!(
        !one.body.contains("id=\"approve-form\""),
        "a reviewer's form"
    );
    let a = rita
        .post(
            &format!("/staff/assessments/{id}"),
            &format!("/staff/assessments/{id}/approve"),
            &[],
        )
        .await;
    assert_eq!(a.status, 403);

    // An operator approves it, with a note for the tenant.
    let mut olga = Client::new(&t.base, "en");
    assert_eq!(olga.sign_in("olga", PASSWORD).await.status, 303);
    let staff = olga.get(&format!("/staff/assessments/{id}")).await;
    assert!(staff.body.contains("+86 138 0000 0000"), "the contact");
    assert!(staff.body.contains("id=\"approve-form\""));
    let a = olga
        .post(
            &format!("/staff/assessments/{id}"),
            &format!("/staff/assessments/{id}/approve"),
            &[("reason", "call us before you start")],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(
        a.location,
        format!("/staff/assessments/{id}?done=assessment_approved")
    );
    let queue = olga.get("/staff/assessments").await;
    assert!(
        queue.body.contains("id=\"pending-empty\""),
        "the queue is empty"
    );

    // The tenant sees it approved, with the note, in both languages.
    let page = tina.get(&format!("/console/assessments/{id}")).await;
    assert!(
        page.body.contains("data-state=\"approved\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("data-in-force=\"true\""));
    assert!(page.body.contains("call us before you start"));
    let mut zh = Client::new(&t.base, "zh-CN");
    assert_eq!(zh.sign_in("tina", PASSWORD).await.status, 303);
    let page = zh.get(&format!("/console/assessments/{id}")).await;
    let words = Lang::Zh.catalog();
    assert!(page.body.contains(&words.get("asm_state.approved")));
    let mut problems = Vec::new();
    check_page(
        "the approved assessment",
        &page.body,
        "zh-CN",
        &mut problems,
    );
    assert!(problems.is_empty(), "{problems:#?}");

    // A stop without a reason changes nothing; with one, it is stopped.
    let path = format!("/console/assessments/{id}");
    let a = tina
        .post(&path, &format!("{path}/stop"), &[("reason", "  ")])
        .await;
    assert_eq!(a.status, 422);
    assert_eq!(error_of(&a), en.get("asm.reason_required"));
    assert_eq!(stored(&t, &tenant).await[0]["state"], "approved");
    let a = tina
        .post(&path, &format!("{path}/stop"), &[("reason", "done early")])
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(a.location, format!("{path}?done=assessment_stopped"));
    let page = tina.get(&a.location).await;
    assert!(page.body.contains("data-state=\"stopped\""));
    assert!(page.body.contains(&en.fmt(
        "why.assessment_stopped_by_tenant",
        &[("note", "done early")]
    )));
    assert!(!page.body.contains("id=\"stop-form\""), "nothing to stop");
    assert_eq!(stored(&t, &tenant).await[0]["state"], "stopped");
    // Stopped, it cannot be approved again: the refusal says so in words.
    let a = olga
        .post(
            &format!("/staff/assessments/{id}"),
            &format!("/staff/assessments/{id}/approve"),
            &[],
        )
        .await;
    assert_eq!(a.status, 409);
    assert_eq!(error_of(&a), en.get("refused.assessment_transition"));
    t.stop().await;
}
