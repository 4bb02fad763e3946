//! The abuse desk's SMTP listener (issue 14, INT-2), driven by a real SMTP client, Debian's
//! `swaks`, against a real `warden serve` with `[smtp]`: a feedback-loop report relayed to
//! `abuse@` lands on the tenant's case (source `mail`) and is answered 250 with its mail id only
//! once stored; the same message again is 250 with the same id; past the bounds the client
//! sees the codes an MTA acts on — 550 and 452 for recipients, 552 for size, 554 naming the part
//! for a broken report (nothing stored), 421 past `max_connections`, 554 5.7.1 for a client
//! outside `allowed_clients` (127.0.0.2, loopback too) — and nothing of a message's addresses
//! reaches the log.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Proc, http, shared_data, spawn_warden};

/// acme's address: sisimai's arf-01.eml names it as its Source-IP.
const ARF_IP: &str = "192.0.2.89";

const SWAKS: &str = "/usr/bin/swaks";

/// Whether swaks is there; a loud skip on a developer's machine without it, a failure under
/// `CI=true` (`.ci/run` installs it).
fn swaks() -> bool {
    if std::path::Path::new(SWAKS).exists() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true and swaks is not installed (.ci/run installs it)"
    );
    eprintln!(
        "\n!!!!!!!!\n!!! SKIPPED: swaks is not installed (apt-get install swaks)\n!!!!!!!!\n"
    );
    false
}

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("warden.toml");
    std::fs::write(
        &path,
        r#"
[smtp]
listen = "127.0.0.1:0"
hostname = "abuse-desk.provider.example"
max_connections = 2
max_recipients = 2
max_message_bytes = 8192
idle_timeout_secs = 10
accept_recipients = ["abuse@provider.example", "abuse.provider.example"]
allowed_clients = ["127.0.0.1/32"]
"#,
    )
    .unwrap();
    path
}

/// swaks to the listener: `args` after the server and port; its exit status and everything it
/// printed (the dialogue, both ways).
fn send(port: u16, args: &[&str]) -> (Option<i32>, String) {
    let out: Output = Command::new(SWAKS)
        .args(["--server", "127.0.0.1", "--port", &port.to_string()])
        .args(["--timeout", "20"])
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// swaks sending the message in `data` (`@file`) from `fbl@reporter.example` to `to` (a
/// comma-separated list).
fn mail(port: u16, to: &str, data: &str) -> (Option<i32>, String) {
    send(
        port,
        &["--to", to, "--from", "fbl@reporter.example", "--data", data],
    )
}

/// A message file for swaks' `--data @file`.
fn message_file(dir: &std::path::Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    format!("@{}", p.display())
}

/// The mail id of swaks' `250 2.0.0 Ok: <id>` line.
fn mail_id(dialogue: &str) -> Option<String> {
    dialogue
        .lines()
        .find_map(|l| l.split("250 2.0.0 Ok: ").nth(1))
        .map(|id| id.trim().to_string())
}

async fn cases(p: &Proc, admin: &str) -> Vec<Value> {
    let (s, b) = http(&p.base, "GET", "/api/cases?limit=100", Some(admin), None).await;
    assert_eq!(s, 200, "{b}");
    b["items"].as_array().unwrap().clone()
}

async fn metric(p: &Proc, event: &str) -> u64 {
    let (s, body) = http(&p.base, "GET", "/metrics", None, None).await;
    assert_eq!(s, 200);
    let key = format!("warden_smtp_events_total{{event=\"{event}\"}} ");
    body.as_str()
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key.as_str()))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key}"))
}

/// A session that holds a connection slot: connected, greeted.
fn hold(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut greeting = String::new();
    BufReader::new(&s).read_line(&mut greeting).unwrap();
    assert!(greeting.starts_with("220 "), "{greeting}");
    s
}

/// INT-2: an MTA relaying `abuse@` over SMTP — stored and acknowledged, or refused with the
/// code it bounces or retries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_listener_takes_reports_in_and_refuses_past_its_bounds() {
    if !swaks() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let mut p = spawn_warden(
        dir.path(),
        &[("RUST_LOG", "info,sqlx=warn")],
        &["--config", cfg.to_str().unwrap()],
    );
    let admin = p
        .admin
        .clone()
        .expect("the first start prints an admin token");
    let addr: std::net::SocketAddr = p
        .stdout
        .iter()
        .find_map(|l| l.strip_prefix("warden smtp on smtp://"))
        .unwrap_or_else(|| panic!("no SMTP listener announced: {:?}", p.stdout))
        .parse()
        .unwrap();
    let port = addr.port();
    assert_ne!(port, 0);
    for (path, body) in [
        ("/api/accounts", json!({ "id": "acme", "name": "Acme" })),
        (
            "/api/resources",
            json!({ "id": "vm-1", "account_id": "acme", "product": "cvm", "identifiers": [{ "kind": "public_ip", "value": ARF_IP }] }),
        ),
    ] {
        let (s, b) = http(&p.base, "POST", path, Some(&admin), Some(&body)).await;
        assert_eq!(s, 201, "{b}");
    }
    let raw = std::fs::read(shared_data("arf/sisimai/arf-01.eml")).unwrap();
    let arf = message_file(dir.path(), "arf-01.eml", &raw);

    // A feedback report relayed to abuse@: 250 with its id, and on acme's case as `mail`.
    let (code, out) = mail(port, "abuse@provider.example", &arf);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("220 abuse-desk.provider.example ESMTP"),
        "{out}"
    );
    assert!(
        out.contains("250-SIZE 8192") && out.contains("250-PIPELINING"),
        "{out}"
    );
    let first = mail_id(&out).unwrap_or_else(|| panic!("no 250 with a mail id: {out}"));
    assert!(first.starts_with("mail_"), "{out}");
    let all = cases(&p, &admin).await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["account_id"], "acme", "{all:?}");
    let case_id = all[0]["id"].as_str().unwrap().to_string();
    let (s, reports) = http(
        &p.base,
        "GET",
        &format!("/api/cases/{case_id}/reports"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 200, "{reports}");
    assert_eq!(reports["items"][0]["source"], "mail", "{reports}");
    assert_eq!(reports["items"][0]["format"], "arf", "{reports}");

    // Recipients: one outside accept_recipients (550), two accepted, one over max_recipients
    // (452); the message itself is the same one again, so 250 with its first id.
    let (_, out) = mail(
        port,
        "nobody@elsewhere.example,abuse@provider.example,a@abuse.provider.example,b@abuse.provider.example",
        &arf,
    );
    assert!(out.contains("550 5.1.1"), "{out}");
    assert!(out.contains("452 4.5.3"), "{out}");
    assert_eq!(mail_id(&out).as_deref(), Some(first.as_str()), "{out}");

    // Over max_message_bytes: read to its end and refused 552 5.3.4.
    let mut big = raw.clone();
    big.extend(
        std::iter::repeat_n(
            "Padding the report beyond the listener's size limit.\r\n",
            200,
        )
        .collect::<String>()
        .as_bytes(),
    );
    let big = message_file(dir.path(), "big.eml", &big);
    let (code, out) = mail(port, "abuse@provider.example", &big);
    assert!(out.contains("552 5.3.4"), "{out}");
    assert_ne!(code, Some(0), "{out}");

    // A truncated feedback report: 554 5.6.0 naming the part, nothing stored.
    let text = String::from_utf8_lossy(&raw);
    let cut = text.find("Feedback-Type: abuse").unwrap();
    let broken = message_file(dir.path(), "broken.eml", &raw[..cut]);
    let (code, out) = mail(port, "abuse@provider.example", &broken);
    assert_ne!(code, Some(0), "{out}");
    let refusal = out
        .lines()
        .find(|l| l.contains("554 5.6.0"))
        .unwrap_or_else(|| panic!("no 554 5.6.0: {out}"));
    assert!(
        refusal.contains("part") && refusal.contains("nothing was stored"),
        "{refusal}"
    );
    assert_eq!(cases(&p, &admin).await.len(), 1);
    let (_, audit) = http(
        &p.base,
        "GET",
        "/api/audit?action=mail.receive&limit=10",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");

    // Past max_connections (2 held): 421 4.7.0 at once.
    let held = [hold(port), hold(port)];
    let (code, out) = send(
        port,
        &["--to", "abuse@provider.example", "--quit-after", "EHLO"],
    );
    assert!(out.contains("421 4.7.0"), "{out}");
    assert_ne!(code, Some(0), "{out}");
    drop(held);
    // The slots come back once the held sessions see their clients gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, out) = send(
            port,
            &["--to", "abuse@provider.example", "--quit-after", "EHLO"],
        );
        if code == Some(0) {
            break;
        }
        assert!(Instant::now() < deadline, "slots never came back: {out}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A client outside allowed_clients (127.0.0.2 is loopback too, but not listed): 554 5.7.1.
    let (code, out) = send(
        port,
        &[
            "--local-interface",
            "127.0.0.2",
            "--to",
            "abuse@provider.example",
            "--quit-after",
            "EHLO",
        ],
    );
    assert!(out.contains("554 5.7.1"), "{out}");
    assert_ne!(code, Some(0), "{out}");

    for (event, n) in [
        ("accepted", 1),
        ("duplicate", 1),
        ("refused", 1),
        ("too_large", 1),
        ("recipient_refused", 1),
        ("too_many_recipients", 1),
        ("connection_limit", 1),
        ("client_denied", 1),
        ("deferred", 0),
    ] {
        assert_eq!(metric(&p, event).await, n, "{event}");
    }

    assert!(p.terminate(15), "serve stops with the SMTP listener");
    // Counts, ids and reasons in the log; never a message's addresses (AUD-4).
    let log: Vec<String> = p.stderr.try_iter().collect();
    let log = log.join("\n");
    assert!(log.contains("smtp: message taken in"), "{log}");
    assert!(log.contains(&first), "{log}");
    for personal in [
        "fbl@reporter.example",
        "kijitora@example.co.jp",
        "fbl-abuse@example.org.com",
        "nobody@elsewhere.example",
    ] {
        assert!(!log.contains(personal), "{personal} in the log:\n{log}");
    }
}
