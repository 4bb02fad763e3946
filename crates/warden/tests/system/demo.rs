//! `warden demo` as a new user runs it (issue 10 item 7): in an empty directory it fills
//! ./warden-data, prints the console logins with their passwords and serves; the logins work,
//! the data holds cases in every resting state, an overdue review and a deadline ahead; the
//! audit chain verifies; a second run refuses the directory.
//! SPEC: OPS-1 (one binary, the embedded SQLite default), UI-1.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use warden_domain::time::Timestamp;

use crate::console::Client;
use crate::support::{Proc, http, warden_command};

const LOGINS: [&str; 9] = [
    "admin",
    "operator",
    "reviewer",
    "auditor",
    "security",
    "acme",
    "lotus",
    "northwind",
    "globex",
];

/// Starts `warden demo --listen 127.0.0.1:0` in `dir`; returns the process and what it printed
/// before it listened.
fn spawn_demo(dir: &std::path::Path) -> (Proc, Vec<String>) {
    let mut child = warden_command(dir, &[])
        .args(["demo", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (out_tx, out_rx) = mpsc::channel();
    let (err_tx, err_rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = out_tx.send(line);
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = err_tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut printed = Vec::new();
    let base = loop {
        let line = out_rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| {
                let errs: Vec<String> = err_rx.try_iter().collect();
                panic!(
                    "warden demo did not start serving; stdout:\n{}\nstderr:\n{}",
                    printed.join("\n"),
                    errs.join("\n")
                )
            });
        if let Some(url) = line.strip_prefix("warden listening on ") {
            break url.trim().to_string();
        }
        printed.push(line);
    };
    let admin = printed
        .iter()
        .flat_map(|l| l.split_whitespace())
        .find(|w| w.starts_with("wdn_"))
        .map(str::to_string);
    (
        Proc {
            child,
            base,
            admin,
            stderr: err_rx,
            stdout: printed.clone(),
        },
        printed,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_fills_a_fresh_directory_prints_working_logins_and_refuses_a_second_run() {
    let dir = tempfile::tempdir().unwrap();
    let (mut p, printed) = spawn_demo(dir.path());
    let text = printed.join("\n");
    assert!(dir.path().join("warden-data/warden.db").exists(), "{text}");
    assert!(
        text.contains("WARDEN_CONSOLE__SECURE_COOKIES=false cargo run --release -- serve"),
        "it says how to start it again: {text}"
    );
    assert!(
        text.contains(&format!("{}/login", p.base)),
        "it prints the console address: {text}"
    );
    // Every login is printed with a password, and each password signs in.
    let password = |login: &str| -> String {
        printed
            .iter()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|w| w.first() == Some(&login))
            .and_then(|w| w.get(1).map(|p| p.to_string()))
            .unwrap_or_else(|| panic!("no password printed for {login}: {text}"))
    };
    let mut clients = std::collections::HashMap::new();
    for login in LOGINS {
        let pw = password(login);
        assert!(pw.len() >= 12, "{login}: {pw}");
        let mut c = Client::new(&p.base, "en");
        let a = c.sign_in(login, &pw).await;
        assert_eq!(
            (a.status, a.location.as_str()),
            (303, "/"),
            "{login} signs in with the printed password"
        );
        clients.insert(login, c);
    }
    let acme = clients.get_mut("acme").unwrap();
    let dash = acme.get("/console").await;
    assert_eq!(dash.status, 200, "no password change is asked first");
    assert!(dash.body.contains("shop.example.com"), "{}", dash.body);
    let inbox = acme.get("/console/inbox").await;
    assert!(inbox.body.contains("gallery/summer"), "{}", inbox.body);
    let triage = clients.get_mut("operator").unwrap().get("/staff").await;
    assert_eq!(triage.status, 200);
    assert!(triage.body.contains("lucky-draw"), "{}", triage.body);

    // Cases in every resting state, through the JSON API with the printed admin token.
    let admin = p.admin.clone().expect("the admin API token is printed");
    let list = |state: &'static str| {
        let base = p.base.clone();
        let admin = admin.clone();
        async move {
            let (s, v) = http(
                &base,
                "GET",
                &format!("/api/cases?state={state}&limit=100"),
                Some(&admin),
                None,
            )
            .await;
            assert_eq!(s, 200, "{v}");
            v["items"].as_array().unwrap().clone()
        }
    };
    for state in [
        "reported",
        "alerting",
        "enforced",
        "unblock_requested",
        "lifted",
        "resolved",
        "dismissed",
    ] {
        assert!(!list(state).await.is_empty(), "no {state} case");
    }
    // Triage holds public and detector reports, with duplicates, and an unowned one.
    let reported = list("reported").await;
    for source in ["public", "detector"] {
        assert!(
            reported.iter().any(|c| c["source"] == source),
            "{reported:?}"
        );
    }
    assert!(
        reported
            .iter()
            .any(|c| c["duplicate_count"].as_i64() >= Some(2))
    );
    assert!(reported.iter().any(|c| c["account_id"].is_null()));
    // A regulator case and a serious one are enforced.
    let enforced = list("enforced").await;
    assert!(enforced.iter().any(|c| c["source"] == "regulator"));
    let mut levels = Vec::new();
    for c in &enforced {
        let (_, pen) = http(
            &p.base,
            "GET",
            &format!("/api/cases/{}/penalties", c["id"].as_str().unwrap()),
            Some(&admin),
            None,
        )
        .await;
        levels.push(pen["level"].as_str().unwrap_or_default().to_string());
    }
    assert!(levels.iter().any(|l| l == "serious"), "{levels:?}");
    // The alerting case's deadline lies ahead.
    let alerting = list("alerting").await;
    let (_, pen) = http(
        &p.base,
        "GET",
        &format!(
            "/api/cases/{}/penalties",
            alerting[0]["id"].as_str().unwrap()
        ),
        Some(&admin),
        None,
    )
    .await;
    let deadline = Timestamp::parse_rfc3339(pen["deadline"].as_str().unwrap()).unwrap();
    let now = warden_app::clock::Clock::now(&warden_app::clock::SystemClock);
    assert!(deadline.millis() > now.millis(), "{pen}");
    // The manual unblock request is past its review SLA; tickets wait in the queue.
    let (_, q) = http(&p.base, "GET", "/api/unblock-requests", Some(&admin), None).await;
    assert_eq!(q["items"][0]["overdue"], true, "{q}");
    let (_, t) = http(&p.base, "GET", "/api/tickets", Some(&admin), None).await;
    assert!(!t["items"].as_array().unwrap().is_empty(), "{t}");
    assert!(p.terminate(30), "SIGTERM stops the demo cleanly");

    // The chain the use cases wrote verifies.
    let v = warden_command(dir.path(), &[])
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    // A second run refuses the directory, naming it, and changes nothing.
    let again = warden_command(dir.path(), &[])
        .args(["demo", "--no-serve"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success(), "{err}");
    assert!(
        err.contains("./warden-data already holds a Warden database"),
        "{err}"
    );
    let v2 = warden_command(dir.path(), &[])
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v2.stdout)
    );
}
