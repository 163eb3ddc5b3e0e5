-- The system of record (Postgres role): accounts, their ledger, the outbox the core
-- relays to streams, stream checkpoints and engine snapshots. Money is NUMERIC (exact);
-- times are BIGINT nanoseconds since the Unix epoch (UTC), exactly the domain's
-- Timestamp.

CREATE TABLE accounts (
    id            UUID PRIMARY KEY,
    user_id       UUID NOT NULL,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('paper', 'broker')),
    base_currency TEXT NOT NULL CHECK (length(base_currency) = 3),
    cash          NUMERIC(38, 10) NOT NULL DEFAULT 0,
    created_ns    BIGINT NOT NULL
);
CREATE INDEX accounts_by_user ON accounts (user_id, created_ns);

CREATE TABLE ledger_entries (
    id            UUID PRIMARY KEY,
    account_id    UUID NOT NULL REFERENCES accounts (id),
    kind          TEXT NOT NULL,
    amount        NUMERIC(38, 10) NOT NULL,
    balance_after NUMERIC(38, 10) NOT NULL,
    reference     TEXT NOT NULL DEFAULT '',
    time_ns       BIGINT NOT NULL,
    seq           BIGSERIAL NOT NULL
);
CREATE INDEX ledger_by_account ON ledger_entries (account_id, seq);

CREATE TABLE outbox (
    id            BIGSERIAL PRIMARY KEY,
    event_id      UUID NOT NULL UNIQUE,
    stream        TEXT NOT NULL,
    partition_key TEXT NOT NULL,
    payload       BYTEA NOT NULL,
    published     BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE NOT published;

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
    taken_ns BIGINT NOT NULL,
    state    BYTEA NOT NULL
);
