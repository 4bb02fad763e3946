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

mod lpm;
mod normalise;
mod punycode;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use hashbrown::HashTable;
use hashbrown::hash_table::Entry as TableEntry;
use ipnet::IpNet;

use lpm::{Lpm, Prefix};
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

    /// The part of a stored value that is hashed: prefix rules drop their scheme.
    fn key(self, value: &str) -> &str {
        match self {
            Self::UrlPrefix => value.split_once("://").map_or(value, |(_, k)| k),
            _ => value,
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

/// An immutable snapshot of the rules, indexed for lookup. Build one with [`Index::build`];
/// share and update it with [`SharedIndex`].
pub struct Index {
    arena: String,
    entries: Vec<Entry>,
    pool: Vec<Box<str>>,
    /// Every non-IP entry, keyed by (tag, canonical key); one winner per key.
    table: HashTable<u32>,
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
        // hashbrown: one u32 slot and one control byte per bucket at 7/8 load.
        let buckets = (self.table.capacity() * 8 / 7).next_power_of_two();
        size_of::<Self>()
            + self.arena.capacity()
            + self.entries.capacity() * size_of::<Entry>()
            + pool
            + buckets * (size_of::<u32>() + 1)
            + self.v4.memory_bytes()
            + self.v6.memory_bytes()
    }

    /// Checks a URL: exact URL, then URL prefixes, then its host (host, domains, or IP
    /// rules for IP literals). A URL that cannot be normalised is an error, not a decision:
    /// whether garbage fails open or closed is the enforcement point's policy.
    pub fn check_url(&self, url: &str) -> Result<Decision<'_>, Error> {
        Ok(self.check_norm_url(&normalise_url(url)?))
    }

    /// [`Index::check_url`] on an already normalised URL.
    pub fn check_norm_url(&self, url: &NormUrl) -> Decision<'_> {
        let raw = url.raw();
        if self.has(Tag::UrlExact)
            && let Some(i) = self.find(Tag::UrlExact, raw)
        {
            return self.blocked(i);
        }
        if self.has(Tag::UrlPrefix) {
            let hit = walk_prefixes(
                raw,
                url.host_start(),
                url.auth_end(),
                url.path_end(),
                |key| self.find(Tag::UrlPrefix, key),
            );
            if let Some(i) = hit {
                return self.blocked(i);
            }
        }
        match url.ip() {
            Some(ip) => self.check_ip(ip),
            None => self.check_name(url.host()),
        }
    }

    /// Checks a host: a name (host rules, then domain rules) or an IP address, bracketed
    /// or not (IP rules).
    pub fn check_host(&self, host: &str) -> Result<Decision<'_>, Error> {
        let (name, ip) = normalise_host(host)?;
        Ok(match ip {
            Some(ip) => self.check_ip(ip),
            None => self.check_name(&name),
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
        walk_prefixes(path, 0, 0, path.len(), |key| self.find(Tag::Object, key))
            .map_or(Decision::Allowed, |i| self.blocked(i))
    }

    /// Checks a service id (exact, whitespace trimmed).
    pub fn check_service(&self, service: &str) -> Decision<'_> {
        self.find(Tag::Service, service.trim())
            .map_or(Decision::Allowed, |i| self.blocked(i))
    }

    /// Host rules, then domain rules from the longest suffix to the shortest.
    fn check_name(&self, host: &str) -> Decision<'_> {
        if let Some(i) = self.find(Tag::Host, host) {
            return self.blocked(i);
        }
        if self.has(Tag::Domain) {
            let mut suffix = host;
            loop {
                if let Some(i) = self.find(Tag::Domain, suffix) {
                    return self.blocked(i);
                }
                match suffix.split_once('.') {
                    Some((_, rest)) => suffix = rest,
                    None => break,
                }
            }
        }
        Decision::Allowed
    }

    fn has(&self, tag: Tag) -> bool {
        self.per_tag.get(tag as usize).is_some_and(|&n| n > 0)
    }

    #[inline]
    fn find(&self, tag: Tag, key: &str) -> Option<u32> {
        let hash = self.hasher.hash_one((tag as u8, key));
        self.table
            .find(hash, |&i| {
                self.entries
                    .get(i as usize)
                    .is_some_and(|e| e.tag == tag && e.tag.key(self.span(e.value)) == key)
            })
            .copied()
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
        let start = s.start as usize;
        self.arena.get(start..start + s.len as usize).unwrap_or("")
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
    pooled: HashMap<Box<str>, u32>,
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
        let at = u32::try_from(self.entries.len()).map_err(|_| Error::IndexFull)?;
        let id = self.store(id)?;
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
        let span = |s: Span| {
            let start = s.start as usize;
            arena.get(start..start + s.len as usize).unwrap_or("")
        };
        let id_of = |i: u32| entries.get(i as usize).map_or("", |e| span(e.id));

        let hasher = foldhash::fast::RandomState::default();
        let mut per_tag = [0usize; 7];
        let mut table = HashTable::with_capacity(entries.len() - ips.len().min(entries.len()));
        for (i, e) in (0u32..).zip(entries.iter()) {
            if let Some(n) = per_tag.get_mut(e.tag as usize) {
                *n += 1;
            }
            if e.tag == Tag::Ip {
                continue;
            }
            let key = e.tag.key(span(e.value));
            let hash = hasher.hash_one((e.tag as u8, key));
            let same = |&j: &u32| {
                entries
                    .get(j as usize)
                    .is_some_and(|o| o.tag == e.tag && o.tag.key(span(o.value)) == key)
            };
            let rehash = |&j: &u32| {
                entries.get(j as usize).map_or(0, |o| {
                    hasher.hash_one((o.tag as u8, o.tag.key(span(o.value))))
                })
            };
            match table.entry(hash, same, rehash) {
                TableEntry::Occupied(mut slot) => {
                    if span(e.id) < id_of(*slot.get()) {
                        *slot.get_mut() = i;
                    }
                }
                TableEntry::Vacant(slot) => {
                    slot.insert(i);
                }
            }
        }
        table.shrink_to_fit(|&j| {
            entries.get(j as usize).map_or(0, |o| {
                hasher.hash_one((o.tag as u8, o.tag.key(span(o.value))))
            })
        });

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
            hasher,
            v4,
            v6,
            per_tag,
            revision,
            rejected: Vec::new(),
        }
    }
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
        let mut plan: HashMap<String, Option<(Rule, RuleKind)>> = HashMap::new();
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
        let touched: HashSet<&str> = plan.keys().map(String::as_str).collect();

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
