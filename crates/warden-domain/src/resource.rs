//! Resources, their identifiers and owner lookup (SPEC §3, RES-1..3).
//!
//! A report names a *target* (a URL, a domain, an IP, an object key...). Owner lookup turns the
//! target into a set of candidate [`MatchKey`]s (every URL prefix at a path-segment boundary,
//! every parent domain) plus, for IPs, a point to look up in CIDR ranges. Storage finds the
//! identifiers with those keys and keeps the most specific one: longest match wins, URL prefixes
//! and object keys beat domains. Keeping the candidate generation here means both storage engines
//! share one definition of "longest match".
//!
//! Targets and identifiers are brought to their canonical text by [`crate::canonical`], the
//! one canonicaliser the decision index and the RPZ use too, so that every spelling of a URL
//! or host meets the same keys. On top of it, intake is stricter than an edge: host names must
//! be DNS names (letters, digits, `-`, `_`), a bare IP target must be written plainly (no
//! `0x7f.1`), and a `public_ip` identifier must be a public address (see [`special_block`]).

use std::net::{IpAddr, Ipv6Addr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::canonical::{self, NormUrl};

crate::impl_code!(Product, "product");

/// Longest values we accept anywhere in an identifier or target.
pub const MAX_TARGET_LEN: usize = 2048;

/// A product line (RES-1).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Product {
    /// Cloud virtual machine.
    Cvm,
    /// Cloud load balancer.
    Clb,
    /// EdgeOne / CDN acceleration.
    Cdn,
    /// Object storage.
    Cos,
    /// DNS resolution.
    Dns,
    /// DNSPod.
    Dnspod,
    /// Video on demand.
    Vod,
    /// API gateway.
    Apigw,
}

impl Product {
    /// Every product.
    pub const ALL: [Product; 8] = [
        Product::Cvm,
        Product::Clb,
        Product::Cdn,
        Product::Cos,
        Product::Dns,
        Product::Dnspod,
        Product::Vod,
        Product::Apigw,
    ];

    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Product::Cvm => "cvm",
            Product::Clb => "clb",
            Product::Cdn => "cdn",
            Product::Cos => "cos",
            Product::Dns => "dns",
            Product::Dnspod => "dnspod",
            Product::Vod => "vod",
            Product::Apigw => "apigw",
        }
    }

    /// Parses a product code.
    pub fn parse(code: &str) -> Result<Product, InvalidInput> {
        Product::ALL
            .into_iter()
            .find(|p| p.code() == code)
            .ok_or_else(|| {
                InvalidInput::new(
                    "product",
                    "is not one of cvm, clb, cdn, cos, dns, dnspod, vod, apigw",
                )
            })
    }
}

/// Bad input, naming the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidInput {
    /// The offending field (JSON path).
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl InvalidInput {
    /// A new error for `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The same error, under a parent path (`identifiers[2]` + `value`).
    pub fn under(mut self, parent: &str) -> Self {
        self.field = if self.field.is_empty() {
            parent.to_string()
        } else {
            format!("{parent}.{}", self.field)
        };
        self
    }
}

/// What kind of identifier (RES-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    /// A public IP or CIDR block: reports about it resolve here; a blackhole cuts it.
    PublicIp,
    /// An internal (VPC) IP: recorded for the notice; never used for owner lookup (VPC ranges
    /// overlap between tenants) and never cut by a blackhole.
    InternalIp,
    /// A domain; covers its subdomains.
    Domain,
    /// A URL prefix `host/path`, matched at path-segment boundaries.
    UrlPrefix,
    /// An object-storage bucket, or `bucket/key-prefix`.
    BucketKey,
    /// A VOD file id.
    VodId,
    /// An API-gateway service id.
    ApigwService,
}

impl IdentifierKind {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            IdentifierKind::PublicIp => "public_ip",
            IdentifierKind::InternalIp => "internal_ip",
            IdentifierKind::Domain => "domain",
            IdentifierKind::UrlPrefix => "url_prefix",
            IdentifierKind::BucketKey => "bucket_key",
            IdentifierKind::VodId => "vod_id",
            IdentifierKind::ApigwService => "apigw_service",
        }
    }

    /// Parses a kind code.
    pub fn parse(code: &str) -> Result<Self, InvalidInput> {
        use IdentifierKind::*;
        [PublicIp, InternalIp, Domain, UrlPrefix, BucketKey, VodId, ApigwService]
            .into_iter()
            .find(|k| k.code() == code)
            .ok_or_else(|| {
                InvalidInput::new(
                    "kind",
                    "is not one of public_ip, internal_ip, domain, url_prefix, bucket_key, vod_id, apigw_service",
                )
            })
    }
}

/// A validated, normalised resource identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
pub struct Identifier {
    kind: IdentifierKind,
    value: String,
}

/// How an identifier is found by owner lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchKey {
    /// Exact key lookup (`d:example.com`, `u:example.com/shop`...), with its specificity.
    Key {
        /// The key.
        key: String,
        /// Higher wins.
        specificity: i64,
    },
    /// An IP range: `lo..=hi` as fixed-width hex (so text comparison is numeric comparison).
    Range {
        /// First address, 32 hex digits.
        lo: String,
        /// Last address, 32 hex digits.
        hi: String,
        /// Higher wins (2000 + prefix length over IPv6 bits).
        specificity: i64,
    },
    /// Not used for lookup.
    None,
}

impl Identifier {
    /// Validates and normalises `value` as an identifier of `kind`.
    pub fn parse(kind: IdentifierKind, value: &str) -> Result<Identifier, InvalidInput> {
        let value = value.trim();
        if value.is_empty() || value.len() > MAX_TARGET_LEN {
            return Err(InvalidInput::new("value", "must be 1 to 2048 characters"));
        }
        let value = match kind {
            IdentifierKind::PublicIp => {
                let net = parse_net(value).ok_or_else(|| {
                    InvalidInput::new("value", "is not an IP address or CIDR block")
                })?;
                check_public(value, net).map_err(|reason| InvalidInput::new("value", reason))?;
                net.to_string()
            }
            IdentifierKind::InternalIp => parse_net(value)
                .ok_or_else(|| InvalidInput::new("value", "is not an IP address or CIDR block"))?
                .to_string(),
            IdentifierKind::Domain => match bare_host(value) {
                Ok(BareHost::Name(d)) => d,
                Ok(BareHost::Ip(_)) => {
                    return Err(InvalidInput::new(
                        "value",
                        "is an IP address, not a domain name; use public_ip",
                    ));
                }
                Err(e) => return Err(InvalidInput::new("value", e.reason())),
            },
            IdentifierKind::UrlPrefix => url_prefix(value)?,
            IdentifierKind::BucketKey => {
                let v = value
                    .strip_prefix("cos://")
                    .unwrap_or(value)
                    .trim_end_matches('/');
                if v.is_empty() || v.starts_with('/') || v.chars().any(char::is_whitespace) {
                    return Err(InvalidInput::new(
                        "value",
                        "is not a bucket name or bucket/key prefix",
                    ));
                }
                v.to_string()
            }
            IdentifierKind::VodId | IdentifierKind::ApigwService => {
                if !value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
                {
                    return Err(InvalidInput::new(
                        "value",
                        "may hold only letters, digits and - _ . :",
                    ));
                }
                value.to_string()
            }
        };
        Ok(Identifier { kind, value })
    }

    /// The kind.
    pub fn kind(&self) -> IdentifierKind {
        self.kind
    }

    /// The normalised value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// How owner lookup finds this identifier.
    pub fn match_key(&self) -> MatchKey {
        let len = self.value.len() as i64;
        match self.kind {
            IdentifierKind::PublicIp => match parse_net(&self.value) {
                Some(net) => {
                    let (lo, hi, bits) = range_hex(net);
                    MatchKey::Range {
                        lo,
                        hi,
                        specificity: 2000 + bits,
                    }
                }
                None => MatchKey::None,
            },
            IdentifierKind::InternalIp => MatchKey::None,
            IdentifierKind::Domain => MatchKey::Key {
                key: format!("d:{}", self.value),
                specificity: 1000 + len,
            },
            IdentifierKind::UrlPrefix => MatchKey::Key {
                key: format!("u:{}", self.value),
                specificity: 3000 + len,
            },
            IdentifierKind::BucketKey => MatchKey::Key {
                key: format!("b:{}", self.value),
                specificity: 3000 + len,
            },
            IdentifierKind::VodId => MatchKey::Key {
                key: format!("v:{}", self.value),
                specificity: 5000,
            },
            IdentifierKind::ApigwService => MatchKey::Key {
                key: format!("a:{}", self.value),
                specificity: 5000,
            },
        }
    }
}

fn parse_net(value: &str) -> Option<IpNet> {
    canonical::parse_net(value).ok()
}

/// Shortest prefix a `public_ip` identifier may have: one resource never holds more than an
/// IPv4 /8 (16 M addresses) or an IPv6 /32 (a whole provider allocation); anything broader is
/// a typo such as `0.0.0.0/0` that would make its owner the owner of every report.
pub const MIN_PUBLIC_PREFIX_V4: u8 = 8;
/// See [`MIN_PUBLIC_PREFIX_V4`].
pub const MIN_PUBLIC_PREFIX_V6: u8 = 32;

/// A special-purpose address block (RFC 6890 and its IANA registries): not the public
/// internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialBlock {
    /// The block, e.g. `169.254.0.0/16`.
    pub block: &'static str,
    /// What it is, e.g. `link-local`.
    pub what: &'static str,
    /// Whether a `public_ip` identifier may still name it: only the documentation prefixes,
    /// which examples and tests use in place of real addresses.
    pub allowed_as_public_ip: bool,
}

const fn block(block: &'static str, what: &'static str) -> SpecialBlock {
    SpecialBlock {
        block,
        what,
        allowed_as_public_ip: false,
    }
}

const fn documentation(block: &'static str) -> SpecialBlock {
    SpecialBlock {
        block,
        what: "documentation",
        allowed_as_public_ip: true,
    }
}

/// Every special-purpose block, the one reported first where a CIDR overlaps several.
const SPECIAL_BLOCKS: [SpecialBlock; 21] = [
    block("0.0.0.0/8", "unspecified (\"this network\")"),
    block("10.0.0.0/8", "private"),
    block(
        "100.64.0.0/10",
        "shared address space (CGNAT; some clouds' metadata service lives here)",
    ),
    block("127.0.0.0/8", "loopback"),
    block(
        "169.254.0.0/16",
        "link-local (the cloud metadata service 169.254.169.254 lives here)",
    ),
    block("172.16.0.0/12", "private"),
    documentation("192.0.2.0/24"),
    block("192.168.0.0/16", "private"),
    block("198.18.0.0/15", "benchmarking"),
    documentation("198.51.100.0/24"),
    documentation("203.0.113.0/24"),
    block("224.0.0.0/4", "multicast"),
    block("255.255.255.255/32", "broadcast"),
    block("240.0.0.0/4", "reserved"),
    block("::/128", "unspecified"),
    block("::1/128", "loopback"),
    block("64:ff9b::/32", "NAT64"),
    documentation("2001:db8::/32"),
    block(
        "fc00::/7",
        "unique-local (the cloud metadata service fd00:ec2::254 lives here)",
    ),
    block("fe80::/10", "link-local"),
    block("ff00::/8", "multicast"),
];

/// The first special-purpose block `net` overlaps (contains, or lies in), if any. An address
/// is a /32 or /128 network. IPv4-mapped IPv6 is classified as the IPv4 it maps.
pub fn special_block(net: IpNet) -> Option<SpecialBlock> {
    special_blocks(net).next()
}

/// Every special-purpose block `net` overlaps, in table order.
fn special_blocks(net: IpNet) -> impl Iterator<Item = SpecialBlock> {
    let net = canonical::canonical_net(net);
    SPECIAL_BLOCKS.into_iter().filter(move |b| {
        b.block
            .parse::<IpNet>()
            .is_ok_and(|block| block.contains(&net.network()) || net.contains(&block.network()))
    })
}

/// Whether `net` may be a `public_ip` identifier: not broader than the minimum prefix, and
/// overlapping no special-purpose block but the documentation ones. The reason names `value`,
/// the text `net` was parsed from.
fn check_public(value: &str, net: IpNet) -> Result<(), String> {
    let value = cut(value);
    let min = match net {
        IpNet::V4(_) => MIN_PUBLIC_PREFIX_V4,
        IpNet::V6(_) => MIN_PUBLIC_PREFIX_V6,
    };
    if net.prefix_len() < min {
        return Err(format!(
            "`{value}` is too broad for one resource: a public_ip block is at most /{min}"
        ));
    }
    match special_blocks(net).find(|b| !b.allowed_as_public_ip) {
        Some(b) => Err(format!(
            "`{value}` is not a public address: it overlaps {} ({})",
            b.block, b.what
        )),
        None => Ok(()),
    }
}

fn to_v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// Fixed-width hex of an address (IPv4 as IPv4-mapped IPv6).
pub fn ip_hex(ip: IpAddr) -> String {
    hex::encode(to_v6(ip).octets())
}

fn range_hex(net: IpNet) -> (String, String, i64) {
    let bits = match net {
        IpNet::V4(n) => 96 + i64::from(n.prefix_len()),
        IpNet::V6(n) => i64::from(n.prefix_len()),
    };
    (ip_hex(net.network()), ip_hex(net.broadcast()), bits)
}

/// Whether `name` is `parent` or a subdomain of it, ignoring case and a trailing dot
/// (`Mail.Cert.Example.` is within `cert.example`; `evilcert.example` is not).
pub fn within_domain(name: &str, parent: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let parent = parent.trim_end_matches('.').to_ascii_lowercase();
    name == parent || name.ends_with(&format!(".{parent}"))
}

/// The canonical form of a DNS name with at least two labels ([`canonical::normalise_host`]:
/// lowercase, IDN as punycode, no trailing dot); `None` for anything else, IPs included.
pub fn normalise_domain(value: &str) -> Option<String> {
    match bare_host(value) {
        Ok(BareHost::Name(d)) => Some(d),
        _ => None,
    }
}

/// A bare host as intake accepts it.
enum BareHost {
    /// A DNS name with at least two labels, canonical.
    Name(String),
    /// An IP address written plainly (`192.0.2.1`, `2001:db8::1`, `[2001:db8::1]`).
    Ip(IpAddr),
}

/// Why a bare host is refused.
enum NotAHost {
    /// It ends in a number, so it is an IPv4 address, but not one written `a.b.c.d` with
    /// parts 0-255 (`999.1.1.1`, `1.2.3`, `0x7f.1`): the text, cut to 64 characters.
    Ipv4(String),
    /// Not a DNS name of two labels or more.
    Name,
}

impl NotAHost {
    fn reason(&self) -> String {
        match self {
            NotAHost::Ipv4(text) => format!(
                "`{text}` looks like an IPv4 address but is not one (write a.b.c.d, each part 0-255)"
            ),
            NotAHost::Name => "is not a domain name".into(),
        }
    }
}

/// Parses a bare host through the canonicaliser.
fn bare_host(value: &str) -> Result<BareHost, NotAHost> {
    let value = value.trim();
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Ok(BareHost::Ip(ip.to_canonical()));
    }
    match canonical::normalise_host(value) {
        Ok((_, Some(ip))) if value.starts_with('[') => Ok(BareHost::Ip(ip)),
        // The WHATWG legacy forms (`1.2.3`, `0x7f.1`, `0177.0.0.1`, `2130706433`) are what a
        // browser makes of a URL's host; a bare target written so is more likely a typo.
        Ok((_, Some(_))) | Err(canonical::Error::InvalidIpv4(_)) => Err(NotAHost::Ipv4(cut(value))),
        Ok((name, None)) if name.contains('.') && is_dns_name(&name) => Ok(BareHost::Name(name)),
        _ => Err(NotAHost::Name),
    }
}

/// The value of a `url_prefix` identifier: an http(s) URL, or `host[:port][/path]` without a
/// scheme (http assumed) whose host is written as a bare target's is, a DNS name of two labels
/// or more or an IP address (so `a`, `0`, `1.2.3`, `/shop` or `ftp://x.example/` are refused,
/// never read as some other host).
fn url_prefix(value: &str) -> Result<String, InvalidInput> {
    let bad = || InvalidInput::new("value", "is not a URL prefix such as example.com/shop");
    if value.contains("://") {
        return parse_url(value).map(|u| u.prefix_key()).ok_or_else(bad);
    }
    let authority = value.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        // `host:port` (an IPv6 literal has its colons inside brackets).
        Some((host, port))
            if !host.is_empty()
                && (!host.contains(':') || host.ends_with(']'))
                && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            host
        }
        _ => authority,
    };
    if host.contains(':') && !host.starts_with('[') {
        return Err(bad()); // a bare IPv6 address needs brackets before a port or path
    }
    match bare_host(host) {
        Ok(_) => {}
        Err(e @ NotAHost::Ipv4(_)) => return Err(InvalidInput::new("value", e.reason())),
        Err(NotAHost::Name) => return Err(bad()),
    }
    parse_url(&format!("http://{value}"))
        .map(|u| u.prefix_key())
        .ok_or_else(bad)
}

/// Letters, digits, `-` and `_` in each label, no label starting or ending with `-`: what
/// intake accepts as a host name (the canonical form has lowercased it and encoded IDN).
fn is_dns_name(name: &str) -> bool {
    name.split('.').all(|l| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    })
}

fn cut(s: &str) -> String {
    s.chars().take(64).collect()
}

/// A parsed http(s) URL, just the parts owner lookup needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedUrl {
    /// `http` or `https`.
    pub scheme: String,
    /// Lower-case host (domain or IP literal without brackets).
    pub host: String,
    /// Explicit port, if any.
    pub port: Option<u16>,
    /// Path, always starting with `/`.
    pub path: String,
    /// Query string without `?`, if any.
    pub query: Option<String>,
}

impl ParsedUrl {
    fn from_norm(u: &NormUrl) -> Self {
        ParsedUrl {
            scheme: u.scheme().as_str().into(),
            host: u
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .into(),
            port: u.port(),
            path: u.path().into(),
            query: u.query().map(Into::into),
        }
    }

    /// `host[:port]` as in the URL (an IPv6 host in brackets); the port only when it is not
    /// the scheme's default, which canonical URLs never name.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(p) => format!("{host}:{p}"),
            None => host,
        }
    }

    /// `host[:port]/path` without a trailing slash (the root stays `host[:port]/`): the
    /// value of a `url_prefix` identifier. The scheme is not part of it (a site served over
    /// http and https is one site), a non-default port is.
    pub fn prefix_key(&self) -> String {
        let path = self.path.trim_end_matches('/');
        format!(
            "{}{}",
            self.authority(),
            if path.is_empty() { "/" } else { path }
        )
    }

    /// The host as an IP, if it is one.
    pub fn host_ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

/// The canonical URL (the text [`canonical::normalise_url`] gives).
impl std::fmt::Display for ParsedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.scheme, self.authority())?;
        f.write_str(&self.path)?;
        if let Some(q) = &self.query {
            write!(f, "?{q}")?;
        }
        Ok(())
    }
}

/// Parses an absolute http(s) URL into its canonical parts; `None` when it is not one.
pub fn parse_url(text: &str) -> Option<ParsedUrl> {
    url_target(text).ok()
}

/// A URL as intake accepts it: at most [`MAX_TARGET_LEN`], `scheme://` spelled out, no
/// whitespace or control characters, and a host that is an IP or a DNS name; then its
/// canonical form. The error says why not.
fn url_target(text: &str) -> Result<ParsedUrl, String> {
    let text = text.trim();
    let plain = text.len() <= MAX_TARGET_LEN
        && text.contains("://")
        && !text.chars().any(|c| c.is_whitespace() || c.is_control());
    if !plain {
        return Err("is not a URL".into());
    }
    match canonical::normalise_url(text) {
        Ok(u) if u.ip().is_some() || is_dns_name(u.host()) => Ok(ParsedUrl::from_norm(&u)),
        Ok(u) => Err(format!(
            "has a host that is not a DNS name: `{}`",
            cut(u.host())
        )),
        Err(canonical::Error::InvalidIpv4(h)) => Err(format!(
            "has a host that looks like an IPv4 address but is not one: `{h}`"
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// What a report is about (RES-2): parsed once at intake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An http(s) URL.
    Url(ParsedUrl),
    /// A bare domain.
    Domain(String),
    /// An IP address.
    Ip(IpAddr),
    /// An object in a bucket: `cos://bucket/key`.
    Object(String),
    /// A VOD file: `vod:<id>`.
    Vod(String),
    /// An API-gateway service: `apigw:<id>`.
    Apigw(String),
}

impl Target {
    /// Parses a report target: a URL, domain, IP, `cos://bucket/key`, `vod:<id>` or `apigw:<id>`.
    pub fn parse(text: &str) -> Result<Target, InvalidInput> {
        let t = text.trim();
        let bad = || {
            InvalidInput::new(
                "target",
                "is not a URL (https://...), domain, IP address, cos://bucket/key, vod:<id> or apigw:<id>",
            )
        };
        if t.is_empty() || t.len() > MAX_TARGET_LEN {
            return Err(bad());
        }
        if let Some(obj) = t.strip_prefix("cos://") {
            return Identifier::parse(IdentifierKind::BucketKey, obj)
                .map(|i| Target::Object(i.value))
                .map_err(|_| bad());
        }
        if let Some(id) = t.strip_prefix("vod:") {
            return Identifier::parse(IdentifierKind::VodId, id)
                .map(|i| Target::Vod(i.value))
                .map_err(|_| bad());
        }
        if let Some(id) = t.strip_prefix("apigw:") {
            return Identifier::parse(IdentifierKind::ApigwService, id)
                .map(|i| Target::Apigw(i.value))
                .map_err(|_| bad());
        }
        if t.contains("://") {
            return url_target(t).map(Target::Url).map_err(|why| {
                if t.split_once("://").is_some_and(|(s, _)| {
                    s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https")
                }) {
                    InvalidInput::new("target", format!("`{}` {why}", cut(t)))
                } else {
                    bad()
                }
            });
        }
        match bare_host(t) {
            Ok(BareHost::Ip(ip)) => Ok(Target::Ip(ip)),
            Ok(BareHost::Name(d)) => Ok(Target::Domain(d)),
            Err(e @ NotAHost::Ipv4(_)) => Err(InvalidInput::new("target", e.reason())),
            Err(NotAHost::Name) => Err(bad()),
        }
    }

    /// The canonical text of the target (what correlation compares).
    pub fn canonical(&self) -> String {
        match self {
            Target::Url(u) => u.to_string(),
            Target::Domain(d) => d.clone(),
            Target::Ip(ip) => ip.to_canonical().to_string(),
            Target::Object(o) => format!("cos://{o}"),
            Target::Vod(v) => format!("vod:{v}"),
            Target::Apigw(a) => format!("apigw:{a}"),
        }
    }

    /// The IP to look up in CIDR ranges, if the target is or has one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Target::Ip(ip) => Some(*ip),
            Target::Url(u) => u.host_ip(),
            _ => None,
        }
    }

    /// The exact keys whose identifiers own this target, most specific first.
    pub fn candidate_keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        match self {
            Target::Url(u) => {
                let authority = u.authority();
                let mut path = u.path.trim_end_matches('/').to_string();
                loop {
                    if path.is_empty() {
                        keys.push(format!("u:{authority}/"));
                        break;
                    }
                    keys.push(format!("u:{authority}{path}"));
                    match path.rfind('/') {
                        Some(i) => path.truncate(i),
                        None => path.clear(),
                    }
                }
                if u.host_ip().is_none() {
                    domain_keys(&u.host, &mut keys);
                }
            }
            Target::Domain(d) => domain_keys(d, &mut keys),
            Target::Ip(_) => {}
            Target::Object(o) => {
                let mut p = o.as_str();
                loop {
                    keys.push(format!("b:{p}"));
                    match p.rfind('/') {
                        Some(i) => p = p.get(..i).unwrap_or_default(),
                        None => break,
                    }
                }
            }
            Target::Vod(v) => keys.push(format!("v:{v}")),
            Target::Apigw(a) => keys.push(format!("a:{a}")),
        }
        keys.truncate(64);
        keys
    }
}

fn domain_keys(domain: &str, keys: &mut Vec<String>) {
    let mut d = domain;
    while d.contains('.') {
        keys.push(format!("d:{d}"));
        d = d.split_once('.').map(|(_, rest)| rest).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ASMT-3 infrastructure domains and INT-6 reporter domains: the domain or a subdomain,
    /// whatever the case or a trailing dot; a name merely ending in the same letters is not.
    #[test]
    fn within_domain_is_the_domain_or_a_subdomain() {
        assert!(within_domain("cert.example", "cert.example"));
        assert!(within_domain("Mail.Cert.Example.", "cert.example"));
        assert!(within_domain("a.b.cert.example", "CERT.example."));
        assert!(!within_domain("evilcert.example", "cert.example"));
        assert!(!within_domain("cert.example", "mail.cert.example"));
    }

    #[test]
    fn url_candidates_cover_every_segment_and_parent_domain() {
        let t = Target::parse("HTTPS://Shop.Example.com:8443/a/b/c?x=1#frag").unwrap();
        assert_eq!(t.canonical(), "https://shop.example.com:8443/a/b/c?x=1");
        assert_eq!(
            t.candidate_keys(),
            vec![
                "u:shop.example.com:8443/a/b/c",
                "u:shop.example.com:8443/a/b",
                "u:shop.example.com:8443/a",
                "u:shop.example.com:8443/",
                "d:shop.example.com",
                "d:example.com",
            ]
        );
    }

    #[test]
    fn identifiers_normalise() {
        let p = Identifier::parse(IdentifierKind::UrlPrefix, "Example.com/Shop/").unwrap();
        assert_eq!(p.value(), "example.com/Shop");
        let n = Identifier::parse(IdentifierKind::PublicIp, "203.0.113.77/24").unwrap();
        assert_eq!(n.value(), "203.0.113.0/24");
        assert!(Identifier::parse(IdentifierKind::PublicIp, "300.1.1.1").is_err());
        assert!(Identifier::parse(IdentifierKind::Domain, "no spaces.com x").is_err());
        let MatchKey::Range { lo, hi, .. } = n.match_key() else {
            panic!()
        };
        let inside = ip_hex("203.0.113.9".parse().unwrap());
        assert!(lo <= inside && inside <= hi);
        assert!(ip_hex("203.0.114.1".parse().unwrap()) > hi);
    }

    #[test]
    fn targets_reject_garbage() {
        for bad in [
            "",
            "ftp://x.com/",
            "not a target",
            "http://",
            "vod:white space",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Target::parse("cos://bkt/a/b").unwrap().candidate_keys(),
            vec!["b:bkt/a/b", "b:bkt/a", "b:bkt"]
        );
    }
}
