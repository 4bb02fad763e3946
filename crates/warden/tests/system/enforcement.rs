//! The enforcement plane against a real nginx (ENF-1): `auth_request` pointed at Warden's check
//! endpoint; a `block_url` action makes the URL answer 451 with the notice page within a second
//! while the rest of the host answers 200, and the lift brings it back.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use warden_app::Settings;

use crate::support::{Engine, TestApp, spawn_app};

/// A Debian program a test drives; `None` with a loud notice when it is missing on a
/// developer's machine, a failure under `CI=true` (`.ci/run` installs it).
#[allow(clippy::panic)]
pub(crate) fn program(paths: &[&'static str], package: &str) -> Option<&'static str> {
    let found = paths
        .iter()
        .copied()
        .find(|p| std::path::Path::new(p).exists());
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true and {package} is not installed (.ci/run installs it)");
        }
        eprintln!(
            "\n!!!!!!!!\n!!! SKIPPING: {package} is not installed (apt-get install {package}).\n!!!!!!!!\n"
        );
    }
    found
}

/// Account `acme` owning `domain` as a `product` resource, and an operator's report of
/// `category` on `target`. Returns the operator token and the case id.
pub(crate) async fn seed_case(
    t: &TestApp,
    product: &str,
    domain: &str,
    target: &str,
    category: &str,
) -> (String, String) {
    t.call(
        "POST",
        "/api/accounts",
        Some(&t.admin),
        Some(&json!({ "id": "acme", "name": "Acme" })),
    )
    .await;
    let ids = json!([{ "kind": "domain", "value": domain }]);
    let (s, _) = t
        .call(
            "POST",
            "/api/resources",
            Some(&t.admin),
            Some(&json!({ "account_id": "acme", "product": product, "identifiers": ids })),
        )
        .await;
    assert_eq!(s, 201);
    let op = t.token("operator", None).await;
    let (_, r) = t
        .call(
            "POST",
            "/api/reports",
            Some(&op),
            Some(&json!({ "target": target, "category": category })),
        )
        .await;
    (op, r["case_id"].as_str().unwrap().to_string())
}

/// The operator applies `action` to the case (HARM-1 path).
pub(crate) async fn enforce(
    t: &TestApp,
    op: &str,
    case: &str,
    action: &str,
    reason: &str,
) -> (u16, serde_json::Value) {
    t.call(
        "POST",
        &format!("/api/cases/{case}/enforce"),
        Some(op),
        Some(&json!({ "actions": [action], "reason": reason })),
    )
    .await
}

/// The tenant files a ticket and a reviewer closes it with a lift (TKT-1); returns the status
/// of the closing call.
pub(crate) async fn lift_through_ticket(
    t: &TestApp,
    case: &str,
    body: &str,
    resolution: &str,
) -> u16 {
    let tenant = t.token("tenant", Some("acme")).await;
    let (_, tk) = t
        .call(
            "POST",
            "/api/tickets",
            Some(&tenant),
            Some(&json!({ "kind": "unblock", "case_id": case, "subject": "Fixed", "body": body })),
        )
        .await;
    let reviewer = t.token("reviewer", None).await;
    let close = json!({ "resolution": resolution, "lift": true });
    t.call(
        "POST",
        &format!("/api/tickets/{}/close", tk["id"].as_str().unwrap()),
        Some(&reviewer),
        Some(&close),
    )
    .await
    .0
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the machine's nginx with `conf` in its own prefix; `None` (loudly) when nginx is not
/// installed outside CI.
fn start_nginx(dir: &std::path::Path, conf: &str) -> Option<Nginx> {
    let bin = program(&["/usr/sbin/nginx", "/usr/bin/nginx"], "nginx-light")?;
    for d in ["logs", "tmp"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let path = dir.join("nginx.conf");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(conf.as_bytes())
        .unwrap();
    let child = Command::new(bin)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&path)
        .arg("-g")
        .arg("daemon off;")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Some(Nginx(child))
}

async fn get(client: &reqwest::Client, port: u16, host: &str, path: &str) -> (u16, String) {
    let resp = client
        .get(format!("http://127.0.0.1:{port}{path}"))
        .header("host", host)
        .header("accept-language", "en")
        .send()
        .await;
    match resp {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(_) => (0, String::new()),
    }
}

pub(crate) async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what} did not happen"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

/// ENF-1 with a real nginx: 451 within 1 s of `block_url`, other URLs 200, 200 again within 1 s
/// of the lift.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_auth_request_serves_451_for_blocked_urls() {
    let Some(t) = spawn_app(Engine::Sqlite, Settings::default()).await else {
        return;
    };
    // The upstream site.
    let up = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up_port = up.local_addr().unwrap().port();
    tokio::spawn(async move {
        let app = axum::Router::new().fallback(|| async { "upstream page" });
        axum::serve(up, app).await.unwrap()
    });
    let warden_port = t.base.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let conf = format!(
        r#"master_process off;
worker_processes 1;
error_log {d}/logs/error.log warn;
pid {d}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/tmp/body; proxy_temp_path {d}/tmp/proxy; fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi; scgi_temp_path {d}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            auth_request /_warden;
            auth_request_set $warden_case $upstream_http_x_warden_case;
            error_page 403 = @blocked;
            proxy_pass http://127.0.0.1:{up_port};
        }}
        location = /_warden {{
            internal;
            proxy_pass http://127.0.0.1:{warden_port}/api/enforcement/check;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-Host $host;
            proxy_set_header X-Original-Proto $scheme;
        }}
        location @blocked {{
            rewrite ^ /api/enforcement/notice?case=$warden_case break;
            proxy_set_header Accept-Language $http_accept_language;
            proxy_pass http://127.0.0.1:{warden_port};
        }}
    }}
}}
"#
    );
    let Some(_nginx) = start_nginx(dir.path(), &conf) else {
        return;
    };
    let client = reqwest::Client::new();
    until("nginx answering", async || {
        get(&client, port, "shop.acme.example", "/").await.0 == 200
    })
    .await;

    // A case on a URL of the host, enforced with block_url.
    let (op, case) = seed_case(
        &t,
        "cdn",
        "shop.acme.example",
        "http://shop.acme.example/casino?x=1",
        "gambling",
    )
    .await;
    assert_eq!(
        get(&client, port, "shop.acme.example", "/casino?x=1")
            .await
            .0,
        200,
        "not blocked before the action"
    );
    let (s, c) = enforce(&t, &op, &case, "block_url", "online casino").await;
    assert_eq!((s, c["state"].as_str()), (200, Some("enforced")), "{c}");
    let took = until("451 for the blocked URL", async || {
        get(&client, port, "shop.acme.example", "/casino?x=1")
            .await
            .0
            == 451
    })
    .await;
    assert!(took < Duration::from_secs(1), "451 took {took:?}");
    let (status, page) = get(&client, port, "shop.acme.example", "/casino?x=1").await;
    assert_eq!(status, 451);
    assert!(
        page.contains(&case) && page.contains("Gambling"),
        "the notice page names the case and the reason: {page}"
    );
    assert_eq!(
        get(&client, port, "shop.acme.example", "/other").await,
        (200, "upstream page".into()),
        "the rest of the host is untouched"
    );
    assert_eq!(
        get(&client, port, "shop.acme.example", "/casino").await.0,
        200,
        "the exact URL, not its neighbours"
    );
    // The decision API says the same to operators.
    let (_, d) = t
        .call(
            "GET",
            "/api/decision?url=http://SHOP.acme.example:80/casino?x=1",
            Some(&op),
            None,
        )
        .await;
    assert_eq!(
        (
            d["blocked"].as_bool(),
            d["case_id"].as_str(),
            d["action"].as_str()
        ),
        (Some(true), Some(case.as_str()), Some("block_url")),
        "{d}"
    );
    // Lift through a ticket: 200 again within a second.
    assert_eq!(
        lift_through_ticket(&t, &case, "The casino page is gone.", "Unblocked.").await,
        200
    );
    let took = until("200 after the lift", async || {
        get(&client, port, "shop.acme.example", "/casino?x=1")
            .await
            .0
            == 200
    })
    .await;
    assert!(took < Duration::from_secs(1), "the lift took {took:?}");
    t.stop().await;
}

crate::both_engines!(webhooks_are_retried_signed_and_logged);

/// ENF-1/ENF-2: the receiver is down for a while; the delivery is retried with backoff, the same
/// message id is reused, the signature verifies (Standard Webhooks), every attempt is logged, and
/// a delivery that exhausts its attempts is dead, visible and re-drivable.
async fn webhooks_are_retried_signed_and_logged(engine: Engine) {
    use base64::Engine as _;
    use hmac::Mac;
    let port = free_port();
    let dead_port = free_port();
    let secret = vec![7u8; 32];
    let endpoint = |name: &str, port: u16| warden_app::enforce::WebhookEndpoint {
        name: name.into(),
        url: format!("http://127.0.0.1:{port}/hook"),
        secret: secret.clone(),
        actions: vec![warden_domain::penalty::Action::BlockUrl],
        products: vec![],
    };
    let settings = Settings {
        webhooks: vec![endpoint("edge", port), endpoint("gone", dead_port)],
        webhook_max_attempts: 3,
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
    let (op, case) = seed_case(
        &t,
        "cdn",
        "acme.example",
        "https://acme.example/x",
        "gambling",
    )
    .await;
    let (s, _) = enforce(&t, &op, &case, "block_url", "casino").await;
    assert_eq!(s, 200);
    let attempts = |name: &'static str| {
        let t = &t;
        let op = op.clone();
        async move {
            let (_, log) = t
                .call("GET", "/api/enforcement/webhooks", Some(&op), None)
                .await;
            log["attempts"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["endpoint"] == name)
                .cloned()
                .collect::<Vec<_>>()
        }
    };
    until("first failed attempt", async || {
        attempts("edge").await.len() == 1
    })
    .await;
    // The attempt is logged before its job is backed off (from the clock as it then reads):
    // wait for the back-off to be stored before moving the clock past it.
    let settled = async || t.app.store.job_counts().await.unwrap().running == 0;
    until("first attempt backed off", settled).await;
    t.clock.advance(1_100);
    until("second failed attempt", async || {
        attempts("edge").await.len() == 2
    })
    .await;
    until("second attempt backed off", settled).await;
    // The receiver comes back.
    let got: std::sync::Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, String)>>> =
        Default::default();
    let l = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let sink = got.clone();
    tokio::spawn(async move {
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |h: axum::http::HeaderMap, body: String| {
                let sink = sink.clone();
                async move {
                    sink.lock().unwrap().push((h, body));
                    "ok"
                }
            }),
        );
        axum::serve(l, app).await.unwrap()
    });
    t.clock.advance(2_100);
    until("delivery", async || !got.lock().unwrap().is_empty()).await;
    until("third attempt logged", async || {
        attempts("edge").await.len() == 3
    })
    .await;
    let log = attempts("edge").await;
    let ids: std::collections::BTreeSet<&str> =
        log.iter().map(|a| a["msg_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1, "one message id across retries: {log:?}");
    let msg_id = *ids.iter().next().unwrap();
    assert_eq!(log.iter().filter(|a| a["status"] == 200).count(), 1);
    assert_eq!(
        log.iter().filter(|a| a["error"].is_string()).count(),
        2,
        "{log:?}"
    );
    let (h, body) = got.lock().unwrap()[0].clone();
    assert_eq!(h["webhook-id"], msg_id);
    let ts = h["webhook-timestamp"].to_str().unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&secret).unwrap();
    mac.update(format!("{msg_id}.{ts}.{body}").as_bytes());
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    assert_eq!(
        h["webhook-signature"].to_str().unwrap(),
        expected,
        "the signature verifies"
    );
    let payload: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (
            payload["type"].as_str(),
            payload["data"]["case_id"].as_str()
        ),
        (Some("action.applied"), Some(case.as_str()))
    );
    // The other endpoint never came back: dead after 3 attempts, shown, and re-drivable.
    t.clock.advance(10_000);
    until("dead letter", async || attempts("gone").await.len() == 3).await;
    until("dead state", async || {
        let (_, m) = t
            .call(
                "GET",
                &format!("/api/enforcement/webhooks?msg_id={msg_id}"),
                Some(&op),
                None,
            )
            .await;
        m["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["endpoint"] == "gone" && x["state"] == "dead")
    })
    .await;
    let (s, r) = t
        .call(
            "POST",
            "/api/enforcement/webhooks/redrive",
            Some(&op),
            Some(&json!({ "msg_id": msg_id, "endpoint": "gone" })),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    until("re-driven attempt", async || {
        attempts("gone").await.len() == 4
    })
    .await;
    let (s, e) = t
        .call(
            "POST",
            "/api/enforcement/webhooks/redrive",
            Some(&op),
            Some(&json!({ "msg_id": msg_id, "endpoint": "edge" })),
        )
        .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (409, Some("conflict")),
        "a delivered message is not re-driven: {e}"
    );
    t.stop().await;
}

/// The argv of `unbound-control` for the Unbound started by [`start_unbound`] in `dir`.
pub(crate) fn unbound_control(dir: &std::path::Path, args: &[&str]) -> Vec<String> {
    let mut v = vec![
        "/usr/sbin/unbound-control".to_string(),
        "-c".into(),
        dir.join("unbound.conf").display().to_string(),
    ];
    v.extend(args.iter().map(|a| a.to_string()));
    v
}

/// Starts Unbound in `dir` with an authoritative `acme.example` (`shop` → 192.0.2.10) and the
/// RPZ `rpz.warden.` from `dir/rpz.zone` (which must exist); returns it and its DNS port once
/// it answers.
pub(crate) async fn start_unbound(bin: &str, dir: &std::path::Path) -> (Child, u16) {
    let d = dir.display().to_string();
    let (dns_port, control_port) = (free_port(), free_port());
    std::fs::write(
        format!("{d}/acme.zone"),
        "$TTL 60\n@ IN SOA ns.acme.example. hostmaster.acme.example. 1 3600 600 86400 60\n@ IN NS ns.acme.example.\nns IN A 192.0.2.1\n@ IN A 192.0.2.11\nshop IN A 192.0.2.10\n*.shop IN A 192.0.2.10\n",
    )
    .unwrap();
    let conf = format!("{d}/unbound.conf");
    std::fs::write(
        &conf,
        format!(
            "server:\n  interface: 127.0.0.1\n  port: {dns_port}\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  pidfile: \"{d}/unbound.pid\"\n  use-syslog: no\n  logfile: \"\"\n  access-control: 127.0.0.0/8 allow\n  module-config: \"respip iterator\"\n\
auth-zone:\n  name: \"acme.example.\"\n  zonefile: \"{d}/acme.zone\"\n  for-downstream: no\n  for-upstream: yes\n  fallback-enabled: no\n\
rpz:\n  name: \"rpz.warden.\"\n  zonefile: \"{d}/rpz.zone\"\n\
remote-control:\n  control-enable: yes\n  control-interface: 127.0.0.1\n  control-port: {control_port}\n  control-use-cert: no\n"
        ),
    )
    .unwrap();
    let ub = Command::new(bin)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    until("unbound answering", async || {
        dns_query(dns_port, "shop.acme.example") == Some((0, 1))
    })
    .await;
    (ub, dns_port)
}

/// A DNS A query over UDP; returns the response code (0 = NOERROR, 3 = NXDOMAIN) and the number
/// of answers, or `None` when nothing answered.
pub(crate) fn dns_query(port: u16, name: &str) -> Option<(u8, u16)> {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").ok()?;
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .ok()?;
    let mut pkt = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.').filter(|l| !l.is_empty()) {
        pkt.push(label.len() as u8);
        pkt.extend_from_slice(label.as_bytes());
    }
    pkt.extend_from_slice(&[0, 0, 1, 0, 1]);
    sock.send_to(&pkt, ("127.0.0.1", port)).ok()?;
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).ok()?;
    (n >= 12).then(|| (buf[3] & 0x0f, u16::from_be_bytes([buf[6], buf[7]])))
}

/// ENF-1 with a real Unbound: after `suspend_resolution` the domain answers NXDOMAIN from
/// Warden's RPZ; after the lift it resolves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbound_rpz_suspends_and_restores_resolution() {
    let Some(unbound) = program(&["/usr/sbin/unbound"], "unbound") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let control = |args: &[&str]| unbound_control(dir.path(), args);
    let settings = Settings {
        rpz_file: Some(dir.path().join("rpz.zone")),
        rpz_reload: vec![
            control(&["auth_zone_reload", "rpz.warden."]),
            control(&["flush_zone", "."]),
        ],
        ..Settings::default()
    };
    let Some(t) = spawn_app(Engine::Sqlite, settings).await else {
        return;
    };
    until("the RPZ file", async || {
        dir.path().join("rpz.zone").exists()
    })
    .await;
    let (mut ub, dns_port) = start_unbound(unbound, dir.path()).await;

    let (op, case) = seed_case(&t, "dns", "shop.acme.example", "shop.acme.example", "fraud").await;
    let (s, c) = enforce(&t, &op, &case, "suspend_resolution", "phishing site").await;
    assert_eq!(s, 200, "{c}");
    until("NXDOMAIN", async || {
        dns_query(dns_port, "shop.acme.example").is_some_and(|r| r.0 == 3)
    })
    .await;
    assert_eq!(
        dns_query(dns_port, "www.shop.acme.example").map(|r| r.0),
        Some(3),
        "subdomains too"
    );
    assert_eq!(
        dns_query(dns_port, "acme.example"),
        Some((0, 1)),
        "the parent domain still resolves"
    );
    let edge = t.token("edge", None).await;
    let zone = t
        .client
        .get(format!("{}/api/enforcement/rpz", t.base))
        .bearer_auth(&edge)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        zone.contains("shop.acme.example CNAME .") && zone.contains("*.shop.acme.example CNAME ."),
        "{zone}"
    );
    // Lift through a ticket: it resolves again.
    assert_eq!(
        lift_through_ticket(&t, &case, "Phishing page removed.", "Restored.").await,
        200
    );
    until("resolution restored", async || {
        dns_query(dns_port, "shop.acme.example") == Some((0, 1))
    })
    .await;
    let _ = ub.kill();
    let _ = ub.wait();
    t.stop().await;
}

/// ENF-1: the edge listener answers checks and the notice page, and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_listener_serves_checks_only() {
    let Some(t) = spawn_app(Engine::Sqlite, Settings::default()).await else {
        return;
    };
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(warden_http::serve_checks(
        l,
        t.app.clone(),
        std::future::pending(),
    ));
    let client = reqwest::Client::new();
    let check = client
        .get(format!("{base}/api/enforcement/check"))
        .header("x-original-uri", "/x")
        .header("x-original-host", "a.example")
        .send()
        .await
        .unwrap();
    assert_eq!(check.status().as_u16(), 204);
    for path in [
        "/api/cases",
        "/api/openapi.json",
        "/metrics",
        "/api/accounts",
    ] {
        let r = client
            .get(format!("{base}{path}"))
            .bearer_auth(&t.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            404,
            "{path} must not be reachable on the edge listener"
        );
    }
    t.stop().await;
}
