-- What each account's working orders add up to (as migrations/ for Postgres); decimals
-- as exact text, summed in Rust.

CREATE TABLE account_exposure (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    symbol     TEXT NOT NULL,
    side       TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity   TEXT NOT NULL,
    notional   TEXT NOT NULL,
    PRIMARY KEY (account_id, symbol, side)
);
