//! The compiled scanner: one automaton per lexicon version.

use std::collections::HashMap;
use std::ops::Range;

use daachorse::{CharwiseDoubleArrayAhoCorasick, CharwiseDoubleArrayAhoCorasickBuilder, MatchKind};
use serde::{Deserialize, Serialize};

use crate::lexicon::{Lexicon, LexiconError};
use crate::normalise::{normalise, normalise_term};

/// At most this many hits are kept per category in a verdict (the score counts them all).
pub const MAX_HITS_PER_CATEGORY: usize = 64;

/// Pure-Latin terms up to this many chars must stand as a word: the letter before and after the
/// match in the original text must not be a (non-CJK) letter, so `sex` does not fire in `Sussex`.
/// Filler between the letters of the term itself is still allowed (`s.e.x`).
pub const SHORT_LATIN_CHARS: usize = 5;

/// Why a scanner could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The lexicon is invalid; the error names the entry.
    #[error(transparent)]
    Lexicon(#[from] LexiconError),
    /// More distinct normalised terms than the automaton's value type holds.
    #[error("too many distinct terms: {0}")]
    TooManyTerms(usize),
    /// The automaton builder refused the terms (e.g. it ran out of states).
    #[error("automaton: {0}")]
    Automaton(String),
}

/// What the scanner found in one text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The version of the lexicon the scanner was built from.
    pub lexicon_version: u64,
    /// Every occurrence of every term the automaton reported (overlapping), before the word-
    /// boundary and context rules. For benchmarks and diagnostics.
    pub matches: usize,
    /// Categories with at least one counted match, highest score first (ties: by code).
    pub categories: Vec<CategoryScore>,
}

impl Verdict {
    /// The score of one category, 0 if it was not found.
    pub fn score(&self, category: &str) -> f32 {
        self.categories
            .iter()
            .find(|c| c.category == category)
            .map_or(0.0, |c| c.score)
    }
}

/// One category's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryScore {
    /// Taxonomy code.
    pub category: String,
    /// Sum of the weights of the distinct terms of this category that matched (a term that
    /// occurs ten times counts once: a page that repeats one word is not ten times worse).
    pub score: f32,
    /// Where the terms occurred, in text order, at most [`MAX_HITS_PER_CATEGORY`].
    pub hits: Vec<Hit>,
}

/// One occurrence of a term.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    /// The lexicon term as written in the lexicon.
    pub term: String,
    /// What the page really said: `original[start..end]`, filler included (`赌 . 场`).
    pub original: String,
    /// Byte offset in the original text where the match starts.
    pub start: usize,
    /// Byte offset in the original text where the match ends (exclusive).
    pub end: usize,
}

#[derive(Debug)]
struct Pattern {
    /// Length of the normalised term in chars.
    chars: usize,
    /// Must stand as a word (see [`SHORT_LATIN_CHARS`]).
    word: bool,
    /// Entries whose term this is.
    entries: Vec<usize>,
    /// Some entry uses this as its `near` term: its positions are kept during a scan.
    context: bool,
}

#[derive(Debug)]
struct CompiledEntry {
    category: usize,
    term: String,
    weight: f32,
    near: Option<(usize, usize)>,
}

/// A lexicon compiled into one charwise double-array Aho-Corasick automaton (daachorse).
///
/// Build it once per lexicon version and share it (`Arc<Scanner>`); it is immutable, `Send` and
/// `Sync`. Matching is **overlapping**: every occurrence of every term is found, so a short term
/// inside a longer one (`赌场` in `网上赌场`) and a context term inside an entry's match both count,
/// and the result does not depend on how terms happen to overlap. The automaton reports matches in
/// order of their end, which keeps the whole scan a single linear pass.
pub struct Scanner {
    version: u64,
    automaton: CharwiseDoubleArrayAhoCorasick<u32>,
    patterns: Vec<Pattern>,
    pattern_texts: Vec<String>,
    categories: Vec<String>,
    entries: Vec<CompiledEntry>,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("version", &self.version)
            .field("terms", &self.pattern_texts.len())
            .field("entries", &self.entries.len())
            .field("categories", &self.categories)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy)]
struct Occurrence {
    pattern: usize,
    chars: (usize, usize),
}

impl Scanner {
    /// Validates the lexicon, normalises every term as page text is normalised, and builds the
    /// automaton over the distinct normalised terms (entry terms and context terms).
    pub fn build(lexicon: &Lexicon) -> Result<Scanner, BuildError> {
        lexicon.validate()?;
        let mut pattern_ids: HashMap<String, usize> = HashMap::new();
        let mut pattern_texts: Vec<String> = Vec::new();
        let mut patterns: Vec<Pattern> = Vec::new();
        let mut category_ids: HashMap<&str, usize> = HashMap::new();
        let mut categories: Vec<String> = Vec::new();
        let mut entries = Vec::with_capacity(lexicon.entries.len());

        let mut intern =
            |term: &str, patterns: &mut Vec<Pattern>, texts: &mut Vec<String>| -> usize {
                let normalised = normalise_term(term);
                if let Some(&id) = pattern_ids.get(&normalised) {
                    return id;
                }
                let id = texts.len();
                let chars = normalised.chars().count();
                let word = chars <= SHORT_LATIN_CHARS
                    && normalised.bytes().all(|b| b.is_ascii_alphanumeric());
                patterns.push(Pattern {
                    chars,
                    word,
                    entries: Vec::new(),
                    context: false,
                });
                texts.push(normalised.clone());
                pattern_ids.insert(normalised, id);
                id
            };

        for (index, entry) in lexicon.entries.iter().enumerate() {
            let category = *category_ids
                .entry(entry.category.as_str())
                .or_insert_with(|| {
                    categories.push(entry.category.clone());
                    categories.len() - 1
                });
            let pattern = intern(&entry.term, &mut patterns, &mut pattern_texts);
            if let Some(p) = patterns.get_mut(pattern) {
                p.entries.push(index);
            }
            let near = match &entry.near {
                Some(near) => {
                    let id = intern(&near.term, &mut patterns, &mut pattern_texts);
                    if let Some(p) = patterns.get_mut(id) {
                        p.context = true;
                    }
                    Some((id, near.within_chars))
                }
                None => None,
            };
            entries.push(CompiledEntry {
                category,
                term: entry.term.clone(),
                weight: entry.weight,
                near,
            });
        }

        let count = pattern_texts.len();
        let values =
            (0..count).map(|i| u32::try_from(i).map_err(|_| BuildError::TooManyTerms(count)));
        let values: Vec<u32> = values.collect::<Result<_, _>>()?;
        let automaton = CharwiseDoubleArrayAhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build_with_values(pattern_texts.iter().zip(values))
            .map_err(|e| BuildError::Automaton(e.to_string()))?;
        Ok(Scanner {
            version: lexicon.version,
            automaton,
            patterns,
            pattern_texts,
            categories,
            entries,
        })
    }

    /// The lexicon version this scanner was built from.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The distinct normalised terms, in automaton value order (for comparisons and diagnostics).
    pub fn patterns(&self) -> &[String] {
        &self.pattern_texts
    }

    /// Heap bytes held: the automaton plus the term tables.
    pub fn memory_bytes(&self) -> usize {
        let texts: usize = self
            .pattern_texts
            .iter()
            .map(|t| t.capacity() + size_of::<String>())
            .sum();
        let patterns: usize = self
            .patterns
            .iter()
            .map(|p| size_of::<Pattern>() + p.entries.capacity() * size_of::<usize>())
            .sum();
        let entries: usize = self
            .entries
            .iter()
            .map(|e| size_of::<CompiledEntry>() + e.term.capacity())
            .sum();
        let categories: usize = self
            .categories
            .iter()
            .map(|c| c.capacity() + size_of::<String>())
            .sum();
        self.automaton.heap_bytes() + texts + patterns + entries + categories
    }

    /// Normalises `text` (see [`normalise`]) and scans it. Offsets in the hits are byte offsets
    /// in `text`.
    pub fn scan(&self, text: &str) -> Verdict {
        let normalised = normalise(text);
        self.evaluate(text, &normalised.text, |chars, _| {
            normalised.original_range(text, chars.0..chars.1)
        })
    }

    /// Scans `text` as it is, without normalisation; terms still are in their normalised form
    /// (lowercase, no filler). For comparisons with plain matchers and for text that is already
    /// normalised.
    pub fn scan_raw(&self, text: &str) -> Verdict {
        self.evaluate(text, text, |_, bytes| Some(bytes.0..bytes.1))
    }

    /// Counts every (overlapping) occurrence of every term in `text` as it is, with nothing else:
    /// the number a plain Aho-Corasick overlapping search over the same terms reports.
    pub fn count_raw(&self, text: &str) -> usize {
        self.automaton.find_overlapping_iter(text).count()
    }

    fn evaluate(
        &self,
        original: &str,
        haystack: &str,
        locate: impl Fn((usize, usize), (usize, usize)) -> Option<Range<usize>>,
    ) -> Verdict {
        let mut matches = 0usize;
        let mut occurrences: Vec<(Occurrence, Range<usize>)> = Vec::new();
        let mut context: HashMap<usize, Vec<(usize, usize)>> = HashMap::new();
        // Byte → char positions by a cursor: ends come in non-decreasing order.
        let (mut cursor_byte, mut cursor_char) = (0usize, 0usize);
        for m in self.automaton.find_overlapping_iter(haystack) {
            matches += 1;
            let Ok(id) = usize::try_from(m.value()) else {
                continue;
            };
            let Some(pattern) = self.patterns.get(id) else {
                continue;
            };
            if m.end() > cursor_byte {
                cursor_char += haystack
                    .get(cursor_byte..m.end())
                    .map_or(0, |s| s.chars().count());
                cursor_byte = m.end();
            }
            let chars = (cursor_char.saturating_sub(pattern.chars), cursor_char);
            let Some(range) = locate(chars, (m.start(), m.end())) else {
                continue;
            };
            if pattern.word && !stands_alone(original, &range) {
                continue;
            }
            if pattern.context {
                context.entry(id).or_default().push(chars);
            }
            if !pattern.entries.is_empty() {
                occurrences.push((Occurrence { pattern: id, chars }, range));
            }
        }

        // (category, pattern) → weight: distinct terms count once, with their largest weight.
        let mut counted: HashMap<(usize, usize), f32> = HashMap::new();
        let mut hits: Vec<Vec<Hit>> = vec![Vec::new(); self.categories.len()];
        for (occurrence, range) in &occurrences {
            let Some(pattern) = self.patterns.get(occurrence.pattern) else {
                continue;
            };
            let mut hit_categories: Vec<usize> = Vec::new();
            for entry in pattern.entries.iter().filter_map(|&e| self.entries.get(e)) {
                if let Some((near, within)) = entry.near
                    && !near_enough(context.get(&near), occurrence.chars, within)
                {
                    continue;
                }
                let weight = counted
                    .entry((entry.category, occurrence.pattern))
                    .or_insert(0.0);
                *weight = weight.max(entry.weight);
                if hit_categories.contains(&entry.category) {
                    continue;
                }
                hit_categories.push(entry.category);
                if let Some(list) = hits.get_mut(entry.category)
                    && list.len() < MAX_HITS_PER_CATEGORY
                {
                    list.push(Hit {
                        term: entry.term.clone(),
                        original: original.get(range.clone()).unwrap_or_default().to_owned(),
                        start: range.start,
                        end: range.end,
                    });
                }
            }
        }

        let mut scores = vec![0.0f32; self.categories.len()];
        for ((category, _), weight) in &counted {
            if let Some(score) = scores.get_mut(*category) {
                *score += weight;
            }
        }
        let mut categories: Vec<CategoryScore> = self
            .categories
            .iter()
            .zip(scores)
            .zip(hits)
            .filter(|((_, score), _)| *score > 0.0)
            .map(|((category, score), hits)| CategoryScore {
                category: category.clone(),
                score,
                hits,
            })
            .collect();
        categories.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.category.cmp(&b.category))
        });
        Verdict {
            lexicon_version: self.version,
            matches,
            categories,
        }
    }
}

/// Whether a context occurrence lies within `within` chars of `hit`. `positions` are sorted by end
/// (the automaton's order) and all have the same length, so the first one ending at or after
/// `hit.0 - within` is the nearest candidate.
fn near_enough(
    positions: Option<&Vec<(usize, usize)>>,
    hit: (usize, usize),
    within: usize,
) -> bool {
    let Some(positions) = positions else {
        return false;
    };
    let from = hit.0.saturating_sub(within);
    let index = positions.partition_point(|&(_, end)| end < from);
    positions
        .get(index)
        .is_some_and(|&(start, _)| start <= hit.1.saturating_add(within))
}

/// A short Latin term matched as a word: no letter directly before or after it in the original.
fn stands_alone(original: &str, range: &Range<usize>) -> bool {
    let before = original
        .get(..range.start)
        .and_then(|s| s.chars().next_back());
    let after = original.get(range.end..).and_then(|s| s.chars().next());
    !before.is_some_and(is_word_letter) && !after.is_some_and(is_word_letter)
}

/// Letters of alphabetic scripts (not CJK ideographs, kana or hangul, which have no spaces to
/// delimit words).
fn is_word_letter(c: char) -> bool {
    c.is_alphabetic() && (c as u32) < 0x2E80
}
