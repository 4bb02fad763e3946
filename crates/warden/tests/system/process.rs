//! The real `warden` binary: first start with no configuration, kill -9 with work in flight,
//! two nodes on one PostgreSQL, graceful shutdown, and `warden audit verify` on a tampered log.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_store::testing::PgDatabase;
use warden_store::{Store, StoreOptions};

use crate::support::{http, spawn_warden};

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).unwrap()
}

/// SQLite serves one node: a second `warden serve` on the same file is refused with an error
/// naming the first process and PostgreSQL as the way to run several; a crash frees the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_node_on_one_sqlite_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = spawn_warden(dir.path(), &[], &[]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .current_dir(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("WARDEN_DATABASE__URL")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the second node must not start: {err}"
    );
    assert!(
        err.contains("SQLite serves one node")
            && err.contains(&first.child.id().to_string())
            && err.contains("PostgreSQL"),
        "the error names the other process and the way out: {err}"
    );
    // A crash releases the lock: the next start works.
    first.kill9();
    let mut again = spawn_warden(dir.path(), &[], &[]);
    assert_eq!(
        http(&again.base, "GET", "/healthz", None, None).await.0,
        200
    );
    assert!(again.terminate(10));
}

/// OPS-1 and the README: its run command is `serve` with no configuration; started in an empty
/// directory with no WARDEN_* settings, Warden creates ./warden-data with an SQLite database and
/// a 0600 key, prints a one-time admin token and answers /healthz, /readyz, /metrics and the
/// OpenAPI document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_needs_no_configuration() {
    let run = readme()
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("cargo run"))
        .map(str::to_string)
        .expect("README names a cargo run command");
    assert!(
        run.ends_with("-- serve"),
        "the README's run command is `cargo run --release -- serve`: {run}"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut p = spawn_warden(dir.path(), &[], &[]);
    let admin = p.admin.clone().expect("first start prints an admin token");
    assert!(dir.path().join("warden-data/warden.db").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("warden-data/warden.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(
        http(&p.base, "GET", "/healthz", None, None).await,
        (200, Value::String("ok".into()))
    );
    assert_eq!(http(&p.base, "GET", "/readyz", None, None).await.0, 200);
    let (s, m) = http(&p.base, "GET", "/metrics", None, None).await;
    assert!(
        s == 200
            && m.as_str()
                .unwrap()
                .contains("# TYPE warden_reports_accepted_total counter")
    );
    let (s, doc) = http(&p.base, "GET", "/api/openapi.json", None, None).await;
    assert_eq!(s, 200);
    assert_eq!(
        doc["paths"].as_object().unwrap().len(),
        warden_http::routes::routes()
            .iter()
            .map(|r| r.path)
            .collect::<BTreeSet<_>>()
            .len()
    );
    let (s, who) = http(&p.base, "GET", "/api/whoami", Some(&admin), None).await;
    assert_eq!((s, who["role"].as_str()), (200, Some("admin")));
    assert!(p.terminate(30), "SIGTERM stops Warden cleanly");
    // A second start prints no new token: the first one is still the admin's.
    let p2 = spawn_warden(dir.path(), &[], &[]);
    assert!(p2.admin.is_none());
    assert_eq!(
        http(&p2.base, "GET", "/api/whoami", Some(&admin), None)
            .await
            .0,
        200
    );
}

async fn kill9_loses_nothing(db_url: &str, dir: &Path) {
    let env = [
        ("WARDEN_DATABASE__URL", db_url),
        ("WARDEN_JOBS__LEASE_SECS", "2"),
        ("WARDEN_JOBS__POLL_INTERVAL_MS", "100"),
    ];
    let mut p = spawn_warden(dir, &env, &[]);
    let admin = p.admin.clone().unwrap();
    let (s, _) = http(
        &p.base,
        "POST",
        "/api/accounts",
        Some(&admin),
        Some(&json!({ "id": "acme", "name": "Acme" })),
    )
    .await;
    assert_eq!(s, 201);
    http(&p.base, "POST", "/api/resources", Some(&admin), Some(&json!({ "account_id": "acme", "product": "cvm", "identifiers": [{ "kind": "domain", "value": "acme.example" }] }))).await;
    // Timers due after the crash, and jobs due right now while we crash.
    let (s, later) = http(
        &p.base,
        "POST",
        "/api/admin/jobs/ping",
        Some(&admin),
        Some(&json!({ "count": 20, "delay_ms": 1500 })),
    )
    .await;
    assert_eq!(s, 201);
    let (_, now) = http(
        &p.base,
        "POST",
        "/api/admin/jobs/ping",
        Some(&admin),
        Some(&json!({ "count": 200 })),
    )
    .await;
    let mut acknowledged = Vec::new();
    for i in 0..60 {
        let (s, r) = http(&p.base, "POST", "/api/reports", Some(&admin), Some(&json!({ "target": format!("https://acme.example/p{}", i % 7), "category": "gambling" }))).await;
        assert_eq!(s, 201);
        acknowledged.push((
            r["report_id"].as_str().unwrap().to_string(),
            r["case_id"].as_str().unwrap().to_string(),
        ));
    }
    p.kill9();

    let p = spawn_warden(dir, &env, &[]);
    for (report, case) in &acknowledged {
        let (s, reps) = http(
            &p.base,
            "GET",
            &format!("/api/cases/{case}/reports"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(s, 200, "case {case} of an acknowledged report is gone");
        assert!(
            reps["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["id"] == report.as_str()),
            "acknowledged report {report} lost"
        );
    }
    let all: Vec<String> = [later, now]
        .iter()
        .flat_map(|v| {
            v["job_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|j| j.as_str().unwrap().to_string())
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, c) = http(&p.base, "GET", "/api/admin/jobs", Some(&admin), None).await;
        if c["done"].as_u64() == Some(all.len() as u64) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "jobs did not all run after restart: {c}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let store = Store::connect(&StoreOptions::new(db_url)).await.unwrap();
    let runs: BTreeMap<String, i64> = store
        .job_run_counts()
        .await
        .unwrap()
        .into_iter()
        .map(|(id, n, _)| (id, n))
        .collect();
    for id in &all {
        assert_eq!(
            runs.get(id),
            Some(&1),
            "job {id} must have run exactly once"
        );
    }
    store.close().await;
    let (_, v) = http(&p.base, "GET", "/api/audit/verify", Some(&admin), None).await;
    assert_eq!(v["broken"], Value::Null, "{v}");
}

/// LIFE-4 and "a crash loses nothing acknowledged", on SQLite: kill -9 with jobs pending and
/// reports just acknowledged; after restart every report is there and every job runs once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_on_sqlite_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/w.db", dir.path().display());
    kill9_loses_nothing(&url, dir.path()).await;
}

/// The same on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_on_postgres_loses_nothing() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    kill9_loses_nothing(&pg.url, dir.path()).await;
    pg.drop_db().await;
}

/// LIFE-4: two `warden serve` processes on one PostgreSQL; 1,000 jobs due at once each run
/// exactly once, and both nodes take part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_run_each_of_1000_jobs_once() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    let store = Store::open(&StoreOptions::new(&pg.url)).await.unwrap();
    let mut tx = store.begin_write().await.unwrap();
    let now = 1_000; // long past: due at once
    let mut ids = Vec::new();
    for n in 0..1000 {
        let id = format!("job_{n:04}");
        let job = warden_store::jobs::NewJob {
            kind: warden_store::jobs::JobKind::DiagPing,
            payload: "{}".into(),
            run_at: now,
            dedup_key: None,
            max_attempts: 3,
        };
        tx.enqueue(&job, &id, now).await.unwrap();
        ids.push(id);
    }
    tx.commit().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (d1, d2) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&d1).unwrap();
    std::fs::create_dir_all(&d2).unwrap();
    let key = "WARDEN_CRYPTO__KEY";
    let k = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
    let env = |node: &'static str| {
        vec![
            ("WARDEN_DATABASE__URL", pg.url.as_str()),
            ("WARDEN_JOBS__NODE_ID", node),
            ("WARDEN_JOBS__BATCH", "5"),
            (key, k),
        ]
    };
    let e1 = env("node-a");
    let e2 = env("node-b");
    let (mut a, mut b) = std::thread::scope(|s| {
        let a = s.spawn(|| spawn_warden(&d1, &e1, &[]));
        let b = s.spawn(|| spawn_warden(&d2, &e2, &[]));
        (a.join().unwrap(), b.join().unwrap())
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let c = store.job_counts().await.unwrap();
        if c.done == 1000 {
            break;
        }
        assert!(Instant::now() < deadline, "jobs did not finish: {c:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        a.terminate(30) && b.terminate(30),
        "both nodes stop cleanly on SIGTERM"
    );
    let runs = store.job_run_counts().await.unwrap();
    assert_eq!(runs.len(), 1000);
    assert!(runs.iter().all(|(_, n, _)| *n == 1), "a job ran twice");
    let nodes: BTreeMap<&str, usize> = runs.iter().fold(BTreeMap::new(), |mut m, (_, _, node)| {
        *m.entry(node.as_str()).or_default() += 1;
        m
    });
    eprintln!("jobs per node: {nodes:?}");
    // Both nodes appended to one audit chain without forking it, and every job's run is audited
    // exactly once (job.run events list the job ids they ran).
    let v = store.verify_audit().await.unwrap();
    assert_eq!(v.broken, None);
    let mut audited: Vec<String> = Vec::new();
    let mut after = 0;
    loop {
        let f = warden_store::audit::AuditFilter {
            action: Some("job.run".into()),
            ..Default::default()
        };
        let page = store.list_audit(&f, after, 500).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in &page {
            let d: Value = serde_json::from_str(&e.details).unwrap();
            audited.extend(
                d["job_ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_str().unwrap().to_string()),
            );
        }
    }
    audited.sort();
    assert_eq!(audited, ids, "each job's run is audited once");
    let tokens = store
        .list_audit(
            &warden_store::audit::AuditFilter {
                action: Some("token.create".into()),
                ..Default::default()
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        tokens.len(),
        1,
        "exactly one node issues the first admin token"
    );
    assert_eq!(u8::from(a.admin.is_some()) + u8::from(b.admin.is_some()), 1);
    store.close().await;
    pg.drop_db().await;
}

/// AUD-2: flip one byte of any stored audit event, and `warden audit verify` fails naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_names_the_tampered_event() {
    let dir = tempfile::tempdir().unwrap();
    let p = spawn_warden(dir.path(), &[], &[]);
    let admin = p.admin.clone().unwrap();
    http(
        &p.base,
        "POST",
        "/api/accounts",
        Some(&admin),
        Some(&json!({ "id": "acme", "name": "Acme", "email": "a@acme.example" })),
    )
    .await;
    for i in 0..5 {
        http(
            &p.base,
            "POST",
            "/api/reports",
            None,
            Some(&json!({ "target": format!("https://x.example/{i}"), "category": "rumor" })),
        )
        .await;
    }
    drop(p);
    let verify = || {
        let out = Command::new(env!("CARGO_BIN_EXE_warden"))
            .current_dir(dir.path())
            .args(["audit", "verify"])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let (code, out) = verify();
    assert_eq!(code, Some(0), "{out}");
    // The first start's admin token and console admin, the account, five reports.
    assert!(out.contains("8 events verified"), "{out}");
    let url = format!("sqlite://{}/warden-data/warden.db", dir.path().display());
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    use sqlx::Row;
    for seq in 1..=8i64 {
        let row = sqlx::query("SELECT details FROM audit_events WHERE seq = $1")
            .bind(seq)
            .fetch_one(&pool)
            .await
            .unwrap();
        let original: String = row.try_get("details").unwrap();
        let mut bytes = original.clone().into_bytes();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x20;
        let flipped = String::from_utf8(bytes).unwrap();
        sqlx::query("UPDATE audit_events SET details = $1 WHERE seq = $2")
            .bind(&flipped)
            .bind(seq)
            .execute(&pool)
            .await
            .unwrap();
        let (code, out) = verify();
        assert_eq!(code, Some(1), "{out}");
        assert!(
            out.contains(&format!("BROKEN at event seq {seq}:")),
            "{out}"
        );
        sqlx::query("UPDATE audit_events SET details = $1 WHERE seq = $2")
            .bind(&original)
            .bind(seq)
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    assert_eq!(verify().0, Some(0));
    // Purging inside the retention period is refused and changes nothing.
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .current_dir(dir.path())
        .args(["audit", "purge", "--before", "2999-01-01T00:00:00Z"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("younger than 180 days"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(verify().1.contains("8 events verified"));
}

/// LIFE-4: a deadline armed before a restart fires after it — here the process is killed with
/// the case alerting, stays down past the deadline, and on restart the late timer fires at once:
/// the page still violates, so the case is enforced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_armed_before_a_restart_fires_after_it() {
    use axum::routing::get;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let page = format!("http://{}/page", l.local_addr().unwrap());
    tokio::spawn(async move {
        let app =
            axum::Router::new().route("/page", get(|| async { "<html>赌场 online casino</html>" }));
        axum::serve(l, app).await.unwrap()
    });
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("WARDEN_LIFECYCLE__GRACE_MS", "2000"),
        ("WARDEN_RECHECK__ALLOWED_NETWORKS", "[\"127.0.0.1/32\"]"),
        ("WARDEN_JOBS__POLL_INTERVAL_MS", "100"),
    ];
    let mut p = spawn_warden(dir.path(), &env, &[]);
    let admin = p.admin.clone().unwrap();
    http(
        &p.base,
        "POST",
        "/api/accounts",
        Some(&admin),
        Some(&json!({ "id": "acme", "name": "Acme" })),
    )
    .await;
    let (s, _) = http(&p.base, "POST", "/api/resources", Some(&admin), Some(&json!({ "account_id": "acme", "product": "cvm", "identifiers": [{ "kind": "url_prefix", "value": page }] }))).await;
    assert_eq!(s, 201);
    let (_, r) = http(
        &p.base,
        "POST",
        "/api/reports",
        Some(&admin),
        Some(&json!({ "target": page, "category": "gambling" })),
    )
    .await;
    let case = r["case_id"].as_str().unwrap().to_string();
    let (s, c) = http(
        &p.base,
        "POST",
        &format!("/api/cases/{case}/confirm"),
        Some(&admin),
        Some(&json!({ "level": "general", "level_reason": "small site", "markers": ["casino"] })),
    )
    .await;
    assert_eq!((s, c["state"].as_str()), (200, Some("alerting")), "{c}");
    p.kill9();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let p = spawn_warden(dir.path(), &env, &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, c) = http(
            &p.base,
            "GET",
            &format!("/api/cases/{case}"),
            Some(&admin),
            None,
        )
        .await;
        if c["state"] == "enforced" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the deadline did not fire after the restart: {c}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // PEN-3: applied once the node's decision index confirmed it.
    loop {
        let (_, pen) = http(
            &p.base,
            "GET",
            &format!("/api/cases/{case}/penalties"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(pen["actions"][0]["action"], "block_url");
        if pen["actions"][0]["state"] == "applied" {
            assert_eq!(pen["actions"][0]["deliveries"][0]["adapter"], "index");
            break;
        }
        assert!(Instant::now() < deadline, "never confirmed: {pen}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Issue 14 (group commit), on the real binary: clients send single reports at once — two
/// detectors and anonymous reporters, a few targets, spread over `nodes` (two on one
/// PostgreSQL) — and SIGTERM comes in the middle. Every report acknowledged with 201 is in the
/// database afterwards with its own submitter, each target has one case however many nodes
/// and groups its reports went through, the nodes stop cleanly, and `warden audit verify`
/// passes.
async fn concurrent_reports_survive_sigterm(db_url: &str, dirs: &[&Path]) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let env = [
        ("WARDEN_DATABASE__URL", db_url),
        (
            "WARDEN_CRYPTO__KEY",
            "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=",
        ),
        ("WARDEN_INTAKE__PUBLIC_REPORTS_PER_MINUTE", "100000"),
    ];
    let mut procs: Vec<_> = dirs.iter().map(|d| spawn_warden(d, &env, &[])).collect();
    let first = &procs[0];
    let admin = first.admin.clone().unwrap();
    let (s, _) = http(
        &first.base,
        "POST",
        "/api/accounts",
        Some(&admin),
        Some(&json!({ "id": "acme", "name": "Acme" })),
    )
    .await;
    assert_eq!(s, 201);
    http(&first.base, "POST", "/api/resources", Some(&admin), Some(&json!({ "account_id": "acme", "product": "cvm", "identifiers": [{ "kind": "domain", "value": "acme.example" }] }))).await;
    let mut detectors = Vec::new();
    for label in ["detector-a", "detector-b"] {
        let (s, t) = http(
            &first.base,
            "POST",
            "/api/tokens",
            Some(&admin),
            Some(&json!({ "role": "detector", "label": label })),
        )
        .await;
        assert_eq!(s, 201, "{t}");
        detectors.push((
            t["secret"].as_str().unwrap().to_string(),
            t["id"].as_str().unwrap().to_string(),
        ));
    }
    let bases: Vec<String> = procs.iter().map(|p| p.base.clone()).collect();
    let sent = Arc::new(AtomicUsize::new(0));
    const CLIENTS: usize = 16;
    const EACH: usize = 30;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (bases, detectors, sent) = (bases.clone(), detectors.clone(), sent.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut acknowledged = Vec::new();
                for i in 0..EACH {
                    let n = c * EACH + i;
                    let mut req = http
                        .post(format!("{}/api/reports", bases[n % bases.len()]))
                        .json(&json!({ "target": format!("https://acme.example/p{}", n % 5), "category": "gambling", "confidence": 0.5 }));
                    let actor = match n % 3 {
                        2 => "anonymous".to_string(),
                        d => {
                            req = req.bearer_auth(&detectors[d].0);
                            detectors[d].1.clone()
                        }
                    };
                    sent.fetch_add(1, Ordering::SeqCst);
                    // After SIGTERM a request may fail or be refused: not acknowledged.
                    let Ok(resp) = req.send().await else { continue };
                    let status = resp.status().as_u16();
                    let Ok(body) = resp.json::<Value>().await else {
                        continue;
                    };
                    if status == 201 {
                        acknowledged.push((body, actor));
                    } else {
                        assert!(
                            status == 503 || status == 429,
                            "neither stored nor refused as unavailable: {status} {body}"
                        );
                    }
                }
                acknowledged
            })
        })
        .collect();
    while sent.load(Ordering::SeqCst) < CLIENTS * EACH / 2 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::task::block_in_place(|| {
        for p in &mut procs {
            assert!(p.terminate(30), "SIGTERM stops Warden cleanly");
        }
    });
    let mut acknowledged = Vec::new();
    for c in clients {
        acknowledged.extend(c.await.unwrap());
    }
    assert!(
        acknowledged.len() >= CLIENTS * EACH / 4,
        "most reports before SIGTERM were acknowledged: {}",
        acknowledged.len()
    );
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(db_url)
        .await
        .unwrap();
    use sqlx::Row;
    for (receipt, actor) in &acknowledged {
        let id = receipt["report_id"].as_str().unwrap();
        let row = sqlx::query("SELECT submitted_by FROM reports WHERE id = $1")
            .bind(id)
            .fetch_optional(&pool)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged report {id} is not stored"));
        assert_eq!(&row.try_get::<String, _>("submitted_by").unwrap(), actor);
        let event = sqlx::query("SELECT actor FROM audit_events WHERE subject = $1")
            .bind(format!("report:{id}"))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(&event.try_get::<String, _>("actor").unwrap(), actor);
    }
    let per_target =
        sqlx::query("SELECT target, COUNT(DISTINCT case_id) AS n FROM reports GROUP BY target")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(per_target.len(), 5);
    for r in &per_target {
        assert_eq!(r.try_get::<i64, _>("n").unwrap(), 1, "one case per target");
    }
    let opened = acknowledged
        .iter()
        .filter(|(r, _)| r["duplicate"] == json!(false))
        .count();
    assert!(
        opened <= 5,
        "at most one receipt per target opened its case"
    );
    pool.close().await;
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .current_dir(dirs[0])
        .env("WARDEN_DATABASE__URL", db_url)
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reports_survive_sigterm_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/w.db", dir.path().display());
    concurrent_reports_survive_sigterm(&url, &[dir.path()]).await;
}

/// The same with two nodes on one PostgreSQL, each grouping its own reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reports_survive_sigterm_on_two_postgres_nodes() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    concurrent_reports_survive_sigterm(&pg.url, &[&a, &b]).await;
    pg.drop_db().await;
}
