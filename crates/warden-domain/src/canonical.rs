//! The one canonical form of a target's URL, host and IP network (RES-2, INT-4, ENF-1).
//!
//! A target is named many ways: `HTTPS://Shop.Example:443/a/./b`, `https://shop.example/a/b`,
//! `https://shop.example./a/%62`, `https://例子.测试/` and `https://xn--fsqu00a.xn--0zwm56d/`,
//! `[::ffff:192.0.2.55]` and `192.0.2.55`. Intake's correlation key, owner lookup, the decision
//! index and the DNS RPZ must all see one text for each of them, or a second spelling opens a
//! second case, escapes its owner, or walks past a block. So there is exactly one
//! canonicaliser, here, and every one of them goes through it: [`normalise_url`] and
//! [`normalise_host`] (the decision index re-exports them and adds an allocation-free fast
//! path for URLs that are canonical already, which its tests hold to agree with this module).
//!
//! The rules, WHATWG URL parsing and RFC 3986 §6 normalisation where they differ from a plain
//! lowercase:
//!
//! - scheme and host are lowercased; only `http` and `https`;
//! - the scheme's default port is dropped (`:443` on https, `:80` on http, zero-padded too);
//!   any other port is kept: `http://h:8080/` is another site than `http://h/`;
//! - a trailing dot on the host is dropped; `。．｡` count as dots; IDN labels become punycode
//!   (`xn--`); percent-escapes in the host are decoded first; a non-ASCII character no domain
//!   name has (control, format, private-use, unassigned, separator; the joiners excepted) makes
//!   the host invalid, never a name of its own;
//! - a host whose last label is a number is an IPv4 address in any legacy form browsers accept
//!   (`2130706433`, `0x7f.1`, `0177.0.0.1`) or is invalid (`999.1.1.1`) — never a name;
//! - an IPv4-mapped IPv6 literal (`[::ffff:192.0.2.55]`) is written as its IPv4 address;
//! - in the path and query, escapes of unreserved characters are decoded (`%69` → `i`), the
//!   hex of the others is uppercased, bytes that may not appear raw are escaped; `\` is `/`
//!   in the path; `.` and `..` segments are removed; the fragment, userinfo and an empty query
//!   are dropped.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net};

mod punycode;

/// Why a URL, host or network has no canonical form. Each variant names the offending text
/// (cut to 64 characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input is not an absolute URL (`scheme:` missing or malformed).
    #[error("not an absolute URL: `{0}`")]
    NotAUrl(String),
    /// The URL's scheme is neither `http` nor `https`.
    #[error("unsupported URL scheme `{0}` (only http and https)")]
    UnsupportedScheme(String),
    /// The URL or host is empty.
    #[error("URL has no host")]
    MissingHost,
    /// The host's last label is a number, so it is an IPv4 address, but not a valid one.
    #[error("invalid host `{0}`: invalid IPv4 address")]
    InvalidIpv4(String),
    /// The host is malformed; the second field says how.
    #[error("invalid host `{0}`: {1}")]
    InvalidHost(String, &'static str),
    /// The port is not a number in 0..=65535.
    #[error("invalid port `{0}`")]
    InvalidPort(String),
    /// The value is neither an IP address nor a CIDR.
    #[error("invalid IP address or CIDR `{0}`")]
    InvalidIp(String),
    /// The input is longer than the bound accepted at intake.
    #[error("input longer than {max} bytes")]
    TooLong {
        /// The bound, in bytes.
        max: usize,
    },
}

/// Longest URL accepted, in bytes: enforcement points send request lines, which servers
/// bound to a few KiB; anything longer is refused rather than hashed.
pub const MAX_URL_LEN: usize = 8 * 1024;
/// Longest host name accepted after IDN encoding (RFC 1035: 253 octets without the root dot).
pub const MAX_HOST_LEN: usize = 253;

/// The scheme of a normalised URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `http`, default port 80.
    Http,
    /// `https`, default port 443.
    Https,
}

impl Scheme {
    /// The lowercase scheme name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }

    /// The port a URL of this scheme has when it names none.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }
}

/// A URL in canonical form: `scheme://host[:port]/path[?query]`, one string plus offsets,
/// so that the index can hash the whole URL, the authority plus any path prefix, or the
/// host, as slices without allocating.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NormUrl {
    s: String,
    scheme: Scheme,
    host_start: usize,
    host_end: usize,
    auth_end: usize,
    path_end: usize,
    port: Option<u16>,
    ip: Option<IpAddr>,
}

impl NormUrl {
    /// The canonical URL (fragment dropped, query kept).
    pub fn as_str(&self) -> &str {
        &self.s
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host as serialised in the URL: lowercase ASCII (IDN labels as `xn--`), dotted IPv4
    /// (IPv4-mapped IPv6 included), or a bracketed IPv6 literal.
    pub fn host(&self) -> &str {
        self.s.get(self.host_start..self.host_end).unwrap_or("")
    }

    /// The IP address when the host is an IP literal (IPv4-mapped IPv6 as IPv4).
    pub fn ip(&self) -> Option<IpAddr> {
        self.ip
    }

    /// The port, when it is not the scheme's default.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// `host[:port]`.
    pub fn authority(&self) -> &str {
        self.s.get(self.host_start..self.auth_end).unwrap_or("")
    }

    /// The path, always starting with `/`.
    pub fn path(&self) -> &str {
        self.s.get(self.auth_end..self.path_end).unwrap_or("/")
    }

    /// The query without `?`, if non-empty.
    pub fn query(&self) -> Option<&str> {
        self.s.get(self.path_end + 1..)
    }

    /// The key of URL prefix rules: `host[:port]` followed by the path without trailing
    /// slashes (the root path gives the bare authority).
    pub fn prefix_key(&self) -> &str {
        let path = self.path().trim_end_matches('/');
        self.s
            .get(self.host_start..self.auth_end + path.len())
            .unwrap_or("")
    }

    /// The canonical URL (the same text as [`NormUrl::as_str`]), for byte-offset slicing.
    pub fn raw(&self) -> &str {
        &self.s
    }

    /// Byte offset of the host in [`NormUrl::raw`].
    pub fn host_start(&self) -> usize {
        self.host_start
    }

    /// Byte offset of the end of `host[:port]` (the start of the path).
    pub fn auth_end(&self) -> usize {
        self.auth_end
    }

    /// Byte offset of the end of the path (a `?` or the end).
    pub fn path_end(&self) -> usize {
        self.path_end
    }
}

impl std::fmt::Display for NormUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.s)
    }
}

fn is_c0_or_space(c: char) -> bool {
    c <= ' '
}

/// Normalises an absolute `http`/`https` URL. See the module documentation for the rules.
pub fn normalise_url(input: &str) -> Result<NormUrl, Error> {
    if input.len() > MAX_URL_LEN {
        return Err(Error::TooLong { max: MAX_URL_LEN });
    }
    let trimmed = input.trim_matches(is_c0_or_space);
    let cleaned;
    let input = if trimmed.contains(['\t', '\n', '\r']) {
        cleaned = trimmed.replace(['\t', '\n', '\r'], "");
        cleaned.as_str()
    } else {
        trimmed
    };

    let (scheme_raw, rest) = input
        .split_once(':')
        .ok_or_else(|| Error::NotAUrl(truncate(input)))?;
    let scheme = if scheme_raw.eq_ignore_ascii_case("http") {
        Scheme::Http
    } else if scheme_raw.eq_ignore_ascii_case("https") {
        Scheme::Https
    } else if scheme_raw.is_empty()
        || !scheme_raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return Err(Error::NotAUrl(truncate(input)));
    } else {
        return Err(Error::UnsupportedScheme(truncate(scheme_raw)));
    };
    // Special schemes accept any run of slashes and backslashes before the authority.
    let rest = rest.trim_start_matches(['/', '\\']);
    let auth_len = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(auth_len);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);

    let (host_raw, port_raw) = if authority.starts_with('[') {
        match authority.find(']') {
            Some(end) => {
                let (h, p) = authority.split_at(end + 1);
                match p.strip_prefix(':') {
                    Some(p) => (h, Some(p)),
                    None if p.is_empty() => (h, None),
                    None => {
                        return Err(Error::InvalidHost(
                            truncate(authority),
                            "junk after IPv6 literal",
                        ));
                    }
                }
            }
            None => {
                return Err(Error::InvalidHost(
                    truncate(authority),
                    "unterminated IPv6 literal",
                ));
            }
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port_raw {
        None | Some("") => None,
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => {
            let p = p.trim_start_matches('0');
            let n: u16 = if p.is_empty() {
                0
            } else {
                p.parse().map_err(|_| Error::InvalidPort(truncate(p)))?
            };
            (n != scheme.default_port()).then_some(n)
        }
        Some(p) => return Err(Error::InvalidPort(truncate(p))),
    };
    if host_raw.is_empty() {
        return Err(Error::MissingHost);
    }

    let mut s = String::with_capacity(input.len() + 8);
    s.push_str(scheme.as_str());
    s.push_str("://");
    let host_start = s.len();
    let ip = push_host(host_raw, &mut s)?;
    let host_end = s.len();
    if let Some(port) = port {
        s.push(':');
        s.push_str(&port.to_string());
    }
    let auth_end = s.len();

    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let mut decoded = String::with_capacity(path.len() + 1);
    if !path.starts_with(['/', '\\']) {
        decoded.push('/');
    }
    push_percent_normalised(path, &mut decoded, true);
    push_without_dot_segments(&decoded, &mut s);
    let path_end = s.len();
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        s.push('?');
        push_percent_normalised(q, &mut s, false);
    }
    Ok(NormUrl {
        s,
        scheme,
        host_start,
        host_end,
        auth_end,
        path_end,
        port,
        ip,
    })
}

/// Normalises a bare host (a name, a dotted IPv4 address, or an IPv6 address with or
/// without brackets). Returns the canonical text and the address when it is an IP.
pub fn normalise_host(input: &str) -> Result<(String, Option<IpAddr>), Error> {
    let input = input.trim_matches(is_c0_or_space);
    if input.len() > MAX_URL_LEN {
        return Err(Error::TooLong { max: MAX_URL_LEN });
    }
    if input.is_empty() {
        return Err(Error::MissingHost);
    }
    let mut out = String::with_capacity(input.len());
    let bracketed;
    let input = if input.contains(':') && !input.starts_with('[') {
        bracketed = format!("[{input}]");
        bracketed.as_str()
    } else {
        input
    };
    let ip = push_host(input, &mut out)?;
    Ok((out, ip))
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Appends the canonical host to `out`; returns the address for IP literals (IPv4-mapped
/// IPv6 written and returned as IPv4).
fn push_host(raw: &str, out: &mut String) -> Result<Option<IpAddr>, Error> {
    if let Some(inner) = raw.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| Error::InvalidHost(truncate(raw), "unterminated IPv6 literal"))?;
        let addr: Ipv6Addr = inner
            .parse()
            .map_err(|_| Error::InvalidHost(truncate(raw), "invalid IPv6 literal"))?;
        if let Some(v4) = addr.to_ipv4_mapped() {
            out.push_str(&v4.to_string());
            return Ok(Some(IpAddr::V4(v4)));
        }
        out.push('[');
        out.push_str(&addr.to_string());
        out.push(']');
        return Ok(Some(IpAddr::V6(addr)));
    }
    let decoded = percent_decode(raw)
        .ok_or_else(|| Error::InvalidHost(truncate(raw), "percent-decodes to invalid UTF-8"))?;
    // UTS 46 maps the ideographic and full-width full stops to '.'.
    const FULL_STOPS: [char; 3] = ['\u{3002}', '\u{ff0e}', '\u{ff61}'];
    let mapped = if decoded.contains(FULL_STOPS) {
        Cow::Owned(decoded.replace(FULL_STOPS, "."))
    } else {
        decoded
    };
    let name = mapped.strip_suffix('.').unwrap_or(&mapped);
    if name.is_empty() {
        return Err(Error::MissingHost);
    }
    let labels: Vec<&str> = name.split('.').collect();
    if let Some(v4) = parse_ipv4(raw, &labels)? {
        out.push_str(&v4.to_string());
        return Ok(Some(IpAddr::V4(v4)));
    }
    let start = out.len();
    let mut chars = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        if label.is_empty() {
            return Err(Error::InvalidHost(truncate(raw), "empty label"));
        }
        if label.chars().any(is_forbidden_host_char) {
            return Err(Error::InvalidHost(truncate(raw), "forbidden character"));
        }
        if i > 0 {
            out.push('.');
        }
        let label_start = out.len();
        if label.chars().any(|c| !c.is_ascii() && !is_idn_char(c)) {
            return Err(Error::InvalidHost(
                truncate(raw),
                "a character no domain name has (a control, format, private-use, unassigned or space character)",
            ));
        }
        if label.is_ascii() {
            out.extend(label.chars().map(|c| c.to_ascii_lowercase()));
        } else {
            chars.clear();
            chars.extend(label.chars().flat_map(char::to_lowercase));
            out.push_str("xn--");
            punycode::encode(&chars, out)
                .ok_or_else(|| Error::InvalidHost(truncate(raw), "label too long"))?;
        }
        if out.len() - label_start > 63 {
            return Err(Error::InvalidHost(
                truncate(raw),
                "label longer than 63 bytes",
            ));
        }
    }
    if out.len() - start > MAX_HOST_LEN {
        return Err(Error::InvalidHost(
            truncate(raw),
            "host longer than 253 bytes",
        ));
    }
    Ok(None)
}

/// Whether a non-ASCII character may be in an internationalised host name: letters, marks,
/// numbers, punctuation and symbols, and the joiners ZWNJ/ZWJ (IDNA's CONTEXTJ). Controls,
/// format characters, surrogates, private-use and unassigned code points and separators make
/// no name anyone can register or type: such a "host" is unreadable, not a host that is not
/// blocked.
fn is_idn_char(c: char) -> bool {
    use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};
    match c.general_category_group() {
        GeneralCategoryGroup::Letter
        | GeneralCategoryGroup::Mark
        | GeneralCategoryGroup::Number
        | GeneralCategoryGroup::Punctuation
        | GeneralCategoryGroup::Symbol => true,
        GeneralCategoryGroup::Separator => false,
        GeneralCategoryGroup::Other => matches!(c, '\u{200c}' | '\u{200d}'),
    }
}

fn is_forbidden_host_char(c: char) -> bool {
    c <= ' '
        || c == '\u{7f}'
        || matches!(
            c,
            '#' | '%' | '/' | ':' | '<' | '>' | '?' | '@' | '[' | '\\' | ']' | '^' | '|'
        )
}

/// WHATWG IPv4 parsing: a host whose last label is a number is an IPv4 address in one of
/// the legacy forms (`16909060`, `0x7f.1`, `0177.0.0.1`) or is invalid, because browsers
/// connect to it as such; treating it as a name would let `http://2130706433/` dodge an
/// `ip` rule for 127.0.0.1.
fn parse_ipv4(raw: &str, labels: &[&str]) -> Result<Option<Ipv4Addr>, Error> {
    let Some(last) = labels.last() else {
        return Ok(None);
    };
    if !ends_in_number(last.as_bytes()) {
        return Ok(None);
    }
    let bad = || Error::InvalidIpv4(truncate(raw));
    if labels.len() > 4 {
        return Err(bad());
    }
    let mut parts = Vec::with_capacity(labels.len());
    for label in labels {
        parts.push(parse_ipv4_number(label).ok_or_else(bad)?);
    }
    let (last, init) = parts.split_last().ok_or_else(bad)?;
    if init.iter().any(|&p| p > 255) {
        return Err(bad());
    }
    let shift = 8 * (4 - parts.len() as u32 + 1);
    if shift < 32 && *last >= 1u64 << shift {
        return Err(bad());
    }
    let mut value = *last;
    for (i, &p) in init.iter().enumerate() {
        value += p << (8 * (3 - i as u32));
    }
    let value = u32::try_from(value).map_err(|_| bad())?;
    Ok(Some(Ipv4Addr::from(value)))
}

/// Whether a host's last label makes it an IPv4 address (WHATWG "ends in a number"):
/// decimal digits, or `0x`/`0X` followed by hex digits (possibly none).
#[inline]
pub fn ends_in_number(last: &[u8]) -> bool {
    match last {
        [] => false,
        [b'0', b'x' | b'X', hex @ ..] => hex.iter().all(u8::is_ascii_hexdigit),
        digits => digits.iter().all(u8::is_ascii_digit),
    }
}

fn parse_ipv4_number(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if let Some(o) = s.strip_prefix('0').filter(|o| !o.is_empty()) {
        (o, 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() {
        return Some(0);
    }
    if digits.len() > 12 {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

fn hex_val(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

fn percent_decode(s: &str) -> Option<Cow<'_, str>> {
    if !s.contains('%') {
        return Some(Cow::Borrowed(s));
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex_val),
                bytes.get(i + 2).copied().and_then(hex_val),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

/// RFC 3986 unreserved: letters, digits, `-._~` (their escapes are decoded).
#[inline]
pub fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn push_escape(b: u8, out: &mut String) {
    out.push('%');
    for nibble in [b >> 4, b & 0xf] {
        out.push(
            HEX_UPPER
                .get(usize::from(nibble))
                .map_or('0', |&h| char::from(h)),
        );
    }
}

/// RFC 3986 §6.2.2: decode escapes of unreserved characters, uppercase the hex of the
/// others, escape a stray `%` as `%25`, and escape bytes that may not appear raw
/// (controls, space, non-ASCII, `"<>` and backquote, braces). In paths `\` becomes `/`,
/// as browsers do for http(s).
fn push_percent_normalised(input: &str, out: &mut String, is_path: bool) {
    let bytes = input.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                match (
                    bytes.get(i + 1).copied().and_then(hex_val),
                    bytes.get(i + 2).copied().and_then(hex_val),
                ) {
                    (Some(h), Some(l)) => {
                        let v = h << 4 | l;
                        if is_unreserved(v) {
                            out.push(char::from(v));
                        } else {
                            push_escape(v, out);
                        }
                        i += 3;
                        continue;
                    }
                    _ => push_escape(b'%', out),
                }
            }
            b'\\' if is_path => out.push('/'),
            0..=0x20 | 0x7f.. | b'"' | b'<' | b'>' | b'`' | b'{' | b'}' => push_escape(b, out),
            _ => out.push(char::from(b)),
        }
        i += 1;
    }
}

/// RFC 3986 §5.2.4 on an absolute path, appended to `out`.
fn push_without_dot_segments(path: &str, out: &mut String) {
    let base = out.len();
    let body = path.strip_prefix('/').unwrap_or(path);
    let mut segments = body.split('/').peekable();
    while let Some(seg) = segments.next() {
        let last = segments.peek().is_none();
        match seg {
            "." => {
                if last {
                    out.push('/');
                }
            }
            ".." => {
                let cut = out.get(base..).and_then(|p| p.rfind('/')).unwrap_or(0);
                out.truncate(base + cut);
                if last {
                    out.push('/');
                }
            }
            _ => {
                out.push('/');
                out.push_str(seg);
            }
        }
    }
    if out.len() == base {
        out.push('/');
    }
}

/// Canonical network: host bits cleared, IPv4-mapped IPv6 networks expressed as IPv4.
pub fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.network().to_ipv4_mapped() {
            Some(v4) => Ipv4Net::new(v4, v6.prefix_len() - 96)
                .map_or(IpNet::V6(v6.trunc()), |n| IpNet::V4(n.trunc())),
            None => IpNet::V6(v6.trunc()),
        },
        other => other.trunc(),
    }
}

/// Parses an address (a /32 or /128) or a CIDR, bracketed or not, into its
/// [`canonical_net`].
pub fn parse_net(value: &str) -> Result<IpNet, Error> {
    let value = value.trim();
    let value = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value);
    let net = match value.parse::<IpNet>() {
        Ok(net) => net,
        Err(_) => IpNet::from(
            value
                .parse::<IpAddr>()
                .map_err(|_| Error::InvalidIp(truncate(value)))?,
        ),
    };
    Ok(canonical_net(net))
}
