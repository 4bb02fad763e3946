//! Content detection (DET-1..3): the effective lexicon (built-in lists plus the changes made
//! through the API), compiled once per version and swapped in without a restart; scans of text
//! and URLs; the scanning re-checker behind deadlines and self-service unblock.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use warden_domain::identity::Role;
use warden_domain::resource::InvalidInput;
use warden_domain::taxonomy::{Category, Kind};
use warden_scan::{Entry, Lexicon, Near, Scanner};
use warden_store::Store;
use warden_store::scan::{TermRow, VerdictRow};

use crate::App;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::recheck::{FetchError, FetchPolicy, Fetched, Rechecker, Verdict, fetch};

/// The compiled lexicon of the current version, shared by every scan.
pub struct ScanService {
    store: Store,
    builtin: Lexicon,
    /// A category counts as present at or above this score.
    pub threshold: f32,
    cache: tokio::sync::RwLock<Option<(i64, Arc<Scanner>)>>,
}

impl std::fmt::Debug for ScanService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanService")
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

impl ScanService {
    /// A service over `store`'s lexicon changes on top of the built-in lexicon.
    pub fn new(store: Store, threshold: f32) -> ScanService {
        ScanService {
            store,
            builtin: warden_scan::default_lexicon(),
            threshold,
            cache: tokio::sync::RwLock::new(None),
        }
    }

    /// The scanner of the current lexicon version, rebuilt when the version changed (hot reload).
    /// A version that cannot be built never replaces the working scanner: that one goes on
    /// serving (its verdicts name its own version) until a later version builds.
    pub async fn scanner(&self) -> AppResult<Arc<Scanner>> {
        let version = self.store.lexicon_version().await?;
        if let Some((v, s)) = self.cache.read().await.as_ref()
            && *v == version
        {
            return Ok(s.clone());
        }
        let mut slot = self.cache.write().await;
        if let Some((v, s)) = slot.as_ref()
            && *v == version
        {
            return Ok(s.clone());
        }
        let (version, changes) = self.store.lexicon_terms().await?;
        let scanner = match build(effective(&self.builtin, &changes, version)).await {
            Ok(scanner) => {
                tracing::info!(version, "lexicon compiled");
                Arc::new(scanner)
            }
            Err(e) => {
                let Some((working, scanner)) = slot.as_ref() else {
                    return Err(AppError::Conflict(format!("lexicon build failed: {e}")));
                };
                // Remembered under the new version, so that it is not rebuilt on every scan.
                tracing::error!(version, working, error = %e, "lexicon version does not build; the working one goes on serving");
                scanner.clone()
            }
        };
        *slot = Some((version, scanner.clone()));
        Ok(scanner)
    }

    /// The effective lexicon of the current version.
    pub async fn lexicon(&self) -> AppResult<Lexicon> {
        let (version, changes) = self.store.lexicon_terms().await?;
        Ok(effective(&self.builtin, &changes, version))
    }
}

/// Compiles a lexicon off the async threads.
async fn build(lexicon: Lexicon) -> Result<Scanner, String> {
    match tokio::task::spawn_blocking(move || Scanner::build(&lexicon)).await {
        Ok(built) => built.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Why a term or context term cannot be a lexicon term; `None` when it can.
fn term_problem(term: &str) -> Option<&'static str> {
    if warden_domain::text::is_blank(term) || term.chars().count() > warden_scan::MAX_TERM_CHARS {
        Some("must be 1 to 64 characters")
    } else if warden_scan::normalise_term(term).is_empty() {
        Some(
            "nothing is left after normalisation: it is only spaces, punctuation, symbols, emoji \
             or invisible characters, which scanning ignores, so it cannot match anything",
        )
    } else if term.chars().any(char::is_control) {
        // The document's pattern excludes the same characters (Cc: C0, DEL and C1).
        Some("must not contain control characters")
    } else {
        None
    }
}

/// Built-in entries with the changes applied: a change replaces the entry of the same
/// (category, term); a removal drops it.
fn effective(builtin: &Lexicon, changes: &[TermRow], version: i64) -> Lexicon {
    let key = |c: &str, t: &str| format!("{c}\u{0}{t}");
    let changed: std::collections::HashSet<String> =
        changes.iter().map(|c| key(&c.category, &c.term)).collect();
    let mut entries: Vec<Entry> = builtin
        .entries
        .iter()
        .filter(|e| !changed.contains(&key(&e.category, &e.term)))
        .cloned()
        .collect();
    for c in changes.iter().filter(|c| !c.removed) {
        entries.push(Entry {
            category: c.category.clone(),
            term: c.term.clone(),
            weight: c.weight_milli as f32 / 1000.0,
            near: c.near_term.clone().map(|term| Near {
                term,
                within_chars: usize::try_from(c.near_within.unwrap_or(20)).unwrap_or(20),
            }),
        });
    }
    Lexicon {
        version: u64::try_from(version).unwrap_or(0),
        entries,
    }
}

/// Body of `POST /api/scan`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
// Exactly one of `text` and `url`; a `null` one is left out.
#[schemars(extend("oneOf" = [
    { "required": ["text"], "properties": { "text": { "type": "string" }, "url": { "type": "null" } } },
    { "required": ["url"], "properties": { "url": { "type": "string" }, "text": { "type": "null" } } },
]))]
pub struct ScanInput {
    /// Text to scan (at most 4 MiB).
    #[serde(default)]
    pub text: Option<String>,
    /// Or a public http(s) URL to fetch and scan (DET-2, format `scan-url`): internal,
    /// loopback, link-local and documentation addresses are refused (422 naming `url`), also
    /// when a name resolves to one; a page that cannot be fetched is 502 `fetch_failed`.
    #[serde(default)]
    #[schemars(extend("format" = "scan-url"))]
    pub url: Option<String>,
}

/// Body of a lexicon change.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TermInput {
    /// Category code (content categories).
    #[schemars(required, with = "warden_domain::taxonomy::ContentCategory")]
    pub category: Option<String>,
    /// The term, 1 to 64 characters: no control characters, some non-space one, and something
    /// left once normalised (a letter or digit: a term of only punctuation, symbols or emoji
    /// cannot match, since scanning ignores them, and is refused).
    #[schemars(
        required,
        length(min = 1, max = 64),
        pattern(crate::registry::NAME_PATTERN)
    )]
    pub term: Option<String>,
    /// Weight, 0.01 to 100 (default 1).
    #[serde(default)]
    #[schemars(range(min = 0.01, max = 100.0))]
    pub weight: Option<f32>,
    /// Counts only with this term nearby (1 to 64 characters, read as `term` is)...
    #[serde(default)]
    #[schemars(length(min = 1, max = 64), pattern(crate::registry::NAME_PATTERN))]
    pub near: Option<String>,
    /// ...within this many characters, 1 to 1000 (default 20).
    #[serde(default)]
    #[schemars(range(min = 1, max = 1000))]
    pub within_chars: Option<i64>,
}

/// What a scan found (DET-1), with the page when a URL was fetched (DET-2).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ScanResult {
    /// Scores and matches per category, with the lexicon version.
    pub verdict: warden_scan::Verdict,
    /// A category counts as present at or above this score.
    pub threshold: f32,
    /// What was fetched, for a URL.
    pub fetched: Option<crate::recheck::Fetched>,
}

/// A lexicon change as stored (DET-1): the new version and the change.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TermChange {
    /// The lexicon version the change made.
    pub version: i64,
    /// The change.
    pub change: TermRow,
}

/// The lexicon (DET-1): its version, its size per category, the changes made through the API
/// and, when asked for one category, that category's effective terms.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct LexiconView {
    /// The version scans run on.
    pub version: u64,
    /// Terms per category.
    pub terms_per_category: std::collections::BTreeMap<String, usize>,
    /// Changes made through the API, oldest first.
    pub changes: Vec<TermRow>,
    /// The effective terms of the asked category (at most 10,000).
    pub terms: Option<Vec<Entry>>,
}

/// Most text scanned in one request.
pub const MAX_SCAN_TEXT: usize = 4 * 1024 * 1024;

impl App {
    /// Scans text or a URL (DET-1/DET-2); the verdict is stored with its lexicon version.
    pub async fn scan(&self, who: &Principal, input: ScanInput) -> AppResult<ScanResult> {
        who.require(
            &[Role::Admin, Role::Operator, Role::Detector],
            "scan content",
        )?;
        let (target, text, fetched) = match (input.text, input.url) {
            (Some(t), None) => {
                if t.len() > MAX_SCAN_TEXT {
                    return Err(InvalidInput::new(
                        "text",
                        format!("is larger than {MAX_SCAN_TEXT} bytes"),
                    )
                    .into());
                }
                ("text".to_string(), t, None)
            }
            (None, Some(u)) => {
                let f = fetch(&u, &self.scan_fetch_policy())
                    .await
                    .map_err(|e| match e {
                        // The URL itself is refused: the caller's to fix.
                        FetchError::BadUrl(_) | FetchError::InternalAddress { .. } => {
                            AppError::from(InvalidInput::new("url", e.to_string()))
                        }
                        // The site could not be fetched: not the request's fault.
                        FetchError::Resolve(_)
                        | FetchError::TooManyRedirects(_)
                        | FetchError::Network(_) => AppError::Unreachable(e.to_string()),
                    })?;
                (u, f.text.clone(), Some(f))
            }
            _ => return Err(InvalidInput::new("text", "give exactly one of text or url").into()),
        };
        let scanner = self.scanner.scanner().await?;
        let verdict = scanner.scan(&text);
        let now = self.now();
        let out = ScanResult {
            verdict,
            threshold: self.scanner.threshold,
            fetched,
        };
        let mut tx = self.store.begin_write().await?;
        tx.insert_verdict(&VerdictRow {
            id: warden_store::new_id("ver", now),
            case_id: None,
            target,
            lexicon_version: i64::try_from(out.verdict.lexicon_version).unwrap_or(0),
            verdict: serde_json::to_string(&out).unwrap_or_default(),
            evidence_sha256: Some(warden_domain::sha256_hex(text.as_bytes())),
            created_at: now,
        })
        .await?;
        tx.commit().await?;
        Ok(out)
    }

    fn scan_fetch_policy(&self) -> FetchPolicy {
        self.fetch_policy.as_ref().clone()
    }

    /// Adds or replaces a lexicon term; the next scan uses it (no restart).
    pub async fn put_term(
        &self,
        who: &Principal,
        input: TermInput,
        remove: bool,
    ) -> AppResult<TermChange> {
        who.require(&[Role::Admin, Role::Operator], "change the lexicon")?;
        let category = input
            .category
            .ok_or_else(|| InvalidInput::new("category", "is required"))?;
        content_category(&category)?;
        // Counted as sent (the document's maxLength), then trimmed of what its `\S` calls space.
        let term = input
            .term
            .filter(|t| t.chars().count() <= warden_scan::MAX_TERM_CHARS)
            .map(|t| warden_domain::text::trim(&t).to_string())
            .filter(|t| !t.is_empty());
        let term = term.ok_or_else(|| InvalidInput::new("term", "must be 1 to 64 characters"))?;
        let (_, mut changes) = self.store.lexicon_terms().await?;
        if remove {
            // Only what the lexicon holds can be removed; a removal never needs the term to be
            // valid, so a bad term an older release let in can always be taken out.
            let lexicon = effective(&self.scanner.builtin, &changes, 0);
            if !lexicon
                .entries
                .iter()
                .any(|e| e.category == category && e.term == term)
            {
                return Err(AppError::NotFound("lexicon term"));
            }
        } else if let Some(problem) = term_problem(&term) {
            return Err(InvalidInput::new("term", problem).into());
        }
        let weight = input.weight.unwrap_or(1.0);
        if !(0.01..=100.0).contains(&weight) {
            return Err(InvalidInput::new("weight", "must be between 0.01 and 100").into());
        }
        if let Some(problem) = input.near.as_deref().and_then(term_problem) {
            return Err(InvalidInput::new("near", problem).into());
        }
        if input.within_chars.is_some_and(|w| !(1..=1000).contains(&w)) {
            return Err(InvalidInput::new("within_chars", "must be 1 to 1000").into());
        }
        let now = self.now();
        let row = TermRow {
            category,
            term,
            weight_milli: (weight * 1000.0).round() as i64,
            near_term: input.near,
            near_within: input.within_chars,
            removed: remove,
            updated_at: now,
            updated_by: who.actor(),
        };
        if !remove {
            // A version that would not build is never stored (removals only shrink the lexicon).
            changes.retain(|c| !(c.category == row.category && c.term == row.term));
            changes.push(row.clone());
            build(effective(&self.scanner.builtin, &changes, 0))
                .await
                .map_err(|e| {
                    AppError::Conflict(format!("the lexicon would not build with this term: {e}"))
                })?;
        }
        let mut tx = self.store.begin_write().await?;
        let version = tx.put_lexicon_term(&row).await?;
        let mut ev = self.event(
            who,
            if remove {
                "lexicon.remove"
            } else {
                "lexicon.put"
            },
            format!("lexicon:{}", row.category),
        );
        ev.details = serde_json::json!({ "term": row.term, "weight": weight, "near": row.near_term, "version": version });
        tx.append_audit(ev).await?;
        tx.commit().await?;
        Ok(TermChange {
            version,
            change: row,
        })
    }

    /// The lexicon: version, terms per category, and the changes made through the API; with a
    /// category, its effective terms.
    pub async fn lexicon(&self, who: &Principal, category: Option<&str>) -> AppResult<LexiconView> {
        who.require(&[Role::Admin, Role::Operator], "read the lexicon")?;
        if let Some(c) = category {
            content_category(c)?;
        }
        let lex = self.scanner.lexicon().await?;
        let (_, changes) = self.store.lexicon_terms().await?;
        let mut terms_per_category = std::collections::BTreeMap::new();
        for e in &lex.entries {
            *terms_per_category.entry(e.category.clone()).or_default() += 1;
        }
        let terms = category.map(|c| {
            lex.entries
                .iter()
                .filter(|e| e.category == c)
                .take(10_000)
                .cloned()
                .collect()
        });
        Ok(LexiconView {
            version: lex.version,
            terms_per_category,
            changes,
            terms,
        })
    }
}

/// `code` if it names a content category, the only ones lexicons hold; else 422 naming
/// `category`.
fn content_category(code: &str) -> Result<Category, InvalidInput> {
    let cat = Category::parse(code).map_err(|e| InvalidInput::new("category", e.to_string()))?;
    if cat.kind() == Kind::Content {
        Ok(cat)
    } else {
        Err(InvalidInput::new(
            "category",
            format!("lexicons are for content categories; `{code}` is a behaviour category"),
        ))
    }
}

/// The re-checker of the lifecycle (DET-3): fetch, then the lexicon scanner and the case's
/// markers. A URL is clean when no marker is found and the case's category scores below the
/// threshold (any content category when the case's is not a content category).
#[derive(Debug, Clone)]
pub struct ScanRechecker {
    /// Fetch limits and allow-list.
    pub policy: FetchPolicy,
    /// The scanner.
    pub scan: Arc<ScanService>,
}

impl Rechecker for ScanRechecker {
    fn recheck<'a>(
        &'a self,
        url: &'a str,
        markers: &'a [String],
        category: &'a str,
    ) -> Pin<Box<dyn Future<Output = Verdict> + Send + 'a>> {
        Box::pin(async move {
            let f: Fetched = match fetch(url, &self.policy).await {
                Err(e) => {
                    return Verdict::Unknown {
                        reason: e.to_string(),
                    };
                }
                Ok(f) => f,
            };
            if f.status == 404 || f.status == 410 {
                return Verdict::Clean { evidence: Some(f) };
            }
            if f.status >= 400 {
                return Verdict::Unknown {
                    reason: format!("the page answered HTTP {}", f.status),
                };
            }
            let scanner = match self.scan.scanner().await {
                Ok(s) => s,
                Err(e) => {
                    return Verdict::Unknown {
                        reason: format!("lexicon unavailable: {e}"),
                    };
                }
            };
            let verdict = scanner.scan(&f.text);
            let content_case = Category::parse(category).is_ok_and(|c| c.kind() == Kind::Content);
            let mut found: Vec<String> = verdict
                .categories
                .iter()
                .filter(|c| {
                    c.score >= self.scan.threshold && (!content_case || c.category == category)
                })
                .flat_map(|c| {
                    c.hits
                        .iter()
                        .map(|h| format!("{}:{} ({})", c.category, h.term, h.original))
                })
                .collect();
            // Markers are matched like lexicon terms: on the normalised text (DET-1).
            let normalised = warden_scan::normalise(&f.text).text;
            found.extend(
                markers
                    .iter()
                    .filter(|m| {
                        let n = warden_scan::normalise_term(m);
                        !n.is_empty() && normalised.contains(&n)
                    })
                    .map(|m| format!("marker:{m}")),
            );
            found.truncate(50);
            if found.is_empty() {
                Verdict::Clean { evidence: Some(f) }
            } else {
                Verdict::Violating { found, evidence: f }
            }
        })
    }
}
