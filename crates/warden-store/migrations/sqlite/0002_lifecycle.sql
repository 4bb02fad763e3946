-- The violation lifecycle (issue 3): grading, penalty actions, deadlines, notices.
ALTER TABLE cases ADD COLUMN level TEXT;
ALTER TABLE cases ADD COLUMN level_reasons TEXT;
ALTER TABLE cases ADD COLUMN kind TEXT;
ALTER TABLE cases ADD COLUMN product TEXT;
ALTER TABLE cases ADD COLUMN deadline_at INTEGER;
ALTER TABLE cases ADD COLUMN markers TEXT;
ALTER TABLE cases ADD COLUMN regulator TEXT;
ALTER TABLE cases ADD COLUMN enforced_at INTEGER;
ALTER TABLE accounts ADD COLUMN lang TEXT NOT NULL DEFAULT 'zh-CN';

-- PEN-3: every penalty action is a record.
CREATE TABLE case_actions (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES cases(id),
    account_id TEXT REFERENCES accounts(id),
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    state TEXT NOT NULL,
    no_unblock INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT,
    evidence_sha256 TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX case_actions_case ON case_actions(case_id, id);
CREATE INDEX case_actions_account ON case_actions(account_id, state);

-- NOT-1/NOT-2: the console inbox (站内信); always written, whatever other channels do.
CREATE TABLE notices (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    case_id TEXT REFERENCES cases(id),
    template TEXT NOT NULL,
    lang TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    read_at INTEGER
);
CREATE INDEX notices_account ON notices(account_id, id);

-- UNB-1..6: unblock requests (self-service and manual), one open per case.
CREATE TABLE unblock_requests (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES cases(id),
    account_id TEXT REFERENCES accounts(id),
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    commitment TEXT,
    still_violating TEXT,
    reason TEXT,
    submitted_at INTEGER NOT NULL,
    due_at INTEGER,
    decided_at INTEGER,
    decided_by TEXT
);
CREATE INDEX unblock_requests_case ON unblock_requests(case_id, id);
CREATE INDEX unblock_requests_queue ON unblock_requests(state, due_at);

-- TKT-1: tickets, linked to cases, worked by reviewers under the same SLA clock.
CREATE TABLE tickets (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    case_id TEXT REFERENCES cases(id),
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    submitted_at INTEGER NOT NULL,
    due_at INTEGER,
    closed_at INTEGER,
    closed_by TEXT,
    resolution TEXT
);
CREATE INDEX tickets_queue ON tickets(state, due_at);
CREATE INDEX tickets_account ON tickets(account_id, id);

-- PEN-2: isolation and clearance recorded for billing.
CREATE TABLE billing_records (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    case_id TEXT REFERENCES cases(id),
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX billing_records_account ON billing_records(account_id, id);
