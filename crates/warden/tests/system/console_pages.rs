//! Every console page in a conforming HTML parser (issue 10 acceptance): each GET entry of
//! `warden_http::console::pages()`, as every role that may open it, with real ids from a world
//! holding cases in every state the tenant and staff pages branch on, in zh-CN and in en — plus
//! the pages a refused form, a flash message or an error answers with. Each page must parse
//! without a single parse error (html5ever, the HTML5 algorithm browsers use), label every
//! field, carry `<html lang>` of its language and a `<title>`, show no `⟦missing key⟧`, and a
//! zh-CN page shows no English text of the catalogue. No tenant page shows an internal note (the
//! world has one on every case) or the notes section. The audit export is NDJSON, not a page:
//! it is checked line by line instead.
//!
//! The world ([`fixture`]) is shared with `console_access`.
//! SPEC: UI-1, UI-2 (zh-CN and en on every page).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use html5ever::tendril::TendrilSink;
use html5ever::tokenizer::TokenizerOpts;
use html5ever::tree_builder::TreeBuilderOpts;
use html5ever::{ParseOpts, parse_document};
use markup5ever_rcdom::{Handle, NodeData, RcDom};
use serde_json::json;
use warden_app::Settings;
use warden_app::auth::Principal;
use warden_domain::calendar::WorkCalendar;
use warden_domain::identity::Role;
use warden_http::console::{Access, Lang, pages};

use crate::console::{Client, PASSWORD, person};
use crate::lifecycle::{World, lifecycle, world_with};
use crate::support::Engine;

/// Who signs in: (login, role, account, whether the account's owner).
pub(crate) const PEOPLE: [(&str, Role, Option<&str>, bool); 8] = [
    ("ada", Role::Admin, None, false),
    ("olga", Role::Operator, None, false),
    ("rita", Role::Reviewer, None, false),
    ("audrey", Role::Auditor, None, false),
    ("tina", Role::Tenant, Some("acme"), false),
    ("gina", Role::Tenant, Some("globex"), false),
    ("otto", Role::Tenant, Some("acme"), true),
    ("sam", Role::SecurityTeam, None, false),
];

/// What acme's confidential vulnerability report says (ASMT-4): no page but the security team's
/// and admins' may show it.
pub(crate) const VULN_TEXT: &str = "vuln-page-marker: SSRF in the metadata proxy";

/// A vulnerability report id that exists nowhere.
pub(crate) const MISSING_VULN: &str = "vul_000000000000_0000ffffffff";

/// Whether `person` (an index into [`PEOPLE`]) is a tenant user who does not own its account
/// (the users page refuses them although the entry lets tenants in).
pub(crate) fn tenant_not_owner(person: Option<usize>) -> bool {
    person.is_some_and(|i| PEOPLE[i].1 == Role::Tenant && !PEOPLE[i].3)
}

/// The internal note written on every case: no tenant page may show it.
pub(crate) const NOTE: &str = "internal: owner is a repeat offender — 内部备注，勿告知租户";

/// acme's public IP (the lifecycle world's machine), blackholed in the fixture.
pub(crate) const ACME_IP: &str = "192.0.2.77";
/// globex's public IP, blackholed in the fixture.
pub(crate) const GLOBEX_IP: &str = "198.51.100.7";
/// An IP no resource has.
pub(crate) const MISSING_IP: &str = "203.0.113.250";
/// A blackhole id that exists nowhere.
pub(crate) const MISSING_BLACKHOLE: &str = "bh_000000000000_0000ffffffff";

/// A case id that exists nowhere.
pub(crate) const MISSING_CASE: &str = "case_000000000000_0000ffffffff";

/// An assessment id that exists nowhere.
pub(crate) const MISSING_ASSESSMENT: &str = "asm_000000000000_0000ffffffff";
/// Where the fixture's stress tests come from.
pub(crate) const TEST_SOURCES: &str = "198.51.100.64/28";

/// Two accounts with cases in every state the pages branch on, notices, tickets and a pending
/// manual unblock request. Account A is `acme` (the lifecycle world's, its site served by the
/// test's web server), account B is `globex`.
pub(crate) struct Fixture {
    pub(crate) w: World,
    /// acme's cases by what they show.
    pub(crate) acme: BTreeMap<&'static str, String>,
    /// globex's cases by what they show.
    pub(crate) globex: BTreeMap<&'static str, String>,
    /// A reported case nobody owns.
    pub(crate) unowned: String,
    /// The manual unblock request waiting for a reviewer (acme's `unblock_requested` case).
    pub(crate) request: String,
    pub(crate) acme_notices: Vec<String>,
    pub(crate) globex_notices: Vec<String>,
    pub(crate) globex_ticket_subject: String,
    /// A tenant token of globex, for the JSON API.
    pub(crate) globex_token: String,
    /// acme's open ticket (claimed by rita).
    pub(crate) open_ticket: String,
    /// A dead webhook message (message id, endpoint): what `/staff/deliveries/redrive` takes.
    pub(crate) dead_webhook: (String, String),
    /// acme's blackholed public IP's blackhole (DDOS-3), by its detector's samples.
    pub(crate) acme_blackhole: String,
    /// globex's blackholed public IP's blackhole, seen by a flow collector (with top
    /// protocols and sources).
    pub(crate) globex_blackhole: String,
    /// acme's confidential vulnerability report (ASMT-4), saying [`VULN_TEXT`].
    pub(crate) vuln: String,
    /// acme's security assessments (ASMT-1..5) by what they show: `pending` (a stress-test
    /// plan waiting for approval), `approved` (one approved), `awaiting_disclosure` (a phishing
    /// test whose window is over), `declared` (a vulnerability scan in force).
    pub(crate) assessments: BTreeMap<&'static str, String>,
    /// globex's declared vulnerability scan.
    pub(crate) globex_assessment: String,
}

impl Fixture {
    /// The assessments a user of `account` sees (every one for staff).
    pub(crate) fn assessments_of(&self, account: Option<&str>) -> Vec<String> {
        match account {
            Some("acme") => self.assessments.values().cloned().collect(),
            Some("globex") => vec![self.globex_assessment.clone()],
            Some(other) => panic!("no account {other}"),
            None => self
                .assessments
                .values()
                .cloned()
                .chain([self.globex_assessment.clone()])
                .collect(),
        }
    }

    /// The public IPs a user of `account` sees (every one for staff).
    pub(crate) fn ips_of(&self, account: Option<&str>) -> Vec<String> {
        match account {
            Some("acme") => vec![ACME_IP.into()],
            Some("globex") => vec![GLOBEX_IP.into()],
            Some(other) => panic!("no account {other}"),
            None => vec![ACME_IP.into(), GLOBEX_IP.into()],
        }
    }

    /// The cases a user of `account` sees (every case for staff).
    pub(crate) fn cases_of(&self, account: Option<&str>) -> Vec<String> {
        match account {
            Some("acme") => self.acme.values().cloned().collect(),
            Some("globex") => self.globex.values().cloned().collect(),
            Some(other) => panic!("no account {other}"),
            None => self
                .acme
                .values()
                .chain(self.globex.values())
                .cloned()
                .chain([self.unowned.clone()])
                .collect(),
        }
    }

    /// `GET /api/notices` ids of a tenant token.
    async fn notice_ids(&self, token: &str) -> Vec<String> {
        let (s, n) = self
            .w
            .t
            .call("GET", "/api/notices", Some(token), None)
            .await;
        assert_eq!(s, 200, "{n}");
        n["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_string())
            .collect()
    }
}

async fn report_at(w: &World, target: &str, category: &str) -> String {
    let (s, r) =
        w.t.call(
            "POST",
            "/api/reports",
            Some(&w.op),
            Some(&json!({ "target": target, "category": category, "description": "seen on the page" })),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    r["case_id"].as_str().unwrap().to_string()
}

async fn state_of(w: &World, case: &str) -> String {
    w.case(case).await["state"].as_str().unwrap().to_string()
}

/// RFC 3339 of `ms` from the world's now.
pub(crate) fn from_now(w: &World, ms: i64) -> String {
    use warden_app::clock::Clock as _;
    warden_domain::time::Timestamp(w.t.clock.now().millis() + ms).to_rfc3339()
}

/// A stress-test plan's declaration of `target` (ASMT-2), its window an hour from now.
pub(crate) fn stress_test(w: &World, target: &str) -> serde_json::Value {
    json!({
        "kind": "stress_test", "targets": [target], "sources": [TEST_SOURCES],
        "window_start": from_now(w, 3_600_000), "window_end": from_now(w, 3 * 3_600_000),
        "plan": {
            "peak_bps": 2_000_000_000u64, "peak_pps": 1_500_000, "peak_rps": 20_000,
            "method": "UDP and HTTP load from our generators", "contact": "+86 138 0000 0000",
            "rollback_plan": "stop the generators; traffic ends within a minute",
            "attest_rights": true,
        }
    })
}

/// `token` declares `body`; its id.
async fn declared(w: &World, token: &str, body: serde_json::Value) -> String {
    let (s, a) =
        w.t.call("POST", "/api/assessments", Some(token), Some(&body))
            .await;
    assert_eq!(s, 201, "{a}");
    a["id"].as_str().unwrap().to_string()
}

/// The world of [`Fixture`] on `engine`, with the people of [`PEOPLE`].
pub(crate) async fn fixture(engine: Engine) -> Option<Fixture> {
    let mut settings = Settings::default();
    settings.sessions.secure_cookies = false; // plain HTTP on loopback
    settings.sessions.attempts_per_minute = 10_000; // many sign-ins from one address
    settings.public_reports_per_minute = 10_000;
    // A webhook endpoint nobody listens on, for CDN actions only (globex's `delivery_failed`
    // case): its first attempt fails for good, and the message waits to be re-driven.
    settings.webhooks = vec![warden_app::enforce::WebhookEndpoint {
        name: "gone".into(),
        url: format!("http://127.0.0.1:{}/hook", crate::enforcement::free_port()),
        secret: vec![7u8; 32],
        actions: vec![],
        products: vec![warden_domain::resource::Product::Cdn],
    }];
    settings.webhook_max_attempts = 1;
    let mut l = lifecycle(WorkCalendar::default());
    // Repeat offences stay general, so every acme case keeps its console unblock paths.
    l.grading.repeat_offence_serious_after = 100;
    l.grading.repeat_offence_especially_serious_after = 200;
    let w = world_with(engine, settings, l).await?;
    let (s, _) =
        w.t.call(
            "POST",
            "/api/accounts",
            Some(&w.t.admin),
            Some(&json!({ "id": "globex", "name": "Globex" })),
        )
        .await;
    assert_eq!(s, 201);
    let (s, b) = w.t.call("POST", "/api/resources", Some(&w.t.admin), Some(&json!({ "id": "globex-web", "account_id": "globex", "product": "cvm", "identifiers": [{ "kind": "url_prefix", "value": "http://globex.example" }] }))).await;
    assert_eq!(s, 201, "{b}");
    let globex_token = w.t.token("tenant", Some("globex")).await;
    let markers = json!({ "markers": ["色情视频"] });
    // ASMT-5: acme's phishing test, its window over a minute from now: once the clock passes
    // it, its disclosure is due (before anything else here minds a minute).
    let mut assessments = BTreeMap::new();
    let phishing = json!({
        "kind": "phishing_test", "targets": [ACME_IP], "sources": ["198.51.100.10"],
        "window_start": from_now(&w, -5 * 60_000), "window_end": from_now(&w, 60_000),
    });
    let phishing = declared(&w, &w.tenant, phishing).await;
    w.t.clock.advance(60_000);
    w.t.app.job_wakeup.notify_waiters();
    crate::enforcement::until("the phishing test's disclosure due", async || {
        let (_, a) =
            w.t.call(
                "GET",
                &format!("/api/assessments/{phishing}"),
                Some(&w.tenant),
                None,
            )
            .await;
        a["state"] == "awaiting_disclosure" && a["reminders"] == 1
    })
    .await;
    assessments.insert("awaiting_disclosure", phishing);

    let mut acme = BTreeMap::new();
    // Enforced after a failed self-service unblock (the clock moves past the deadline here).
    acme.insert("enforced", w.enforced_after_failed_self_unblock().await);
    // Enforced at once (no first offence), self-service failed, a manual request pending.
    let requested = w.report("spam_ads").await;
    let (s, c) = w.confirm(&requested, markers.clone()).await;
    assert_eq!((s, c["state"].as_str()), (200, Some("enforced")), "{c}");
    let (s, r) = w.self_unblock(&requested, true).await;
    assert_eq!((s, r["outcome"].as_str()), (200, Some("failed")), "{r}");
    let (s, r) =
        w.t.call(
            "POST",
            &format!("/api/cases/{requested}/unblock/manual"),
            Some(&w.tenant),
            None,
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let request = r["id"].as_str().unwrap().to_string();
    acme.insert("unblock_requested", requested);
    // Lifted: the page was clean when the tenant asked.
    let lifted = w.report("rumor").await;
    let (s, c) = w.confirm(&lifted, markers.clone()).await;
    assert_eq!((s, c["state"].as_str()), (200, Some("enforced")), "{c}");
    let violating = w.page.lock().unwrap().clone();
    *w.page.lock().unwrap() = "<html><body>已整改 fixed</body></html>".into();
    let (s, r) = w.self_unblock(&lifted, true).await;
    assert_eq!((s, r["state"].as_str()), (201, Some("succeeded")), "{r}");
    *w.page.lock().unwrap() = violating;
    acme.insert("lifted", lifted);
    // Waiting in triage, and dismissed.
    acme.insert("reported", w.report("privacy").await);
    let dismissed = w.report("infringement").await;
    let (s, b) =
        w.t.call(
            "POST",
            &format!("/api/cases/{dismissed}/dismiss"),
            Some(&w.op),
            Some(&json!({ "reason": "not a violation" })),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    acme.insert("dismissed", dismissed);
    for (state, case) in &acme {
        assert_eq!(&state_of(&w, case).await, state, "acme's {state} case");
    }
    // DDOS-3: acme's machine is blackholed by an attack a detector saw.
    let det = w.t.token("detector", None).await;
    let acme_blackhole = crate::console_ddos::attack(&w.t, &det, ACME_IP, 3_000_000_000).await;
    let (_, b) =
        w.t.call("GET", "/api/blackholes", Some(&w.tenant), None)
            .await;
    acme.insert(
        "blackholed",
        b["items"][0]["case_id"].as_str().unwrap().to_string(),
    );

    let mut globex = BTreeMap::new();
    // globex's first offence: alerting, counting down.
    let alerting = report_at(&w, "http://globex.example/a", "porn_vulgar").await;
    let (s, c) = w.confirm(&alerting, markers.clone()).await;
    assert_eq!((s, c["state"].as_str()), (200, Some("alerting")), "{c}");
    globex.insert("alerting", alerting);
    // A serious case: enforced at once, no console unblock.
    let serious = report_at(&w, "http://globex.example/casino", "gambling").await;
    let (s, c) = w.confirm(&serious, json!({})).await;
    assert_eq!((s, c["state"].as_str()), (200, Some("enforced")), "{c}");
    globex.insert("serious", serious.clone());
    // A CDN case whose webhook delivery failed for good: re-drivable from /staff/deliveries.
    let (s, b) = w.t.call("POST", "/api/resources", Some(&w.t.admin), Some(&json!({ "id": "globex-cdn", "account_id": "globex", "product": "cdn", "identifiers": [{ "kind": "url_prefix", "value": "http://cdn.globex.example" }] }))).await;
    assert_eq!(s, 201, "{b}");
    let failed = report_at(&w, "http://cdn.globex.example/slots", "gambling").await;
    let (s, c) = w.confirm(&failed, json!({})).await;
    assert_eq!((s, c["state"].as_str()), (200, Some("enforced")), "{c}");
    let mut dead = None;
    crate::enforcement::until("a dead webhook message", async || {
        let (_, log) =
            w.t.call("GET", "/api/enforcement/webhooks", Some(&w.op), None)
                .await;
        let Some(msg) = log["attempts"].as_array().unwrap().first() else {
            return false;
        };
        let msg = msg["msg_id"].as_str().unwrap().to_string();
        let (_, log) =
            w.t.call(
                "GET",
                &format!("/api/enforcement/webhooks?msg_id={msg}"),
                Some(&w.op),
                None,
            )
            .await;
        let gone = log["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["endpoint"] == "gone" && m["state"] == "dead");
        dead = gone.then(|| (msg, "gone".to_string()));
        dead.is_some()
    })
    .await;
    globex.insert("delivery_failed", failed);
    // DDOS-2/3: globex's public IP, blackholed by an attack a flow collector saw.
    let (s, b) = w.t.call("POST", "/api/resources", Some(&w.t.admin), Some(&json!({ "id": "globex-ip", "account_id": "globex", "product": "cvm", "identifiers": [{ "kind": "public_ip", "value": GLOBEX_IP }] }))).await;
    assert_eq!(s, 201, "{b}");
    let globex_blackhole = crate::console_ddos::flow_attack(&w.t, GLOBEX_IP, 5_000_000_000).await;
    let (_, b) =
        w.t.call("GET", "/api/blackholes", Some(&globex_token), None)
            .await;
    globex.insert(
        "blackholed",
        b["items"][0]["case_id"].as_str().unwrap().to_string(),
    );
    let unowned = report_at(&w, "http://nobody.example/x", "spam_ads").await;
    // ASMT-4: acme reports a vulnerability in the provider's infrastructure.
    let (s, v) =
        w.t.call(
            "POST",
            "/api/vulnerabilities",
            Some(&w.tenant),
            Some(&json!({
                "title": VULN_TEXT, "description": format!("{VULN_TEXT}: reads 169.254.169.254"),
                "details": "curl it", "component": "metadata.internal.example", "severity": "high"
            })),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let vuln = v["id"].as_str().unwrap().to_string();
    // ASMT-1/2: acme's stress-test plans, one waiting and one approved; a scan in force; and
    // globex's scan of its own IP.
    assessments.insert(
        "pending",
        declared(&w, &w.tenant, stress_test(&w, ACME_IP)).await,
    );
    let approved = declared(&w, &w.tenant, stress_test(&w, ACME_IP)).await;
    let (s, a) =
        w.t.call(
            "POST",
            &format!("/api/assessments/{approved}/approve"),
            Some(&w.op),
            Some(&json!({ "reason": "call us before you start" })),
        )
        .await;
    assert_eq!((s, a["state"].as_str()), (200, Some("approved")), "{a}");
    assessments.insert("approved", approved);
    let scan = |target: &str| {
        json!({
            "kind": "vulnerability_scan", "targets": [target], "sources": ["198.51.100.20"],
            "window_start": from_now(&w, 0), "window_end": from_now(&w, 24 * 3_600_000),
        })
    };
    assessments.insert("declared", declared(&w, &w.tenant, scan(ACME_IP)).await);
    let globex_assessment = declared(&w, &globex_token, scan(GLOBEX_IP)).await;

    // Tickets: acme has an open one and an answered one; globex one.
    let mut open_ticket = String::new();
    for (token, body) in [
        (
            &w.tenant,
            json!({ "kind": "unblock", "case_id": acme["enforced"], "subject": "Please unblock", "body": "Removed it." }),
        ),
        (
            &w.tenant,
            json!({ "kind": "question", "subject": "A question", "body": "How long?" }),
        ),
        (
            &globex_token,
            json!({ "kind": "question", "case_id": serious, "subject": "Globex private matter", "body": "Globex internal details" }),
        ),
    ] {
        let (s, t) =
            w.t.call("POST", "/api/tickets", Some(token), Some(&body))
                .await;
        assert_eq!(s, 201, "{t}");
        if body["kind"] == "unblock" {
            open_ticket = t["id"].as_str().unwrap().to_string();
        }
        if body["kind"] == "question" && body["case_id"].is_null() {
            let (s, c) =
                w.t.call(
                    "POST",
                    &format!("/api/tickets/{}/close", t["id"].as_str().unwrap()),
                    Some(&w.reviewer),
                    Some(&json!({ "resolution": "About two working hours." })),
                )
                .await;
            assert_eq!(s, 200, "{c}");
        }
    }

    let mut f = Fixture {
        w,
        acme,
        globex,
        unowned,
        request,
        acme_notices: Vec::new(),
        globex_notices: Vec::new(),
        globex_ticket_subject: "Globex private matter".into(),
        globex_token,
        open_ticket,
        dead_webhook: dead.unwrap(),
        acme_blackhole,
        globex_blackhole,
        vuln,
        assessments,
        globex_assessment,
    };
    f.acme_notices = f.notice_ids(&f.w.tenant).await;
    f.globex_notices = f.notice_ids(&f.globex_token).await;
    assert!(f.acme_notices.len() >= 3 && !f.globex_notices.is_empty());
    for (login, role, account, owner) in PEOPLE {
        person(&f.w.t, login, role, account, owner).await;
    }
    // An internal note on every case, which no tenant page may show.
    for case in f.cases_of(None) {
        f.w.t
            .app
            .add_note(&Principal::System, &case, NOTE)
            .await
            .unwrap();
    }
    // One of acme's notices read, the others not.
    let mut tina = Client::new(&f.w.t.base, "en");
    assert_eq!(tina.sign_in("tina", PASSWORD).await.status, 303);
    let a = tina
        .post(
            "/console/inbox",
            &format!("/console/inbox/{}/read", f.acme_notices[0]),
            &[],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    // Rita works on acme's open ticket: the queue shows her claim.
    let mut rita = Client::new(&f.w.t.base, "en");
    assert_eq!(rita.sign_in("rita", PASSWORD).await.status, 303);
    let item = format!("ticket:{}", f.open_ticket);
    let a = rita
        .post(
            "/staff/reviews",
            "/staff/claims",
            &[("item", &item), ("back", "/staff/reviews")],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    Some(f)
}

/// Signed-in clients of every person in [`PEOPLE`] and an anonymous one, in `lang`.
pub(crate) async fn clients(f: &Fixture, lang: &'static str) -> Vec<(Option<usize>, Client)> {
    let mut out = vec![(None, Client::new(&f.w.t.base, lang))];
    for (i, (login, _, _, _)) in PEOPLE.iter().enumerate() {
        let mut c = Client::new(&f.w.t.base, lang);
        let a = c.sign_in(login, PASSWORD).await;
        assert_eq!(a.status, 303, "{login} signs in: {}", a.body);
        out.push((Some(i), c));
    }
    out
}

/// Whether `access` lets `person` (an index into [`PEOPLE`], `None` for anonymous) in.
pub(crate) fn allowed(access: Access, person: Option<usize>) -> bool {
    match (access, person) {
        (Access::Public, _) => true,
        (Access::Roles(_), None) => false,
        (Access::Roles(roles), Some(i)) => roles.contains(&PEOPLE[i].1),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_page_parses_labels_its_fields_and_speaks_its_language() {
    let f = fixture(Engine::Sqlite).await.unwrap();
    let mut problems = Vec::new();
    let mut checked = 0;
    let mut seen_paths = BTreeSet::new();
    for lang in ["zh-CN", "en"] {
        for (person, mut c) in clients(&f, lang).await {
            let who = person.map_or("anonymous", |i| PEOPLE[i].0);
            let account = person.and_then(|i| PEOPLE[i].2);
            let mut paths: Vec<String> = Vec::new();
            for p in pages().into_iter().filter(|p| p.method == "GET") {
                if !allowed(p.access, person) {
                    continue;
                }
                seen_paths.insert(p.path);
                if p.path.contains("{ip}") {
                    let ips = f.ips_of(account);
                    paths.extend(ips.iter().map(|ip| p.path.replace("{ip}", ip)));
                } else if p.path.contains("{id}") {
                    let ids = match p.path {
                        "/console/cases/{id}" => f.cases_of(account),
                        "/staff/cases/{id}" => f.cases_of(None),
                        "/staff/accounts/{id}" => vec!["acme".into(), "globex".into()],
                        "/staff/vulnerabilities/{id}" => vec![f.vuln.clone()],
                        "/console/assessments/{id}" => f.assessments_of(account),
                        "/staff/assessments/{id}" => f.assessments_of(None),
                        other => panic!("no ids to open {other} with: add them to this test"),
                    };
                    paths.extend(ids.iter().map(|id| p.path.replace("{id}", id)));
                } else {
                    paths.push(p.path.to_string());
                }
            }
            // Flash messages, filters, refusals and errors are pages too.
            paths.extend(extra_pages(&f, person));
            let tenant = person.is_some_and(|i| PEOPLE[i].1 == Role::Tenant);
            let security =
                person.is_some_and(|i| matches!(PEOPLE[i].1, Role::Admin | Role::SecurityTeam));
            for path in paths {
                let a = c.get(&path).await;
                if a.status == 303 {
                    continue;
                }
                let what = format!("{who} {lang} GET {path} ({})", a.status);
                // The export is NDJSON, not a page: one JSON object per line.
                if path.starts_with("/staff/audit/export") && a.status == 200 {
                    check_export(&what, &a, &mut problems);
                    continue;
                }
                // The traffic chart is an SVG image, not a page (DDOS-6).
                if path.ends_with("/traffic.svg") && a.status == 200 {
                    crate::console_ddos::check_svg(&what, &a, lang, &mut problems);
                    continue;
                }
                checked += 1;
                check_page(&what, &a.body, lang, &mut problems);
                if tenant {
                    check_no_notes(&what, &a.body, lang, &mut problems);
                }
                if !security && a.body.contains(VULN_TEXT) {
                    problems.push(format!("{what}: shows a vulnerability report's text"));
                }
            }
            for (what, a) in refused_forms(&f, person, lang, &mut c).await {
                checked += 1;
                let what = format!("{who} {lang} {what} ({})", a.status);
                check_page(&what, &a.body, lang, &mut problems);
                if tenant {
                    check_no_notes(&what, &a.body, lang, &mut problems);
                }
                if !security && a.body.contains(VULN_TEXT) {
                    problems.push(format!("{what}: shows a vulnerability report's text"));
                }
            }
        }
    }
    let every_get: BTreeSet<&str> = pages()
        .into_iter()
        .filter(|p| p.method == "GET")
        .map(|p| p.path)
        .collect();
    assert_eq!(seen_paths, every_get, "some GET page was opened by nobody");
    println!("checked {checked} pages");
    assert!(checked > 150, "only {checked} pages checked");
    assert!(
        problems.is_empty(),
        "{} problems in {checked} pages:\n{}",
        problems.len(),
        problems.join("\n")
    );
    f.w.t.stop().await;
}

/// `a` is the audit export: NDJSON, every line an audit event.
fn check_export(what: &str, a: &crate::console::Answer, problems: &mut Vec<String>) {
    if !a.content_type.starts_with("application/x-ndjson") {
        problems.push(format!("{what}: Content-Type {:?}", a.content_type));
    }
    if a.body.lines().next().is_none() {
        problems.push(format!("{what}: no events"));
    }
    for (n, line) in a.body.lines().enumerate() {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(e) if e["seq"].is_i64() && e["action"].is_string() => {}
            _ => problems.push(format!("{what}: line {} is no audit event: {line}", n + 1)),
        }
    }
}

/// A tenant page shows no internal note: neither its text nor the notes section or form.
fn check_no_notes(what: &str, html: &str, lang: &str, problems: &mut Vec<String>) {
    let words = Lang::from_tag(lang).unwrap().catalog();
    let signs = [
        NOTE.to_string(),
        NOTE.chars().take(20).collect(), // a shortened note too
        "id=\"notes\"".into(),
        "/notes\"".into(),
        words.get("notes.title"),
        words.get("notes.hint"),
    ];
    for sign in signs {
        if html.contains(&sign) {
            problems.push(format!("{what}: a tenant page shows {sign:?}"));
        }
    }
}

/// The checks themselves find what they look for (so that a passing page test means something).
#[test]
fn the_page_checks_find_what_they_look_for() {
    let mut problems = Vec::new();
    check_page(
        "bad",
        "<!DOCTYPE html><html><head></head><body><p>x<div>y</div></p><span>⟦k⟧</span>\
         <input id=a name=a><input id=a type=checkbox name=b><select name=c></select>\
         <label for=t>t</label><textarea id=t></textarea><input type=hidden name=h>\
         <button>Sign out</button></body></html>",
        "zh-CN",
        &mut problems,
    );
    let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
    for needle in [
        "parse error",
        "⟦",
        "<html lang>",
        "no <title>",
        "id \"a\" is used 2 times",
        "<select name=Some(\"c\")>",
        "<input name=Some(\"b\")>",
        "English chrome on a zh-CN page: \"Sign out\"",
    ] {
        assert!(has(needle), "no {needle:?} in {problems:#?}");
    }
    assert!(!has("\"h\"") && !has("textarea"), "{problems:#?}");
    let mut fine = Vec::new();
    check_page(
        "good",
        "<!DOCTYPE html><html lang=\"en\"><head><title>T</title></head><body>\
         <label for=q>Q</label><input id=q name=q><input name=r aria-label=\"R\">\
         <p>Sign out</p></body></html>",
        "en",
        &mut fine,
    );
    assert!(fine.is_empty(), "{fine:#?}");
    // A note's text or the notes section on a tenant page is found, in either language.
    for (html, lang) in [
        (format!("<pre>{NOTE}</pre>"), "en"),
        ("<section id=\"notes\"></section>".to_string(), "en"),
        (
            format!("<h2>{}</h2>", Lang::Zh.catalog().get("notes.title")),
            "zh-CN",
        ),
    ] {
        let mut leaks = Vec::new();
        check_no_notes("leak", &html, lang, &mut leaks);
        assert!(!leaks.is_empty(), "{html}");
    }
    let mut none = Vec::new();
    check_no_notes("clean", "<p>Your case</p>", "en", &mut none);
    assert!(none.is_empty(), "{none:#?}");
}

/// GET pages beyond the table's bare paths: with `?done=` flashes, filters, the sign-in page
/// after an expired session, and error pages (a missing case, a forbidden page, a bad filter).
fn extra_pages(f: &Fixture, person: Option<usize>) -> Vec<String> {
    let role = person.map(|i| PEOPLE[i].1);
    let mut out = vec![
        "/login?ended=1&next=%2Fconsole".to_string(),
        "/login?done=signed_out".into(),
        "/report/thanks?id=rep_000000000000_000000000001".into(),
    ];
    match role {
        Some(Role::Tenant) => {
            let mine = if PEOPLE[person.unwrap()].2 == Some("acme") {
                &f.acme
            } else {
                &f.globex
            };
            let case = mine.values().next().unwrap();
            let asm = f.assessments_of(PEOPLE[person.unwrap()].2).pop().unwrap();
            let (ip, theirs) = if PEOPLE[person.unwrap()].2 == Some("acme") {
                (ACME_IP, GLOBEX_IP)
            } else {
                (GLOBEX_IP, ACME_IP)
            };
            out.extend([
                "/console?done=ticket_filed".to_string(),
                format!("/console/cases/{case}?done=unblock_failed"),
                format!("/console/cases/{MISSING_CASE}"),
                format!("/console/tickets?case={case}&done=ticket_filed"),
                "/console/inbox?done=read".into(),
                // The case list: a state, a small page with its next link, a later page, a
                // state with no case, and bad filters.
                "/console/cases?state=enforced".into(),
                "/console/cases?limit=1".into(),
                format!("/console/cases?limit=1&before={case}"),
                "/console/cases?state=resolved".into(),
                "/console/cases?state=no_such_state".into(),
                "/console/cases?limit=0".into(),
                // The DDoS pages (DDOS-5/6): each answer of a form, an unknown IP, a bad one,
                // another account's IP, a later page of blackholes.
                format!("/console/ips/{ip}?done=upgrade_released"),
                format!("/console/ips/{ip}?done=upgrade_short&short=500000000"),
                format!("/console/ips/{ip}?done=protection_set"),
                format!("/console/ips/{ip}?done=self_released"),
                format!("/console/ips/{ip}?done=self_release_failed"),
                format!("/console/ips/{ip}?before={MISSING_BLACKHOLE}"),
                format!("/console/ips/{MISSING_IP}"),
                format!("/console/ips/{MISSING_IP}/traffic.svg"),
                format!("/console/ips/{theirs}"),
                "/console/ips/not-an-ip".into(),
                // The assessments (ASMT-1..5): each form's answer, a later page, a missing one.
                format!("/console/assessments/{asm}?done=assessment_declared"),
                format!("/console/assessments/{asm}?done=assessment_submitted"),
                format!("/console/assessments/{asm}?done=assessment_stopped"),
                format!("/console/assessments/{asm}?done=assessment_disclosed"),
                format!("/console/assessments?after={asm}"),
                format!("/console/assessments?after={MISSING_ASSESSMENT}"),
                format!("/console/assessments/{MISSING_ASSESSMENT}"),
                "/staff/assessments".into(),
                "/staff/blackholes".into(),
                "/staff".into(),
                "/account/password?done=must_change".into(),
                "/users?done=created".into(),
                "/staff/accounts".into(),
                "/staff/audit".into(),
            ]);
        }
        Some(Role::Admin | Role::Operator | Role::Reviewer) => {
            out.extend([
                "/staff?done=dismissed&n=3".to_string(),
                "/staff?done=dismissed_all".into(),
                "/staff?done=confirmed_all".into(),
                "/staff?done=regulator_entered".into(),
                "/staff?category=porn_vulgar&source=public&unowned=1".into(),
                "/staff?category=no_such_category".into(),
                "/staff?sort=spread".into(),
                "/staff/cases?state=enforced".into(),
                format!("/staff/cases/{}?done=confirmed", f.acme["reported"]),
                format!("/staff/cases/{}?done=noted", f.acme["enforced"]),
                format!("/staff/cases/{}?done=claimed", f.acme["enforced"]),
                format!("/staff/cases/{}?done=regulator_entered", f.unowned),
                format!("/staff/cases/{MISSING_CASE}"),
                "/staff/reviews?done=rejected".into(),
                "/staff/reviews?done=ticket_closed".into(),
                "/staff/reviews?done=released".into(),
                "/staff/reviews?done=assigned".into(),
                "/staff/accounts?done=account_created".into(),
                "/staff/accounts/acme?done=account_created".into(),
                "/staff/accounts/no-such-account".into(),
                "/staff/deliveries?done=redriven".into(),
                "/staff/blackholes?done=operator_released".into(),
                format!("/staff/blackholes?before={MISSING_BLACKHOLE}"),
                format!("/staff/attacks?ip={ACME_IP}"),
                format!("/staff/attacks?ip={MISSING_IP}"),
                format!("/staff/attacks?before={MISSING_BLACKHOLE}"),
                "/staff/attacks?ip=not-an-ip".into(),
                format!(
                    "/staff/assessments/{}?done=assessment_approved",
                    f.assessments["approved"]
                ),
                format!(
                    "/staff/assessments/{}?done=assessment_rejected",
                    f.assessments["pending"]
                ),
                format!(
                    "/staff/assessments/{}?done=assessment_stopped_staff",
                    f.assessments["declared"]
                ),
                format!("/staff/assessments/{MISSING_ASSESSMENT}"),
                "/console/assessments".into(),
                "/console/ips".into(),
                "/staff/audit".into(),
                "/users".into(),
                "/console".into(),
                "/console/cases".into(),
            ]);
        }
        Some(Role::Auditor) => out.extend([
            "/staff".to_string(),
            "/staff/assessments".into(),
            "/console".into(),
            "/staff/accounts".into(),
            "/staff/deliveries".into(),
            "/users".into(),
        ]),
        // ASMT-4: the inbox by state, a bad state, a later page, the report after a state
        // change, a missing report; and the pages of everyone else, refused.
        Some(Role::SecurityTeam) => out.extend([
            "/staff/vulnerabilities?state=received".to_string(),
            "/staff/vulnerabilities?state=fixed".into(),
            "/staff/vulnerabilities?state=published".into(),
            format!("/staff/vulnerabilities?before={MISSING_VULN}"),
            format!("/staff/vulnerabilities/{}?done=vulnerability_state", f.vuln),
            format!("/staff/vulnerabilities/{MISSING_VULN}"),
            "/staff".into(),
            "/staff/cases".into(),
            "/staff/audit".into(),
            "/staff/assessments".into(),
            "/console".into(),
            "/console/vulnerabilities".into(),
            "/users".into(),
        ]),
        Some(Role::Detector | Role::Edge) | None => {}
    }
    if role == Some(Role::Admin) {
        out.extend([
            "/staff/vulnerabilities?state=triaged".to_string(),
            format!("/staff/vulnerabilities/{MISSING_VULN}"),
        ]);
    }
    // The audit log's filters, a bad one, the next page, and an export of a filter.
    if matches!(role, Some(Role::Admin | Role::Auditor)) {
        out.extend([
            "/staff/audit?actor=ada&action=session.login".to_string(),
            "/staff/audit?subject=case&account=acme&from=2020-01-01&to=2099-12-31".into(),
            "/staff/audit?from=not-a-date".into(),
            "/staff/audit?actor=nobody-at-all".into(),
            "/staff/audit?after=3".into(),
            "/staff/audit/export?action=session.login".into(),
        ]);
    }
    out
}

/// A form to send: what it shows, the page that holds it, its path and its fields.
type PageForm<'a> = (&'a str, String, String, Vec<(&'a str, &'a str)>);

/// The pages forms answer with: no CSRF token, a wrong password, a report without a target,
/// each role's own forms sent incomplete or refused (each of these changes nothing), the chain
/// verified, and a user created by an admin (the page showing its one-time password).
async fn refused_forms(
    f: &Fixture,
    person: Option<usize>,
    lang: &str,
    c: &mut Client,
) -> Vec<(String, crate::console::Answer)> {
    let mut out = Vec::new();
    out.push((
        "POST /report without its CSRF token".to_string(),
        c.post_raw("/report", &[("target", "http://x.example")])
            .await,
    ));
    out.push((
        "POST /report without a target".to_string(),
        c.post("/report", "/report", &[("category", "gambling")])
            .await,
    ));
    // ASMT-4: a vulnerability report without a summary, and a status token that names nothing.
    out.push((
        "POST /vulnerability without a title".to_string(),
        c.post(
            "/vulnerability",
            "/vulnerability",
            &[
                ("component", "<b>x</b>"),
                ("severity", "low"),
                ("description", "</textarea>"),
            ],
        )
        .await,
    ));
    out.push((
        "POST /vulnerability/status with an unknown token".to_string(),
        c.post(
            "/vulnerability/status",
            "/vulnerability/status",
            &[("token", "vst_no_such_token")],
        )
        .await,
    ));
    if person.is_none() {
        out.push((
            "POST /login with a wrong password".to_string(),
            c.post(
                "/login",
                "/login",
                &[("login", "nobody"), ("password", "wrong password!")],
            )
            .await,
        ));
        return out;
    }
    out.push((
        "POST /account/password with two different new passwords".to_string(),
        c.post(
            "/account/password",
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a new password 1"),
                ("new_password_again", "a new password 2"),
            ],
        )
        .await,
    ));
    let (_, role, account, owner) = PEOPLE[person.unwrap()];
    match role {
        Role::Tenant => {
            let case = &f.cases_of(account)[0];
            out.push((
                "POST /console/tickets without a subject".to_string(),
                c.post(
                    "/console/tickets",
                    "/console/tickets",
                    &[("kind", "question"), ("body", "x")],
                )
                .await,
            ));
            let ip = &f.ips_of(account)[0];
            out.push((
                "POST a protection upgrade of no capacity".to_string(),
                c.post(
                    &format!("/console/ips/{ip}"),
                    &format!("/console/ips/{ip}/protection"),
                    &[("capacity_gbps", "0")],
                )
                .await,
            ));
            out.extend(refused_assessment_forms(f, account.unwrap(), c).await);
            out.push((
                "POST self-unblock without the commitment".to_string(),
                c.post(
                    &format!("/console/cases/{case}"),
                    &format!("/console/cases/{case}/unblock"),
                    &[],
                )
                .await,
            ));
        }
        Role::Admin | Role::Operator => {
            let case = &f.acme["reported"];
            out.push((
                "POST bulk dismiss with nothing ticked".to_string(),
                c.post("/staff", "/staff/triage/dismiss", &[("reason", "spam")])
                    .await,
            ));
            out.push((
                "POST an operator release without a reason".to_string(),
                c.post(
                    "/staff/blackholes",
                    &format!("/staff/blackholes/{}/release", f.acme_blackhole),
                    &[("reason", " ")],
                )
                .await,
            ));
            let pending = format!("/staff/assessments/{}", f.assessments["pending"]);
            let declared = format!("/staff/assessments/{}", f.assessments["declared"]);
            for (what, page, path, fields) in [
                (
                    "POST an assessment's rejection without a reason",
                    &pending,
                    format!("{pending}/reject"),
                    vec![("reason", " ")],
                ),
                (
                    "POST an assessment's stop without a reason",
                    &declared,
                    format!("{declared}/stop"),
                    vec![],
                ),
                (
                    "POST the approval of a declared scan (no plan to approve)",
                    &declared,
                    format!("{declared}/approve"),
                    vec![("reason", "<b>fine</b>")],
                ),
            ] {
                let a = c.post(page, &path, &fields).await;
                assert!([409, 422].contains(&a.status), "{what}: {}", a.status);
                out.push((what.to_string(), a));
            }
            out.push((
                "POST confirm with a level and no reason".to_string(),
                c.post(
                    &format!("/staff/cases/{case}"),
                    &format!("/staff/cases/{case}/confirm"),
                    &[("level", "serious")],
                )
                .await,
            ));
        }
        Role::Reviewer => {
            out.push((
                "POST a review without a decision".to_string(),
                c.post(
                    "/staff/reviews",
                    &format!("/staff/reviews/{}", f.request),
                    &[("reason", "x")],
                )
                .await,
            ));
        }
        Role::SecurityTeam => {
            out.push((
                "POST a vulnerability state that is none".to_string(),
                c.post(
                    &format!("/staff/vulnerabilities/{}", f.vuln),
                    &format!("/staff/vulnerabilities/{}/state", f.vuln),
                    &[("state", "published")],
                )
                .await,
            ));
            out.push((
                "POST a vulnerability back to received".to_string(),
                c.post(
                    &format!("/staff/vulnerabilities/{}", f.vuln),
                    &format!("/staff/vulnerabilities/{}/state", f.vuln),
                    &[("state", "received")],
                )
                .await,
            ));
        }
        Role::Auditor | Role::Detector | Role::Edge => {}
    }
    let staff = matches!(role, Role::Admin | Role::Operator | Role::Reviewer);
    let operator = matches!(role, Role::Admin | Role::Operator);
    let enforced = &f.acme["enforced"];
    let back = format!("/staff/cases/{enforced}");
    let mut forms: Vec<PageForm> = Vec::new();
    if operator {
        forms.extend([
            (
                "bulk confirm with nothing ticked",
                "/staff".to_string(),
                "/staff/triage/confirm".to_string(),
                vec![("reason", "x")],
            ),
            (
                "a new account without a name",
                "/staff/accounts".into(),
                "/staff/accounts".into(),
                vec![("id", "newco"), ("email", "ops@newco.example")],
            ),
            (
                "an import whose every line is refused",
                "/staff/import".into(),
                "/staff/import".into(),
                vec![(
                    "lines",
                    "not json <b>&amp;</b>\n{\"account_id\": \"no-such-account\", \"product\": \"cvm\", \"identifiers\": [{\"kind\": \"public_ip\", \"value\": \"203.0.113.9\"}]}",
                )],
            ),
            (
                "a regulator notice without a target",
                "/staff/regulator".into(),
                "/staff/regulator".into(),
                vec![
                    ("authority", "网信办 <\"&'>"),
                    ("document_number", "网信通〔2026〕7号"),
                    ("legal_basis", "《网络安全法》第四十七条"),
                    ("category", "gambling"),
                    ("description", "</textarea><b>x</b>"),
                ],
            ),
            (
                "a re-drive of a missing message",
                "/staff/deliveries".into(),
                "/staff/deliveries/redrive".into(),
                vec![("id", "webhook:gone:msg_missing")],
            ),
            (
                "a reassignment to nobody",
                "/staff/reviews".into(),
                "/staff/claims/assign".into(),
                vec![
                    ("item", "unblock:unb_000000000000_0000ffffffff"),
                    ("to", "nobody-at-all"),
                    ("back", "/staff/reviews"),
                ],
            ),
        ]);
    }
    if staff {
        forms.extend([
            (
                "an empty note",
                back.clone(),
                format!("{back}/notes"),
                vec![("body", " ")],
            ),
            (
                "a claim of no item",
                "/staff/reviews".into(),
                "/staff/claims".into(),
                vec![("item", "nothing"), ("back", "/staff/reviews")],
            ),
            (
                "a claim of no item, from a case",
                back.clone(),
                "/staff/claims".into(),
                vec![("item", "nothing"), ("back", back.as_str())],
            ),
            (
                "a release of no item",
                "/staff/reviews".into(),
                "/staff/claims/release".into(),
                vec![("item", "case:"), ("back", "/staff/reviews")],
            ),
        ]);
    }
    if matches!(role, Role::Admin | Role::Reviewer) {
        forms.push((
            "a ticket closed without a resolution",
            "/staff/reviews".into(),
            format!("/staff/tickets/{}/close", f.open_ticket),
            vec![("lift", "1")],
        ));
    }
    if matches!(role, Role::Admin | Role::Auditor) {
        forms.push((
            "the chain verified",
            "/staff/audit".into(),
            "/staff/audit/verify".into(),
            vec![],
        ));
    }
    if role == Role::Admin || role == Role::Tenant {
        forms.push((
            "a new user without a login",
            "/console".into(),
            "/users".into(),
            vec![("role", "tenant"), ("account_id", "acme")],
        ));
    }
    if role == Role::Tenant && owner {
        forms.push((
            "a new user with a staff role",
            "/users".into(),
            "/users".into(),
            vec![("login", "sneaky-admin"), ("role", "admin")],
        ));
    }
    let login = format!("new-{}", lang.to_ascii_lowercase());
    if role == Role::Admin {
        forms.push((
            "a new user (its one-time password shown)",
            "/users".into(),
            "/users".into(),
            vec![("login", login.as_str()), ("role", "reviewer")],
        ));
    }
    for (what, page, path, fields) in forms {
        out.push((
            format!("POST {path}: {what}"),
            c.post(&page, &path, &fields).await,
        ));
    }
    out
}

/// The assessment forms a tenant of `account` sends refused (ASMT-1, ASMT-2, ASMT-5): a
/// declaration naming another account's target, one with an unreadable time, a stress test
/// without its plan, a stop without its reason, a disclosure without its text and one of a test
/// not over yet. None of them stores or changes anything.
async fn refused_assessment_forms(
    f: &Fixture,
    account: &str,
    c: &mut Client,
) -> Vec<(String, crate::console::Answer)> {
    let (mine, theirs) = if account == "acme" {
        (ACME_IP, GLOBEX_IP)
    } else {
        (GLOBEX_IP, ACME_IP)
    };
    let targets = format!("{mine}\n{theirs}");
    let (start, end) = (from_now(&f.w, 3_600_000), from_now(&f.w, 7_200_000));
    let mut forms: Vec<PageForm> = vec![
        (
            "a declaration naming another account's target",
            "/console/assessments/new".into(),
            "/console/assessments".into(),
            vec![
                ("kind", "vulnerability_scan"),
                ("targets", targets.as_str()),
                ("sources", "198.51.100.20"),
                ("window_start", start.as_str()),
                ("window_end", end.as_str()),
            ],
        ),
        (
            "a declaration with an unreadable time",
            "/console/assessments/new".into(),
            "/console/assessments".into(),
            vec![
                ("kind", "penetration_test"),
                ("targets", mine),
                ("sources", "198.51.100.20"),
                ("window_start", "tomorrow <b>morning</b>"),
                ("window_end", end.as_str()),
            ],
        ),
        (
            "a stress test without its plan",
            "/console/assessments/new".into(),
            "/console/assessments".into(),
            vec![
                ("kind", "stress_test"),
                ("targets", mine),
                ("sources", TEST_SOURCES),
                ("window_start", start.as_str()),
                ("window_end", end.as_str()),
                ("method", "</textarea><b>x</b>"),
            ],
        ),
    ];
    if account == "acme" {
        let (approved, awaiting, pending) = (
            &f.assessments["approved"],
            &f.assessments["awaiting_disclosure"],
            &f.assessments["pending"],
        );
        forms.extend([
            (
                "a stop without its reason",
                format!("/console/assessments/{approved}"),
                format!("/console/assessments/{approved}/stop"),
                vec![("reason", " ")],
            ),
            (
                "a disclosure without its text",
                format!("/console/assessments/{awaiting}"),
                format!("/console/assessments/{awaiting}/disclosure"),
                vec![],
            ),
            (
                "a disclosure of a test not over",
                format!("/console/assessments/{pending}"),
                format!("/console/assessments/{pending}/disclosure"),
                vec![("text", "we told them")],
            ),
        ]);
    }
    let mut out = Vec::new();
    for (what, page, path, fields) in forms {
        let a = c.post(&page, &path, &fields).await;
        assert!(
            [409, 422].contains(&a.status),
            "POST {path}: {what} answered {}",
            a.status
        );
        out.push((format!("POST {path}: {what}"), a));
    }
    out
}

/// Parses `html` as a browser would and notes every problem under `what`.
pub(crate) fn check_page(what: &str, html: &str, lang: &str, problems: &mut Vec<String>) {
    let mut note = |p: String| problems.push(format!("{what}: {p}"));
    let opts = ParseOpts {
        tokenizer: TokenizerOpts {
            exact_errors: true,
            ..Default::default()
        },
        tree_builder: TreeBuilderOpts {
            exact_errors: true,
            ..Default::default()
        },
    };
    let dom: RcDom = parse_document(RcDom::default(), opts).one(html);
    for e in dom.errors.borrow().iter() {
        note(format!("parse error: {e}"));
    }
    if html.contains('⟦') {
        note("a key missing from the catalogue (⟦…⟧)".into());
    }
    let mut els = Vec::new();
    collect(&dom.document, &mut els);
    let html_lang = els
        .iter()
        .find(|e| e.name == "html")
        .and_then(|e| e.attrs.get("lang").cloned());
    if html_lang.as_deref() != Some(lang) {
        note(format!("<html lang> is {html_lang:?}, not {lang}"));
    }
    let title = els
        .iter()
        .find(|e| e.name == "title")
        .map(|e| e.text.trim().to_string());
    if title.as_deref().is_none_or(str::is_empty) {
        note("no <title>".into());
    }
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for e in &els {
        if let Some(id) = e.attrs.get("id") {
            *ids.entry(id).or_default() += 1;
        }
    }
    for (id, n) in &ids {
        if *n > 1 {
            note(format!("id {id:?} is used {n} times"));
        }
    }
    let labelled: BTreeSet<&str> = els
        .iter()
        .filter(|e| e.name == "label")
        .filter_map(|e| e.attrs.get("for").map(String::as_str))
        .collect();
    for e in &els {
        let field = match e.name.as_str() {
            "input" => !matches!(
                e.attrs
                    .get("type")
                    .map(|t| t.to_ascii_lowercase())
                    .as_deref(),
                Some("hidden" | "submit" | "button" | "reset" | "image")
            ),
            "select" | "textarea" => true,
            _ => false,
        };
        if !field {
            continue;
        }
        let by_label = e
            .attrs
            .get("id")
            .is_some_and(|id| labelled.contains(id.as_str()));
        let by_aria = e
            .attrs
            .get("aria-label")
            .is_some_and(|l| !l.trim().is_empty());
        if !by_label && !by_aria {
            note(format!(
                "<{} name={:?}> has no <label for> and no aria-label",
                e.name,
                e.attrs.get("name")
            ));
        }
    }
    for e in &els {
        if matches!(e.name.as_str(), "script" | "style") {
            continue;
        }
        for t in &e.own_text {
            if let Some(hole) = unfilled_placeholder(t) {
                note(format!(
                    "unfilled placeholder {hole} in <{}>: {t:?}",
                    e.name
                ));
            }
        }
    }
    if lang == "zh-CN" {
        let english = english_only_texts();
        for e in &els {
            if matches!(e.name.as_str(), "script" | "style") {
                continue;
            }
            for t in e.own_text.iter().chain(e.attrs.get("aria-label")) {
                let t = t.trim();
                if english.contains(t) {
                    note(format!(
                        "English chrome on a zh-CN page: {t:?} in <{}>",
                        e.name
                    ));
                }
                // The lifecycle's and grading's English reasons ("LIFE-2: still violating…",
                // "… (rule: serious from 2 …)") are for the API; pages say them in words. A
                // record shown as stored (the audit page's details, in <code>) is data.
                if e.name != "code" && english_rule_text(t) {
                    note(format!(
                        "an English rule text on a zh-CN page: {t:?} in <{}>",
                        e.name
                    ));
                }
            }
        }
    }
}

/// A catalogue placeholder left in a text (`{note}`), if any.
fn unfilled_placeholder(text: &str) -> Option<&str> {
    let start = text.find('{')?;
    let len = text[start + 1..].find('}')?;
    let name = &text[start + 1..start + 1 + len];
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .then(|| &text[start..start + len + 2])
}

/// Whether `text` holds one of the English reasons the lifecycle and grading write for the API
/// and the audit log: a requirement id followed by a colon (`UNB-3: manual unblock…`), or a
/// grading rule (`(rule: …`).
fn english_rule_text(text: &str) -> bool {
    if text.contains("(rule: ") {
        return true;
    }
    [
        "INT-", "LIFE-", "UNB-", "HARM-", "TKT-", "GRD-", "PEN-", "DDOS-", "ASMT-",
    ]
    .iter()
    .any(|id| {
        text.match_indices(id).any(|(at, _)| {
            let rest = &text[at + id.len()..];
            let digits = rest.chars().take_while(char::is_ascii_digit).count();
            digits > 0 && rest[digits..].starts_with(':')
        })
    })
}

/// The English catalogue's texts that differ from the zh-CN ones (and hold a word).
fn english_only_texts() -> &'static BTreeSet<String> {
    static TEXTS: std::sync::OnceLock<BTreeSet<String>> = std::sync::OnceLock::new();
    TEXTS.get_or_init(|| {
        let (en, zh) = (Lang::En.catalog(), Lang::Zh.catalog());
        en.keys()
            .filter(|k| en.get(k) != zh.get(k))
            .map(|k| en.get(k))
            .filter(|t| t.chars().filter(char::is_ascii_alphabetic).count() >= 3)
            .collect()
    })
}

/// An element as the checks need it.
pub(crate) struct El {
    pub(crate) name: String,
    pub(crate) attrs: HashMap<String, String>,
    /// Its text nodes, each on its own.
    pub(crate) own_text: Vec<String>,
    /// All text inside it (of `<title>` only).
    pub(crate) text: String,
}

/// Every element of `html` as a browser's parser builds them (SVG inline included), in
/// document order.
pub(crate) fn collect_elements(html: &str) -> Vec<El> {
    let dom: RcDom = parse_document(RcDom::default(), ParseOpts::default()).one(html);
    let mut els = Vec::new();
    collect(&dom.document, &mut els);
    els
}

fn collect(node: &Handle, out: &mut Vec<El>) {
    if let NodeData::Element { name, attrs, .. } = &node.data {
        let attrs = attrs
            .borrow()
            .iter()
            .map(|a| (a.name.local.to_string(), a.value.to_string()))
            .collect();
        let own_text = node
            .children
            .borrow()
            .iter()
            .filter_map(|c| match &c.data {
                NodeData::Text { contents } => Some(contents.borrow().to_string()),
                _ => None,
            })
            .collect();
        out.push(El {
            name: name.local.to_string(),
            attrs,
            own_text,
            text: if &*name.local == "title" {
                text_of(node)
            } else {
                String::new()
            },
        });
    }
    for c in node.children.borrow().iter() {
        collect(c, out);
    }
}

fn text_of(node: &Handle) -> String {
    let mut s = String::new();
    if let NodeData::Text { contents } = &node.data {
        s.push_str(&contents.borrow());
    }
    for c in node.children.borrow().iter() {
        s.push_str(&text_of(c));
    }
    s
}
