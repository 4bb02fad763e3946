//! DDOS-2 against real exporters from Debian: `softflowd` reads a pcap the test writes and
//! exports its flows as NetFlow v5, NetFlow v9 and IPFIX; `pmacctd` with its `sfprobe` plugin
//! reads the same pcap and exports sFlow v5. The datagrams arrive on 127.0.0.1 and must decode
//! to exactly the flows the pcap holds. A missing program skips loudly on a developer's
//! machine and fails under `CI=true` (`.ci/run` installs `softflowd` and `pmacct`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use warden_flow::{Collector, CollectorConfig, FlowFormat, FlowRecord};

const VICTIM: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);
const UDP_SRC: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
const TCP_SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);
const V6_SRC: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const V6_DST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7);

/// The program, or `None` (loudly) outside CI.
fn program(path: &str, package: &str) -> Option<String> {
    if Path::new(path).exists() {
        return Some(path.to_string());
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true and {path} is missing (.ci/run installs {package})"
    );
    eprintln!(
        "\n!!!!!!!!\n!!! SKIPPED: {path} is not installed (apt-get install {package})\n!!!!!!!!\n"
    );
    None
}

fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum >> 16) + (sum & 0xffff);
    }
    !(sum as u16)
}

fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, l4: &[u8]) -> Vec<u8> {
    let total = (20 + l4.len()) as u16;
    let mut h = vec![0x45, 0];
    h.extend(total.to_be_bytes());
    h.extend([0, 1, 0x40, 0, 64, proto, 0, 0]);
    h.extend(src.octets());
    h.extend(dst.octets());
    let c = checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend(l4);
    h
}

fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend((l4.len() as u16).to_be_bytes());
    h.extend([proto, 64]);
    h.extend(src.octets());
    h.extend(dst.octets());
    h.extend(l4);
    h
}

fn udp(sport: u16, dport: u16, payload: usize) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend(sport.to_be_bytes());
    u.extend(dport.to_be_bytes());
    u.extend(((8 + payload) as u16).to_be_bytes());
    u.extend([0, 0]);
    u.extend(std::iter::repeat_n(b'x', payload));
    u
}

fn tcp(sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(sport.to_be_bytes());
    t.extend(dport.to_be_bytes());
    t.extend([0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t
}

fn ether(ethertype: u16, ip: Vec<u8>) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    f.extend(ethertype.to_be_bytes());
    f.extend(ip);
    f
}

/// The capture: three UDP packets of 128 IP bytes to the victim's port 53, two TCP packets of
/// 40 bytes to its port 80 (SYN, then ACK), and two IPv6 UDP packets of 88 bytes.
fn pcap() -> Vec<u8> {
    let mut frames = Vec::new();
    for _ in 0..3 {
        frames.push(ether(
            0x0800,
            ipv4(UDP_SRC, VICTIM, 17, &udp(5353, 53, 100)),
        ));
    }
    frames.push(ether(
        0x0800,
        ipv4(TCP_SRC, VICTIM, 6, &tcp(40000, 80, 0x02)),
    ));
    frames.push(ether(
        0x0800,
        ipv4(TCP_SRC, VICTIM, 6, &tcp(40000, 80, 0x10)),
    ));
    for _ in 0..2 {
        frames.push(ether(0x86dd, ipv6(V6_SRC, V6_DST, 17, &udp(1234, 443, 40))));
    }
    let mut out = Vec::new();
    out.extend(0xa1b2_c3d4_u32.to_le_bytes());
    out.extend(2u16.to_le_bytes());
    out.extend(4u16.to_le_bytes());
    out.extend([0; 8]);
    out.extend(65535u32.to_le_bytes());
    out.extend(1u32.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        out.extend((1_700_000_000 + i as u32).to_le_bytes());
        out.extend(0u32.to_le_bytes());
        out.extend((f.len() as u32).to_le_bytes());
        out.extend((f.len() as u32).to_le_bytes());
        out.extend(f);
    }
    out
}

/// Receives datagrams on `socket` until `quiet` passes without one (or `max` elapses).
fn receive(socket: &UdpSocket, quiet: Duration, max: Duration) -> Vec<Vec<u8>> {
    socket.set_read_timeout(Some(quiet)).unwrap();
    let started = Instant::now();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65535];
    while started.elapsed() < max {
        match socket.recv_from(&mut buf) {
            Ok((n, _)) => out.push(buf[..n].to_vec()),
            Err(_) if !out.is_empty() => break,
            Err(_) => {}
        }
    }
    out
}

fn decode(datagrams: &[Vec<u8>]) -> Vec<FlowRecord> {
    let mut c = Collector::new(CollectorConfig {
        allowed_exporters: vec!["127.0.0.1/32".parse().unwrap()],
        ..CollectorConfig::default()
    });
    let exporter = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut records = Vec::new();
    for d in datagrams {
        records.extend(c.ingest(exporter, d, 0));
    }
    records
}

/// (src, dst, src port, dst port, protocol, bytes, packets) of the records, sorted.
type Flow = (IpAddr, IpAddr, u16, u16, u8, u64, u64);

fn flows(records: &[FlowRecord]) -> Vec<Flow> {
    let mut f: Vec<Flow> = records
        .iter()
        .map(|r| {
            (
                r.src, r.dst, r.src_port, r.dst_port, r.protocol, r.bytes, r.packets,
            )
        })
        .collect();
    f.sort();
    f
}

fn want(with_v6: bool) -> Vec<Flow> {
    let mut w = vec![
        (UDP_SRC.into(), VICTIM.into(), 5353, 53, 17, 384, 3),
        (TCP_SRC.into(), VICTIM.into(), 40000, 80, 6, 80, 2),
    ];
    if with_v6 {
        w.push((V6_SRC.into(), V6_DST.into(), 1234, 443, 17, 176, 2));
    }
    w.sort();
    w
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// softflowd exports the capture as NetFlow v5 (IPv4 only), v9 and IPFIX (IPv4 and IPv6); each
/// decodes to exactly the capture's flows.
#[test]
fn softflowd_netflow_v5_v9_and_ipfix_decode_to_the_captured_flows() {
    let Some(bin) = program("/usr/sbin/softflowd", "softflowd") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("capture.pcap");
    std::fs::write(&capture, pcap()).unwrap();
    for (version, format, with_v6) in [
        ("5", FlowFormat::NetflowV5, false),
        ("9", FlowFormat::NetflowV9, true),
        ("10", FlowFormat::Ipfix, true),
    ] {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        let mut cmd = Command::new(&bin);
        // softflowd keeps the -r path in an interface-name buffer (16 bytes): a short relative
        // name, run from the capture's directory.
        cmd.current_dir(dir.path())
            .args(["-r", "capture.pcap"])
            .args(["-n", &format!("127.0.0.1:{port}"), "-v", version, "-d"])
            // Its pid file and control socket, short names there too (long paths hang it).
            .args(["-p", &format!("p{version}"), "-c", &format!("c{version}")]);
        if with_v6 {
            cmd.arg("-6");
        }
        let log = dir.path().join(format!("softflowd-{version}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let run = cmd
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let _run = Killed(run);
        let datagrams = receive(&socket, Duration::from_millis(700), Duration::from_secs(15));
        assert!(
            !datagrams.is_empty(),
            "softflowd -v {version} sent nothing: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        let records = decode(&datagrams);
        assert!(
            records
                .iter()
                .all(|r| r.format == format && r.sampling == 1),
            "v{version}: {records:?}"
        );
        assert_eq!(flows(&records), want(with_v6), "softflowd -v {version}");
    }
}

/// pmacctd's sfprobe samples every packet of the capture (rate 1) into sFlow v5 flow samples
/// with the raw headers: each packet is one record of one packet and its IP length.
#[test]
fn pmacct_sfprobe_sflow_v5_decodes_to_the_captured_packets() {
    let Some(bin) = program("/usr/sbin/pmacctd", "pmacct") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("capture.pcap");
    std::fs::write(&capture, pcap()).unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let conf = dir.path().join("pmacctd.conf");
    std::fs::write(
        &conf,
        format!(
            "daemonize: false\npcap_savefile: {}\npcap_savefile_wait: false\nplugins: sfprobe\nsfprobe_receiver: 127.0.0.1:{port}\nsfprobe_agentip: 127.0.0.1\nsampling_rate: 1\n",
            capture.display()
        ),
    )
    .unwrap();
    let run = Command::new(&bin)
        .arg("-f")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _run = Killed(run);
    let datagrams = receive(
        &socket,
        Duration::from_millis(1500),
        Duration::from_secs(20),
    );
    assert!(!datagrams.is_empty(), "pmacctd sent nothing");
    let records = decode(&datagrams);
    assert!(
        records.iter().all(|r| r.format == FlowFormat::SflowV5),
        "{records:?}"
    );
    // One record per sampled packet; summed per flow they are the capture's flows.
    type Key = (IpAddr, IpAddr, u16, u16, u8);
    let mut summed: std::collections::BTreeMap<Key, (u64, u64)> = std::collections::BTreeMap::new();
    for r in &records {
        let e = summed
            .entry((r.src, r.dst, r.src_port, r.dst_port, r.protocol))
            .or_default();
        e.0 += r.bytes;
        e.1 += r.packets;
    }
    let got: Vec<Flow> = summed
        .into_iter()
        .map(|((s, d, sp, dp, p), (b, n))| (s, d, sp, dp, p, b, n))
        .collect();
    // sFlow counts what the wire carried: each packet's frame length, Ethernet header and FCS
    // included (14 + 4 bytes more than its IP length).
    let frames: Vec<Flow> = want(true)
        .into_iter()
        .map(|(s, d, sp, dp, p, b, n)| (s, d, sp, dp, p, b + 18 * n, n))
        .collect();
    assert_eq!(got, frames, "{records:?}");
}
