-- Certificate sign-in and upload: challenges, bindings, upload flows.
-- Kept equivalent across sqlite/ and postgres/.

-- A challenge per attempt: single use, bound to the browser session and a purpose.
CREATE TABLE challenges (
    nonce        TEXT    PRIMARY KEY,          -- Base64 of 32 random bytes
    session_hash TEXT    NOT NULL,             -- the session it was issued to
    purpose      TEXT    NOT NULL,             -- login | bind
    origin       TEXT    NOT NULL,
    issued_at    BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL,
    used_at      BIGINT
);
CREATE INDEX challenges_expires ON challenges(expires_at);

-- A certificate bound to an account. One certificate, one account (fingerprint unique).
CREATE TABLE cert_bindings (
    id            TEXT    PRIMARY KEY,
    account_id    TEXT    NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    fingerprint   TEXT    NOT NULL UNIQUE,     -- SHA-256 of the certificate DER, hex
    kind          TEXT    NOT NULL,            -- natural | org
    subject       TEXT    NOT NULL,
    issuer        TEXT    NOT NULL,
    serial        TEXT    NOT NULL,
    card_number   TEXT,
    not_before    BIGINT  NOT NULL,            -- Unix seconds
    not_after     BIGINT  NOT NULL,
    certificate   TEXT    NOT NULL,            -- Base64 DER
    contact_email TEXT,
    note          TEXT,
    bound_at      BIGINT  NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX cert_bindings_account ON cert_bindings(account_id);

-- An upload in progress: the account whose password was given (step 1, or the signed-in
-- account), then the verified certificate (step 2) waiting for confirmation (step 3).
CREATE TABLE bind_flows (
    session_hash TEXT    PRIMARY KEY,
    account_id   TEXT    NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    started_at   BIGINT  NOT NULL,
    certificate  TEXT,
    verified_at  BIGINT
);
