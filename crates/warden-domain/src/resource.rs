//! Resources, their identifiers and owner lookup (SPEC §3, RES-1..3).
//!
//! A report names a *target* (a URL, a domain, an IP, an object key...). Owner lookup turns the
//! target into a set of candidate [`MatchKey`]s (every URL prefix at a path-segment boundary,
//! every parent domain) plus, for IPs, a point to look up in CIDR ranges. Storage finds the
//! identifiers with those keys and keeps the most specific one: longest match wins, URL prefixes
//! and object keys beat domains. Keeping the candidate generation here means both storage engines
//! share one definition of "longest match".

use std::net::{IpAddr, Ipv6Addr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

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
            IdentifierKind::PublicIp | IdentifierKind::InternalIp => parse_net(value)
                .ok_or_else(|| InvalidInput::new("value", "is not an IP address or CIDR block"))?
                .to_string(),
            IdentifierKind::Domain => normalise_domain(value)
                .ok_or_else(|| InvalidInput::new("value", "is not a domain name"))?,
            IdentifierKind::UrlPrefix => {
                let url = parse_url(value).or_else(|| parse_url(&format!("http://{value}")));
                let url = url.ok_or_else(|| {
                    InvalidInput::new("value", "is not a URL prefix such as example.com/shop")
                })?;
                url.prefix_key()
            }
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
    if let Ok(net) = value.parse::<IpNet>() {
        return Some(net.trunc());
    }
    value.parse::<IpAddr>().ok().map(IpNet::from)
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

/// Lower-cases and checks a DNS name with at least two labels (a trailing dot is dropped).
pub fn normalise_domain(value: &str) -> Option<String> {
    normalise_host(value).filter(|d| d.contains('.'))
}

/// Lower-cases and checks a host name, single labels (`localhost`) included.
fn normalise_host(value: &str) -> Option<String> {
    let d = value.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        && d.parse::<IpAddr>().is_err();
    ok.then_some(d)
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
    /// `host/path` without a trailing slash (the root stays `host/`).
    pub fn prefix_key(&self) -> String {
        let path = self.path.trim_end_matches('/');
        format!("{}{}", self.host, if path.is_empty() { "/" } else { path })
    }

    /// The host as an IP, if it is one.
    pub fn host_ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

impl std::fmt::Display for ParsedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(f, "{}://{host}", self.scheme)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        f.write_str(&self.path)?;
        if let Some(q) = &self.query {
            write!(f, "?{q}")?;
        }
        Ok(())
    }
}

/// Parses an absolute http(s) URL; `None` when it is not one.
pub fn parse_url(text: &str) -> Option<ParsedUrl> {
    let text = text.trim();
    if text.len() > MAX_TARGET_LEN || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (scheme, rest) = text.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let rest = rest.split('#').next().unwrap_or_default();
    let (authority, path_query) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = authority.rsplit('@').next().unwrap_or_default();
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        h.parse::<Ipv6Addr>().ok()?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        (h.to_ascii_lowercase(), port)
    } else {
        let (h, p) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p.parse::<u16>().ok()?)),
            None => (authority, None),
        };
        let host = if h.parse::<IpAddr>().is_ok() {
            h.to_string()
        } else {
            normalise_host(h)?
        };
        (host, p)
    };
    let (path, query) = match path_query.split_once('?') {
        Some((p, q)) => (p, Some(q.to_string())),
        None => (path_query, None),
    };
    let path = if path.is_empty() {
        "/".to_string()
    } else {
        path.to_string()
    };
    Some(ParsedUrl {
        scheme,
        host,
        port,
        path,
        query,
    })
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
        if let Ok(ip) = t.parse::<IpAddr>() {
            return Ok(Target::Ip(ip));
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
            return parse_url(t).map(Target::Url).ok_or_else(bad);
        }
        normalise_domain(t).map(Target::Domain).ok_or_else(bad)
    }

    /// The canonical text of the target (what correlation compares).
    pub fn canonical(&self) -> String {
        match self {
            Target::Url(u) => u.to_string(),
            Target::Domain(d) => d.clone(),
            Target::Ip(ip) => ip.to_string(),
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
                let mut path = u.path.trim_end_matches('/').to_string();
                loop {
                    if path.is_empty() {
                        keys.push(format!("u:{}/", u.host));
                        break;
                    }
                    keys.push(format!("u:{}{}", u.host, path));
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

    #[test]
    fn url_candidates_cover_every_segment_and_parent_domain() {
        let t = Target::parse("HTTPS://Shop.Example.com:8443/a/b/c?x=1#frag").unwrap();
        assert_eq!(t.canonical(), "https://shop.example.com:8443/a/b/c?x=1");
        assert_eq!(
            t.candidate_keys(),
            vec![
                "u:shop.example.com/a/b/c",
                "u:shop.example.com/a/b",
                "u:shop.example.com/a",
                "u:shop.example.com/",
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
