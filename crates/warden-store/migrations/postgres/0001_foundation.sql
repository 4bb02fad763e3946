-- Foundation schema (issue 2). Times are integer milliseconds since the epoch (UTC); ids are TEXT.
CREATE TABLE accounts (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    email_enc BYTEA,
    phone_enc BYTEA,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE resources (
    id TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    product TEXT NOT NULL,
    name TEXT NOT NULL,
    region TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX resources_account ON resources(account_id, id);

CREATE TABLE resource_identifiers (
    resource_id TEXT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    match_key TEXT,
    ip_lo TEXT COLLATE "C",
    ip_hi TEXT COLLATE "C",
    specificity BIGINT NOT NULL,
    PRIMARY KEY (resource_id, kind, value)
);
CREATE UNIQUE INDEX resource_identifiers_unique ON resource_identifiers(kind, value) WHERE kind <> 'internal_ip';
CREATE INDEX resource_identifiers_key ON resource_identifiers(match_key);
CREATE INDEX resource_identifiers_ip ON resource_identifiers(ip_lo, ip_hi);

CREATE TABLE api_tokens (
    id TEXT COLLATE "C" PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    account_id TEXT REFERENCES accounts(id),
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE cases (
    id TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT REFERENCES accounts(id),
    resource_id TEXT REFERENCES resources(id),
    target TEXT NOT NULL,
    category TEXT NOT NULL,
    state TEXT NOT NULL,
    source TEXT NOT NULL,
    correlation_key TEXT NOT NULL,
    report_count BIGINT NOT NULL,
    duplicate_count BIGINT NOT NULL,
    views BIGINT NOT NULL,
    state_reason TEXT,
    opened_at BIGINT NOT NULL,
    last_report_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX cases_correlation ON cases(correlation_key, last_report_at);
CREATE INDEX cases_account ON cases(account_id, id);
CREATE INDEX cases_state ON cases(state, id);

CREATE TABLE reports (
    id TEXT COLLATE "C" PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES cases(id),
    account_id TEXT REFERENCES accounts(id),
    source TEXT NOT NULL,
    format TEXT NOT NULL,
    category TEXT NOT NULL,
    target TEXT NOT NULL,
    description TEXT NOT NULL,
    evidence BYTEA,
    evidence_sha256 TEXT,
    reporter_contact_enc BYTEA,
    submitted_by TEXT NOT NULL,
    confidence_ppm BIGINT,
    views BIGINT,
    received_at BIGINT NOT NULL
);
CREATE INDEX reports_case ON reports(case_id, id);

CREATE TABLE jobs (
    id TEXT COLLATE "C" PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    run_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    max_attempts BIGINT NOT NULL,
    dedup_key TEXT UNIQUE,
    lease_owner TEXT,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs(state, run_at);

CREATE TABLE job_runs (
    job_id TEXT NOT NULL,
    node TEXT NOT NULL,
    ran_at BIGINT NOT NULL
);
CREATE INDEX job_runs_job ON job_runs(job_id);

CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    account_id TEXT,
    before_digest TEXT,
    after_digest TEXT,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_events_at ON audit_events(at);

-- The chain head: one row, locked by every writer that appends to the chain. base_* describe the
-- last purged event so that verification can start after a purge.
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    base_seq BIGINT NOT NULL,
    base_hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash, base_seq, base_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0,
        '0000000000000000000000000000000000000000000000000000000000000000');
