-- Customers' own security assessments (issue 13; ASMT-1, ASMT-2, ASMT-5).
--
-- One row per declaration: the domain's facts as JSON, and the columns queries filter on.
-- Targets and sources are JSON lists as declared (canonical); the plan is JSON without its
-- contact, which is personal data and kept sealed (AUD-4). `due_at` is the approval SLA of a
-- plan waiting for an operator (working time), `disclosure_due_at` when a phishing test's
-- disclosure is overdue (ASMT-5). Kept like the audit log: nothing here is purged.
CREATE TABLE assessments (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    targets TEXT NOT NULL,
    sources TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    window_end INTEGER NOT NULL,
    plan TEXT,
    contact_enc BLOB,
    facts TEXT NOT NULL,
    reason TEXT NOT NULL,
    disclosure TEXT,
    due_at INTEGER,
    disclosure_due_at INTEGER,
    decided_by TEXT,
    decided_at INTEGER,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
-- A tenant's list, newest first (keyset on id).
CREATE INDEX assessments_account ON assessments(account_id, id);
-- Staff lists by state, and the queues (pending approval by SLA due, disclosures by due).
CREATE INDEX assessments_state ON assessments(state, id);
CREATE INDEX assessments_queue ON assessments(state, due_at);
-- The DDoS plane's look-up of stress-test plans in force (ASMT-2).
CREATE INDEX assessments_in_force ON assessments(kind, state, window_end);
