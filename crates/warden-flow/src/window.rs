//! The sliding-window counter every per-IP table shares: the estimate rate limiters use — the
//! previous fixed window weighted by how much of it still overlaps the last `window` seconds,
//! plus the current one. Two windows of counts per IP, whatever the window's length.

/// A rate averaged over the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rate {
    /// Bits per second.
    pub bps: u64,
    /// Packets per second.
    pub pps: u64,
}

/// Bytes and packets of the current and the previous fixed window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counter {
    /// The current window's number (`now_ms / window_ms`).
    pub(crate) window: i64,
    cur_bytes: u64,
    cur_packets: u64,
    prev_bytes: u64,
    prev_packets: u64,
}

impl Counter {
    pub(crate) fn new(window: i64) -> Self {
        Self {
            window,
            cur_bytes: 0,
            cur_packets: 0,
            prev_bytes: 0,
            prev_packets: 0,
        }
    }

    /// Moves forward to `window` (never backwards: late data counts as current); returns how
    /// many windows it moved, so the caller can age what it keeps beside the counts.
    pub(crate) fn roll(&mut self, window: i64) -> i64 {
        let gap = window.saturating_sub(self.window);
        if gap <= 0 {
            return 0;
        }
        if gap == 1 {
            self.prev_bytes = self.cur_bytes;
            self.prev_packets = self.cur_packets;
        } else {
            self.prev_bytes = 0;
            self.prev_packets = 0;
        }
        self.cur_bytes = 0;
        self.cur_packets = 0;
        self.window = window;
        gap
    }

    pub(crate) fn add(&mut self, bytes: u64, packets: u64) {
        self.cur_bytes = self.cur_bytes.saturating_add(bytes);
        self.cur_packets = self.cur_packets.saturating_add(packets);
    }

    /// The rate over the `window_ms` ending at `now_ms`, without changing the counter.
    pub(crate) fn rate(&self, now_ms: i64, window_ms: i64) -> Rate {
        let gap = now_ms.div_euclid(window_ms).saturating_sub(self.window);
        let ((pb, pp), (cb, cp)) = match gap {
            ..=0 => (
                (self.prev_bytes, self.prev_packets),
                (self.cur_bytes, self.cur_packets),
            ),
            1 => ((self.cur_bytes, self.cur_packets), (0, 0)),
            _ => ((0, 0), (0, 0)),
        };
        let overlap = overlap(now_ms, window_ms);
        let w = u128::try_from(window_ms).unwrap_or(1).max(1);
        let estimate =
            |prev: u64, cur: u64| -> u128 { u128::from(prev) * overlap / w + u128::from(cur) };
        let per_sec = |n: u128| u64::try_from(n * 1000 / w).unwrap_or(u64::MAX);
        Rate {
            bps: per_sec(estimate(pb, cb) * 8),
            pps: per_sec(estimate(pp, cp)),
        }
    }
}

/// How many milliseconds of the previous fixed window still lie within the last `window_ms`.
pub(crate) fn overlap(now_ms: i64, window_ms: i64) -> u128 {
    let into = now_ms.rem_euclid(window_ms);
    u128::try_from(window_ms - into).unwrap_or(0)
}
