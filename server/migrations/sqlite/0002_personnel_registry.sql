-- The personnel registry (表二), to-dos and the application catalog.
-- Kept equivalent across sqlite/ and postgres/. Dates are 'YYYY-MM-DD' text (Taipei calendar).

CREATE TABLE agencies (
    code        TEXT    PRIMARY KEY,             -- 機關代碼
    name        TEXT    NOT NULL,                -- 機關名稱
    oid         TEXT,                            -- 機關 OID (2.16.886.101....)
    parent_code TEXT,                            -- 上級機關代碼
    updated_at  INTEGER  NOT NULL
);
CREATE INDEX agencies_parent ON agencies(parent_code);
CREATE UNIQUE INDEX agencies_oid ON agencies(oid);

CREATE TABLE people (
    national_id TEXT    PRIMARY KEY,             -- 身分證統一編號 (validated)
    name        TEXT    NOT NULL,
    email       TEXT,
    updated_at  INTEGER  NOT NULL
);

CREATE TABLE import_batches (
    id            TEXT    PRIMARY KEY,           -- given batch id, or the file's SHA-256
    seq           INTEGER  NOT NULL UNIQUE,       -- import order
    source        TEXT    NOT NULL,
    encoding      TEXT    NOT NULL,
    started_at    INTEGER  NOT NULL,
    finished_at   INTEGER  NOT NULL,
    rows_read     INTEGER  NOT NULL,
    rows_imported INTEGER  NOT NULL,
    rows_rejected INTEGER  NOT NULL
);

-- Every record of every batch (history).
CREATE TABLE personnel_records (
    national_id     TEXT    NOT NULL REFERENCES people(national_id),
    batch_id        TEXT    NOT NULL REFERENCES import_batches(id),
    batch_seq       INTEGER  NOT NULL,
    agency_code     TEXT    NOT NULL REFERENCES agencies(code),
    unit_name       TEXT    NOT NULL,            -- 服務單位
    title           TEXT    NOT NULL,            -- 職稱
    staff_category  TEXT    NOT NULL,            -- 人員區分, two digits
    concurrent_duty TEXT,                        -- 兼職性質
    status          TEXT    NOT NULL,            -- 現職 | 卸職
    departed_on     TEXT,
    ingested_on     TEXT    NOT NULL,            -- 入檔日期
    PRIMARY KEY (national_id, batch_id)
);

-- The record in force for each person: the newest by (ingested_on, batch_seq).
CREATE TABLE personnel_current (
    national_id     TEXT    PRIMARY KEY REFERENCES people(national_id),
    batch_id        TEXT    NOT NULL REFERENCES import_batches(id),
    batch_seq       INTEGER  NOT NULL,
    agency_code     TEXT    NOT NULL REFERENCES agencies(code),
    unit_name       TEXT    NOT NULL,
    title           TEXT    NOT NULL,
    staff_category  TEXT    NOT NULL,
    concurrent_duty TEXT,
    status          TEXT    NOT NULL,
    departed_on     TEXT,
    ingested_on     TEXT    NOT NULL
);
CREATE INDEX personnel_current_agency ON personnel_current(agency_code);

ALTER TABLE accounts ADD COLUMN national_id TEXT REFERENCES people(national_id);
CREATE UNIQUE INDEX accounts_national_id ON accounts(national_id);

CREATE TABLE todos (
    id          TEXT    PRIMARY KEY,
    account_id  TEXT    NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,                -- e.g. cert.natural.upload, survey:<id>
    title       TEXT    NOT NULL,
    link        TEXT,
    due_on      TEXT,
    created_at  INTEGER  NOT NULL,
    done_at     INTEGER,
    UNIQUE (account_id, kind)
);

CREATE TABLE app_systems (
    code        TEXT    PRIMARY KEY,             -- A1, A1.1, C1, ...
    name        TEXT    NOT NULL,
    group_code  TEXT    NOT NULL,                -- A, B, C
    group_name  TEXT    NOT NULL,                -- 人事資料填報及考核, ...
    url         TEXT    NOT NULL,
    audience    TEXT    NOT NULL,                -- all | personnel
    sort_order  INTEGER  NOT NULL,
    description TEXT
);
