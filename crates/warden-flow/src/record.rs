//! What a decoder hands out: one flow, already scaled by its sampling interval.

use std::net::IpAddr;

/// The export format a record was decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowFormat {
    /// Cisco NetFlow version 5 (fixed 48-byte records).
    NetflowV5,
    /// NetFlow version 9 (RFC 3954).
    NetflowV9,
    /// IPFIX (RFC 7011).
    Ipfix,
    /// sFlow version 5, a flow sample with a raw packet header.
    SflowV5,
}

/// One decoded flow. `bytes` and `packets` are already multiplied by `sampling`, so they
/// estimate the real traffic; divide by `sampling` to get what the exporter reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRecord {
    /// The format it came in.
    pub format: FlowFormat,
    /// The exporter's address as the caller saw it (the UDP source), not as the packet claims.
    pub exporter: IpAddr,
    /// NetFlow v9 source id, IPFIX observation domain, sFlow sub-agent id, or for NetFlow v5
    /// `engine_type << 8 | engine_id`.
    pub domain: u32,
    /// Source address.
    pub src: IpAddr,
    /// Destination address: the address whose inbound rate the aggregator tracks.
    pub dst: IpAddr,
    /// Source transport port (0 when the protocol has none).
    pub src_port: u16,
    /// Destination transport port (0 when the protocol has none).
    pub dst_port: u16,
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP...).
    pub protocol: u8,
    /// Estimated bytes: reported bytes times `sampling`.
    pub bytes: u64,
    /// Estimated packets: reported packets times `sampling`.
    pub packets: u64,
    /// The sampling interval applied (1 = unsampled).
    pub sampling: u32,
    /// Flow start, milliseconds since the Unix epoch, when the format carries it.
    pub start_ms: Option<i64>,
    /// Flow end, milliseconds since the Unix epoch, when the format carries it.
    pub end_ms: Option<i64>,
}
