//! Longest-prefix match by range flattening: the CIDRs (nested or disjoint by nature) are
//! flattened into sorted, disjoint ranges, each labelled with its most specific covering
//! rule. A lookup is one binary search over a flat array of range starts: no pointer
//! chasing, ~18 probes for 100k prefixes, and 8 (IPv4) or 20 (IPv6) bytes per range.

/// Marks "no rule covers this range".
pub(crate) const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Default)]
pub(crate) struct Lpm<T> {
    starts: Vec<T>,
    rules: Vec<u32>,
}

/// One prefix to flatten: `[start, end]` inclusive and the rule index.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prefix {
    pub start: u128,
    pub end: u128,
    pub rule: u32,
}

impl<T: Copy + Ord + TryFrom<u128>> Lpm<T> {
    /// `prefixes` must be sorted by (start, len) with duplicates of one network removed
    /// (the caller keeps the winning rule of each). `max` is the top of the address space.
    pub(crate) fn build(prefixes: &[Prefix], max: u128) -> Self {
        let mut starts: Vec<u128> = vec![0];
        let mut rules: Vec<u32> = vec![NONE];
        let mut push = |pos: u128, rule: u32| {
            if starts.last() == Some(&pos) {
                if let Some(r) = rules.last_mut() {
                    *r = rule;
                }
            } else if rules.last() != Some(&rule) {
                starts.push(pos);
                rules.push(rule);
            }
        };
        let mut stack: Vec<(u128, u32)> = Vec::new();
        for p in prefixes {
            while let Some(&(end, _)) = stack.last() {
                if end >= p.start {
                    break;
                }
                stack.pop();
                let outer = stack.last().map_or(NONE, |&(_, r)| r);
                if end < max {
                    push(end + 1, outer);
                }
            }
            push(p.start, p.rule);
            stack.push((p.end, p.rule));
        }
        while let Some((end, _)) = stack.pop() {
            let outer = stack.last().map_or(NONE, |&(_, r)| r);
            if end < max {
                push(end + 1, outer);
            }
        }
        let starts = starts
            .into_iter()
            .filter_map(|s| T::try_from(s).ok())
            .collect();
        let mut lpm = Self { starts, rules };
        lpm.starts.shrink_to_fit();
        lpm.rules.shrink_to_fit();
        lpm
    }

    /// The rule index covering `addr`, if any.
    #[inline]
    pub(crate) fn lookup(&self, addr: T) -> Option<u32> {
        let i = self.starts.partition_point(|&s| s <= addr);
        self.rules
            .get(i.checked_sub(1)?)
            .copied()
            .filter(|&r| r != NONE)
    }

    pub(crate) fn ranges(&self) -> usize {
        self.starts.len()
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.starts.capacity() * size_of::<T>() + self.rules.capacity() * size_of::<u32>()
    }
}
