//! The flow collector inside `warden serve` (issue 12; DDOS-2/3): the real binary with
//! `[flows]` on a free loopback port receives NetFlow v9 and IPFIX built by the test from
//! 127.0.0.1; flows above an IP's capacity blackhole it within a few ticks, with the top
//! protocol and sources as evidence. Datagrams from an exporter that is not configured
//! (127.0.0.2) are counted and change nothing; garbage is counted and crashes nothing; the
//! counters are in `/metrics`; SIGTERM stops it cleanly with the counters logged.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_flow::synth::{self, SynthFlow};
use warden_store::testing::PgDatabase;

use crate::both_engines;
use crate::support::{Engine, Proc, http, spawn_warden};

both_engines!(flows_above_capacity_blackhole_the_ip_and_strangers_change_nothing);

/// Attacked over NetFlow v9, over IPFIX, and from an exporter that is not configured.
const V9_IP: &str = "203.0.113.5";
const IPFIX_IP: &str = "203.0.113.6";
const STRANGER_IP: &str = "203.0.113.7";
/// Their capacity: 10 Mbit/s.
const CAPACITY: u64 = 10_000_000;

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("warden.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[flows]
listen = "127.0.0.1:0"
exporters = [{{ address = "127.0.0.1" }}]
local_prefixes = ["203.0.113.0/24"]
window_secs = 2
tick_ms = 200
noise_floor_bps = 0
node = "edge-test"

[ddos.protection.ips]
"{V9_IP}" = {CAPACITY}
"{IPFIX_IP}" = {CAPACITY}
"{STRANGER_IP}" = {CAPACITY}
"#
        ),
    )
    .unwrap();
    path
}

/// 20 flows of UDP from 198.51.100.1..=20 to `dst`, 1 MB each: per datagram every 100 ms,
/// 1.6 Gbit/s, far above 10 Mbit/s.
fn attack(dst: &str) -> Vec<SynthFlow> {
    let dst: Ipv4Addr = dst.parse().unwrap();
    (1..=20u8)
        .map(|n| SynthFlow {
            src: Ipv4Addr::new(198, 51, 100, n),
            dst,
            src_port: 123,
            dst_port: 40_000 + u16::from(n),
            protocol: 17,
            bytes: 1_000_000 + u32::from(n) * 10_000,
            packets: 700,
        })
        .collect()
}

fn unix_secs() -> u32 {
    u32::try_from(
        warden_domain::time::Timestamp::parse_rfc3339("2026-01-05T01:00:00Z")
            .unwrap()
            .millis()
            / 1000,
    )
    .unwrap()
}

async fn metric(p: &Proc, line_start: &str) -> u64 {
    let (s, body) = http(&p.base, "GET", "/metrics", None, None).await;
    assert_eq!(s, 200);
    let text = body.as_str().unwrap_or_default().to_string();
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Polls `check` every 50 ms for at most `secs`.
async fn within<T>(what: &str, secs: u64, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn active_blackhole(p: &Proc, admin: &str, ip: &str) -> Option<Value> {
    let (s, b) = http(
        &p.base,
        "GET",
        "/api/blackholes?active=true",
        Some(admin),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    b["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["ip"] == ip)
        .cloned()
}

/// Sends `packet(seq)` every 100 ms until `done` says so (at most `secs`).
async fn send_until<T>(
    sock: &UdpSocket,
    to: SocketAddr,
    secs: u64,
    mut packet: impl FnMut(u32) -> Vec<u8>,
    mut done: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut seq = 0;
    loop {
        sock.send_to(&packet(seq), to).unwrap();
        seq += 1;
        if let Some(v) = done().await {
            return v;
        }
        assert!(Instant::now() < deadline, "not within {secs} s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn flows_above_capacity_blackhole_the_ip_and_strangers_change_nothing(engine: Engine) {
    let pg = match engine {
        Engine::Sqlite => None,
        Engine::Postgres => match PgDatabase::create().await {
            Some(pg) => Some(pg),
            None => return,
        },
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let mut envs = vec![("RUST_LOG", "info,sqlx=warn")];
    if let Some(pg) = &pg {
        envs.push(("WARDEN_DATABASE__URL", pg.url.as_str()));
    }
    let mut p = spawn_warden(dir.path(), &envs, &["--config", cfg.to_str().unwrap()]);
    let admin = p
        .admin
        .clone()
        .expect("the first start prints an admin token");
    let udp: SocketAddr = p
        .stdout
        .iter()
        .find_map(|l| l.strip_prefix("warden flows on udp://"))
        .unwrap_or_else(|| panic!("no flow listener announced: {:?}", p.stdout))
        .parse()
        .unwrap();
    assert_ne!(udp.port(), 0);

    for (n, ip) in [V9_IP, IPFIX_IP, STRANGER_IP].iter().enumerate() {
        let id = format!("acct{n}");
        http(
            &p.base,
            "POST",
            "/api/accounts",
            Some(&admin),
            Some(&json!({ "id": id, "name": id })),
        )
        .await;
        let (s, b) = http(
            &p.base,
            "POST",
            "/api/resources",
            Some(&admin),
            Some(&json!({ "account_id": id, "product": "cvm", "identifiers": [{ "kind": "public_ip", "value": ip }] })),
        )
        .await;
        assert_eq!(s, 201, "{b}");
    }
    let exporter = UdpSocket::bind("127.0.0.1:0").unwrap();
    let stranger = UdpSocket::bind("127.0.0.2:0").unwrap();
    let secs = unix_secs();

    // Garbage and a truncated v9 header: counted, nothing else.
    exporter.send_to(b"not a flow export at all", udp).unwrap();
    exporter.send_to(&[0, 9, 0, 1, 0, 0], udp).unwrap();
    exporter.send_to(&[], udp).unwrap();
    within("garbage counted", 10, async || {
        let g = metric(&p, "warden_flow_packets_total{outcome=\"garbage\"}").await;
        let t = metric(&p, "warden_flow_packets_total{outcome=\"truncated\"}").await;
        (g >= 1 && t >= 2).then_some(())
    })
    .await;

    // An attack reported by an exporter that is not configured: dropped unread.
    let flows = attack(STRANGER_IP);
    for seq in 0..20 {
        stranger
            .send_to(&synth::netflow_v9(&flows, seq, secs, 1, true), udp)
            .unwrap();
    }
    within("the stranger's datagrams counted", 10, async || {
        let n = metric(
            &p,
            "warden_flow_packets_total{outcome=\"exporter_not_allowed\"}",
        )
        .await;
        (n >= 20).then_some(())
    })
    .await;

    // NetFlow v9 from the configured exporter: the template in the first datagram and every
    // tenth, as exporters resend it.
    let flows = attack(V9_IP);
    let started = Instant::now();
    let bh = send_until(
        &exporter,
        udp,
        20,
        |seq| synth::netflow_v9(&flows, seq, secs, 7, seq % 10 == 0),
        async || active_blackhole(&p, &admin, V9_IP).await,
    )
    .await;
    eprintln!(
        "NetFlow v9: blackholed {} ms after the first datagram",
        started.elapsed().as_millis()
    );
    assert_eq!(bh["capacity_bps"], CAPACITY);
    assert!(bh["peak_bps"].as_u64().unwrap() > CAPACITY, "{bh}");
    let (s, audit) = http(
        &p.base,
        "GET",
        &format!(
            "/api/audit?subject=blackhole:{}",
            bh["id"].as_str().unwrap()
        ),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 200, "{audit}");
    let evidence = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["details"]["evidence"])
        .find(|e| e.get("collector").is_some())
        .unwrap_or_else(|| panic!("no flow evidence: {audit}"))
        .clone();
    assert_eq!(evidence["collector"], "edge-test", "{evidence}");
    assert_eq!(evidence["top_protocols"][0]["protocol"], 17, "{evidence}");
    let sources: Vec<&str> = evidence["top_sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["ip"].as_str().unwrap())
        .collect();
    assert!(
        !sources.is_empty() && sources.iter().all(|s| s.starts_with("198.51.100.")),
        "{evidence}"
    );

    // IPFIX, the same way.
    let flows = attack(IPFIX_IP);
    send_until(
        &exporter,
        udp,
        20,
        |seq| synth::ipfix(&flows, seq, secs, 7, seq % 10 == 0),
        async || active_blackhole(&p, &admin, IPFIX_IP).await,
    )
    .await;

    // The stranger's target: no blackhole and no traffic at all, a few ticks later.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(active_blackhole(&p, &admin, STRANGER_IP).await.is_none());
    let (s, t) = http(
        &p.base,
        "GET",
        &format!("/api/ips/{STRANGER_IP}/traffic"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["minutes"], json!([]), "{t}");

    // The counters are in /metrics; still serving after the garbage.
    assert!(metric(&p, "warden_flow_packets_total{outcome=\"decoded\"}").await >= 2);
    assert!(metric(&p, "warden_flow_records_total{outcome=\"decoded\"}").await >= 40);
    assert!(
        metric(&p, "warden_flow_templates ").await >= 2,
        "v9 and IPFIX templates"
    );
    assert!(metric(&p, "warden_flow_ticks_total{outcome=\"written\"}").await >= 1);
    assert_eq!(
        metric(&p, "warden_flow_ticks_total{outcome=\"failed\"}").await,
        0
    );
    assert_eq!(
        metric(&p, "warden_flow_socket_drops_total{reason=\"buffer_full\"}").await,
        0
    );

    // Graceful shutdown, with the counters logged.
    assert!(p.terminate(20), "warden did not stop cleanly on SIGTERM");
    let log: Vec<String> = p.stderr.try_iter().collect();
    assert!(
        log.iter()
            .any(|l| l.contains("flow collector stopped") && l.contains("exporter_not_allowed=20")),
        "{}",
        log.join("\n")
    );
    if let Some(pg) = pg {
        pg.drop_db().await;
    }
}

/// Regression guard for the receive loop's independence: while another connection holds
/// SQLite's write lock (the database is "slow"), every datagram is still received and decoded
/// — more than the socket's buffer could hold — the writer's ticks wait (and are replaced, not
/// queued), and once the lock goes the blackhole follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_holds_up_no_datagram() {
    use sqlx::Connection as _;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let mut p = spawn_warden(dir.path(), &[], &["--config", cfg.to_str().unwrap()]);
    let admin = p.admin.clone().unwrap();
    let udp: SocketAddr = p
        .stdout
        .iter()
        .find_map(|l| l.strip_prefix("warden flows on udp://"))
        .unwrap()
        .parse()
        .unwrap();
    http(
        &p.base,
        "POST",
        "/api/accounts",
        Some(&admin),
        Some(&json!({ "id": "a", "name": "a" })),
    )
    .await;
    let (s, b) = http(
        &p.base,
        "POST",
        "/api/resources",
        Some(&admin),
        Some(&json!({ "account_id": "a", "product": "cvm", "identifiers": [{ "kind": "public_ip", "value": V9_IP }] })),
    )
    .await;
    assert_eq!(s, 201, "{b}");

    let db = format!("sqlite://{}/warden-data/warden.db", dir.path().display());
    let mut lock = sqlx::SqliteConnection::connect(&db).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut lock)
        .await
        .unwrap();
    let written = metric(&p, "warden_flow_ticks_total{outcome=\"written\"}").await;

    // 2 000 datagrams (about 1.8 MB, beyond the socket's buffer) over a second.
    let exporter = UdpSocket::bind("127.0.0.1:0").unwrap();
    let flows = attack(V9_IP);
    let secs = unix_secs();
    let sent = 2_000u64;
    for seq in 0..sent as u32 {
        exporter
            .send_to(&synth::netflow_v9(&flows, seq, secs, 7, seq % 10 == 0), udp)
            .unwrap();
        if seq % 20 == 19 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    within(
        "every datagram received while the database is locked",
        20,
        async || {
            let n = metric(&p, "warden_flow_packets_total{outcome=\"decoded\"}").await;
            (n == sent).then_some(())
        },
    )
    .await;
    assert_eq!(
        metric(&p, "warden_flow_socket_drops_total{reason=\"buffer_full\"}").await,
        0
    );
    assert_eq!(
        metric(&p, "warden_flow_ticks_total{outcome=\"written\"}").await,
        written,
        "the writer cannot have written through the lock"
    );
    assert!(active_blackhole(&p, &admin, V9_IP).await.is_none());

    sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap();
    // The window still holds the attack: the next tick that gets through blackholes the IP.
    send_until(
        &exporter,
        udp,
        20,
        |seq| synth::netflow_v9(&flows, sent as u32 + seq, secs, 7, false),
        async || active_blackhole(&p, &admin, V9_IP).await,
    )
    .await;
    assert!(metric(&p, "warden_flow_ticks_total{outcome=\"dropped\"}").await >= 1);
    assert!(p.terminate(20));
}
