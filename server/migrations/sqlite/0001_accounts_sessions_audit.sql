-- Accounts, server-side sessions, trusted devices and the audit log.
-- Kept equivalent to ../postgres/0001_accounts_sessions_audit.sql (a test compares them).
-- Times are Unix milliseconds; ids are random hex text; flags are 0/1 integers.

CREATE TABLE accounts (
    id            TEXT    PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,       -- canonical account name (lower case ASCII)
    display_name  TEXT    NOT NULL,
    email         TEXT,
    password_hash TEXT,                          -- Argon2id PHC string; NULL = no password sign-in
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    id_hash      TEXT    PRIMARY KEY,            -- SHA-256 (hex) of the cookie token
    account_id   TEXT    REFERENCES accounts(id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,               -- absolute expiry, for clean-up
    client       TEXT    NOT NULL,
    user_agent   TEXT
);
CREATE INDEX sessions_account ON sessions(account_id);
CREATE INDEX sessions_expires ON sessions(expires_at);
CREATE INDEX sessions_last_seen ON sessions(last_seen_at);

CREATE TABLE trusted_devices (
    token_hash   TEXT    NOT NULL,               -- SHA-256 (hex) of the device cookie token
    account_id   TEXT    NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    PRIMARY KEY (token_hash, account_id)
);

CREATE TABLE audit_log (
    id          TEXT    PRIMARY KEY,
    at          INTEGER NOT NULL,
    kind        TEXT    NOT NULL,                -- login.password, logout, ...
    account_key TEXT    NOT NULL,                -- the account name as submitted (canonical form)
    account_id  TEXT,                            -- the account it resolved to, if any
    client      TEXT    NOT NULL,
    trusted     INTEGER NOT NULL DEFAULT 0,      -- client held a trusted-device cookie
    outcome     TEXT    NOT NULL,                -- pending | success | failure | throttled | ok
    detail      TEXT
);
CREATE INDEX audit_kind_account ON audit_log(kind, account_key, at);
CREATE INDEX audit_kind_client ON audit_log(kind, client, at);
CREATE INDEX audit_account_id ON audit_log(account_id, at);
