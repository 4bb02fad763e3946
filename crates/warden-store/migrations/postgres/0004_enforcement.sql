-- The enforcement plane (issue 5): every apply and lift of an action, in commit order. The
-- revision is what edges resume from (ENF-1 change feed).
CREATE TABLE enforcement_changes (
    revision BIGSERIAL PRIMARY KEY,
    action_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    account_id TEXT,
    op TEXT NOT NULL,
    action TEXT NOT NULL,
    product TEXT,
    target TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- ENF-1/ENF-2 webhooks: every delivery attempt, for the operators' delivery log.
CREATE TABLE webhook_attempts (
    id TEXT COLLATE "C" PRIMARY KEY,
    msg_id TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    status BIGINT,
    error TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_msg ON webhook_attempts(msg_id, endpoint, id);
