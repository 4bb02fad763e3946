//! The lexicon model: what an operator uploads (JSON) and what ships by default.

use serde::{Deserialize, Serialize};
use warden_domain::taxonomy::Category;

use crate::normalise::normalise_term;

/// At most this many entries in one lexicon (intake is bounded).
pub const MAX_ENTRIES: usize = 200_000;
/// At most this many chars in a term or a context term.
pub const MAX_TERM_CHARS: usize = 64;
/// At most this many normalised chars between a term and its context term.
pub const MAX_WITHIN_CHARS: usize = 10_000;

/// A versioned list of terms by category. A scanner is built once per version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lexicon {
    /// Version, echoed in every verdict so a decision can name the lexicon it used.
    pub version: u64,
    /// The terms.
    pub entries: Vec<Entry>,
}

/// One term of one category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Taxonomy code (TAX-1), e.g. `gambling`.
    pub category: String,
    /// The term as written; normalised like page text when the scanner is built.
    pub term: String,
    /// What a match adds to the category's score; default 1.0.
    #[serde(default = "default_weight")]
    pub weight: f32,
    /// Context rule: the entry counts only if this companion term also occurs nearby.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub near: Option<Near>,
}

/// A companion term that must occur within `within_chars` normalised chars of the entry's match
/// (measured between the nearer ends of the two matches; overlapping or adjacent is distance 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Near {
    /// The companion term, normalised like the entry's term.
    pub term: String,
    /// The largest distance in normalised chars.
    pub within_chars: usize,
}

fn default_weight() -> f32 {
    1.0
}

impl Entry {
    /// An entry of weight 1.0 without a context rule.
    pub fn new(category: &str, term: &str) -> Entry {
        Entry {
            category: category.to_owned(),
            term: term.to_owned(),
            weight: 1.0,
            near: None,
        }
    }
}

/// Why a lexicon was refused. The `at` fields name the offending field, e.g. `entries[3].term`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LexiconError {
    /// More entries than [`MAX_ENTRIES`].
    #[error("lexicon has {count} entries, more than the limit of {max}")]
    TooManyEntries {
        /// Number of entries given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A category code that is not in the taxonomy.
    #[error("{at}: unknown category {code:?}")]
    UnknownCategory {
        /// Where.
        at: String,
        /// The code given (truncated to 64 chars).
        code: String,
    },
    /// A term with nothing left after normalisation (only spaces, punctuation, emoji, ...).
    #[error("{at}: term is empty after normalisation")]
    EmptyTerm {
        /// Where.
        at: String,
    },
    /// A term longer than [`MAX_TERM_CHARS`].
    #[error("{at}: term has {chars} chars, more than {max}")]
    TermTooLong {
        /// Where.
        at: String,
        /// Its length in chars.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// A weight that is not a finite positive number.
    #[error("{at}: weight must be finite and > 0, got {weight}")]
    BadWeight {
        /// Where.
        at: String,
        /// The weight given.
        weight: f32,
    },
    /// `within_chars` above [`MAX_WITHIN_CHARS`].
    #[error("{at}: within_chars {within} is more than {max}")]
    WithinTooLarge {
        /// Where.
        at: String,
        /// The value given.
        within: usize,
        /// The limit.
        max: usize,
    },
}

impl Lexicon {
    /// Checks the bounds and every entry; the first problem is returned, naming the entry.
    pub fn validate(&self) -> Result<(), LexiconError> {
        if self.entries.len() > MAX_ENTRIES {
            return Err(LexiconError::TooManyEntries {
                count: self.entries.len(),
                max: MAX_ENTRIES,
            });
        }
        for (i, entry) in self.entries.iter().enumerate() {
            if Category::parse(&entry.category).is_err() {
                return Err(LexiconError::UnknownCategory {
                    at: format!("entries[{i}].category"),
                    code: entry.category.chars().take(64).collect(),
                });
            }
            check_term(&entry.term, || format!("entries[{i}].term"))?;
            if !(entry.weight.is_finite() && entry.weight > 0.0) {
                return Err(LexiconError::BadWeight {
                    at: format!("entries[{i}].weight"),
                    weight: entry.weight,
                });
            }
            if let Some(near) = &entry.near {
                check_term(&near.term, || format!("entries[{i}].near.term"))?;
                if near.within_chars > MAX_WITHIN_CHARS {
                    return Err(LexiconError::WithinTooLarge {
                        at: format!("entries[{i}].near.within_chars"),
                        within: near.within_chars,
                        max: MAX_WITHIN_CHARS,
                    });
                }
            }
        }
        Ok(())
    }
}

fn check_term(term: &str, at: impl Fn() -> String) -> Result<(), LexiconError> {
    let chars = term.chars().count();
    if chars > MAX_TERM_CHARS {
        return Err(LexiconError::TermTooLong {
            at: at(),
            chars,
            max: MAX_TERM_CHARS,
        });
    }
    if normalise_term(term).is_empty() {
        return Err(LexiconError::EmptyTerm { at: at() });
    }
    Ok(())
}

/// The committed default lists (see `lexicons/README.md`): file contents by category code.
const DEFAULT_FILES: &[(&str, &str)] = &[
    ("porn_vulgar", include_str!("../lexicons/porn_vulgar.txt")),
    (
        "violence_terror",
        include_str!("../lexicons/violence_terror.txt"),
    ),
    ("gambling", include_str!("../lexicons/gambling.txt")),
    ("fraud", include_str!("../lexicons/fraud.txt")),
    ("spam_ads", include_str!("../lexicons/spam_ads.txt")),
    ("cyber_harm", include_str!("../lexicons/cyber_harm.txt")),
];

/// Version of the default lexicon; bump when a file under `lexicons/` changes.
pub const DEFAULT_LEXICON_VERSION: u64 = 1;

/// The default lexicon, built from the files under `lexicons/` (one term a line, `#` comments),
/// every term weight 1.0.
pub fn default_lexicon() -> Lexicon {
    let entries = DEFAULT_FILES
        .iter()
        .flat_map(|(category, text)| {
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|term| Entry::new(category, term))
        })
        .collect();
    Lexicon {
        version: DEFAULT_LEXICON_VERSION,
        entries,
    }
}
