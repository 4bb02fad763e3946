//! The shared compliance test of enforcement adapters (STYLE habit 7, ENF-2): every adapter,
//! against the real point behind it, must treat apply and lift as idempotent, report a failure
//! so that Warden retries (and succeed on the retry), and give up within its timeout. Plus the
//! reconciliation that re-sends what an adapter never confirmed (applies and lifts alike).
//!
//! A pushed adapter is given its changes with `push`. A pulled one (the ExaBGP bridge, DDOS-7,
//! `Mode::Pull`) is given them as Warden gives them: logged with a delivery that waits for it,
//! done once the point confirmed them through the API and holds them. Its failure cases are
//! not a refused push (nothing pushes to it) but a restart of Warden and a crash of the point,
//! after which the full state must be back and nothing changed meanwhile lost.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::bgp::{Running, absent, bird_conf, blackholed, bridge_pid, exabgp_conf, scopeguard};
use crate::support::{Engine, Proc, http, spawn_warden_on};
use warden_app::Settings;
use warden_app::enforce::{
    Adapter, AdapterError, ExabgpAdapter, IndexAdapter, Mode, RpzAdapter, RpzConfig,
    WebhookAdapter, WebhookEndpoint,
};
use warden_domain::delivery::{ChangeOp, DeliveryState};
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
    /// Gives the point `changes` the way Warden does; `Ok` once it holds them. Pushed adapters
    /// are pushed to; a pulled point overrides this (Warden logs, the point pulls).
    async fn deliver(&self, changes: &[EnforcementChange]) -> Result<(), AdapterError> {
        self.adapter().push(changes).await
    }
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
    p.deliver(std::slice::from_ref(&apply1)).await.unwrap();
    p.deliver(std::slice::from_ref(&apply1)).await.unwrap();
    assert!(p.holds(1).await, "{name}: applied");
    // Lift is idempotent, and lifting what was never applied is fine.
    p.deliver(std::slice::from_ref(&lift1)).await.unwrap();
    p.deliver(std::slice::from_ref(&lift1)).await.unwrap();
    assert!(!p.holds(1).await, "{name}: lifted");
    p.deliver(&[p.change(2, "lift")]).await.unwrap();
    assert!(!p.holds(2).await, "{name}: never applied");
    // Applies and lifts in one batch keep their order.
    p.deliver(&[
        p.change(4, "apply"),
        p.change(5, "apply"),
        p.change(4, "lift"),
    ])
    .await
    .unwrap();
    assert!(!p.holds(4).await && p.holds(5).await, "{name}: batch order");

    if !p.fault(Fault::Fail) {
        eprintln!(
            "{name}: in-process or pulled, no push to fail or block; fault cases not applicable"
        );
        return;
    }
    // A failure is reported (so Warden retries), and the retry succeeds.
    let apply3 = p.change(3, "apply");
    let e = p.deliver(std::slice::from_ref(&apply3)).await;
    assert!(e.is_err(), "{name}: a failing point is an error");
    p.fault(Fault::None);
    p.deliver(std::slice::from_ref(&apply3)).await.unwrap();
    assert!(p.holds(3).await, "{name}: the retry applied it");
    // A point that never answers is given up on within the timeout.
    p.fault(Fault::Hang);
    let started = Instant::now();
    let e = p.deliver(&[p.change(3, "lift")]).await;
    let took = started.elapsed();
    assert!(e.is_err(), "{name}: a hanging point is an error");
    assert!(
        took < p.timeout() + Duration::from_secs(2),
        "{name}: gave up after {took:?}, timeout {:?}",
        p.timeout()
    );
    p.fault(Fault::None);
    p.deliver(&[p.change(3, "lift")]).await.unwrap();
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

// --- Restarts and crashes ------------------------------------------------------------------------

/// A point that keeps its own state apart from Warden's process: Warden can be killed and
/// started again on the same data, and the point's own process can die and be restarted by its
/// supervisor.
trait Restartable: Point {
    /// Kills Warden (-9), logs `changes` while it is down (another node, or what was committed
    /// just before the crash), starts it again on the same data; `Ok` once the point holds
    /// them.
    async fn restart_warden_with(&self, changes: &[EnforcementChange]) -> Result<(), AdapterError>;
    /// Kills the point's own process (-9) and at once gives it `changes`; `Ok` once the
    /// process that replaced it holds them.
    async fn crash_point_with(&self, changes: &[EnforcementChange]) -> Result<(), AdapterError>;
}

/// After [`compliance`] (number 5 in force, 1 to 4 not): a restarted Warden finds the point as
/// it left it and the point re-asserts the full state, including what changed while Warden was
/// down; a crashed point's successor holds everything in force and nothing lifted.
async fn survives_restarts<P: Restartable>(p: &P) {
    let name = p.adapter().name().to_string();
    let held = async |ns: &[i64]| {
        let mut v = Vec::new();
        for n in ns {
            v.push(p.holds(*n).await);
        }
        v
    };
    // While Warden was down, 6 was applied and 5 lifted: both reach the point after the restart.
    p.restart_warden_with(&[p.change(6, "apply"), p.change(5, "lift")])
        .await
        .unwrap();
    assert_eq!(
        held(&[1, 2, 3, 4, 5, 6]).await,
        [false, false, false, false, false, true],
        "{name}: the full state after Warden's restart"
    );
    // And the point still follows: an apply after the restart.
    p.deliver(&[p.change(7, "apply")]).await.unwrap();
    assert!(p.holds(7).await, "{name}: applied after the restart");
    // The point crashes while 7 is lifted and 8 applied: nothing is lost, nothing stranded.
    p.crash_point_with(&[p.change(7, "lift"), p.change(8, "apply")])
        .await
        .unwrap();
    assert_eq!(
        held(&[5, 6, 7, 8]).await,
        [false, true, false, true],
        "{name}: the full state after the point's crash"
    );
    // Re-applying what it holds changes nothing.
    p.deliver(&[p.change(6, "apply")]).await.unwrap();
    assert!(p.holds(6).await && !p.holds(7).await, "{name}: re-applied");
}

// --- ExaBGP, pulled by `warden exabgp-bridge`, announcing to a real BIRD 2 ----------------------

/// Warden (the real binary), ExaBGP running the bridge, and BIRD on loopback (see `bgp.rs`).
struct ExabgpPoint {
    adapter: ExabgpAdapter,
    /// Warden's database, written as Warden writes its log.
    store: warden_store::Store,
    warden: Mutex<Proc>,
    listen: String,
    dir: PathBuf,
    config: String,
    birdc: String,
    sock: PathBuf,
}

impl ExabgpPoint {
    fn prefix(n: i64) -> String {
        format!("203.0.113.{n}/32")
    }

    /// Logs `changes` as Warden logs an apply or lift: each with the delivery this adapter owes,
    /// in one transaction.
    async fn record(
        &self,
        changes: &[EnforcementChange],
    ) -> Result<Vec<(String, i64)>, AdapterError> {
        let err = |e: warden_store::StoreError| AdapterError::new(e.to_string());
        let now = changes.first().map_or(0, |c| c.created_at);
        let mut tx = self.store.begin_write().await.map_err(err)?;
        let mut last: HashMap<String, i64> = HashMap::new();
        for c in changes {
            let rev = tx.record_enforcement_change(c).await.map_err(err)?;
            tx.expect_delivery(&c.action_id, self.adapter.name(), c.op, rev, now)
                .await
                .map_err(err)?;
            last.insert(c.action_id.clone(), rev);
        }
        tx.commit().await.map_err(err)?;
        Ok(last.into_iter().collect())
    }

    /// Waits until the bridge confirmed each action's last change and BIRD shows the result.
    async fn settled(
        &self,
        changes: &[EnforcementChange],
        expected: &[(String, i64)],
    ) -> Result<(), AdapterError> {
        let deadline = Instant::now() + self.timeout();
        let ids: Vec<String> = expected.iter().map(|(a, _)| a.clone()).collect();
        loop {
            let ds = self.store.deliveries_of(&ids).await.unwrap();
            let confirmed = expected.iter().all(|(a, rev)| {
                ds.iter().any(|d| {
                    d.action_id == *a
                        && d.adapter == self.adapter.name()
                        && d.revision == *rev
                        && d.state == DeliveryState::Confirmed
                })
            });
            let mut last: HashMap<&str, ChangeOp> = HashMap::new();
            for c in changes {
                last.insert(c.target.as_str(), c.op);
            }
            let shown = last.iter().all(|(ip, op)| {
                let prefix = format!("{ip}/32");
                match op {
                    ChangeOp::Apply => blackholed(&self.birdc, &self.sock, &prefix),
                    ChangeOp::Lift => absent(&self.birdc, &self.sock, &prefix),
                }
            });
            if confirmed && shown {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(AdapterError::new(format!(
                    "not confirmed and held within {:?} (confirmed: {confirmed}, in BIRD: {shown})",
                    self.timeout()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Point for ExabgpPoint {
    fn adapter(&self) -> &dyn Adapter {
        &self.adapter
    }
    fn change(&self, n: i64, op: &str) -> EnforcementChange {
        let mut c = change(n, op, "blackhole", format!("203.0.113.{n}"));
        c.product = Some(warden_domain::resource::Product::Cvm);
        c
    }
    async fn deliver(&self, changes: &[EnforcementChange]) -> Result<(), AdapterError> {
        let expected = self.record(changes).await?;
        self.settled(changes, &expected).await
    }
    async fn holds(&self, n: i64) -> bool {
        blackholed(&self.birdc, &self.sock, &Self::prefix(n))
    }
    fn fault(&self, _: Fault) -> bool {
        false
    }
    fn timeout(&self) -> Duration {
        // The first change includes the BGP session coming up; a restart, the bridge's backoff.
        Duration::from_secs(30)
    }
}

impl Restartable for ExabgpPoint {
    async fn restart_warden_with(&self, changes: &[EnforcementChange]) -> Result<(), AdapterError> {
        self.warden.lock().unwrap().kill9();
        let expected = self.record(changes).await?;
        let envs = [("WARDEN_CONFIG", self.config.as_str())];
        let next = spawn_warden_on(&self.listen, &self.dir, &envs, &[]);
        *self.warden.lock().unwrap() = next;
        self.settled(changes, &expected).await
    }
    async fn crash_point_with(&self, changes: &[EnforcementChange]) -> Result<(), AdapterError> {
        let base = self.warden.lock().unwrap().base.clone();
        let pid = bridge_pid(&base);
        Command::new("kill").args(["-9", &pid]).status().unwrap();
        let expected = self.record(changes).await?;
        self.settled(changes, &expected).await?;
        assert_ne!(bridge_pid(&base), pid, "ExaBGP started a new bridge");
        Ok(())
    }
}

/// DDOS-7/ENF-2: the pulled ExaBGP adapter passes the same compliance checks — apply, lift,
/// idempotent re-apply, batch order — with Warden's log as the way in and a real BIRD peer's
/// table as what the point holds; then a Warden killed and restarted and a bridge killed both
/// end with the full state re-asserted and nothing lost. Nothing ever pushes to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exabgp_adapter_complies_with_a_real_bird() {
    let (Some(exabgp), Some(bird), Some(birdc)) = (
        crate::enforcement::program(&["/usr/sbin/exabgp", "/usr/bin/exabgp"], "exabgp"),
        crate::enforcement::program(&["/usr/sbin/bird"], "bird2"),
        crate::enforcement::program(&["/usr/sbin/birdc"], "bird2"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let bgp_port = crate::enforcement::free_port();
    let listen = format!("127.0.0.1:{}", crate::enforcement::free_port());
    let conf = d.join("warden.toml");
    std::fs::write(&conf, "[[exabgp]]\nname = \"border\"\n").unwrap();
    let config = conf.display().to_string();
    let warden = spawn_warden_on(&listen, &d, &[("WARDEN_CONFIG", config.as_str())], &[]);
    let base = warden.base.clone();
    let admin = warden
        .admin
        .clone()
        .expect("first start prints an admin token");
    let (s, b) = http(
        &base,
        "POST",
        "/api/tokens",
        Some(&admin),
        Some(&serde_json::json!({ "role": "edge", "label": "compliance-bridge" })),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let token_file = d.join("edge.token");
    std::fs::write(&token_file, b["secret"].as_str().unwrap()).unwrap();

    std::fs::write(d.join("bird.conf"), bird_conf(bgp_port)).unwrap();
    let sock = d.join("bird.sock");
    let _bird = Running(
        Command::new(bird)
            .arg("-c")
            .arg(d.join("bird.conf"))
            .arg("-s")
            .arg(&sock)
            .arg("-f")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("bird.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let run = format!(
        "{} exabgp-bridge --url {base} --adapter border --token-file {} --wait-ms 2000",
        env!("CARGO_BIN_EXE_warden"),
        token_file.display()
    );
    std::fs::write(d.join("exabgp.conf"), exabgp_conf(&run)).unwrap();
    let _exabgp = Running(
        Command::new(exabgp)
            .arg(d.join("exabgp.conf"))
            .current_dir(&d)
            .env("exabgp.daemon.user", "root")
            .env("exabgp.daemon.drop", "false")
            .env("exabgp.tcp.port", bgp_port.to_string())
            .env("exabgp.api.cli", "false")
            .env("exabgp.log.destination", "stdout")
            .env("RUST_LOG", "info")
            .stdout(std::fs::File::create(d.join("exabgp.log")).unwrap())
            .stderr(std::fs::File::create(d.join("exabgp.err")).unwrap())
            .spawn()
            .unwrap(),
    );
    let logs_dir = d.clone();
    let guard = scopeguard(move || {
        for f in ["exabgp.log", "exabgp.err", "bird.log"] {
            eprintln!(
                "--- {f}\n{}",
                std::fs::read_to_string(logs_dir.join(f)).unwrap_or_default()
            );
        }
    });
    let url = format!("sqlite://{}", d.join("warden-data/warden.db").display());
    let store = warden_store::Store::open_existing(&warden_store::StoreOptions::new(&url))
        .await
        .unwrap();
    let p = ExabgpPoint {
        adapter: ExabgpAdapter::new("border"),
        store,
        warden: Mutex::new(warden),
        listen,
        dir: d.clone(),
        config,
        birdc: birdc.to_string(),
        sock,
    };
    // Pulled: Warden never pushes, and a push says so rather than pretending.
    assert_eq!(p.adapter.mode(), Mode::Pull);
    assert!(p.adapter.push(&[p.change(1, "apply")]).await.is_err());
    compliance(&p).await;
    survives_restarts(&p).await;
    std::mem::forget(guard);
    p.store.close().await;
    assert!(p.warden.lock().unwrap().terminate(10));
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
