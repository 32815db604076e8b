-- The portal around the login: announcements and their search index, links, polls, FAQ,
-- home page counters, password reset links, the administrator flag.
-- Kept equivalent to ../postgres/0004_portal_content.sql, except the search index: here an
-- FTS5 table with the trigram tokenizer (finds 人事室 inside 本局人事室公告), there pg_trgm.

CREATE TABLE announcements (
    id           INTEGER PRIMARY KEY,          -- shown in URLs: /announcements/12
    category     TEXT    NOT NULL,             -- vacancy | general | system | regulation | event
    title        TEXT    NOT NULL,
    body_html    TEXT    NOT NULL,             -- sanitised on the server before it is stored
    search_text  TEXT    NOT NULL,             -- folded title + plain body (domain::search)
    published_on TEXT    NOT NULL,             -- YYYY-MM-DD, Taipei
    hot          INTEGER NOT NULL DEFAULT 0,   -- pinned, marked HOT
    retired      INTEGER NOT NULL DEFAULT 0,
    created_by   TEXT,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);
CREATE INDEX announcements_list ON announcements(retired, published_on);
CREATE INDEX announcements_category ON announcements(category, retired, published_on);

CREATE VIRTUAL TABLE announcements_fts USING fts5(
    search_text, content='announcements', content_rowid='id', tokenize='trigram'
);
CREATE TRIGGER announcements_fts_ai AFTER INSERT ON announcements BEGIN
    INSERT INTO announcements_fts(rowid, search_text) VALUES (new.id, new.search_text);
END;
CREATE TRIGGER announcements_fts_ad AFTER DELETE ON announcements BEGIN
    INSERT INTO announcements_fts(announcements_fts, rowid, search_text)
    VALUES ('delete', old.id, old.search_text);
END;
CREATE TRIGGER announcements_fts_au AFTER UPDATE OF search_text ON announcements BEGIN
    INSERT INTO announcements_fts(announcements_fts, rowid, search_text)
    VALUES ('delete', old.id, old.search_text);
    INSERT INTO announcements_fts(rowid, search_text) VALUES (new.id, new.search_text);
END;

-- 人事業務連結: the link table on the home page.
CREATE TABLE links (
    id         TEXT    PRIMARY KEY,
    title      TEXT    NOT NULL,
    url        TEXT    NOT NULL,
    position   INTEGER NOT NULL,
    updated_at BIGINT  NOT NULL
);

-- 主題投票. One vote per account and poll: the primary key of poll_votes enforces it.
CREATE TABLE polls (
    id         TEXT    PRIMARY KEY,
    question   TEXT    NOT NULL,
    active     INTEGER NOT NULL DEFAULT 0,     -- the poll the home page shows (newest active)
    closed     INTEGER NOT NULL DEFAULT 0,     -- no more votes; results stay visible
    created_at BIGINT  NOT NULL
);
CREATE TABLE poll_options (
    id       TEXT    PRIMARY KEY,
    poll_id  TEXT    NOT NULL REFERENCES polls(id) ON DELETE CASCADE,
    label    TEXT    NOT NULL,
    position INTEGER NOT NULL
);
CREATE INDEX poll_options_poll ON poll_options(poll_id);
CREATE TABLE poll_votes (
    poll_id    TEXT    NOT NULL REFERENCES polls(id) ON DELETE CASCADE,
    account_id TEXT    NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    option_id  TEXT    NOT NULL REFERENCES poll_options(id) ON DELETE CASCADE,
    voted_at   BIGINT  NOT NULL,
    PRIMARY KEY (poll_id, account_id)
);
CREATE INDEX poll_votes_option ON poll_votes(option_id);

-- 常見問題. body_html is sanitised on the server before it is stored.
CREATE TABLE faq_entries (
    id         TEXT    PRIMARY KEY,            -- Q000815
    category   TEXT    NOT NULL,
    question   TEXT    NOT NULL,
    body_html  TEXT    NOT NULL,
    position   INTEGER NOT NULL,
    retired    INTEGER NOT NULL DEFAULT 0,
    updated_at BIGINT  NOT NULL
);

-- Home page counters, kept at sign-in so the home page never scans the audit log.
CREATE TABLE counters (
    name  TEXT   PRIMARY KEY,
    value BIGINT NOT NULL
);
-- Who signed in on which Taipei calendar day (今日總計人數 = rows of today).
CREATE TABLE daily_sign_ins (
    day        TEXT   NOT NULL,                -- YYYY-MM-DD, Taipei
    account_id TEXT   NOT NULL,
    first_at   BIGINT NOT NULL,
    PRIMARY KEY (day, account_id)
);
-- 累積上線人數 starts from the sign-ins already in the audit log.
INSERT INTO counters (name, value)
SELECT 'sign_ins_total', COUNT(*) FROM audit_log
WHERE outcome = 'success' AND kind IN ('login.password', 'login.certificate');

-- Password reset links: only the token's hash is kept; single use, 30 minutes.
CREATE TABLE password_resets (
    token_hash TEXT    PRIMARY KEY,
    account_id TEXT    NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    used_at    BIGINT
);
CREATE INDEX password_resets_account ON password_resets(account_id);

-- Administrators (granted with `ecpa-server account grant-admin`).
ALTER TABLE accounts ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0;
