//! Per-source-IP outbound rates (HARM-1: a tenant machine attacking or scanning others): the
//! bytes and packets a local IP sends, and how many distinct hosts it sends them to. The peer
//! count is what tells a scan (few bytes to very many hosts) from a download server (many bytes
//! to a few): it is estimated by linear counting (Whang, Vander-Zanden and Taylor, 1990) in a
//! 512-bit bitmap per fixed window, so a source costs the same small state however many hosts
//! it touches.
//!
//! Linear counting hashes each destination to one of `m = 512` bits; with `z` bits still zero
//! the estimate is `n = m·ln(m/z)`. It is exact while no two destinations share a bit (in
//! practice up to a few dozen) and its standard error is `sqrt(m·(e^t − t − 1)) / n` with
//! `t = n/m`: about 3.7 % at 512 peers, 4.6 % at 1 024 and 7.8 % at 2 048. When every bit is set
//! the estimate is the ceiling [`MAX_PEERS`] = `m·ln(m)` = 3 194, to be read as "at least": far
//! above any scan threshold, which is all the count is for.
//!
//! Over the sliding window the count is `|cur| + overlap·|prev \ cur|` — the current window's
//! peers plus the share of the previous window still inside the last `window` seconds, for the
//! peers not seen again since (`|prev \ cur| = |prev ∪ cur| − |cur|`, the union being the two
//! bitmaps OR-ed). A source talking to the same hosts in both windows is not counted twice;
//! one sweeping new hosts is counted like the byte rate.
//!
//! The table is bounded like the inbound one: a new source at the bound evicts the least
//! recently seen sixteenth at once.

use std::net::{IpAddr, Ipv6Addr};

use crate::dense::DenseMap;
use crate::record::FlowRecord;
use crate::window::{Counter, Rate, overlap};

/// Bits in each window's peer bitmap.
pub const PEER_BITS: usize = 512;
const WORDS: usize = PEER_BITS / 64;

/// The highest peer estimate: every bit set (`512·ln 512`). Read as "at least this many".
pub const MAX_PEERS: u64 = 3194;

/// The outbound aggregator's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboundConfig {
    /// The averaging window in seconds (default 10; at least 1).
    pub window_secs: u32,
    /// Source IPs tracked at most (default 100 000).
    pub max_ips: usize,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            window_secs: 10,
            max_ips: 100_000,
        }
    }
}

/// What is known about one local source IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboundSnapshot {
    /// What it sent, averaged over the window ending at the `now_ms` asked about.
    pub rate: Rate,
    /// Distinct destination hosts over the same window (an estimate; see the module docs).
    pub peers: u64,
    /// When traffic from the IP was last observed.
    pub last_seen_ms: i64,
}

type Bitmap = [u64; WORDS];

#[derive(Debug, Clone, PartialEq, Eq)]
struct SourceState {
    counter: Counter,
    last_seen_ms: i64,
    cur_peers: Bitmap,
    prev_peers: Bitmap,
}

impl SourceState {
    fn roll(&mut self, window: i64) {
        match self.counter.roll(window) {
            0 => {}
            1 => {
                self.prev_peers = self.cur_peers;
                self.cur_peers = [0; WORDS];
            }
            _ => {
                self.prev_peers = [0; WORDS];
                self.cur_peers = [0; WORDS];
            }
        }
    }
}

/// Sources are keyed by their 16 bytes (IPv4 mapped): `IpAddr` with its tag and padding would
/// cost 8 bytes more per source.
type Key = [u8; 16];

/// The bytes one tracked source costs in the table: key, state and the control byte.
pub const BYTES_PER_TRACKED_SOURCE: usize = std::mem::size_of::<(Key, SourceState)>() + 5;

/// Per-source outbound rates and peer counts; see the module documentation.
#[derive(Debug)]
pub struct OutboundAggregator {
    window_ms: i64,
    max_ips: usize,
    ips: DenseMap<Key, SourceState>,
    evicted: u64,
}

impl OutboundAggregator {
    /// An empty aggregator.
    pub fn new(config: OutboundConfig) -> Self {
        Self {
            window_ms: i64::from(config.window_secs.max(1)) * 1000,
            max_ips: config.max_ips.max(1),
            ips: DenseMap::new(config.max_ips.max(1)),
            evicted: 0,
        }
    }

    /// Source IPs currently tracked.
    pub fn tracked(&self) -> usize {
        self.ips.len()
    }

    /// Source IPs evicted to honour `max_ips`.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Bytes the table has allocated (see [`crate::Aggregator::table_bytes`]).
    pub fn table_bytes(&self) -> usize {
        self.ips.allocated_bytes()
    }

    /// Counts one record's bytes, packets and destination towards its source at `now_ms`.
    pub fn observe(&mut self, record: &FlowRecord, now_ms: i64) {
        let window = now_ms.div_euclid(self.window_ms);
        let key = octets(record.src);
        if !self.ips.contains_key(&key) && self.ips.len() >= self.max_ips {
            self.evict();
        }
        let state = self.ips.get_or_insert_with(key, || SourceState {
            counter: Counter::new(window),
            last_seen_ms: now_ms,
            cur_peers: [0; WORDS],
            prev_peers: [0; WORDS],
        });
        state.roll(window);
        state.counter.add(record.bytes, record.packets);
        state.last_seen_ms = state.last_seen_ms.max(now_ms);
        let bit = peer_bit(record.dst);
        if let Some(word) = state.cur_peers.get_mut(bit / 64) {
            *word |= 1 << (bit % 64);
        }
    }

    /// Evicts the least recently seen sixteenth of the table (at least one IP).
    fn evict(&mut self) {
        self.evicted += self.ips.evict_oldest(|s| s.last_seen_ms);
    }

    /// What `ip` sent over the window ending at `now_ms`; `None` if it is not tracked.
    pub fn snapshot(&self, ip: IpAddr, now_ms: i64) -> Option<OutboundSnapshot> {
        self.ips
            .get(&octets(ip))
            .map(|s| self.snapshot_of(s, now_ms))
    }

    fn snapshot_of(&self, s: &SourceState, now_ms: i64) -> OutboundSnapshot {
        let gap = now_ms
            .div_euclid(self.window_ms)
            .saturating_sub(s.counter.window);
        let empty = [0; WORDS];
        let (prev, cur) = match gap {
            ..=0 => (&s.prev_peers, &s.cur_peers),
            1 => (&s.cur_peers, &empty),
            _ => (&empty, &empty),
        };
        let mut union = *cur;
        for (u, p) in union.iter_mut().zip(prev) {
            *u |= p;
        }
        let (n_cur, n_union) = (linear_count(cur), linear_count(&union));
        let only_prev = (n_union - n_cur).max(0.0);
        let share = overlap(now_ms, self.window_ms) as f64 / self.window_ms.max(1) as f64;
        let peers = (n_cur + only_prev * share).round();
        OutboundSnapshot {
            rate: s.counter.rate(now_ms, self.window_ms),
            peers: (peers as u64).min(MAX_PEERS),
            last_seen_ms: s.last_seen_ms,
        }
    }

    /// Every tracked source with what it sent at `now_ms` (in no particular order).
    pub fn snapshots(&self, now_ms: i64) -> impl Iterator<Item = (IpAddr, OutboundSnapshot)> + '_ {
        self.ips.iter().map(move |(k, s)| {
            (
                Ipv6Addr::from(*k).to_canonical(),
                self.snapshot_of(s, now_ms),
            )
        })
    }
}

/// The linear-counting estimate of the distinct items hashed into `bits`.
fn linear_count(bits: &Bitmap) -> f64 {
    let ones: u32 = bits.iter().map(|w| w.count_ones()).sum();
    let m = PEER_BITS as f64;
    let zeros = m - f64::from(ones);
    if zeros <= 0.0 {
        return MAX_PEERS as f64;
    }
    m * (m / zeros).ln()
}

/// The bit a destination sets: a fixed 64-bit mix of its 16 bytes (IPv4 mapped), so the same
/// host always lands on the same bit, in every process and test.
fn peer_bit(ip: IpAddr) -> usize {
    let o = octets(ip);
    let (hi, lo) = o.split_at(8);
    let word = |b: &[u8]| b.iter().fold(0u64, |acc, x| acc << 8 | u64::from(*x));
    let h = mix(word(hi) ^ mix(word(lo)));
    (h % PEER_BITS as u64) as usize
}

/// splitmix64's finaliser.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn octets(ip: IpAddr) -> Key {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}
