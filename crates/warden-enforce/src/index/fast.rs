//! The query fast path: URLs and hosts as enforcement points send them (ASCII, usually
//! lowercase already) brought to canonical form **without allocating**.
//!
//! The scanner accepts only inputs whose canonical form it can produce by slicing the
//! input, or by copying it while lowercasing the scheme and host, dropping a default or
//! zero-padded port, a trailing dot, an empty query or the fragment, and removing `.` and
//! `..` segments. Anything else — escapes that change, backslashes, IDN, legacy IPv4
//! forms, userinfo, IPv6 literals, whitespace, over-long input, and every error — is
//! declined (`None`) and goes through [`super::normalise_url`], the reference. So this
//! module never decides what is canonical: it only recognises inputs on which the
//! reference amounts to that copy, and the tests hold it to that.
//!
//! Bytes are classified through one 256-entry table and skipped eight at a time, so a
//! typical URL costs a few dozen table loads and branches on its handful of `.`, `/` and
//! `:` only.

use std::net::{IpAddr, Ipv4Addr};

use super::normalise::{MAX_HOST_LEN, MAX_URL_LEN, Scheme, ends_in_number, is_unreserved};

/// A canonical URL as the matcher sees it: `scheme://host[:port]/path[?query]` as bytes
/// with the offsets of its parts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Query<'a> {
    pub(crate) s: &'a [u8],
    pub(crate) host_start: usize,
    pub(crate) auth_end: usize,
    pub(crate) path_end: usize,
    pub(crate) ip: Option<IpAddr>,
}

/// What the scanner learnt about a host it accepts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HostScan {
    /// Length of the name without its trailing dot.
    pub(crate) len: usize,
    /// The name (without its trailing dot) is lowercase already.
    pub(crate) lower: bool,
    /// The name is lowercase already and has no trailing dot (it is its own canonical form).
    pub(crate) canonical: bool,
    /// A dotted-quad IPv4 address (the only IP form the fast path knows).
    pub(crate) ip: Option<Ipv4Addr>,
}

/// A byte that may stand in a canonical host name: printable ASCII except `.`, uppercase,
/// `%` (percent-decoding) and the characters the reference forbids.
const HOST: u8 = 1;
/// A byte that may stand raw in a canonical path, except `.` (checked for dot segments).
const PATH: u8 = 2;
/// A byte that may stand raw in a canonical query.
const QUERY: u8 = 4;

/// Bytes the reference leaves as they are in a path or query: everything it would neither
/// escape nor rewrite (`\` becomes `/` in paths); `%` is handled apart.
const fn plain(b: u8, in_path: bool) -> bool {
    let escaped = matches!(b, 0..=b' ' | 0x7f.. | b'"' | b'<' | b'>' | b'`' | b'{' | b'}' | b'%');
    !(escaped || (in_path && b == b'\\'))
}

const fn class(b: u8) -> u8 {
    let forbidden_in_host = matches!(
        b,
        0..=b' '
            | 0x7f..
            | b'#'
            | b'%'
            | b'/'
            | b':'
            | b'<'
            | b'>'
            | b'?'
            | b'@'
            | b'['
            | b'\\'
            | b']'
            | b'^'
            | b'|'
    );
    let mut c = 0;
    if !forbidden_in_host && b != b'.' && !b.is_ascii_uppercase() {
        c |= HOST;
    }
    if plain(b, true) && !matches!(b, b'.' | b'?' | b'#') {
        c |= PATH;
    }
    if plain(b, false) && b != b'#' {
        c |= QUERY;
    }
    c
}

const CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0u8;
    loop {
        #[allow(clippy::indexing_slicing)] // b < 256 = t.len()
        {
            t[b as usize] = class(b);
        }
        if b == u8::MAX {
            break t;
        }
        b += 1;
    }
};

#[inline(always)]
fn is(b: u8, class: u8) -> bool {
    CLASSES.get(usize::from(b)).is_some_and(|&c| c & class != 0)
}

/// The first index at or after `i` whose byte is not of `class`.
#[inline(always)]
fn skip(s: &[u8], mut i: usize, class: u8) -> usize {
    while let Some(chunk) = s.get(i..i + 8).and_then(|c| <&[u8; 8]>::try_from(c).ok()) {
        if !chunk.iter().fold(true, |all, &b| all & is(b, class)) {
            break;
        }
        i += 8;
    }
    while s.get(i).is_some_and(|&b| is(b, class)) {
        i += 1;
    }
    i
}

/// Scans a host name starting at `s[start]` up to the first byte that cannot belong to
/// one, returning that index: ASCII labels, non-empty, at most 63 bytes, at most 253 in
/// all, an optional trailing dot, and a last label that is not a number unless the whole
/// host is a plain dotted quad. The caller checks the byte the scan stopped at.
#[inline]
fn scan_host_at(s: &[u8], start: usize) -> Option<(usize, HostScan)> {
    let mut i = start;
    let mut lower = true;
    let mut label = start;
    let mut prev_label = start;
    loop {
        i = skip(s, i, HOST);
        match s.get(i) {
            Some(b'.') => {
                if i == label || i - label > 63 {
                    return None;
                }
                i += 1;
                prev_label = label;
                label = i;
            }
            Some(b) if b.is_ascii_uppercase() => {
                lower = false;
                i += 1;
            }
            _ => break,
        }
    }
    let dot = label == i && i > start;
    let (name_end, last) = if dot {
        (i - 1, s.get(prev_label..i - 1)?)
    } else {
        (i, s.get(label..i)?)
    };
    if last.is_empty() || last.len() > 63 || name_end - start > MAX_HOST_LEN {
        return None;
    }
    let ip = if ends_in_number(last) {
        Some(dotted_quad(s.get(start..name_end)?)?)
    } else {
        None
    };
    Some((
        i,
        HostScan {
            len: name_end - start,
            lower,
            canonical: lower && !dot,
            ip,
        },
    ))
}

/// Scans a bare host name (see [`scan_host_at`]); `None` sends it to the reference.
pub(crate) fn scan_host(h: &[u8]) -> Option<HostScan> {
    match scan_host_at(h, 0)? {
        (end, scan) if end == h.len() => Some(scan),
        _ => None,
    }
}

/// `a.b.c.d`, each part `0` or 1–3 decimal digits without a leading zero, at most 255:
/// the one IPv4 form whose canonical text is itself.
fn dotted_quad(name: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = name.split(|&b| b == b'.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || (part.len() > 1 && part.first() == Some(&b'0')) {
            return None;
        }
        let mut v = 0u16;
        for &d in part {
            if !d.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u16::from(d - b'0');
        }
        *octet = u8::try_from(v).ok()?;
    }
    parts.next().is_none().then(|| Ipv4Addr::from(octets))
}

/// An escape `%XY` the reference keeps as it is: uppercase hex of a reserved byte.
fn canonical_escape(h: Option<&u8>, l: Option<&u8>) -> bool {
    fn upper_hex(b: Option<&u8>) -> Option<u8> {
        match *b? {
            d @ b'0'..=b'9' => Some(d - b'0'),
            d @ b'A'..=b'F' => Some(d - b'A' + 10),
            _ => None,
        }
    }
    match (upper_hex(h), upper_hex(l)) {
        (Some(h), Some(l)) => !is_unreserved(h << 4 | l),
        _ => false,
    }
}

/// Whether a path segment ends at `s[i]`.
fn segment_end(b: Option<&u8>) -> bool {
    matches!(b, None | Some(b'/' | b'?' | b'#'))
}

/// The scheme and authority of a URL the fast path accepts. Errors can only come from
/// here: the reference never rejects a path or a query.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuthScan {
    scheme: Scheme,
    host_start: usize,
    host: HostScan,
    /// The non-default port.
    port: Option<u16>,
    auth_end: usize,
    /// The input spells scheme, slashes and port canonically.
    canonical: bool,
}

impl AuthScan {
    /// The host as the input spells it, without a trailing dot.
    pub(crate) fn host<'a>(&self, input: &'a str) -> &'a [u8] {
        input
            .as_bytes()
            .get(self.host_start..self.host_start + self.host.len)
            .unwrap_or_default()
    }

    /// Whether [`AuthScan::host`] is lowercase already (else it needs lowercasing to be
    /// canonical).
    pub(crate) fn host_is_lower(&self) -> bool {
        self.host.lower
    }

    pub(crate) fn ip(&self) -> Option<IpAddr> {
        self.host.ip.map(IpAddr::V4)
    }
}

/// Scans a URL's scheme and authority; `None` sends it to the reference normaliser.
#[inline]
pub(crate) fn scan_authority(input: &str) -> Option<AuthScan> {
    let b = input.as_bytes();
    if b.len() > MAX_URL_LEN {
        return None;
    }
    let (scheme, colon) = match b {
        [h, t1, t2, p, b':', ..] if [*h, *t1, *t2, *p].eq_ignore_ascii_case(b"http") => {
            (Scheme::Http, 4)
        }
        [h, t1, t2, p, s, b':', ..] if [*h, *t1, *t2, *p, *s].eq_ignore_ascii_case(b"https") => {
            (Scheme::Https, 5)
        }
        _ => return None,
    };
    let scheme_lower = b.get(..colon) == Some(scheme.as_str().as_bytes());
    let mut i = colon + 1;
    while matches!(b.get(i), Some(b'/' | b'\\')) {
        i += 1;
    }
    let slashes_ok = i == colon + 3 && b.get(colon + 1..i) == Some(b"//".as_slice());
    let host_start = i;
    let (end, host) = scan_host_at(b, i)?;
    i = end;
    let (port, port_ok) = if b.get(i) == Some(&b':') {
        let digits = i + 1;
        i = digits;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        scan_port(b.get(digits..i)?, scheme)?
    } else {
        (None, true)
    };
    if !matches!(b.get(i), None | Some(b'/' | b'\\' | b'?' | b'#')) {
        // Userinfo, a second colon, a forbidden or non-ASCII byte.
        return None;
    }
    Some(AuthScan {
        scheme,
        host_start,
        host,
        port,
        auth_end: i,
        canonical: scheme_lower && slashes_ok && port_ok,
    })
}

/// Offsets into the input of a URL the fast path accepts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UrlScan {
    auth: AuthScan,
    path_end: usize,
    /// End of the query (the `#` or the end of input); `path_end + 1` for a bare `?`.
    query_end: usize,
    /// The path has `.` or `..` segments.
    dot_segments: bool,
    /// `input[..url_end]` is already the canonical URL.
    canonical: bool,
}

/// Scans the path and query of a URL whose authority [`scan_authority`] accepted; `None`
/// sends it to the reference normaliser.
#[inline]
pub(crate) fn scan_url(input: &str, auth: &AuthScan) -> Option<UrlScan> {
    let b = input.as_bytes();
    let mut i = auth.auth_end;
    // Path: no escapes that change, no backslash; dot segments are removed by the copy.
    let mut dot_segments = false;
    loop {
        i = skip(b, i, PATH);
        match b.get(i) {
            None | Some(b'?' | b'#') => break,
            Some(b'.') => {
                let at_start = b.get(i - 1) == Some(&b'/');
                let dots = if b.get(i + 1) == Some(&b'.') { 2 } else { 1 };
                dot_segments |= at_start && segment_end(b.get(i + dots));
                i += 1;
            }
            Some(b'%') if canonical_escape(b.get(i + 1), b.get(i + 2)) => i += 3,
            Some(_) => return None,
        }
    }
    let path_end = i;
    if b.get(i) == Some(&b'?') {
        i += 1;
        loop {
            i = skip(b, i, QUERY);
            match b.get(i) {
                None | Some(b'#') => break,
                Some(b'%') if canonical_escape(b.get(i + 1), b.get(i + 2)) => i += 3,
                Some(_) => return None,
            }
        }
    }
    Some(UrlScan {
        auth: *auth,
        path_end,
        query_end: i,
        dot_segments,
        canonical: auth.canonical
            && auth.host.canonical
            && path_end > auth.auth_end
            && !dot_segments,
    })
}

/// The canonical port (`None` for the default or an empty port) and whether the input
/// spells it canonically. `None` for anything the reference would reject.
fn scan_port(p: &[u8], scheme: Scheme) -> Option<(Option<u16>, bool)> {
    if p.is_empty() {
        return Some((None, false));
    }
    let digits = p
        .iter()
        .position(|&d| d != b'0')
        .and_then(|z| p.get(z..))
        .unwrap_or_default();
    if digits.len() > 5 {
        return None;
    }
    let n = digits
        .iter()
        .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    let n = u16::try_from(n).ok()?;
    if n == scheme.default_port() {
        return Some((None, false));
    }
    let padded = p.len() > 1 && p.first() == Some(&b'0');
    Some((Some(n), !padded))
}

impl UrlScan {
    fn url_end(&self) -> usize {
        if self.query_end > self.path_end + 1 {
            self.query_end
        } else {
            self.path_end
        }
    }

    /// The canonical URL when it is a prefix of the input.
    pub(crate) fn borrowed<'a>(&self, input: &'a str) -> Option<Query<'a>> {
        if !self.canonical {
            return None;
        }
        Some(Query {
            s: input.as_bytes().get(..self.url_end())?,
            host_start: self.auth.host_start,
            auth_end: self.auth.auth_end,
            path_end: self.path_end,
            ip: self.auth.ip(),
        })
    }

    /// The canonical URL written into `out` (cleared first).
    pub(crate) fn write<'b>(&self, input: &str, out: &'b mut Vec<u8>) -> Option<Query<'b>> {
        let b = input.as_bytes();
        out.clear();
        let auth = &self.auth;
        out.extend_from_slice(auth.scheme.as_str().as_bytes());
        out.extend_from_slice(b"://");
        let host_start = out.len();
        out.extend(auth.host(input).iter().map(u8::to_ascii_lowercase));
        if let Some(port) = auth.port {
            out.push(b':');
            push_u16(out, port);
        }
        let auth_end = out.len();
        let path = b.get(auth.auth_end..self.path_end)?;
        if self.dot_segments {
            push_without_dot_segments(path, out);
        } else if path.is_empty() {
            out.push(b'/');
        } else {
            out.extend_from_slice(path);
        }
        let path_end = out.len();
        out.extend_from_slice(b.get(self.path_end..self.url_end())?);
        Some(Query {
            s: out.as_slice(),
            host_start,
            auth_end,
            path_end,
            ip: auth.ip(),
        })
    }
}

/// RFC 3986 §5.2.4 on an absolute path, appended to `out`: the reference's algorithm on
/// bytes (the fast path never sees an escape that decodes to `.` or `/`, so the raw path
/// is what the reference would see after percent-normalising).
fn push_without_dot_segments(path: &[u8], out: &mut Vec<u8>) {
    let base = out.len();
    let body = path.strip_prefix(b"/").unwrap_or(path);
    let mut segments = body.split(|&b| b == b'/').peekable();
    while let Some(seg) = segments.next() {
        let last = segments.peek().is_none();
        match seg {
            b"." | b".." => {
                if seg == b".." {
                    let cut = out
                        .get(base..)
                        .and_then(|p| p.iter().rposition(|&b| b == b'/'))
                        .unwrap_or(0);
                    out.truncate(base + cut);
                }
                if last {
                    out.push(b'/');
                }
            }
            _ => {
                out.push(b'/');
                out.extend_from_slice(seg);
            }
        }
    }
    if out.len() == base {
        out.push(b'/');
    }
}

fn push_u16(out: &mut Vec<u8>, n: u16) {
    let start = out.len();
    let mut n = n;
    loop {
        out.push(b'0' + (n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if let Some(digits) = out.get_mut(start..) {
        digits.reverse();
    }
}
