//! The shared compliance test of enforcement adapters (STYLE habit 7, ENF-2): every adapter,
//! against the real point behind it, must treat apply and lift as idempotent, report a failure
//! so that Warden retries (and succeed on the retry), and give up within its timeout. Plus the
//! reconciliation that re-sends what an adapter never confirmed (applies and lifts alike).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::Engine;
use warden_app::Settings;
use warden_app::enforce::{
    Adapter, IndexAdapter, RpzAdapter, RpzConfig, WebhookAdapter, WebhookEndpoint,
};
use warden_store::enforcement::EnforcementChange;

use crate::enforcement::{
    dns_query, enforce, lift_through_ticket, program, seed_case, start_unbound, unbound_control,
    until,
};

/// What the point does with the next requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    /// Refuses (an error answer).
    Fail,
    /// Never answers.
    Hang,
}

/// One enforcement point under test: its adapter, a way to look at what the real point holds,
/// and, where the point is outside the process, a way to break it.
trait Point {
    fn adapter(&self) -> &dyn Adapter;
    /// The change applying or lifting number `n`.
    fn change(&self, n: i64, op: &str) -> EnforcementChange;
    /// Whether the point enforces number `n` now (asked of the real point).
    async fn holds(&self, n: i64) -> bool;
    /// Breaks or heals the point; false when it cannot be broken (in-process).
    fn fault(&self, f: Fault) -> bool;
    /// The adapter's configured timeout.
    fn timeout(&self) -> Duration;
}

async fn compliance<P: Point>(p: &P) {
    let a = p.adapter();
    let name = a.name().to_string();
    let (apply1, lift1) = (p.change(1, "apply"), p.change(1, "lift"));
    assert!(a.handles(&apply1), "{name} handles its own change");
    // Apply is idempotent.
    a.push(std::slice::from_ref(&apply1)).await.unwrap();
    a.push(std::slice::from_ref(&apply1)).await.unwrap();
    assert!(p.holds(1).await, "{name}: applied");
    // Lift is idempotent, and lifting what was never applied is fine.
    a.push(std::slice::from_ref(&lift1)).await.unwrap();
    a.push(std::slice::from_ref(&lift1)).await.unwrap();
    assert!(!p.holds(1).await, "{name}: lifted");
    a.push(&[p.change(2, "lift")]).await.unwrap();
    assert!(!p.holds(2).await, "{name}: never applied");
    // Applies and lifts in one batch keep their order.
    a.push(&[
        p.change(4, "apply"),
        p.change(5, "apply"),
        p.change(4, "lift"),
    ])
    .await
    .unwrap();
    assert!(!p.holds(4).await && p.holds(5).await, "{name}: batch order");

    if !p.fault(Fault::Fail) {
        eprintln!("{name}: in-process, cannot fail or block; fault cases not applicable");
        return;
    }
    // A failure is reported (so Warden retries), and the retry succeeds.
    let apply3 = p.change(3, "apply");
    let e = a.push(std::slice::from_ref(&apply3)).await;
    assert!(e.is_err(), "{name}: a failing point is an error");
    p.fault(Fault::None);
    a.push(std::slice::from_ref(&apply3)).await.unwrap();
    assert!(p.holds(3).await, "{name}: the retry applied it");
    // A point that never answers is given up on within the timeout.
    p.fault(Fault::Hang);
    let started = Instant::now();
    let e = a.push(&[p.change(3, "lift")]).await;
    let took = started.elapsed();
    assert!(e.is_err(), "{name}: a hanging point is an error");
    assert!(
        took < p.timeout() + Duration::from_secs(2),
        "{name}: gave up after {took:?}, timeout {:?}",
        p.timeout()
    );
    p.fault(Fault::None);
    a.push(&[p.change(3, "lift")]).await.unwrap();
    assert!(!p.holds(3).await, "{name}: the retried lift");
}

fn change(n: i64, op: &str, action: &str, target: String) -> EnforcementChange {
    EnforcementChange {
        revision: n * 10 + i64::from(op == "lift"),
        action_id: format!("act_{n}"),
        case_id: format!("case_{n}"),
        account_id: Some("acme".into()),
        op: <warden_domain::delivery::ChangeOp as warden_domain::code::Code>::from_code(op)
            .unwrap(),
        action: warden_domain::penalty::Action::parse(action).unwrap(),
        product: Some(warden_domain::resource::Product::Cdn),
        target,
        created_at: 1_767_225_600_000,
    }
}

// --- The decision index (nginx auth_request, Envoy ext_authz, the decision API) ------------

struct IndexPoint {
    index: Arc<warden_enforce::index::SharedIndex>,
    adapter: IndexAdapter,
}

impl Point for IndexPoint {
    fn adapter(&self) -> &dyn Adapter {
        &self.adapter
    }
    fn change(&self, n: i64, op: &str) -> EnforcementChange {
        change(
            n,
            op,
            "block_url",
            format!("https://shop{n}.acme.example/casino"),
        )
    }
    async fn holds(&self, n: i64) -> bool {
        self.index
            .load()
            .check_url(&format!("https://SHOP{n}.acme.example:443/casino"))
            .unwrap()
            .is_blocked()
    }
    fn fault(&self, _: Fault) -> bool {
        false
    }
    fn timeout(&self) -> Duration {
        Duration::ZERO
    }
}

/// ENF-1/ENF-2: the decision index adapter (what nginx and Envoy ask) passes the compliance test.
#[tokio::test]
async fn the_index_adapter_complies() {
    let index = warden_app::enforce::new_index();
    let p = IndexPoint {
        adapter: IndexAdapter::new(index.clone()),
        index,
    };
    compliance(&p).await;
}

// --- The RPZ file, loaded by a real Unbound ----------------------------------------------------

struct RpzPoint {
    adapter: RpzAdapter,
    dir: std::path::PathBuf,
    dns_port: Mutex<u16>,
}

impl Point for RpzPoint {
    fn adapter(&self) -> &dyn Adapter {
        &self.adapter
    }
    fn change(&self, n: i64, op: &str) -> EnforcementChange {
        change(
            n,
            op,
            "suspend_resolution",
            format!("d{n}.shop.acme.example"),
        )
    }
    async fn holds(&self, n: i64) -> bool {
        // `*.shop.acme.example` resolves (a wildcard in the test zone) unless suspended.
        let port = *self.dns_port.lock().unwrap();
        match dns_query(port, &format!("d{n}.shop.acme.example")) {
            Some((3, _)) => true,
            Some((0, 1)) => false,
            other => panic!("unexpected DNS answer {other:?}"),
        }
    }
    fn fault(&self, f: Fault) -> bool {
        let _ = std::fs::remove_file(self.dir.join("fail"));
        let _ = std::fs::remove_file(self.dir.join("hang"));
        match f {
            Fault::None => {}
            Fault::Fail => std::fs::write(self.dir.join("fail"), "").unwrap(),
            Fault::Hang => std::fs::write(self.dir.join("hang"), "").unwrap(),
        }
        true
    }
    fn timeout(&self) -> Duration {
        Duration::from_millis(800)
    }
}

/// ENF-1/ENF-2: the RPZ adapter passes it against a real Unbound answering DNS queries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rpz_adapter_complies_with_a_real_unbound() {
    let Some(unbound) = program(&["/usr/sbin/unbound"], "unbound") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    // The reload command fails or hangs while the test says so, as an unreachable or stuck
    // control socket would.
    let reload = |args: &[&str]| {
        let real = unbound_control(&d, args)
            .iter()
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(" ");
        vec![
            "/bin/sh".to_string(),
            "-c".into(),
            format!(
                "if [ -e '{0}/fail' ]; then echo 'error: connection refused' >&2; exit 1; fi; if [ -e '{0}/hang' ]; then exec sleep 30; fi; exec {real}",
                d.display()
            ),
        ]
    };
    let p = RpzPoint {
        adapter: RpzAdapter::new(RpzConfig {
            file: d.join("rpz.zone"),
            reload: vec![
                reload(&["auth_zone_reload", "rpz.warden."]),
                reload(&["flush_zone", "."]),
            ],
            timeout: Duration::from_millis(800),
        }),
        dir: d.clone(),
        dns_port: Mutex::new(0),
    };
    // The zone exists before Unbound starts (an empty one; the reload fails until it runs).
    let _ = p.adapter.push(&[]).await;
    let (mut ub, port) = start_unbound(unbound, &d).await;
    *p.dns_port.lock().unwrap() = port;
    compliance(&p).await;
    assert_eq!(
        dns_query(port, "shop.acme.example"),
        Some((0, 1)),
        "what was never suspended still resolves"
    );
    let _ = ub.kill();
    let _ = ub.wait();
}

// --- A webhook receiver (a real HTTP server verifying signatures) ------------------------------

#[derive(Default)]
struct Receiver {
    fault: Mutex<Option<Fault>>,
    /// target → in force, from each message applied once (by webhook-id).
    state: Mutex<HashMap<String, bool>>,
    seen: Mutex<HashSet<String>>,
    /// Messages received, duplicates included.
    received: Mutex<usize>,
}

async fn start_receiver(secret: Vec<u8>) -> (Arc<Receiver>, u16) {
    let r = Arc::new(Receiver::default());
    let l = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = l.local_addr().unwrap().port();
    let rx = r.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |h: axum::http::HeaderMap, body: String| {
            let rx = rx.clone();
            let secret = secret.clone();
            async move {
                let fault = (*rx.fault.lock().unwrap()).unwrap_or(Fault::None);
                match fault {
                    Fault::Fail => return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down"),
                    Fault::Hang => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    Fault::None => {}
                }
                let header = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).unwrap_or("");
                let (id, ts) = (header("webhook-id"), header("webhook-timestamp"));
                let expected = warden_app::enforce::webhook_signature(
                    &secret,
                    id,
                    ts.parse().unwrap_or(0),
                    &body,
                );
                if header("webhook-signature") != expected {
                    return (axum::http::StatusCode::UNAUTHORIZED, "bad signature");
                }
                *rx.received.lock().unwrap() += 1;
                if rx.seen.lock().unwrap().insert(id.to_string()) {
                    let m: serde_json::Value = serde_json::from_str(&body).unwrap();
                    let target = m["data"]["target"].as_str().unwrap_or_default().to_string();
                    rx.state
                        .lock()
                        .unwrap()
                        .insert(target, m["type"] == "action.applied");
                }
                (axum::http::StatusCode::OK, "ok")
            }
        }),
    );
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (r, port)
}

struct WebhookPoint {
    adapter: WebhookAdapter,
    receiver: Arc<Receiver>,
}

impl Point for WebhookPoint {
    fn adapter(&self) -> &dyn Adapter {
        &self.adapter
    }
    fn change(&self, n: i64, op: &str) -> EnforcementChange {
        change(
            n,
            op,
            "block_url",
            format!("https://shop{n}.acme.example/casino"),
        )
    }
    async fn holds(&self, n: i64) -> bool {
        self.receiver
            .state
            .lock()
            .unwrap()
            .get(&format!("https://shop{n}.acme.example/casino"))
            .copied()
            .unwrap_or(false)
    }
    fn fault(&self, f: Fault) -> bool {
        *self.receiver.fault.lock().unwrap() = Some(f);
        true
    }
    fn timeout(&self) -> Duration {
        Duration::from_millis(800)
    }
}

/// ENF-1/ENF-2: the webhook adapter passes it against a real receiver verifying signatures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_adapter_complies() {
    let secret = vec![9u8; 32];
    let (receiver, port) = start_receiver(secret.clone()).await;
    let p = WebhookPoint {
        adapter: WebhookAdapter::new(
            WebhookEndpoint {
                name: "edge".into(),
                url: format!("http://127.0.0.1:{port}/hook"),
                secret,
                actions: vec![warden_domain::penalty::Action::BlockUrl],
                products: vec![],
            },
            Duration::from_millis(800),
            Arc::new(warden_app::clock::SystemClock),
        ),
        receiver: receiver.clone(),
    };
    compliance(&p).await;
    // Re-sent messages keep their id: the receiver saw duplicates and applied each once.
    assert!(*receiver.received.lock().unwrap() > receiver.seen.lock().unwrap().len());
}

// --- Reconciliation, end to end -----------------------------------------------------------------

crate::both_engines!(
    nodes_starting_together_arm_one_reconciliation,
    a_follower_that_drifted_is_put_back,
    reconciliation_resends_what_an_endpoint_never_confirmed,
    an_endpoint_configured_later_is_sent_what_is_in_force
);

/// ENF-2/PEN-3: while the receiver is down an action is not `applied`; when its retries run out
/// it is `failed` (visible in the deliveries queue); reconciliation re-sends it once the
/// receiver is back and it becomes `applied`. A lift while the receiver is down keeps the
/// action `applied` (it still is, at that point) until reconciliation gets the lift through.
async fn reconciliation_resends_what_an_endpoint_never_confirmed(engine: Engine) {
    let secret = vec![5u8; 32];
    let (receiver, port) = start_receiver(secret.clone()).await;
    *receiver.fault.lock().unwrap() = Some(Fault::Fail);
    let settings = Settings {
        webhooks: vec![WebhookEndpoint {
            name: "billing".into(),
            url: format!("http://127.0.0.1:{port}/hook"),
            secret,
            actions: vec![],
            products: vec![],
        }],
        webhook_max_attempts: 2,
        webhook_timeout_ms: 2_000,
        reconcile_ms: 60_000,
        ..Settings::default()
    };
    let Some(t) = crate::support::spawn_app_with(
        engine,
        settings,
        warden_app::lifecycle::LifecycleSettings::default(),
        true,
    )
    .await
    else {
        return;
    };
    t.app.arm_reconciliation().await.unwrap();
    let (op, case) = seed_case(
        &t,
        "cdn",
        "acme.example",
        "https://acme.example/x",
        "gambling",
    )
    .await;
    let (s, c) = enforce(&t, &op, &case, "block_url", "casino").await;
    assert_eq!(s, 200, "{c}");
    let action = async |t: &crate::support::TestApp| {
        let (_, p) = t
            .call(
                "GET",
                &format!("/api/cases/{case}/penalties"),
                Some(&op),
                None,
            )
            .await;
        p["actions"][0].clone()
    };
    // The index confirmed at once; the webhook did not: not applied.
    until("the index confirmed", async || {
        action(&t).await["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["adapter"] == "index" && d["state"] == "confirmed")
    })
    .await;
    until("first failed attempt", async || {
        action(&t).await["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("webhook:billing: HTTP 503"))
    })
    .await;
    assert_eq!(action(&t).await["state"], "pending");
    // The retries run out: failed, and in the operators' queue.
    t.clock.advance(1_100);
    until("failed", async || action(&t).await["state"] == "failed").await;
    let (_, q) = t
        .call(
            "GET",
            "/api/enforcement/deliveries?failed=true",
            Some(&op),
            None,
        )
        .await;
    assert_eq!(q["items"][0]["adapter"], "webhook:billing", "{q}");
    assert_eq!(q["items"][0]["op"], "apply", "{q}");
    let metrics = t
        .client
        .get(format!("{}/metrics", t.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "warden_enforcement_deliveries{adapter=\"webhook:billing\",state=\"failed\"} 1"
        ),
        "{metrics}"
    );
    // Tenants never see it (operators only).
    let tenant = t.token("tenant", Some("acme")).await;
    let (s, _) = t
        .call("GET", "/api/enforcement/deliveries", Some(&tenant), None)
        .await;
    assert_eq!(s, 403);
    // The receiver is back; reconciliation re-sends; applied.
    *receiver.fault.lock().unwrap() = Some(Fault::None);
    t.clock.advance(61_000);
    until("applied", async || action(&t).await["state"] == "applied").await;
    assert_eq!(
        receiver.state.lock().unwrap().get("https://acme.example/x"),
        Some(&true)
    );
    // The lift while the receiver is down: still applied where it matters, then failed...
    *receiver.fault.lock().unwrap() = Some(Fault::Fail);
    assert_eq!(
        lift_through_ticket(&t, &case, "Removed.", "Lifted.").await,
        200
    );
    until("lift attempted", async || {
        action(&t).await["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("HTTP 503"))
    })
    .await;
    let a = action(&t).await;
    assert_eq!(
        (a["desired"].as_str(), a["state"].as_str()),
        (Some("lifted"), Some("applied")),
        "{a}"
    );
    t.clock.advance(1_100);
    until("lift failed", async || {
        action(&t).await["state"] == "failed"
    })
    .await;
    // ...and reconciliation gets the lift through.
    *receiver.fault.lock().unwrap() = Some(Fault::None);
    t.clock.advance(61_000);
    until("lifted", async || action(&t).await["state"] == "lifted").await;
    assert_eq!(
        receiver.state.lock().unwrap().get("https://acme.example/x"),
        Some(&false)
    );
    // Every move of the action is in the audit log.
    let (_, audit) = t
        .call("GET", "/api/audit?limit=500", Some(&t.admin), None)
        .await;
    let moves: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("action.") || *a == "enforcement.reconcile")
        .collect();
    for m in [
        "action.failed",
        "action.applied",
        "action.lifted",
        "enforcement.reconcile",
    ] {
        assert!(moves.contains(&m), "{m} missing from {moves:?}");
    }
    t.stop().await;
}

/// ENF-2: a webhook endpoint added to the configuration later is sent, at the next
/// reconciliation, every action in force that it asks for, and nothing that was lifted.
async fn an_endpoint_configured_later_is_sent_what_is_in_force(engine: Engine) {
    let Some(t) = crate::support::spawn_app_with(
        engine,
        Settings::default(),
        warden_app::lifecycle::LifecycleSettings::default(),
        false,
    )
    .await
    else {
        return;
    };
    let (op, lifted) = seed_case(
        &t,
        "cdn",
        "acme.example",
        "https://acme.example/x",
        "gambling",
    )
    .await;
    let (_, r) = t
        .call(
            "POST",
            "/api/reports",
            Some(&op),
            Some(
                &serde_json::json!({ "target": "https://acme.example/y", "category": "gambling" }),
            ),
        )
        .await;
    let in_force = r["case_id"].as_str().unwrap().to_string();
    for case in [&lifted, &in_force] {
        let (s, c) = enforce(&t, &op, case, "block_url", "casino").await;
        assert_eq!(s, 200, "{c}");
    }
    assert_eq!(
        lift_through_ticket(&t, &lifted, "Removed.", "Lifted.").await,
        200
    );
    // A node restarted with a new endpoint.
    let secret = vec![6u8; 32];
    let (late, port) = start_receiver(secret.clone()).await;
    let mut settings = (*t.app.settings).clone();
    settings.webhooks.push(WebhookEndpoint {
        name: "late".into(),
        url: format!("http://127.0.0.1:{port}/hook"),
        secret,
        actions: vec![warden_domain::penalty::Action::BlockUrl],
        products: vec![],
    });
    let node = warden_app::App::for_tests(
        t.app.store.clone(),
        t.app.clock.clone(),
        warden_app::crypto::Sealer::from_key(&[3; 32]),
        settings,
    );
    let (_stop, rx) = tokio::sync::watch::channel(false);
    let worker = node.clone();
    let handle = tokio::spawn(async move { worker.run_worker(rx).await });
    let summary = node
        .reconcile_now(&warden_app::auth::Principal::System)
        .await
        .unwrap();
    assert_eq!(summary.added.len(), 1, "{summary:?}");
    until("the late endpoint got the action in force", async || {
        late.state.lock().unwrap().get("https://acme.example/y") == Some(&true)
    })
    .await;
    assert!(
        !late
            .state
            .lock()
            .unwrap()
            .contains_key("https://acme.example/x"),
        "a lifted action is not sent"
    );
    // Nothing more to add.
    let again = node
        .reconcile_now(&warden_app::auth::Principal::System)
        .await
        .unwrap();
    assert_eq!(again.added.len(), 0, "{again:?}");
    handle.abort();
    t.stop().await;
}

/// ENF-2: every node compares what its own adapters hold with the log every reconcile
/// interval: a rule its index lost is put back, a rule the log never had is taken out.
async fn a_follower_that_drifted_is_put_back(engine: Engine) {
    use warden_enforce::index::{Change, Rule, RuleKind};
    let settings = Settings {
        reconcile_ms: 300,
        ..Settings::default()
    };
    let Some(t) = crate::support::spawn_app(engine, settings).await else {
        return;
    };
    let (op, case) = seed_case(
        &t,
        "cdn",
        "acme.example",
        "https://acme.example/x",
        "gambling",
    )
    .await;
    let (s, c) = enforce(&t, &op, &case, "block_url", "casino").await;
    assert_eq!(s, 200, "{c}");
    let blocked = |u: &str| t.app.check_url(u).unwrap().is_some();
    until("blocked", async || blocked("https://acme.example/x")).await;
    let id = t
        .app
        .check_url("https://acme.example/x")
        .unwrap()
        .unwrap()
        .rule;
    // Drift: the index loses the rule and gains one nobody decided.
    t.app.index.apply(vec![
        Change::Remove(id),
        Change::Add(Rule {
            id: "act_stray".into(),
            kind: RuleKind::parse("url", "https://acme.example/innocent").unwrap(),
            action: "block_url".into(),
            case_id: "case_none".into(),
            notice: None,
        }),
    ]);
    assert!(!blocked("https://acme.example/x") && blocked("https://acme.example/innocent"));
    until("put back", async || {
        blocked("https://acme.example/x") && !blocked("https://acme.example/innocent")
    })
    .await;
    t.stop().await;
}

/// Regression: two nodes starting at once both armed the reconciliation job; the loser's insert
/// hit the job name's unique key and its `serve` exited. Arming is idempotent and race-free.
async fn nodes_starting_together_arm_one_reconciliation(engine: Engine) {
    let Some(t) = crate::support::spawn_app(engine, Settings::default()).await else {
        return;
    };
    let other = warden_app::App::for_tests(
        t.app.store.clone(),
        t.app.clock.clone(),
        warden_app::crypto::Sealer::from_key(&[3; 32]),
        (*t.app.settings).clone(),
    );
    for _ in 0..20 {
        // A fresh start each round: no job armed, both nodes insert one.
        let mut tx = t.app.store.begin_write().await.unwrap();
        tx.cancel_timer(warden_app::enforce::RECONCILE_JOB)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let (a, b) = tokio::join!(t.app.arm_reconciliation(), other.arm_reconciliation());
        a.unwrap();
        b.unwrap();
    }
    let job = t
        .app
        .store
        .get_timer(warden_app::enforce::RECONCILE_JOB)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.state, warden_store::jobs::JobState::Pending);
    t.stop().await;
}
