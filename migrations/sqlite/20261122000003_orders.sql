-- Orders, fills and positions: the same tables as migrations/ (Postgres).

CREATE TABLE orders (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    client_order_id TEXT,
    symbol          TEXT NOT NULL,
    status          TEXT NOT NULL,
    created_ns      INTEGER NOT NULL,
    body            TEXT NOT NULL,
    UNIQUE (account_id, client_order_id)
);
CREATE INDEX orders_by_account ON orders (account_id, created_ns DESC, id DESC);

CREATE TABLE fills (
    order_id   TEXT NOT NULL,
    trade_id   INTEGER NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    time_ns    INTEGER NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (order_id, trade_id)
);
CREATE INDEX fills_by_account ON fills (account_id, time_ns DESC);

CREATE TABLE positions (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    symbol     TEXT NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (account_id, symbol)
);
