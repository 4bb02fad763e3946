-- The abuse desk's mail (INT-2, INT-6): every e-mail taken in, once.
--
-- A message is known by the SHA-256 of its raw bytes: a sender that retries a message whose
-- acknowledgement it never saw gets the first receipt back and nothing is stored twice. The row
-- is written in the transaction that stores the message's reports, so a message is either
-- wholly in (this row and every report) or not at all — and only then acknowledged.
--
-- from_enc is the sealed From: (personal data, AUD-4); receipt is the JSON answered at intake.
CREATE TABLE mail_messages (
    id TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    message_id TEXT,
    door TEXT NOT NULL,
    reporter TEXT,
    trust TEXT NOT NULL,
    from_enc BLOB,
    size INTEGER NOT NULL,
    reports INTEGER NOT NULL,
    held INTEGER NOT NULL,
    submitted_by TEXT NOT NULL,
    receipt TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX mail_messages_received ON mail_messages(received_at, id);

-- INT-6: reports kept without a case — notify-only ones (a vulnerable service: the tenant is
-- told, nothing is penalised) and those of a muted reporter (kept, never opening a case).
CREATE TABLE held_reports (
    id TEXT PRIMARY KEY,
    mail_id TEXT NOT NULL REFERENCES mail_messages(id),
    disposition TEXT NOT NULL,
    account_id TEXT,
    resource_id TEXT,
    target TEXT NOT NULL,
    category TEXT NOT NULL,
    format TEXT NOT NULL,
    reporter TEXT,
    description TEXT NOT NULL,
    evidence BLOB,
    evidence_sha256 TEXT,
    received_at INTEGER NOT NULL
);
CREATE INDEX held_reports_account ON held_reports(account_id, id);
CREATE INDEX held_reports_mail ON held_reports(mail_id, id);
