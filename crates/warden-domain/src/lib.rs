//! Warden's domain: the vocabulary of the security-violation policy (SPEC §2–4) as plain data
//! and pure functions.
//!
//! This crate owns what a report, a resource identifier, a category or a case *is*, and which
//! inputs are valid. It does no I/O and reads no clock: every function that depends on time takes
//! `now` as a [`time::Timestamp`]. Invalid values are rejected at the boundary by `parse`
//! constructors, so the rest of Warden handles only valid ones.

pub mod assessment;
pub mod blackhole;
pub mod calendar;
pub mod canonical;
pub mod code;
pub mod delivery;
pub mod grading;
pub mod identity;
pub mod lifecycle;
pub mod penalty;
pub mod report;
pub mod resource;
pub mod taxonomy;
pub mod text;
pub mod time;
pub mod vulnerability;
pub mod why;
pub mod xarf;

/// SHA-256 of `bytes`, lower-case hex. Evidence digests (INT-3) and audit digests use it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
