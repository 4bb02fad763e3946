//! Route × role over every console page and form (issue 10 acceptance), from the page table
//! itself (`warden_http::console::pages()`), so a new page is covered the day it is added:
//! anonymous people reach the public pages and are sent to sign in everywhere else; each role
//! is let in or refused (403) exactly as the entry's `access` says — and the use case behind an
//! entry agrees with it; a tenant asking with another account's case, notice or ticket gets
//! exactly the answer a missing id gets, naming nothing of the other account; and every form
//! posted without its CSRF token is refused (403) and changes nothing.

use serde_json::{Value, json};
use warden_domain::identity::Role;
use warden_http::console::{Lang, pages};

use crate::both_engines;
use crate::console::{Answer, Client, PASSWORD};
use crate::console_pages::{Fixture, MISSING_CASE, PEOPLE, allowed, clients, fixture};
use crate::support::Engine;

both_engines!(
    every_page_and_form_lets_in_exactly_the_roles_of_its_entry,
    a_tenant_cannot_tell_another_accounts_ids_from_missing_ones,
    every_form_without_its_csrf_token_is_refused_and_changes_nothing,
);

const MISSING_NOTICE: &str = "ntc_000000000000_0000ffffffff";
const MISSING_REQUEST: &str = "unb_000000000000_0000ffffffff";

/// `path` with `{id}` replaced by an id `person` may see (GET) or by a missing one (POST, so
/// that the form changes nothing).
fn concrete(f: &Fixture, method: &str, path: &str, person: Option<usize>) -> String {
    if !path.contains("{id}") {
        return path.to_string();
    }
    let account = person.and_then(|i| PEOPLE[i].2);
    let id = match (method, path) {
        ("GET", "/console/cases/{id}") => f
            .cases_of(account.or(Some("acme")))
            .first()
            .cloned()
            .unwrap(),
        ("GET", "/staff/cases/{id}") => f.acme["enforced"].clone(),
        ("POST", p) if p.starts_with("/console/cases/") || p.starts_with("/staff/cases/") => {
            MISSING_CASE.to_string()
        }
        ("POST", "/console/inbox/{id}/read") => MISSING_NOTICE.to_string(),
        ("POST", "/staff/reviews/{id}") => MISSING_REQUEST.to_string(),
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
                (true, _, "GET") => match (p.path, role) {
                    ("/", Some(Role::Tenant | Role::Admin | Role::Operator | Role::Reviewer)) => {
                        &[303]
                    }
                    _ => &[200],
                },
                // Forms: sign-in, sign-out and the language switch answer 303 or 401; the rest
                // reach their use case with a missing id (404) or incomplete fields (422).
                (true, _, _) => match p.path {
                    "/login" => &[401],
                    "/logout" | "/lang" => &[303],
                    "/report"
                    | "/account/password"
                    | "/console/tickets"
                    | "/staff/triage/dismiss" => &[422],
                    _ => &[404],
                },
            };
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
    let globex_targets = ["globex", "casino", "Globex private matter"];
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
    for p in pages().into_iter().filter(|p| p.path.contains("{id}")) {
        if !allowed(p.access, Some(4)) {
            continue;
        }
        let (theirs, missing): (Vec<String>, &str) = if p.path.starts_with("/console/inbox/") {
            (f.globex_notices.clone(), MISSING_NOTICE)
        } else if p.path.starts_with("/console/cases/") {
            (f.globex.values().cloned().collect(), MISSING_CASE)
        } else {
            panic!("no foreign ids for {}: add them to this test", p.path);
        };
        for id in &theirs {
            let (a, b) = (p.path.replace("{id}", id), p.path.replace("{id}", missing));
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
    // The tenant's own pages list nothing of globex.
    for p in [
        "/console",
        "/console/inbox",
        "/console/tickets",
        "/console/resources",
    ] {
        let a = tina.get(p).await;
        assert_eq!(a.status, 200, "{p}");
        for t in globex_targets.iter().chain([&globex_case.as_str()]) {
            if a.body.to_lowercase().contains(&t.to_lowercase()) {
                wrong.push(format!("GET {p} names {t:?}"));
            }
        }
        assert!(!a.body.contains(&f.globex_ticket_subject), "{p}");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(
        snapshot(&f).await,
        before,
        "a refused request changed something"
    );
    f.w.t.stop().await;
}

/// What a refused form must leave as it was: every case's state, the unblock requests, the
/// tickets, the notices' read marks, and the number of cases.
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
    json!({ "cases": cases, "requests": requests, "tickets": tickets, "notices": notices })
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
    ];
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
    f.w.t.stop().await;
}
