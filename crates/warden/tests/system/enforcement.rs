//! The enforcement plane against a real nginx (ENF-1): `auth_request` pointed at Warden's check
//! endpoint; a `block_url` action makes the URL answer 451 with the notice page within a second
//! while the rest of the host answers 200, and the lift brings it back.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use warden_app::Settings;

use crate::support::{Engine, spawn_app};

fn free_port() -> u16 {
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
    let Some(bin) = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true and nginx is not installed (.ci/run installs nginx-light)");
        }
        eprintln!(
            "\n!!!!!!!!\n!!! SKIPPING the nginx test: nginx is not installed (apt-get install nginx-light).\n!!!!!!!!\n"
        );
        return None;
    };
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

async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) -> Duration {
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
        r#"worker_processes 1;
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
    t.call(
        "POST",
        "/api/accounts",
        Some(&t.admin),
        Some(&json!({ "id": "acme", "name": "Acme" })),
    )
    .await;
    let (s, _) = t.call("POST", "/api/resources", Some(&t.admin), Some(&json!({ "account_id": "acme", "product": "cdn", "identifiers": [{ "kind": "domain", "value": "shop.acme.example" }] }))).await;
    assert_eq!(s, 201);
    let op = t.token("operator", None).await;
    let (_, r) = t
        .call(
            "POST",
            "/api/reports",
            Some(&op),
            Some(
                &json!({ "target": "http://shop.acme.example/casino?x=1", "category": "gambling" }),
            ),
        )
        .await;
    let case = r["case_id"].as_str().unwrap().to_string();
    assert_eq!(
        get(&client, port, "shop.acme.example", "/casino?x=1")
            .await
            .0,
        200,
        "not blocked before the action"
    );
    let (s, c) = t
        .call(
            "POST",
            &format!("/api/cases/{case}/enforce"),
            Some(&op),
            Some(&json!({ "actions": ["block_url"], "reason": "online casino" })),
        )
        .await;
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
    let tenant = t.token("tenant", Some("acme")).await;
    let (_, tk) = t.call("POST", "/api/tickets", Some(&tenant), Some(&json!({ "kind": "unblock", "case_id": case, "subject": "Removed", "body": "The casino page is gone." }))).await;
    let reviewer = t.token("reviewer", None).await;
    let (s, _) = t
        .call(
            "POST",
            &format!("/api/tickets/{}/close", tk["id"].as_str().unwrap()),
            Some(&reviewer),
            Some(&json!({ "resolution": "Unblocked.", "lift": true })),
        )
        .await;
    assert_eq!(s, 200);
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
