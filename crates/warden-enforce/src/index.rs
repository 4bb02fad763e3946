//! The decision index: rules, their canonical keys, and the snapshot that matches queries
//! against them.
//!
//! # Precedence
//!
//! A query can match several rules; the **most specific** wins, in this order:
//!
//! 1. `url_exact` — the whole canonical URL, query string included;
//! 2. `url_prefix` — the longest matching path prefix on the same `host[:port]`;
//! 3. `host` — the exact host name;
//! 4. `domain` — the longest matching domain suffix (`a.b.example` before `example`);
//! 5. `ip` — the longest matching CIDR, only when the URL's host is an IP literal (the
//!    index never resolves names).
//!
//! When several rules share the same canonical key (two cases blocking the same URL), the
//! rule with the lexicographically smallest id wins, so the answer never depends on the
//! order rules arrived in. Objects and services are separate namespaces checked by
//! [`Index::check_object`] and [`Index::check_service`].
//!
//! # Prefix semantics
//!
//! A `url_prefix` rule matches at path-segment boundaries: `https://shop.example/shop`
//! matches `/shop`, `/shop/` and `/shop/x`, never `/shopping`; an escaped `%2F` is not a
//! boundary. Prefix rules **ignore the scheme** (a site served over both http and https is
//! one site; the stored value keeps the scheme it was given, for display) and the query
//! string, but a non-default port is part of the key. `object` rules use the same
//! boundary rule on `/` (`bucket/dir` matches `bucket/dir/file`, not `bucket/dirty`).
//!
//! # Cost of a lookup
//!
//! ENF-1 asks for ten million lookups a second on one core against a million rules, so the
//! query path is shaped around memory accesses, not instructions:
//!
//! - queries as edges send them are canonicalised without allocating (`fast`): in place
//!   when already canonical, else in a per-thread buffer; the rest go through
//!   [`normalise_url`], the reference, which the fast path is tested against;
//! - `host` and `domain` rules live in a table of names (`names`) whose record holds the
//!   answer next to the name's bytes; a host's suffixes are hashed in one right-to-left
//!   pass, and only suffixes with as many labels as some domain rule are probed;
//! - a cache-sized filter of the hosts that URL rules name tells a URL query whether its
//!   exact and prefix keys are worth hashing at all; most are not;
//! - exact, prefix, object and service keys share one table whose slots point at a header
//!   in the arena right before the key, so a hit reads the key and the answer in one
//!   place; prefix keys are hashed segment by segment, all depths in one pass, and only
//!   depths some prefix rule has are probed.

mod fast;
mod lpm;
mod names;
mod normalise;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use hashbrown::HashTable;
use hashbrown::hash_table::Entry as TableEntry;
use ipnet::IpNet;

use fast::Query;
use lpm::{Lpm, Prefix};
use names::{Fact, NO_RULE, NameFilter, NameHashes, NameRec, Names, NamesBuilder, name_hash};
pub use normalise::{MAX_HOST_LEN, MAX_URL_LEN, NormUrl, Scheme, normalise_host, normalise_url};

/// Why a rule value or a query could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The rule kind is not one of the names listed in [`RuleKind::NAMES`].
    #[error(
        "unknown rule kind `{0}` (expected url_exact, url_prefix, host, domain, ip, object or service)"
    )]
    UnknownKind(String),
    /// The value is empty (after trimming whitespace, and `/` for objects).
    #[error("empty {0} value")]
    Empty(&'static str),
    /// The input is not an absolute URL (`scheme:` missing or malformed).
    #[error("not an absolute URL: `{0}`")]
    NotAUrl(String),
    /// The URL's scheme is neither `http` nor `https`.
    #[error("unsupported URL scheme `{0}` (only http and https)")]
    UnsupportedScheme(String),
    /// The URL has an empty host.
    #[error("URL has no host")]
    MissingHost,
    /// The host is malformed; the second field says how.
    #[error("invalid host `{0}`: {1}")]
    InvalidHost(String, &'static str),
    /// The port is not a number in 0..=65535.
    #[error("invalid port `{0}`")]
    InvalidPort(String),
    /// The value is neither an IP address nor a CIDR.
    #[error("invalid IP address or CIDR `{0}`")]
    InvalidIp(String),
    /// A `host` or `domain` rule names an IP address, which only `ip` rules can block.
    #[error("`{0}` is an IP address; use an `ip` rule")]
    HostIsIp(String),
    /// The input is longer than the bound accepted at intake.
    #[error("input longer than {max} bytes")]
    TooLong {
        /// The bound, in bytes.
        max: usize,
    },
    /// The index's string arena would exceed 4 GiB.
    #[error("decision index is full (string arena above 4 GiB)")]
    IndexFull,
}

/// What a rule matches. Values are normalised by [`RuleKind::parse`] and again, idempotently,
/// when an [`Index`] is built, so hand-built kinds are safe too.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RuleKind {
    /// One canonical URL, query string included.
    UrlExact(String),
    /// A URL and everything below it, at path-segment boundaries, any scheme.
    UrlPrefix(String),
    /// Exactly this host name.
    Host(String),
    /// This domain and all its subdomains (a `*.` or `.` prefix is accepted and dropped).
    Domain(String),
    /// An address or CIDR, IPv4 or IPv6.
    Ip(IpNet),
    /// A bucket, or a `bucket/key` prefix at `/` boundaries.
    Object(String),
    /// A service identifier, matched exactly.
    Service(String),
}

impl RuleKind {
    /// The kind names accepted by [`RuleKind::parse`], in precedence order.
    pub const NAMES: [&'static str; 7] = [
        "url_exact",
        "url_prefix",
        "host",
        "domain",
        "ip",
        "object",
        "service",
    ];

    /// Parses and normalises a rule value of the named kind.
    pub fn parse(kind: &str, value: &str) -> Result<Self, Error> {
        let raw = match kind.trim().to_ascii_lowercase().as_str() {
            "url_exact" | "url" => Self::UrlExact(value.to_owned()),
            "url_prefix" => Self::UrlPrefix(value.to_owned()),
            "host" => Self::Host(value.to_owned()),
            "domain" => Self::Domain(value.to_owned()),
            "ip" | "cidr" => {
                if value.trim().is_empty() {
                    return Err(Error::Empty("ip"));
                }
                Self::Ip(normalise::parse_net(value)?)
            }
            "object" => Self::Object(value.to_owned()),
            "service" => Self::Service(value.to_owned()),
            other => return Err(Error::UnknownKind(other.chars().take(64).collect())),
        };
        raw.normalised()
    }

    /// The kind's name, as accepted by [`RuleKind::parse`].
    pub fn name(&self) -> &'static str {
        self.tag().name()
    }

    /// The value as text (a CIDR for `ip`).
    pub fn value(&self) -> String {
        match self {
            Self::Ip(net) => net.to_string(),
            Self::UrlExact(v)
            | Self::UrlPrefix(v)
            | Self::Host(v)
            | Self::Domain(v)
            | Self::Object(v)
            | Self::Service(v) => v.clone(),
        }
    }

    /// This kind with its value in canonical form. Idempotent.
    pub fn normalised(&self) -> Result<Self, Error> {
        Ok(match self {
            Self::UrlExact(v) => Self::UrlExact(
                non_empty(v, "url")?
                    .pipe(normalise_url)?
                    .as_str()
                    .to_owned(),
            ),
            Self::UrlPrefix(v) => {
                let url = normalise_url(non_empty(v, "url_prefix")?)?;
                Self::UrlPrefix(format!("{}://{}", url.scheme().as_str(), url.prefix_key()))
            }
            Self::Host(v) => Self::Host(name_only(non_empty(v, "host")?)?),
            Self::Domain(v) => {
                let v = non_empty(v, "domain")?;
                let v = v
                    .strip_prefix("*.")
                    .or_else(|| v.strip_prefix('.'))
                    .unwrap_or(v);
                Self::Domain(name_only(v)?)
            }
            Self::Ip(net) => Self::Ip(normalise::canonical_net(*net)),
            Self::Object(v) => {
                let v = v.trim().trim_matches('/');
                if v.is_empty() {
                    return Err(Error::Empty("object"));
                }
                if v.len() > MAX_URL_LEN {
                    return Err(Error::TooLong { max: MAX_URL_LEN });
                }
                Self::Object(v.to_owned())
            }
            Self::Service(v) => {
                let v = non_empty(v, "service")?;
                if v.len() > MAX_URL_LEN {
                    return Err(Error::TooLong { max: MAX_URL_LEN });
                }
                Self::Service(v.to_owned())
            }
        })
    }

    fn tag(&self) -> Tag {
        match self {
            Self::UrlExact(_) => Tag::UrlExact,
            Self::UrlPrefix(_) => Tag::UrlPrefix,
            Self::Host(_) => Tag::Host,
            Self::Domain(_) => Tag::Domain,
            Self::Ip(_) => Tag::Ip,
            Self::Object(_) => Tag::Object,
            Self::Service(_) => Tag::Service,
        }
    }
}

trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}
impl<T> Pipe for T {}

fn non_empty<'a>(v: &'a str, what: &'static str) -> Result<&'a str, Error> {
    let v = v.trim();
    if v.is_empty() {
        Err(Error::Empty(what))
    } else {
        Ok(v)
    }
}

fn name_only(v: &str) -> Result<String, Error> {
    match normalise_host(v)? {
        (name, None) => Ok(name),
        (name, Some(_)) => Err(Error::HostIsIp(name)),
    }
}

/// One enforcement action, as the index sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The id of the action record that created this rule; unique in a [`SharedIndex`].
    pub id: String,
    /// What the rule matches.
    pub kind: RuleKind,
    /// The action type, e.g. `block_url`.
    pub action: String,
    /// The case the action belongs to.
    pub case_id: String,
    /// The notice shown to visitors of blocked content (HTTP 451 page), if any.
    pub notice: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Tag {
    UrlExact,
    UrlPrefix,
    Host,
    Domain,
    Ip,
    Object,
    Service,
}

impl Tag {
    fn name(self) -> &'static str {
        match self {
            Self::UrlExact => "url_exact",
            Self::UrlPrefix => "url_prefix",
            Self::Host => "host",
            Self::Domain => "domain",
            Self::Ip => "ip",
            Self::Object => "object",
            Self::Service => "service",
        }
    }
}

const NO_NOTICE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    len: u32,
}

/// A rule in compact form: its strings live in one arena (id, value) or in a pool of
/// interned strings (action, case, notice — few distinct values, many rules each). This is
/// what keeps a million rules near 100 MB instead of ~400 MB of individual `String`s.
#[derive(Debug, Clone, Copy)]
struct Entry {
    id: Span,
    value: Span,
    action: u32,
    case: u32,
    notice: u32,
    tag: Tag,
}

/// The value of a rule in the key table (`url_exact`, `url_prefix`, `object`, `service`)
/// is preceded in the arena by a header: the entry index (five 7-bit digits), the value's
/// length (three), the tag, and the offset of the hashed key in the value (past
/// `scheme://` for prefix rules) — all ASCII, so the arena stays a `str`. The table's
/// slots hold the header's offset, so a probe finds the key to compare and the answer in
/// one place instead of going through `entries` first.
const KEY_HEAD: usize = 10;
/// Longest value a header can describe (three 7-bit digits).
const MAX_KEYED_LEN: usize = (1 << 21) - 1;

fn keyed(tag: Tag) -> bool {
    matches!(
        tag,
        Tag::UrlExact | Tag::UrlPrefix | Tag::Object | Tag::Service
    )
}

fn key_hash(hasher: &foldhash::fast::RandomState, tag: Tag, key: &[u8]) -> u64 {
    let mut h = hasher.build_hasher();
    h.write(key);
    h.write_u8(tag as u8);
    h.finish()
}

/// The hash of a table key. Prefix keys (`authority[/seg...]`) are hashed segment by
/// segment from the left, so that a query gets the hashes of all its path prefixes in one
/// pass (see [`Index::find_prefix`]); the others whole.
fn entry_hash(hasher: &foldhash::fast::RandomState, tag: Tag, key: &[u8]) -> u64 {
    if tag != Tag::UrlPrefix {
        return key_hash(hasher, tag, key);
    }
    let mut parts = key.split(|&b| b == b'/');
    let mut h = hasher.build_hasher();
    h.write(parts.next().unwrap_or_default());
    for segment in parts {
        h.write(segment);
    }
    h.finish()
}

fn depth_bit(depth: usize) -> u32 {
    1 << depth.min(31)
}

/// Reads the header at `at`: the entry index, the tag (as a byte) and the key.
#[inline]
fn keyed_at(arena: &str, at: u32) -> Option<(u32, u8, &[u8])> {
    let arena = arena.as_bytes();
    let at = at as usize;
    let head = arena.get(at..at + KEY_HEAD)?;
    let digits = |range: std::ops::Range<usize>| {
        head.get(range).map(|d| {
            d.iter()
                .rev()
                .fold(0u32, |v, &digit| v << 7 | u32::from(digit))
        })
    };
    let (entry, len) = (digits(0..5)?, digits(5..8)? as usize);
    let (tag, off) = (*head.get(8)?, usize::from(*head.get(9)?));
    let start = at + KEY_HEAD;
    Some((entry, tag, arena.get(start + off..start + len)?))
}

/// Appends the header of [`KEY_HEAD`] ASCII bytes; `len` must not exceed
/// [`MAX_KEYED_LEN`].
fn push_key_header(arena: &mut String, entry: u32, len: usize, tag: Tag, key_off: u8) {
    let len = u32::try_from(len.min(MAX_KEYED_LEN)).unwrap_or(0);
    let digits = |v: u32, n: u32| (0..n).map(move |i| (v >> (7 * i)) & 0x7f);
    for d in digits(entry, 5)
        .chain(digits(len, 3))
        .chain([u32::from(tag as u8), u32::from(key_off)])
    {
        arena.push(char::from(u8::try_from(d).unwrap_or(0)));
    }
}

/// Where the part after `scheme://` starts in a canonical URL value.
fn after_scheme(value: &str) -> Option<usize> {
    if value.starts_with("https://") {
        Some(8)
    } else if value.starts_with("http://") {
        Some(7)
    } else {
        value.find("://").map(|p| p + 3)
    }
}

/// An immutable snapshot of the rules, indexed for lookup. Build one with [`Index::build`];
/// share and update it with [`SharedIndex`].
pub struct Index {
    arena: String,
    entries: Vec<Entry>,
    pool: Vec<Box<str>>,
    /// `url_exact`, `url_prefix`, `object` and `service` entries, keyed by (tag, canonical
    /// key): arena offsets of their headers; one winner per key.
    table: HashTable<u32>,
    /// The names of `host` and `domain` rules, with the winning rule of each kind.
    names: Names,
    /// The hosts URL rules name: their exact and prefix keys are probed only for these.
    url_hosts: NameFilter,
    /// Bit `d` set: some `url_prefix` rule has `d` path segments (bit 31: 31 or more).
    prefix_depths: u32,
    hasher: foldhash::fast::RandomState,
    v4: Lpm<u32>,
    v6: Lpm<u128>,
    per_tag: [usize; 7],
    revision: u64,
    rejected: Vec<(Rule, Error)>,
}

impl fmt::Debug for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Index")
            .field("revision", &self.revision)
            .field("rules", &self.entries.len())
            .field("ip_ranges", &(self.v4.ranges() + self.v6.ranges()))
            .field("rejected", &self.rejected.len())
            .finish_non_exhaustive()
    }
}

/// A rule inside an [`Index`], borrowed: the index stores rules compactly, so a match is a
/// view with accessors rather than a `&Rule`; [`RuleRef::to_rule`] makes an owned copy.
#[derive(Clone, Copy)]
pub struct RuleRef<'a> {
    index: &'a Index,
    entry: &'a Entry,
}

impl<'a> RuleRef<'a> {
    /// The action record id.
    pub fn id(&self) -> &'a str {
        self.index.span(self.entry.id)
    }

    /// The rule kind's name (`url_exact`, `url_prefix`, ...).
    pub fn kind_name(&self) -> &'static str {
        self.entry.tag.name()
    }

    /// The canonical value (a CIDR for `ip`).
    pub fn value(&self) -> &'a str {
        self.index.span(self.entry.value)
    }

    /// The action type.
    pub fn action(&self) -> &'a str {
        self.index.pooled(self.entry.action)
    }

    /// The case id.
    pub fn case_id(&self) -> &'a str {
        self.index.pooled(self.entry.case)
    }

    /// The notice, if any.
    pub fn notice(&self) -> Option<&'a str> {
        (self.entry.notice != NO_NOTICE).then(|| self.index.pooled(self.entry.notice))
    }

    /// The kind with its canonical value.
    pub fn kind(&self) -> RuleKind {
        let v = self.value().to_owned();
        match self.entry.tag {
            Tag::UrlExact => RuleKind::UrlExact(v),
            Tag::UrlPrefix => RuleKind::UrlPrefix(v),
            Tag::Host => RuleKind::Host(v),
            Tag::Domain => RuleKind::Domain(v),
            // The stored text was produced by `IpNet::to_string`, so it parses back.
            Tag::Ip => v
                .parse()
                .map_or(RuleKind::Service(String::new()), RuleKind::Ip),
            Tag::Object => RuleKind::Object(v),
            Tag::Service => RuleKind::Service(v),
        }
    }

    /// An owned copy of the rule.
    pub fn to_rule(&self) -> Rule {
        Rule {
            id: self.id().to_owned(),
            kind: self.kind(),
            action: self.action().to_owned(),
            case_id: self.case_id().to_owned(),
            notice: self.notice().map(str::to_owned),
        }
    }
}

impl PartialEq for RuleRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.index, other.index) && std::ptr::eq(self.entry, other.entry)
    }
}
impl Eq for RuleRef<'_> {}

impl fmt::Debug for RuleRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleRef")
            .field("id", &self.id())
            .field("kind", &self.kind_name())
            .field("value", &self.value())
            .field("action", &self.action())
            .field("case_id", &self.case_id())
            .finish()
    }
}

/// The answer to a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<'a> {
    /// No rule matches.
    Allowed,
    /// The winning (most specific) rule.
    Blocked {
        /// The rule that blocks.
        rule: RuleRef<'a>,
    },
}

impl<'a> Decision<'a> {
    /// Whether a rule matched.
    pub fn is_blocked(&self) -> bool {
        matches!(self, Self::Blocked { .. })
    }

    /// The winning rule, if any.
    pub fn rule(&self) -> Option<RuleRef<'a>> {
        match self {
            Self::Allowed => None,
            Self::Blocked { rule } => Some(*rule),
        }
    }
}

impl Index {
    /// Builds an index. Rules whose values cannot be normalised are left out and listed by
    /// [`Index::rejected`]; building never fails. Cost: O(n) normalisation plus O(n) hash
    /// inserts and an O(k log k) sort of the k IP rules.
    pub fn build(rules: impl IntoIterator<Item = Rule>) -> Self {
        let mut builder = Builder::default();
        let mut rejected = Vec::new();
        for rule in rules {
            match rule.kind.normalised() {
                Ok(kind) => {
                    if let Err(e) = builder.push_rule(&rule, &kind) {
                        rejected.push((rule, e));
                    }
                }
                Err(e) => rejected.push((rule, e)),
            }
        }
        let mut index = builder.finish(0);
        index.rejected = rejected;
        index
    }

    /// An index with no rules.
    pub fn empty() -> Self {
        Builder::default().finish(0)
    }

    /// Number of rules held (including rules shadowed by an identical key).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the index holds no rule.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The revision of this snapshot: 0 from [`Index::build`], then +1 per
    /// [`SharedIndex::apply`].
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Rules [`Index::build`] left out, with the reason.
    pub fn rejected(&self) -> &[(Rule, Error)] {
        &self.rejected
    }

    /// All rules, in build order.
    pub fn rules(&self) -> impl Iterator<Item = RuleRef<'_>> {
        self.entries
            .iter()
            .map(|entry| RuleRef { index: self, entry })
    }

    /// An estimate of the heap memory held, in bytes (allocations counted by capacity;
    /// allocator overhead of the few large blocks ignored).
    pub fn memory_bytes(&self) -> usize {
        let pool: usize = self
            .pool
            .iter()
            .map(|s| s.len() + 16 + size_of::<Box<str>>())
            .sum();
        // hashbrown: one slot and one control byte per bucket at 7/8 load.
        let buckets = |capacity: usize| (capacity * 8 / 7).next_power_of_two();
        size_of::<Self>()
            + self.arena.capacity()
            + self.entries.capacity() * size_of::<Entry>()
            + pool
            + buckets(self.table.capacity()) * (size_of::<u32>() + 1)
            + self.names.memory_bytes()
            + self.url_hosts.memory_bytes()
            + self.v4.memory_bytes()
            + self.v6.memory_bytes()
    }

    /// Checks a URL: exact URL, then URL prefixes, then its host (host, domains, or IP
    /// rules for IP literals). A URL that cannot be normalised is an error, not a decision:
    /// whether garbage fails open or closed is the enforcement point's policy.
    ///
    /// URLs as edges usually send them (ASCII, nothing to decode or resolve) are brought to
    /// canonical form without allocating: in place when they are canonical already, else in
    /// a per-thread buffer; everything else goes through [`normalise_url`].
    pub fn check_url(&self, url: &str) -> Result<Decision<'_>, Error> {
        if let Some(auth) = fast::scan_authority(url) {
            let host = auth.host(url);
            let done = if auth.host_is_lower() {
                self.check_url_fast(url, &auth, host)
            } else {
                let mut buf = [0u8; MAX_HOST_LEN];
                let lower = buf.get_mut(..host.len()).unwrap_or_default();
                for (o, &c) in lower.iter_mut().zip(host) {
                    *o = c.to_ascii_lowercase();
                }
                self.check_url_fast(url, &auth, lower)
            };
            if let Some(decision) = done {
                return Ok(decision);
            }
        }
        Ok(self.check_norm_url(&normalise_url(url)?))
    }

    /// [`Index::check_url`] on a URL whose authority the fast path accepted, `host` being
    /// its canonical host; `None` if it needs the reference normaliser after all.
    #[inline]
    fn check_url_fast(
        &self,
        url: &str,
        auth: &fast::AuthScan,
        host: &[u8],
    ) -> Option<Decision<'_>> {
        thread_local! {
            static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        let ip = auth.ip();
        let hashes = self.name_hashes(host, ip);
        // Read the filter before scanning the path and query, so that its memory access
        // overlaps the scan instead of following it.
        let url_rules = std::hint::black_box(self.url_rules_may_match(&hashes));
        let scan = fast::scan_url(url, auth);
        if url_rules {
            // A path or query the fast path declines matters only when URL rules may match.
            let scan = scan?;
            let hit = match scan.borrowed(url) {
                Some(q) => self.url_rules(&q),
                None => BUF.with(|buf| {
                    let mut buf = buf.try_borrow_mut().ok()?;
                    Some(self.url_rules(&scan.write(url, &mut buf)?))
                })?,
            };
            if let Some(i) = hit {
                return Some(self.blocked(i));
            }
        }
        Some(self.host_decision(host, ip, &hashes))
    }

    /// [`Index::check_url`] on an already normalised URL.
    pub fn check_norm_url(&self, url: &NormUrl) -> Decision<'_> {
        let q = Query {
            s: url.raw().as_bytes(),
            host_start: url.host_start(),
            auth_end: url.auth_end(),
            path_end: url.path_end(),
            ip: url.ip(),
        };
        let host = url.host().as_bytes();
        let hashes = self.name_hashes(host, q.ip);
        if self.url_rules_may_match(&hashes)
            && let Some(i) = self.url_rules(&q)
        {
            return self.blocked(i);
        }
        self.host_decision(host, q.ip, &hashes)
    }

    /// Checks a host: a name (host rules, then domain rules) or an IP address, bracketed
    /// or not (IP rules).
    pub fn check_host(&self, host: &str) -> Result<Decision<'_>, Error> {
        let bytes = host.as_bytes();
        let untrimmed = bytes.first().is_some_and(|&b| b > b' ') && bytes.last() > Some(&b' ');
        if untrimmed && let Some(scan) = fast::scan_host(bytes) {
            if let Some(ip) = scan.ip {
                return Ok(self.check_ip(IpAddr::V4(ip)));
            }
            let name = bytes.get(..scan.len).unwrap_or_default();
            if scan.lower {
                return Ok(self.check_name(name));
            }
            let mut buf = [0u8; MAX_HOST_LEN];
            if let Some(out) = buf.get_mut(..name.len()) {
                for (o, &c) in out.iter_mut().zip(name) {
                    *o = c.to_ascii_lowercase();
                }
                return Ok(self.check_name(out));
            }
        }
        let (name, ip) = normalise_host(host)?;
        Ok(match ip {
            Some(ip) => self.check_ip(ip),
            None => self.check_name(name.as_bytes()),
        })
    }

    /// Longest-prefix match over IP rules. IPv4-mapped IPv6 addresses are checked as IPv4.
    pub fn check_ip(&self, ip: IpAddr) -> Decision<'_> {
        let hit = match ip.to_canonical() {
            IpAddr::V4(v4) => self.v4.lookup(u32::from(v4)),
            IpAddr::V6(v6) => self.v6.lookup(u128::from(v6)),
        };
        hit.map_or(Decision::Allowed, |i| self.blocked(i))
    }

    /// Checks an object path `bucket/key...`: the longest matching object rule.
    pub fn check_object(&self, path: &str) -> Decision<'_> {
        if !self.has(Tag::Object) {
            return Decision::Allowed;
        }
        let path = path.trim().trim_matches('/');
        walk_prefixes(path, 0, 0, path.len(), |key| {
            self.find(Tag::Object, key.as_bytes())
        })
        .map_or(Decision::Allowed, |i| self.blocked(i))
    }

    /// Checks a service id (exact, whitespace trimmed).
    pub fn check_service(&self, service: &str) -> Decision<'_> {
        if !self.has(Tag::Service) {
            return Decision::Allowed;
        }
        self.find(Tag::Service, service.trim().as_bytes())
            .map_or(Decision::Allowed, |i| self.blocked(i))
    }

    /// The hashes of a URL's host and of its suffixes worth probing as domains.
    #[inline]
    fn name_hashes(&self, host: &[u8], ip: Option<IpAddr>) -> NameHashes {
        self.names
            .hash(&self.hasher, host, ip.is_none() && self.has(Tag::Domain))
    }

    /// Whether an exact or prefix rule may name this host: a filter small enough to stay in
    /// cache answers from the host's hash, so most queries never touch the URL tables.
    #[inline]
    fn url_rules_may_match(&self, hashes: &NameHashes) -> bool {
        (self.has(Tag::UrlExact) || self.has(Tag::UrlPrefix))
            && self.url_hosts.may_contain(hashes.full)
    }

    /// Exact URL, then the longest URL prefix.
    fn url_rules(&self, q: &Query<'_>) -> Option<u32> {
        if self.has(Tag::UrlExact)
            && let Some(i) = self.find(Tag::UrlExact, q.s)
        {
            return Some(i);
        }
        self.find_prefix(q)
    }

    /// What the host alone decides, below the URL rules: IP rules for IP literals, else
    /// host rules, then domain rules from the longest suffix to the shortest.
    fn host_decision(&self, host: &[u8], ip: Option<IpAddr>, hashes: &NameHashes) -> Decision<'_> {
        if let Some(ip) = ip {
            return self.check_ip(ip);
        }
        if !self.has(Tag::Host) && !self.has(Tag::Domain) {
            return Decision::Allowed;
        }
        let (rec, suffix) = self.names.resolve(&self.hasher, host, hashes);
        self.name_decision(rec, suffix)
    }

    /// Host rules, then domain rules from the longest suffix to the shortest.
    fn check_name(&self, name: &[u8]) -> Decision<'_> {
        self.host_decision(name, None, &self.name_hashes(name, None))
    }

    fn name_decision(&self, rec: Option<NameRec>, suffix: Option<u32>) -> Decision<'_> {
        let exact = rec.and_then(|r| [r.host, r.domain].into_iter().find(|&i| i != NO_RULE));
        exact
            .or(suffix)
            .map_or(Decision::Allowed, |i| self.blocked(i))
    }

    /// The longest URL prefix rule on `authority/path`: candidates end at segment
    /// boundaries, trailing slashes trimmed, and only depths some prefix rule has are
    /// probed. One left-to-right pass hashes them all.
    fn find_prefix(&self, q: &Query<'_>) -> Option<u32> {
        let depths = self.prefix_depths;
        if depths == 0 {
            return None;
        }
        // Deeper candidates than the deepest rule cannot match (bit 31: no limit).
        let max_depth = if depths >> 31 != 0 {
            usize::MAX
        } else {
            31 - depths.leading_zeros() as usize
        };
        let s = q.s;
        let mut h = self.hasher.build_hasher();
        h.write(s.get(q.host_start..q.auth_end)?);
        let mut best = None;
        if depths & 1 != 0 {
            best = self.find_hashed(Tag::UrlPrefix, h.finish(), s.get(q.host_start..q.auth_end)?);
        }
        let path = s.get(q.auth_end + 1..q.path_end).unwrap_or_default();
        let mut end = q.auth_end;
        for (depth, segment) in (1..=max_depth).zip(path.split(|&b| b == b'/')) {
            h.write(segment);
            end += 1 + segment.len();
            if !segment.is_empty()
                && depths & depth_bit(depth) != 0
                && let Some(i) =
                    self.find_hashed(Tag::UrlPrefix, h.finish(), s.get(q.host_start..end)?)
            {
                // Shortest first: a later hit is a longer prefix, which wins.
                best = Some(i);
            }
        }
        best
    }

    fn has(&self, tag: Tag) -> bool {
        self.per_tag.get(tag as usize).is_some_and(|&n| n > 0)
    }

    #[inline]
    fn find(&self, tag: Tag, key: &[u8]) -> Option<u32> {
        self.find_hashed(tag, key_hash(&self.hasher, tag, key), key)
    }

    #[inline]
    fn find_hashed(&self, tag: Tag, hash: u64, key: &[u8]) -> Option<u32> {
        let at = *self.table.find(hash, |&at| {
            keyed_at(&self.arena, at).is_some_and(|(_, t, k)| t == tag as u8 && k == key)
        })?;
        keyed_at(&self.arena, at).map(|(entry, _, _)| entry)
    }

    fn blocked(&self, i: u32) -> Decision<'_> {
        match self.entries.get(i as usize) {
            Some(entry) => Decision::Blocked {
                rule: RuleRef { index: self, entry },
            },
            None => Decision::Allowed,
        }
    }

    fn span(&self, s: Span) -> &str {
        span_str(&self.arena, s)
    }

    fn pooled(&self, i: u32) -> &str {
        self.pool.get(i as usize).map_or("", |s| s)
    }
}

impl Default for Index {
    fn default() -> Self {
        Self::empty()
    }
}

/// Calls `probe` on `s[start..end]` for the whole path and for every prefix of it that ends
/// just before a `/` at or after `min`, longest first, trailing slashes trimmed; returns
/// the first hit. For URLs, `start..min` is the authority, so the last probe is the
/// authority alone (a rule on the site root).
fn walk_prefixes(
    s: &str,
    start: usize,
    min: usize,
    mut end: usize,
    mut probe: impl FnMut(&str) -> Option<u32>,
) -> Option<u32> {
    let bytes = s.as_bytes();
    loop {
        while end > min && bytes.get(end - 1) == Some(&b'/') {
            end -= 1;
        }
        if let Some(hit) = s.get(start..end).and_then(&mut probe) {
            return Some(hit);
        }
        end = min + s.get(min..end)?.rfind('/')?;
    }
}

#[derive(Default)]
struct Builder {
    arena: String,
    entries: Vec<Entry>,
    pool: Vec<Box<str>>,
    pooled: HashMap<Box<str>, u32, foldhash::fast::RandomState>,
    ips: Vec<(IpNet, u32)>,
}

impl Builder {
    fn push_rule(&mut self, rule: &Rule, kind: &RuleKind) -> Result<(), Error> {
        let value = match kind {
            RuleKind::Ip(net) => net.to_string(),
            RuleKind::UrlExact(v)
            | RuleKind::UrlPrefix(v)
            | RuleKind::Host(v)
            | RuleKind::Domain(v)
            | RuleKind::Object(v)
            | RuleKind::Service(v) => v.clone(),
        };
        let ip = match kind {
            RuleKind::Ip(net) => Some(*net),
            _ => None,
        };
        self.push(
            &rule.id,
            kind.tag(),
            &value,
            ip,
            &rule.action,
            &rule.case_id,
            rule.notice.as_deref(),
        )
    }

    /// `value` must already be canonical.
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        id: &str,
        tag: Tag,
        value: &str,
        ip: Option<IpNet>,
        action: &str,
        case: &str,
        notice: Option<&str>,
    ) -> Result<(), Error> {
        if name_of(tag, value).is_some_and(|(_, name)| name.len() > names::MAX_NAME) {
            // Canonical host names are at most 253 bytes; only a hand-built index gets here.
            return Err(Error::TooLong { max: MAX_HOST_LEN });
        }
        let at = u32::try_from(self.entries.len()).map_err(|_| Error::IndexFull)?;
        let id = self.store(id)?;
        if keyed(tag) {
            if value.len() > MAX_KEYED_LEN {
                // Canonical values are far shorter; only a hand-built index gets here.
                return Err(Error::TooLong { max: MAX_URL_LEN });
            }
            let key_off = match tag {
                Tag::UrlPrefix => after_scheme(value)
                    .and_then(|p| u8::try_from(p).ok())
                    .unwrap_or(0),
                _ => 0,
            };
            // The value's `store` below checks the arena's bound, header included.
            push_key_header(&mut self.arena, at, value.len(), tag, key_off);
        }
        let value = self.store(value)?;
        let action = self.intern(action)?;
        let case = self.intern(case)?;
        let notice = match notice {
            Some(n) => self.intern(n)?,
            None => NO_NOTICE,
        };
        if let Some(net) = ip {
            self.ips.push((net, at));
        }
        self.entries.push(Entry {
            id,
            value,
            action,
            case,
            notice,
            tag,
        });
        Ok(())
    }

    fn store(&mut self, s: &str) -> Result<Span, Error> {
        let start = u32::try_from(self.arena.len()).map_err(|_| Error::IndexFull)?;
        let len = u32::try_from(s.len()).map_err(|_| Error::IndexFull)?;
        start.checked_add(len).ok_or(Error::IndexFull)?;
        self.arena.push_str(s);
        Ok(Span { start, len })
    }

    fn intern(&mut self, s: &str) -> Result<u32, Error> {
        if let Some(&i) = self.pooled.get(s) {
            return Ok(i);
        }
        let i = u32::try_from(self.pool.len())
            .ok()
            .filter(|&i| i != NO_NOTICE)
            .ok_or(Error::IndexFull)?;
        self.pool.push(s.into());
        self.pooled.insert(s.into(), i);
        Ok(i)
    }

    fn finish(self, revision: u64) -> Index {
        let Self {
            mut arena,
            mut entries,
            mut pool,
            pooled: _,
            mut ips,
        } = self;
        arena.shrink_to_fit();
        entries.shrink_to_fit();
        pool.shrink_to_fit();
        let span = |s: Span| span_str(&arena, s);
        let id_of = |i: u32| entries.get(i as usize).map_or("", |e| span(e.id));

        let hasher = foldhash::fast::RandomState::default();
        let mut per_tag = [0usize; 7];
        for e in &entries {
            if let Some(n) = per_tag.get_mut(e.tag as usize) {
                *n += 1;
            }
        }
        let count =
            |tags: &[Tag]| -> usize { tags.iter().filter_map(|&t| per_tag.get(t as usize)).sum() };

        // The key table: slots are header offsets; the smallest id wins a shared key.
        let mut table = HashTable::with_capacity(count(&[
            Tag::UrlExact,
            Tag::UrlPrefix,
            Tag::Object,
            Tag::Service,
        ]));
        let rehash = |&at: &u32| {
            keyed_at(&arena, at).map_or(0, |(entry, _, key)| {
                let tag = entries.get(entry as usize).map_or(Tag::Service, |e| e.tag);
                entry_hash(&hasher, tag, key)
            })
        };
        for e in &entries {
            if !keyed(e.tag) {
                continue;
            }
            let Some(at) = e.value.start.checked_sub(KEY_HEAD as u32) else {
                continue;
            };
            let Some((_, tag, key)) = keyed_at(&arena, at) else {
                continue;
            };
            let same = |&o: &u32| keyed_at(&arena, o).is_some_and(|(_, t, k)| t == tag && k == key);
            match table.entry(entry_hash(&hasher, e.tag, key), same, rehash) {
                TableEntry::Occupied(mut slot) => {
                    let old = keyed_at(&arena, *slot.get()).map_or(u32::MAX, |(j, _, _)| j);
                    if span(e.id) < id_of(old) {
                        *slot.get_mut() = at;
                    }
                }
                TableEntry::Vacant(slot) => {
                    slot.insert(at);
                }
            }
        }
        table.shrink_to_fit(rehash);

        // The name table, the URL-host filter and the prefix depths.
        let mut names = NamesBuilder::new(&hasher, count(&[Tag::Host, Tag::Domain]));
        let mut url_hosts = NameFilter::with_capacity(count(&[Tag::UrlExact, Tag::UrlPrefix]));
        let mut prefix_depths = 0;
        for (i, e) in (0u32..).zip(entries.iter()) {
            let value = span(e.value);
            let Some((auth_end, name)) = name_of(e.tag, value) else {
                continue;
            };
            let fact = match e.tag {
                Tag::Host => Fact::Host(i),
                Tag::Domain => Fact::Domain(i),
                _ => {
                    url_hosts.insert(name_hash(&hasher, name.as_bytes(), |_, _, _| {}));
                    if e.tag == Tag::UrlPrefix {
                        // A prefix key is `authority[/path]` without trailing slashes: its
                        // depth is the number of slashes after the authority.
                        let depth = value.get(auth_end..).map_or(0, |p| p.matches('/').count());
                        prefix_depths |= depth_bit(depth);
                    }
                    continue;
                }
            };
            names.add(name.as_bytes(), fact, |old| span(e.id) < id_of(old));
        }
        let names = names.finish();

        // Sort by (network, length, id) so that the first of each network is its winner.
        ips.sort_unstable_by(|(a, ia), (b, ib)| {
            (a.network(), a.prefix_len())
                .cmp(&(b.network(), b.prefix_len()))
                .then_with(|| id_of(*ia).cmp(id_of(*ib)))
        });
        ips.dedup_by(|(a, _), (b, _)| a == b);
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for &(net, rule) in &ips {
            match net {
                IpNet::V4(n) => v4.push(Prefix {
                    start: u128::from(u32::from(n.network())),
                    end: u128::from(u32::from(n.broadcast())),
                    rule,
                }),
                IpNet::V6(n) => v6.push(Prefix {
                    start: u128::from(n.network()),
                    end: u128::from(n.broadcast()),
                    rule,
                }),
            }
        }
        let v4 = Lpm::build(&v4, u128::from(u32::MAX));
        let v6 = Lpm::build(&v6, u128::MAX);
        Index {
            arena,
            entries,
            pool,
            table,
            names,
            url_hosts,
            prefix_depths,
            hasher,
            v4,
            v6,
            per_tag,
            revision,
            rejected: Vec::new(),
        }
    }
}

fn span_str(arena: &str, s: Span) -> &str {
    let start = s.start as usize;
    arena.get(start..start + s.len as usize).unwrap_or("")
}

/// The host name a rule tells the name table about, and where its authority ends in the
/// value: the whole value of `host` and `domain` rules, the host of URL rules (an IPv6
/// literal keeps its brackets, as in [`NormUrl::host`]).
fn name_of(tag: Tag, value: &str) -> Option<(usize, &str)> {
    let off = match tag {
        Tag::Host | Tag::Domain => return Some((value.len(), value)),
        Tag::UrlExact | Tag::UrlPrefix => after_scheme(value)?,
        Tag::Ip | Tag::Object | Tag::Service => return None,
    };
    let rest = value.get(off..)?;
    let host_len = if rest.starts_with('[') {
        rest.find(']')? + 1
    } else {
        rest.find([':', '/', '?']).unwrap_or(rest.len())
    };
    let auth_len = rest.find(['/', '?']).unwrap_or(rest.len());
    Some((off + auth_len, rest.get(..host_len)?))
}

/// A change to the rule set, applied by [`SharedIndex::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Add a rule; a rule with the same id is replaced.
    Add(Rule),
    /// Remove the rule(s) with this id; unknown ids are ignored (removal is idempotent).
    Remove(String),
}

/// What [`SharedIndex::apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// The revision of the snapshot now published.
    pub revision: u64,
    /// Rules added or replaced.
    pub added: usize,
    /// Rules removed (not counting replacements).
    pub removed: usize,
    /// Added rules that could not be normalised, with the reason; they are not in the index.
    pub rejected: Vec<(Rule, Error)>,
}

/// The index shared by many readers and one writer. Readers take a snapshot
/// ([`SharedIndex::load`]: a read lock held only to clone an `Arc`) and query it without
/// any lock; the writer builds the next snapshot off to the side and swaps it in, so a
/// rebuild never blocks a lookup. Hot paths should hold one snapshot for a batch of
/// lookups rather than call `load` per lookup, to keep the lock's cache line quiet.
#[derive(Debug)]
pub struct SharedIndex {
    current: RwLock<Arc<Index>>,
    writer: Mutex<()>,
}

impl SharedIndex {
    /// Shares `index`, keeping its revision.
    pub fn new(index: Index) -> Self {
        Self {
            current: RwLock::new(Arc::new(index)),
            writer: Mutex::new(()),
        }
    }

    /// The current snapshot.
    pub fn load(&self) -> Arc<Index> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The current revision.
    pub fn revision(&self) -> u64 {
        self.load().revision
    }

    /// Applies `changes` in order and publishes a new snapshot with `revision + 1` (even
    /// when nothing changed, so a revision always marks one apply).
    ///
    /// Cost: a full rebuild, O(n) in the size of the index whatever the size of the batch
    /// (about the time `Index::build` takes, minus normalisation of the kept rules, which
    /// are already canonical); memory peaks at two snapshots. Batch changes: the change
    /// feed delivers them in batches anyway, and an incremental structure would cost
    /// lookup speed or memory on every request to save the writer a few hundred ms.
    pub fn apply(&self, changes: Vec<Change>) -> ApplyOutcome {
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let old = self.load();

        // Last change per id wins.
        let mut plan: HashMap<String, Option<(Rule, RuleKind)>, foldhash::fast::RandomState> =
            HashMap::default();
        let mut rejected = Vec::new();
        for change in changes {
            match change {
                Change::Add(rule) => match rule.kind.normalised() {
                    Ok(kind) => {
                        plan.insert(rule.id.clone(), Some((rule, kind)));
                    }
                    Err(e) => rejected.push((rule, e)),
                },
                Change::Remove(id) => {
                    plan.insert(id, None);
                }
            }
        }
        let touched: HashSet<&str, foldhash::fast::RandomState> =
            plan.keys().map(String::as_str).collect();

        let mut builder = Builder::default();
        builder.arena.reserve(old.arena.len());
        builder.entries.reserve(old.entries.len() + plan.len());
        let mut removed = 0;
        for r in old.rules() {
            if touched.contains(r.id()) {
                if plan.get(r.id()).is_some_and(Option::is_none) {
                    removed += 1;
                }
                continue;
            }
            let ip = match r.entry.tag {
                Tag::Ip => r.value().parse().ok(),
                _ => None,
            };
            // Kept rules are canonical already; an arena overflow is the only failure.
            if builder
                .push(
                    r.id(),
                    r.entry.tag,
                    r.value(),
                    ip,
                    r.action(),
                    r.case_id(),
                    r.notice(),
                )
                .is_err()
            {
                rejected.push((r.to_rule(), Error::IndexFull));
            }
        }
        let mut added = 0;
        for (rule, kind) in plan.into_values().flatten() {
            match builder.push_rule(&rule, &kind) {
                Ok(()) => added += 1,
                Err(e) => rejected.push((rule, e)),
            }
        }
        let revision = old.revision + 1;
        drop(old);
        let next = Arc::new(builder.finish(revision));
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = next;
        ApplyOutcome {
            revision,
            added,
            removed,
            rejected,
        }
    }
}

impl Default for SharedIndex {
    fn default() -> Self {
        Self::new(Index::empty())
    }
}
