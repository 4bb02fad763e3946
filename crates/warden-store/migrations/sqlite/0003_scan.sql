-- Content detection (issue 4): lexicon changes on top of the built-in lexicon, and verdicts.
-- A row overrides the built-in entry of the same (category, term); `removed` drops it.
CREATE TABLE lexicon_terms (
    category TEXT NOT NULL,
    term TEXT NOT NULL,
    weight_milli INTEGER NOT NULL,
    near_term TEXT,
    near_within INTEGER,
    removed INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (category, term)
);

-- The lexicon version: bumped by every change, recorded with every verdict.
CREATE TABLE lexicon_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO lexicon_meta (id, version) VALUES (1, 1);

-- DET-2/DET-3: what a scan saw and concluded.
CREATE TABLE scan_verdicts (
    id TEXT PRIMARY KEY,
    case_id TEXT,
    target TEXT NOT NULL,
    lexicon_version INTEGER NOT NULL,
    verdict TEXT NOT NULL,
    evidence_sha256 TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX scan_verdicts_case ON scan_verdicts(case_id, id);
