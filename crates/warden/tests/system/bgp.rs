//! Blackholes exported to BGP (DDOS-7) against real programs, all on loopback: Warden, ExaBGP
//! running `warden exabgp-bridge`, and a BIRD 2 peer whose table is read with `birdc`. A
//! blackhole reaches BIRD as a host route with the RFC 7999 BLACKHOLE community and no-export,
//! the action is `applied` once the bridge confirmed it, a lift withdraws it, and after Warden
//! is killed with -9 and restarted (and the bridge itself killed) BIRD's table is right again.
//! The same holds for a blackhole a detector's telemetry starts (DDOS-2/3) and an operator
//! releases (DDOS-5).
//! 203.0.113.0/24 and 2001:db8::/32 are route data only; sessions are 127.0.0.1 ↔ 127.0.0.2.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::enforcement::{free_port, program};
use crate::support::{Proc, http, spawn_warden_on};

/// A child process killed with the test.
pub(crate) struct Running(pub(crate) Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn bird_conf(port: u16) -> String {
    // The discard next hops are static blackhole routes, as on a border router: BGP routes
    // through them resolve to "drop".
    format!(
        "router id 127.0.0.1;
protocol device {{}}
protocol static {{ ipv4; route 192.0.2.1/32 blackhole; }}
protocol static {{ ipv6; route 100::1/128 blackhole; }}
protocol bgp exabgp {{
  local 127.0.0.1 port {port} as 65001;
  neighbor 127.0.0.2 as 65000;
  passive on;
  multihop;
  ipv4 {{ import all; export none; }};
  ipv6 {{ import all; export none; }};
}}
"
    )
}

pub(crate) fn exabgp_conf(run: &str) -> String {
    format!(
        "process warden {{
  run {run};
  encoder text;
}}
neighbor 127.0.0.1 {{
  router-id 127.0.0.2;
  local-address 127.0.0.2;
  local-as 65000;
  peer-as 65001;
  family {{ ipv4 unicast; ipv6 unicast; }}
  api {{ processes [ warden ]; }}
}}
"
    )
}

/// BIRD's routes, by prefix: the attribute lines under each.
fn bird_routes(birdc: &str, sock: &Path) -> std::collections::BTreeMap<String, String> {
    let out = Command::new(birdc)
        .arg("-s")
        .arg(sock)
        .args(["show", "route", "all"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut routes = std::collections::BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let first = line.split_whitespace().next().unwrap_or_default();
        if !line.starts_with(char::is_whitespace) && first.contains('/') {
            current = Some(first.to_string());
            routes.insert(first.to_string(), format!("{line}\n"));
        } else if line.starts_with(char::is_whitespace)
            && let Some(c) = &current
        {
            routes.get_mut(c).unwrap().push_str(&format!("{line}\n"));
        } else {
            current = None;
        }
    }
    routes
}

/// Whether BIRD holds `prefix` from ExaBGP as a blackhole (BLACKHOLE and no-export).
pub(crate) fn blackholed(birdc: &str, sock: &Path, prefix: &str) -> bool {
    bird_routes(birdc, sock).get(prefix).is_some_and(|r| {
        r.contains("[exabgp")
            && r.contains("(65535,666)")
            && r.contains("(65535,65281)")
            && r.contains("blackhole")
    })
}

pub(crate) fn absent(birdc: &str, sock: &Path, prefix: &str) -> bool {
    !bird_routes(birdc, sock).contains_key(prefix)
}

async fn wait(what: &str, secs: u64, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < Duration::from_secs(secs),
            "{what} did not happen within {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

struct World {
    base: String,
    admin: String,
    operator: String,
    tenant: String,
    reviewer: String,
    detector: String,
}

impl World {
    async fn token(&self, role: &str, account: Option<&str>) -> String {
        let (s, b) = http(
            &self.base,
            "POST",
            "/api/tokens",
            Some(&self.admin),
            Some(&json!({ "role": role, "account_id": account, "label": format!("bgp-{role}") })),
        )
        .await;
        assert_eq!(s, 201, "{b}");
        b["secret"].as_str().unwrap().to_string()
    }

    /// A case on `ip` with a blackhole enforced by an operator; returns the case id.
    async fn blackhole(&self, ip: &str) -> String {
        let (s, r) = http(
            &self.base,
            "POST",
            "/api/reports",
            Some(&self.operator),
            Some(&json!({ "target": ip, "category": "ddos_victim_impact" })),
        )
        .await;
        assert!(s == 201 || s == 200, "{r}");
        let case = r["case_id"].as_str().unwrap().to_string();
        let (s, b) = http(
            &self.base,
            "POST",
            &format!("/api/cases/{case}/enforce"),
            Some(&self.operator),
            Some(&json!({ "actions": ["blackhole"], "reason": "attack traffic above the IP's capacity" })),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        case
    }

    async fn action_state(&self, case: &str) -> Value {
        let (_, p) = http(
            &self.base,
            "GET",
            &format!("/api/cases/{case}/penalties"),
            Some(&self.operator),
            None,
        )
        .await;
        p["actions"][0]["state"].clone()
    }

    /// DDOS-2/3: a detector's samples above the basic capacity (2 Gbps) blackhole `ip`;
    /// returns the blackhole's id.
    async fn attack(&self, ip: &str) -> String {
        // The spawned Warden runs on the system clock; so do its samples.
        let now = warden_app::clock::Clock::now(&warden_app::clock::SystemClock).millis();
        let samples: Vec<Value> = (0..5)
            .map(|i| {
                json!({
                    "ip": ip,
                    "at": warden_domain::time::Timestamp(now - i * 1000).to_rfc3339(),
                    "in_bps": 9_000_000_000_u64,
                    "in_pps": 1_500_000,
                })
            })
            .collect();
        let (s, b) = http(
            &self.base,
            "POST",
            "/api/telemetry",
            Some(&self.detector),
            Some(&json!({ "samples": samples })),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["blackholed"].as_array().map(Vec::len), Some(1), "{b}");
        b["blackholed"][0].as_str().unwrap().to_string()
    }

    /// An operator releases a blackhole (DDOS-5).
    async fn release(&self, id: &str) {
        let (s, b) = http(
            &self.base,
            "POST",
            &format!("/api/blackholes/{id}/release"),
            Some(&self.operator),
            Some(&json!({ "reason": "the upstream scrubbing centre took the attack" })),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["released"], true, "{b}");
    }

    /// The tenant files an unblock ticket, a reviewer closes it with a lift.
    async fn lift(&self, case: &str) {
        let (s, tk) = http(
            &self.base,
            "POST",
            "/api/tickets",
            Some(&self.tenant),
            Some(&json!({ "kind": "unblock", "case_id": case, "subject": "Attack over", "body": "Traffic is back to normal." })),
        )
        .await;
        assert_eq!(s, 201, "{tk}");
        let (s, b) = http(
            &self.base,
            "POST",
            &format!("/api/tickets/{}/close", tk["id"].as_str().unwrap()),
            Some(&self.reviewer),
            Some(&json!({ "resolution": "The attack stopped.", "lift": true })),
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackholes_reach_a_real_bird_peer_through_exabgp() {
    let (Some(exabgp), Some(bird), Some(birdc)) = (
        program(&["/usr/sbin/exabgp", "/usr/bin/exabgp"], "exabgp"),
        program(&["/usr/sbin/bird"], "bird2"),
        program(&["/usr/sbin/birdc"], "bird2"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bgp_port = free_port();
    let listen = format!("127.0.0.1:{}", free_port());
    let conf = d.join("warden.toml");
    std::fs::write(&conf, "[[exabgp]]\nname = \"border\"\n").unwrap();
    let conf_s = conf.display().to_string();
    let envs = [("WARDEN_CONFIG", conf_s.as_str())];
    let mut warden: Proc = spawn_warden_on(&listen, d, &envs, &[]);
    let base = warden.base.clone();
    let admin = warden
        .admin
        .clone()
        .expect("first start prints an admin token");

    // BIRD, its own config and socket.
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

    let mut w = World {
        base: base.clone(),
        admin: admin.clone(),
        operator: String::new(),
        tenant: String::new(),
        reviewer: String::new(),
        detector: String::new(),
    };
    let (s, b) = http(
        &base,
        "POST",
        "/api/accounts",
        Some(&admin),
        Some(&json!({ "id": "acme", "name": "Acme" })),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let ids = json!([
        { "kind": "public_ip", "value": "203.0.113.7" },
        { "kind": "public_ip", "value": "203.0.113.8" },
        { "kind": "public_ip", "value": "2001:db8::7" },
        { "kind": "public_ip", "value": "2001:db8::8" },
        { "kind": "public_ip", "value": "203.0.113.9" },
        { "kind": "public_ip", "value": "203.0.113.10" },
    ]);
    let (s, b) = http(
        &base,
        "POST",
        "/api/resources",
        Some(&admin),
        Some(&json!({ "account_id": "acme", "product": "cvm", "identifiers": ids })),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    w.operator = w.token("operator", None).await;
    w.tenant = w.token("tenant", Some("acme")).await;
    w.reviewer = w.token("reviewer", None).await;
    w.detector = w.token("detector", None).await;
    let token_file = d.join("edge.token");
    std::fs::write(&token_file, w.token("edge", None).await).unwrap();

    // ExaBGP running the bridge, its own config; root may run it in a test.
    let run = format!(
        "{} exabgp-bridge --url {base} --adapter border --token-file {} --wait-ms 5000",
        env!("CARGO_BIN_EXE_warden"),
        token_file.display()
    );
    std::fs::write(d.join("exabgp.conf"), exabgp_conf(&run)).unwrap();
    let _exabgp = Running(
        Command::new(exabgp)
            .arg(d.join("exabgp.conf"))
            .current_dir(d)
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
    let logs = || {
        for f in ["exabgp.log", "exabgp.err", "bird.log"] {
            eprintln!(
                "--- {f}\n{}",
                std::fs::read_to_string(d.join(f)).unwrap_or_default()
            );
        }
    };
    let guard = scopeguard(logs);

    // An IPv4 blackhole: in BIRD's table with BLACKHOLE and no-export, then applied.
    let v4 = w.blackhole("203.0.113.7").await;
    let latency = wait("203.0.113.7/32 in BIRD", 30, || {
        blackholed(birdc, &sock, "203.0.113.7/32")
    })
    .await;
    eprintln!(
        "blackhole 203.0.113.7/32 reached BIRD in {latency:?} (first one: includes the BGP session coming up)"
    );
    let started = Instant::now();
    while w.action_state(&v4).await != "applied" {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the blackhole was not confirmed: {}",
            w.action_state(&v4).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Telemetry above capacity: the blackhole starts with the detection and its /32 reaches BIRD
    // with the BLACKHOLE community (the bench measures this latency; here it is printed); an
    // operator's release withdraws it.
    let t = Instant::now();
    let bh = w.attack("203.0.113.9").await;
    let latency = wait("203.0.113.9/32 in BIRD after detection", 10, || {
        blackholed(birdc, &sock, "203.0.113.9/32")
    })
    .await;
    eprintln!(
        "detection of 203.0.113.9 → /32 in BIRD in {latency:?} ({:?} with the telemetry request)",
        t.elapsed()
    );
    w.release(&bh).await;
    wait("203.0.113.9/32 withdrawn after the release", 10, || {
        absent(birdc, &sock, "203.0.113.9/32")
    })
    .await;

    // IPv6: a /128, same communities; a lift withdraws it.
    let t = Instant::now();
    let v6 = w.blackhole("2001:db8::7").await;
    wait("2001:db8::7/128 in BIRD", 10, || {
        blackholed(birdc, &sock, "2001:db8::7/128")
    })
    .await;
    eprintln!(
        "blackhole 2001:db8::7/128 reached BIRD in {:?}",
        t.elapsed()
    );
    let t = Instant::now();
    w.lift(&v6).await;
    wait("2001:db8::7/128 withdrawn", 10, || {
        absent(birdc, &sock, "2001:db8::7/128")
    })
    .await;
    eprintln!("lift of 2001:db8::7/128 reached BIRD in {:?}", t.elapsed());
    let started = Instant::now();
    while w.action_state(&v6).await != "lifted" {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "lift not confirmed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // kill -9 Warden: the route stays (losing Warden withdraws nothing), and after a restart on
    // the same data the bridge re-reads the snapshot: still right, and new changes arrive.
    let detected = w.attack("203.0.113.10").await;
    wait("203.0.113.10/32 in BIRD", 10, || {
        blackholed(birdc, &sock, "203.0.113.10/32")
    })
    .await;
    warden.kill9();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(blackholed(birdc, &sock, "203.0.113.7/32"));
    assert!(blackholed(birdc, &sock, "203.0.113.10/32"));
    let mut warden = spawn_warden_on(&listen, d, &envs, &[]);
    let v4b = w.blackhole("203.0.113.8").await;
    let t = Instant::now();
    wait("203.0.113.8/32 in BIRD after the restart", 20, || {
        blackholed(birdc, &sock, "203.0.113.8/32")
    })
    .await;
    eprintln!(
        "after the restart, 203.0.113.8/32 reached BIRD in {:?}",
        t.elapsed()
    );
    w.lift(&v4).await;
    wait("203.0.113.7/32 withdrawn after the restart", 10, || {
        absent(birdc, &sock, "203.0.113.7/32")
    })
    .await;
    assert!(
        blackholed(birdc, &sock, "203.0.113.10/32"),
        "the detected blackhole survived the crash"
    );
    w.release(&detected).await;
    wait("203.0.113.10/32 withdrawn after the restart", 10, || {
        absent(birdc, &sock, "203.0.113.10/32")
    })
    .await;
    assert!(absent(birdc, &sock, "2001:db8::7/128"), "nothing stranded");

    // kill -9 the bridge with 203.0.113.8 in force and lift it at once: ExaBGP starts a new
    // bridge, which clears what the old one left and announces the snapshot.
    let pid = bridge_pid(&base);
    Command::new("kill").args(["-9", &pid]).status().unwrap();
    w.lift(&v4b).await;
    wait("203.0.113.8/32 withdrawn by a new bridge", 20, || {
        absent(birdc, &sock, "203.0.113.8/32")
    })
    .await;
    let v6b = w.blackhole("2001:db8::8").await;
    wait("2001:db8::8/128 announced by the new bridge", 20, || {
        blackholed(birdc, &sock, "2001:db8::8/128")
    })
    .await;
    let started = Instant::now();
    while w.action_state(&v6b).await != "applied" {
        assert!(started.elapsed() < Duration::from_secs(10), "not confirmed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(bridge_pid(&base) != pid, "ExaBGP started a new bridge");
    std::mem::forget(guard);
    assert!(warden.terminate(10));
}

/// The pid of the bridge following `base`.
pub(crate) fn bridge_pid(base: &str) -> String {
    let out = Command::new("pgrep")
        .args(["-f", &format!("exabgp-bridge --url {base} ")])
        .output()
        .unwrap();
    let pids = String::from_utf8_lossy(&out.stdout).to_string();
    let pid = pids.lines().next().unwrap_or_default().trim().to_string();
    assert!(!pid.is_empty(), "no bridge process follows {base}");
    pid
}

/// Runs `f` on drop (the logs of the programs when an assertion fails).
pub(crate) fn scopeguard<F: FnOnce()>(f: F) -> impl Drop {
    struct G<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for G<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    G(Some(f))
}
