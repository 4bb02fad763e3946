//! Normalisation that defeats common evasion (DET-1), char by char so that every normalised char
//! still knows where it came from in the page.

use std::ops::Range;
use std::sync::OnceLock;

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// A run of more than this many visible filler characters (spaces, punctuation, symbols, emoji) is
/// not "filler inserted into a word" but a real gap; it becomes one word boundary (`' '`) so that
/// the characters on both sides cannot join into a term. Invisible characters (zero-width, joiners,
/// variation selectors, combining marks) do not count towards it.
pub const MAX_FILLER_RUN: usize = 8;

/// Text after [`normalise`], with the way back to the original.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Normalised {
    /// The normalised text: lowercase letters and digits (Latin, CJK, ...), simplified Chinese,
    /// and `' '` where a long run of filler separated two words.
    pub text: String,
    /// For every char of `text` (in order), the byte offset in the original text where the
    /// original char it came from starts. One original char may yield several normalised chars
    /// (`ﬁ` → `f`, `i`); they share the offset.
    pub map: Vec<usize>,
}

impl Normalised {
    /// The byte range in `original` (the text given to [`normalise`]) that the normalised chars
    /// `chars` (indices into `text`'s chars, end exclusive) came from: from the start of the first
    /// one's original char to the end of the last one's. Filler between them is included, which is
    /// the point: the slice shows what the page really said (`赌 . 场`). `None` for an empty or
    /// out-of-range `chars` or a foreign `original`.
    pub fn original_range(&self, original: &str, chars: Range<usize>) -> Option<Range<usize>> {
        let last = chars.end.checked_sub(1)?;
        if chars.start > last {
            return None;
        }
        let start = *self.map.get(chars.start)?;
        let last_start = *self.map.get(last)?;
        let end = last_start + original.get(last_start..)?.chars().next()?.len_utf8();
        Some(start..end)
    }
}

/// Normalises `text` for matching (DET-1), in one pass, linear in its length:
///
/// 1. compatibility decomposition per char (the "K" of NFKC: full-width → half-width, `ﬁ` → `fi`,
///    `①` → `1`, math alphanumerics → plain letters), with combining marks dropped instead of
///    recomposed, so `cásino` and `casino` match;
/// 2. traditional → simplified Chinese, char by char (`賭場` → `赌场`);
/// 3. lowercase;
/// 4. Latin homoglyph folding: Cyrillic and Greek letters that look like Latin ones (`сasino`);
///    digits standing for letters (`0` for `o`) are not folded;
/// 5. filler removal: everything that is not a letter or a digit is dropped — whitespace,
///    punctuation (ASCII and CJK), symbols, emoji, zero-width characters, variation selectors.
///    A run of more than [`MAX_FILLER_RUN`] visible filler chars leaves one `' '` boundary.
///
/// Per char rather than whole-string NFKC so that the map back to the original stays exact.
pub fn normalise(text: &str) -> Normalised {
    let mut out = Normalised {
        text: String::with_capacity(text.len()),
        map: Vec::with_capacity(text.len()),
    };
    normalise_with(text, &mut out);
    // A boundary at the very end separates nothing.
    if out.text.ends_with(' ') {
        out.text.pop();
        out.map.pop();
    }
    out
}

/// Normalises a lexicon term exactly like page text, without the map.
pub fn normalise_term(term: &str) -> String {
    normalise(term).text.replace(' ', "")
}

/// Where [`normalise_with`] sends the normalised chars.
pub(crate) trait Sink {
    /// One normalised char and the byte offset of the original char it came from.
    fn emit(&mut self, c: char, offset: usize);
}

impl Sink for Normalised {
    #[inline(always)]
    fn emit(&mut self, c: char, offset: usize) {
        self.text.push(c);
        self.map.push(offset);
    }
}

/// The core of [`normalise`]: calls `emit(char, offset)` for every normalised char in order,
/// including the `' '` boundaries (also a trailing one, which [`normalise`] drops). The scanner
/// feeds its automaton from here directly, so both see exactly the same normalised text.
#[inline(always)]
pub(crate) fn normalise_with(text: &str, sink: &mut impl Sink) {
    let table = t2s_table();
    let mut filler_run = 0usize;
    let mut gap_at: Option<usize> = None;
    let mut emitted = false;
    for (offset, c) in text.char_indices() {
        // Fast paths: ASCII and the CJK unified block (their compatibility decomposition is the
        // identity), which are nearly all of the text we see.
        let produced = if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                sink.emit(c.to_ascii_lowercase(), offset);
                true
            } else {
                // Every other ASCII char is visible filler.
                filler_run += 1;
                gap_at.get_or_insert(offset);
                false
            }
        } else if is_cjk_unified(c) {
            sink.emit(t2s_in(table, c), offset);
            true
        } else {
            let any = decompose(c, offset, sink);
            if !any && is_visible_filler(c) {
                filler_run += 1;
                gap_at.get_or_insert(offset);
            }
            any
        };
        if produced {
            filler_run = 0;
            gap_at = None;
            emitted = true;
        } else if filler_run == MAX_FILLER_RUN + 1
            && let Some(at) = gap_at
            && emitted
        {
            sink.emit(' ', at);
        }
    }
}

/// The slow path for one char outside ASCII and the CJK unified block; whether it produced any.
#[inline(never)]
fn decompose(c: char, offset: usize, sink: &mut impl Sink) -> bool {
    let mut any = false;
    decompose_compatible(c, |d| {
        fold(d, &mut |x| {
            any = true;
            sink.emit(x, offset);
        });
    });
    any
}

/// One char of a compatibility decomposition: drop marks and filler, fold the rest.
#[inline]
fn fold(d: char, emit: &mut impl FnMut(char)) {
    if is_combining_mark(d) {
        return;
    }
    if d.is_ascii() {
        if d.is_ascii_alphanumeric() {
            emit(d.to_ascii_lowercase());
        }
        return;
    }
    if is_cjk_unified(d) {
        emit(t2s(d));
        return;
    }
    for l in d.to_lowercase() {
        if is_combining_mark(l) {
            continue;
        }
        let l = homoglyph(l);
        if l.is_alphanumeric() {
            emit(l);
        }
    }
}

#[inline(always)]
fn is_cjk_unified(c: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&c)
}

/// Filler that a reader sees; invisible format characters and marks do not lengthen a gap.
fn is_visible_filler(c: char) -> bool {
    !(is_combining_mark(c)
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}' | '\u{E0020}'..='\u{E007F}'))
}

/// Lowercase Cyrillic, Greek and Armenian letters (and a few Latin variants) that readers take for
/// Latin letters. Uppercase look-alikes arrive here already lowercased.
fn homoglyph(c: char) -> char {
    match c {
        // Cyrillic
        'а' => 'a',
        'в' => 'b',
        'е' | 'ё' | 'є' => 'e',
        'к' => 'k',
        'м' => 'm',
        'н' | 'һ' => 'h',
        'о' => 'o',
        'р' => 'p',
        'с' => 'c',
        'т' => 't',
        'у' | 'ү' => 'y',
        'х' => 'x',
        'ѕ' => 's',
        'і' | 'ї' => 'i',
        'ј' => 'j',
        'ԁ' => 'd',
        'ԛ' => 'q',
        'ԝ' => 'w',
        'ѵ' => 'v',
        // Greek
        'α' => 'a',
        'β' => 'b',
        'ε' => 'e',
        'η' => 'n',
        'ι' => 'i',
        'κ' => 'k',
        'ν' => 'v',
        'ο' => 'o',
        'ρ' => 'p',
        'τ' => 't',
        'υ' => 'u',
        'χ' => 'x',
        'γ' => 'y',
        'ω' => 'w',
        // Armenian
        'օ' => 'o',
        'ո' => 'n',
        'ս' => 'u',
        // Latin variants
        'ı' => 'i',
        'ɑ' => 'a',
        'ɡ' => 'g',
        'ȷ' => 'j',
        _ => c,
    }
}

/// Traditional → simplified for one CJK unified ideograph; others are returned unchanged.
pub fn t2s(c: char) -> char {
    t2s_in(t2s_table(), c)
}

#[inline(always)]
fn t2s_in(table: &[u16], c: char) -> char {
    let Some(index) = (c as u32).checked_sub(0x4E00) else {
        return c;
    };
    match table.get(index as usize) {
        Some(&delta) if delta != 0 => char::from_u32(0x4E00 + u32::from(delta) - 1).unwrap_or(c),
        _ => c,
    }
}

/// Dense table over U+4E00..=U+9FFF: 0 = unchanged, else simplified code point − 0x4E00 + 1.
fn t2s_table() -> &'static [u16] {
    static TABLE: OnceLock<Vec<u16>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = vec![0u16; 0x9FFF - 0x4E00 + 1];
        for line in include_str!("t2s.txt")
            .lines()
            .filter(|l| !l.starts_with('#'))
        {
            let mut chars = line.chars();
            while let (Some(t), Some(s)) = (chars.next(), chars.next()) {
                let (Some(ti), Some(si)) = (
                    (t as u32).checked_sub(0x4E00),
                    (s as u32).checked_sub(0x4E00),
                ) else {
                    continue;
                };
                if let (Some(slot), Ok(v)) = (table.get_mut(ti as usize), u16::try_from(si + 1)) {
                    *slot = v;
                }
            }
        }
        table
    })
}
