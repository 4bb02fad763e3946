//! Free text fields: when a text counts as blank.
//!
//! The API document says a required text has "a non-space character" (JSON Schema
//! `pattern: "\S"`). JSON Schema patterns are ECMA-262 regular expressions, and there `\s` is
//! the white space and line terminators of ECMA-262: Unicode's space separators (Zs), tab,
//! vertical tab, form feed, line feed, carriage return, U+2028, U+2029 and U+FEFF. That is what
//! clients' validators and generators implement, so it is what the server calls blank — not
//! Rust's [`char::is_whitespace`], which adds U+0085 and lacks U+FEFF. A text the document
//! accepts is never refused as blank, and one it refuses never passes.

/// Whether `c` is in ECMA-262's `\s`.
pub fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// Whether `text` has no character but spaces ([`is_space`]); the empty text is blank.
pub fn is_blank(text: &str) -> bool {
    text.chars().all(is_space)
}

/// `text` without leading and trailing spaces ([`is_space`]).
pub fn trim(text: &str) -> &str {
    text.trim_matches(is_space)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_is_what_the_documents_pattern_calls_blank() {
        for blank in [
            "",
            " ",
            "\t",
            "\n",
            "\r",
            "\u{b}",
            "\u{c}",
            "\u{a0}",
            "\u{1680}",
            "\u{2000}",
            "\u{200a}",
            "\u{2028}",
            "\u{2029}",
            "\u{202f}",
            "\u{205f}",
            "\u{3000}",
            "\u{feff}",
            " \u{c}\u{3000} ",
        ] {
            assert!(is_blank(blank), "{blank:?}");
        }
        // ECMA-262's `\S` matches these, so the document accepts them.
        for text in [
            "a", " a ", "\u{c}x", "中", "\u{200b}", "\u{85}", "\u{1c}", "\u{1f}",
        ] {
            assert!(!is_blank(text), "{text:?}");
        }
        assert_eq!(trim("\u{feff} why \u{3000}"), "why");
        // Every Unicode space separator is a space.
        for c in ['\u{2000}', '\u{2005}', '\u{2009}', '\u{202f}'] {
            assert!(is_space(c) && c.is_whitespace(), "{c:?}");
        }
    }
}
