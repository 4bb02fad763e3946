//! Warden's two languages (UI-2, NOT-1). Every word a console page or a notice shows is in one
//! catalogue per language (`i18n/en.txt`, `i18n/zh-CN.txt`: `key = text` lines), compiled into
//! the binary. The console and the notice templates share it, so a tenant reads the same words
//! for the same thing in the inbox, in a mail and on a page. A key missing from a catalogue
//! renders as `⟦key⟧`; the console's tests (in `warden-http`) and the notice templates' tests
//! fail on any key that a template or handler uses and either catalogue lacks, so no English
//! appears on a zh-CN page or in a zh-CN notice.

use std::collections::HashMap;
use std::sync::OnceLock;

/// A console language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// 简体中文.
    Zh,
    /// English.
    En,
}

impl Lang {
    /// The BCP 47 tag (`lang` attribute, cookie).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// From a tag or cookie value.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let t = tag.trim().to_ascii_lowercase();
        if t == "zh" || t.starts_with("zh-") || t.starts_with("zh_") {
            Some(Lang::Zh)
        } else if t == "en" || t.starts_with("en-") || t.starts_with("en_") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The best language of an `Accept-Language` header (by q-value, then order); English
    /// when it names neither.
    pub fn from_accept(header: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',').take(20) {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or_default();
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(l) = Lang::from_tag(tag)
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, l));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }

    /// This language's catalogue.
    pub fn catalog(self) -> &'static Catalog {
        static EN: OnceLock<Catalog> = OnceLock::new();
        static ZH: OnceLock<Catalog> = OnceLock::new();
        match self {
            Lang::En => EN.get_or_init(|| Catalog::parse(EN_TEXT)),
            Lang::Zh => ZH.get_or_init(|| Catalog::parse(ZH_TEXT)),
        }
    }
}

/// The English catalogue's source.
pub const EN_TEXT: &str = include_str!("i18n/en.txt");
/// The zh-CN catalogue's source.
pub const ZH_TEXT: &str = include_str!("i18n/zh-CN.txt");

/// One language's strings by key.
#[derive(Debug)]
pub struct Catalog {
    map: HashMap<String, String>,
}

impl Catalog {
    /// Parses `key = text` lines; `#` starts a comment line; `\n` in a text is a line break.
    pub fn parse(src: &str) -> Catalog {
        let map = src
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once(" = "))
            .map(|(k, v)| (k.trim().to_string(), v.trim().replace("\\n", "\n")))
            .collect();
        Catalog { map }
    }

    /// Every key.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    /// The text of `key`, or `⟦key⟧` when the catalogue lacks it.
    pub fn get(&self, key: &str) -> String {
        self.map
            .get(key)
            .cloned()
            .unwrap_or_else(|| format!("⟦{key}⟧"))
    }

    /// Whether the catalogue has `key`.
    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// The text of `key` with `{name}` placeholders filled. One pass over the text: a value
    /// that itself contains `{other}` (a tenant's resource name, say) is shown as it is, never
    /// filled in turn. A placeholder without an argument stays as written.
    pub fn fmt(&self, key: &str, args: &[(&str, &str)]) -> String {
        fill(&self.get(key), args)
    }
}

/// `text` with each `{name}` that `args` names replaced by its value, in one pass.
fn fill(text: &str, args: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let (before, from) = rest.split_at(open);
        out.push_str(before);
        let value = from.find('}').and_then(|close| {
            let name = from.get(1..close)?;
            let (_, v) = args.iter().find(|(k, _)| *k == name)?;
            Some((*v, close))
        });
        match value {
            Some((v, close)) => {
                out.push_str(v);
                rest = from.get(close + 1..).unwrap_or_default();
            }
            None => {
                out.push('{');
                rest = from.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported_tag() {
        assert_eq!(Lang::from_accept("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(Lang::from_accept("en-US,en;q=0.9"), Lang::En);
        assert_eq!(Lang::from_accept("fr-FR,zh;q=0.5,en;q=0.7"), Lang::En);
        assert_eq!(Lang::from_accept("de"), Lang::En);
        assert_eq!(Lang::from_accept(""), Lang::En);
    }

    #[test]
    fn fmt_fills_each_placeholder_once() {
        assert_eq!(fill("{a} and {b}", &[("a", "x"), ("b", "y")]), "x and y");
        // A value is never filled in turn, an unknown placeholder stays.
        assert_eq!(fill("{a} {b}", &[("a", "{b}"), ("b", "y")]), "{b} y");
        assert_eq!(fill("{c} {", &[("a", "x")]), "{c} {");
        assert_eq!(fill("《法》{a}}", &[("a", "中")]), "《法》中}");
    }
}
