#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Packets built byte by byte for every format, with the exact records they must give; the
//! bounds (templates, exporters, tracked IPs); and a deterministic mutation run that must not
//! panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use warden_flow::synth::{self, SynthFlow};
use warden_flow::{
    Aggregator, AggregatorConfig, BYTES_PER_TRACKED_IP, BYTES_PER_TRACKED_SOURCE, Collector,
    CollectorConfig, Counters, FlowFormat, FlowRecord, FlowTables, IpRates, MAX_PEERS,
    OutboundAggregator, OutboundConfig, Rate, TablesConfig,
};

const NOW: i64 = 1_700_000_000_000;

fn exporter() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse::<Ipv6Addr>().unwrap())
}

fn collector() -> Collector {
    Collector::new(CollectorConfig {
        allowed_exporters: vec![
            "192.0.2.0/24".parse().unwrap(),
            "2001:db8::/32".parse().unwrap(),
        ],
        ..CollectorConfig::default()
    })
}

/// A big-endian byte builder.
#[derive(Default, Clone)]
struct B(Vec<u8>);

impl B {
    fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn ip(mut self, ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => self.0.extend_from_slice(&a.octets()),
            IpAddr::V6(a) => self.0.extend_from_slice(&a.octets()),
        }
        self
    }
    fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// A v9 flowset or IPFIX set: id, length including the 4-byte header, body.
fn set(id: u16, body: &B) -> B {
    B::default()
        .u16(id)
        .u16(u16::try_from(body.len() + 4).unwrap())
        .raw(&body.0)
}

// ---------------------------------------------------------------- NetFlow v5

fn v5_packet() -> Vec<u8> {
    let record = |src, dst, sport, dport, proto, pkts, octets, first, last| {
        B::default()
            .ip(src)
            .ip(dst)
            .ip(v4(0, 0, 0, 0)) // next hop
            .u16(1)
            .u16(2)
            .u32(pkts)
            .u32(octets)
            .u32(first)
            .u32(last)
            .u16(sport)
            .u16(dport)
            .u8(0)
            .u8(0x02)
            .u8(proto)
            .u8(0)
            .u16(0)
            .u16(0)
            .u8(24)
            .u8(24)
            .u16(0)
    };
    B::default()
        .u16(5)
        .u16(2)
        .u32(100_000) // uptime ms
        .u32(1_700_000_000)
        .u32(500_000_000) // +500 ms
        .u32(7)
        .u8(1)
        .u8(2)
        .u16(0x4000 | 10) // mode 1, interval 10
        .raw(
            &record(
                v4(198, 51, 100, 7),
                v4(203, 0, 113, 5),
                5353,
                53,
                17,
                3,
                300,
                90_000,
                99_000,
            )
            .0,
        )
        .raw(
            &record(
                v4(198, 51, 100, 8),
                v4(203, 0, 113, 6),
                40000,
                443,
                6,
                1,
                60,
                99_500,
                99_900,
            )
            .0,
        )
        .0
}

#[test]
fn netflow_v5_records_are_scaled_by_the_header_sampling_interval() {
    let mut c = collector();
    let got = c.ingest(exporter(), &v5_packet(), NOW);
    let export_ms = 1_700_000_000_500;
    assert_eq!(
        got,
        vec![
            FlowRecord {
                format: FlowFormat::NetflowV5,
                exporter: exporter(),
                domain: 0x0102,
                src: v4(198, 51, 100, 7),
                dst: v4(203, 0, 113, 5),
                src_port: 5353,
                dst_port: 53,
                protocol: 17,
                bytes: 3000,
                packets: 30,
                sampling: 10,
                start_ms: Some(export_ms - 10_000),
                end_ms: Some(export_ms - 1_000),
            },
            FlowRecord {
                format: FlowFormat::NetflowV5,
                exporter: exporter(),
                domain: 0x0102,
                src: v4(198, 51, 100, 8),
                dst: v4(203, 0, 113, 6),
                src_port: 40000,
                dst_port: 443,
                protocol: 6,
                bytes: 600,
                packets: 10,
                sampling: 10,
                start_ms: Some(export_ms - 500),
                end_ms: Some(export_ms - 100),
            },
        ]
    );
    assert_eq!(c.counters().records_decoded, 2);
}

// ---------------------------------------------------------------- NetFlow v9

fn v9_header(source_id: u32, count: u16) -> B {
    B::default()
        .u16(9)
        .u16(count)
        .u32(100_000)
        .u32(1_700_000_000)
        .u32(1)
        .u32(source_id)
}

const V9_FIELDS: [(u16, u16); 9] = [
    (8, 4),
    (12, 4),
    (7, 2),
    (11, 2),
    (4, 1),
    (1, 4),
    (2, 4),
    (22, 4),
    (21, 4),
];

fn v9_template_set() -> B {
    let mut body = B::default().u16(256).u16(V9_FIELDS.len() as u16);
    for (id, len) in V9_FIELDS {
        body = body.u16(id).u16(len);
    }
    set(0, &body)
}

fn v9_data_set() -> B {
    let body = B::default()
        .ip(v4(198, 51, 100, 1))
        .ip(v4(203, 0, 113, 9))
        .u16(1234)
        .u16(80)
        .u8(6)
        .u32(1500)
        .u32(3)
        .u32(95_000)
        .u32(99_000)
        .raw(&[0, 0, 0]); // padding, shorter than a record
    set(256, &body)
}

fn v9_record(sampling: u32) -> FlowRecord {
    FlowRecord {
        format: FlowFormat::NetflowV9,
        exporter: exporter(),
        domain: 42,
        src: v4(198, 51, 100, 1),
        dst: v4(203, 0, 113, 9),
        src_port: 1234,
        dst_port: 80,
        protocol: 6,
        bytes: 1500 * u64::from(sampling),
        packets: 3 * u64::from(sampling),
        sampling,
        start_ms: Some(1_700_000_000_000 - 5_000),
        end_ms: Some(1_700_000_000_000 - 1_000),
    }
}

fn v9_template_then_data() -> Vec<u8> {
    v9_header(42, 2)
        .raw(&v9_template_set().0)
        .raw(&v9_data_set().0)
        .0
}

#[test]
fn netflow_v9_template_then_data_in_one_packet() {
    let mut c = collector();
    assert_eq!(
        c.ingest(exporter(), &v9_template_then_data(), NOW),
        vec![v9_record(1)]
    );
    assert_eq!(c.counters().templates_learned, 1);
    assert_eq!(c.template_count(), 1);
}

#[test]
fn netflow_v9_data_before_its_template_is_dropped_then_decoded_once_it_arrives() {
    let mut c = collector();
    let data = v9_header(42, 1).raw(&v9_data_set().0).0;
    assert_eq!(c.ingest(exporter(), &data, NOW), vec![]);
    assert_eq!(c.counters().sets_without_template, 1);
    let template = v9_header(42, 1).raw(&v9_template_set().0).0;
    assert_eq!(c.ingest(exporter(), &template, NOW), vec![]);
    assert_eq!(c.ingest(exporter(), &data, NOW), vec![v9_record(1)]);
    // Templates are per source id: another domain of the same exporter does not see it.
    let other = v9_header(43, 1).raw(&v9_data_set().0).0;
    assert_eq!(c.ingest(exporter(), &other, NOW), vec![]);
    assert_eq!(c.counters().sets_without_template, 2);
}

fn v9_options_packet(interval: u32) -> Vec<u8> {
    // Options template 257: scope System (type 1, 4 bytes); option SAMPLING_INTERVAL (34, 4).
    let template = B::default()
        .u16(257)
        .u16(4)
        .u16(4)
        .u16(1)
        .u16(4)
        .u16(34)
        .u16(4)
        .u16(0);
    let data = B::default().u32(0).u32(interval);
    v9_header(42, 2)
        .raw(&set(1, &template).0)
        .raw(&set(257, &data).0)
        .0
}

#[test]
fn netflow_v9_options_template_sampling_interval_is_applied() {
    let mut c = collector();
    assert_eq!(c.ingest(exporter(), &v9_options_packet(100), NOW), vec![]);
    assert_eq!(
        c.ingest(exporter(), &v9_template_then_data(), NOW),
        vec![v9_record(100)]
    );
    assert_eq!(c.counters().templates_learned, 2);
}

// ---------------------------------------------------------------- IPFIX

fn ipfix_message(domain: u32, sets: &[B]) -> Vec<u8> {
    let body: Vec<u8> = sets.iter().flat_map(|s| s.0.clone()).collect();
    B::default()
        .u16(10)
        .u16(u16::try_from(16 + body.len()).unwrap())
        .u32(1_700_000_000)
        .u32(1)
        .u32(domain)
        .raw(&body)
        .0
}

fn ipfix_template_set() -> B {
    let body = B::default()
        .u16(300)
        .u16(10)
        .u16(27)
        .u16(16)
        .u16(28)
        .u16(16)
        .u16(7)
        .u16(2)
        .u16(11)
        .u16(2)
        .u16(4)
        .u16(1)
        .u16(1)
        .u16(8)
        .u16(2)
        .u16(4) // reduced-size packet count
        .u16(152)
        .u16(8)
        .u16(153)
        .u16(8)
        .u16(0x8000 | 12) // an enterprise field: skipped
        .u16(0xffff)
        .u32(9);
    set(2, &body)
}

fn ipfix_data_set() -> B {
    let body = B::default()
        .ip(v6("2001:db8:1::1"))
        .ip(v6("2001:db8:2::2"))
        .u16(443)
        .u16(51000)
        .u8(6)
        .u64(9000)
        .u32(6)
        .u64(1_699_999_990_000)
        .u64(1_699_999_999_000)
        .u8(3) // variable length 3
        .raw(b"abc");
    set(300, &body)
}

fn ipfix_record(sampling: u32) -> FlowRecord {
    FlowRecord {
        format: FlowFormat::Ipfix,
        exporter: exporter(),
        domain: 7,
        src: v6("2001:db8:1::1"),
        dst: v6("2001:db8:2::2"),
        src_port: 443,
        dst_port: 51000,
        protocol: 6,
        bytes: 9000 * u64::from(sampling),
        packets: 6 * u64::from(sampling),
        sampling,
        start_ms: Some(1_699_999_990_000),
        end_ms: Some(1_699_999_999_000),
    }
}

#[test]
fn ipfix_template_data_and_withdrawal() {
    let mut c = collector();
    let msg = ipfix_message(7, &[ipfix_template_set(), ipfix_data_set()]);
    assert_eq!(c.ingest(exporter(), &msg, NOW), vec![ipfix_record(1)]);
    // Withdraw template 300 (field count 0): its data is dropped from then on.
    let withdraw = ipfix_message(7, &[set(2, &B::default().u16(300).u16(0))]);
    assert_eq!(c.ingest(exporter(), &withdraw, NOW), vec![]);
    assert_eq!(c.counters().templates_withdrawn, 1);
    assert_eq!(c.template_count(), 0);
    let data = ipfix_message(7, &[ipfix_data_set()]);
    assert_eq!(c.ingest(exporter(), &data, NOW), vec![]);
    assert_eq!(c.counters().sets_without_template, 1);
    // Learn again, then withdraw all templates of the domain (id 2).
    c.ingest(exporter(), &ipfix_message(7, &[ipfix_template_set()]), NOW);
    assert_eq!(c.template_count(), 1);
    let all = ipfix_message(7, &[set(2, &B::default().u16(2).u16(0))]);
    c.ingest(exporter(), &all, NOW);
    assert_eq!(c.template_count(), 0);
    assert_eq!(c.counters().templates_withdrawn, 2);
}

#[test]
fn ipfix_options_template_sampling_interval_is_applied() {
    let mut c = collector();
    // Options template 400: 1 scope field (observationDomainId 149, 4), samplingPacketInterval (305, 4).
    let tpl = set(
        3,
        &B::default()
            .u16(400)
            .u16(2)
            .u16(1)
            .u16(149)
            .u16(4)
            .u16(305)
            .u16(4),
    );
    let opt = set(400, &B::default().u32(7).u32(64));
    let msg = ipfix_message(7, &[tpl, opt, ipfix_template_set(), ipfix_data_set()]);
    assert_eq!(c.ingest(exporter(), &msg, NOW), vec![ipfix_record(64)]);
}

// ---------------------------------------------------------------- sFlow v5

fn eth_ipv4_udp() -> Vec<u8> {
    B::default()
        .raw(&[0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2])
        .u16(0x0800)
        .u8(0x45)
        .u8(0)
        .u16(528) // total length
        .u16(1)
        .u16(0) // flags, fragment offset
        .u8(64)
        .u8(17)
        .u16(0)
        .ip(v4(198, 51, 100, 20))
        .ip(v4(203, 0, 113, 30))
        .u16(123)
        .u16(9999)
        .u16(508)
        .u16(0)
        .0
}

fn eth_vlan_ipv6_tcp() -> Vec<u8> {
    B::default()
        .raw(&[0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2])
        .u16(0x8100)
        .u16(100)
        .u16(0x86dd)
        .u32(0x6000_0000)
        .u16(20)
        .u8(6)
        .u8(64)
        .ip(v6("2001:db8:3::3"))
        .ip(v6("2001:db8:4::4"))
        .u16(55555)
        .u16(22)
        .u32(1)
        .u32(0)
        .0
}

fn raw_header_record(protocol: u32, frame_len: u32, header: &[u8]) -> B {
    let mut padded = header.to_vec();
    while !padded.len().is_multiple_of(4) {
        padded.push(0);
    }
    let body = B::default()
        .u32(protocol)
        .u32(frame_len)
        .u32(4)
        .u32(header.len() as u32)
        .raw(&padded);
    B::default().u32(1).u32(body.len() as u32).raw(&body.0)
}

fn sflow_packet() -> Vec<u8> {
    // A flow sample (format 1) with one raw Ethernet header, rate 512.
    let r1 = raw_header_record(1, 542, &eth_ipv4_udp());
    let other = B::default().u32(1001).u32(16).raw(&[0; 16]); // extended switch: skipped
    let fs = B::default()
        .u32(1)
        .u32(3) // source id
        .u32(512)
        .u32(0)
        .u32(0)
        .u32(1)
        .u32(2)
        .u32(2)
        .raw(&other.0)
        .raw(&r1.0);
    // A counter sample: parsed past.
    let cs = B::default().u32(1).u32(3).u32(0);
    // An expanded flow sample (format 3) with a VLAN-tagged IPv6/TCP header, rate 1000.
    let r2 = raw_header_record(1, 90, &eth_vlan_ipv6_tcp());
    let efs = B::default()
        .u32(2)
        .u32(0)
        .u32(3)
        .u32(1000)
        .u32(0)
        .u32(0)
        .u32(0)
        .u32(1)
        .u32(0)
        .u32(2)
        .u32(1)
        .raw(&r2.0);
    B::default()
        .u32(5)
        .u32(1)
        .ip(v4(192, 0, 2, 99)) // agent address: not trusted, the caller's is used
        .u32(11) // sub-agent
        .u32(1)
        .u32(123_456)
        .u32(3)
        .u32(1)
        .u32(fs.len() as u32)
        .raw(&fs.0)
        .u32(2)
        .u32(cs.len() as u32)
        .raw(&cs.0)
        .u32(3)
        .u32(efs.len() as u32)
        .raw(&efs.0)
        .0
}

#[test]
fn sflow_v5_flow_samples_with_ipv4_udp_and_ipv6_tcp_headers() {
    let mut c = collector();
    let got = c.ingest(exporter(), &sflow_packet(), NOW);
    assert_eq!(
        got,
        vec![
            FlowRecord {
                format: FlowFormat::SflowV5,
                exporter: exporter(),
                domain: 11,
                src: v4(198, 51, 100, 20),
                dst: v4(203, 0, 113, 30),
                src_port: 123,
                dst_port: 9999,
                protocol: 17,
                bytes: 542 * 512,
                packets: 512,
                sampling: 512,
                start_ms: None,
                end_ms: None,
            },
            FlowRecord {
                format: FlowFormat::SflowV5,
                exporter: exporter(),
                domain: 11,
                src: v6("2001:db8:3::3"),
                dst: v6("2001:db8:4::4"),
                src_port: 55555,
                dst_port: 22,
                protocol: 6,
                bytes: 90 * 1000,
                packets: 1000,
                sampling: 1000,
                start_ms: None,
                end_ms: None,
            },
        ]
    );
    assert_eq!(c.counters().sflow_counter_samples, 1);
    assert_eq!(c.counters().sflow_skipped, 1);
}

// ---------------------------------------------------------------- robustness and bounds

fn valid_packets() -> Vec<Vec<u8>> {
    vec![
        v5_packet(),
        v9_template_then_data(),
        v9_options_packet(100),
        ipfix_message(7, &[ipfix_template_set(), ipfix_data_set()]),
        sflow_packet(),
    ]
}

fn accounted(c: &Counters) -> bool {
    c.packets_received
        == c.packets_decoded
            + c.packets_truncated
            + c.packets_garbage
            + c.packets_oversized
            + c.packets_exporter_not_allowed
}

#[test]
fn truncated_packets_at_every_length_are_counted_and_never_panic() {
    for packet in valid_packets() {
        let mut c = collector();
        for n in 0..packet.len() {
            let got = c.ingest(exporter(), packet.get(..n).unwrap(), NOW);
            // A cut at a set boundary is a valid shorter packet; anything else yields nothing.
            assert!(got.len() <= 2);
        }
        assert!(accounted(c.counters()));
        assert!(c.counters().packets_truncated > 0);
    }
}

#[test]
fn a_truncated_v5_packet_gives_no_record_at_all() {
    let mut c = collector();
    let p = v5_packet();
    assert_eq!(c.ingest(exporter(), &p[..p.len() - 1], NOW), vec![]);
    assert_eq!(c.counters().packets_truncated, 1);
}

#[test]
fn exporters_outside_the_allow_list_and_oversized_or_garbage_packets_are_counted() {
    let mut c = Collector::new(CollectorConfig {
        allowed_exporters: vec!["192.0.2.0/24".parse().unwrap()],
        max_packet_bytes: 100,
        ..CollectorConfig::default()
    });
    assert_eq!(c.ingest(v4(10, 0, 0, 1), &v5_packet(), NOW), vec![]);
    assert_eq!(c.counters().packets_exporter_not_allowed, 1);
    // An IPv4-mapped IPv6 source (a dual-stack socket) is the IPv4 exporter.
    let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
    assert_eq!(c.ingest(mapped, &v9_header(1, 0).0, NOW), vec![]);
    assert_eq!(c.counters().packets_decoded, 1);
    assert_eq!(c.ingest(exporter(), &v5_packet(), NOW), vec![]);
    assert_eq!(c.counters().packets_oversized, 1);
    assert_eq!(c.ingest(exporter(), &[0, 7, 1, 2], NOW), vec![]);
    assert_eq!(c.counters().packets_garbage, 1);
    assert!(accounted(c.counters()));
}

fn v9_template(id: u16) -> B {
    set(0, &B::default().u16(id).u16(2).u16(8).u16(4).u16(12).u16(4))
}

#[test]
fn the_template_cache_is_bounded_per_exporter_and_overall_evicting_the_least_recently_used() {
    let mut c = Collector::new(CollectorConfig {
        allowed_exporters: vec!["192.0.2.0/24".parse().unwrap()],
        max_templates_per_exporter: 2,
        max_templates_total: 3,
        ..CollectorConfig::default()
    });
    let a = exporter();
    let b = v4(192, 0, 2, 2);
    c.ingest(a, &v9_header(1, 1).raw(&v9_template(256).0).0, NOW);
    c.ingest(a, &v9_header(1, 1).raw(&v9_template(257).0).0, NOW + 1);
    // Using 256 makes 257 the least recent.
    let data = |id| {
        v9_header(1, 1)
            .raw(&set(id, &B::default().ip(v4(1, 1, 1, 1)).ip(v4(2, 2, 2, 2))).0)
            .0
    };
    assert_eq!(c.ingest(a, &data(256), NOW + 2).len(), 1);
    c.ingest(a, &v9_header(1, 1).raw(&v9_template(258).0).0, NOW + 3);
    assert_eq!(c.template_count(), 2);
    assert_eq!(c.counters().templates_evicted, 1);
    assert_eq!(c.ingest(a, &data(257), NOW + 4).len(), 0);
    assert_eq!(c.ingest(a, &data(256), NOW + 5).len(), 1);
    // Overall bound: b's second template evicts the overall least recent (a's 258).
    c.ingest(b, &v9_header(1, 1).raw(&v9_template(256).0).0, NOW + 6);
    c.ingest(b, &v9_header(1, 1).raw(&v9_template(257).0).0, NOW + 7);
    assert_eq!(c.template_count(), 3);
    assert_eq!(c.counters().templates_evicted, 2);
    assert_eq!(c.ingest(a, &data(258), NOW + 8).len(), 0);
    // Ageing drops what was not refreshed.
    assert_eq!(c.expire_templates(NOW + 8, 2), 1);
    assert_eq!(c.template_count(), 2);
}

#[test]
fn a_template_wider_than_the_bound_is_refused() {
    let mut c = Collector::new(CollectorConfig {
        allowed_exporters: vec!["192.0.2.0/24".parse().unwrap()],
        max_fields_per_template: 4,
        ..CollectorConfig::default()
    });
    assert_eq!(c.ingest(exporter(), &v9_template_then_data(), NOW), vec![]);
    assert_eq!(c.counters().templates_refused, 1);
    assert_eq!(c.counters().sets_without_template, 1);
}

#[test]
fn records_per_packet_are_bounded() {
    let mut c = Collector::new(CollectorConfig {
        allowed_exporters: vec!["192.0.2.0/24".parse().unwrap()],
        max_records_per_packet: 1,
        ..CollectorConfig::default()
    });
    assert_eq!(c.ingest(exporter(), &v5_packet(), NOW).len(), 1);
    assert_eq!(c.counters().records_over_limit, 1);
}

/// xorshift64*: deterministic, so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn twenty_thousand_mutated_packets_never_panic() {
    let seeds = valid_packets();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut c = collector();
    for _ in 0..20_000 {
        let mut p = seeds[rng.below(seeds.len())].clone();
        for _ in 0..=rng.below(4) {
            match rng.below(5) {
                0 => {
                    let i = rng.below(p.len());
                    p[i] = rng.next() as u8;
                }
                1 => {
                    let i = rng.below(p.len());
                    p[i] ^= 1 << rng.below(8);
                }
                2 if p.len() >= 2 => {
                    // A length-like pair of bytes set to an extreme.
                    let i = rng.below(p.len().saturating_sub(1));
                    let v: u16 = [0, 1, 3, 4, 0x7fff, 0xffff][rng.below(6)];
                    p[i..i + 2].copy_from_slice(&v.to_be_bytes());
                }
                2 | 3 => p.truncate(rng.below(p.len() + 1)),
                _ => {
                    let i = rng.below(p.len() + 1);
                    let extra: Vec<u8> = (0..rng.below(16)).map(|_| rng.next() as u8).collect();
                    p.splice(i..i, extra);
                }
            }
            if p.is_empty() {
                break;
            }
        }
        let records = c.ingest(exporter(), &p, NOW);
        assert!(records.len() <= CollectorConfig::default().max_records_per_packet);
    }
    assert_eq!(c.counters().packets_received, 20_000);
    assert!(accounted(c.counters()));
    assert!(c.template_count() <= CollectorConfig::default().max_templates_per_exporter);
}

// ---------------------------------------------------------------- aggregation

fn flow(src: IpAddr, dst: IpAddr, protocol: u8, bytes: u64, packets: u64) -> FlowRecord {
    FlowRecord {
        format: FlowFormat::NetflowV5,
        exporter: exporter(),
        domain: 0,
        src,
        dst,
        src_port: 0,
        dst_port: 0,
        protocol,
        bytes,
        packets,
        sampling: 1,
        start_ms: None,
        end_ms: None,
    }
}

#[test]
fn the_rate_is_averaged_over_the_window() {
    let mut a = Aggregator::new(AggregatorConfig {
        window_secs: 10,
        max_ips: 10,
    });
    let dst = v4(203, 0, 113, 1);
    let src = v4(198, 51, 100, 1);
    // 1 250 000 bytes and 1 000 packets every second: 10 Mbit/s, 1 000 pps.
    for s in 0..30 {
        a.observe(&flow(src, dst, 17, 1_250_000, 1_000), NOW + s * 1000);
    }
    // At a window boundary the estimate is exactly the last full window.
    let at = (NOW / 10_000 + 3) * 10_000;
    assert_eq!(
        a.rate(dst, at),
        Some(Rate {
            bps: 10_000_000,
            pps: 1_000
        })
    );
    // A burst within the current window counts fully; the previous window fades out.
    a.observe(&flow(src, dst, 17, 12_500_000, 10_000), at);
    assert_eq!(
        a.rate(dst, at),
        Some(Rate {
            bps: 20_000_000,
            pps: 2_000
        })
    );
    assert_eq!(
        a.rate(dst, at + 5_000),
        Some(Rate {
            bps: 15_000_000,
            pps: 1_500
        })
    );
    // Two windows later everything seen has left the window; the IP is still known, with its age.
    let later = a.snapshot(dst, at + 20_000).unwrap();
    assert_eq!(later.rate, Rate::default());
    assert_eq!(later.last_seen_ms, at);
    assert_eq!(a.rate(v4(203, 0, 113, 2), at), None);
}

#[test]
fn top_protocols_and_sources_per_destination() {
    let mut a = Aggregator::new(AggregatorConfig::default());
    let dst = v6("2001:db8::1");
    let s = |n| v4(198, 51, 100, n);
    a.observe(&flow(s(1), dst, 17, 9_000, 1), NOW);
    a.observe(&flow(s(2), dst, 6, 3_000, 1), NOW);
    a.observe(&flow(s(3), dst, 1, 1_000, 1), NOW);
    a.observe(&flow(s(4), dst, 17, 500, 1), NOW);
    a.observe(&flow(s(1), dst, 17, 1_000, 1), NOW);
    let snap = a.snapshot(dst, NOW).unwrap();
    assert_eq!(
        snap.top_protocols,
        vec![(17, 10_500), (6, 3_000), (1, 1_000)]
    );
    // s(4) displaced the smallest (s(3), 1 000) and inherited its count: space-saving.
    assert_eq!(
        snap.top_sources,
        vec![(s(1), 10_000), (s(2), 3_000), (s(4), 1_500)]
    );
    // A window later the counts are halved, so a new attacker can overtake them.
    let next = NOW + 10_000;
    a.observe(&flow(s(9), dst, 6, 8_000, 1), next);
    let snap = a.snapshot(dst, next).unwrap();
    assert_eq!(snap.top_protocols.first(), Some(&(6, 9_500)));
    assert_eq!(snap.top_sources.first(), Some(&(s(9), 8_750)));
}

#[test]
fn tracked_ips_are_bounded_evicting_the_least_recently_seen() {
    let mut a = Aggregator::new(AggregatorConfig {
        window_secs: 10,
        max_ips: 3,
    });
    let src = v4(198, 51, 100, 1);
    for n in 1..=3u8 {
        a.observe(
            &flow(src, v4(203, 0, 113, n), 6, 100, 1),
            NOW + i64::from(n),
        );
    }
    // .1 is seen again, so .2 is now the least recent.
    a.observe(&flow(src, v4(203, 0, 113, 1), 6, 100, 1), NOW + 10);
    a.observe(&flow(src, v4(203, 0, 113, 4), 6, 100, 1), NOW + 11);
    assert_eq!(a.tracked(), 3);
    assert_eq!(a.evicted(), 1);
    assert_eq!(a.rate(v4(203, 0, 113, 2), NOW + 11), None);
    assert!(a.rate(v4(203, 0, 113, 1), NOW + 11).is_some());
    assert_eq!(a.rates(NOW + 11).count(), 3);
}

#[test]
fn a_tracked_ip_costs_at_most_200_bytes_in_the_table() {
    eprintln!("bytes per tracked IP: {BYTES_PER_TRACKED_IP}");
    const { assert!(BYTES_PER_TRACKED_IP <= 200) };
}

/// DDOS-2: the short in-suite run of the dedicated fuzzer (`warden fuzz flows` runs a million
/// or more): mutations of the real exporters' datagrams never panic, every packet is accounted
/// for, the bounds hold, and the unmutated ones among them still decode.
#[test]
fn the_fuzzer_over_the_real_exporters_corpus_finds_no_panic() {
    let corpus: Vec<&[u8]> = warden_flow::fuzz::CORPUS.iter().map(|(_, b)| *b).collect();
    assert_eq!(corpus.len(), 4, "netflow5, netflow9, ipfix, sflow5");
    let report = warden_flow::fuzz::run(&corpus, 20_000, 7, |_, _| {});
    assert_eq!(report.counters.packets_received, 20_000);
    assert!(accounted(&report.counters), "{:?}", report.counters);
    assert!(report.records > 0, "nothing decoded: {report:?}");
    assert!(report.templates <= CollectorConfig::default().max_templates_per_exporter);
    // Deterministic: the same seed, the same run.
    assert_eq!(
        warden_flow::fuzz::run(&corpus, 2_000, 7, |_, _| {}),
        warden_flow::fuzz::run(&corpus, 2_000, 7, |_, _| {})
    );
}

// ---------------------------------------------------------------- outbound (HARM-1)

fn outbound(max_ips: usize) -> OutboundAggregator {
    OutboundAggregator::new(OutboundConfig {
        window_secs: 10,
        max_ips,
    })
}

/// The n-th host of a /16 of documentation-like space, for peer counts beyond a /24.
fn host(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0xc633_0000 | n)) // 198.51.0.0/16
}

#[test]
fn a_local_source_has_its_outbound_rate_and_the_hosts_it_talks_to() {
    let mut o = outbound(10);
    let src = v4(203, 0, 113, 9);
    // 1 250 000 bytes and 1 000 packets a second to the same three hosts: 10 Mbit/s, 3 peers.
    for s in 0..30 {
        let dst = v4(198, 51, 100, (s % 3) as u8 + 1);
        o.observe(&flow(src, dst, 6, 1_250_000, 1_000), NOW + s * 1000);
    }
    let at = (NOW / 10_000 + 3) * 10_000;
    let snap = o.snapshot(src, at).unwrap();
    assert_eq!(
        snap.rate,
        Rate {
            bps: 10_000_000,
            pps: 1_000
        }
    );
    assert_eq!(snap.peers, 3);
    assert_eq!(o.snapshot(v4(203, 0, 113, 8), at), None);
    // Two windows on, nothing is left in the window; the source is still known, with its age.
    let later = o.snapshot(src, at + 20_000).unwrap();
    assert_eq!((later.rate, later.peers), (Rate::default(), 0));
    assert_eq!(later.last_seen_ms, NOW + 29_000);
}

#[test]
fn peers_are_counted_once_across_the_two_windows_and_fade_like_the_rate() {
    let start = (NOW / 10_000 + 1) * 10_000;
    let src = v4(203, 0, 113, 9);
    // Ten hosts are counted exactly (no two share a bit).
    let mut o = outbound(10);
    for n in 0..10 {
        o.observe(&flow(src, host(n), 17, 100, 1), start + 1);
    }
    assert_eq!(o.snapshot(src, start + 9_999).unwrap().peers, 10);
    // 40 hosts in one window (estimated 42: the hash is fixed, so the figures are too), then
    // nothing new: half a window later half of them remain.
    let mut o = outbound(10);
    for n in 0..40 {
        o.observe(&flow(src, host(n), 17, 100, 1), start + 1);
    }
    assert_eq!(o.snapshot(src, start + 9_999).unwrap().peers, 42);
    assert_eq!(o.snapshot(src, start + 15_000).unwrap().peers, 21);
    // The same 40 hosts again in the next window are not counted twice.
    for n in 0..40 {
        o.observe(&flow(src, host(n), 17, 100, 1), start + 10_001);
    }
    assert_eq!(o.snapshot(src, start + 15_000).unwrap().peers, 42);
    // 40 new ones are: all 40 of this window and half of the 40 of the one before (42 + 17).
    for n in 100..140 {
        o.observe(&flow(src, host(n), 17, 100, 1), start + 20_001);
    }
    assert_eq!(o.snapshot(src, start + 25_000).unwrap().peers, 59);
}

#[test]
fn a_scan_is_counted_within_the_linear_counting_error_and_saturates_at_the_ceiling() {
    let start = (NOW / 10_000 + 1) * 10_000;
    let src = v4(203, 0, 113, 9);
    for (hosts, expected) in [(100u32, 100u64), (1_000, 957), (2_000, 2_015)] {
        let mut o = outbound(10);
        for n in 0..hosts {
            o.observe(&flow(src, host(n), 6, 60, 1), start);
        }
        let peers = o.snapshot(src, start + 9_999).unwrap().peers;
        // Pinned (the hash is fixed) and within three standard errors of the truth
        // (sqrt(m(e^t - t - 1)) / n, m = 512, t = n/m: 3.3 %, 4.6 %, 7.8 %).
        assert_eq!(peers, expected, "{hosts} hosts");
        let t = f64::from(hosts) / 512.0;
        let se = (512.0 * (t.exp() - t - 1.0)).sqrt();
        assert!(
            (peers as f64 - f64::from(hosts)).abs() <= 3.0 * se,
            "{hosts}: {peers}"
        );
    }
    let mut o = outbound(10);
    for n in 0..50_000 {
        o.observe(&flow(src, host(n), 6, 60, 1), start);
    }
    assert_eq!(o.snapshot(src, start + 9_999).unwrap().peers, MAX_PEERS);
}

#[test]
fn tracked_sources_are_bounded_evicting_the_least_recently_seen() {
    let mut o = outbound(3);
    let dst = v4(198, 51, 100, 1);
    for n in 1..=3u8 {
        o.observe(
            &flow(v4(203, 0, 113, n), dst, 6, 100, 1),
            NOW + i64::from(n),
        );
    }
    o.observe(&flow(v4(203, 0, 113, 1), dst, 6, 100, 1), NOW + 10);
    o.observe(&flow(v4(203, 0, 113, 4), dst, 6, 100, 1), NOW + 11);
    assert_eq!((o.tracked(), o.evicted()), (3, 1));
    assert_eq!(o.snapshot(v4(203, 0, 113, 2), NOW + 11), None);
    eprintln!("bytes per tracked source: {BYTES_PER_TRACKED_SOURCE}");
    const { assert!(BYTES_PER_TRACKED_SOURCE <= 200) };
}

// ---------------------------------------------------------------- tables and ticks

fn tables(local: &[&str], floor: u64) -> FlowTables {
    FlowTables::new(TablesConfig {
        window_secs: 10,
        max_ips: 100,
        local_prefixes: local.iter().map(|p| p.parse().unwrap()).collect(),
        noise_floor_bps: floor,
        quiet_interval_ms: 5_000,
        quiet_hold_ms: 60_000,
    })
}

fn ips(rates: &[IpRates]) -> Vec<IpAddr> {
    rates.iter().map(|r| r.ip).collect()
}

#[test]
fn local_prefixes_split_inbound_from_outbound_and_one_ip_gets_both() {
    let mut t = tables(&["203.0.113.0/24"], 0);
    let (local, remote) = (v4(203, 0, 113, 5), v4(198, 51, 100, 7));
    let at = (NOW / 10_000 + 1) * 10_000;
    t.observe(&flow(remote, local, 17, 1_250_000, 1_000), at);
    t.observe(&flow(local, remote, 6, 125_000, 100), at);
    // Neither end local: counted nowhere.
    t.observe(&flow(remote, v4(192, 0, 2, 9), 6, 999, 1), at);
    let r = t.tick(at + 9_999);
    assert_eq!(
        r,
        vec![IpRates {
            ip: local,
            inbound: Rate {
                bps: 1_000_000,
                pps: 100
            },
            outbound: Rate {
                bps: 100_000,
                pps: 10
            },
            out_peers: 1,
            top_protocols: vec![(17, 1_250_000)],
            top_sources: vec![(remote, 1_250_000)],
        }]
    );
    assert_eq!((t.inbound().tracked(), t.outbound().tracked()), (1, 1));

    // Without local prefixes every destination is inbound and nothing outbound.
    let mut t = tables(&[], 0);
    t.observe(&flow(local, remote, 6, 125_000, 100), at);
    let r = t.tick(at + 9_999);
    assert_eq!(ips(&r), vec![remote]);
    assert_eq!((r[0].outbound, r[0].out_peers), (Rate::default(), 0));
    assert_eq!(t.outbound().tracked(), 0);
}

#[test]
fn only_loud_ips_are_written_and_a_quiet_one_keeps_a_sample_until_it_is_unseen() {
    // Floor 1 Mbit/s over a 10 s window: 1 250 000 bytes in the window.
    let mut t = tables(&["203.0.113.0/24"], 1_000_000);
    let (loud, quiet, src) = (v4(203, 0, 113, 1), v4(203, 0, 113, 2), v4(198, 51, 100, 7));
    let at = (NOW / 10_000 + 1) * 10_000;
    t.observe(&flow(src, loud, 17, 1_250_000, 1_000), at);
    t.observe(&flow(src, quiet, 17, 1_000, 1), at);
    assert_eq!(ips(&t.tick(at + 1_000)), vec![loud]);
    // The attack stops but the IP is still seen: written again, at the quiet interval.
    let next = at + 10_000;
    t.observe(&flow(src, loud, 17, 1_000, 1), next);
    t.observe(&flow(src, quiet, 17, 1_000, 1), next);
    let r = t.tick(next + 5_000);
    assert_eq!(
        ips(&r),
        vec![loud],
        "the window still holds half the attack"
    );
    let r = t.tick(next + 9_999);
    assert_eq!(ips(&r), Vec::<IpAddr>::new(), "quiet, written 4 999 ms ago");
    let r = t.tick(next + 10_000 + 1);
    assert_eq!(r.len(), 0, "not seen within the window: unknown, not zero");
    // Once unseen it is forgotten: a later quiet sighting is not written.
    t.observe(&flow(src, loud, 17, 1_000, 1), next + 20_000);
    assert_eq!(t.tick(next + 26_000).len(), 0);
}

#[test]
fn a_quiet_ip_is_written_every_quiet_interval_while_seen_and_the_hold_lasts() {
    let mut t = tables(&["203.0.113.0/24"], 1_000_000);
    let (ip, src) = (v4(203, 0, 113, 1), v4(198, 51, 100, 7));
    let at = (NOW / 10_000 + 1) * 10_000;
    t.observe(&flow(src, ip, 17, 12_500_000, 10_000), at);
    assert_eq!(t.tick(at).len(), 1);
    let mut written = Vec::new();
    // Seen every second afterwards with a trickle, ticked every second for 90 s.
    for s in 1..=90 {
        let now = at + s * 1000;
        t.observe(&flow(src, ip, 17, 100, 1), now);
        if !t.tick(now).is_empty() {
            written.push(s);
        }
    }
    // Loud while the burst is in the window (to 19 s), then every 5 s until 60 s after the
    // last loud tick.
    let mut expected: Vec<i64> = (1..=19).collect();
    expected.extend([24, 29, 34, 39, 44, 49, 54, 59, 64, 69, 74, 79]);
    assert_eq!(written, expected);
}

#[test]
fn a_sampling_override_replaces_what_the_exporter_declares() {
    let mut c = Collector::new(CollectorConfig {
        allowed_exporters: vec!["192.0.2.0/24".parse().unwrap()],
        sampling_overrides: vec![("192.0.2.1/32".parse().unwrap(), 100)],
        ..CollectorConfig::default()
    });
    let f = SynthFlow {
        src: Ipv4Addr::new(198, 51, 100, 1),
        dst: Ipv4Addr::new(203, 0, 113, 1),
        src_port: 53,
        dst_port: 4444,
        protocol: 17,
        bytes: 1_500,
        packets: 1,
    };
    let r = c.ingest(exporter(), &synth::netflow_v5(&[f], 1, 1_700_000_000), NOW);
    assert_eq!(
        (r[0].bytes, r[0].packets, r[0].sampling),
        (150_000, 100, 100)
    );
    // Another exporter of the allow-list keeps what it declares (1 in 1 here).
    let r = c.ingest(
        v4(192, 0, 2, 2),
        &synth::netflow_v5(&[f], 1, 1_700_000_000),
        NOW,
    );
    assert_eq!((r[0].bytes, r[0].packets, r[0].sampling), (1_500, 1, 1));
}

#[test]
fn synthetic_datagrams_of_every_format_decode_to_their_flows() {
    let flows: Vec<SynthFlow> = (0..20u8)
        .map(|n| SynthFlow {
            src: Ipv4Addr::new(198, 51, 100, n),
            dst: Ipv4Addr::new(203, 0, 113, 5),
            src_port: 1000 + u16::from(n),
            dst_port: 80,
            protocol: if n % 2 == 0 { 17 } else { 6 },
            bytes: 1_500 * (u32::from(n) + 1),
            packets: u32::from(n) + 1,
        })
        .collect();
    let secs = 1_700_000_000u32;
    let mut c = collector();
    let check = |r: &[FlowRecord], format: FlowFormat| {
        assert_eq!(r.len(), flows.len(), "{format:?}");
        for (r, f) in r.iter().zip(&flows) {
            assert_eq!(r.format, format);
            assert_eq!((r.src, r.dst), (IpAddr::V4(f.src), IpAddr::V4(f.dst)));
            assert_eq!(
                (r.src_port, r.dst_port, r.protocol),
                (f.src_port, f.dst_port, f.protocol)
            );
            assert_eq!(
                (r.bytes, r.packets),
                (u64::from(f.bytes), u64::from(f.packets))
            );
            assert_eq!(r.sampling, 1);
        }
    };
    check(
        &c.ingest(exporter(), &synth::netflow_v5(&flows, 1, secs), NOW),
        FlowFormat::NetflowV5,
    );
    check(
        &c.ingest(
            exporter(),
            &synth::netflow_v9(&flows, 1, secs, 7, true),
            NOW,
        ),
        FlowFormat::NetflowV9,
    );
    // Data without the template again: decoded with the cached one.
    check(
        &c.ingest(
            exporter(),
            &synth::netflow_v9(&flows, 2, secs, 7, false),
            NOW,
        ),
        FlowFormat::NetflowV9,
    );
    check(
        &c.ingest(exporter(), &synth::ipfix(&flows, 1, secs, 7, true), NOW),
        FlowFormat::Ipfix,
    );
    let r = c.ingest(
        exporter(),
        &synth::sflow_v5(&flows, 1, 1000, Ipv4Addr::new(192, 0, 2, 1)),
        NOW,
    );
    assert_eq!(r.len(), flows.len());
    for (r, f) in r.iter().zip(&flows) {
        assert_eq!(
            (r.src, r.dst, r.protocol),
            (IpAddr::V4(f.src), IpAddr::V4(f.dst), f.protocol)
        );
        assert_eq!((r.packets, r.sampling), (1000, 1000));
        assert_eq!(
            r.bytes,
            1_500 * 1000,
            "each sample is one 1 500-byte frame of 1 000"
        );
    }
    assert_eq!(c.counters().packets_decoded, 5);
    assert_eq!(c.counters().records_decoded, 5 * flows.len() as u64);
}
