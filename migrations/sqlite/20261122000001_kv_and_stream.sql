-- The embedded backend's key-value tables (the DynamoDB role) and stream log (the
-- Kinesis role), in the one SQLite file of `stratus up`.

CREATE TABLE kv_items (
    table_name TEXT    NOT NULL,
    pk         TEXT    NOT NULL,
    sk         TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    version    INTEGER NOT NULL CHECK (version > 0),
    -- The TTL attribute: Unix seconds after which the item is gone for readers.
    expires_at INTEGER,
    PRIMARY KEY (table_name, pk, sk)
) WITHOUT ROWID;

CREATE INDEX kv_items_expiry ON kv_items (expires_at) WHERE expires_at IS NOT NULL;

-- One row per record. `seq` grows across the whole log, so it grows within each shard:
-- it is the record's sequence number.
CREATE TABLE stream_records (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    stream        TEXT    NOT NULL,
    shard         INTEGER NOT NULL,
    partition_key TEXT    NOT NULL,
    data          BLOB    NOT NULL
);

CREATE INDEX stream_records_read ON stream_records (stream, shard, seq);
