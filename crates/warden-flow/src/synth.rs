//! Flow export datagrams built from flows, for the system tests and `warden bench flows`: each
//! format laid out as exporters send it (softflowd's NetFlow v5/v9 and IPFIX field sets,
//! an sFlow agent's raw-header flow samples), so a test can replay "an attack" without a pcap
//! and the bench can decode realistic datagrams. IPv4 only; nothing here reads input.

use std::net::Ipv4Addr;

/// One flow to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynthFlow {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// IP protocol (17 UDP, 6 TCP...).
    pub protocol: u8,
    /// Bytes the exporter counted (in sFlow: the sampled frame's length times `packets`).
    pub bytes: u32,
    /// Packets the exporter counted (in sFlow: one sample per flow; see [`sflow_v5`]).
    pub packets: u32,
}

/// Most flows in one NetFlow v5 datagram (Cisco's limit).
pub const V5_MAX: usize = 30;
/// The template id the v9 and IPFIX builders use.
pub const TEMPLATE_ID: u16 = 256;
/// Bytes of one v9 record ([`netflow_v9`]'s template).
pub const V9_RECORD: usize = 4 + 4 + 2 + 2 + 1 + 4 + 4 + 4 + 4;
/// Bytes of one IPFIX record ([`ipfix`]'s template).
pub const IPFIX_RECORD: usize = 4 + 4 + 2 + 2 + 1 + 8 + 8 + 8 + 8;

#[derive(Debug, Default)]
struct B(Vec<u8>);

impl B {
    fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn ip(&mut self, ip: Ipv4Addr) -> &mut Self {
        self.0.extend_from_slice(&ip.octets());
        self
    }
    /// Appends a set: id, the length including its 4-byte header, the body.
    fn set(&mut self, id: u16, body: &[u8]) -> &mut Self {
        self.u16(id)
            .u16(u16::try_from(body.len() + 4).unwrap_or(u16::MAX));
        self.0.extend_from_slice(body);
        self
    }
}

/// The exporter's uptime at `unix_secs` in these packets: a day, so flow times stay positive.
const UPTIME_MS: u32 = 86_400_000;

/// A NetFlow v5 datagram of the first [`V5_MAX`] `flows`, exported at `unix_secs`, flows
/// lasting the second before.
pub fn netflow_v5(flows: &[SynthFlow], sequence: u32, unix_secs: u32) -> Vec<u8> {
    let flows = flows.get(..flows.len().min(V5_MAX)).unwrap_or_default();
    let mut b = B::default();
    b.u16(5)
        .u16(flows.len() as u16)
        .u32(UPTIME_MS)
        .u32(unix_secs)
        .u32(0)
        .u32(sequence)
        .u8(0)
        .u8(0)
        .u16(0);
    for f in flows {
        b.ip(f.src)
            .ip(f.dst)
            .ip(Ipv4Addr::UNSPECIFIED)
            .u16(1)
            .u16(2)
            .u32(f.packets)
            .u32(f.bytes)
            .u32(UPTIME_MS - 1000)
            .u32(UPTIME_MS)
            .u16(f.src_port)
            .u16(f.dst_port)
            .u8(0)
            .u8(0)
            .u8(f.protocol)
            .u8(0)
            .u16(0)
            .u16(0)
            .u8(24)
            .u8(24)
            .u16(0);
    }
    b.0
}

/// A NetFlow v9 datagram from `source_id`: the template flowset first when `with_template`
/// (exporters resend it every so often), then one data flowset of `flows` (softflowd's fields:
/// addresses, ports, protocol, octets, packets, first and last switched).
pub fn netflow_v9(
    flows: &[SynthFlow],
    sequence: u32,
    unix_secs: u32,
    source_id: u32,
    with_template: bool,
) -> Vec<u8> {
    let mut b = B::default();
    let count = flows.len() + usize::from(with_template);
    b.u16(9)
        .u16(count as u16)
        .u32(UPTIME_MS)
        .u32(unix_secs)
        .u32(sequence)
        .u32(source_id);
    if with_template {
        let mut t = B::default();
        t.u16(TEMPLATE_ID).u16(9);
        for (id, len) in [
            (8, 4),
            (12, 4),
            (7, 2),
            (11, 2),
            (4, 1),
            (1, 4),
            (2, 4),
            (22, 4),
            (21, 4),
        ] {
            t.u16(id).u16(len);
        }
        b.set(0, &t.0);
    }
    if !flows.is_empty() {
        let mut d = B::default();
        for f in flows {
            d.ip(f.src)
                .ip(f.dst)
                .u16(f.src_port)
                .u16(f.dst_port)
                .u8(f.protocol)
                .u32(f.bytes)
                .u32(f.packets)
                .u32(UPTIME_MS - 1000)
                .u32(UPTIME_MS);
        }
        while d.0.len() % 4 != 0 {
            d.u8(0);
        }
        b.set(TEMPLATE_ID, &d.0);
    }
    b.0
}

/// An IPFIX message from observation domain `domain`: the template set first when
/// `with_template`, then one data set of `flows` (softflowd's IPFIX fields: 64-bit counters and
/// millisecond flow times).
pub fn ipfix(
    flows: &[SynthFlow],
    sequence: u32,
    unix_secs: u32,
    domain: u32,
    with_template: bool,
) -> Vec<u8> {
    let mut sets = B::default();
    if with_template {
        let mut t = B::default();
        t.u16(TEMPLATE_ID).u16(9);
        for (id, len) in [
            (8, 4),
            (12, 4),
            (7, 2),
            (11, 2),
            (4, 1),
            (1, 8),
            (2, 8),
            (152, 8),
            (153, 8),
        ] {
            t.u16(id).u16(len);
        }
        sets.set(2, &t.0);
    }
    if !flows.is_empty() {
        let end_ms = u64::from(unix_secs) * 1000;
        let mut d = B::default();
        for f in flows {
            d.ip(f.src)
                .ip(f.dst)
                .u16(f.src_port)
                .u16(f.dst_port)
                .u8(f.protocol)
                .u64(u64::from(f.bytes))
                .u64(u64::from(f.packets))
                .u64(end_ms - 1000)
                .u64(end_ms);
        }
        sets.set(TEMPLATE_ID, &d.0);
    }
    let mut b = B::default();
    b.u16(10)
        .u16(u16::try_from(16 + sets.0.len()).unwrap_or(u16::MAX))
        .u32(unix_secs)
        .u32(sequence)
        .u32(domain);
    b.0.extend_from_slice(&sets.0);
    b.0
}

/// Bytes of the raw packet header each sFlow sample carries (Ethernet, IPv4, UDP or TCP and
/// payload, as agents truncate to a configured header size; 128 is the usual default).
pub const SFLOW_HEADER: usize = 128;

/// An sFlow v5 datagram from `agent`: one flow sample per flow, sampling 1 in
/// `sampling_rate`, each with a raw header of the sampled frame (its length `bytes / packets`).
pub fn sflow_v5(
    flows: &[SynthFlow],
    sequence: u32,
    sampling_rate: u32,
    agent: Ipv4Addr,
) -> Vec<u8> {
    let mut b = B::default();
    b.u32(5)
        .u32(1)
        .ip(agent)
        .u32(0)
        .u32(sequence)
        .u32(UPTIME_MS)
        .u32(flows.len() as u32);
    for (i, f) in flows.iter().enumerate() {
        let frame_len = (f.bytes / f.packets.max(1)).max(64);
        let mut header = B::default();
        header
            .u32(0x0200_0000)
            .u16(0x0001)
            .u32(0x0200_0000)
            .u16(0x0002)
            .u16(0x0800);
        let ip_len = u16::try_from(frame_len - 14).unwrap_or(u16::MAX);
        header
            .u8(0x45)
            .u8(0)
            .u16(ip_len)
            .u16(0)
            .u16(0x4000)
            .u8(64)
            .u8(f.protocol)
            .u16(0)
            .ip(f.src)
            .ip(f.dst)
            .u16(f.src_port)
            .u16(f.dst_port);
        header.0.resize(SFLOW_HEADER, 0);
        let mut record = B::default();
        record
            .u32(1) // ethernet
            .u32(frame_len)
            .u32(4) // stripped (FCS)
            .u32(SFLOW_HEADER as u32);
        record.0.extend_from_slice(&header.0);
        let mut sample = B::default();
        sample
            .u32(sequence.wrapping_mul(64).wrapping_add(i as u32))
            .u32(3) // source id: ifIndex 3
            .u32(sampling_rate)
            .u32(sampling_rate.wrapping_mul(sequence))
            .u32(0)
            .u32(3)
            .u32(4)
            .u32(1) // one record
            .u32(1) // raw packet header
            .u32(record.0.len() as u32);
        sample.0.extend_from_slice(&record.0);
        b.u32(1).u32(sample.0.len() as u32);
        b.0.extend_from_slice(&sample.0);
    }
    b.0
}
