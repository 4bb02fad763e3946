//! A small bounded MIME reader (RFC 5322, RFC 2045–2047, RFC 2231 parameters): a raw message
//! becomes a flat, depth-first list of [`Part`]s that borrow from the input.
//!
//! Only structure is read eagerly: header fields, content types, multipart boundaries. Bodies
//! are decoded (Base64, quoted-printable, charsets) on demand, by [`Part::decoded`] and
//! [`Part::text`], so a broken encoding in a part nobody reads does not refuse a report. Every
//! bound of [`Limits`] is checked while splitting, before the bounded thing is kept.
//!
//! An attached message (`message/rfc822`) is a leaf: its inside is never split or searched,
//! because a spam's own attachments must not turn into reports. [`parse_header_block`] reads
//! its header fields when a caller needs them (the ARF original's `Received` lines).
//!
//! Lenient where real senders are sloppy, strict where the structure is gone:
//! - bare LF line ends are accepted as well as CRLF; header lines without a colon are skipped;
//! - a multipart without its closing delimiter runs to the end of its body, with a warning
//!   (several feedback loops send this);
//! - a part cut inside its header fields, a multipart body with no delimiter line of its
//!   boundary, or a Base64 body cut inside a quantum is refused.

use std::borrow::Cow;

use base64::Engine as _;

use crate::error::{MailError, MimeFault};
use crate::limits::{Limit, Limits};

/// Where a part sits: empty for the message itself, `[2, 1]` for the first part of the second
/// part (IMAP section numbers).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartId(pub Vec<u32>);

impl std::fmt::Display for PartId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("message");
        }
        f.write_str("part ")?;
        for (i, n) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{n}")?;
        }
        Ok(())
    }
}

/// One header field, unfolded; the value is the raw text (8-bit bytes read as UTF-8, lossily),
/// without RFC 2047 decoding (see [`Headers::decoded`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The field name as sent.
    pub name: String,
    /// The unfolded value, trimmed.
    pub value: String,
}

/// A header block, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Headers(pub Vec<Header>);

impl Headers {
    /// The first value of `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.all(name).next()
    }

    /// Every value of `name`, in order.
    pub fn all<'s, 'n>(&'s self, name: &'n str) -> impl Iterator<Item = &'s str> + use<'s, 'n> {
        self.0
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// The first value of `name` with RFC 2047 encoded words decoded.
    pub fn decoded(&self, name: &str) -> Option<String> {
        self.get(name).map(decode_words)
    }

    /// How many fields there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A parsed `Content-Type`: lower-case `type/subtype` and its parameters (names lower-case,
/// RFC 2231 continuations joined and decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    /// `type/subtype`, lower case.
    pub mime: String,
    /// Parameters in order.
    pub params: Vec<(String, String)>,
}

impl ContentType {
    /// A parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the type is `multipart/*`.
    pub fn is_multipart(&self) -> bool {
        self.mime.starts_with("multipart/")
    }

    fn text_plain() -> ContentType {
        ContentType {
            mime: "text/plain".into(),
            params: Vec::new(),
        }
    }
}

/// A `Content-Transfer-Encoding`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferEncoding {
    /// `7bit`, `8bit`, `binary` or none: the body as is.
    Identity,
    /// `base64`.
    Base64,
    /// `quoted-printable`.
    QuotedPrintable,
    /// Anything else (`x-uuencode`...), as sent; decoding it fails.
    Other(String),
}

/// One part of a message (the message itself is the first).
#[derive(Debug, Clone)]
pub struct Part<'a> {
    /// Where it sits.
    pub id: PartId,
    /// 0 for the message, 1 for its parts...
    pub depth: usize,
    /// Its header fields (the message's for the message).
    pub headers: Headers,
    /// Its content type (default `text/plain`, or `message/rfc822` inside `multipart/digest`).
    pub content_type: ContentType,
    /// Its transfer encoding.
    pub encoding: TransferEncoding,
    /// The whole part as received: header fields and body.
    pub raw: &'a [u8],
    /// The body as received (still transfer-encoded).
    pub body: &'a [u8],
    /// Indexes of its parts in [`Message::parts`] (multiparts only).
    pub children: Vec<usize>,
    /// For a multipart, whether its closing delimiter came (always true for other parts).
    pub closed: bool,
}

impl Part<'_> {
    /// `part 2 (message/feedback-report)`: how errors name it.
    pub fn at(&self) -> String {
        format!("{} ({})", self.id, self.content_type.mime)
    }

    /// The body with its transfer encoding undone.
    pub fn decoded(&self) -> Result<Cow<'_, [u8]>, MailError> {
        match &self.encoding {
            TransferEncoding::Identity => Ok(Cow::Borrowed(self.body)),
            TransferEncoding::Base64 => decode_base64(self.body)
                .map(Cow::Owned)
                .map_err(|(fault, why)| MailError::mime(fault, self.at(), why)),
            TransferEncoding::QuotedPrintable => Ok(Cow::Owned(decode_qp(self.body))),
            TransferEncoding::Other(e) => Err(MailError::mime(
                MimeFault::BadEncoding,
                self.at(),
                format!(
                    "Content-Transfer-Encoding `{e}` is not supported (7bit, 8bit, binary, base64, quoted-printable)"
                ),
            )),
        }
    }

    /// The decoded body as text, in its `charset` (UTF-8 when none or unknown).
    pub fn text(&self) -> Result<String, MailError> {
        let bytes = self.decoded()?;
        Ok(decode_charset(self.content_type.param("charset"), &bytes))
    }

    /// The file name of an attachment (`Content-Disposition: filename`, or `Content-Type: name`).
    pub fn file_name(&self) -> Option<String> {
        self.headers
            .get("content-disposition")
            .map(parse_content_type)
            .and_then(|d| d.param("filename").map(str::to_string))
            .or_else(|| self.content_type.param("name").map(str::to_string))
            .map(|n| decode_words(&n))
    }
}

/// A message split into its parts.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    /// Depth-first: `parts[0]` is the message itself.
    pub parts: Vec<Part<'a>>,
    /// What was tolerated (a missing closing delimiter...).
    pub warnings: Vec<String>,
}

impl<'a> Message<'a> {
    /// The message itself.
    pub fn root(&self) -> Option<&Part<'a>> {
        self.parts.first()
    }
}

/// Splits a raw message into its parts, within `limits`.
pub fn parse<'a>(raw: &'a [u8], limits: &Limits) -> Result<Message<'a>, MailError> {
    if raw.len() > limits.max_message_bytes {
        return Err(MailError::Limit {
            limit: Limit::MessageBytes,
            at: "message".into(),
            what: "the message, in bytes,",
            actual: raw.len(),
            max: limits.max_message_bytes,
        });
    }
    // An mbox "From " line is not a header field.
    let start = if raw.starts_with(b"From ") {
        raw.iter()
            .position(|b| *b == b'\n')
            .map_or(raw.len(), |i| i + 1)
    } else {
        0
    };
    let raw = raw.get(start..).unwrap_or_default();
    let mut msg = Message {
        parts: Vec::new(),
        warnings: Vec::new(),
    };
    let split = split_head_body(raw);
    let headers = parse_header_block(split.head, limits.max_headers)
        .map_err(|n| headers_limit("message".into(), n, limits))?;
    if headers.is_empty() {
        return Err(MailError::mime(
            MimeFault::NotAMessage,
            "message",
            "has no header fields: not an RFC 5322 message",
        ));
    }
    let ctx = Ctx { limits };
    ctx.add_part(
        &mut msg,
        PartId::default(),
        0,
        raw,
        split,
        headers,
        &ContentType::text_plain(),
        false,
    )?;
    Ok(msg)
}

struct Ctx<'l> {
    limits: &'l Limits,
}

impl Ctx<'_> {
    #[allow(clippy::too_many_arguments)]
    fn add_part<'a>(
        &self,
        msg: &mut Message<'a>,
        id: PartId,
        depth: usize,
        raw: &'a [u8],
        split: Split<'a>,
        headers: Headers,
        default_type: &ContentType,
        last_of_unclosed: bool,
    ) -> Result<usize, MailError> {
        if msg.parts.len() >= self.limits.max_parts {
            return Err(MailError::Limit {
                limit: Limit::Parts,
                at: id.to_string(),
                what: "the number of parts",
                actual: msg.parts.len() + 1,
                max: self.limits.max_parts,
            });
        }
        let content_type = headers
            .get("content-type")
            .map(parse_content_type)
            .filter(|c| c.mime.contains('/'))
            .unwrap_or_else(|| default_type.clone());
        let encoding = match headers
            .get("content-transfer-encoding")
            .map(|e| e.trim().to_ascii_lowercase())
        {
            None => TransferEncoding::Identity,
            Some(e) => match e.as_str() {
                "" | "7bit" | "8bit" | "binary" => TransferEncoding::Identity,
                "base64" => TransferEncoding::Base64,
                "quoted-printable" => TransferEncoding::QuotedPrintable,
                _ => TransferEncoding::Other(e),
            },
        };
        let at = format!("{id} ({})", content_type.mime);
        if depth > 0 && raw.len() > self.limits.max_part_bytes {
            return Err(MailError::Limit {
                limit: Limit::PartBytes,
                at,
                what: "the part, in bytes,",
                actual: raw.len(),
                max: self.limits.max_part_bytes,
            });
        }
        if depth == 0
            && !content_type.is_multipart()
            && split.body.len() > self.limits.max_part_bytes
        {
            return Err(MailError::Limit {
                limit: Limit::PartBytes,
                at,
                what: "the body, in bytes,",
                actual: split.body.len(),
                max: self.limits.max_part_bytes,
            });
        }
        if split.no_separator && last_of_unclosed {
            return Err(MailError::mime(
                MimeFault::Truncated,
                at,
                "the message ends inside the part's header fields (truncated?)",
            ));
        }
        let index = msg.parts.len();
        msg.parts.push(Part {
            id: id.clone(),
            depth,
            headers,
            content_type: content_type.clone(),
            encoding,
            raw,
            body: split.body,
            children: Vec::new(),
            closed: true,
        });
        if !content_type.is_multipart() {
            return Ok(index);
        }
        if depth + 1 > self.limits.max_depth {
            return Err(MailError::Limit {
                limit: Limit::Depth,
                at,
                what: "the nesting depth of its parts",
                actual: depth + 1,
                max: self.limits.max_depth,
            });
        }
        let boundary = content_type.param("boundary").unwrap_or_default();
        if boundary.is_empty() || boundary.len() > 200 {
            return Err(MailError::mime(
                MimeFault::WrongBoundary,
                at,
                "has no usable boundary parameter (1 to 200 characters)",
            ));
        }
        if split.body.iter().all(u8::is_ascii_whitespace) {
            return Err(MailError::mime(
                MimeFault::Truncated,
                at,
                "the multipart body is empty (truncated?)",
            ));
        }
        let (bodies, closed) =
            split_multipart(split.body, boundary.as_bytes()).ok_or_else(|| {
                MailError::mime(
                    MimeFault::WrongBoundary,
                    at.clone(),
                    format!(
                        "no delimiter line `--{}` in the body: wrong boundary",
                        boundary.chars().take(80).collect::<String>()
                    ),
                )
            })?;
        if !closed {
            msg.warnings.push(format!(
                "{at}: no closing delimiter `--{boundary}--`; its last part runs to the end"
            ));
        }
        let child_default = if content_type.mime == "multipart/digest" {
            ContentType {
                mime: "message/rfc822".into(),
                params: Vec::new(),
            }
        } else {
            ContentType::text_plain()
        };
        let count = bodies.len();
        let mut children = Vec::with_capacity(count.min(self.limits.max_parts));
        for (n, body) in bodies.into_iter().enumerate() {
            let mut child_id = id.clone();
            child_id.0.push(u32::try_from(n + 1).unwrap_or(u32::MAX));
            let split = split_head_body(body);
            let headers = parse_header_block(split.head, self.limits.max_headers)
                .map_err(|c| headers_limit(child_id.to_string(), c, self.limits))?;
            let last = !closed && n + 1 == count;
            children.push(self.add_part(
                msg,
                child_id,
                depth + 1,
                body,
                split,
                headers,
                &child_default,
                last,
            )?);
        }
        if let Some(p) = msg.parts.get_mut(index) {
            p.children = children;
            p.closed = closed;
        }
        Ok(index)
    }
}

fn headers_limit(at: String, actual: usize, limits: &Limits) -> MailError {
    MailError::Limit {
        limit: Limit::Headers,
        at,
        what: "the number of header fields",
        actual,
        max: limits.max_headers,
    }
}

/// A header block and the body after it.
#[derive(Debug, Clone, Copy)]
pub struct Split<'a> {
    /// The header fields' lines.
    pub head: &'a [u8],
    /// What follows the empty line.
    pub body: &'a [u8],
    /// Header lines ran to the end with no empty line after them.
    pub no_separator: bool,
}

/// Splits at the first empty line. Without one, the whole text is header fields if its first
/// line looks like one (`Name: value`), else all body.
pub fn split_head_body(raw: &[u8]) -> Split<'_> {
    let mut pos = 0;
    for line in lines(raw) {
        let content = trim_eol(line);
        if content.is_empty() {
            let (head, rest) = raw.split_at(pos.min(raw.len()));
            return Split {
                head,
                body: rest.get(line.len()..).unwrap_or_default(),
                no_separator: false,
            };
        }
        pos += line.len();
    }
    let first = lines(raw).next().map(trim_eol).unwrap_or_default();
    if looks_like_header(first) {
        Split {
            head: raw,
            body: &[],
            no_separator: true,
        }
    } else {
        Split {
            head: &[],
            body: raw,
            no_separator: false,
        }
    }
}

fn looks_like_header(line: &[u8]) -> bool {
    match line.iter().position(|b| *b == b':') {
        Some(i) if i > 0 => line
            .get(..i)
            .is_some_and(|n| n.iter().all(|b| b.is_ascii_graphic() && *b != b':')),
        _ => false,
    }
}

/// Reads header fields (unfolding continuation lines); lines without a colon are skipped. More
/// than `max` fields is an error carrying the count reached.
pub fn parse_header_block(head: &[u8], max: usize) -> Result<Headers, usize> {
    let mut out: Vec<Header> = Vec::new();
    for line in lines(head) {
        let line = trim_eol(line);
        if line.is_empty() {
            break;
        }
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            if let Some(last) = out.last_mut() {
                let more = String::from_utf8_lossy(line);
                last.value.push(' ');
                last.value.push_str(more.trim());
            }
            continue;
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = line.split_at(colon);
        let name = String::from_utf8_lossy(name).trim().to_string();
        if name.is_empty() || name.contains(' ') {
            continue;
        }
        if out.len() >= max {
            return Err(out.len() + 1);
        }
        out.push(Header {
            name,
            value: String::from_utf8_lossy(value.get(1..).unwrap_or_default())
                .trim()
                .to_string(),
        });
    }
    for h in &mut out {
        let t = h.value.trim();
        if t.len() != h.value.len() {
            h.value = t.to_string();
        }
    }
    Ok(Headers(out))
}

/// Lines with their line ends.
fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split_inclusive(|b| *b == b'\n')
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The bodies between delimiter lines of `boundary`, and whether the closing delimiter came.
/// `None` when no delimiter line occurs.
fn split_multipart<'a>(body: &'a [u8], boundary: &[u8]) -> Option<(Vec<&'a [u8]>, bool)> {
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut pos = 0usize;
    let mut seen = false;
    for line in lines(body) {
        let content = trim_eol(line);
        let kind = content
            .strip_prefix(b"--")
            .and_then(|r| r.strip_prefix(boundary))
            .and_then(|rest| {
                if let Some(after) = rest.strip_prefix(b"--") {
                    after.iter().all(u8::is_ascii_whitespace).then_some(true)
                } else {
                    rest.iter().all(u8::is_ascii_whitespace).then_some(false)
                }
            });
        if let Some(close) = kind {
            seen = true;
            if let Some(s) = start {
                // The line end before a delimiter belongs to the delimiter.
                let end = pos.max(s);
                let chunk = body.get(s..end).unwrap_or_default();
                let chunk = chunk.strip_suffix(b"\n").unwrap_or(chunk);
                parts.push(chunk.strip_suffix(b"\r").unwrap_or(chunk));
            }
            if close {
                return Some((parts, true));
            }
            start = Some(pos + line.len());
        }
        pos += line.len();
    }
    if !seen {
        return None;
    }
    if let Some(s) = start {
        parts.push(body.get(s..).unwrap_or_default());
    }
    Some((parts, false))
}

/// Parses a `Content-Type` (or `Content-Disposition`) value.
pub fn parse_content_type(value: &str) -> ContentType {
    let mut pieces = split_params(value).into_iter();
    let mime = pieces
        .next()
        .map(|m| strip_comments(&m).trim().to_ascii_lowercase())
        .unwrap_or_default();
    // (name, section, extended, value)
    let mut raw: Vec<(String, Option<u32>, bool, String)> = Vec::new();
    for p in pieces {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        let mut k = k.trim().to_ascii_lowercase();
        let v = unquote(v.trim());
        let extended = k.ends_with('*');
        if extended {
            k.pop();
        }
        let (name, section) = match k.rsplit_once('*') {
            Some((n, s)) if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() => {
                (n.to_string(), s.parse().ok())
            }
            _ => (k, None),
        };
        if raw.len() < 64 {
            raw.push((name, section, extended, v));
        }
    }
    let mut params: Vec<(String, String)> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (n, ..) in &raw {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    for name in names {
        let mut segs: Vec<&(String, Option<u32>, bool, String)> =
            raw.iter().filter(|r| r.0 == name).collect();
        segs.sort_by_key(|r| r.1.unwrap_or(0));
        let mut charset: Option<String> = None;
        let mut bytes: Vec<u8> = Vec::new();
        for (i, (_, _, ext, v)) in segs.iter().enumerate() {
            if *ext {
                let mut text = v.as_str();
                if i == 0 {
                    let mut it = v.splitn(3, '\'');
                    if let (Some(cs), Some(_lang), Some(rest)) = (it.next(), it.next(), it.next()) {
                        charset = Some(cs.to_string());
                        text = rest;
                    }
                }
                bytes.extend(percent_decode(text));
            } else {
                bytes.extend_from_slice(v.as_bytes());
            }
        }
        params.push((name, decode_charset(charset.as_deref(), &bytes)));
    }
    ContentType { mime, params }
}

fn split_params(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => {
                cur.push(c);
                escaped = true;
            }
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ';' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn unquote(v: &str) -> String {
    let v = strip_comments(v);
    let v = v.trim();
    if let Some(inner) = v.strip_prefix('"') {
        let inner = inner.strip_suffix('"').unwrap_or(inner);
        let mut out = String::with_capacity(inner.len());
        let mut esc = false;
        for c in inner.chars() {
            if esc {
                out.push(c);
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else {
                out.push(c);
            }
        }
        out
    } else {
        v.to_string()
    }
}

/// Removes `(comments)` outside quoted strings (RFC 5322 CFWS), not nested deeper than needed.
pub fn strip_comments(v: &str) -> Cow<'_, str> {
    if !v.contains('(') {
        return Cow::Borrowed(v);
    }
    let mut out = String::with_capacity(v.len());
    let mut depth = 0usize;
    let mut quoted = false;
    for c in v.chars() {
        match c {
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    Cow::Owned(out)
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|x| hex_val(*x)),
                b.get(i + 2).and_then(|x| hex_val(*x)),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Bytes in a charset (by its label) as text; UTF-8, lossily, when none or unknown.
pub fn decode_charset(charset: Option<&str>, bytes: &[u8]) -> String {
    let enc = charset
        .map(|c| c.trim().trim_matches('"'))
        .and_then(|c| encoding_rs::Encoding::for_label(c.as_bytes()));
    match enc {
        // WHATWG maps us-ascii to windows-1252; ASCII is the same in UTF-8, and 8-bit bytes in
        // a part labelled ASCII are UTF-8 far more often than cp1252 today.
        Some(e) if e != encoding_rs::UTF_8 && e != encoding_rs::WINDOWS_1252 => {
            e.decode_without_bom_handling(bytes).0.into_owned()
        }
        Some(e) if e == encoding_rs::WINDOWS_1252 && std::str::from_utf8(bytes).is_err() => {
            e.decode_without_bom_handling(bytes).0.into_owned()
        }
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Decodes Base64 as MIME writes it: line breaks and spaces ignored, padding optional; any other
/// character, or a body cut inside a quantum, is an error.
pub fn decode_base64(body: &[u8]) -> Result<Vec<u8>, (MimeFault, String)> {
    let mut clean: Vec<u8> = Vec::with_capacity(body.len());
    for (i, &c) in body.iter().enumerate() {
        match c {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' | b'=' => clean.push(c),
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ => {
                return Err((
                    MimeFault::BadEncoding,
                    format!("byte {i} (0x{c:02x}) is not Base64"),
                ));
            }
        }
    }
    while clean.last() == Some(&b'=') {
        clean.pop();
    }
    if clean.contains(&b'=') {
        return Err((MimeFault::BadEncoding, "`=` inside the Base64 text".into()));
    }
    if clean.len() % 4 == 1 {
        return Err((
            MimeFault::Truncated,
            "the Base64 text ends inside a quantum (truncated?)".into(),
        ));
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    engine
        .decode(&clean)
        .map_err(|e| (MimeFault::BadEncoding, format!("invalid Base64: {e}")))
}

/// Decodes quoted-printable (RFC 2045 §6.7): soft line breaks joined, `=XX` decoded, a stray `=`
/// kept as it is, trailing white space of lines dropped.
pub fn decode_qp(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    for line in lines(body) {
        let has_eol = line.ends_with(b"\n");
        let content = trim_eol(line);
        let end = content
            .iter()
            .rposition(|b| *b != b' ' && *b != b'\t')
            .map_or(0, |i| i + 1);
        let content = content.get(..end).unwrap_or_default();
        let (content, soft) = match content.strip_suffix(b"=") {
            Some(c) => (c, true),
            None => (content, false),
        };
        let mut i = 0;
        while let Some(&c) = content.get(i) {
            if c == b'='
                && let (Some(h), Some(l)) = (
                    content.get(i + 1).and_then(|x| hex_val(*x)),
                    content.get(i + 2).and_then(|x| hex_val(*x)),
                )
            {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
            out.push(c);
            i += 1;
        }
        if has_eol && !soft {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// Decodes RFC 2047 encoded words (`=?utf-8?B?...?=`, `=?iso-2022-jp?Q?...?=`) in a header
/// value; white space between two encoded words is dropped; a malformed word stays as it is.
pub fn decode_words(value: &str) -> String {
    if !value.contains("=?") {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    let mut pending_ws = String::new();
    let mut last_was_word = false;
    while !rest.is_empty() {
        if let Some((text, after)) = rest.strip_prefix("=?").and_then(encoded_word) {
            if !last_was_word {
                out.push_str(&pending_ws);
            }
            pending_ws.clear();
            out.push_str(&text);
            rest = after;
            last_was_word = true;
            continue;
        }
        let Some(c) = rest.chars().next() else {
            break;
        };
        if c == ' ' || c == '\t' {
            pending_ws.push(c);
        } else {
            out.push_str(&pending_ws);
            pending_ws.clear();
            out.push(c);
            last_was_word = false;
        }
        rest = rest.get(c.len_utf8()..).unwrap_or_default();
    }
    out.push_str(&pending_ws);
    out
}

/// The longest encoded word looked for. RFC 2047 allows 75 characters; some senders write
/// longer ones. The bound keeps a header full of `=?` linear to scan.
const MAX_WORD: usize = 1024;

/// `charset?E?text?=` after the `=?`: the decoded text and what follows.
fn encoded_word(s: &str) -> Option<(String, &str)> {
    let mut end = s.len().min(MAX_WORD);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let window = s.get(..end)?;
    let (charset, w) = window.split_once('?')?;
    let (enc, w) = w.split_once('?')?;
    let (text, _) = w.split_once("?=")?;
    let consumed = charset.len() + enc.len() + text.len() + 4;
    let after = s.get(consumed..)?;
    if charset.is_empty() || charset.len() > 40 || text.contains(' ') {
        return None;
    }
    let charset = charset.split('*').next().unwrap_or(charset);
    let bytes = match enc {
        "B" | "b" => decode_base64(text.as_bytes()).ok()?,
        "Q" | "q" => {
            let b = text.as_bytes();
            let mut out = Vec::with_capacity(b.len());
            let mut i = 0;
            while let Some(&c) = b.get(i) {
                match c {
                    b'_' => out.push(b' '),
                    b'=' => {
                        let h = b.get(i + 1).and_then(|x| hex_val(*x))?;
                        let l = b.get(i + 2).and_then(|x| hex_val(*x))?;
                        out.push(h << 4 | l);
                        i += 2;
                    }
                    _ => out.push(c),
                }
                i += 1;
            }
            out
        }
        _ => return None,
    };
    Some((decode_charset(Some(charset), &bytes), after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_words_are_decoded_and_joined() {
        assert_eq!(
            decode_words("=?utf-8?B?5Li+5oql?= =?UTF-8?Q?_report?= for you"),
            "举报 report for you"
        );
        assert_eq!(decode_words("=?iso-8859-1?q?caf=E9?="), "café");
        assert_eq!(decode_words("plain =?bogus"), "plain =?bogus");
    }

    /// A header full of `=?` that never close is scanned in linear time (each attempt looks at
    /// most `MAX_WORD` bytes ahead), not to the end from each of them.
    #[test]
    fn a_header_of_unclosed_encoded_words_is_scanned_in_linear_time() {
        let v = "=?".repeat(200_000);
        assert_eq!(decode_words(&v).len(), v.len());
    }

    #[test]
    fn quoted_printable_and_base64() {
        assert_eq!(decode_qp(b"a=3Db=\r\nc \r\nd"), b"a=bc\r\nd");
        assert_eq!(decode_base64(b"aGVs\r\nbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64(b"aGVsb").unwrap_err().0, MimeFault::Truncated);
        assert_eq!(
            decode_base64(b"aGV*").unwrap_err().0,
            MimeFault::BadEncoding
        );
    }

    #[test]
    fn parameters_quoted_and_rfc2231() {
        let c = parse_content_type(
            "Multipart/Report; report-type=\"feedback-report\"; boundary=\"a;b\" (c)",
        );
        assert_eq!(c.mime, "multipart/report");
        assert_eq!(c.param("boundary"), Some("a;b"));
        assert_eq!(c.param("report-type"), Some("feedback-report"));
        let d = parse_content_type(
            "attachment; filename*0*=utf-8''%E4%B8%BE; filename*1=\"-report.json\"",
        );
        assert_eq!(d.param("filename"), Some("举-report.json"));
    }
}
