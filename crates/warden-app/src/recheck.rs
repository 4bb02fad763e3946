//! Re-checks (DET-2, DET-3): fetch a violating URL again and look for the violating text.
//!
//! The fetcher is the only code in Warden that makes outbound requests on behalf of a report, so
//! it is built to be aimed at by strangers: it resolves the host itself and refuses loopback,
//! private, link-local, carrier-grade NAT, multicast and other non-public addresses, also when
//! an IPv6 address carries one ([`internal_class`]), unless an operator allow-lists a network;
//! it connects to the address it checked (no DNS rebinding between
//! check and connect), follows at most a few redirects and checks each hop again, and bounds
//! time and size. What it saw is returned as evidence with its SHA-256.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::time::Duration;

use ipnet::IpNet;
use serde::Serialize;
use warden_domain::resource::parse_url;

/// Fetch limits and the networks an operator allows despite being internal.
#[derive(Debug, Clone)]
pub struct FetchPolicy {
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Most body bytes read; the rest is not fetched.
    pub max_bytes: usize,
    /// Most redirects followed.
    pub max_redirects: usize,
    /// Internal networks that may be fetched anyway (empty by default; tests allow 127.0.0.1).
    pub allowed_networks: Vec<IpNet>,
    /// Certificate authorities trusted besides the system's (PEM), for https pages signed by a
    /// private one (a test's, a provider's own). Empty by default.
    pub extra_roots_pem: Vec<String>,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        FetchPolicy {
            timeout: Duration::from_secs(10),
            max_bytes: 2 * 1024 * 1024,
            max_redirects: 3,
            allowed_networks: Vec::new(),
            extra_roots_pem: Vec::new(),
        }
    }
}

/// What a fetch saw (kept as evidence, DET-2).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Fetched {
    /// The URL asked for.
    pub url: String,
    /// The URL finally read, after redirects.
    pub final_url: String,
    /// The address connected to.
    pub address: String,
    /// HTTP status.
    pub status: u16,
    /// The body, up to the size cap.
    #[serde(skip)]
    pub body: Vec<u8>,
    /// SHA-256 of `body`.
    pub sha256: String,
    /// Whether the body was cut at the cap (the evidence says so).
    pub truncated: bool,
    /// The `Content-Type` the server sent.
    pub content_type: Option<String>,
    /// The charset the body was decoded with.
    pub charset: String,
    /// What a visitor reads: the decoded text (visible text for HTML).
    #[serde(skip)]
    pub text: String,
}

/// Why a URL was not fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// Not an http(s) URL.
    #[error("not an http(s) URL: {0}")]
    BadUrl(String),
    /// The host resolves to an address Warden must not reach.
    #[error("refused: {host} resolves to the non-public address {address} ({class})")]
    InternalAddress {
        /// The host.
        host: String,
        /// The address.
        address: String,
        /// What kind of address it is ([`internal_class`]).
        class: String,
    },
    /// The host does not resolve.
    #[error("cannot resolve {0}")]
    Resolve(String),
    /// Too many redirects.
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    /// Timed out or the connection failed.
    #[error("fetch failed: {0}")]
    Network(String),
}

/// Whether an address is one that report-driven fetches must never reach: any
/// special-purpose block (loopback, private, link-local, metadata, documentation...), the
/// same table that keeps such blocks out of `public_ip` identifiers.
pub fn is_internal(ip: IpAddr) -> bool {
    // The resource table (RES-2) and the embedded-IPv4 forms below must both pass.
    internal_class(ip).is_some()
        || warden_domain::resource::special_block(ipnet::IpNet::from(ip)).is_some()
}

/// The class of an address report-driven fetches must never reach (`loopback`, `private`,
/// `6to4 address of loopback 127.0.0.1`, ...), or `None` for a public address.
///
/// An IPv6 address that carries an IPv4 address is judged by the IPv4 address it carries, since
/// the packets end up there: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`),
/// IPv4-translated (`::ffff:0:a.b.c.d`), 6to4 (`2002:AABB:CCDD::/48`) and Teredo (`2001::/32`, the
/// client address stored inverted). NAT64 (`64:ff9b::/32`, which holds the well-known prefix
/// `64:ff9b::/96` and the local-use `64:ff9b:1::/48`) is refused as a whole: it is a gateway into
/// IPv4 networks the operator runs.
pub fn internal_class(ip: IpAddr) -> Option<String> {
    match ip {
        IpAddr::V4(v4) => ipv4_class(v4).map(str::to_string),
        IpAddr::V6(v6) => ipv6_class(v6),
    }
}

fn ipv4_class(v4: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = v4.octets();
    if v4.is_loopback() {
        Some("loopback")
    } else if v4.is_private() {
        Some("private")
    } else if v4.is_link_local() {
        Some("link-local")
    } else if v4.is_broadcast() {
        Some("broadcast")
    } else if v4.is_multicast() {
        Some("multicast")
    } else if v4.is_documentation() {
        Some("documentation")
    } else if a == 0 {
        Some("\"this network\" (0.0.0.0/8)")
    } else if a == 100 && (64..128).contains(&b) {
        Some("carrier-grade NAT")
    } else if a == 198 && (b == 18 || b == 19) {
        Some("benchmarking")
    } else if a >= 240 {
        Some("reserved")
    } else {
        None
    }
}

fn ipv6_class(v6: Ipv6Addr) -> Option<String> {
    let seg = v6.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    let embedded = |form: &str, v4: Ipv4Addr| {
        ipv4_class(v4).map(|class| format!("{form} IPv6 address of {class} {v4}"))
    };
    match seg {
        _ if v6.is_loopback() => Some("loopback".into()),
        _ if v6.is_unspecified() => Some("unspecified".into()),
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => embedded("IPv4-mapped", v4(hi, lo)),
        [0, 0, 0, 0, 0xffff, 0, hi, lo] => embedded("IPv4-translated", v4(hi, lo)),
        [0, 0, 0, 0, 0, 0, hi, lo] => embedded("IPv4-compatible", v4(hi, lo)),
        [0x2002, hi, lo, ..] => embedded("6to4", v4(hi, lo)),
        [0x2001, 0, _, _, _, _, hi, lo] => embedded("Teredo", v4(!hi, !lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(
            embedded("NAT64", v4(hi, lo))
                .unwrap_or_else(|| "NAT64 (64:ff9b::/96, a gateway into IPv4)".into()),
        ),
        [0x64, 0xff9b, ..] => Some("NAT64 (64:ff9b::/32, a gateway into IPv4)".into()),
        _ if v6.is_multicast() => Some("multicast".into()),
        [s0, ..] if s0 & 0xfe00 == 0xfc00 => Some("unique local".into()),
        [s0, ..] if s0 & 0xffc0 == 0xfe80 => Some("link-local".into()),
        [s0, ..] if s0 & 0xffc0 == 0xfec0 => Some("site-local".into()),
        [0x2001, 0x0db8, ..] => Some("documentation".into()),
        _ => None,
    }
}

/// Fetches `url` under `policy`.
pub async fn fetch(url: &str, policy: &FetchPolicy) -> Result<Fetched, FetchError> {
    let mut current = url.to_string();
    for _ in 0..=policy.max_redirects {
        let parsed = parse_url(&current)
            .ok_or_else(|| FetchError::BadUrl(current.chars().take(200).collect()))?;
        let port = parsed
            .port
            .unwrap_or(if parsed.scheme == "https" { 443 } else { 80 });
        let addr = resolve_public(&parsed.host, port, policy).await?;
        // Never through a proxy from the environment: the proxy would resolve the name again
        // and connect wherever that leads, past the address checked and pinned here.
        let mut builder = reqwest::Client::builder();
        for pem in &policy.extra_roots_pem {
            let cert = reqwest::Certificate::from_pem(pem.as_bytes())
                .map_err(|e| FetchError::Network(format!("an extra root certificate: {e}")))?;
            builder = builder.add_root_certificate(cert);
        }
        let client = builder
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout.min(Duration::from_secs(5)))
            .resolve(&parsed.host, addr)
            .user_agent("Warden-recheck/1")
            .build()
            .map_err(|e| FetchError::Network(e.to_string()))?;
        let mut resp = client
            .get(parsed.to_string())
            .send()
            .await
            .map_err(|e| FetchError::Network(e.to_string()))?;
        let status = resp.status();
        if status.is_redirection() {
            let next = resp
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .map(str::to_string);
            match next {
                Some(loc) if loc.contains("://") => current = loc,
                Some(loc) if loc.starts_with('/') => {
                    current = format!(
                        "{}://{}{}{}",
                        parsed.scheme,
                        host_port(&parsed.host, parsed.port),
                        "",
                        loc
                    )
                }
                _ => {
                    return Err(FetchError::Network(format!(
                        "redirect {status} without a usable Location"
                    )));
                }
            }
            continue;
        }
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut body = Vec::new();
        let mut truncated = false;
        loop {
            match tokio::time::timeout(policy.timeout, resp.chunk()).await {
                Ok(Ok(Some(chunk))) => {
                    let room = policy.max_bytes.saturating_sub(body.len());
                    if chunk.len() > room {
                        body.extend_from_slice(chunk.get(..room).unwrap_or_default());
                        truncated = true;
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(Ok(None)) => break,
                Ok(Err(e)) => return Err(FetchError::Network(e.to_string())),
                Err(_) => return Err(FetchError::Network("timed out reading the body".into())),
            }
        }
        let (decoded, charset) = crate::page::decode(&body, content_type.as_deref());
        let text = if crate::page::is_html(content_type.as_deref(), &decoded) {
            crate::page::visible_text(&decoded)
        } else {
            decoded
        };
        return Ok(Fetched {
            content_type,
            charset: charset.to_string(),
            text,
            url: url.to_string(),
            final_url: parsed.to_string(),
            address: addr.to_string(),
            status: status.as_u16(),
            sha256: warden_domain::sha256_hex(&body),
            body,
            truncated,
        });
    }
    Err(FetchError::TooManyRedirects(policy.max_redirects))
}

fn host_port(host: &str, port: Option<u16>) -> String {
    let h = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    match port {
        Some(p) => format!("{h}:{p}"),
        None => h,
    }
}

async fn resolve_public(
    host: &str,
    port: u16,
    policy: &FetchPolicy,
) -> Result<SocketAddr, FetchError> {
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::time::timeout(policy.timeout, tokio::net::lookup_host((host, port)))
            .await
            .map_err(|_| FetchError::Resolve(host.to_string()))?
            .map_err(|_| FetchError::Resolve(host.to_string()))?
            .collect(),
    };
    // Every address must be acceptable: otherwise a name with one public and one internal
    // address would let the connection pick the internal one.
    for a in &addrs {
        if let Some(class) = internal_class(a.ip())
            && !policy.allowed_networks.iter().any(|n| n.contains(&a.ip()))
        {
            return Err(FetchError::InternalAddress {
                host: host.to_string(),
                address: a.ip().to_string(),
                class,
            });
        }
    }
    addrs
        .first()
        .copied()
        .ok_or_else(|| FetchError::Resolve(host.to_string()))
}

/// The verdict of a re-check.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// The violating text is gone (or the page is: 404/410).
    Clean {
        /// What was seen.
        evidence: Option<Fetched>,
    },
    /// The violating text is still there.
    Violating {
        /// The markers found.
        found: Vec<String>,
        /// What was seen.
        evidence: Fetched,
    },
    /// Could not tell (timeout, refused address, server error): never read as "clean".
    Unknown {
        /// Why.
        reason: String,
    },
}

/// Re-checks a URL for violating text (DET-3). The lexicon scanner of the content-detection work
/// plugs in as another implementation.
pub trait Rechecker: std::fmt::Debug + Send + Sync {
    /// Whether `url` still shows any of `markers` (or, for a scanning re-checker, content of
    /// `category` scoring above its threshold).
    fn recheck<'a>(
        &'a self,
        url: &'a str,
        markers: &'a [String],
        category: &'a str,
    ) -> Pin<Box<dyn Future<Output = Verdict> + Send + 'a>>;
}

/// The HTTP re-checker: fetch under a [`FetchPolicy`], then look for the markers in the page
/// text (case-insensitively, whitespace-normalised).
#[derive(Debug, Clone, Default)]
pub struct HttpRechecker {
    /// Limits and allow-list.
    pub policy: FetchPolicy,
}

impl Rechecker for HttpRechecker {
    fn recheck<'a>(
        &'a self,
        url: &'a str,
        markers: &'a [String],
        _category: &'a str,
    ) -> Pin<Box<dyn Future<Output = Verdict> + Send + 'a>> {
        Box::pin(async move {
            match fetch(url, &self.policy).await {
                Err(e) => Verdict::Unknown {
                    reason: e.to_string(),
                },
                Ok(f) if f.status == 404 || f.status == 410 => Verdict::Clean { evidence: Some(f) },
                Ok(f) if f.status >= 400 => Verdict::Unknown {
                    reason: format!("the page answered HTTP {}", f.status),
                },
                Ok(f) => {
                    let text = normalise(&f.text);
                    let found: Vec<String> = markers
                        .iter()
                        .filter(|m| !m.trim().is_empty() && text.contains(&normalise(m)))
                        .cloned()
                        .collect();
                    if found.is_empty() {
                        Verdict::Clean { evidence: Some(f) }
                    } else {
                        Verdict::Violating { found, evidence: f }
                    }
                }
            }
        })
    }
}

fn normalise(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "224.0.0.1",
        ] {
            assert!(is_internal(a.parse().unwrap()), "{a}");
        }
        for a in ["203.0.114.1", "8.8.8.8", "2606:4700::1111", "1.1.1.1"] {
            assert!(!is_internal(a.parse().unwrap()), "{a}");
        }
    }

    /// DET-2: IPv6 spellings of internal IPv4 addresses were classed as public, so the fetcher
    /// would have connected to them. Every form that carries an IPv4 address is judged by it;
    /// the same forms of a public address stay public (only NAT64 is refused as a whole).
    #[test]
    fn regression_ipv6_forms_of_internal_ipv4_are_internal() {
        let table: &[(&str, Option<&str>)] = &[
            // IPv4-compatible ::a.b.c.d
            (
                "::127.0.0.1",
                Some("IPv4-compatible IPv6 address of loopback 127.0.0.1"),
            ),
            (
                "::10.0.0.1",
                Some("IPv4-compatible IPv6 address of private 10.0.0.1"),
            ),
            (
                "::169.254.169.254",
                Some("IPv4-compatible IPv6 address of link-local 169.254.169.254"),
            ),
            ("::8.8.8.8", None),
            // IPv4-mapped ::ffff:a.b.c.d
            (
                "::ffff:127.0.0.1",
                Some("IPv4-mapped IPv6 address of loopback 127.0.0.1"),
            ),
            (
                "::ffff:7f00:1",
                Some("IPv4-mapped IPv6 address of loopback 127.0.0.1"),
            ),
            (
                "::ffff:192.168.0.1",
                Some("IPv4-mapped IPv6 address of private 192.168.0.1"),
            ),
            ("::ffff:8.8.8.8", None),
            // IPv4-translated ::ffff:0:a.b.c.d
            (
                "::ffff:0:127.0.0.1",
                Some("IPv4-translated IPv6 address of loopback 127.0.0.1"),
            ),
            (
                "::ffff:0:100.64.0.1",
                Some("IPv4-translated IPv6 address of carrier-grade NAT 100.64.0.1"),
            ),
            ("::ffff:0:8.8.8.8", None),
            // 6to4 2002:AABB:CCDD::/48
            (
                "2002:7f00:1::",
                Some("6to4 IPv6 address of loopback 127.0.0.1"),
            ),
            (
                "2002:a9fe:a9fe::1",
                Some("6to4 IPv6 address of link-local 169.254.169.254"),
            ),
            (
                "2002:c0a8:101:1::1",
                Some("6to4 IPv6 address of private 192.168.1.1"),
            ),
            (
                "2002:0:0::",
                Some("6to4 IPv6 address of \"this network\" (0.0.0.0/8) 0.0.0.0"),
            ),
            ("2002:808:808::1", None),
            // Teredo 2001:0::/32, server 65.54.227.120, client inverted in the last 32 bits
            (
                "2001:0:4136:e378:8000:63bf:80ff:fffe",
                Some("Teredo IPv6 address of loopback 127.0.0.1"),
            ),
            (
                "2001:0:4136:e378:8000:63bf:f5ff:fffe",
                Some("Teredo IPv6 address of private 10.0.0.1"),
            ),
            ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", None),
            // NAT64: the well-known /96, the local-use /48, and the rest of 64:ff9b::/32
            (
                "64:ff9b::127.0.0.1",
                Some("NAT64 IPv6 address of loopback 127.0.0.1"),
            ),
            (
                "64:ff9b::7f00:1",
                Some("NAT64 IPv6 address of loopback 127.0.0.1"),
            ),
            (
                "64:ff9b::10.0.0.1",
                Some("NAT64 IPv6 address of private 10.0.0.1"),
            ),
            (
                "64:ff9b::8.8.8.8",
                Some("NAT64 (64:ff9b::/96, a gateway into IPv4)"),
            ),
            (
                "64:ff9b:1:7f00:0:100::",
                Some("NAT64 (64:ff9b::/32, a gateway into IPv4)"),
            ),
            (
                "64:ff9b:1::a00:1",
                Some("NAT64 (64:ff9b::/32, a gateway into IPv4)"),
            ),
            // Plain IPv6 classes
            ("::1", Some("loopback")),
            ("::", Some("unspecified")),
            ("fe80::1", Some("link-local")),
            ("fec0::1", Some("site-local")),
            ("fd12:3456::1", Some("unique local")),
            ("ff02::1", Some("multicast")),
            ("2001:db8::1", Some("documentation")),
            ("2606:4700::1111", None),
            ("2001:4860:4860::8888", None),
        ];
        for (addr, expected) in table {
            let ip: IpAddr = addr.parse().unwrap();
            assert_eq!(internal_class(ip).as_deref(), *expected, "{addr}");
            assert_eq!(is_internal(ip), expected.is_some(), "{addr}");
        }
    }
}
