//! What a page says (DET-2): decode its charset (UTF-8, GBK/GB18030, Big5... via `encoding_rs`)
//! and extract the visible text of HTML — scripts and styles dropped; `title`, `alt` and the meta
//! description kept — so that the scanner reads what a visitor reads.

use encoding_rs::Encoding;

/// Most characters of visible text kept from one page.
pub const MAX_TEXT_CHARS: usize = 4 * 1024 * 1024;

/// Decodes `body`: the charset from the `Content-Type` header, else a BOM, else a `<meta>` tag in
/// the first 2 KiB, else UTF-8. Returns the text and the charset's name.
pub fn decode(body: &[u8], content_type: Option<&str>) -> (String, &'static str) {
    let from_header = content_type
        .and_then(charset_param)
        .and_then(|l| Encoding::for_label(l.as_bytes()));
    let enc = from_header
        .or_else(|| Encoding::for_bom(body).map(|(e, _)| e))
        .or_else(|| meta_charset(body.get(..2048).unwrap_or(body)))
        .unwrap_or(encoding_rs::UTF_8);
    let (text, used, _) = enc.decode(body);
    (text.into_owned(), used.name())
}

fn charset_param(ct: &str) -> Option<String> {
    ct.split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
}

fn meta_charset(head: &[u8]) -> Option<&'static Encoding> {
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
    let text = String::from_utf8_lossy(&lower);
    let at = text.find("charset=")?;
    let rest = text.get(at + 8..)?.trim_start_matches(['"', '\'']);
    let label: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    Encoding::for_label(label.as_bytes())
}

/// Whether a content type (or, without one, the text) looks like HTML.
pub fn is_html(content_type: Option<&str>, text: &str) -> bool {
    match content_type {
        Some(ct) => ct.to_ascii_lowercase().contains("html"),
        None => text.trim_start().get(..1) == Some("<"),
    }
}

/// The visible text of an HTML document (plus `title`, `alt` and meta description).
pub fn visible_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len().min(MAX_TEXT_CHARS) / 2);
    let mut rest = html;
    let mut skip_until: Option<&'static str> = None;
    while !rest.is_empty() && out.len() < MAX_TEXT_CHARS {
        match rest.find('<') {
            None => {
                if skip_until.is_none() {
                    push_text(&mut out, rest);
                }
                break;
            }
            Some(i) => {
                if skip_until.is_none() {
                    push_text(&mut out, rest.get(..i).unwrap_or_default());
                }
                rest = rest.get(i..).unwrap_or_default();
                if rest.starts_with("<!--") {
                    rest = rest
                        .find("-->")
                        .and_then(|e| rest.get(e + 3..))
                        .unwrap_or_default();
                    continue;
                }
                let end = tag_end(rest);
                let tag = rest.get(1..end).unwrap_or_default();
                rest = rest.get(end + 1..).unwrap_or_default();
                let name: String = tag
                    .trim_start_matches('/')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect::<String>()
                    .to_ascii_lowercase();
                let closing = tag.starts_with('/');
                if let Some(until) = skip_until {
                    if closing && name == until {
                        skip_until = None;
                    }
                    continue;
                }
                match (name.as_str(), closing) {
                    ("script", false) => skip_until = Some("script"),
                    ("style", false) => skip_until = Some("style"),
                    ("template", false) => skip_until = Some("template"),
                    ("img" | "input" | "area", false) => {
                        if let Some(alt) = attr(tag, "alt") {
                            push_text(&mut out, &alt);
                        }
                    }
                    ("meta", false) => {
                        let name_attr = attr(tag, "name")
                            .or_else(|| attr(tag, "property"))
                            .unwrap_or_default()
                            .to_ascii_lowercase();
                        let shown = name_attr.ends_with("description")
                            || name_attr == "keywords"
                            || name_attr.ends_with("title");
                        if shown && let Some(c) = attr(tag, "content") {
                            push_text(&mut out, &c);
                        }
                    }
                    _ => {}
                }
                // Block-level boundaries separate words.
                if !out.ends_with(' ')
                    && matches!(
                        name.as_str(),
                        "p" | "div"
                            | "br"
                            | "li"
                            | "td"
                            | "th"
                            | "tr"
                            | "h1"
                            | "h2"
                            | "h3"
                            | "h4"
                            | "h5"
                            | "h6"
                            | "title"
                            | "section"
                            | "article"
                            | "header"
                            | "footer"
                    )
                {
                    out.push(' ');
                }
            }
        }
    }
    out
}

/// The index of the `>` closing a tag that starts at 0, honouring quoted attribute values.
fn tag_end(s: &str) -> usize {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return i,
            _ => {}
        }
    }
    s.len()
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower.get(from..)?.find(name) {
        let at = from + pos;
        let before_ok = at == 0
            || lower
                .get(at - 1..at)
                .is_some_and(|b| b == " " || b == "\t" || b == "\n");
        let after = lower.get(at + name.len()..)?.trim_start();
        if before_ok && after.starts_with('=') {
            let value_start = tag.len() - after.len() + 1;
            let v = tag.get(value_start..)?.trim_start();
            let value = match v.chars().next() {
                Some(q @ ('"' | '\'')) => v.get(1..)?.split(q).next().unwrap_or_default(),
                _ => v
                    .split(|c: char| c.is_whitespace() || c == '>')
                    .next()
                    .unwrap_or_default(),
            };
            return Some(entities(value));
        }
        from = at + name.len();
    }
    None
}

fn push_text(out: &mut String, raw: &str) {
    let t = entities(raw);
    let t = t.trim();
    if t.is_empty() {
        return;
    }
    if !out.is_empty() && !out.ends_with(' ') {
        out.push(' ');
    }
    out.push_str(t);
}

/// Decodes the common character references.
pub fn entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(rest.get(..i).unwrap_or_default());
        rest = rest.get(i..).unwrap_or_default();
        let end = rest.find(';').filter(|e| *e <= 10);
        let decoded = end.and_then(|e| {
            let name = rest.get(1..e)?;
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some(' '),
                n if n.starts_with("#x") || n.starts_with("#X") => {
                    u32::from_str_radix(n.get(2..)?, 16)
                        .ok()
                        .and_then(char::from_u32)
                }
                n if n.starts_with('#') => n.get(1..)?.parse::<u32>().ok().and_then(char::from_u32),
                _ => None,
            }?;
            Some((c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = rest.get(e + 1..).unwrap_or_default();
            }
            None => {
                out.push('&');
                rest = rest.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DET-2: GBK and Big5 pages decode, by header or by meta tag.
    #[test]
    fn decodes_gbk_and_big5() {
        let (gbk, _, _) = encoding_rs::GBK.encode("<html><body>网上赌场</body></html>");
        let (t, cs) = decode(&gbk, Some("text/html; charset=GBK"));
        assert!(t.contains("网上赌场"), "{t}");
        assert_eq!(cs, "GBK");
        let (big5, _, _) = encoding_rs::BIG5
            .encode("<html><head><meta charset=\"big5\"></head><body>線上賭場</body></html>");
        let (t, cs) = decode(&big5, Some("text/html"));
        assert!(t.contains("線上賭場"), "{t}");
        assert_eq!(cs, "Big5");
        assert_eq!(decode("plain".as_bytes(), None).1, "UTF-8");
    }

    #[test]
    fn keeps_what_a_visitor_reads() {
        let html = r#"<html><head><title>Best &amp; Co</title><meta name="description" content="online casino"><style>.x{}</style><script>var casino=1</script></head>
<body><p>Hello<br>world</p><img src=x alt='赌场 banner'><!-- hidden casino --><template>nope</template>&#36215;</body></html>"#;
        let t = visible_text(html);
        assert!(
            t.contains("Best & Co")
                && t.contains("online casino")
                && t.contains("赌场 banner")
                && t.contains("起"),
            "{t}"
        );
        assert!(t.contains("Hello world"), "{t}");
        assert!(
            !t.contains("var casino")
                && !t.contains(".x{}")
                && !t.contains("hidden")
                && !t.contains("nope"),
            "{t}"
        );
    }
}
