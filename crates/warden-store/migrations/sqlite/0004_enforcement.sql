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
