//! The compiled scanner: one automaton per lexicon version.

use std::collections::HashMap;
use std::ops::Range;

use daachorse::charwise::iter::FindOverlappingStepper;
use daachorse::{CharwiseDoubleArrayAhoCorasick, CharwiseDoubleArrayAhoCorasickBuilder, MatchKind};
use serde::{Deserialize, Serialize};

use crate::lexicon::{Lexicon, LexiconError};
use crate::normalise::{Sink, normalise_term, normalise_with};

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// Index of this pattern's position list during a scan, if `context`.
    context_slot: Option<usize>,
}

#[derive(Debug)]
struct CompiledEntry {
    category: usize,
    term: String,
    weight: f32,
    near: Option<(usize, usize)>,
    /// Dense index of this entry's (category, pattern) pair: distinct terms count once.
    slot: usize,
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
    /// Category of every (category, pattern) slot.
    slot_categories: Vec<usize>,
    /// Number of patterns with `context_slot`.
    context_slots: usize,
    /// Ring-buffer mask for the last normalised chars' offsets (len ≥ the longest pattern).
    ring_mask: usize,
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
        let mut slot_ids: HashMap<(usize, usize), usize> = HashMap::new();
        let mut slot_categories: Vec<usize> = Vec::new();

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
                    context_slot: None,
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
            let slot = *slot_ids.entry((category, pattern)).or_insert_with(|| {
                slot_categories.push(category);
                slot_categories.len() - 1
            });
            entries.push(CompiledEntry {
                category,
                term: entry.term.clone(),
                weight: entry.weight,
                near,
                slot,
            });
        }
        let mut context_slots = 0usize;
        for p in patterns.iter_mut().filter(|p| p.context) {
            p.context_slot = Some(context_slots);
            context_slots += 1;
        }
        let longest = patterns.iter().map(|p| p.chars).max().unwrap_or(0);
        let ring_mask = (longest + 1).next_power_of_two().max(64) - 1;

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
            slot_categories,
            context_slots,
            ring_mask,
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
        let slots = self.slot_categories.capacity() * size_of::<usize>();
        self.automaton.heap_bytes() + texts + patterns + entries + categories + slots
    }

    /// Normalises `text` (see [`normalise`]) and scans it. Offsets in the hits are byte offsets
    /// in `text`.
    ///
    /// Normalisation and matching run fused in one pass: every normalised char goes straight
    /// into the automaton, and only the offsets of the last few normalised chars are kept (a
    /// ring as long as the longest term), which is all a match needs to find its original range.
    pub fn scan(&self, text: &str) -> Verdict {
        let mask = self.ring_mask;
        let mut fused = Fused {
            collector: Collector::new(self, text),
            stepper: self.automaton.find_overlapping_stepper(),
            ring: vec![0usize; mask + 1],
            mask,
            count: 0,
        };
        normalise_with(text, &mut fused);
        fused.collector.finish()
    }

    /// Scans `text` as it is, without normalisation; terms still are in their normalised form
    /// (lowercase, no filler). For comparisons with plain matchers and for text that is already
    /// normalised.
    pub fn scan_raw(&self, text: &str) -> Verdict {
        let mut collector = Collector::new(self, text);
        // Byte → char positions by a cursor: ends come in non-decreasing order.
        let (mut cursor_byte, mut cursor_char) = (0usize, 0usize);
        for m in self.automaton.find_overlapping_iter(text) {
            collector.matches += 1;
            let Ok(id) = usize::try_from(m.value()) else {
                continue;
            };
            let Some(pattern) = self.patterns.get(id) else {
                continue;
            };
            if m.end() > cursor_byte {
                cursor_char += text
                    .get(cursor_byte..m.end())
                    .map_or(0, |s| s.chars().count());
                cursor_byte = m.end();
            }
            let chars = (cursor_char.saturating_sub(pattern.chars), cursor_char);
            collector.found(id, pattern, chars, m.start()..m.end());
        }
        collector.finish()
    }

    /// Counts every (overlapping) occurrence of every term in `text` as it is, with nothing else:
    /// the number a plain Aho-Corasick overlapping search over the same terms reports.
    pub fn count_raw(&self, text: &str) -> usize {
        self.automaton.find_overlapping_iter(text).count()
    }
}

/// The original byte range of the normalised chars `chars`, from the offsets ring (see
/// [`Normalised::original_range`](crate::Normalised::original_range)).
#[inline]
fn ring_range(
    original: &str,
    ring: &[usize],
    mask: usize,
    chars: (usize, usize),
) -> Option<Range<usize>> {
    let last = chars.1.checked_sub(1)?;
    if chars.0 > last {
        return None;
    }
    let start = *ring.get(chars.0 & mask)?;
    let last_start = *ring.get(last & mask)?;
    let end = last_start + original.get(last_start..)?.chars().next()?.len_utf8();
    Some(start..end)
}

/// The automaton side of a fused scan: fed one normalised char at a time.
struct Fused<'s> {
    collector: Collector<'s>,
    stepper: FindOverlappingStepper<'s, u32>,
    /// Original offsets of the last `mask + 1` normalised chars, by char index `& mask`.
    ring: Vec<usize>,
    mask: usize,
    /// Normalised chars so far.
    count: usize,
}

impl Sink for Fused<'_> {
    #[inline(always)]
    fn emit(&mut self, c: char, offset: usize) {
        if let Some(slot) = self.ring.get_mut(self.count & self.mask) {
            *slot = offset;
        }
        self.count += 1;
        self.stepper.consume(c);
        let mut matches = self.stepper.matches().peekable();
        if matches.peek().is_some() {
            self.found(matches);
        }
    }
}

impl Fused<'_> {
    #[inline(never)]
    fn found(&mut self, matches: impl Iterator<Item = daachorse::Match<u32>>) {
        let scanner = self.collector.scanner;
        for m in matches {
            self.collector.matches += 1;
            let Ok(id) = usize::try_from(m.value()) else {
                continue;
            };
            let Some(pattern) = scanner.patterns.get(id) else {
                continue;
            };
            let chars = (self.count.saturating_sub(pattern.chars), self.count);
            let Some(range) = ring_range(self.collector.original, &self.ring, self.mask, chars)
            else {
                continue;
            };
            self.collector.found(id, pattern, chars, range);
        }
    }
}

/// What one scan gathers, match by match, and turns into a verdict at the end.
struct Collector<'s> {
    scanner: &'s Scanner,
    original: &'s str,
    matches: usize,
    occurrences: Vec<(Occurrence, Range<usize>)>,
    /// Positions of the context patterns, by `context_slot`.
    context: Vec<Vec<(usize, usize)>>,
}

impl<'s> Collector<'s> {
    fn new(scanner: &'s Scanner, original: &'s str) -> Self {
        Collector {
            scanner,
            original,
            matches: 0,
            occurrences: Vec::new(),
            context: Vec::new(),
        }
    }

    /// One reported occurrence of pattern `id` (already counted in `matches`).
    #[inline]
    fn found(&mut self, id: usize, pattern: &Pattern, chars: (usize, usize), range: Range<usize>) {
        if pattern.word && !stands_alone(self.original, &range) {
            return;
        }
        if let Some(slot) = pattern.context_slot {
            if self.context.is_empty() {
                self.context = vec![Vec::new(); self.scanner.context_slots];
            }
            if let Some(list) = self.context.get_mut(slot) {
                list.push(chars);
            }
        }
        if !pattern.entries.is_empty() {
            self.occurrences
                .push((Occurrence { pattern: id, chars }, range));
        }
    }

    fn finish(self) -> Verdict {
        let scanner = self.scanner;
        // (slot, weight) of every counted entry; a slot (distinct term of a category) counts
        // once, with its largest weight.
        let mut counted: Vec<(usize, f32)> = Vec::new();
        let mut hits: Vec<Vec<Hit>> = vec![Vec::new(); scanner.categories.len()];
        let mut hit_categories: Vec<usize> = Vec::new();
        for (occurrence, range) in &self.occurrences {
            let Some(pattern) = scanner.patterns.get(occurrence.pattern) else {
                continue;
            };
            hit_categories.clear();
            for entry in pattern
                .entries
                .iter()
                .filter_map(|&e| scanner.entries.get(e))
            {
                if let Some((near, within)) = entry.near {
                    let positions = scanner
                        .patterns
                        .get(near)
                        .and_then(|p| p.context_slot)
                        .and_then(|slot| self.context.get(slot));
                    if !near_enough(positions, occurrence.chars, within) {
                        continue;
                    }
                }
                counted.push((entry.slot, entry.weight));
                if hit_categories.contains(&entry.category) {
                    continue;
                }
                hit_categories.push(entry.category);
                if let Some(list) = hits.get_mut(entry.category)
                    && list.len() < MAX_HITS_PER_CATEGORY
                {
                    list.push(Hit {
                        term: entry.term.clone(),
                        original: self
                            .original
                            .get(range.clone())
                            .unwrap_or_default()
                            .to_owned(),
                        start: range.start,
                        end: range.end,
                    });
                }
            }
        }

        counted.sort_unstable_by_key(|&(slot, _)| slot);
        let mut scores = vec![0.0f32; scanner.categories.len()];
        let mut rest = counted.as_slice();
        while let Some(&(slot, first)) = rest.first() {
            let run = rest.partition_point(|&(s, _)| s == slot);
            let weight = rest
                .get(..run)
                .unwrap_or_default()
                .iter()
                .fold(first, |w, &(_, x)| w.max(x));
            rest = rest.get(run..).unwrap_or_default();
            if let Some(score) = scanner
                .slot_categories
                .get(slot)
                .and_then(|&c| scores.get_mut(c))
            {
                *score += weight;
            }
        }
        let mut categories: Vec<CategoryScore> = scanner
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
            lexicon_version: scanner.version,
            matches: self.matches,
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
