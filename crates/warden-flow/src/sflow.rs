//! sFlow version 5 (sflow.org/sflow_version_5.txt). A datagram carries samples; a flow sample
//! carries flow records, of which the raw packet header (format 1) is the one every agent sends:
//! the first bytes of one sampled packet. Its Ethernet / IPv4 / IPv6 / TCP / UDP headers are
//! parsed here, and the packet stands for `sampling_rate` packets of its frame length. Counter
//! samples and other record formats are parsed past by their declared length, never read.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::collector::Ctx;
use crate::reader::{Malformed, R, Reader};
use crate::record::{FlowFormat, FlowRecord};

const FLOW_SAMPLE: u32 = 1;
const COUNTER_SAMPLE: u32 = 2;
const EXPANDED_FLOW_SAMPLE: u32 = 3;
const EXPANDED_COUNTER_SAMPLE: u32 = 4;
const RAW_PACKET_HEADER: u32 = 1;

const HEADER_ETHERNET: u32 = 1;
const HEADER_IPV4: u32 = 11;
const HEADER_IPV6: u32 = 12;

/// IPv6 extension headers followed before giving up on the transport header.
const MAX_IPV6_EXTENSIONS: usize = 4;
/// 802.1Q / 802.1ad tags followed (QinQ).
const MAX_VLAN_TAGS: usize = 2;

pub(crate) fn decode(ctx: &mut Ctx<'_>, buf: &[u8]) -> R<()> {
    let mut r = Reader::new(buf);
    let _version = r.u32()?;
    match r.u32()? {
        1 => r.skip(4)?,
        2 => r.skip(16)?,
        _ => return Err(Malformed::Garbage),
    }
    let sub_agent = r.u32()?;
    let _sequence = r.u32()?;
    let _uptime = r.u32()?;
    let samples = r.u32()?;
    // Every sample takes at least its 8-byte header, so the loop ends with the data.
    for _ in 0..samples {
        let format = r.u32()?;
        let len = usize::try_from(r.u32()?).map_err(|_| Malformed::Garbage)?;
        let mut sample = r.sub(len)?;
        let (enterprise, format) = (format >> 12, format & 0xfff);
        match (enterprise, format) {
            (0, FLOW_SAMPLE) => flow_sample(ctx, sub_agent, &mut sample, false)?,
            (0, EXPANDED_FLOW_SAMPLE) => flow_sample(ctx, sub_agent, &mut sample, true)?,
            (0, COUNTER_SAMPLE | EXPANDED_COUNTER_SAMPLE) => {
                ctx.counters.sflow_counter_samples += 1
            }
            _ => ctx.counters.sflow_skipped += 1,
        }
    }
    Ok(())
}

fn flow_sample(ctx: &mut Ctx<'_>, domain: u32, s: &mut Reader<'_>, expanded: bool) -> R<()> {
    let _sequence = s.u32()?;
    s.skip(if expanded { 8 } else { 4 })?; // source id (type, index)
    let rate = s.u32()?.max(1);
    let _pool = s.u32()?;
    let _drops = s.u32()?;
    s.skip(if expanded { 16 } else { 8 })?; // input and output interface
    let records = s.u32()?;
    for _ in 0..records {
        let format = s.u32()?;
        let len = usize::try_from(s.u32()?).map_err(|_| Malformed::Garbage)?;
        // Records are padded to four bytes inside their declared length.
        let mut rec = s.sub(len)?;
        if format != RAW_PACKET_HEADER {
            ctx.counters.sflow_skipped += 1;
            continue;
        }
        let protocol = rec.u32()?;
        let frame_len = rec.u32()?;
        let _stripped = rec.u32()?;
        let header_len = usize::try_from(rec.u32()?).map_err(|_| Malformed::Garbage)?;
        let header = rec.bytes(header_len)?;
        let Some(packet) = parse_header(protocol, header) else {
            ctx.counters.sflow_headers_unparsed += 1;
            continue;
        };
        ctx.push(FlowRecord {
            format: FlowFormat::SflowV5,
            exporter: ctx.exporter,
            domain,
            src: packet.src,
            dst: packet.dst,
            src_port: packet.src_port,
            dst_port: packet.dst_port,
            protocol: packet.protocol,
            bytes: u64::from(frame_len).saturating_mul(u64::from(rate)),
            packets: u64::from(rate),
            sampling: rate,
            start_ms: None,
            end_ms: None,
        });
    }
    Ok(())
}

#[derive(Debug)]
struct Packet {
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    src_port: u16,
    dst_port: u16,
}

fn parse_header(protocol: u32, header: &[u8]) -> Option<Packet> {
    let mut r = Reader::new(header);
    match protocol {
        HEADER_ETHERNET => {
            r.skip(12).ok()?; // destination and source MAC
            let mut ethertype = r.u16().ok()?;
            for _ in 0..MAX_VLAN_TAGS {
                if ethertype != 0x8100 && ethertype != 0x88a8 {
                    break;
                }
                r.skip(2).ok()?; // tag control
                ethertype = r.u16().ok()?;
            }
            match ethertype {
                0x0800 => ipv4(r),
                0x86dd => ipv6(r),
                _ => None,
            }
        }
        HEADER_IPV4 => ipv4(r),
        HEADER_IPV6 => ipv6(r),
        _ => None,
    }
}

fn ipv4(mut r: Reader<'_>) -> Option<Packet> {
    let ver_ihl = r.u8().ok()?;
    if ver_ihl >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(ver_ihl & 0x0f) * 4;
    if ihl < 20 {
        return None;
    }
    r.skip(5).ok()?; // TOS, total length, identification
    let fragment = r.u16().ok()? & 0x1fff;
    r.skip(1).ok()?; // TTL
    let protocol = r.u8().ok()?;
    r.skip(2).ok()?; // checksum
    let src = IpAddr::V4(Ipv4Addr::from(r.array::<4>().ok()?));
    let dst = IpAddr::V4(Ipv4Addr::from(r.array::<4>().ok()?));
    // Later fragments carry no transport header; options may be cut off by the snap length.
    let ports = if fragment == 0 {
        r.skip(ihl - 20).ok().and_then(|()| ports(protocol, r))
    } else {
        None
    };
    let (src_port, dst_port) = ports.unwrap_or((0, 0));
    Some(Packet {
        src,
        dst,
        protocol,
        src_port,
        dst_port,
    })
}

fn ipv6(mut r: Reader<'_>) -> Option<Packet> {
    if r.u8().ok()? >> 4 != 6 {
        return None;
    }
    r.skip(5).ok()?; // traffic class, flow label, payload length
    let mut next = r.u8().ok()?;
    r.skip(1).ok()?; // hop limit
    let src = IpAddr::V6(Ipv6Addr::from(r.array::<16>().ok()?));
    let dst = IpAddr::V6(Ipv6Addr::from(r.array::<16>().ok()?));
    let mut transport = Some(r);
    for _ in 0..MAX_IPV6_EXTENSIONS {
        let Some(mut ext) = transport else { break };
        transport = match next {
            // hop-by-hop, routing, destination options: length in 8-byte units beyond the first
            0 | 43 | 60 => ext.u8().ok().zip(ext.u8().ok()).and_then(|(n, len)| {
                next = n;
                ext.skip(usize::from(len) * 8 + 6).ok().map(|()| ext)
            }),
            // fragment: fixed 8 bytes; only the first fragment has ports
            44 => ext.u8().ok().zip(ext.u8().ok()).and_then(|(n, _)| {
                next = n;
                let offset = ext.u16().ok()? >> 3;
                ext.skip(4).ok()?;
                (offset == 0).then_some(ext)
            }),
            _ => break,
        };
    }
    let (src_port, dst_port) = transport
        .filter(|_| !matches!(next, 0 | 43 | 44 | 60))
        .and_then(|t| ports(next, t))
        .unwrap_or((0, 0));
    Some(Packet {
        src,
        dst,
        protocol: next,
        src_port,
        dst_port,
    })
}

/// TCP, UDP, SCTP and UDP-Lite all start with source and destination port.
fn ports(protocol: u8, mut r: Reader<'_>) -> Option<(u16, u16)> {
    matches!(protocol, 6 | 17 | 132 | 136).then_some(())?;
    Some((r.u16().ok()?, r.u16().ok()?))
}
