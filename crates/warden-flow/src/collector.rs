//! The collector: one per listening socket (or per process), fed datagrams by the caller.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::counters::Counters;
use crate::reader::{Malformed, R};
use crate::record::FlowRecord;
use crate::template::{Proto, TemplateCache};
use crate::{netflow, sflow};

/// The collector's bounds and its exporter allow-list. Every number bounds memory or work per
/// datagram; the defaults suit a few hundred exporters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorConfig {
    /// Exporters accepted (by the datagram's source address); everything else is counted and
    /// dropped before a byte is parsed. Empty accepts nothing.
    pub allowed_exporters: Vec<IpNet>,
    /// Longest datagram accepted (default 65 535, a UDP datagram).
    pub max_packet_bytes: usize,
    /// Templates (data and options, v9 and IPFIX) kept per exporter (default 64).
    pub max_templates_per_exporter: usize,
    /// Templates kept overall (default 4 096).
    pub max_templates_total: usize,
    /// Widest template accepted, in fields (default 128); wider ones are counted and refused.
    pub max_fields_per_template: usize,
    /// Records handed out per datagram (default 2 048); the rest are counted and dropped.
    pub max_records_per_packet: usize,
    /// (exporter, domain) sampling intervals remembered from options data (default 4 096).
    pub max_sampling_entries: usize,
    /// Sampling intervals imposed per exporter (the first network containing it wins),
    /// replacing whatever its records, options data or header declare: for exporters that
    /// sample without saying so, or say it wrongly. Default none.
    pub sampling_overrides: Vec<(IpNet, u32)>,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            allowed_exporters: Vec::new(),
            max_packet_bytes: 65_535,
            max_templates_per_exporter: 64,
            max_templates_total: 4_096,
            max_fields_per_template: 128,
            max_records_per_packet: 2_048,
            max_sampling_entries: 4_096,
            sampling_overrides: Vec::new(),
        }
    }
}

type SamplingKey = (IpAddr, u32, Proto);

/// Decodes NetFlow v5, NetFlow v9, IPFIX and sFlow v5 datagrams from allowed exporters into
/// [`FlowRecord`]s, keeping templates and sampling intervals per (exporter, domain) within the
/// bounds of its [`CollectorConfig`]. It never panics on input, never allocates more than its
/// bounds from a length a packet declares, and every loop is bounded by the datagram's length.
#[derive(Debug)]
pub struct Collector {
    config: CollectorConfig,
    templates: TemplateCache,
    sampling: HashMap<SamplingKey, u32>,
    counters: Counters,
}

/// The decoders' view of the collector for one datagram.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    pub(crate) exporter: IpAddr,
    pub(crate) now_ms: i64,
    pub(crate) limits: &'a CollectorConfig,
    pub(crate) cache: &'a mut TemplateCache,
    pub(crate) counters: &'a mut Counters,
    sampling: &'a mut HashMap<SamplingKey, u32>,
    out: &'a mut Vec<FlowRecord>,
    start: usize,
}

impl Ctx<'_> {
    pub(crate) fn push(&mut self, record: FlowRecord) {
        if self.out.len().saturating_sub(self.start) >= self.limits.max_records_per_packet {
            self.counters.records_over_limit += 1;
        } else {
            self.out.push(record);
        }
    }

    pub(crate) fn sampling(&self, proto: Proto, domain: u32) -> Option<u32> {
        self.sampling.get(&(self.exporter, domain, proto)).copied()
    }

    pub(crate) fn set_sampling(&mut self, proto: Proto, domain: u32, interval: u32) {
        let key = (self.exporter, domain, proto);
        if self.sampling.len() >= self.limits.max_sampling_entries
            && !self.sampling.contains_key(&key)
        {
            self.counters.sampling_refused += 1;
            return;
        }
        self.sampling.insert(key, interval);
    }
}

impl Collector {
    /// A collector with empty caches.
    pub fn new(config: CollectorConfig) -> Self {
        Self {
            templates: TemplateCache::new(
                config.max_templates_per_exporter,
                config.max_templates_total,
            ),
            sampling: HashMap::new(),
            counters: Counters::default(),
            config,
        }
    }

    /// What was dropped and why, since the collector was made.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Templates currently cached (all exporters, data and options).
    pub fn template_count(&self) -> usize {
        self.templates.len()
    }

    /// Decodes one datagram from `exporter` (its UDP source address) received at `now_ms`
    /// (epoch milliseconds; it orders the template cache and ages templates).
    pub fn ingest(&mut self, exporter: IpAddr, bytes: &[u8], now_ms: i64) -> Vec<FlowRecord> {
        let mut out = Vec::new();
        self.ingest_into(exporter, bytes, now_ms, &mut out);
        out
    }

    /// As [`Collector::ingest`], appending to `out` (a receive loop reuses one buffer);
    /// returns how many records were appended. A malformed datagram appends nothing: the
    /// records before the fault are withdrawn, since the datagram cannot be trusted, but
    /// templates from its intact earlier sets are kept.
    pub fn ingest_into(
        &mut self,
        exporter: IpAddr,
        bytes: &[u8],
        now_ms: i64,
        out: &mut Vec<FlowRecord>,
    ) -> usize {
        self.counters.packets_received += 1;
        let exporter = exporter.to_canonical();
        if !self
            .config
            .allowed_exporters
            .iter()
            .any(|net| net.contains(&exporter))
        {
            self.counters.packets_exporter_not_allowed += 1;
            return 0;
        }
        if bytes.len() > self.config.max_packet_bytes {
            self.counters.packets_oversized += 1;
            return 0;
        }
        let start = out.len();
        let mut ctx = Ctx {
            exporter,
            now_ms,
            limits: &self.config,
            cache: &mut self.templates,
            counters: &mut self.counters,
            sampling: &mut self.sampling,
            out,
            start,
        };
        let result = decode(&mut ctx, bytes);
        match result {
            Ok(()) => {
                let n = out.len() - start;
                if let Some(interval) = self
                    .config
                    .sampling_overrides
                    .iter()
                    .find(|(net, _)| net.contains(&exporter))
                    .map(|(_, i)| (*i).max(1))
                {
                    for r in out.iter_mut().skip(start) {
                        resample(r, interval);
                    }
                }
                self.counters.packets_decoded += 1;
                self.counters.records_decoded += n as u64;
                n
            }
            Err(fault) => {
                out.truncate(start);
                match fault {
                    Malformed::Truncated => self.counters.packets_truncated += 1,
                    Malformed::Garbage => self.counters.packets_garbage += 1,
                }
                0
            }
        }
    }

    /// Drops templates not used or refreshed since `now_ms - max_age_ms` (RFC 7011 §8.4:
    /// over UDP a template lives until the exporter stops resending it); returns how many.
    pub fn expire_templates(&mut self, now_ms: i64, max_age_ms: i64) -> u64 {
        let cutoff = now_ms.saturating_sub(max_age_ms);
        let expired = self.templates.remove_where(|_, _, (used, _)| used < cutoff);
        self.counters.templates_expired += expired;
        expired
    }
}

/// Replaces the interval a record was scaled by with `interval`: what the exporter reported is
/// the estimate divided by the old interval (exact: the decoders multiplied it).
fn resample(r: &mut FlowRecord, interval: u32) {
    let old = u64::from(r.sampling.max(1));
    r.bytes = (r.bytes / old).saturating_mul(u64::from(interval));
    r.packets = (r.packets / old).saturating_mul(u64::from(interval));
    r.sampling = interval;
}

fn decode(ctx: &mut Ctx<'_>, bytes: &[u8]) -> R<()> {
    let Some(version) = bytes.get(..2) else {
        return Err(Malformed::Truncated);
    };
    match version {
        [0, 5] => netflow::decode_v5(ctx, bytes),
        [0, 9] => netflow::decode_v9(ctx, bytes),
        [0, 10] => netflow::decode_ipfix(ctx, bytes),
        // sFlow's version is a 32-bit 5.
        [0, 0] => match bytes.get(..4) {
            Some([0, 0, 0, 5]) => sflow::decode(ctx, bytes),
            Some(_) => Err(Malformed::Garbage),
            None => Err(Malformed::Truncated),
        },
        _ => Err(Malformed::Garbage),
    }
}
