//! `warden bench flows` (DDOS-2/3/7): the flow collector's figures, printed beside their goals.
//!
//! (a) records decoded and aggregated per second on one core, per format, from generated
//! datagrams laid out as real exporters send them (`warden_flow::synth`); (b) memory per tracked
//! IP at a million IPs, by the tables' capacity arithmetic and, as a cross-check, the process's
//! resident-set growth; the tick's scan over them; (c) detection → ExaBGP announce: from the
//! sample crossing the threshold (`App::ingest_flow_rates`, in-process on SQLite) to the
//! `announce route` line the real `warden exabgp-bridge` prints, and from the first datagram of
//! an attack at the collector's socket to the same line; (d) nfdump's `nfcapd` and Warden's
//! collector (the `serve` task) receiving the same NetFlow v9 stream over loopback at several
//! rates, accepted against dropped. Prints figures; asserts nothing.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use warden_app::auth::Principal;
use warden_app::clock::SystemClock;
use warden_app::crypto::Sealer;
use warden_app::ddos::{DdosSettings, FlowRate};
use warden_app::recheck::FetchPolicy;
use warden_app::registry::{AccountInput, IdentifierInput, ResourceInput};
use warden_app::{App, Settings};
use warden_domain::time::Timestamp;
use warden_flow::fuzz::Mutator;
use warden_flow::synth::{self, SynthFlow};
use warden_flow::{
    BYTES_PER_TRACKED_IP, BYTES_PER_TRACKED_SOURCE, Collector, CollectorConfig, FlowRecord,
    FlowTables, TablesConfig,
};
use warden_store::{Store, StoreOptions};

use crate::flows::{FlowSettings, port_drops};

/// Options of `warden bench flows`.
#[derive(Debug, clap::Args)]
pub struct FlowsArgs {
    /// Records decoded per format for the throughput figure.
    #[arg(long, default_value_t = 5_000_000)]
    records: u64,
    /// Tracked IPs for the memory figure.
    #[arg(long, default_value_t = 1_000_000)]
    ips: usize,
    /// Detection → announce trials.
    #[arg(long, default_value_t = 10)]
    trials: usize,
    /// Replay rates, NetFlow v9 datagrams (30 records each) per second.
    #[arg(long, value_delimiter = ',', default_values_t = [5_000u64, 20_000, 50_000, 100_000])]
    rates: Vec<u64>,
    /// Seconds of replay per rate.
    #[arg(long, default_value_t = 3)]
    replay_secs: u64,
    /// The socket receive buffer both collectors ask for, bytes.
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    receive_buffer: usize,
    /// Which measurements to run: any of the letters a, b, c, d.
    #[arg(long, default_value = "abcd")]
    parts: String,
}

const LOCAL: &str = "203.0.113.0/24";
const RECORDS_PER_DATAGRAM: usize = 30;

/// `warden bench flows`.
pub async fn flows(args: FlowsArgs) -> anyhow::Result<()> {
    println!("warden bench flows (release build expected; one core per measurement)\n");
    if args.parts.contains('a') {
        throughput(args.records);
    }
    if args.parts.contains('b') {
        memory(args.ips);
    }
    if args.parts.contains('c') {
        latency(args.trials).await?;
    }
    if args.parts.contains('d') {
        replay(&args).await?;
    }
    Ok(())
}

// ------------------------------------------------------------------ (a) throughput

/// Flows as a border sees them: nine in ten to a local IP (203.0.113.0/24) from anywhere in
/// 198.51.100.0/24 and 192.0.2.0/24, one in ten from a local IP outwards; UDP, TCP and ICMP.
fn realistic_flows(m: &mut Mutator, n: usize) -> Vec<SynthFlow> {
    (0..n)
        .map(|_| {
            let local = Ipv4Addr::new(203, 0, 113, m.below(256) as u8);
            let remote = if m.below(2) == 0 {
                Ipv4Addr::new(198, 51, 100, m.below(256) as u8)
            } else {
                Ipv4Addr::new(192, 0, 2, m.below(256) as u8)
            };
            let (src, dst) = if m.below(10) == 0 {
                (local, remote)
            } else {
                (remote, local)
            };
            let packets = 1 + m.below(200) as u32;
            SynthFlow {
                src,
                dst,
                src_port: m.below(65_536) as u16,
                dst_port: [53, 80, 443, 123, 0].get(m.below(5)).copied().unwrap_or(0),
                protocol: [17, 6, 6, 1].get(m.below(4)).copied().unwrap_or(17),
                bytes: packets * (40 + m.below(1_460) as u32),
                packets,
            }
        })
        .collect()
}

fn datagrams(format: &str, count: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut m = Mutator::new(seed);
    let secs = 1_767_574_800;
    (0..count)
        .map(|i| {
            let seq = i as u32;
            match format {
                "NetFlow v5" => synth::netflow_v5(&realistic_flows(&mut m, 30), seq, secs),
                "NetFlow v9" => synth::netflow_v9(
                    &realistic_flows(&mut m, RECORDS_PER_DATAGRAM),
                    seq,
                    secs,
                    1,
                    i.is_multiple_of(20),
                ),
                "IPFIX" => synth::ipfix(
                    &realistic_flows(&mut m, RECORDS_PER_DATAGRAM),
                    seq,
                    secs,
                    1,
                    i.is_multiple_of(20),
                ),
                _ => synth::sflow_v5(
                    &realistic_flows(&mut m, 7),
                    seq,
                    1_000,
                    Ipv4Addr::new(192, 0, 2, 1),
                ),
            }
        })
        .collect()
}

fn tables_config(max_ips: usize) -> TablesConfig {
    TablesConfig {
        max_ips,
        local_prefixes: vec![
            LOCAL
                .parse()
                .unwrap_or_else(|_| warden_flow::IpNet::default()),
        ],
        noise_floor_bps: 1_000_000,
        ..TablesConfig::default()
    }
}

fn throughput(target: u64) {
    println!(
        "(a) decode + aggregate, one core, {target} records per format (goal: >= 2M records/s/core)"
    );
    let exporter = IpAddr::V4(Ipv4Addr::LOCALHOST);
    for format in ["NetFlow v5", "NetFlow v9", "IPFIX", "sFlow v5"] {
        let packets = datagrams(format, 2_000, 7);
        let mut collector = Collector::new(CollectorConfig {
            allowed_exporters: vec![warden_flow::IpNet::from(exporter)],
            ..CollectorConfig::default()
        });
        let mut tables = FlowTables::new(tables_config(100_000));
        let mut out: Vec<FlowRecord> = Vec::with_capacity(64);
        let (mut records, mut datagrams, mut bytes) = (0u64, 0u64, 0u64);
        let t0: i64 = 1_767_574_800_000;
        let started = Instant::now();
        'run: loop {
            for p in &packets {
                // Time moves 100 µs a datagram (windows roll, as they do live).
                let now = t0 + (datagrams / 10) as i64;
                out.clear();
                collector.ingest_into(exporter, p, now, &mut out);
                for r in &out {
                    tables.observe(r, now);
                }
                records += out.len() as u64;
                datagrams += 1;
                bytes += p.len() as u64;
                if records >= target {
                    break 'run;
                }
            }
        }
        let secs = started.elapsed().as_secs_f64();
        let rps = records as f64 / secs;
        println!(
            "    {format:<11} {:>6.2} M records/s  {:>8.0} datagrams/s  {:>6.0} MB/s  ({} records per datagram) {}",
            rps / 1e6,
            datagrams as f64 / secs,
            bytes as f64 / secs / 1e6,
            records / datagrams.max(1),
            if rps >= 2e6 { "ok" } else { "BELOW GOAL" }
        );
    }
    println!();
}

// ------------------------------------------------------------------ (b) memory

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn memory(ips: usize) {
    println!("(b) memory per tracked IP at {ips} IPs (goal: <= 200 bytes per tracked IP)");
    let t0: i64 = 1_767_574_800_000;
    let src = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
    let host = |i: usize| IpAddr::V6(Ipv6Addr::from(0x2001_0db8_u128 << 96 | i as u128));
    let record = |src: IpAddr, dst: IpAddr| FlowRecord {
        format: warden_flow::FlowFormat::NetflowV9,
        exporter: IpAddr::V4(Ipv4Addr::LOCALHOST),
        domain: 0,
        src,
        dst,
        src_port: 123,
        dst_port: 80,
        protocol: 17,
        bytes: 1_500,
        packets: 1,
        sampling: 1,
        start_ms: None,
        end_ms: None,
    };
    let before = resident_bytes();
    let mut inbound = FlowTables::new(TablesConfig {
        max_ips: ips,
        local_prefixes: vec![],
        ..tables_config(ips)
    });
    for i in 0..ips {
        inbound.observe(&record(src, host(i)), t0 + (i / 1000) as i64);
    }
    let after = resident_bytes();
    let table = inbound.inbound().table_bytes();
    println!(
        "    inbound:  {} IPs tracked; table {:.1} MB = {:.0} bytes/IP by capacity arithmetic ({} per entry and index slot, + spare slots); RSS grew {} {}",
        inbound.inbound().tracked(),
        table as f64 / 1e6,
        table as f64 / inbound.inbound().tracked().max(1) as f64,
        BYTES_PER_TRACKED_IP,
        match (before, after) {
            (Some(b), Some(a)) =>
                format!("{:.0} bytes/IP", a.saturating_sub(b) as f64 / ips as f64),
            _ => "(no /proc/self/statm)".into(),
        },
        if table <= 200 * inbound.inbound().tracked() {
            "ok"
        } else {
            "ABOVE GOAL"
        }
    );
    // The tick's scan over them: the receive loop spends this per tick, not reading the socket.
    let now = t0 + (ips / 1000) as i64 + 1_000;
    let started = Instant::now();
    let written = inbound.tick(now).len();
    println!(
        "    tick scan over {} IPs: {:.1} ms ({written} at or above the 1 Mbit/s floor)",
        inbound.inbound().tracked(),
        started.elapsed().as_secs_f64() * 1e3
    );
    drop(inbound);
    let before = resident_bytes();
    let mut outbound = FlowTables::new(TablesConfig {
        max_ips: ips,
        local_prefixes: vec!["2001:db8::/32".parse().unwrap_or_default()],
        ..tables_config(ips)
    });
    let dst = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
    for i in 0..ips {
        outbound.observe(&record(host(i), dst), t0 + (i / 1000) as i64);
    }
    let after = resident_bytes();
    let o = outbound.outbound();
    println!(
        "    outbound: {} sources tracked; table {:.1} MB = {:.0} bytes/source by capacity arithmetic ({} per entry); RSS grew {}",
        o.tracked(),
        o.table_bytes() as f64 / 1e6,
        o.table_bytes() as f64 / o.tracked().max(1) as f64,
        BYTES_PER_TRACKED_SOURCE,
        match (before, after) {
            (Some(b), Some(a)) => format!(
                "{:.0} bytes/source",
                a.saturating_sub(b) as f64 / ips as f64
            ),
            _ => "(no /proc/self/statm)".into(),
        },
    );
    println!();
}

// ------------------------------------------------------------------ (c) latency

/// An in-process Warden on a fresh SQLite database with the system clock, an `[[exabgp]]`
/// border named `border`, `ips` as public IPs of 10 Mbit/s capacity, and its HTTP API.
struct Bench {
    app: App,
    base: String,
    stop: tokio::sync::watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

async fn bench_app(ips: &[IpAddr]) -> anyhow::Result<Bench> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(&StoreOptions::new(format!(
        "sqlite://{}/flows.db",
        dir.path().display()
    )))
    .await?;
    let settings = Settings {
        exabgp: vec!["border".into()],
        job_poll_ms: 50,
        ..Settings::default()
    };
    let mut ddos = DdosSettings::default();
    for ip in ips {
        ddos.protection.ips.insert(*ip, 10_000_000);
    }
    let app = crate::wire(
        store,
        Arc::new(SystemClock),
        Sealer::from_key(&[42; 32]),
        settings,
        FetchPolicy::default(),
    )
    .with_ddos(ddos);
    let sys = Principal::System;
    app.create_account(
        &sys,
        AccountInput {
            id: Some("bench".into()),
            name: Some("Bench".into()),
            ..Default::default()
        },
    )
    .await?;
    for ip in ips {
        app.create_resource(
            &sys,
            ResourceInput {
                account_id: Some("bench".into()),
                product: Some("cvm".into()),
                identifiers: Some(vec![IdentifierInput {
                    kind: "public_ip".into(),
                    value: ip.to_string(),
                }]),
                ..Default::default()
            },
        )
        .await?;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, rx) = tokio::sync::watch::channel(false);
    {
        let mut rx = rx.clone();
        tokio::spawn(warden_http::serve(listener, app.clone(), async move {
            let _ = rx.changed().await;
        }));
    }
    {
        let (app, rx) = (app.clone(), rx.clone());
        tokio::spawn(async move { app.follow_enforcement(rx, Duration::from_millis(100)).await });
    }
    {
        let app = app.clone();
        tokio::spawn(async move { app.run_worker(rx).await });
    }
    Ok(Bench {
        app,
        base,
        stop,
        _dir: dir,
    })
}

/// The real `warden exabgp-bridge` as ExaBGP runs it: every line it prints is acknowledged
/// with `done` and handed over with the instant it was read.
struct Bridge {
    child: tokio::process::Child,
    lines: tokio::sync::mpsc::Receiver<(Instant, String)>,
}

async fn spawn_bridge(b: &Bench) -> anyhow::Result<Bridge> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let token = b
        .app
        .create_token(&Principal::System, "edge", None, "bench bridge")
        .await?
        .secret;
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["exabgp-bridge", "--url", &b.base, "--adapter", "border"])
        .env("WARDEN_BRIDGE_TOKEN", token)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start warden exabgp-bridge")?;
    let stdout = child.stdout.take().context("bridge stdout")?;
    let mut stdin = child.stdin.take().context("bridge stdin")?;
    let (tx, lines) = tokio::sync::mpsc::channel(1024);
    tokio::spawn(async move {
        let mut out = tokio::io::BufReader::new(stdout).lines();
        while let Ok(Some(line)) = out.next_line().await {
            let at = Instant::now();
            if stdin.write_all(b"done\n").await.is_err() || stdin.flush().await.is_err() {
                break;
            }
            if tx.send((at, line)).await.is_err() {
                break;
            }
        }
    });
    Ok(Bridge { child, lines })
}

impl Bridge {
    /// The instant the bridge printed `announce route <ip>/<len>`, within `secs`.
    async fn announced(&mut self, ip: IpAddr, secs: u64) -> Option<Instant> {
        let prefix = format!("announce route {ip}/");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some((at, line))) if line.starts_with(&prefix) => return Some(at),
                Ok(Some(_)) => continue,
                _ => return None,
            }
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

async fn latency(trials: usize) -> anyhow::Result<()> {
    println!(
        "(c) detection -> ExaBGP announce, in-process on SQLite, the real bridge (goal: announce <= 1 s after the threshold)"
    );
    let ips: Vec<IpAddr> = (0..=trials)
        .map(|k| IpAddr::V4(Ipv4Addr::new(203, 0, 113, 10 + k as u8)))
        .collect();
    let b = bench_app(&ips).await?;
    let mut bridge = spawn_bridge(&b).await?;
    // Let it take the (empty) snapshot and start long-polling.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut ingest, mut announce) = (Vec::new(), Vec::new());
    for ip in ips.iter().take(trials) {
        let rate = FlowRate {
            ip: *ip,
            in_bps: 1_000_000_000,
            in_pps: 100_000,
            out_bps: 0,
            out_pps: 0,
            out_peers: 0,
            top_protocols: vec![(17, 125_000_000)],
            top_sources: vec![(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)), 125_000_000)],
        };
        let t0 = Instant::now();
        let r = b
            .app
            .ingest_flow_rates("bench", Timestamp(b.app.now()), 10, &[rate])
            .await?;
        ingest.push(t0.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(r.blackholed.len() == 1, "no blackhole for {ip}: {r:?}");
        match bridge.announced(*ip, 10).await {
            Some(at) => announce.push(at.duration_since(t0).as_secs_f64() * 1e3),
            None => println!("    {ip}: no announce line within 10 s"),
        }
    }
    ingest.sort_by(f64::total_cmp);
    announce.sort_by(f64::total_cmp);
    println!(
        "    threshold sample -> stored and blackholed (ingest_flow_rates): p50 {:.1} ms, max {:.1} ms",
        percentile(&ingest, 0.5),
        percentile(&ingest, 1.0)
    );
    let max = percentile(&announce, 1.0);
    println!(
        "    threshold sample -> bridge's announce line: p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms over {} trials {}",
        percentile(&announce, 0.5),
        percentile(&announce, 0.9),
        max,
        announce.len(),
        if max <= 1_000.0 { "ok" } else { "ABOVE GOAL" }
    );

    // End to end: an attack's datagrams at the collector's socket (1 s ticks, the default).
    let ip = *ips.last().context("no IP")?;
    let settings = collector_settings(&b, 1_000, 8 * 1024 * 1024);
    let socket = crate::flows::bind(&settings)?;
    let collector = crate::flows::start(settings, socket, b.app.clone())?;
    let to = collector.local_addr();
    let sender = UdpSocket::bind("127.0.0.1:0")?;
    let attack: Vec<SynthFlow> = (1..=20u8)
        .map(|n| SynthFlow {
            src: Ipv4Addr::new(198, 51, 100, n),
            dst: match ip {
                IpAddr::V4(v4) => v4,
                IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
            },
            src_port: 123,
            dst_port: 80,
            protocol: 17,
            bytes: 1_000_000,
            packets: 700,
        })
        .collect();
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(10);
    let mut seq = 0u32;
    let at = loop {
        sender.send_to(
            &synth::netflow_v9(&attack, seq, 1_767_574_800, 1, seq.is_multiple_of(10)),
            to,
        )?;
        seq += 1;
        if let Ok(Some((at, line))) =
            tokio::time::timeout(Duration::from_millis(20), bridge.lines.recv()).await
            && line.starts_with(&format!("announce route {ip}/"))
        {
            break Some(at);
        }
        if Instant::now() > deadline {
            break None;
        }
    };
    match at {
        Some(at) => println!(
            "    first attack datagram at the socket -> announce line: {:.0} ms (tick 1000 ms: the tick's phase adds 0..1000 ms)",
            at.duration_since(t0).as_secs_f64() * 1e3
        ),
        None => println!("    first attack datagram -> announce: none within 10 s"),
    }
    collector.shutdown().await;
    let _ = bridge.child.kill().await;
    let _ = b.stop.send(true);
    b.app.store.close().await;
    println!();
    Ok(())
}

fn collector_settings(b: &Bench, tick_ms: u64, receive_buffer: usize) -> FlowSettings {
    let _ = b;
    FlowSettings {
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        collector: CollectorConfig {
            allowed_exporters: vec![warden_flow::IpNet::from(IpAddr::V4(Ipv4Addr::LOCALHOST))],
            ..CollectorConfig::default()
        },
        tables: tables_config(100_000),
        tick: Duration::from_millis(tick_ms),
        node: "bench".into(),
        template_expiry_ms: 1_800_000,
        receive_buffer_bytes: receive_buffer,
    }
}

// ------------------------------------------------------------------ (d) replay

/// Sends `datagrams` round-robin to `to` at `rate` per second for `secs`; returns how many
/// the kernel took.
fn send_paced(to: SocketAddr, datagrams: &[Vec<u8>], rate: u64, secs: u64) -> u64 {
    let Ok(sock) = UdpSocket::bind("127.0.0.1:0") else {
        return 0;
    };
    let total = rate * secs;
    let started = Instant::now();
    let (mut sent, mut i) = (0u64, 0usize);
    while i < total as usize {
        let due = ((started.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
        while (i as u64) < due {
            if let Some(d) = datagrams.get(i % datagrams.len().max(1))
                && sock.send_to(d, to).is_ok()
            {
                sent += 1;
            }
            i += 1;
        }
        if (i as u64) < total {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    sent
}

async fn send(to: SocketAddr, datagrams: &Arc<Vec<Vec<u8>>>, rate: u64, secs: u64) -> u64 {
    let d = datagrams.clone();
    tokio::task::spawn_blocking(move || send_paced(to, &d, rate, secs))
        .await
        .unwrap_or(0)
}

fn free_udp_port() -> anyhow::Result<u16> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// What one collector made of one rate.
#[derive(Debug, Default, Clone, Copy)]
struct Outcome {
    sent: u64,
    accepted: u64,
    socket_drops: Option<u64>,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lost = self.sent.saturating_sub(self.accepted);
        write!(
            f,
            "{:>8} accepted {:>7} dropped ({:>5.2} %; kernel says {})",
            self.accepted,
            lost,
            lost as f64 * 100.0 / self.sent.max(1) as f64,
            self.socket_drops
                .map(|d| d.to_string())
                .unwrap_or_else(|| "?".into())
        )
    }
}

async fn nfcapd(
    nfcapd: &str,
    datagrams: &Arc<Vec<Vec<u8>>>,
    rate: u64,
    args: &FlowsArgs,
) -> anyhow::Result<Outcome> {
    let dir = tempfile::tempdir()?;
    let port = free_udp_port()?;
    let mut child = tokio::process::Command::new(nfcapd)
        .arg("-w")
        .arg(dir.path())
        .args(["-b", "127.0.0.1", "-p", &port.to_string()])
        .args(["-B", &args.receive_buffer.to_string(), "-t", "3600"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start nfcapd")?;
    let ready = Instant::now() + Duration::from_secs(5);
    while port_drops(port).is_none() && Instant::now() < ready {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let sent = send(to, datagrams, rate, args.replay_secs).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let socket_drops = port_drops(port);
    if let Some(pid) = child.id() {
        let _ = tokio::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    let out = tokio::process::Command::new("nfdump")
        .arg("-R")
        .arg(dir.path())
        .arg("-I")
        .output()
        .await
        .context("cannot run nfdump -I")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let flows: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("Flows:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    Ok(Outcome {
        sent,
        accepted: flows / RECORDS_PER_DATAGRAM as u64,
        socket_drops,
    })
}

async fn warden(
    b: &Bench,
    datagrams: &Arc<Vec<Vec<u8>>>,
    rate: u64,
    args: &FlowsArgs,
) -> anyhow::Result<Outcome> {
    // The production tick: its writes share the cores with the receive loop.
    let settings = collector_settings(b, 1_000, args.receive_buffer);
    let socket = crate::flows::bind(&settings)?;
    let collector = crate::flows::start(settings, socket, b.app.clone())?;
    let sent = send(collector.local_addr(), datagrams, rate, args.replay_secs).await;
    // The counters are published once a tick.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let after = b.app.metrics.flows().unwrap_or_default();
    collector.shutdown().await;
    Ok(Outcome {
        sent,
        accepted: after.collector.packets_decoded,
        socket_drops: after.socket_drops,
    })
}

async fn replay(args: &FlowsArgs) -> anyhow::Result<()> {
    println!(
        "(d) the same NetFlow v9 stream ({RECORDS_PER_DATAGRAM} records per datagram, template every 20th) over loopback for {} s per rate, {} byte receive buffers (goal: no drops where nfcapd keeps up)",
        args.replay_secs, args.receive_buffer
    );
    let datagrams = Arc::new(datagrams("NetFlow v9", 4_000, 11));
    let nfcapd_path = ["/usr/bin/nfcapd", "/usr/local/bin/nfcapd"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    if nfcapd_path.is_none() {
        println!(
            "\n    !!!!!!!!\n    !!! nfcapd NOT FOUND (Debian package nfdump): the nfcapd column is skipped\n    !!!!!!!!\n"
        );
    }
    let b = bench_app(&[]).await?;
    let mut rows: BTreeMap<u64, (Option<Outcome>, Outcome)> = BTreeMap::new();
    for &rate in &args.rates {
        let n = match nfcapd_path {
            Some(p) => match nfcapd(p, &datagrams, rate, args).await {
                Ok(o) => Some(o),
                Err(e) => {
                    println!("    nfcapd at {rate}/s failed: {e:#}");
                    None
                }
            },
            None => None,
        };
        let w = warden(&b, &datagrams, rate, args).await?;
        rows.insert(rate, (n, w));
    }
    for (rate, (n, w)) in rows {
        println!(
            "    {:>7} datagrams/s ({:>5.2} M records/s), {} sent",
            rate,
            rate as f64 * RECORDS_PER_DATAGRAM as f64 / 1e6,
            w.sent
        );
        match n {
            Some(n) => println!("        nfcapd  {n}"),
            None => println!("        nfcapd  (skipped)"),
        }
        let verdict = match n {
            Some(n) if n.sent == n.accepted && w.accepted < w.sent => {
                "  <- DROPS WHERE NFCAPD KEEPS UP"
            }
            _ => "",
        };
        println!("        warden  {w}{verdict}");
    }
    let _ = b.stop.send(true);
    b.app.store.close().await;
    Ok(())
}
