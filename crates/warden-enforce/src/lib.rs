//! Enforcement: how the rest of the world learns what Warden has blocked (SPEC §13 ENF-1).
//!
//! This crate owns the **decision index**: an immutable, in-memory snapshot of every active
//! enforcement action, answering "is this URL / host / IP / object / service blocked, and by
//! which action?" in well under a microsecond, so that nginx `auth_request` and Envoy
//! `ext_authz`-style checks can call it on every request. It is pure (no I/O, no clock, no
//! async): the application layer feeds it rules from the store and swaps snapshots through
//! [`SharedIndex`]; readers never wait for a rebuild. Adapters that push the same actions to
//! webhooks, DNS RPZ and ExaBGP will live next to it, behind one trait.
//!
//! Everything a rule or a query names is first brought to one canonical text (see
//! [`normalise_url`]) so that matching is byte equality on hashed slices: the
//! normalisation *is* the security boundary, and both sides go through the same code. That
//! code is Warden's one canonicaliser, `warden_domain::canonical`, which intake's correlation,
//! owner lookup and the RPZ use too (hence this crate's one dependency of ours); the index
//! adds only a fast path for URLs that need no more than a copy, held by property tests to
//! agree with it.

pub mod index;

pub use index::{
    ApplyOutcome, Change, Decision, Error, Index, MAX_HOST_LEN, MAX_URL_LEN, NormUrl, Rule,
    RuleKind, RuleRef, Scheme, SharedIndex, normalise_host, normalise_url,
};
