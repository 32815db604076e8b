-- Accounts, server-side sessions, trusted devices and the audit log.
-- Kept equivalent to ../sqlite/0001_accounts_sessions_audit.sql (a test compares them).
-- Times are Unix milliseconds; ids are random hex text; flags are 0/1 integers.

CREATE TABLE accounts (
    id            TEXT    PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL,
    email         TEXT,
    password_hash TEXT,
    disabled      BIGINT  NOT NULL DEFAULT 0,
    created_at    BIGINT  NOT NULL
);

CREATE TABLE sessions (
    id_hash      TEXT    PRIMARY KEY,
    account_id   TEXT    REFERENCES accounts(id) ON DELETE CASCADE,
    created_at   BIGINT  NOT NULL,
    last_seen_at BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL,
    client       TEXT    NOT NULL,
    user_agent   TEXT
);
CREATE INDEX sessions_account ON sessions(account_id);
CREATE INDEX sessions_expires ON sessions(expires_at);
CREATE INDEX sessions_last_seen ON sessions(last_seen_at);

CREATE TABLE trusted_devices (
    token_hash   TEXT    NOT NULL,
    account_id   TEXT    NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at   BIGINT  NOT NULL,
    last_used_at BIGINT  NOT NULL,
    PRIMARY KEY (token_hash, account_id)
);

CREATE TABLE audit_log (
    id          TEXT    PRIMARY KEY,
    at          BIGINT  NOT NULL,
    kind        TEXT    NOT NULL,
    account_key TEXT    NOT NULL,
    account_id  TEXT,
    client      TEXT    NOT NULL,
    trusted     BIGINT  NOT NULL DEFAULT 0,
    outcome     TEXT    NOT NULL,
    detail      TEXT
);
CREATE INDEX audit_kind_account ON audit_log(kind, account_key, at);
CREATE INDEX audit_kind_client ON audit_log(kind, client, at);
CREATE INDEX audit_account_id ON audit_log(account_id, at);
