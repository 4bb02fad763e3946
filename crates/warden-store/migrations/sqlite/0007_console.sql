-- People and their sessions (issue 10, the console). A login is a handle (`alice`, `acme-ops`),
-- never an e-mail address: contact data stays sealed on the account. Passwords are argon2id PHC
-- strings; a session is stored by the SHA-256 of its cookie secret, never the secret itself.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    account_id TEXT REFERENCES accounts(id),
    account_owner INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT NOT NULL,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    password_changed_at INTEGER NOT NULL,
    disabled_at INTEGER
);
CREATE INDEX users_account ON users(account_id, id);

CREATE TABLE sessions (
    secret_hash TEXT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ended_at INTEGER
);
CREATE INDEX sessions_user ON sessions(user_id, created_at);
