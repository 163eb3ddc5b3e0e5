-- Reservations made atomically with the order (as migrations/ for Postgres): a market or
-- stop order's reserve price, kept for as long as the order works, and what an amend
-- holds until the core applies it. Decimals as exact text.
ALTER TABLE orders ADD COLUMN reserve_price TEXT;

CREATE TABLE order_holds (
    command_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    symbol     TEXT NOT NULL,
    side       TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity   TEXT NOT NULL,
    notional   TEXT NOT NULL
);
