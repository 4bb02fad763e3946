//! The confidential vulnerability channel (ASMT-4), end to end: every role on every
//! vulnerability route (only `security_team` and `admin` read; nobody else learns even that a
//! report exists through a list, a count, a search or an export), each read on the audit record
//! naming the report and the reader and never the text (AUD-1), the reporter's status (a
//! tenant's account, an anonymous reporter's status token), the state machine, the anonymous
//! rate limit — and a whole `warden serve` run at `RUST_LOG=debug` whose every log line, audit
//! event and database byte is searched for the report's text and holds none of it (the text is
//! in the database as ciphertext only).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_app::Settings;
use warden_domain::identity::Role;
use warden_http::routes::routes;

use crate::both_engines;
use crate::console::{Client, PASSWORD, person};
use crate::support::{Engine, TestApp, http, spawn_app, warden_command};

both_engines!(
    only_the_security_team_and_admins_read_vulnerability_reports,
    every_read_is_audited_without_the_text,
    reporters_see_the_status_and_nothing_else,
    anonymous_vulnerability_reports_are_rate_limited,
    a_whole_run_logs_no_vulnerability_text,
);

/// Every role with a token (and anonymous callers, `None`).
const ROLES: [&str; 9] = [
    "anonymous",
    "admin",
    "operator",
    "reviewer",
    "auditor",
    "tenant",
    "detector",
    "edge",
    "security_team",
];

fn report(marker: &str) -> Value {
    json!({
        "title": format!("{marker}: SSRF in the metadata proxy"),
        "description": format!("{marker}: the proxy fetches any URL, 169.254.169.254 among them"),
        "details": format!("{marker}: curl -H 'X: y' https://proxy.example/?u=..."),
        "component": format!("{marker}.proxy.internal.example"),
        "severity": "critical"
    })
}

/// A token per role (tenants of account `acct-a`), `None` for anonymous callers.
async fn tokens(t: &TestApp) -> Vec<(&'static str, Option<String>)> {
    let mut out = Vec::new();
    for role in ROLES {
        let token = match role {
            "anonymous" => None,
            "tenant" => Some(t.token("tenant", Some("acct-a")).await),
            r => Some(t.token(r, None).await),
        };
        out.push((role, token));
    }
    out
}

async fn accounts(t: &TestApp) {
    for id in ["acct-a", "acct-b"] {
        let (s, b) = t
            .call(
                "POST",
                "/api/accounts",
                Some(&t.admin),
                Some(&json!({ "id": id, "name": id })),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
}

fn settings() -> Settings {
    Settings {
        public_reports_per_minute: 10_000,
        ..Settings::default()
    }
}

/// Every route of the table, every role: the vulnerability routes admit exactly their roles
/// (401 anonymous, 403 others, as for every staff-only route), only the security team and
/// admins ever see the text; and the routes that list, count, search or export other things
/// (cases, reports, the audit log, accounts, tickets, notices) show nothing of it to anyone.
async fn only_the_security_team_and_admins_read_vulnerability_reports(engine: Engine) {
    let Some(t) = spawn_app(engine, settings()).await else {
        return;
    };
    accounts(&t).await;
    let who = tokens(&t).await;
    let marker = "vuln-route-marker-1b2c";
    let (s, r) = t
        .call("POST", "/api/vulnerabilities", None, Some(&report(marker)))
        .await;
    assert_eq!(s, 201, "{r}");
    let id = r["id"].as_str().unwrap().to_string();
    let readers = ["admin", "security_team"];
    let vuln_routes: Vec<_> = routes()
        .iter()
        .filter(|r| r.path.starts_with("/api/vulnerabilities"))
        .collect();
    let paths: BTreeSet<(&str, &str)> = vuln_routes.iter().map(|r| (r.method, r.path)).collect();
    assert_eq!(
        paths,
        BTreeSet::from([
            ("POST", "/api/vulnerabilities"),
            ("GET", "/api/vulnerabilities"),
            ("GET", "/api/vulnerabilities/mine"),
            ("POST", "/api/vulnerabilities/status"),
            ("GET", "/api/vulnerabilities/{id}"),
            ("POST", "/api/vulnerabilities/{id}/state"),
        ])
    );
    for route in &vuln_routes {
        let path = route.path.replace("{id}", &id);
        let body = match (route.method, route.path) {
            ("POST", "/api/vulnerabilities") => Some(report("another")),
            ("POST", "/api/vulnerabilities/status") => Some(json!({ "token": "vst_none" })),
            // A state it is already in: refused (409) and nothing changes.
            ("POST", _) => Some(json!({ "state": "received" })),
            _ => None,
        };
        for (role, token) in &who {
            let (s, b) = t
                .call(route.method, &path, token.as_deref(), body.as_ref())
                .await;
            let ctx = format!("{} {path} as {role}: {s} {b}", route.method);
            let expected: &[u16] = match (route.method, route.path, *role) {
                (_, _, r) if !route.admits(r) => {
                    if r == "anonymous" {
                        &[401]
                    } else {
                        &[403]
                    }
                }
                ("POST", "/api/vulnerabilities", _) => &[201],
                ("POST", "/api/vulnerabilities/status", _) => &[404],
                ("POST", _, _) => &[409],
                _ => &[200],
            };
            assert!(expected.contains(&s), "{ctx}");
            let sees = b.to_string().contains(marker);
            let reads = readers.contains(role)
                && route.method == "GET"
                && route.path != "/api/vulnerabilities/mine";
            assert_eq!(sees, reads, "{ctx}");
            if !route.admits(role) {
                assert!(!b.to_string().contains(&id), "{ctx}");
            }
        }
    }
    // The role table itself: only the two readers on the reads and the state change.
    for route in &vuln_routes {
        let admitted: BTreeSet<&str> = ROLES.iter().copied().filter(|r| route.admits(r)).collect();
        let want: BTreeSet<&str> = match (route.method, route.path) {
            ("POST", "/api/vulnerabilities" | "/api/vulnerabilities/status") => {
                ROLES.iter().copied().collect()
            }
            ("GET", "/api/vulnerabilities/mine") => BTreeSet::from(["tenant"]),
            _ => BTreeSet::from(readers),
        };
        assert_eq!(admitted, want, "{} {}", route.method, route.path);
    }
    // Lists, counts, searches and exports of everything else, as every role that may use them.
    let others = [
        "/api/cases?limit=500",
        "/api/cases/count",
        "/api/cases?state=reported",
        "/api/audit?limit=1000",
        "/api/audit?subject=vulnerabilities",
        &format!("/api/audit?subject=vulnerability:{id}"),
        "/api/accounts",
        "/api/tickets",
        "/api/notices",
        "/api/resources",
        "/api/tokens",
        "/api/enforcement/snapshot",
    ];
    for path in others {
        for (role, token) in &who {
            let (s, b) = t.call("GET", path, token.as_deref(), None).await;
            assert!(
                !b.to_string().contains(marker),
                "GET {path} as {role} ({s}) shows the text: {b}"
            );
        }
    }
    // The cases and their counts are as they were: a vulnerability report opens no case.
    let (_, n) = t
        .call("GET", "/api/cases/count", Some(&t.admin), None)
        .await;
    assert_eq!(n["count"], 0, "{n}");
    // The console's audit export too.
    let mut ada = Client::new(&t.base, "en");
    person(&t, "ada", Role::Admin, None, false).await;
    assert_eq!(ada.sign_in("ada", PASSWORD).await.status, 303);
    let export = ada.get("/staff/audit/export").await;
    assert_eq!(export.status, 200);
    assert!(
        export.body.contains(&id),
        "the export holds the events about it"
    );
    assert!(!export.body.contains(marker), "{}", export.body);
    t.stop().await;
}

/// AUD-1 / ASMT-4: the submission, every list and every detail read, and the state change are
/// audit events naming the report and the reader; none holds the text; a refused read writes
/// nothing and shows nothing.
async fn every_read_is_audited_without_the_text(engine: Engine) {
    let Some(t) = spawn_app(engine, settings()).await else {
        return;
    };
    accounts(&t).await;
    let marker = "vuln-audit-marker-9d8e";
    let tenant = t.token("tenant", Some("acct-a")).await;
    let sec = t.token("security_team", None).await;
    let auditor = t.token("auditor", None).await;
    let (s, r) = t
        .call(
            "POST",
            "/api/vulnerabilities",
            Some(&tenant),
            Some(&report(marker)),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let id = r["id"].as_str().unwrap().to_string();
    assert!(
        r.get("status_token").is_none(),
        "a tenant follows it by account: {r}"
    );
    let (_, me) = t.call("GET", "/api/whoami", Some(&sec), None).await;
    let sec_id = me["token_id"].as_str().unwrap().to_string();

    let (s, inbox) = t
        .call("GET", "/api/vulnerabilities", Some(&sec), None)
        .await;
    assert_eq!(s, 200, "{inbox}");
    assert_eq!(inbox["items"][0]["id"], id.as_str());
    assert_eq!(inbox["items"][0]["reporter"], "tenant");
    assert!(
        inbox["items"][0]["title"]
            .as_str()
            .unwrap()
            .contains(marker)
    );
    let received = inbox["counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["state"] == "received")
        .unwrap();
    assert_eq!(received["count"], 1);
    // The security team does not learn the reporting account (SPEC §1: nothing
    // tenant-visible); the auditors do, from the submission's event.
    assert!(!inbox.to_string().contains("acct-a"), "{inbox}");
    for _ in 0..2 {
        let (s, one) = t
            .call(
                "GET",
                &format!("/api/vulnerabilities/{id}"),
                Some(&sec),
                None,
            )
            .await;
        assert_eq!(s, 200, "{one}");
        assert!(one["description"].as_str().unwrap().contains(marker));
        assert!(!one.to_string().contains("acct-a"), "{one}");
    }
    let (s, st) = t
        .call(
            "POST",
            &format!("/api/vulnerabilities/{id}/state"),
            Some(&sec),
            Some(&json!({ "state": "triaged" })),
        )
        .await;
    assert_eq!((s, st["state"].as_str()), (200, Some("triaged")), "{st}");
    assert!(!st.to_string().contains(marker), "{st}");
    // A refused read (another role) and a missing report are not reads.
    let op = t.token("operator", None).await;
    let (s, _) = t
        .call(
            "GET",
            &format!("/api/vulnerabilities/{id}"),
            Some(&op),
            None,
        )
        .await;
    assert_eq!(s, 403);
    let (s, _) = t
        .call(
            "GET",
            "/api/vulnerabilities/vul_000000000000_0000ffffffff",
            Some(&sec),
            None,
        )
        .await;
    assert_eq!(s, 404);

    let (s, log) = t
        .call("GET", "/api/audit?limit=1000", Some(&auditor), None)
        .await;
    assert_eq!(s, 200, "{log}");
    assert!(
        !log.to_string().contains(marker),
        "the audit log holds the text: {log}"
    );
    let events: Vec<&Value> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("vulnerability."))
        .collect();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "vulnerability.submit",
            "vulnerability.list",
            "vulnerability.read",
            "vulnerability.read",
            "vulnerability.state",
        ],
        "{events:#?}"
    );
    let subject = format!("vulnerability:{id}");
    assert_eq!(events[0]["subject"], subject.as_str());
    assert_eq!(events[0]["account_id"], "acct-a");
    assert_eq!(events[0]["role"], "tenant");
    assert_eq!(events[1]["subject"], "vulnerabilities");
    assert_eq!(events[1]["details"]["ids"], json!([id]));
    for e in &events[1..] {
        assert_eq!(e["actor"]["id"], sec_id.as_str(), "{e}");
        assert_eq!(e["role"], "security_team", "{e}");
    }
    for e in &events[2..] {
        assert_eq!(e["subject"], subject.as_str(), "{e}");
    }
    assert_eq!(
        events[4]["details"],
        json!({ "from": "received", "to": "triaged" })
    );
    t.stop().await;
}

/// ASMT-4: the reporter sees where its report stands and nothing of its text — a tenant the
/// reports of its own account (never another's), anyone else through its status token (only
/// its digest is stored; a wrong token is 404) — and the state machine moves forward only.
async fn reporters_see_the_status_and_nothing_else(engine: Engine) {
    let Some(t) = spawn_app(engine, settings()).await else {
        return;
    };
    accounts(&t).await;
    let marker = "vuln-status-marker-4f5a";
    let tenant_a = t.token("tenant", Some("acct-a")).await;
    let tenant_b = t.token("tenant", Some("acct-b")).await;
    let sec = t.token("security_team", None).await;
    let (_, a) = t
        .call(
            "POST",
            "/api/vulnerabilities",
            Some(&tenant_a),
            Some(&report(marker)),
        )
        .await;
    let a_id = a["id"].as_str().unwrap().to_string();
    let (s, anon) = t
        .call("POST", "/api/vulnerabilities", None, Some(&report(marker)))
        .await;
    assert_eq!(s, 201, "{anon}");
    let anon_id = anon["id"].as_str().unwrap().to_string();
    let token = anon["status_token"].as_str().unwrap().to_string();
    assert!(token.starts_with("vst_") && token.len() > 60, "{token}");
    // Staff and machines get a token too (they have no account to follow it by).
    let (_, staff) = t
        .call(
            "POST",
            "/api/vulnerabilities",
            Some(&t.admin),
            Some(&report(marker)),
        )
        .await;
    assert!(staff["status_token"].is_string(), "{staff}");

    let status = |token: String| {
        let t = &t;
        async move {
            t.call(
                "POST",
                "/api/vulnerabilities/status",
                None,
                Some(&json!({ "token": token })),
            )
            .await
        }
    };
    let (s, st) = status(token.clone()).await;
    assert_eq!(s, 200, "{st}");
    assert_eq!(
        (st["id"].as_str(), st["state"].as_str()),
        (Some(anon_id.as_str()), Some("received"))
    );
    assert_eq!(
        st.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["id", "received_at", "state", "updated_at"],
        "status only: {st}"
    );
    let (s, none) = status(format!("{token}x")).await;
    assert_eq!(s, 404, "{none}");
    let (s, none) = status(String::new()).await;
    assert_eq!(s, 422, "{none}");
    // The token is not stored: its digest is.
    let mut tx = t.app.store.begin_write().await.unwrap();
    let row = tx.get_vulnerability(&anon_id).await.unwrap().unwrap();
    drop(tx);
    assert_eq!(
        row.status_token_sha256.as_deref(),
        Some(warden_domain::sha256_hex(token.as_bytes()).as_str())
    );
    // Sealed: the stored text is not the text.
    for sealed in [&row.title_enc, &row.description_enc, &row.component_enc] {
        assert!(!String::from_utf8_lossy(sealed).contains(marker));
    }

    let (s, mine) = t
        .call("GET", "/api/vulnerabilities/mine", Some(&tenant_a), None)
        .await;
    assert_eq!(s, 200, "{mine}");
    assert_eq!(mine["items"].as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine["items"][0]["id"], a_id.as_str());
    assert!(!mine.to_string().contains(marker), "{mine}");
    let (_, theirs) = t
        .call("GET", "/api/vulnerabilities/mine", Some(&tenant_b), None)
        .await;
    assert_eq!(theirs["items"], json!([]), "{theirs}");

    // received → triaged → fixed; then final. A state that is none, or a missing report, is
    // refused and changes nothing.
    let set = |id: String, state: &'static str| {
        let (t, sec) = (&t, sec.clone());
        async move {
            t.call(
                "POST",
                &format!("/api/vulnerabilities/{id}/state"),
                Some(&sec),
                Some(&json!({ "state": state })),
            )
            .await
        }
    };
    assert_eq!(set(a_id.clone(), "published").await.0, 422);
    assert_eq!(
        set("vul_000000000000_0000ffffffff".into(), "triaged")
            .await
            .0,
        404
    );
    assert_eq!(set(a_id.clone(), "triaged").await.0, 200);
    assert_eq!(set(a_id.clone(), "triaged").await.0, 409);
    assert_eq!(set(a_id.clone(), "received").await.0, 409);
    assert_eq!(set(a_id.clone(), "fixed").await.0, 200);
    let (s, b) = set(a_id.clone(), "rejected").await;
    assert_eq!((s, b["code"].as_str()), (409, Some("conflict")), "{b}");
    assert_eq!(set(anon_id.clone(), "rejected").await.0, 200);
    let (_, mine) = t
        .call("GET", "/api/vulnerabilities/mine", Some(&tenant_a), None)
        .await;
    assert_eq!(mine["items"][0]["state"], "fixed", "{mine}");
    let (_, st) = status(token.clone()).await;
    assert_eq!(st["state"], "rejected", "{st}");

    // The console shows the same: the tenant's list, the status page for the token.
    person(&t, "tina", Role::Tenant, Some("acct-a"), false).await;
    let mut tina = Client::new(&t.base, "en");
    assert_eq!(tina.sign_in("tina", PASSWORD).await.status, 303);
    let page = tina.get("/console/vulnerabilities").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&a_id) && page.body.contains(">fixed<"),
        "{}",
        page.body
    );
    assert!(!page.body.contains(marker) && !page.body.contains(&anon_id));
    let mut anyone = Client::new(&t.base, "zh-CN");
    let page = anyone
        .post(
            "/vulnerability/status",
            "/vulnerability/status",
            &[("token", &token)],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(&anon_id) && page.body.contains("已驳回"),
        "{}",
        page.body
    );
    assert!(!page.body.contains(marker));
    t.stop().await;
}

/// ASMT-4: "anyone, rate-limited": anonymous submissions and status lookups share the per-IP
/// budget of public reports; a refused one stores nothing; token holders are not limited; the
/// next minute opens again.
async fn anonymous_vulnerability_reports_are_rate_limited(engine: Engine) {
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
    // Start at the top of a minute, so the window does not turn over mid-test.
    let now = t.app.now();
    t.clock.advance(60_000 - now.rem_euclid(60_000));
    let marker = "vuln-limit-marker";
    let mut token = String::new();
    for n in 0..3 {
        let (s, r) = t
            .call("POST", "/api/vulnerabilities", None, Some(&report(marker)))
            .await;
        assert_eq!(s, 201, "report {n}: {r}");
        token = r["status_token"].as_str().unwrap().to_string();
    }
    let (s, r) = t
        .call("POST", "/api/vulnerabilities", None, Some(&report(marker)))
        .await;
    assert_eq!((s, r["code"].as_str()), (429, Some("rate_limited")), "{r}");
    let (s, _) = t
        .call(
            "POST",
            "/api/vulnerabilities/status",
            None,
            Some(&json!({ "token": token })),
        )
        .await;
    assert_eq!(s, 429, "status lookups count too");
    let sec = t.token("security_team", None).await;
    let (s, b) = t
        .call(
            "POST",
            "/api/vulnerabilities",
            Some(&sec),
            Some(&report(marker)),
        )
        .await;
    assert_eq!(s, 201, "a token holder is not limited: {b}");
    let (_, inbox) = t
        .call("GET", "/api/vulnerabilities", Some(&sec), None)
        .await;
    assert_eq!(
        inbox["items"].as_array().unwrap().len(),
        4,
        "the refused one is not stored"
    );
    t.clock.advance(60_000);
    let (s, _) = t
        .call(
            "POST",
            "/api/vulnerabilities/status",
            None,
            Some(&json!({ "token": token })),
        )
        .await;
    assert_eq!(s, 200, "a new minute");
    t.stop().await;
}

/// Where `needle` occurs in `haystack`, as a short excerpt.
fn find(haystack: &str, needle: &str) -> Option<String> {
    haystack.find(needle).map(|at| {
        let from = haystack[..at]
            .char_indices()
            .rev()
            .nth(80)
            .map_or(0, |(i, _)| i);
        haystack[from..].chars().take(240).collect()
    })
}

/// Whether `needle` occurs in `bytes`.
fn holds(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// ASMT-4 acceptance: a real `warden serve` at `RUST_LOG=debug` takes a report with a unique
/// marker (by the API and by the console form, plus a refused one), the security team reads it
/// (inbox and detail, API and console) and moves it, the reporter looks up its status — and then
/// neither the process's whole stdout and stderr, nor the audit log, nor the database's bytes
/// hold the marker. The searches can fail: the security team's answers do hold the marker, the
/// log is verbose, and the database holds the report (its id) — the text only as ciphertext.
async fn a_whole_run_logs_no_vulnerability_text(engine: Engine) {
    let pg = match engine {
        Engine::Sqlite => None,
        Engine::Postgres => match warden_store::testing::PgDatabase::create().await {
            Some(pg) => Some(pg),
            None => return,
        },
    };
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("vuln-log-marker-{}", warden_store::new_id("m", 0));
    let mut envs: Vec<(&str, &str)> = vec![("RUST_LOG", "debug")];
    if let Some(pg) = &pg {
        envs.push(("WARDEN_DATABASE__URL", pg.url.as_str()));
    }
    // A security-team user for the console, created before the server starts (`admin`
    // opens an existing database: migrate first).
    let migrate = warden_command(dir.path(), &envs)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let mut create = warden_command(dir.path(), &envs)
        .args([
            "admin",
            "create-user",
            "--login",
            "sam",
            "--role",
            "security_team",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = create.stdin.take().unwrap();
        writeln!(stdin, "{PASSWORD}").unwrap();
    }
    let out = create.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut child = warden_command(dir.path(), &envs)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("WARDEN_CONSOLE__SECURE_COOKIES", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut readers = Vec::new();
    let stdout: Box<dyn std::io::Read + Send> = Box::new(child.stdout.take().unwrap());
    let stderr: Box<dyn std::io::Read + Send> = Box::new(child.stderr.take().unwrap());
    for pipe in [stdout, stderr] {
        let lines = lines.clone();
        readers.push(std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let base = loop {
        let found = lines.lock().unwrap().iter().find_map(|l| {
            l.strip_prefix("warden listening on ")
                .map(|u| u.trim().to_string())
        });
        if let Some(b) = found {
            break b;
        }
        assert!(
            Instant::now() < deadline,
            "warden did not start: {:?}",
            lines.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let admin = loop {
        let found = lines
            .lock()
            .unwrap()
            .iter()
            .flat_map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .find(|w| w.starts_with("wdn_"));
        if let Some(a) = found {
            break a;
        }
        assert!(Instant::now() < deadline, "no first-start admin token");
        std::thread::sleep(Duration::from_millis(50));
    };
    let (s, sec) = http(
        &base,
        "POST",
        "/api/tokens",
        Some(&admin),
        Some(&json!({ "role": "security_team", "label": "sec" })),
    )
    .await;
    assert_eq!(s, 201, "{sec}");
    let sec = sec["secret"].as_str().unwrap().to_string();

    // In: by the API, by the console form, and one refused (no severity) that stores nothing.
    let (s, r) = http(
        &base,
        "POST",
        "/api/vulnerabilities",
        None,
        Some(&report(&marker)),
    )
    .await;
    assert_eq!(s, 201, "{r}");
    let id = r["id"].as_str().unwrap().to_string();
    let token = r["status_token"].as_str().unwrap().to_string();
    let mut bad = report(&marker);
    bad["severity"] = json!(format!("{marker}-severity"));
    let (s, refused) = http(&base, "POST", "/api/vulnerabilities", None, Some(&bad)).await;
    assert_eq!(s, 422, "{refused}");
    assert!(
        !refused.to_string().contains(&marker),
        "the error echoes the text: {refused}"
    );
    let mut anyone = Client::new(&base, "en");
    let title = format!("{marker} console title");
    let component = format!("{marker}.console.example");
    let description = format!("{marker} console description");
    let page = anyone
        .post(
            "/vulnerability",
            "/vulnerability",
            &[
                ("title", title.as_str()),
                ("component", component.as_str()),
                ("severity", "high"),
                ("description", description.as_str()),
            ],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("id=\"status-token\""), "{}", page.body);

    // Read by the security team: API inbox and detail (the control: they hold the marker).
    let (s, inbox) = http(&base, "GET", "/api/vulnerabilities", Some(&sec), None).await;
    assert_eq!(s, 200, "{inbox}");
    assert!(inbox.to_string().contains(&marker), "{inbox}");
    assert_eq!(inbox["items"].as_array().unwrap().len(), 2, "{inbox}");
    let (s, one) = http(
        &base,
        "GET",
        &format!("/api/vulnerabilities/{id}"),
        Some(&sec),
        None,
    )
    .await;
    assert_eq!(s, 200, "{one}");
    assert!(one["details"].as_str().unwrap().contains(&marker));
    let (s, _) = http(
        &base,
        "POST",
        &format!("/api/vulnerabilities/{id}/state"),
        Some(&sec),
        Some(&json!({ "state": "triaged" })),
    )
    .await;
    assert_eq!(s, 200);
    // ... and in the console.
    let mut sam = Client::new(&base, "zh-CN");
    assert_eq!(sam.sign_in("sam", PASSWORD).await.status, 303);
    let list = sam.get("/staff/vulnerabilities").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains(&title), "{}", list.body);
    let detail = sam.get(&format!("/staff/vulnerabilities/{id}")).await;
    assert!(detail.body.contains(&marker), "{}", detail.body);
    let moved = sam
        .post(
            &format!("/staff/vulnerabilities/{id}"),
            &format!("/staff/vulnerabilities/{id}/state"),
            &[("state", "fixed")],
        )
        .await;
    assert_eq!(moved.status, 303, "{}", moved.body);
    // Nobody else: an operator's token and the staff pages.
    let (_, op) = http(
        &base,
        "POST",
        "/api/tokens",
        Some(&admin),
        Some(&json!({ "role": "operator", "label": "op" })),
    )
    .await;
    let (s, _) = http(
        &base,
        "GET",
        &format!("/api/vulnerabilities/{id}"),
        op["secret"].as_str(),
        None,
    )
    .await;
    assert_eq!(s, 403);
    let (s, st) = http(
        &base,
        "POST",
        "/api/vulnerabilities/status",
        None,
        Some(&json!({ "token": token })),
    )
    .await;
    assert_eq!((s, st["state"].as_str()), (200, Some("fixed")), "{st}");

    // The audit log, exported whole.
    let (s, audit) = http(&base, "GET", "/api/audit?limit=1000", Some(&admin), None).await;
    assert_eq!(s, 200);
    let audit = audit.to_string();
    assert!(
        audit.contains(&format!("vulnerability:{id}")),
        "the reads are on the record"
    );
    assert!(audit.contains("vulnerability.read"));

    // Stop, and read everything the process wrote.
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let stop = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < stop, "warden did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    for r in readers {
        r.join().unwrap();
    }
    let log = lines.lock().unwrap().join("\n");
    // The control: the log is verbose (debug lines of the requests' SQL), and the search finds
    // what is in it.
    assert!(log.contains("DEBUG"), "not a debug log:\n{log}");
    assert!(
        log.contains("vulnerability_reports"),
        "the SQL is logged at debug"
    );
    assert!(find(&format!("{log}\ncontrol {marker}"), &marker).is_some());
    if let Some(at) = find(&log, &marker) {
        panic!("the log holds a vulnerability report's text: …{at}…");
    }
    for secret in [token.as_str(), sec.as_str()] {
        assert!(find(&log, secret).is_none(), "the log holds a secret");
    }
    if let Some(at) = find(&audit, &marker) {
        panic!("the audit log holds a vulnerability report's text: …{at}…");
    }

    // The database: the reports are there (their ids), their text only as ciphertext.
    match &pg {
        None => {
            let mut bytes = Vec::new();
            for e in std::fs::read_dir(dir.path().join("warden-data")).unwrap() {
                let p = e.unwrap().path();
                if p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("warden.db")
                {
                    bytes.extend(std::fs::read(&p).unwrap());
                }
            }
            assert!(holds(&bytes, &id), "the report is in the database files");
            assert!(
                !holds(&bytes, &marker),
                "the database holds the text in the clear"
            );
        }
        Some(pg) => {
            use sqlx::Row;
            let pool = sqlx::any::AnyPoolOptions::new()
                .max_connections(1)
                .connect(&pg.url)
                .await
                .unwrap();
            let rows = sqlx::query(
                "SELECT id, title_enc, description_enc, details_enc, component_enc FROM vulnerability_reports",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            assert_eq!(rows.len(), 2);
            for r in &rows {
                for col in [
                    "title_enc",
                    "description_enc",
                    "details_enc",
                    "component_enc",
                ] {
                    let b: Option<Vec<u8>> = r.try_get(col).unwrap();
                    if let Some(b) = b {
                        assert!(!holds(&b, &marker), "{col} holds the text in the clear");
                    }
                }
            }
            // Nor anywhere else: every table's rows as text.
            let tables = sqlx::query(
                "SELECT table_name::text AS table_name FROM information_schema.tables WHERE table_schema = current_schema()",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            for t in tables {
                let name: String = t.try_get(0).unwrap();
                let sql = format!(
                    "SELECT COUNT(*) FROM {name} AS t WHERE t::text LIKE '%' || $1::text || '%'"
                );
                let n: i64 = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(marker.as_str())
                    .fetch_one(&pool)
                    .await
                    .unwrap()
                    .try_get(0)
                    .unwrap();
                assert_eq!(n, 0, "table {name} holds the text");
            }
            pool.close().await;
        }
    }
    if let Some(pg) = pg {
        pg.drop_db().await;
    }
}
