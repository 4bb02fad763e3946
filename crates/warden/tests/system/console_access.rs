//! Route × role over every console page and form (issue 10 acceptance), from the page table
//! itself (`warden_http::console::pages()`), so a new page is covered the day it is added:
//! anonymous people reach the public pages and are sent to sign in everywhere else; each role
//! is let in or refused (403) exactly as the entry's `access` says — and the use case behind an
//! entry agrees with it; a tenant asking with another account's case, notice or ticket gets
//! exactly the answer a missing id gets, naming nothing of the other account; every page a
//! tenant may open lists nothing of the other account, and an account owner manages only its
//! own account's ordinary users; and every form posted without its CSRF token is refused (403)
//! and changes nothing — while the same fields with the token do change something. The
//! tenant's case list shows its own confirmed cases only, and its next-page links (keyset,
//! never an offset) reach every one of them once.
//! SPEC: UI-1 (tenant and staff pages), §1 roles, AUD-4 (no other account's data), LIFE-1
//! (a tenant hears of a case once it is confirmed).

use std::collections::BTreeSet;

use serde_json::{Value, json};
use warden_domain::identity::Role;
use warden_http::console::{Lang, pages};

use crate::both_engines;
use warden_app::auth::Principal;

use crate::console::{Answer, Client, PASSWORD};
use crate::console_pages::{
    ACME_IP, Fixture, GLOBEX_IP, MISSING_ASSESSMENT, MISSING_BLACKHOLE, MISSING_CASE, MISSING_IP,
    MISSING_VULN, PEOPLE, VULN_TEXT, allowed, clients, fixture, from_now, tenant_not_owner,
};
use crate::support::Engine;

both_engines!(
    every_page_and_form_lets_in_exactly_the_roles_of_its_entry,
    a_tenant_cannot_tell_another_accounts_ids_from_missing_ones,
    every_form_without_its_csrf_token_is_refused_and_changes_nothing,
    the_tenant_case_list_shows_its_own_confirmed_cases_only,
    following_the_case_lists_next_links_reaches_every_case_once,
);

const MISSING_NOTICE: &str = "ntc_000000000000_0000ffffffff";
const MISSING_REQUEST: &str = "unb_000000000000_0000ffffffff";
const MISSING_TICKET: &str = "tkt_000000000000_0000ffffffff";

/// `path` with `{id}` replaced by an id `person` may see (GET) or by a missing one (POST, so
/// that the form changes nothing).
fn concrete(f: &Fixture, method: &str, path: &str, person: Option<usize>) -> String {
    let account = person.and_then(|i| PEOPLE[i].2);
    if path.contains("{ip}") {
        // GET: an IP of the person's (acme's for everyone else); POST: an unknown one.
        let ip = match method {
            "GET" => f.ips_of(account.or(Some("acme")))[0].clone(),
            _ => MISSING_IP.to_string(),
        };
        return path.replace("{ip}", &ip);
    }
    if !path.contains("{id}") {
        return path.to_string();
    }
    let id = match (method, path) {
        ("GET", "/console/cases/{id}") => f
            .cases_of(account.or(Some("acme")))
            .first()
            .cloned()
            .unwrap(),
        ("GET", "/staff/cases/{id}") => f.acme["enforced"].clone(),
        ("GET", "/staff/accounts/{id}") => "acme".to_string(),
        ("GET", "/staff/vulnerabilities/{id}") => f.vuln.clone(),
        ("GET", "/console/assessments/{id}") => f
            .assessments_of(account.or(Some("acme")))
            .first()
            .cloned()
            .unwrap(),
        ("GET", "/staff/assessments/{id}") => f.assessments["pending"].clone(),
        ("POST", p)
            if p.starts_with("/console/assessments/") || p.starts_with("/staff/assessments/") =>
        {
            MISSING_ASSESSMENT.to_string()
        }
        ("POST", "/staff/vulnerabilities/{id}/state") => MISSING_VULN.to_string(),
        ("POST", p) if p.starts_with("/console/cases/") || p.starts_with("/staff/cases/") => {
            MISSING_CASE.to_string()
        }
        ("POST", "/console/inbox/{id}/read") => MISSING_NOTICE.to_string(),
        ("POST", "/staff/reviews/{id}") => MISSING_REQUEST.to_string(),
        ("POST", "/staff/tickets/{id}/close") => MISSING_TICKET.to_string(),
        ("POST", "/console/blackholes/{id}/release" | "/staff/blackholes/{id}/release") => {
            MISSING_BLACKHOLE.to_string()
        }
        (m, p) => panic!("no id for {m} {p}: add one to this test"),
    };
    path.replace("{id}", &id)
}

/// Fields that get a form past its handler's own checks to the use case (or to a refusal that
/// changes nothing).
fn harmless_fields(path: &str) -> Vec<(&'static str, &'static str)> {
    match path {
        "/login" => vec![("login", "nobody"), ("password", "wrong password!")],
        "/account/password" => vec![
            ("current_password", PASSWORD),
            ("new_password", "a new password 1"),
            ("new_password_again", "a new password 2"),
        ],
        "/lang" => vec![("lang", "en"), ("back", "/laws")],
        "/console/tickets" => vec![("kind", "question"), ("body", "no subject")],
        "/staff/triage/dismiss" => vec![("reason", "nothing ticked")],
        p if p.starts_with("/staff/reviews/") => vec![("decision", "reject"), ("reason", "x")],
        p if p.ends_with("/unblock") => vec![("commitment", "1")],
        p if p.ends_with("/enforce") || p.ends_with("/dismiss") => vec![("reason", "x")],
        p if p.ends_with("/notes") => vec![("body", "x")],
        p if p.starts_with("/staff/tickets/") => vec![("resolution", "x")],
        p if p.ends_with("/protection") => vec![("capacity_gbps", "1")],
        p if p.starts_with("/staff/blackholes/") => vec![("reason", "x")],
        "/staff/import" => vec![("lines", "not json")],
        // ASMT-4: a report without its summary; a status token of nothing; a missing report.
        "/vulnerability" => vec![("severity", "low")],
        "/vulnerability/status" => vec![("token", "vst_no_such_token")],
        p if p.starts_with("/staff/vulnerabilities/") => vec![("state", "triaged")],
        // ASMT-1..5: a declaration without its targets; a stop, a rejection and a disclosure
        // of a missing assessment.
        "/console/assessments" => vec![("kind", "vulnerability_scan")],
        p if p.ends_with("/stop") || p.ends_with("/reject") => vec![("reason", "x")],
        p if p.ends_with("/disclosure") => vec![("text", "x")],
        _ => vec![],
    }
}

async fn every_page_and_form_lets_in_exactly_the_roles_of_its_entry(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let mut wrong = Vec::new();
    for (person, mut c) in clients(&f, "en").await {
        let who = person.map_or("anonymous", |i| PEOPLE[i].0);
        let role = person.map(|i| PEOPLE[i].1);
        // Sign-out last: it ends the session the other requests use.
        let mut table = pages();
        table.sort_by_key(|p| p.path == "/logout");
        for p in table {
            let path = concrete(&f, p.method, p.path, person);
            let a = if p.method == "GET" {
                c.get(&path).await
            } else {
                let fields = harmless_fields(&path);
                c.post("/login", &path, &fields).await
            };
            let expected: &[u16] = match (allowed(p.access, person), person, p.method) {
                (false, None, _) => &[303],
                (false, Some(_), _) => &[403],
                // The entry lets tenants in, the page only the account's owner.
                (true, _, _) if p.path == "/users" && tenant_not_owner(person) => &[403],
                (true, _, "GET") => match (p.path, role) {
                    (
                        "/",
                        Some(
                            Role::Tenant
                            | Role::Admin
                            | Role::Operator
                            | Role::Reviewer
                            | Role::SecurityTeam,
                        ),
                    ) => &[303],
                    _ => &[200],
                },
                // Forms: sign-in, sign-out and the language switch answer 303 or 401; the rest
                // reach their use case with a missing id (404) or incomplete fields (422).
                (true, _, _) => match p.path {
                    "/login" => &[401],
                    "/logout" | "/lang" => &[303],
                    "/staff/audit/verify" => &[200],
                    "/report"
                    | "/vulnerability"
                    | "/account/password"
                    | "/console/tickets"
                    | "/console/assessments"
                    | "/staff/triage/dismiss"
                    | "/staff/triage/confirm"
                    | "/staff/accounts"
                    | "/staff/import"
                    | "/staff/regulator"
                    | "/staff/claims"
                    | "/staff/claims/release"
                    | "/staff/claims/assign"
                    | "/users" => &[422],
                    _ => &[404],
                },
            };
            // The export is NDJSON for those let in; everything else is a page.
            let ndjson = a.content_type.starts_with("application/x-ndjson");
            if (p.path == "/staff/audit/export" && a.status == 200) != ndjson {
                wrong.push(format!(
                    "{who} {} {path}: {} answered {:?}",
                    p.method, a.status, a.content_type
                ));
            }
            if !expected.contains(&a.status) {
                wrong.push(format!(
                    "{who} {} {path}: {} (expected {expected:?}) {}",
                    p.method,
                    a.status,
                    excerpt(&a.body)
                ));
            }
            // Sent to sign in, to come back to the page asked for.
            if a.status == 303 && person.is_none() {
                let next = if p.method == "GET" {
                    path.as_str()
                } else {
                    "/console"
                };
                let want = format!(
                    "/login?next={}",
                    form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                if !allowed(p.access, None) && a.location != want {
                    wrong.push(format!("anonymous {} {path} → {}", p.method, a.location));
                }
            }
            c.cookies.remove("wdn_lang");
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    f.w.t.stop().await;
}

fn excerpt(body: &str) -> String {
    match body.find("id=\"error") {
        Some(at) => body[at..].chars().take(200).collect(),
        None => String::new(),
    }
}

/// `body` with every id of `ids` written as `{id}`.
fn normalised(body: &str, ids: &[&str]) -> String {
    ids.iter()
        .fold(body.to_string(), |b, id| b.replace(id, "{id}"))
}

async fn a_tenant_cannot_tell_another_accounts_ids_from_missing_ones(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let before = snapshot(&f).await;
    let mut tina = Client::new(&f.w.t.base, "en");
    assert_eq!(tina.sign_in("tina", PASSWORD).await.status, 303);
    let (_, globex_case) = f.globex.iter().next().unwrap();
    let globex_targets = ["globex", "casino", "Globex private matter", GLOBEX_IP];
    let mut wrong = Vec::new();
    let mut compare = |what: String, foreign: Answer, missing: Answer, ids: &[&str]| {
        if foreign.status != 404 && !what.contains("tickets") {
            wrong.push(format!(
                "{what}: {} for another account's id",
                foreign.status
            ));
        }
        if foreign.status != missing.status {
            wrong.push(format!(
                "{what}: {} for another account's id, {} for a missing one",
                foreign.status, missing.status
            ));
        }
        if normalised(&foreign.body, ids) != normalised(&missing.body, ids) {
            wrong.push(format!("{what}: the body differs from a missing id's"));
        }
        for t in globex_targets {
            if foreign.body.to_lowercase().contains(&t.to_lowercase()) {
                wrong.push(format!("{what}: the body names {t:?}"));
            }
        }
    };
    // Every tenant page and form with an id, with each of globex's ids.
    for p in pages()
        .into_iter()
        .filter(|p| p.path.contains("{id}") || p.path.contains("{ip}"))
    {
        if !allowed(p.access, Some(4)) {
            continue;
        }
        let hole = if p.path.contains("{ip}") {
            "{ip}"
        } else {
            "{id}"
        };
        let (theirs, missing): (Vec<String>, &str) = if p.path.starts_with("/console/inbox/") {
            (f.globex_notices.clone(), MISSING_NOTICE)
        } else if p.path.starts_with("/console/cases/") {
            (f.globex.values().cloned().collect(), MISSING_CASE)
        } else if p.path.starts_with("/console/ips/") {
            (vec![GLOBEX_IP.to_string()], MISSING_IP)
        } else if p.path.starts_with("/console/blackholes/") {
            (vec![f.globex_blackhole.clone()], MISSING_BLACKHOLE)
        } else if p.path.starts_with("/console/assessments/") {
            (vec![f.globex_assessment.clone()], MISSING_ASSESSMENT)
        } else {
            panic!("no foreign ids for {}: add them to this test", p.path);
        };
        for id in &theirs {
            let (a, b) = (p.path.replace(hole, id), p.path.replace(hole, missing));
            let (foreign, gone) = if p.method == "GET" {
                (tina.get(&a).await, tina.get(&b).await)
            } else {
                let fields = harmless_fields(&a);
                (
                    tina.post("/console", &a, &fields).await,
                    tina.post("/console", &b, &fields).await,
                )
            };
            compare(format!("{} {a}", p.method), foreign, gone, &[id, missing]);
        }
    }
    // A ticket about another account's case is refused as about a missing case.
    for case in f.globex.values() {
        let ticket = |id| {
            [
                ("kind", "unblock"),
                ("case_id", id),
                ("subject", "Unblock it"),
                ("body", "please"),
            ]
        };
        let (theirs, none) = (ticket(case.as_str()), ticket(MISSING_CASE));
        let foreign = tina
            .post("/console/tickets", "/console/tickets", &theirs)
            .await;
        let gone = tina
            .post("/console/tickets", "/console/tickets", &none)
            .await;
        compare(
            format!("POST /console/tickets case_id={case}"),
            foreign,
            gone,
            &[case, MISSING_CASE],
        );
        let foreign = tina.get(&format!("/console/tickets?case={case}")).await;
        let gone = tina
            .get(&format!("/console/tickets?case={MISSING_CASE}"))
            .await;
        compare(
            format!("GET /console/tickets?case={case}"),
            foreign,
            gone,
            &[case, MISSING_CASE],
        );
    }
    let mut more = Vec::new();
    // Every page a tenant user or owner of acme may open lists nothing of globex.
    let mut otto = Client::new(&f.w.t.base, "en");
    assert_eq!(otto.sign_in("otto", PASSWORD).await.status, 303);
    for (person, c) in [(4, &mut tina), (6, &mut otto)] {
        let who = PEOPLE[person].0;
        for p in pages() {
            if p.method != "GET"
                || p.path.contains("{id}")
                || p.path.contains("{ip}")
                || !allowed(p.access, Some(person))
            {
                continue;
            }
            let a = c.get(p.path).await;
            let expected = match p.path {
                "/" => 303,
                "/users" if tenant_not_owner(Some(person)) => 403,
                _ => 200,
            };
            if a.status != expected {
                more.push(format!("{who} GET {}: {}", p.path, a.status));
            }
            for t in globex_targets.iter().chain([&globex_case.as_str()]) {
                if a.body.to_lowercase().contains(&t.to_lowercase()) {
                    more.push(format!("{who} GET {} names {t:?}", p.path));
                }
            }
            if a.body.contains(&f.globex_ticket_subject) {
                more.push(format!("{who} GET {} shows globex's ticket", p.path));
            }
            // ASMT-4: not even its own account's vulnerability report's text.
            if a.body.contains(VULN_TEXT) {
                more.push(format!("{who} GET {} shows a vulnerability report", p.path));
            }
        }
    }
    // The owner's users page lists acme's users, and no one else.
    let users = otto.get("/users").await.body;
    for (login, _, account, _) in PEOPLE {
        let listed = users.contains(&format!("<td>{login}</td>"));
        if listed != (account == Some("acme")) {
            more.push(format!("otto's GET /users: {login} listed: {listed}"));
        }
    }
    // The owner adds ordinary users to acme only: not staff, not owners, not to globex (which
    // is refused as a missing account is), and a user who owns nothing adds no one.
    for (fields, expected) in [
        (vec![("login", "new-admin"), ("role", "admin")], 403),
        (vec![("login", "new-operator"), ("role", "operator")], 403),
        (
            vec![("login", "new-owner"), ("role", "tenant"), ("owner", "1")],
            403,
        ),
        (vec![("login", "new-globex"), ("account_id", "globex")], 404),
    ] {
        let a = otto.post("/users", "/users", &fields).await;
        if a.status != expected {
            more.push(format!("otto POST /users {fields:?}: {}", a.status));
        }
    }
    let foreign = otto
        .post(
            "/users",
            "/users",
            &[("login", "new-globex-2"), ("account_id", "globex")],
        )
        .await;
    let gone = otto
        .post(
            "/users",
            "/users",
            &[("login", "new-globex-2"), ("account_id", "no-such-account")],
        )
        .await;
    compare(
        "otto POST /users account_id=globex".into(),
        foreign,
        gone,
        &["globex", "no-such-account"],
    );
    let a = tina
        .post("/console", "/users", &[("login", "tina-friend")])
        .await;
    if a.status != 403 {
        more.push(format!("tina POST /users: {}", a.status));
    }
    wrong.extend(more);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(
        snapshot(&f).await,
        before,
        "a refused request changed something"
    );
    f.w.t.stop().await;
}

/// What a refused form must leave as it was: every case's state, the unblock requests, the
/// tickets, the notices' read marks, the number of cases, the users, accounts and resources,
/// every case's internal notes, the claims on queue items, and the dead webhook message.
async fn snapshot(f: &Fixture) -> Value {
    let t = &f.w.t;
    let (s, cases) = t
        .call("GET", "/api/cases?limit=500", Some(&f.w.op), None)
        .await;
    assert_eq!(s, 200, "{cases}");
    let cases: Vec<Value> = cases["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| json!([c["id"], c["state"], c["updated_at"], c["report_count"]]))
        .collect();
    let (_, requests) = t
        .call("GET", "/api/unblock-requests", Some(&f.w.reviewer), None)
        .await;
    let (_, tickets) = t
        .call("GET", "/api/tickets", Some(&f.w.reviewer), None)
        .await;
    let tickets: Vec<Value> = tickets["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| json!([t["id"], t["state"]]))
        .collect();
    let mut notices = Vec::new();
    for token in [&f.w.tenant, &f.globex_token] {
        let (_, n) = t
            .call("GET", "/api/notices?limit=500", Some(token), None)
            .await;
        notices.extend(
            n["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| json!([n["id"], n["read_at"]])),
        );
    }
    let app = &t.app;
    let users: Vec<Value> = app
        .list_users(&Principal::System)
        .await
        .unwrap()
        .iter()
        .map(|u| json!([u.login, u.role, u.account_id, u.account_owner]))
        .collect();
    let (_, accounts) = t
        .call("GET", "/api/accounts?limit=500", Some(&t.admin), None)
        .await;
    let (_, resources) = t
        .call("GET", "/api/resources?limit=500", Some(&t.admin), None)
        .await;
    let mut notes = Vec::new();
    let mut items = vec![
        format!("ticket:{}", f.open_ticket),
        format!("unblock:{}", f.request),
    ];
    for case in f.cases_of(None) {
        notes.push(json!([
            case,
            app.notes(&Principal::System, &case).await.unwrap().len()
        ]));
        items.push(format!("case:{case}"));
    }
    let claims: Vec<Value> = app
        .claims(&Principal::System, &items)
        .await
        .unwrap()
        .iter()
        .map(|c| json!([c.claim.item, c.claim.claimed_by]))
        .collect();
    let (msg, endpoint) = &f.dead_webhook;
    let (_, webhook) = t
        .call(
            "GET",
            &format!("/api/enforcement/webhooks?msg_id={msg}"),
            Some(&f.w.op),
            None,
        )
        .await;
    let webhook = json!([
        webhook["messages"],
        webhook["attempts"].as_array().unwrap().len(),
        endpoint
    ]);
    // DDOS-5: the blackholes, the IPs' protection and the self-service quotas.
    let (_, blackholes) = t.call("GET", "/api/blackholes", Some(&f.w.op), None).await;
    let mut ddos = vec![blackholes["items"].clone()];
    for (token, ip) in [(&f.w.tenant, ACME_IP), (&f.globex_token, GLOBEX_IP)] {
        let (_, q) = t.call("GET", "/api/blackholes", Some(token), None).await;
        let (_, p) = t
            .call(
                "GET",
                &format!("/api/ips/{ip}/protection"),
                Some(token),
                None,
            )
            .await;
        ddos.extend([
            q["quota"].clone(),
            p["protection"].clone(),
            p["history"].clone(),
        ]);
    }
    // ASMT-4: the vulnerability reports and their states, read from the store (the use case
    // would put the read on the audit record).
    let mut tx = app.store.begin_write().await.unwrap();
    let vulns: Vec<Value> = tx
        .list_vulnerabilities(None, None, 500)
        .await
        .unwrap()
        .iter()
        .map(|v| json!([v.id, v.state]))
        .collect();
    drop(tx);
    // ASMT-1..5: every assessment and where it stands.
    let (s, a) = t
        .call("GET", "/api/assessments?limit=500", Some(&f.w.op), None)
        .await;
    assert_eq!(s, 200, "{a}");
    let assessments: Vec<Value> = a["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| json!([a["id"], a["state"], a["updated_at"], a["disclosure"]]))
        .collect();
    json!({
        "cases": cases, "requests": requests, "tickets": tickets, "notices": notices,
        "users": users, "accounts": accounts, "resources": resources, "notes": notes,
        "claims": claims, "webhook": webhook, "ddos": ddos, "vulns": vulns,
        "assessments": assessments,
    })
}

/// A form to send without its token: who (`None`: anonymous), its entry in the page table, the
/// concrete path, and fields that would do something with the token.
type Form<'a> = (Option<&'a str>, &'a str, String, Vec<(&'a str, &'a str)>);

async fn every_form_without_its_csrf_token_is_refused_and_changes_nothing(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let w = &f.w;
    let before = snapshot(&f).await;
    let refusal = Lang::En.catalog().get("error.csrf");
    let enforced = f.acme["enforced"].clone();
    let reported = f.acme["reported"].clone();
    let alerting = f.globex["alerting"].clone();
    let unread = f.acme_notices.last().unwrap().clone();
    let case_item = format!("case:{enforced}");
    let ticket_item = format!("ticket:{}", f.open_ticket);
    let request_item = format!("unblock:{}", f.request);
    let import_line = r#"{"account_id": "acme", "product": "cvm", "name": "web-2", "identifiers": [{"kind": "public_ip", "value": "192.0.2.78"}]}"#.to_string();
    let (msg, endpoint) = f.dead_webhook.clone();
    let dead_id = format!("webhook:{endpoint}:{msg}");
    let vuln_state = format!("/staff/vulnerabilities/{}/state", f.vuln);
    let asm = |what: &str, step: &str| format!("/staff/assessments/{}/{step}", f.assessments[what]);
    let mine =
        |what: &str, step: &str| format!("/console/assessments/{}/{step}", f.assessments[what]);
    let (start, end) = (from_now(w, 3_600_000), from_now(w, 7_200_000));
    let mut covered = std::collections::BTreeSet::new();
    let forms: Vec<Form> = vec![
        (
            None,
            "/login",
            "/login".into(),
            vec![("login", "tina"), ("password", PASSWORD)],
        ),
        (Some("tina"), "/logout", "/logout".into(), vec![]),
        (
            None,
            "/lang",
            "/lang".into(),
            vec![("lang", "zh-CN"), ("back", "/laws")],
        ),
        (
            Some("audrey"),
            "/account/password",
            "/account/password".into(),
            vec![
                ("current_password", PASSWORD),
                ("new_password", "another password 12"),
                ("new_password_again", "another password 12"),
            ],
        ),
        (
            None,
            "/report",
            "/report".into(),
            vec![
                ("target", "http://nobody.example/new"),
                ("category", "gambling"),
            ],
        ),
        (
            Some("tina"),
            "/console/cases/{id}/unblock",
            format!("/console/cases/{enforced}/unblock"),
            vec![("commitment", "1")],
        ),
        (
            Some("tina"),
            "/console/cases/{id}/manual-unblock",
            format!("/console/cases/{enforced}/manual-unblock"),
            vec![],
        ),
        (
            Some("tina"),
            "/console/inbox/{id}/read",
            format!("/console/inbox/{unread}/read"),
            vec![],
        ),
        (
            Some("tina"),
            "/console/tickets",
            "/console/tickets".into(),
            vec![
                ("kind", "question"),
                ("subject", "Hello"),
                ("body", "A question"),
            ],
        ),
        (
            Some("olga"),
            "/staff/triage/dismiss",
            "/staff/triage/dismiss".into(),
            vec![("case", reported.as_str()), ("reason", "spam")],
        ),
        (
            Some("olga"),
            "/staff/cases/{id}/confirm",
            format!("/staff/cases/{reported}/confirm"),
            vec![],
        ),
        (
            Some("olga"),
            "/staff/cases/{id}/dismiss",
            format!("/staff/cases/{reported}/dismiss"),
            vec![("reason", "spam")],
        ),
        (
            Some("olga"),
            "/staff/cases/{id}/enforce",
            format!("/staff/cases/{alerting}/enforce"),
            vec![("reason", "now")],
        ),
        (
            Some("rita"),
            "/staff/reviews/{id}",
            format!("/staff/reviews/{}", f.request),
            vec![("decision", "approve")],
        ),
        // DDOS-5: an upgrade that would release acme's blackhole, a self-service release, an
        // operator's release of globex's.
        (
            Some("tina"),
            "/console/ips/{ip}/protection",
            format!("/console/ips/{ACME_IP}/protection"),
            vec![("capacity_gbps", "100")],
        ),
        (
            Some("tina"),
            "/console/blackholes/{id}/release",
            format!("/console/blackholes/{}/release", f.acme_blackhole),
            vec![("ip", ACME_IP)],
        ),
        (
            Some("olga"),
            "/staff/blackholes/{id}/release",
            format!("/staff/blackholes/{}/release", f.globex_blackhole),
            vec![("reason", "asked by the customer")],
        ),
        // ASMT-2: a rejection and an operator's stop.
        (
            Some("olga"),
            "/staff/assessments/{id}/reject",
            asm("pending", "reject"),
            vec![("reason", "too large for the uplink")],
        ),
        (
            Some("olga"),
            "/staff/assessments/{id}/stop",
            asm("declared", "stop"),
            vec![("reason", "it hurts other tenants")],
        ),
        // ASMT-4: a status lookup changes nothing either way.
        (
            None,
            "/vulnerability/status",
            "/vulnerability/status".into(),
            vec![("token", "vst_no_such_token")],
        ),
        // The forms below would each change what `snapshot` shows, in this order, with their
        // token: the end of this test sends them again with it to show that they do.
        (
            Some("olga"),
            "/staff/triage/confirm",
            "/staff/triage/confirm".into(),
            vec![("case", reported.as_str()), ("reason", "clear")],
        ),
        (
            Some("rita"),
            "/staff/cases/{id}/notes",
            format!("/staff/cases/{enforced}/notes"),
            vec![("body", "a note that must not be stored")],
        ),
        (
            Some("olga"),
            "/staff/claims",
            "/staff/claims".into(),
            vec![("item", case_item.as_str()), ("back", "/staff/reviews")],
        ),
        (
            Some("olga"),
            "/staff/claims/release",
            "/staff/claims/release".into(),
            vec![("item", ticket_item.as_str()), ("back", "/staff/reviews")],
        ),
        (
            Some("rita"),
            "/staff/tickets/{id}/close",
            format!("/staff/tickets/{}/close", f.open_ticket),
            vec![("resolution", "Unblocked."), ("lift", "1")],
        ),
        (
            Some("olga"),
            "/staff/claims/assign",
            "/staff/claims/assign".into(),
            vec![
                ("item", request_item.as_str()),
                ("to", "rita"),
                ("back", "/staff/reviews"),
            ],
        ),
        (
            Some("olga"),
            "/staff/accounts",
            "/staff/accounts".into(),
            vec![("id", "newco"), ("name", "New Co"), ("lang", "en")],
        ),
        (
            Some("olga"),
            "/staff/import",
            "/staff/import".into(),
            vec![("lines", import_line.as_str())],
        ),
        (
            Some("olga"),
            "/staff/regulator",
            "/staff/regulator".into(),
            vec![
                ("authority", "网信办"),
                ("document_number", "网信通〔2026〕7号"),
                ("legal_basis", "《网络安全法》第四十七条"),
                ("target", "http://regulated.example/x"),
                ("category", "gambling"),
            ],
        ),
        (
            Some("tina"),
            "/vulnerability",
            "/vulnerability".into(),
            vec![
                ("title", "XSS in the status page"),
                ("component", "status.example"),
                ("severity", "medium"),
                ("description", "a script runs"),
            ],
        ),
        (
            Some("sam"),
            "/staff/vulnerabilities/{id}/state",
            vuln_state.clone(),
            vec![("state", "triaged")],
        ),
        (
            Some("olga"),
            "/staff/deliveries/redrive",
            "/staff/deliveries/redrive".into(),
            vec![("id", dead_id.as_str())],
        ),
        // ASMT-1, ASMT-2, ASMT-5: a declaration, an approval, the tenant's stop of the approved
        // plan, the disclosure of the phishing test.
        (
            Some("tina"),
            "/console/assessments",
            "/console/assessments".into(),
            vec![
                ("kind", "penetration_test"),
                ("targets", ACME_IP),
                ("sources", "198.51.100.20"),
                ("window_start", start.as_str()),
                ("window_end", end.as_str()),
            ],
        ),
        (
            Some("olga"),
            "/staff/assessments/{id}/approve",
            asm("pending", "approve"),
            vec![],
        ),
        (
            Some("tina"),
            "/console/assessments/{id}/stop",
            mine("approved", "stop"),
            vec![("reason", "done early")],
        ),
        (
            Some("tina"),
            "/console/assessments/{id}/disclosure",
            mine("awaiting_disclosure", "disclosure"),
            vec![("text", "The mail of Monday was our phishing test.")],
        ),
        // Verifying the chain changes nothing either way: the 403 and no cookie are the test.
        (
            Some("audrey"),
            "/staff/audit/verify",
            "/staff/audit/verify".into(),
            vec![],
        ),
        (
            Some("ada"),
            "/users",
            "/users".into(),
            vec![("login", "new-operator"), ("role", "operator")],
        ),
        (
            Some("otto"),
            "/users",
            "/users".into(),
            vec![("login", "new-tenant")],
        ),
    ];
    let effective: Vec<Form> = forms
        .iter()
        .skip_while(|(_, entry, _, _)| *entry != "/staff/triage/confirm")
        .filter(|(_, entry, _, _)| *entry != "/staff/audit/verify")
        .cloned()
        .collect();
    for (login, entry, path, fields) in forms {
        let mut c = Client::new(&w.t.base, "en");
        if let Some(login) = login {
            assert_eq!(c.sign_in(login, PASSWORD).await.status, 303, "{login}");
        }
        // A browser that loaded a page holds its cookies, but the form lacks the token.
        c.get("/laws").await;
        let cookies_before = c.cookies.clone();
        let a = c.post_raw(&path, &fields).await;
        assert_eq!(
            a.status,
            403,
            "POST {path} without a CSRF token: {}",
            excerpt(&a.body)
        );
        assert!(
            a.body.contains(&refusal),
            "POST {path}: {}",
            excerpt(&a.body)
        );
        assert_eq!(c.cookies, cookies_before, "POST {path} set a cookie");
        // The session (if any) is still there: the refused sign-out ended nothing.
        if login.is_some() {
            assert_eq!(c.get("/account/password").await.status, 200, "{path}");
        }
        covered.insert(entry);
    }
    let every_post: std::collections::BTreeSet<&str> = pages()
        .into_iter()
        .filter(|p| p.method == "POST")
        .map(|p| p.path)
        .collect();
    assert_eq!(covered, every_post, "a form is missing from this test");
    assert_eq!(
        snapshot(&f).await,
        before,
        "a refused form changed something"
    );
    // The refused password change changed nothing: the old password still signs in.
    let mut audrey = Client::new(&w.t.base, "en");
    assert_eq!(audrey.sign_in("audrey", PASSWORD).await.status, 303);
    // With their token, the same fields take effect: the refusal was the token's doing.
    let mut last = before;
    for (login, _, path, fields) in effective {
        let mut c = Client::new(&w.t.base, "en");
        let login = login.unwrap();
        assert_eq!(c.sign_in(login, PASSWORD).await.status, 303, "{login}");
        let a = c.post("/laws", &path, &fields).await;
        assert!(
            [200, 201, 303].contains(&a.status),
            "{login} POST {path} with its token: {} {}",
            a.status,
            excerpt(&a.body)
        );
        let now = snapshot(&f).await;
        assert_ne!(
            now, last,
            "{login} POST {path} with its token changed nothing"
        );
        last = now;
    }
    f.w.t.stop().await;
}

/// The case links of a console page (`/console/cases/{id}`), in order, and its next-page link.
fn case_links(body: &str) -> (Vec<String>, Option<String>) {
    let ids = body
        .split("href=\"/console/cases/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|id| id.starts_with("case_"))
        .map(str::to_string)
        .collect();
    let next = body
        .split("id=\"next-page\" rel=\"next\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(|href| href.replace("&amp;", "&").replace("&#38;", "&"));
    (ids, next)
}

/// Follows the next-page links from `start`; every page's case links, page by page.
async fn follow(c: &mut Client, start: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut at = Some(start.to_string());
    while let Some(path) = at {
        let a = c.get(&path).await;
        assert_eq!(a.status, 200, "GET {path}: {}", excerpt(&a.body));
        assert!(!path.contains("offset"), "{path}");
        let (ids, next) = case_links(&a.body);
        pages.push(ids);
        at = next;
        assert!(
            pages.len() < 100,
            "the next links go round in circles: {path} {at:?}"
        );
    }
    pages
}

/// LIFE-1, §1: tina's list is acme's cases past triage — not the one waiting in triage nor the
/// dismissed one, none of globex's; gina's is globex's; a state filter keeps to its state; staff
/// are refused (they have their own list).
async fn the_tenant_case_list_shows_its_own_confirmed_cases_only(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    for (login, mine, theirs) in [("tina", &f.acme, &f.globex), ("gina", &f.globex, &f.acme)] {
        let mut c = Client::new(&f.w.t.base, "en");
        assert_eq!(c.sign_in(login, PASSWORD).await.status, 303);
        let listed: BTreeSet<String> = follow(&mut c, "/console/cases?limit=2")
            .await
            .concat()
            .into_iter()
            .collect();
        let expected: BTreeSet<String> = mine
            .iter()
            .filter(|(what, _)| !["reported", "dismissed"].contains(what))
            .map(|(_, id)| id.clone())
            .collect();
        assert_eq!(listed, expected, "{login}'s case list");
        for id in theirs.values().chain([&f.unowned]) {
            assert!(!listed.contains(id), "{login} sees {id}");
        }
        // One state: only its cases.
        let a = c.get("/console/cases?state=enforced").await;
        let (ids, _) = case_links(&a.body);
        for id in &ids {
            assert_eq!(f.w.case(id).await["state"], "enforced", "{login}: {id}");
        }
        assert!(!ids.is_empty(), "{login} has enforced cases");
        // A bad filter is refused naming it, in a page.
        let a = c.get("/console/cases?limit=0").await;
        assert_eq!(a.status, 422, "{}", excerpt(&a.body));
        let a = c.get("/console/cases?state=no_such_state").await;
        assert_eq!(a.status, 422, "{}", excerpt(&a.body));
    }
    for login in ["ada", "olga", "rita", "audrey"] {
        let mut c = Client::new(&f.w.t.base, "en");
        assert_eq!(c.sign_in(login, PASSWORD).await.status, 303);
        assert_eq!(c.get("/console/cases").await.status, 403, "{login}");
    }
    f.w.t.stop().await;
}

/// UI-1 (issue "console", deliver 8: every list pages by keyset): a tenant with more cases than
/// a page reaches every one by following the next links — none twice, none missing, newest
/// first — at the default page size and at a small one, with a state filter too; the dashboard
/// says when a state has more than it shows and links to them; another account's cases and
/// those not yet confirmed never appear.
async fn following_the_case_lists_next_links_reaches_every_case_once(engine: Engine) {
    use warden_domain::lifecycle::State;
    use warden_domain::taxonomy::Category;
    use warden_store::reports::Case;
    let Some(w) = crate::lifecycle::world(
        engine,
        crate::lifecycle::lifecycle(warden_domain::calendar::WorkCalendar::default()),
    )
    .await
    else {
        return;
    };
    let t = &w.t;
    let (s, _) = t
        .call(
            "POST",
            "/api/accounts",
            Some(&t.admin),
            Some(&json!({ "id": "globex", "name": "Globex" })),
        )
        .await;
    assert_eq!(s, 201);
    crate::console::person(t, "tina", Role::Tenant, Some("acme"), false).await;
    // 52 enforced cases of acme (more than the dashboard's page of 50), one in each other state
    // it hears of, two it does not; globex's enforced cases in between.
    let mut states: Vec<(&str, &str)> = vec![("acme", "enforced"); 52];
    for s in [
        "confirmed",
        "alerting",
        "unblock_requested",
        "lifted",
        "resolved",
    ] {
        states.push(("acme", s));
    }
    states.extend([("acme", "reported"), ("acme", "dismissed")]);
    states.extend([("globex", "enforced"); 4]);
    let now = t.app.now();
    let mut cases = Vec::new();
    // Shuffled (37 is prime to 63), so that globex's cases and the hidden ones fall among
    // acme's, across page boundaries. Ids follow creation: the order below is newest last.
    let len = states.len();
    let states: Vec<(&str, &str)> = (0..len).map(|n| states[n * 37 % len]).collect();
    for (n, (account, state)) in states.iter().enumerate() {
        let at = now;
        let id = warden_store::new_id("case", at);
        cases.push(Case {
            id: id.clone(),
            account_id: Some((*account).into()),
            resource_id: None,
            target: format!("http://{account}.example/page-{n}"),
            category: Category::parse("gambling").unwrap(),
            state: State::parse(state).unwrap(),
            source: "public".into(),
            correlation_key: format!("key-{id}"),
            report_count: 1,
            duplicate_count: 0,
            views: 0,
            state_reason: None,
            opened_at: at,
            last_report_at: at,
            updated_at: at,
        });
    }
    let mut tx = t.app.store.begin_write().await.unwrap();
    tx.insert_cases(&cases).await.unwrap();
    tx.commit().await.unwrap();
    let heard_of = |c: &&Case| {
        c.account_id.as_deref() == Some("acme")
            && !matches!(c.state, State::Reported | State::Dismissed)
    };
    let mut newest_first: Vec<String> = cases
        .iter()
        .filter(heard_of)
        .map(|c| c.id.clone())
        .collect();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(newest_first.len(), 57);

    let mut tina = Client::new(&t.base, "en");
    assert_eq!(tina.sign_in("tina", PASSWORD).await.status, 303);
    for (start, size) in [("/console/cases", 50), ("/console/cases?limit=7", 7)] {
        let pages = follow(&mut tina, start).await;
        assert_eq!(pages.len(), 57usize.div_ceil(size), "{start}: {pages:?}");
        assert!(pages.iter().all(|p| p.len() <= size), "{start}");
        let all = pages.concat();
        let unique: BTreeSet<&String> = all.iter().collect();
        assert_eq!(unique.len(), all.len(), "{start}: a case listed twice");
        assert_eq!(all, newest_first, "{start}: every case, newest first");
    }
    // The dashboard shows 50 of the 52 enforced cases and links to all of them.
    let dash = tina.get("/console").await;
    assert_eq!(dash.status, 200);
    assert!(dash.body.contains("href=\"/console/cases\""), "all cases");
    let more = "href=\"/console/cases?state=enforced\"";
    assert!(dash.body.contains(more), "no more link on the dashboard");
    assert!(
        !dash.body.contains("href=\"/console/cases?state=alerting\""),
        "a more link for a state with one case"
    );
    let enforced: Vec<String> = follow(&mut tina, "/console/cases?state=enforced&limit=20")
        .await
        .concat();
    let expected: Vec<String> = newest_first
        .iter()
        .filter(|id| {
            cases
                .iter()
                .any(|c| &c.id == *id && c.state == State::Enforced)
        })
        .cloned()
        .collect();
    assert_eq!(expected.len(), 52);
    assert_eq!(enforced, expected, "the enforced cases, each once");
    // Each row opens the tenant's case page.
    let a = tina
        .get(&format!("/console/cases/{}", newest_first[56]))
        .await;
    assert_eq!(a.status, 200);
    w.t.stop().await;
}
