//! A bounded mutation fuzzer on stable Rust (no nightly `cargo fuzz`): datagrams real exporters
//! sent — `softflowd`'s NetFlow v5, v9 and IPFIX and `pmacctd` sfprobe's sFlow v5 of one pcap,
//! kept in `corpus/` — are mutated (bytes overwritten, bits flipped, length-like fields set to
//! extremes, cuts, insertions) and fed to a [`Collector`]. Deterministic from its seed, so a
//! failure replays. `warden fuzz flows` runs a million or more; the test suite a short run.

use std::net::{IpAddr, Ipv4Addr};

use crate::{Collector, CollectorConfig, Counters};

/// The real exporters' datagrams: (name, bytes).
pub const CORPUS: &[(&str, &[u8])] = &[
    ("netflow5", include_bytes!("../corpus/netflow5-0.bin")),
    ("netflow9", include_bytes!("../corpus/netflow9-0.bin")),
    ("ipfix", include_bytes!("../corpus/ipfix-0.bin")),
    ("sflow5", include_bytes!("../corpus/sflow5-0.bin")),
];

/// xorshift64*: small, fast, deterministic.
#[derive(Debug, Clone)]
pub struct Mutator(u64);

impl Mutator {
    /// From a seed (0 is replaced by a fixed non-zero one).
    pub fn new(seed: u64) -> Mutator {
        Mutator(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next pseudo-random number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (0 for `n` of 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// One to four mutations of `seed`.
    pub fn mutate(&mut self, seed: &[u8]) -> Vec<u8> {
        let mut p = seed.to_vec();
        for _ in 0..=self.below(4) {
            if p.is_empty() {
                break;
            }
            match self.below(5) {
                0 => {
                    let i = self.below(p.len());
                    if let Some(b) = p.get_mut(i) {
                        *b = self.next_u64() as u8;
                    }
                }
                1 => {
                    let i = self.below(p.len());
                    let bit = 1u8 << self.below(8);
                    if let Some(b) = p.get_mut(i) {
                        *b ^= bit;
                    }
                }
                2 if p.len() >= 2 => {
                    // A length-like pair of bytes set to an extreme.
                    let i = self.below(p.len() - 1);
                    let v: u16 = match self.below(6) {
                        0 => 0,
                        1 => 1,
                        2 => 3,
                        3 => 4,
                        4 => 0x7fff,
                        _ => 0xffff,
                    };
                    if let Some(pair) = p.get_mut(i..i + 2) {
                        pair.copy_from_slice(&v.to_be_bytes());
                    }
                }
                2 | 3 => {
                    let n = self.below(p.len() + 1);
                    p.truncate(n);
                }
                _ => {
                    let i = self.below(p.len() + 1);
                    let extra: Vec<u8> =
                        (0..self.below(16)).map(|_| self.next_u64() as u8).collect();
                    p.splice(i..i, extra);
                }
            }
        }
        p
    }
}

/// What a run saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FuzzReport {
    /// Packets fed.
    pub packets: u64,
    /// Records decoded from them.
    pub records: u64,
    /// The collector's counters at the end.
    pub counters: Counters,
    /// Templates held at the end.
    pub templates: usize,
}

/// Feeds `packets` mutations of `corpus` (each picked at random; unmutated now and then, so
/// templates get learned and data sets decoded) to one collector with the default bounds,
/// calling `each(i, packet)` before packet `i` (to remember it for a replay). A panic is the
/// caller's to catch.
pub fn run(
    corpus: &[&[u8]],
    packets: u64,
    seed: u64,
    mut each: impl FnMut(u64, &[u8]),
) -> FuzzReport {
    let exporter = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let mut c = Collector::new(CollectorConfig {
        allowed_exporters: vec![ipnet::IpNet::from(exporter)],
        ..CollectorConfig::default()
    });
    let mut m = Mutator::new(seed);
    let mut records = 0u64;
    let mut out = Vec::new();
    for i in 0..packets {
        let Some(base) = corpus.get(m.below(corpus.len())) else {
            break;
        };
        let p = if m.below(8) == 0 {
            base.to_vec()
        } else {
            m.mutate(base)
        };
        each(i, &p);
        out.clear();
        records += c.ingest_into(exporter, &p, i as i64, &mut out) as u64;
    }
    FuzzReport {
        packets,
        records,
        counters: c.counters().clone(),
        templates: c.template_count(),
    }
}
