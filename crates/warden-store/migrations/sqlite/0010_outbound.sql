-- One outbound queue (issue 11, NOT-1/NOT-2, ENF-2). A message is one thing said to one
-- endpoint of one channel: an enforcement change to a webhook endpoint, a notice by e-mail or
-- SMS. Its id is stable across retries and re-drives (a receiver that keeps ids sees it once);
-- `seq` orders the operators' lists. The job queue runs the attempts (`outbound.deliver`, timer
-- name `out:<id>`); this row says where the message stands. Recipients are not copied here:
-- the account's sealed contact is read when the message is sent.
CREATE TABLE outbound (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    subject TEXT NOT NULL,
    account_id TEXT,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    sent_at INTEGER
);
CREATE INDEX outbound_subject ON outbound(subject, seq);
CREATE INDEX outbound_state ON outbound(state, seq);
CREATE INDEX outbound_channel ON outbound(channel, state, seq);

-- Every attempt of every message (the webhook attempts before it included).
CREATE TABLE outbound_attempts (
    id TEXT PRIMARY KEY,
    outbound_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status INTEGER,
    error TEXT,
    at INTEGER NOT NULL
);
CREATE INDEX outbound_attempts_msg ON outbound_attempts(outbound_id, id);
INSERT INTO outbound_attempts (id, outbound_id, attempt, status, error, at)
    SELECT id, 'webhook:' || endpoint || ':' || msg_id, attempt, status, error, at FROM webhook_attempts;
DROP TABLE webhook_attempts;

-- The notices of a case, for the staff case page (each with its messages per channel).
CREATE INDEX notices_case ON notices(case_id, id);
