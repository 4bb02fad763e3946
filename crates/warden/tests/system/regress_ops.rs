//! Regressions found when Warden was probed as an operator runs it (issue 9, item 5): commands
//! that created an empty database and reported a clean audit chain, audit verification that
//! raised false alarms under load, coloured logs in files and world-readable data, HEAD answered
//! 401/403, and the last admin token revocable.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use warden_app::auth::Principal;
use warden_app::{AppError, Settings};
use warden_http::routes::routes;
use warden_store::testing::PgDatabase;

use crate::both_engines;
use crate::support::{Engine, TestApp, spawn_app, spawn_warden, warden_command};

both_engines!(
    regression_audit_verify_during_writes_raises_no_false_alarm,
    regression_last_admin_token_cannot_be_revoked,
    regression_concurrent_revocations_of_the_last_two_admin_tokens_keep_one,
);

/// A 32-byte key, so that PostgreSQL runs need no key file.
const KEY: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";

/// What a directory holds, for messages.
fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Regression (AUD-2, OPS-1): `warden audit verify` in a folder without a database created an
/// empty one and answered "audit chain OK: 0 events verified", exit 0 — a false all-clear. Every
/// command but `serve` and `migrate` now refuses with exit 2, names the file it looked for, and
/// creates nothing.
#[test]
fn regression_audit_verify_without_database_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let page = elsewhere.path().join("page.html");
    std::fs::write(&page, "<html>online casino</html>").unwrap();
    let page = page.display().to_string();
    let commands: [&[&str]; 5] = [
        &["audit", "verify"],
        &["audit", "purge", "--before", "2000-01-01T00:00:00Z"],
        &["admin", "create-token", "--role", "admin"],
        &["lexicon", "list"],
        &["scan", &page],
    ];
    for args in commands {
        let out = warden_command(dir.path(), &[]).args(args).output().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stdout} {stderr}");
        assert!(
            stderr.contains("warden-data/warden.db") && stderr.contains("warden migrate"),
            "{args:?} names the database it looked for and how to create one: {stderr}"
        );
        assert!(!stdout.contains("OK"), "{args:?}: {stdout}");
        assert!(
            entries(dir.path()).is_empty(),
            "{args:?} created {:?}",
            entries(dir.path())
        );
    }
    // `migrate` creates the database; then verification runs on it.
    let out = warden_command(dir.path(), &[])
        .arg("migrate")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = warden_command(dir.path(), &[])
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("audit chain OK"));
}

/// The same on PostgreSQL: an unmigrated database is an error and stays empty — verification
/// pointed at the wrong database no longer migrates it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_audit_verify_on_an_unmigrated_postgres_refuses() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("WARDEN_DATABASE__URL", pg.url.as_str()),
        ("WARDEN_CRYPTO__KEY", KEY),
    ];
    let verify = || {
        warden_command(dir.path(), &env)
            .args(["audit", "verify"])
            .output()
            .unwrap()
    };
    let out = verify();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        err.contains(pg.url.rsplit('/').next().unwrap()) && err.contains("warden migrate"),
        "the error names the database and how to migrate it: {err}"
    );
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&pg.url)
        .await
        .unwrap();
    use sqlx::Row;
    let tables: i64 = sqlx::query(
        "SELECT COUNT(*)::BIGINT AS n FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_one(&pool)
    .await
    .unwrap()
    .try_get("n")
    .unwrap();
    pool.close().await;
    assert_eq!(tables, 0, "verification must not migrate the database");
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
    // Once migrated, it verifies.
    let out = warden_command(dir.path(), &env)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = verify();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("audit chain OK"));
    pg.drop_db().await;
}

/// Regression (AUD-2): `GET /api/audit/verify` while reports were being written answered 409
/// "the chain ends at 2977 but the head records 2946" for 21 of 150 calls: it read the chain
/// head and the events at different moments. Verification reads one snapshot.
async fn regression_audit_verify_during_writes_raises_no_false_alarm(engine: Engine) {
    let Some(t) = spawn_app(engine, Settings::default()).await else {
        return;
    };
    let t = Arc::new(t);
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (t, stop, written) = (t.clone(), stop.clone(), written.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let body = json!({ "target": format!("https://w{w}.example/{n}"), "category": "gambling" });
                    let (s, b) = t
                        .call("POST", "/api/reports", Some(&t.admin), Some(&body))
                        .await;
                    assert_eq!(s, 201, "{b}");
                    written.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
            })
        })
        .collect();
    while written.load(Ordering::Relaxed) < 20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut alarms = Vec::new();
    let mut seqs = Vec::new();
    for _ in 0..150 {
        let (s, v) = t
            .call("GET", "/api/audit/verify", Some(&t.admin), None)
            .await;
        if s == 200 {
            seqs.push(v["last_seq"].as_i64().unwrap());
        } else {
            alarms.push(format!("{s} {v}"));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    assert!(
        alarms.is_empty(),
        "{} of 150 verifications raised a false alarm, e.g. {}",
        alarms.len(),
        alarms[0]
    );
    assert!(
        seqs.first() < seqs.last(),
        "the chain grew while it was verified: {seqs:?}"
    );
    let (s, v) = t
        .call("GET", "/api/audit/verify", Some(&t.admin), None)
        .await;
    assert_eq!((s, &v["broken"]), (200, &serde_json::Value::Null));
    Arc::into_inner(t).unwrap().stop().await;
}

/// Regression (OPS-2): logs written to a file or pipe were full of ANSI colour codes. Colour is
/// for terminals only.
#[test]
fn regression_logs_to_a_pipe_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = spawn_warden(dir.path(), &[("RUST_LOG", "info")], &[]);
    assert!(p.terminate(30));
    let mut lines = Vec::new();
    while let Ok(l) = p.stderr.recv_timeout(Duration::from_secs(5)) {
        lines.push(l);
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("INFO") && l.contains("stopped")),
        "the shutdown is logged: {lines:?}"
    );
    let coloured: Vec<&String> = lines.iter().filter(|l| l.contains('\u{1b}')).collect();
    assert!(coloured.is_empty(), "escape codes in the log: {coloured:?}");
}

/// Regression (AUD-4): the database was created 0644 — personal data, token hashes and the audit
/// log readable by every local user. After the first start the data directory is 0700 and every
/// file in it (database, -wal, -shm, lock, key) 0600.
#[cfg(unix)]
#[test]
fn regression_data_directory_and_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let check = |data: &Path| {
        assert_eq!(mode(data), 0o700, "{}", data.display());
        let names = entries(data);
        for name in &names {
            assert_eq!(mode(&data.join(name)), 0o600, "{name} in {names:?}");
        }
        names
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("warden-data");
    let mut p = spawn_warden(dir.path(), &[], &[]);
    let names = check(&data);
    for name in ["warden.db", "warden.db-wal", "warden.db-shm", "warden.key"] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    assert!(p.terminate(30));
    check(&data);
}

/// Regression (OPS-2): HEAD on a GET route answered 401/403, because the role table only knew
/// GET. HEAD behaves like GET without a body: same status, same headers, same roles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_head_on_get_routes_behaves_like_get() {
    let Some(t) = spawn_app(Engine::Sqlite, Settings::default()).await else {
        return;
    };
    let mut tokens: Vec<(&str, Option<String>)> = vec![("anonymous", None)];
    for role in [
        "admin", "operator", "reviewer", "auditor", "detector", "edge",
    ] {
        tokens.push((role, Some(t.token(role, None).await)));
    }
    let account = json!({ "id": "acme", "name": "Acme" });
    let (s, _) = t
        .call("POST", "/api/accounts", Some(&t.admin), Some(&account))
        .await;
    assert_eq!(s, 201);
    tokens.push(("tenant", Some(t.token("tenant", Some("acme")).await)));
    let mut gets = 0;
    for route in routes().iter().filter(|r| r.method == "GET") {
        let mut path = route
            .path
            .replace("{id}", "does-not-exist")
            .replace("{*path}", "x.example/p");
        if route.path == "/api/owner" {
            path.push_str("?target=x.example");
        }
        for (role, token) in &tokens {
            let send = |method: reqwest::Method| {
                let mut req = t.client.request(method, format!("{}{path}", t.base));
                if let Some(tok) = token {
                    req = req.bearer_auth(tok);
                }
                req.send()
            };
            let get = send(reqwest::Method::GET).await.unwrap();
            let head = send(reqwest::Method::HEAD).await.unwrap();
            let ctx = format!("HEAD {path} as {role}");
            assert_eq!(head.status(), get.status(), "{ctx}");
            for h in ["content-type", "www-authenticate"] {
                assert_eq!(head.headers().get(h), get.headers().get(h), "{h}: {ctx}");
            }
            assert!(head.bytes().await.unwrap().is_empty(), "a body: {ctx}");
            gets += 1;
        }
    }
    assert!(gets > 100, "{gets}");
    // Where the body does not change between calls, the length is the GET body's.
    for path in ["/api/taxonomy", "/api/openapi.json"] {
        let get = t
            .client
            .get(format!("{}{path}", t.base))
            .send()
            .await
            .unwrap();
        let head = t
            .client
            .head(format!("{}{path}", t.base))
            .send()
            .await
            .unwrap();
        let len = get.bytes().await.unwrap().len().to_string();
        assert_eq!(
            head.headers()
                .get("content-length")
                .and_then(|v| v.to_str().ok()),
            Some(len.as_str()),
            "{path}"
        );
    }
    t.stop().await;
}

/// The id of the caller's token.
async fn token_id(t: &TestApp, secret: &str) -> String {
    let (s, who) = t.call("GET", "/api/whoami", Some(secret), None).await;
    assert_eq!(s, 200, "{who}");
    who["token_id"].as_str().unwrap().to_string()
}

/// Live admin tokens.
async fn live_admins(t: &TestApp) -> Vec<String> {
    t.app
        .list_tokens(&Principal::System)
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.role == warden_domain::identity::Role::Admin && k.revoked_at.is_none())
        .map(|k| k.id)
        .collect()
}

/// Regression: the last admin token could be revoked, locking everyone out of the admin API for
/// good. It is refused (409 `last_admin_token`) and nothing changes; with a second admin token
/// the first can go.
async fn regression_last_admin_token_cannot_be_revoked(engine: Engine) {
    let Some(t) = spawn_app(engine, Settings::default()).await else {
        return;
    };
    let first = token_id(&t, &t.admin).await;
    let (_, audit_before) = t.call("GET", "/api/audit", Some(&t.admin), None).await;
    let (s, e) = t
        .call(
            "DELETE",
            &format!("/api/tokens/{first}"),
            Some(&t.admin),
            None,
        )
        .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (409, Some("last_admin_token")),
        "{e}"
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("create another admin token first"),
        "{e}"
    );
    assert_eq!(token_id(&t, &t.admin).await, first, "the token still works");
    let (_, audit_after) = t.call("GET", "/api/audit", Some(&t.admin), None).await;
    assert_eq!(audit_before, audit_after, "nothing was recorded or changed");
    assert!(
        warden_http::error::ERROR_CODES
            .iter()
            .any(|c| c.0 == "last_admin_token" && c.1 == 409),
        "the code is in the error table"
    );

    // Other roles' tokens revoke as before; with a second admin token the first one can go.
    let auditor = t.token("auditor", None).await;
    let auditor_id = token_id(&t, &auditor).await;
    let (s, _) = t
        .call(
            "DELETE",
            &format!("/api/tokens/{auditor_id}"),
            Some(&t.admin),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, second) = t
        .call(
            "POST",
            "/api/tokens",
            Some(&t.admin),
            Some(&json!({ "role": "admin", "label": "second admin" })),
        )
        .await;
    assert_eq!(s, 201, "{second}");
    let second_secret = second["secret"].as_str().unwrap();
    let (s, _) = t
        .call(
            "DELETE",
            &format!("/api/tokens/{first}"),
            Some(second_secret),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, e) = t
        .call(
            "DELETE",
            &format!("/api/tokens/{}", second["id"].as_str().unwrap()),
            Some(second_secret),
            None,
        )
        .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (409, Some("last_admin_token")),
        "{e}"
    );
    assert_eq!(live_admins(&t).await, vec![second["id"].as_str().unwrap()]);
    t.stop().await;
}

/// Regression: the last-admin check and the revocation share one transaction, so two
/// concurrent revocations of the last two admin tokens never both succeed.
async fn regression_concurrent_revocations_of_the_last_two_admin_tokens_keep_one(engine: Engine) {
    let Some(t) = spawn_app(engine, Settings::default()).await else {
        return;
    };
    for round in 0..10 {
        t.app
            .create_token(&Principal::System, "admin", None, "another admin")
            .await
            .unwrap();
        let live = live_admins(&t).await;
        assert_eq!(live.len(), 2, "round {round}: {live:?}");
        let races: Vec<_> = live
            .into_iter()
            .map(|id| {
                let app = t.app.clone();
                tokio::spawn(async move { app.revoke_token(&Principal::System, &id).await })
            })
            .collect();
        let mut outcomes = Vec::new();
        for r in races {
            outcomes.push(r.await.unwrap());
        }
        let ok = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(ok, 1, "round {round}: {outcomes:?}");
        assert!(
            outcomes.iter().any(|o| matches!(
                o,
                Err(AppError::Refused {
                    code: "last_admin_token",
                    ..
                })
            )),
            "round {round}: {outcomes:?}"
        );
        let left = live_admins(&t).await;
        assert_eq!(left.len(), 1, "round {round}: {left:?}");
    }
    t.stop().await;
}
