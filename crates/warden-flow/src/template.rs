//! The template cache. NetFlow v9 and IPFIX records cannot be read without the template that
//! describes them, and templates are scoped by (exporter, observation domain, template id): two
//! routers routinely use the same id for different layouts. The cache is bounded per exporter and
//! overall; at a bound the least recently used template of that exporter (or of all exporters) is
//! evicted and counted, so a noisy exporter cannot push out everyone else's templates. Eviction
//! scans the cache, which is O(bound) but only happens when a *new* template arrives at a bound;
//! refreshing a known template (exporters resend them every few seconds) never scans.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Which protocol a template belongs to: v9 and IPFIX ids live in separate spaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Proto {
    V9,
    Ipfix,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub(crate) exporter: IpAddr,
    pub(crate) domain: u32,
    pub(crate) proto: Proto,
    pub(crate) id: u16,
}

/// Variable length (IPFIX, RFC 7011 §7): the record carries the length.
pub(crate) const VARLEN: u16 = 0xffff;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) id: u16,
    pub(crate) len: u16,
    /// An enterprise-specific field: skipped, never interpreted.
    pub(crate) enterprise: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pub(crate) fields: Arc<[Field]>,
    /// Options templates: the first `scope` fields are scope fields (never interpreted as
    /// flow fields: v9 scope type 1 is "System", not "octets"). `None` for data templates.
    pub(crate) scope: Option<u16>,
    /// The shortest a record can be (variable-length fields count one byte); never zero, so a
    /// data set loop always advances. Padding is shorter than this.
    pub(crate) min_len: usize,
}

impl Template {
    /// `None` when a record of this layout would be empty.
    pub(crate) fn new(fields: Vec<Field>, scope: Option<u16>) -> Option<Self> {
        let min_len = fields
            .iter()
            .map(|f| {
                if f.len == VARLEN {
                    1
                } else {
                    usize::from(f.len)
                }
            })
            .sum::<usize>();
        (min_len > 0).then(|| Self {
            fields: fields.into(),
            scope,
            min_len,
        })
    }
}

#[derive(Debug)]
struct Entry {
    template: Template,
    /// (caller's time, insertion tick): the LRU order; the tick breaks ties within a millisecond.
    used: (i64, u64),
}

#[derive(Debug)]
pub(crate) struct TemplateCache {
    map: HashMap<Key, Entry>,
    per_exporter: HashMap<IpAddr, usize>,
    max_per_exporter: usize,
    max_total: usize,
    tick: u64,
}

impl TemplateCache {
    pub(crate) fn new(max_per_exporter: usize, max_total: usize) -> Self {
        Self {
            map: HashMap::new(),
            per_exporter: HashMap::new(),
            max_per_exporter: max_per_exporter.max(1),
            max_total: max_total.max(1),
            tick: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    fn stamp(&mut self, now_ms: i64) -> (i64, u64) {
        self.tick = self.tick.wrapping_add(1);
        (now_ms, self.tick)
    }

    pub(crate) fn get(&mut self, key: &Key, now_ms: i64) -> Option<&Template> {
        let used = self.stamp(now_ms);
        let entry = self.map.get_mut(key)?;
        entry.used = used;
        Some(&entry.template)
    }

    /// Learns or refreshes a template; returns how many templates were evicted to make room.
    pub(crate) fn insert(&mut self, key: Key, template: Template, now_ms: i64) -> u64 {
        let used = self.stamp(now_ms);
        if let Some(entry) = self.map.get_mut(&key) {
            entry.template = template;
            entry.used = used;
            return 0;
        }
        let mut evicted = 0;
        if self.per_exporter.get(&key.exporter).copied().unwrap_or(0) >= self.max_per_exporter {
            evicted += u64::from(self.evict_lru(Some(key.exporter)));
        }
        if self.map.len() >= self.max_total {
            evicted += u64::from(self.evict_lru(None));
        }
        self.map.insert(key, Entry { template, used });
        *self.per_exporter.entry(key.exporter).or_insert(0) += 1;
        evicted
    }

    fn evict_lru(&mut self, exporter: Option<IpAddr>) -> bool {
        let victim = self
            .map
            .iter()
            .filter(|(k, _)| exporter.is_none_or(|e| k.exporter == e))
            .min_by_key(|(_, e)| e.used)
            .map(|(k, _)| *k);
        victim.is_some_and(|k| self.remove(&k))
    }

    pub(crate) fn remove(&mut self, key: &Key) -> bool {
        if self.map.remove(key).is_none() {
            return false;
        }
        if let Some(n) = self.per_exporter.get_mut(&key.exporter) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_exporter.remove(&key.exporter);
            }
        }
        true
    }

    /// Removes every template matching `keep == false`; returns how many.
    pub(crate) fn remove_where(
        &mut self,
        mut doomed: impl FnMut(&Key, &Template, (i64, u64)) -> bool,
    ) -> u64 {
        let keys: Vec<Key> = self
            .map
            .iter()
            .filter(|(k, e)| doomed(k, &e.template, e.used))
            .map(|(k, _)| *k)
            .collect();
        keys.iter().filter(|k| self.remove(k)).count() as u64
    }
}
