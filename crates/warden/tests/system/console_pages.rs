//! Every console page in a conforming HTML parser (issue 10 acceptance): each GET entry of
//! `warden_http::console::pages()`, as every role that may open it, with real ids from a world
//! holding cases in every state the tenant and staff pages branch on, in zh-CN and in en — plus
//! the pages a refused form, a flash message or an error answers with. Each page must parse
//! without a single parse error (html5ever, the HTML5 algorithm browsers use), label every
//! field, carry `<html lang>` of its language and a `<title>`, show no `⟦missing key⟧`, and a
//! zh-CN page shows no English text of the catalogue.
//!
//! The world ([`fixture`]) is shared with `console_access`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use html5ever::tendril::TendrilSink;
use html5ever::tokenizer::TokenizerOpts;
use html5ever::tree_builder::TreeBuilderOpts;
use html5ever::{ParseOpts, parse_document};
use markup5ever_rcdom::{Handle, NodeData, RcDom};
use serde_json::json;
use warden_app::Settings;
use warden_domain::calendar::WorkCalendar;
use warden_domain::identity::Role;
use warden_http::console::{Access, Lang, pages};

use crate::console::{Client, PASSWORD, user};
use crate::lifecycle::{World, lifecycle, world_with};
use crate::support::Engine;

/// Who signs in: (login, role, account).
pub(crate) const PEOPLE: [(&str, Role, Option<&str>); 6] = [
    ("ada", Role::Admin, None),
    ("olga", Role::Operator, None),
    ("rita", Role::Reviewer, None),
    ("audrey", Role::Auditor, None),
    ("tina", Role::Tenant, Some("acme")),
    ("gina", Role::Tenant, Some("globex")),
];

/// A case id that exists nowhere.
pub(crate) const MISSING_CASE: &str = "case_000000000000_0000ffffffff";

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
}

impl Fixture {
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

/// The world of [`Fixture`] on `engine`, with the people of [`PEOPLE`].
pub(crate) async fn fixture(engine: Engine) -> Option<Fixture> {
    let mut settings = Settings::default();
    settings.sessions.secure_cookies = false; // plain HTTP on loopback
    settings.sessions.attempts_per_minute = 10_000; // many sign-ins from one address
    settings.public_reports_per_minute = 10_000;
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
    let unowned = report_at(&w, "http://nobody.example/x", "spam_ads").await;

    // Tickets: acme has an open one and an answered one; globex one.
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
    };
    f.acme_notices = f.notice_ids(&f.w.tenant).await;
    f.globex_notices = f.notice_ids(&f.globex_token).await;
    assert!(f.acme_notices.len() >= 3 && !f.globex_notices.is_empty());
    for (login, role, account) in PEOPLE {
        user(&f.w.t, login, role, account).await;
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
    Some(f)
}

/// Signed-in clients of every person in [`PEOPLE`] and an anonymous one, in `lang`.
pub(crate) async fn clients(f: &Fixture, lang: &'static str) -> Vec<(Option<usize>, Client)> {
    let mut out = vec![(None, Client::new(&f.w.t.base, lang))];
    for (i, (login, _, _)) in PEOPLE.iter().enumerate() {
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
                if p.path.contains("{id}") {
                    let ids = match p.path {
                        "/console/cases/{id}" => f.cases_of(account),
                        "/staff/cases/{id}" => f.cases_of(None),
                        other => panic!("no ids to open {other} with: add them to this test"),
                    };
                    paths.extend(ids.iter().map(|id| p.path.replace("{id}", id)));
                } else {
                    paths.push(p.path.to_string());
                }
            }
            // Flash messages, filters, refusals and errors are pages too.
            paths.extend(extra_pages(&f, person));
            for path in paths {
                let a = c.get(&path).await;
                if a.status == 303 {
                    continue;
                }
                checked += 1;
                check_page(
                    &format!("{who} {lang} GET {path} ({})", a.status),
                    &a.body,
                    lang,
                    &mut problems,
                );
            }
            for (what, a) in refused_forms(&f, person, &mut c).await {
                checked += 1;
                check_page(
                    &format!("{who} {lang} {what} ({})", a.status),
                    &a.body,
                    lang,
                    &mut problems,
                );
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
            out.extend([
                "/console?done=ticket_filed".to_string(),
                format!("/console/cases/{case}?done=unblock_failed"),
                format!("/console/cases/{MISSING_CASE}"),
                format!("/console/tickets?case={case}&done=ticket_filed"),
                "/console/inbox?done=read".into(),
                "/staff".into(),
                "/account/password?done=must_change".into(),
            ]);
        }
        Some(Role::Admin | Role::Operator | Role::Reviewer) => {
            out.extend([
                "/staff?done=dismissed&n=3".to_string(),
                "/staff?category=porn_vulgar&source=public&unowned=1".into(),
                "/staff?category=no_such_category".into(),
                "/staff/cases?state=enforced".into(),
                format!("/staff/cases/{}?done=confirmed", f.acme["reported"]),
                format!("/staff/cases/{MISSING_CASE}"),
                "/staff/reviews?done=rejected".into(),
                "/console".into(),
            ]);
        }
        Some(Role::Auditor) => out.extend(["/staff".to_string(), "/console".into()]),
        Some(Role::Detector | Role::Edge) | None => {}
    }
    out
}

/// The pages refused forms answer with (each changes nothing): no CSRF token, a wrong
/// password, a report without a target, and each role's own forms sent incomplete.
async fn refused_forms(
    f: &Fixture,
    person: Option<usize>,
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
    let (_, role, account) = PEOPLE[person.unwrap()];
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
        Role::Auditor | Role::Detector | Role::Edge => {}
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
            }
        }
    }
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
struct El {
    name: String,
    attrs: HashMap<String, String>,
    /// Its text nodes, each on its own.
    own_text: Vec<String>,
    /// All text inside it (of `<title>` only).
    text: String,
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
