//! Warden's content scanner (SPEC §14 DET-1): it owns the normalisation of page text against
//! evasion and the matching of that text against per-category lexicons (TAX-1 codes), and nothing
//! else — no fetching, no storage, no clock, no async — so the re-check worker, the intake and the
//! tests can all call the same pure functions. Evaders split words with spaces, punctuation,
//! zero-width characters and emoji, write them full-width, in traditional characters, in mixed case
//! or with Cyrillic look-alikes; so both the page and every lexicon term go through the same
//! [`normalise`], which works char by char and keeps, for every normalised char, the byte offset it
//! came from: a match can always be shown as what the page really said (`赌 . 场`), which is the
//! evidence an operator and a tenant get to see. A [`Lexicon`] is data (JSON, versioned, bounded);
//! a [`Scanner`] is that lexicon compiled once into a single charwise double-array Aho-Corasick
//! automaton (daachorse, fast on CJK), immutable and shared between threads, so a scan is one
//! linear pass whatever the number of terms. The crate depends only on `warden-domain`, for the
//! category codes it validates lexicon entries against.

mod lexicon;
mod normalise;
mod scanner;

pub use lexicon::{
    DEFAULT_LEXICON_VERSION, Entry, Lexicon, LexiconError, MAX_ENTRIES, MAX_TERM_CHARS,
    MAX_WITHIN_CHARS, Near, default_lexicon,
};
pub use normalise::{MAX_FILLER_RUN, Normalised, normalise, normalise_term, t2s};
pub use scanner::{
    BuildError, CategoryScore, Hit, MAX_HITS_PER_CATEGORY, SHORT_LATIN_CHARS, Scanner, Verdict,
};
