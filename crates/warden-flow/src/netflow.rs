//! NetFlow v5, NetFlow v9 (RFC 3954) and IPFIX (RFC 7011). v9 and IPFIX share the template
//! machinery and the field numbers (IPFIX information elements 1..=127 are the v9 field types);
//! they differ in header layout, set ids, enterprise fields, variable-length fields, withdrawal
//! and how times are expressed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::collector::Ctx;
use crate::reader::{Malformed, R, Reader, be_uint};
use crate::record::{FlowFormat, FlowRecord};
use crate::template::{Field, Key, Proto, Template, VARLEN};

/// Cisco documents at most 30 records per v5 datagram.
const V5_MAX_COUNT: u16 = 30;
const V5_HEADER: usize = 24;
const V5_RECORD: usize = 48;

pub(crate) fn decode_v5(ctx: &mut Ctx<'_>, buf: &[u8]) -> R<()> {
    let mut r = Reader::new(buf);
    let _version = r.u16()?;
    let count = r.u16()?;
    let uptime = r.u32()?;
    let secs = r.u32()?;
    let nsecs = r.u32()?;
    let _sequence = r.u32()?;
    let engine_type = r.u8()?;
    let engine_id = r.u8()?;
    let sampling = r.u16()?;
    if count > V5_MAX_COUNT {
        return Err(Malformed::Garbage);
    }
    if buf.len() < V5_HEADER + V5_RECORD * usize::from(count) {
        return Err(Malformed::Truncated);
    }
    // The low 14 bits are the interval; the top two the sampling mode.
    let interval = u32::from(sampling & 0x3fff).max(1);
    let export_ms = i64::from(secs) * 1000 + i64::from(nsecs) / 1_000_000;
    let domain = u32::from(engine_type) << 8 | u32::from(engine_id);
    for _ in 0..count {
        let mut rec = r.sub(V5_RECORD)?;
        let src = Ipv4Addr::from(rec.array::<4>()?);
        let dst = Ipv4Addr::from(rec.array::<4>()?);
        rec.skip(4 + 2 + 2)?; // next hop, input and output interface
        let packets = rec.u32()?;
        let octets = rec.u32()?;
        let first = rec.u32()?;
        let last = rec.u32()?;
        let src_port = rec.u16()?;
        let dst_port = rec.u16()?;
        rec.skip(2)?; // pad, TCP flags
        let protocol = rec.u8()?;
        ctx.push(FlowRecord {
            format: FlowFormat::NetflowV5,
            exporter: ctx.exporter,
            domain,
            src: IpAddr::V4(src),
            dst: IpAddr::V4(dst),
            src_port,
            dst_port,
            protocol,
            bytes: u64::from(octets).saturating_mul(u64::from(interval)),
            packets: u64::from(packets).saturating_mul(u64::from(interval)),
            sampling: interval,
            start_ms: Some(uptime_to_epoch(export_ms, uptime, first)),
            end_ms: Some(uptime_to_epoch(export_ms, uptime, last)),
        });
    }
    Ok(())
}

/// A switched time in exporter uptime milliseconds, as epoch milliseconds; the wrapping
/// subtraction keeps a flow that started just before the 49.7-day uptime wrap right.
fn uptime_to_epoch(export_ms: i64, uptime: u32, at: u32) -> i64 {
    export_ms - i64::from(uptime.wrapping_sub(at))
}

/// What a data record needs from its packet header.
#[derive(Debug, Clone, Copy)]
struct Header {
    format: FlowFormat,
    proto: Proto,
    domain: u32,
    export_ms: i64,
    /// v9 only: sysUpTime, the base of FIRST_SWITCHED / LAST_SWITCHED.
    uptime: Option<u32>,
}

pub(crate) fn decode_v9(ctx: &mut Ctx<'_>, buf: &[u8]) -> R<()> {
    let mut r = Reader::new(buf);
    let _version = r.u16()?;
    let _count = r.u16()?;
    let uptime = r.u32()?;
    let secs = r.u32()?;
    let _sequence = r.u32()?;
    let source_id = r.u32()?;
    let header = Header {
        format: FlowFormat::NetflowV9,
        proto: Proto::V9,
        domain: source_id,
        export_ms: i64::from(secs) * 1000,
        uptime: Some(uptime),
    };
    // Fewer than four trailing bytes cannot hold a flowset header: exporters' padding.
    while r.remaining() >= 4 {
        let id = r.u16()?;
        let len = usize::from(r.u16()?);
        let body_len = len.checked_sub(4).ok_or(Malformed::Garbage)?;
        let set = r.sub(body_len)?;
        match id {
            0 => v9_templates(ctx, &header, set)?,
            1 => v9_options_templates(ctx, &header, set)?,
            2..=255 => {} // reserved
            _ => data_set(ctx, &header, id, set)?,
        }
    }
    Ok(())
}

fn key(ctx: &Ctx<'_>, header: &Header, id: u16) -> Key {
    Key {
        exporter: ctx.exporter,
        domain: header.domain,
        proto: header.proto,
        id,
    }
}

/// Reads `count` v9 fields (type, length), or skips them when the template is too wide.
fn v9_fields(ctx: &Ctx<'_>, set: &mut Reader<'_>, count: usize) -> R<Option<Vec<Field>>> {
    if count > ctx.limits.max_fields_per_template {
        set.skip(count.checked_mul(4).ok_or(Malformed::Garbage)?)?;
        return Ok(None);
    }
    let mut fields = Vec::with_capacity(count);
    for _ in 0..count {
        let id = set.u16()?;
        let len = set.u16()?;
        fields.push(Field {
            id,
            len,
            enterprise: false,
        });
    }
    Ok(Some(fields))
}

fn learn(ctx: &mut Ctx<'_>, key: Key, fields: Option<Vec<Field>>, scope: Option<u16>) -> R<()> {
    if key.id < 256 {
        return Err(Malformed::Garbage);
    }
    match fields.and_then(|f| Template::new(f, scope)) {
        Some(template) => {
            ctx.counters.templates_evicted += ctx.cache.insert(key, template, ctx.now_ms);
            ctx.counters.templates_learned += 1;
        }
        None => ctx.counters.templates_refused += 1,
    }
    Ok(())
}

fn v9_templates(ctx: &mut Ctx<'_>, header: &Header, mut set: Reader<'_>) -> R<()> {
    while set.remaining() >= 4 {
        let id = set.u16()?;
        let count = usize::from(set.u16()?);
        let fields = v9_fields(ctx, &mut set, count)?;
        learn(ctx, key(ctx, header, id), fields, None)?;
    }
    Ok(())
}

fn v9_options_templates(ctx: &mut Ctx<'_>, header: &Header, mut set: Reader<'_>) -> R<()> {
    // Padding to a four-byte boundary may follow the last template.
    while set.remaining() >= 6 {
        let id = set.u16()?;
        let scope_len = usize::from(set.u16()?);
        let option_len = usize::from(set.u16()?);
        if !scope_len.is_multiple_of(4) || !option_len.is_multiple_of(4) {
            return Err(Malformed::Garbage);
        }
        let scope = scope_len / 4;
        let fields = v9_fields(ctx, &mut set, scope + option_len / 4)?;
        let scope = u16::try_from(scope).map_err(|_| Malformed::Garbage)?;
        learn(ctx, key(ctx, header, id), fields, Some(scope))?;
    }
    Ok(())
}

pub(crate) fn decode_ipfix(ctx: &mut Ctx<'_>, buf: &[u8]) -> R<()> {
    let mut r = Reader::new(buf);
    let _version = r.u16()?;
    let length = usize::from(r.u16()?);
    let export_secs = r.u32()?;
    let _sequence = r.u32()?;
    let domain = r.u32()?;
    let body_len = length.checked_sub(16).ok_or(Malformed::Garbage)?;
    // The message length is authoritative: bytes past it are not ours to read.
    let mut r = r.sub(body_len)?;
    let header = Header {
        format: FlowFormat::Ipfix,
        proto: Proto::Ipfix,
        domain,
        export_ms: i64::from(export_secs) * 1000,
        uptime: None,
    };
    while !r.is_empty() {
        let id = r.u16()?;
        let len = usize::from(r.u16()?);
        let body_len = len.checked_sub(4).ok_or(Malformed::Garbage)?;
        let set = r.sub(body_len)?;
        match id {
            2 => ipfix_templates(ctx, &header, set, false)?,
            3 => ipfix_templates(ctx, &header, set, true)?,
            0 | 1 | 4..=255 => {} // v9 ids and reserved
            _ => data_set(ctx, &header, id, set)?,
        }
    }
    Ok(())
}

fn ipfix_templates(
    ctx: &mut Ctx<'_>,
    header: &Header,
    mut set: Reader<'_>,
    options: bool,
) -> R<()> {
    while set.remaining() >= 4 {
        let id = set.u16()?;
        let count = usize::from(set.u16()?);
        if count == 0 {
            if id == 0 {
                break; // padding
            }
            withdraw(ctx, header, id, options)?;
            continue;
        }
        let scope = if options {
            let scope = set.u16()?;
            if scope == 0 || usize::from(scope) > count {
                return Err(Malformed::Garbage);
            }
            Some(scope)
        } else {
            None
        };
        let fields = if count > ctx.limits.max_fields_per_template {
            for _ in 0..count {
                let raw = set.u16()?;
                set.skip(if raw & 0x8000 != 0 { 6 } else { 2 })?;
            }
            None
        } else {
            let mut fields = Vec::with_capacity(count);
            for _ in 0..count {
                let raw = set.u16()?;
                let len = set.u16()?;
                let enterprise = raw & 0x8000 != 0;
                if enterprise {
                    set.skip(4)?; // enterprise number
                }
                fields.push(Field {
                    id: raw & 0x7fff,
                    len,
                    enterprise,
                });
            }
            Some(fields)
        };
        learn(ctx, key(ctx, header, id), fields, scope)?;
    }
    Ok(())
}

/// RFC 7011 §8.1: a template record with no fields withdraws its id; id 2 (in a template set)
/// or 3 (in an options template set) withdraws every template of that kind in the domain.
fn withdraw(ctx: &mut Ctx<'_>, header: &Header, id: u16, options: bool) -> R<()> {
    let all = if options { 3 } else { 2 };
    if id == all {
        let (exporter, domain) = (ctx.exporter, header.domain);
        ctx.counters.templates_withdrawn += ctx.cache.remove_where(|k, t, _| {
            k.exporter == exporter
                && k.domain == domain
                && k.proto == Proto::Ipfix
                && t.scope.is_some() == options
        });
        return Ok(());
    }
    if id < 256 {
        return Err(Malformed::Garbage);
    }
    if ctx.cache.remove(&key(ctx, header, id)) {
        ctx.counters.templates_withdrawn += 1;
    }
    Ok(())
}

/// The values of one data record that a flow record is made of.
#[derive(Debug, Default)]
struct Values {
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    src_port: u16,
    dst_port: u16,
    protocol: u8,
    delta_bytes: Option<u64>,
    total_bytes: Option<u64>,
    delta_packets: Option<u64>,
    total_packets: Option<u64>,
    first_uptime: Option<u32>,
    last_uptime: Option<u32>,
    start_ms: Option<i64>,
    end_ms: Option<i64>,
    sampling: Option<u32>,
}

impl Values {
    fn apply(&mut self, id: u16, v: &[u8]) {
        let n = be_uint(v);
        let n32 = n.and_then(|n| u32::try_from(n).ok());
        let n16 = n.and_then(|n| u16::try_from(n).ok());
        match id {
            1 => self.delta_bytes = n,
            2 => self.delta_packets = n,
            85 => self.total_bytes = n,
            86 => self.total_packets = n,
            4 => self.protocol = v.first().copied().unwrap_or(0),
            7 => self.src_port = n16.unwrap_or(0),
            11 => self.dst_port = n16.unwrap_or(0),
            8 => self.src = ipv4(v).or(self.src),
            12 => self.dst = ipv4(v).or(self.dst),
            27 => self.src = ipv6(v).or(self.src),
            28 => self.dst = ipv6(v).or(self.dst),
            21 => self.last_uptime = n32,
            22 => self.first_uptime = n32,
            150 => self.start_ms = n.and_then(|s| i64::try_from(s).ok()).map(|s| s * 1000),
            151 => self.end_ms = n.and_then(|s| i64::try_from(s).ok()).map(|s| s * 1000),
            152 => self.start_ms = n.and_then(|s| i64::try_from(s).ok()),
            153 => self.end_ms = n.and_then(|s| i64::try_from(s).ok()),
            // samplingInterval, samplerRandomInterval, samplingPacketInterval
            34 | 50 | 305 => self.sampling = n32.filter(|s| *s > 0),
            _ => {}
        }
    }
}

fn ipv4(v: &[u8]) -> Option<IpAddr> {
    <[u8; 4]>::try_from(v)
        .ok()
        .map(|a| IpAddr::V4(Ipv4Addr::from(a)))
}

fn ipv6(v: &[u8]) -> Option<IpAddr> {
    <[u8; 16]>::try_from(v)
        .ok()
        .map(|a| IpAddr::V6(Ipv6Addr::from(a)))
}

fn field_value<'a>(set: &mut Reader<'a>, field: &Field) -> R<&'a [u8]> {
    let len = if field.len == VARLEN {
        match set.u8()? {
            255 => usize::from(set.u16()?),
            n => usize::from(n),
        }
    } else {
        usize::from(field.len)
    };
    set.bytes(len)
}

fn data_set(ctx: &mut Ctx<'_>, header: &Header, id: u16, mut set: Reader<'_>) -> R<()> {
    let key = key(ctx, header, id);
    let Some(template) = ctx.cache.get(&key, ctx.now_ms) else {
        ctx.counters.sets_without_template += 1;
        return Ok(());
    };
    // The cache is borrowed while records are pushed: the fields are shared (`Arc`), so this
    // clone is a reference count, not a copy.
    let template = template.clone();
    // Anything shorter than one record is padding.
    while set.remaining() >= template.min_len {
        if let Some(scope) = template.scope {
            let mut sampling = None;
            for (i, field) in template.fields.iter().enumerate() {
                let v = field_value(&mut set, field)?;
                if i >= usize::from(scope) && !field.enterprise {
                    let mut values = Values::default();
                    values.apply(field.id, v);
                    sampling = values.sampling.or(sampling);
                }
            }
            if let Some(interval) = sampling {
                ctx.set_sampling(header.proto, header.domain, interval);
            }
            continue;
        }
        let mut values = Values::default();
        for field in template.fields.iter() {
            let v = field_value(&mut set, field)?;
            if !field.enterprise {
                values.apply(field.id, v);
            }
        }
        let (Some(src), Some(dst)) = (values.src, values.dst) else {
            ctx.counters.records_without_address += 1;
            continue;
        };
        let interval = values
            .sampling
            .or_else(|| ctx.sampling(header.proto, header.domain))
            .unwrap_or(1);
        let bytes = values.delta_bytes.or(values.total_bytes).unwrap_or(0);
        let packets = values.delta_packets.or(values.total_packets).unwrap_or(0);
        let (mut start_ms, mut end_ms) = (values.start_ms, values.end_ms);
        if let Some(uptime) = header.uptime {
            start_ms = start_ms.or(values
                .first_uptime
                .map(|t| uptime_to_epoch(header.export_ms, uptime, t)));
            end_ms = end_ms.or(values
                .last_uptime
                .map(|t| uptime_to_epoch(header.export_ms, uptime, t)));
        }
        ctx.push(FlowRecord {
            format: header.format,
            exporter: ctx.exporter,
            domain: header.domain,
            src,
            dst,
            src_port: values.src_port,
            dst_port: values.dst_port,
            protocol: values.protocol,
            bytes: bytes.saturating_mul(u64::from(interval)),
            packets: packets.saturating_mul(u64::from(interval)),
            sampling: interval,
            start_ms,
            end_ms,
        });
    }
    Ok(())
}
