//! Warden's flow collector core (SPEC §10 DDOS-2): it owns decoding flow exports — NetFlow v5,
//! NetFlow v9 (RFC 3954), IPFIX (RFC 7011) and sFlow v5 — into [`FlowRecord`]s, and aggregating
//! them into per-destination-IP inbound rates with the top protocols and sources of each and
//! per-source-IP outbound rates with an estimate of the hosts each talks to ([`FlowTables`]
//! splits records by the provider's own prefixes and decides each tick which IPs are worth
//! writing), and nothing else: no sockets, no clock, no async. The binary's receive loop hands each datagram
//! with its source address and arrival time to [`Collector::ingest`], and each record to
//! [`Aggregator::observe`]; the detector asks [`Aggregator::rates`]. Keeping it pure lets the
//! tests build packets byte by byte and replay time exactly.
//!
//! The collector faces the network, so everything at intake is bounded (STYLE §6): only exporters
//! on the allow-list are parsed at all; datagram size, template count per exporter and overall,
//! fields per template, records per datagram, remembered sampling intervals and tracked IPs all
//! have a configured ceiling; no length read from a packet sizes an allocation before it is
//! checked against a bound and the bytes actually present; every loop consumes input. What does
//! not fit is dropped and counted in [`Counters`], never a panic. The decoders are our own rather
//! than a general parser's: the cache bounds, the counted reasons and the sampling semantics
//! (bytes and packets scaled by the interval from the record, the options data or the sFlow
//! sample) are the point, and the formats need only a few fields each.

mod aggregate;
mod collector;
mod counters;
mod dense;
pub mod fuzz;
mod netflow;
mod outbound;
mod reader;
mod record;
mod sflow;
pub mod synth;
mod tables;
mod template;
mod window;

pub use aggregate::{Aggregator, AggregatorConfig, BYTES_PER_TRACKED_IP, IpSnapshot, TOP_K};
pub use collector::{Collector, CollectorConfig};
pub use counters::Counters;
pub use ipnet::IpNet;
pub use outbound::{
    BYTES_PER_TRACKED_SOURCE, MAX_PEERS, OutboundAggregator, OutboundConfig, OutboundSnapshot,
    PEER_BITS,
};
pub use record::{FlowFormat, FlowRecord};
pub use tables::{FlowTables, IpRates, TablesConfig};
pub use window::Rate;
