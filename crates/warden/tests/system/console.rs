//! The console over plain HTTP (issue 10, UI-1/2): sign-in, cookie flags, CSRF on every form,
//! roles on every page, tenant isolation, sign-out, idle expiry, lockout, and both catalogues.

use std::collections::HashMap;

use serde_json::json;
use warden_app::Settings;
use warden_app::auth::Principal;
use warden_app::people::NewUser;
use warden_domain::identity::Role;

use crate::both_engines;
use crate::support::{Engine, TestApp, spawn_app};

both_engines!(
    console_sessions_csrf_roles_and_isolation,
    console_claims_and_internal_notes,
);

/// A browser-like client: keeps cookies, follows no redirects.
pub(crate) struct Client {
    base: String,
    http: reqwest::Client,
    pub(crate) cookies: HashMap<String, String>,
    pub(crate) set_cookie: Vec<String>,
    lang: &'static str,
}

pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) location: String,
    /// The `Content-Type` header.
    pub(crate) content_type: String,
    pub(crate) body: String,
}

impl Client {
    pub(crate) fn new(base: &str, lang: &'static str) -> Client {
        Client {
            base: base.to_string(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
            set_cookie: Vec::new(),
            lang,
        }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Answer {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let resp = req
            .header("cookie", cookie)
            .header("accept-language", self.lang)
            .send()
            .await
            .unwrap();
        for v in resp.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap().to_string();
            let (kv, _) = v.split_once(';').unwrap_or((&v, ""));
            let (k, val) = kv.split_once('=').unwrap();
            if val.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), val.to_string());
            }
            self.set_cookie.push(v);
        }
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string())
            .unwrap_or_default();
        let content_type = resp
            .headers()
            .get("content-type")
            .map(|l| l.to_str().unwrap().to_string())
            .unwrap_or_default();
        Answer {
            status,
            location,
            content_type,
            body: resp.text().await.unwrap(),
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Answer {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    /// Posts a form with the CSRF token of `form_page` (as a browser would, having loaded it).
    pub(crate) async fn post(
        &mut self,
        form_page: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Answer {
        let page = self.get(form_page).await;
        let csrf = csrf_of(&page.body);
        let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    pub(crate) async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(req).await
    }

    pub(crate) async fn sign_in(&mut self, login: &str, password: &str) -> Answer {
        self.post(
            "/login",
            "/login",
            &[("login", login), ("password", password)],
        )
        .await
    }
}

pub(crate) fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token");
    let rest = &html[at + 19..];
    rest[..rest.find('"').unwrap()].to_string()
}

pub(crate) const PASSWORD: &str = "correct horse battery";

/// A user with the test password.
pub(crate) async fn user(t: &TestApp, login: &str, role: Role, account: Option<&str>) {
    person(t, login, role, account, false).await;
}

/// A user with the test password, the owner of `account` when `owner`.
pub(crate) async fn person(
    t: &TestApp,
    login: &str,
    role: Role,
    account: Option<&str>,
    owner: bool,
) {
    t.app
        .create_user(
            &Principal::System,
            NewUser {
                login: login.into(),
                role,
                account_id: account.map(str::to_string),
                account_owner: owner,
                password: Some(PASSWORD.into()),
            },
        )
        .await
        .unwrap();
}

async fn console_sessions_csrf_roles_and_isolation(engine: Engine) {
    let mut settings = Settings::default();
    settings.sessions.secure_cookies = true;
    let Some(t) = spawn_app(engine, settings).await else {
        return;
    };
    for (id, url) in [
        ("acme", "http://acme.example"),
        ("globex", "http://globex.example"),
    ] {
        let (s, _) = t
            .call(
                "POST",
                "/api/accounts",
                Some(&t.admin),
                Some(&json!({ "id": id, "name": id })),
            )
            .await;
        assert_eq!(s, 201);
        let (s, b) = t
            .call(
                "POST",
                "/api/resources",
                Some(&t.admin),
                Some(&json!({ "account_id": id, "product": "cvm", "identifiers": [{ "kind": "url_prefix", "value": url }] })),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    let op = t.token("operator", None).await;
    let (s, r) = t
        .call(
            "POST",
            "/api/reports",
            Some(&op),
            Some(&json!({ "target": "http://globex.example/bad", "category": "gambling" })),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let globex_case = r["case_id"].as_str().unwrap().to_string();
    user(&t, "alice", Role::Tenant, Some("acme")).await;
    user(&t, "olga", Role::Operator, None).await;

    // Not signed in: console pages send you to the sign-in page, public pages answer.
    let mut anon = Client::new(&t.base, "en");
    let a = anon.get("/console").await;
    assert_eq!(
        (a.status, a.location.as_str()),
        (303, "/login?next=%2Fconsole")
    );
    for p in ["/", "/login", "/report", "/laws"] {
        assert_eq!(anon.get(p).await.status, 200, "{p}");
    }

    // Sign in: the session cookie is HttpOnly, SameSite=Lax and Secure.
    let mut alice = Client::new(&t.base, "en");
    let a = alice.sign_in("alice", PASSWORD).await;
    assert_eq!((a.status, a.location.as_str()), (303, "/"), "{}", a.body);
    let set = alice
        .set_cookie
        .iter()
        .find(|c| c.starts_with("wdn_session="))
        .expect("a session cookie")
        .clone();
    for flag in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(set.contains(flag), "session cookie lacks {flag}: {set}");
    }
    assert!(alice.get("/console").await.body.contains("alice"));

    // Tenant isolation: another account's case answers exactly like a missing one.
    let foreign = alice.get(&format!("/console/cases/{globex_case}")).await;
    let missing = alice
        .get("/console/cases/case_000000000000_0000ffffffff")
        .await;
    assert_eq!((foreign.status, missing.status), (404, 404));
    assert!(!foreign.body.contains("globex.example"));
    // Staff pages refuse tenants.
    for p in [
        "/staff",
        "/staff/cases",
        "/staff/reviews",
        &format!("/staff/cases/{globex_case}"),
    ] {
        assert_eq!(alice.get(p).await.status, 403, "{p}");
    }

    // CSRF: a form without its token (or with another session's) is refused and changes nothing.
    let mut olga = Client::new(&t.base, "zh-CN");
    assert_eq!(olga.sign_in("olga", PASSWORD).await.status, 303);
    let dismiss = format!("/staff/cases/{globex_case}/dismiss");
    let a = olga.post_raw(&dismiss, &[("reason", "spam")]).await;
    assert_eq!(a.status, 403);
    assert!(a.body.contains("未做任何更改"), "{}", a.body);
    let alice_token = csrf_of(&alice.get("/console").await.body);
    let a = olga
        .post_raw(&dismiss, &[("csrf", &alice_token), ("reason", "spam")])
        .await;
    assert_eq!(a.status, 403);
    let (_, c) = t
        .call("GET", &format!("/api/cases/{globex_case}"), Some(&op), None)
        .await;
    assert_eq!(c["state"], "reported", "a refused form changed the case");
    // With its token the same form works.
    let a = olga
        .post(
            &format!("/staff/cases/{globex_case}"),
            &dismiss,
            &[("reason", "spam")],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let (_, c) = t
        .call("GET", &format!("/api/cases/{globex_case}"), Some(&op), None)
        .await;
    assert_eq!(c["state"], "dismissed");

    // Sign-out ends the session on the server: the old cookie opens nothing.
    let old = alice.cookies.get("wdn_session").unwrap().clone();
    let a = alice.post("/console", "/logout", &[]).await;
    assert_eq!(
        (a.status, a.location.as_str()),
        (303, "/login?done=signed_out")
    );
    let mut replay = Client::new(&t.base, "en");
    replay.cookies.insert("wdn_session".into(), old);
    assert_eq!(replay.get("/console").await.status, 303);

    // Idle expiry: a session unused for longer than the idle limit ends.
    let mut bob = Client::new(&t.base, "en");
    user(&t, "bob", Role::Tenant, Some("acme")).await;
    assert_eq!(bob.sign_in("bob", PASSWORD).await.status, 303);
    assert_eq!(bob.get("/console").await.status, 200);
    t.clock.advance(t.app.settings.sessions.idle_ms + 1);
    let a = bob.get("/console").await;
    assert_eq!(a.status, 303);
    assert!(a.location.contains("ended=1"), "{}", a.location);

    // Lockout: five wrong passwords lock the login, even the right password is then refused.
    let mut mallory = Client::new(&t.base, "en");
    for _ in 0..5 {
        assert_eq!(mallory.sign_in("bob", "wrong password!").await.status, 401);
    }
    let a = mallory.sign_in("bob", PASSWORD).await;
    assert_eq!(a.status, 401);
    assert!(a.body.contains("locked"), "{}", a.body);

    // Every sign-in, failure and sign-out is an audit event.
    let (_, audit) = t
        .call("GET", "/api/audit?limit=1000", Some(&t.admin), None)
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "session.login",
        "session.login_failed",
        "session.logout",
        "session.expire",
    ] {
        assert!(actions.contains(&a), "no {a} in the audit log: {actions:?}");
    }
    t.stop().await;
}

/// Two reviewers: the second cannot act on an item the first has claimed until it is released;
/// an operator can reassign; an internal note never reaches a tenant page or notice.
async fn console_claims_and_internal_notes(engine: Engine) {
    use crate::lifecycle::{lifecycle, world};
    use warden_domain::calendar::WorkCalendar;
    let Some(w) = world(engine, lifecycle(WorkCalendar::default())).await else {
        return;
    };
    let case = w.enforced_after_failed_self_unblock().await;
    let (s, r) =
        w.t.call(
            "POST",
            &format!("/api/cases/{case}/unblock/manual"),
            Some(&w.tenant),
            Some(&json!({})),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let request = r["id"].as_str().unwrap().to_string();
    user(&w.t, "rita", Role::Reviewer, None).await;
    user(&w.t, "rolf", Role::Reviewer, None).await;
    user(&w.t, "olga", Role::Operator, None).await;
    user(&w.t, "tina", Role::Tenant, Some("acme")).await;
    let mut rita = Client::new(&w.t.base, "en");
    let mut rolf = Client::new(&w.t.base, "en");
    let mut olga = Client::new(&w.t.base, "en");
    let mut tina = Client::new(&w.t.base, "en");
    for (c, l) in [
        (&mut rita, "rita"),
        (&mut rolf, "rolf"),
        (&mut olga, "olga"),
        (&mut tina, "tina"),
    ] {
        assert_eq!(c.sign_in(l, PASSWORD).await.status, 303);
    }
    let item = format!("unblock:{request}");
    let a = rita
        .post(
            "/staff/reviews",
            "/staff/claims",
            &[("item", &item), ("back", "/staff/reviews")],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    // The others see who holds it.
    let page = rolf.get("/staff/reviews").await.body;
    assert!(page.contains("claimed by rita"), "{page}");
    // Rolf cannot claim it, nor decide it.
    let a = rolf
        .post(
            "/staff/reviews",
            "/staff/claims",
            &[("item", &item), ("back", "/staff/reviews")],
        )
        .await;
    assert_eq!(a.status, 409, "{}", a.body);
    let a = rolf
        .post(
            "/staff/reviews",
            &format!("/staff/reviews/{request}"),
            &[("decision", "approve"), ("reason", "looks clean")],
        )
        .await;
    assert_eq!(a.status, 409, "{}", a.body);
    let (_, q) =
        w.t.call("GET", "/api/unblock-requests", Some(&w.reviewer), None)
            .await;
    assert!(
        q.to_string().contains(&request),
        "the request left the queue: {q}"
    );
    // The API obeys the claim too.
    let (s, _) =
        w.t.call(
            "POST",
            &format!("/api/unblock-requests/{request}/approve"),
            Some(&w.reviewer),
            Some(&json!({})),
        )
        .await;
    assert_eq!(s, 409);
    // An operator reassigns it to Rolf; now Rolf decides.
    let a = olga
        .post(
            "/staff/reviews",
            "/staff/claims/assign",
            &[("item", &item), ("to", "rolf"), ("back", "/staff/reviews")],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    // An internal note on the case.
    let secret_note = "internal: tenant is a repeat offender, watch closely";
    let a = rolf
        .post(
            &format!("/staff/cases/{case}"),
            &format!("/staff/cases/{case}/notes"),
            &[("body", secret_note)],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert!(
        rolf.get(&format!("/staff/cases/{case}"))
            .await
            .body
            .contains(secret_note)
    );
    let a = rolf
        .post(
            "/staff/reviews",
            &format!("/staff/reviews/{request}"),
            &[("decision", "approve"), ("reason", "looks clean")],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    w.wait_state(&case, "lifted").await;
    // The note is nowhere the tenant can look: pages, notices, API answers.
    for p in [
        format!("/console/cases/{case}"),
        "/console".into(),
        "/console/inbox".into(),
        "/console/tickets".into(),
    ] {
        let body = tina.get(&p).await.body;
        assert!(
            !body.contains("repeat offender"),
            "the note leaked into {p}"
        );
    }
    for p in [
        format!("/api/cases/{case}"),
        format!("/api/cases/{case}/history"),
        format!("/api/cases/{case}/reports"),
        format!("/api/cases/{case}/penalties"),
        "/api/notices".into(),
    ] {
        let (_, v) = w.t.call("GET", &p, Some(&w.tenant), None).await;
        assert!(
            !v.to_string().contains("repeat offender"),
            "the note leaked into {p}"
        );
    }
    w.t.stop().await;
}
