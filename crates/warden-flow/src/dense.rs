//! The per-IP tables' storage: entries packed in one vector, found through a table of 4-byte
//! positions. A `HashMap` of the same entries keeps a power of two of full-size buckets, so just
//! past a power of two (a million IPs: 2^21 buckets for 10^6 entries) half its memory is spare
//! entries; here the spare room is 4-byte slots, and the vector grows by an eighth at a time up
//! to the table's bound and never beyond it. Bytes per tracked IP stay close to the entry's size
//! at any fill.
//!
//! Removal moves the last entry into the hole (`swap_remove`) and re-points its slot, so every
//! operation stays O(1) but the order of entries is not kept.

use std::hash::{BuildHasher, Hash};

use hashbrown::HashTable;

/// A map from small `Copy` keys to values with dense storage; see the module documentation.
#[derive(Debug)]
pub(crate) struct DenseMap<K, V> {
    entries: Vec<(K, V)>,
    index: HashTable<u32>,
    hasher: foldhash::fast::FixedState,
    max: usize,
}

impl<K: Copy + Eq + Hash, V> DenseMap<K, V> {
    /// An empty map that will hold at most `max` entries (at most `u32::MAX`).
    pub(crate) fn new(max: usize) -> Self {
        Self {
            entries: Vec::new(),
            index: HashTable::new(),
            hasher: foldhash::fast::FixedState::with_seed(0x5741_5244_454e),
            max: max.clamp(1, u32::MAX as usize),
        }
    }

    fn hash(&self, k: &K) -> u64 {
        self.hasher.hash_one(k)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Bytes allocated: the entries' vector (capacity) and the index (its buckets, 4 bytes and
    /// a control byte each, and the control bytes' trailing group).
    pub(crate) fn allocated_bytes(&self) -> usize {
        let buckets = match self.index.capacity() {
            0 => 0,
            c if c < 8 => (c + 1).next_power_of_two(),
            c => (c.div_ceil(7) * 8).next_power_of_two(),
        };
        self.entries.capacity() * std::mem::size_of::<(K, V)>()
            + if buckets > 0 { buckets * 5 + 16 } else { 0 }
    }

    fn position(&self, h: u64, k: &K) -> Option<usize> {
        let entries = &self.entries;
        self.index
            .find(h, |&i| entries.get(i as usize).is_some_and(|e| e.0 == *k))
            .map(|&i| i as usize)
    }

    pub(crate) fn get(&self, k: &K) -> Option<&V> {
        let i = self.position(self.hash(k), k)?;
        self.entries.get(i).map(|e| &e.1)
    }

    pub(crate) fn contains_key(&self, k: &K) -> bool {
        self.get(k).is_some()
    }

    /// The value of `k`, inserted from `make` if absent. The caller keeps the bound (evicts
    /// first); past it the vector grows anyway rather than lose the record.
    pub(crate) fn get_or_insert_with(&mut self, k: K, make: impl FnOnce() -> V) -> &mut V {
        let h = self.hash(&k);
        let i = match self.position(h, &k) {
            Some(i) => i,
            None => {
                if self.entries.len() == self.entries.capacity() {
                    let len = self.entries.len();
                    let step = (len / 8).max(64);
                    let room = self.max.saturating_sub(len).max(1);
                    self.entries.reserve_exact(step.min(room));
                }
                let i = self.entries.len();
                self.entries.push((k, make()));
                let (entries, hasher) = (&self.entries, &self.hasher);
                self.index.insert_unique(h, i as u32, |&j| {
                    entries.get(j as usize).map_or(0, |e| hasher.hash_one(e.0))
                });
                i
            }
        };
        match self.entries.get_mut(i) {
            Some((_, v)) => v,
            None => unreachable!("the index points into the entries"),
        }
    }

    /// Keeps the entries `keep` says yes to.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        let mut i = 0;
        while let Some((k, v)) = self.entries.get(i) {
            if keep(k, v) {
                i += 1;
            } else {
                self.remove_at(i);
            }
        }
    }

    fn remove_at(&mut self, i: usize) {
        let Some(&(k, _)) = self.entries.get(i) else {
            return;
        };
        let h = self.hash(&k);
        if let Ok(e) = self.index.find_entry(h, |&j| j as usize == i) {
            e.remove();
        }
        let last = self.entries.len() - 1;
        self.entries.swap_remove(i);
        if i != last
            && let Some(&(moved, _)) = self.entries.get(i)
        {
            let h = self.hash(&moved);
            if let Some(slot) = self.index.find_mut(h, |&j| j as usize == last) {
                *slot = i as u32;
            }
        }
    }

    /// Evicts the least recently seen sixteenth of the entries (at least one), by the time
    /// `seen` reads off each; returns how many went.
    pub(crate) fn evict_oldest(&mut self, seen: impl Fn(&V) -> i64) -> u64 {
        let mut times: Vec<i64> = self.values().map(&seen).collect();
        if times.is_empty() {
            return 0;
        }
        let n = (times.len() / 16).max(1);
        let cutoff = *times.select_nth_unstable(n - 1).1;
        let before = self.len();
        self.retain(|_, v| seen(v) > cutoff);
        (before - self.len()) as u64
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.entries.iter().map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inserts, finds, removes in any order; the index always points at the right entry.
    #[test]
    fn behaves_like_a_map() {
        let mut m: DenseMap<u64, u64> = DenseMap::new(10_000);
        let mut model = std::collections::HashMap::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for round in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = x % 3000;
            if round % 5 == 4 {
                let cut = x % 7;
                m.retain(|k, _| k % 7 != cut);
                model.retain(|k: &u64, _| k % 7 != cut);
            } else {
                *m.get_or_insert_with(k, || 0) += 1;
                *model.entry(k).or_insert(0) += 1;
            }
            if round % 997 == 0 {
                assert_eq!(m.len(), model.len());
                for (k, v) in &model {
                    assert_eq!(m.get(k), Some(v), "key {k}");
                }
            }
        }
        assert_eq!(m.len(), model.len());
        for (k, v) in m.iter() {
            assert_eq!(model.get(k), Some(v));
        }
        assert!(!m.contains_key(&1_000_000));
    }

    /// At its bound the vector holds exactly the bound: no spare entries.
    #[test]
    fn grows_to_its_bound_and_no_further() {
        let mut m: DenseMap<u32, [u8; 100]> = DenseMap::new(100_000);
        for k in 0..100_000 {
            m.get_or_insert_with(k, || [0; 100]);
        }
        assert_eq!(m.entries.capacity(), 100_000);
        let per_entry = m.allocated_bytes() as f64 / 100_000.0;
        assert!(per_entry < 104.0 + 12.0, "{per_entry} bytes per entry");
    }
}
