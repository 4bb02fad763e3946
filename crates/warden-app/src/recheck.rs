//! Re-checks (DET-2, DET-3): fetch a violating URL again and look for the violating text.
//!
//! The fetcher is the only code in Warden that makes outbound requests on behalf of a report, so
//! it is built to be aimed at by strangers: it resolves the host itself and refuses loopback,
//! private, link-local, carrier-grade NAT, multicast and other non-public addresses (unless an
//! operator allow-lists a network), connects to the address it checked (no DNS rebinding between
//! check and connect), follows at most a few redirects and checks each hop again, and bounds
//! time and size. What it saw is returned as evidence with its SHA-256.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
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
}

impl Default for FetchPolicy {
    fn default() -> Self {
        FetchPolicy {
            timeout: Duration::from_secs(10),
            max_bytes: 2 * 1024 * 1024,
            max_redirects: 3,
            allowed_networks: Vec::new(),
        }
    }
}

/// What a fetch saw (kept as evidence, DET-2).
#[derive(Debug, Clone, Serialize)]
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
    #[error("refused: {host} resolves to the non-public address {address}")]
    InternalAddress {
        /// The host.
        host: String,
        /// The address.
        address: String,
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
    warden_domain::resource::special_block(ipnet::IpNet::from(ip)).is_some()
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
        let client = reqwest::Client::builder()
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
        if is_internal(a.ip()) && !policy.allowed_networks.iter().any(|n| n.contains(&a.ip())) {
            return Err(FetchError::InternalAddress {
                host: host.to_string(),
                address: a.ip().to_string(),
            });
        }
    }
    addrs
        .first()
        .copied()
        .ok_or_else(|| FetchError::Resolve(host.to_string()))
}

/// The verdict of a re-check.
#[derive(Debug, Clone, Serialize)]
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
}
