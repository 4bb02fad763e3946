//! Host names: the table of `host` and `domain` rules, and the filter of hosts that URL
//! rules name.
//!
//! The table holds one record per name that a `host` or `domain` rule names, with the
//! winning rule of each kind on exactly that name. Its hash table holds only 4-byte
//! offsets; the record an offset points to carries the answer followed by the name's
//! bytes, so checking the name and reading the answer touch one cache line. Names are
//! hashed label by label from the right, so that the hashes of all suffixes of a host (the
//! candidate `domain` keys) come out of one pass over it.

use std::hash::{BuildHasher, Hasher};

use foldhash::fast::RandomState;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

/// "No rule" in a record.
pub(crate) const NO_RULE: u32 = u32::MAX;

/// Record layout in the blob: host rule, domain rule (u32 LE each), the name's length,
/// then the name.
const HOST: usize = 0;
const DOMAIN: usize = 4;
const LEN: usize = 8;
const HEAD: usize = 9;

/// Longest name a record holds (host names are at most 253 bytes).
pub(crate) const MAX_NAME: usize = u8::MAX as usize;

/// What the table knows about one name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NameRec {
    /// The winning `host` rule on exactly this name, or [`NO_RULE`].
    pub(crate) host: u32,
    /// The winning `domain` rule on exactly this name, or [`NO_RULE`].
    pub(crate) domain: u32,
}

/// What one rule tells the table about its name.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fact {
    /// A `host` rule (entry index).
    Host(u32),
    /// A `domain` rule (entry index).
    Domain(u32),
}

fn label_bit(labels: u32) -> u64 {
    1 << labels.min(63)
}

/// Hashes a host name label by label from the right, calling `each(start, labels, hash)`
/// for each proper suffix `name[start..]` (shortest first), and returns the hash of the
/// whole name. Rules and queries both hash names only through here.
#[inline]
pub(crate) fn name_hash(
    hasher: &RandomState,
    name: &[u8],
    mut each: impl FnMut(usize, u32, u64),
) -> u64 {
    let mut h = hasher.build_hasher();
    let mut end = name.len();
    let mut labels = 0u32;
    loop {
        let head = name.get(..end).unwrap_or_default();
        let start = head
            .iter()
            .rposition(|&b| b == b'.')
            .map_or(0, |dot| dot + 1);
        h.write(head.get(start..).unwrap_or_default());
        labels += 1;
        if start == 0 {
            return h.finish();
        }
        each(start, labels, h.finish());
        end = start - 1;
    }
}

fn read_u32(blob: &[u8], at: usize) -> u32 {
    blob.get(at..at + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(NO_RULE, u32::from_le_bytes)
}

fn write_u32(blob: &mut [u8], at: usize, v: u32) {
    if let Some(b) = blob.get_mut(at..at + 4) {
        b.copy_from_slice(&v.to_le_bytes());
    }
}

fn name_at(blob: &[u8], at: u32) -> &[u8] {
    let at = at as usize;
    let len = blob.get(at + LEN).map_or(0, |&l| usize::from(l));
    blob.get(at + HEAD..at + HEAD + len).unwrap_or_default()
}

fn rec_at(blob: &[u8], at: u32) -> NameRec {
    let at = at as usize;
    NameRec {
        host: read_u32(blob, at + HOST),
        domain: read_u32(blob, at + DOMAIN),
    }
}

/// Candidate suffixes kept by [`Names::hash`]; names with more are hashed again.
const SUFFIXES: usize = 8;

/// A name's hash and those of the proper suffixes worth probing, shortest first.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NameHashes {
    pub(crate) full: u64,
    suffixes: [(u64, usize); SUFFIXES],
    len: usize,
}

/// The table. Built by [`NamesBuilder`]; immutable afterwards.
#[derive(Debug, Default)]
pub(crate) struct Names {
    /// Offsets of records in `blob`.
    table: HashTable<u32>,
    blob: Vec<u8>,
    /// Bit `n` set: some `domain` rule has `n` labels (bit 63: 63 or more). Suffixes of
    /// other lengths are not probed.
    domain_labels: u64,
}

impl Names {
    pub(crate) fn memory_bytes(&self) -> usize {
        // hashbrown: one slot and one control byte per bucket at 7/8 load.
        let buckets = (self.table.capacity() * 8 / 7).next_power_of_two();
        buckets * (size_of::<u32>() + 1) + self.blob.capacity()
    }

    /// Hashes `name` and each of its proper suffixes worth probing as a domain (as many
    /// labels as some domain rule has; none unless `domains`), without probing yet, so
    /// that the caller can first try what takes precedence.
    #[inline]
    pub(crate) fn hash(&self, hasher: &RandomState, name: &[u8], domains: bool) -> NameHashes {
        let mut out = NameHashes {
            full: 0,
            suffixes: [(0, 0); SUFFIXES],
            len: 0,
        };
        let mask = if domains { self.domain_labels } else { 0 };
        out.full = name_hash(hasher, name, |start, labels, hash| {
            if mask & label_bit(labels) != 0 {
                if let Some(slot) = out.suffixes.get_mut(out.len) {
                    *slot = (hash, start);
                }
                out.len += 1;
            }
        });
        out
    }

    /// The record of `name` itself and the winning `domain` rule on its longest proper
    /// suffix that has one (when [`Names::hash`] was asked for domains).
    #[inline]
    pub(crate) fn resolve(
        &self,
        hasher: &RandomState,
        name: &[u8],
        hashes: &NameHashes,
    ) -> (Option<NameRec>, Option<u32>) {
        let domain_at = |hash: u64, start: usize| {
            self.get(hash, name.get(start..).unwrap_or_default())
                .map(|r| r.domain)
                .filter(|&d| d != NO_RULE)
        };
        let mut suffix = None;
        if hashes.len <= SUFFIXES {
            // Longest first: the first hit wins.
            for &(hash, start) in hashes.suffixes.iter().take(hashes.len).rev() {
                suffix = domain_at(hash, start);
                if suffix.is_some() {
                    break;
                }
            }
        } else {
            // A name with more candidate suffixes than fit: hash again, probing as we go,
            // shortest first, so the last hit wins.
            name_hash(hasher, name, |start, labels, hash| {
                if self.domain_labels & label_bit(labels) != 0
                    && let Some(d) = domain_at(hash, start)
                {
                    suffix = Some(d);
                }
            });
        }
        (self.get(hashes.full, name), suffix)
    }

    #[inline]
    fn get(&self, hash: u64, name: &[u8]) -> Option<NameRec> {
        let at = *self
            .table
            .find(hash, |&at| name_at(&self.blob, at) == name)?;
        Some(rec_at(&self.blob, at))
    }
}

/// Collects facts about names, then freezes them into [`Names`].
#[derive(Debug)]
pub(crate) struct NamesBuilder<'h> {
    hasher: &'h RandomState,
    names: Names,
}

impl<'h> NamesBuilder<'h> {
    pub(crate) fn new(hasher: &'h RandomState, capacity: usize) -> Self {
        Self {
            hasher,
            names: Names {
                table: HashTable::with_capacity(capacity),
                blob: Vec::new(),
                domain_labels: 0,
            },
        }
    }

    /// Records `fact` about `name` (at most [`MAX_NAME`] bytes; longer names are ignored,
    /// and the builder's caller refuses them). For host and domain rules `wins(old)` says
    /// whether the new rule beats the current winner `old`.
    pub(crate) fn add(&mut self, name: &[u8], fact: Fact, wins: impl Fn(u32) -> bool) {
        let Ok(len) = u8::try_from(name.len()) else {
            return;
        };
        let hasher = self.hasher;
        let Names {
            table,
            blob,
            domain_labels,
        } = &mut self.names;
        let hash = name_hash(hasher, name, |_, _, _| {});
        let at = match table.entry(
            hash,
            |&at| name_at(blob, at) == name,
            |&at| name_hash(hasher, name_at(blob, at), |_, _, _| {}),
        ) {
            Entry::Occupied(slot) => *slot.get() as usize,
            Entry::Vacant(slot) => {
                let Ok(at) = u32::try_from(blob.len()) else {
                    return;
                };
                blob.extend_from_slice(&NO_RULE.to_le_bytes());
                blob.extend_from_slice(&NO_RULE.to_le_bytes());
                blob.push(len);
                blob.extend_from_slice(name);
                slot.insert(at);
                at as usize
            }
        };
        let (off, rule) = match fact {
            Fact::Host(rule) => (HOST, rule),
            Fact::Domain(rule) => {
                let labels = name.split(|&b| b == b'.').count();
                *domain_labels |= label_bit(u32::try_from(labels).unwrap_or(u32::MAX));
                (DOMAIN, rule)
            }
        };
        let old = read_u32(blob, at + off);
        if old == NO_RULE || wins(old) {
            write_u32(blob, at + off, rule);
        }
    }

    pub(crate) fn finish(self) -> Names {
        let Self { hasher, mut names } = self;
        names.blob.shrink_to_fit();
        let blob = &names.blob;
        names
            .table
            .shrink_to_fit(|&at| name_hash(hasher, name_at(blob, at), |_, _, _| {}));
        names
    }
}

/// A Bloom filter over name hashes (two bits in one 64-bit word per name, 8 to 16 bits per
/// name, a few percent false positives): the hosts that URL rules name. A URL query asks
/// it, from the host's hash alone and without a trip to memory, whether its exact and
/// prefix keys are worth hashing and probing at all; for most queries they are not.
#[derive(Debug, Default)]
pub(crate) struct NameFilter {
    words: Vec<u64>,
    shift: u32,
}

impl NameFilter {
    /// A filter sized for `n` names.
    pub(crate) fn with_capacity(n: usize) -> Self {
        let words = (n / 8).max(1).next_power_of_two();
        Self {
            words: vec![0; words],
            shift: 64 - words.trailing_zeros(),
        }
    }

    fn at(&self, hash: u64) -> (usize, u64) {
        // The word from the top bits, the two bits from the bottom twelve.
        let word = hash.checked_shr(self.shift).unwrap_or(0) as usize;
        (word, 1 << (hash & 63) | 1 << ((hash >> 6) & 63))
    }

    pub(crate) fn insert(&mut self, hash: u64) {
        let (word, bits) = self.at(hash);
        if let Some(w) = self.words.get_mut(word) {
            *w |= bits;
        }
    }

    /// False means certainly absent.
    #[inline]
    pub(crate) fn may_contain(&self, hash: u64) -> bool {
        let (word, bits) = self.at(hash);
        self.words.get(word).is_some_and(|&w| w & bits == bits)
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.words.capacity() * size_of::<u64>()
    }
}
