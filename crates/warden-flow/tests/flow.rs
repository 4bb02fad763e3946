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

use warden_flow::{
    Aggregator, AggregatorConfig, BYTES_PER_TRACKED_IP, Collector, CollectorConfig, Counters,
    FlowFormat, FlowRecord, Rate,
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
