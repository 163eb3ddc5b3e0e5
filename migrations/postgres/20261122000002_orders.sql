-- Orders, fills and positions. Each row keeps the domain value as JSON (exact: decimals
-- are strings) next to the columns that queries filter, sort and join on.

CREATE TABLE orders (
    id              UUID PRIMARY KEY,
    account_id      UUID NOT NULL REFERENCES accounts (id),
    client_order_id TEXT,
    symbol          TEXT NOT NULL,
    status          TEXT NOT NULL,
    created_ns      BIGINT NOT NULL,
    body            JSONB NOT NULL,
    UNIQUE (account_id, client_order_id)
);
CREATE INDEX orders_by_account ON orders (account_id, created_ns DESC, id DESC);

CREATE TABLE fills (
    order_id   UUID NOT NULL,
    trade_id   BIGINT NOT NULL,
    account_id UUID NOT NULL REFERENCES accounts (id),
    time_ns    BIGINT NOT NULL,
    body       JSONB NOT NULL,
    PRIMARY KEY (order_id, trade_id)
);
CREATE INDEX fills_by_account ON fills (account_id, time_ns DESC);

CREATE TABLE positions (
    account_id UUID NOT NULL REFERENCES accounts (id),
    symbol     TEXT NOT NULL,
    body       JSONB NOT NULL,
    PRIMARY KEY (account_id, symbol)
);
