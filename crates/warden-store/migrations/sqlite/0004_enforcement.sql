-- The enforcement plane (issue 5): every apply and lift of an action, in commit order. The
-- revision is what edges resume from (ENF-1 change feed).
CREATE TABLE enforcement_changes (
    revision INTEGER PRIMARY KEY AUTOINCREMENT,
    action_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    account_id TEXT,
    op TEXT NOT NULL,
    action TEXT NOT NULL,
    product TEXT,
    target TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- ENF-1/ENF-2 webhooks: every delivery attempt, for the operators' delivery log.
CREATE TABLE webhook_attempts (
    id TEXT PRIMARY KEY,
    msg_id TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status INTEGER,
    error TEXT,
    at INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_msg ON webhook_attempts(msg_id, endpoint, id);
