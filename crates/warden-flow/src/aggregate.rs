//! Per-destination-IP inbound rates (DDOS-2): what the blackhole decision compares with an IP's
//! protection capacity. Each tracked IP costs a fixed, small state — two window counters (the
//! sliding-window estimate of [`crate::window`]), its last-seen time and two
//! space-saving top-k tables (protocols, source IPs) halved at every window so they follow the
//! current attack. No per-second history is kept, so the state does not grow with the window.
//! The number of tracked IPs is bounded: a new IP at the bound evicts the least recently seen
//! sixteenth of the table at once, which keeps eviction amortised O(1) per new IP.
//!
//! Time is the caller's: `now_ms` is when the traffic was observed (for flow exports, when the
//! record arrived). An IP that stops appearing is *unknown*, not quiet (DDOS-4: traffic to a
//! blackholed IP is often invisible): [`IpSnapshot::last_seen_ms`] says how old the data is.

use std::net::{IpAddr, Ipv6Addr};

use crate::dense::DenseMap;
use crate::record::FlowRecord;
use crate::window::{Counter, Rate};

/// Entries in each per-IP top-k table.
pub const TOP_K: usize = 3;

/// The aggregator's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AggregatorConfig {
    /// The averaging window in seconds (default 10; at least 1).
    pub window_secs: u32,
    /// Destination IPs tracked at most (default 100 000).
    pub max_ips: usize,
}

impl Default for AggregatorConfig {
    fn default() -> Self {
        Self {
            window_secs: 10,
            max_ips: 100_000,
        }
    }
}

/// What is known about one destination IP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpSnapshot {
    /// The rate over the window ending at the `now_ms` asked about.
    pub rate: Rate,
    /// When traffic to the IP was last observed.
    pub last_seen_ms: i64,
    /// Up to [`TOP_K`] protocols by recent bytes, largest first (counts are estimates).
    pub top_protocols: Vec<(u8, u64)>,
    /// Up to [`TOP_K`] source IPs by recent bytes, largest first (counts are estimates).
    pub top_sources: Vec<(IpAddr, u64)>,
}

/// A space-saving top-k table (Metwally et al.): exact while it has free slots, afterwards an
/// item new to the table replaces the smallest and inherits its count, so a heavy hitter is
/// never missed and counts overestimate by at most the smallest count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct TopK<T: Copy + PartialEq> {
    items: [T; TOP_K],
    counts: [u64; TOP_K],
}

impl<T: Copy + PartialEq> TopK<T> {
    fn add(&mut self, item: T, weight: u64) {
        let slots = self.items.iter_mut().zip(self.counts.iter_mut());
        let mut smallest: Option<(&mut T, &mut u64)> = None;
        for (slot, count) in slots {
            if *count > 0 && *slot == item {
                *count = count.saturating_add(weight);
                return;
            }
            if smallest.as_ref().is_none_or(|(_, c)| *count < **c) {
                smallest = Some((slot, count));
            }
        }
        if let Some((slot, count)) = smallest {
            *slot = item;
            *count = count.saturating_add(weight);
        }
    }

    fn decay(&mut self, windows: i64) {
        for count in &mut self.counts {
            *count = if windows >= 64 { 0 } else { *count >> windows };
        }
    }

    fn sorted(&self) -> Vec<(T, u64)> {
        let mut v: Vec<(T, u64)> = self
            .items
            .iter()
            .copied()
            .zip(self.counts.iter().copied())
            .filter(|(_, c)| *c > 0)
            .collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.1));
        v
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct IpState {
    counter: Counter,
    last_seen_ms: i64,
    protocols: TopK<u8>,
    /// Sources as 16 bytes (IPv4 mapped), half the size of `IpAddr` with its padding.
    sources: TopK<[u8; 16]>,
}

impl IpState {
    fn new(window: i64, now_ms: i64) -> Self {
        Self {
            counter: Counter::new(window),
            last_seen_ms: now_ms,
            protocols: TopK::default(),
            sources: TopK::default(),
        }
    }

    /// Moves the windows forward to `window`; never backwards (late data counts as current).
    fn roll(&mut self, window: i64) {
        let gap = self.counter.roll(window);
        if gap > 0 {
            self.protocols.decay(gap);
            self.sources.decay(gap);
        }
    }
}

/// Per-destination inbound rates from flow records; see the module documentation.
#[derive(Debug)]
pub struct Aggregator {
    window_ms: i64,
    max_ips: usize,
    ips: DenseMap<IpAddr, IpState>,
    evicted: u64,
}

/// The bytes one tracked IP costs in the table: key and state, and its 4-byte slot and control
/// byte in the index (the index's spare slots, and at most an eighth of spare entries below the
/// bound, come on top).
pub const BYTES_PER_TRACKED_IP: usize = std::mem::size_of::<(IpAddr, IpState)>() + 5;

impl Aggregator {
    /// An empty aggregator.
    pub fn new(config: AggregatorConfig) -> Self {
        Self {
            window_ms: i64::from(config.window_secs.max(1)) * 1000,
            max_ips: config.max_ips.max(1),
            ips: DenseMap::new(config.max_ips.max(1)),
            evicted: 0,
        }
    }

    /// IPs currently tracked.
    pub fn tracked(&self) -> usize {
        self.ips.len()
    }

    /// IPs evicted to honour `max_ips`.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Bytes the table has allocated: its entries (spare ones included) and its index.
    pub fn table_bytes(&self) -> usize {
        self.ips.allocated_bytes()
    }

    /// Counts one record's bytes and packets towards its destination at `now_ms`.
    pub fn observe(&mut self, record: &FlowRecord, now_ms: i64) {
        let window = now_ms.div_euclid(self.window_ms);
        if !self.ips.contains_key(&record.dst) && self.ips.len() >= self.max_ips {
            self.evict();
        }
        let state = self
            .ips
            .get_or_insert_with(record.dst, || IpState::new(window, now_ms));
        state.roll(window);
        state.counter.add(record.bytes, record.packets);
        state.last_seen_ms = state.last_seen_ms.max(now_ms);
        state.protocols.add(record.protocol, record.bytes);
        state.sources.add(mapped(record.src), record.bytes);
    }

    /// Evicts the least recently seen sixteenth of the table (at least one IP).
    fn evict(&mut self) {
        self.evicted += self.ips.evict_oldest(|s| s.last_seen_ms);
    }

    /// The rate to `ip` over the window ending at `now_ms`; `None` if it is not tracked.
    pub fn rate(&self, ip: IpAddr, now_ms: i64) -> Option<Rate> {
        self.ips.get(&ip).map(|s| self.rate_of(s, now_ms))
    }

    fn rate_of(&self, s: &IpState, now_ms: i64) -> Rate {
        s.counter.rate(now_ms, self.window_ms)
    }

    /// Every tracked IP with its rate at `now_ms` and when it was last seen (the tick's scan).
    pub fn rates_seen(&self, now_ms: i64) -> impl Iterator<Item = (IpAddr, Rate, i64)> + '_ {
        self.ips
            .iter()
            .map(move |(ip, s)| (*ip, self.rate_of(s, now_ms), s.last_seen_ms))
    }

    /// Everything known about `ip` at `now_ms`; `None` if it is not tracked.
    pub fn snapshot(&self, ip: IpAddr, now_ms: i64) -> Option<IpSnapshot> {
        let s = self.ips.get(&ip)?;
        let mut rolled = s.clone();
        rolled.roll(now_ms.div_euclid(self.window_ms));
        Some(IpSnapshot {
            rate: self.rate_of(s, now_ms),
            last_seen_ms: s.last_seen_ms,
            top_protocols: rolled.protocols.sorted(),
            top_sources: rolled
                .sources
                .sorted()
                .into_iter()
                .map(|(ip, c)| (Ipv6Addr::from(ip).to_canonical(), c))
                .collect(),
        })
    }

    /// Every tracked IP with its rate at `now_ms` (in no particular order): the detector's
    /// per-tick scan against each IP's capacity.
    pub fn rates(&self, now_ms: i64) -> impl Iterator<Item = (IpAddr, Rate)> + '_ {
        self.ips
            .iter()
            .map(move |(ip, s)| (*ip, self.rate_of(s, now_ms)))
    }
}

fn mapped(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}
