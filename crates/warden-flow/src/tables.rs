//! One node's view of its local IPs: the inbound table (per destination) and the outbound
//! table (per source) fed from the same records, split by the provider's own prefixes, and the
//! tick that decides which IPs are worth writing.
//!
//! A record counts inbound when its destination is local and outbound when its source is (both
//! for traffic between two local IPs). Without local prefixes every destination is inbound and
//! nothing outbound — a collector that only protects, knowing nothing of the address plan.
//!
//! Each tick hands over only what matters, since several nodes merge their views through the
//! database: an IP is written when it was seen within the window and its inbound or outbound
//! bit rate is at or above the noise floor ("loud"). An IP that was loud and then falls quiet
//! while still seen keeps being written, every `quiet_interval_ms` instead of every tick, for
//! `quiet_hold_ms` after it was last loud: its blackhole's end (DDOS-4) must find a sample
//! saying the attack is over, not silence. An IP not seen for a whole window is not written at
//! all: unknown, never "zero" (traffic to a blackholed IP is often invisible).

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::aggregate::{Aggregator, AggregatorConfig};
use crate::outbound::{OutboundAggregator, OutboundConfig};
use crate::record::FlowRecord;
use crate::window::Rate;

/// How the tables are split, bounded and reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablesConfig {
    /// The averaging window in seconds (default 10).
    pub window_secs: u32,
    /// IPs tracked at most, in each direction (default 100 000).
    pub max_ips: usize,
    /// The provider's own prefixes; empty: every destination inbound, nothing outbound.
    pub local_prefixes: Vec<IpNet>,
    /// IPs below this many bits per second either way are not written each tick (default 0).
    pub noise_floor_bps: u64,
    /// How often an IP that was loud and is now quiet is still written (default 30 000 ms).
    pub quiet_interval_ms: i64,
    /// For how long after it was last loud (default 24 h, the longest blackhole step).
    pub quiet_hold_ms: i64,
}

impl Default for TablesConfig {
    fn default() -> Self {
        Self {
            window_secs: 10,
            max_ips: 100_000,
            local_prefixes: Vec::new(),
            noise_floor_bps: 0,
            quiet_interval_ms: 30_000,
            quiet_hold_ms: 86_400_000,
        }
    }
}

/// One local IP's rates at a tick, both directions merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpRates {
    /// The local IP.
    pub ip: IpAddr,
    /// Traffic to it.
    pub inbound: Rate,
    /// Traffic from it.
    pub outbound: Rate,
    /// Distinct hosts it sent to in the window (an estimate, see [`crate::OutboundAggregator`]).
    pub out_peers: u64,
    /// The largest inbound protocols by bytes, largest first.
    pub top_protocols: Vec<(u8, u64)>,
    /// The largest inbound sources by bytes, largest first.
    pub top_sources: Vec<(IpAddr, u64)>,
}

/// What a tick's scan found about one IP worth looking at.
#[derive(Debug, Clone, Copy, Default)]
struct Found {
    inbound: Option<Rate>,
    outbound: Option<(Rate, u64)>,
    loud: bool,
}

#[derive(Debug, Clone, Copy)]
struct Reported {
    last_loud_ms: i64,
    last_written_ms: i64,
}

/// The inbound and outbound tables of one node; see the module documentation.
#[derive(Debug)]
pub struct FlowTables {
    config: TablesConfig,
    window_ms: i64,
    inbound: Aggregator,
    outbound: OutboundAggregator,
    reported: HashMap<IpAddr, Reported>,
}

impl FlowTables {
    /// Empty tables.
    pub fn new(config: TablesConfig) -> Self {
        let window_secs = config.window_secs.max(1);
        Self {
            window_ms: i64::from(window_secs) * 1000,
            inbound: Aggregator::new(AggregatorConfig {
                window_secs,
                max_ips: config.max_ips,
            }),
            outbound: OutboundAggregator::new(OutboundConfig {
                window_secs,
                max_ips: config.max_ips,
            }),
            reported: HashMap::new(),
            config,
        }
    }

    /// The inbound table.
    pub fn inbound(&self) -> &Aggregator {
        &self.inbound
    }

    /// The outbound table.
    pub fn outbound(&self) -> &OutboundAggregator {
        &self.outbound
    }

    fn local(&self, ip: &IpAddr) -> bool {
        self.config.local_prefixes.iter().any(|n| n.contains(ip))
    }

    /// Counts one record at `now_ms` in the direction(s) it belongs to.
    pub fn observe(&mut self, record: &FlowRecord, now_ms: i64) {
        if self.config.local_prefixes.is_empty() {
            self.inbound.observe(record, now_ms);
            return;
        }
        if self.local(&record.dst) {
            self.inbound.observe(record, now_ms);
        }
        if self.local(&record.src) {
            self.outbound.observe(record, now_ms);
        }
    }

    /// The IPs to write at `now_ms`, ordered by IP; see the module documentation for which.
    pub fn tick(&mut self, now_ms: i64) -> Vec<IpRates> {
        let floor = self.config.noise_floor_bps;
        let seen_since = now_ms - self.window_ms;
        // Only loud and reported IPs enter the map: the scan allocates for what is written.
        let mut found: HashMap<IpAddr, Found> = HashMap::new();
        for (ip, rate, seen) in self.inbound.rates_seen(now_ms) {
            let loud = rate.bps >= floor;
            if seen > seen_since && (loud || self.reported.contains_key(&ip)) {
                let f = found.entry(ip).or_default();
                f.inbound = Some(rate);
                f.loud |= loud;
            }
        }
        for (ip, s) in self.outbound.snapshots(now_ms) {
            let loud = s.rate.bps >= floor;
            if s.last_seen_ms > seen_since
                && (loud || self.reported.contains_key(&ip) || found.contains_key(&ip))
            {
                let f = found.entry(ip).or_default();
                f.outbound = Some((s.rate, s.peers));
                f.loud |= loud;
            }
        }
        let mut out = Vec::with_capacity(found.len());
        for (ip, f) in found {
            if f.loud {
                self.reported.insert(
                    ip,
                    Reported {
                        last_loud_ms: now_ms,
                        last_written_ms: now_ms,
                    },
                );
            } else {
                match self.reported.get_mut(&ip) {
                    Some(rep) if now_ms - rep.last_written_ms >= self.config.quiet_interval_ms => {
                        rep.last_written_ms = now_ms;
                    }
                    _ => continue,
                }
            }
            out.push((ip, f));
        }
        // Forget IPs unseen for a window (now unknown) or quiet for longer than the hold.
        let (inbound, outbound, hold) = (&self.inbound, &self.outbound, self.config.quiet_hold_ms);
        self.reported.retain(|ip, rep| {
            let seen = inbound
                .snapshot(*ip, now_ms)
                .map(|s| s.last_seen_ms)
                .max(outbound.snapshot(*ip, now_ms).map(|s| s.last_seen_ms));
            seen.is_some_and(|s| s > seen_since) && now_ms - rep.last_loud_ms <= hold
        });
        out.sort_by_key(|(ip, _)| *ip);
        out.into_iter()
            .map(|(ip, f)| {
                let snap = self.inbound.snapshot(ip, now_ms);
                let (top_protocols, top_sources) = snap
                    .as_ref()
                    .map(|s| (s.top_protocols.clone(), s.top_sources.clone()))
                    .unwrap_or_default();
                // A half below the floor of an IP loud the other way is still its rate.
                let inbound = f.inbound.or(snap.map(|s| s.rate)).unwrap_or_default();
                let (outbound, out_peers) = f
                    .outbound
                    .or_else(|| {
                        self.outbound
                            .snapshot(ip, now_ms)
                            .map(|s| (s.rate, s.peers))
                    })
                    .unwrap_or_default();
                IpRates {
                    ip,
                    inbound,
                    outbound,
                    out_peers,
                    top_protocols,
                    top_sources,
                }
            })
            .collect()
    }
}
