//! Every packet, template and record the collector refuses is counted under the reason it was
//! refused, so an operator can tell a misconfigured exporter from an attack on the collector.

/// Monotonic counters of a [`crate::Collector`]. Plain integers: the caller exports them as
/// metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Datagrams handed to `ingest`.
    pub packets_received: u64,
    /// Datagrams decoded without error (they may still have yielded no records).
    pub packets_decoded: u64,
    /// Datagrams from an address outside the exporter allow-list.
    pub packets_exporter_not_allowed: u64,
    /// Datagrams longer than `max_packet_bytes`.
    pub packets_oversized: u64,
    /// Datagrams shorter than their header, a set or a record declares: dropped whole.
    pub packets_truncated: u64,
    /// Datagrams with an unknown version or impossible values (a set length below its header,
    /// a v5 count above 30, an sFlow address type that does not exist...): dropped whole.
    pub packets_garbage: u64,
    /// Records handed out.
    pub records_decoded: u64,
    /// Records without a source or destination IP address (e.g. a layer-2-only template).
    pub records_without_address: u64,
    /// Records beyond `max_records_per_packet`.
    pub records_over_limit: u64,
    /// Data sets whose template is not (or no longer) known: dropped.
    pub sets_without_template: u64,
    /// Templates and options templates learned or refreshed.
    pub templates_learned: u64,
    /// Templates removed by an IPFIX withdrawal.
    pub templates_withdrawn: u64,
    /// Templates evicted (least recently used) to honour the cache bounds.
    pub templates_evicted: u64,
    /// Templates expired by [`crate::Collector::expire_templates`].
    pub templates_expired: u64,
    /// Templates refused: too many fields, or a record length of zero.
    pub templates_refused: u64,
    /// Sampling intervals (from options data) not stored because the table was full.
    pub sampling_refused: u64,
    /// sFlow counter samples (parsed past, not decoded).
    pub sflow_counter_samples: u64,
    /// sFlow samples or flow records of a format not decoded (parsed past).
    pub sflow_skipped: u64,
    /// sFlow raw headers that are not Ethernet/IPv4/IPv6 carrying an IP packet.
    pub sflow_headers_unparsed: u64,
}
