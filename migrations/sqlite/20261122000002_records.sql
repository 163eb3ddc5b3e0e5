-- The system of record in the embedded file: the same tables as migrations/ (Postgres),
-- with money as exact decimal TEXT (SQLite has no exact decimal type) and UUIDs as TEXT.

CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('paper', 'broker')),
    base_currency TEXT NOT NULL CHECK (length(base_currency) = 3),
    cash          TEXT NOT NULL DEFAULT '0',
    created_ns    INTEGER NOT NULL
);
CREATE INDEX accounts_by_user ON accounts (user_id, created_ns);

CREATE TABLE ledger_entries (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    kind          TEXT NOT NULL,
    amount        TEXT NOT NULL,
    balance_after TEXT NOT NULL,
    reference     TEXT NOT NULL DEFAULT '',
    time_ns       INTEGER NOT NULL
);
CREATE INDEX ledger_by_account ON ledger_entries (account_id, seq);

CREATE TABLE outbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id      TEXT NOT NULL UNIQUE,
    stream        TEXT NOT NULL,
    partition_key TEXT NOT NULL,
    payload       BLOB NOT NULL,
    published     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published = 0;

CREATE TABLE checkpoints (
    consumer   TEXT NOT NULL,
    stream     TEXT NOT NULL,
    shard      TEXT NOT NULL,
    sequence   TEXT NOT NULL,
    PRIMARY KEY (consumer, stream, shard)
);

CREATE TABLE engine_snapshots (
    name     TEXT PRIMARY KEY,
    version  INTEGER NOT NULL,
    taken_ns INTEGER NOT NULL,
    state    BLOB NOT NULL
);
