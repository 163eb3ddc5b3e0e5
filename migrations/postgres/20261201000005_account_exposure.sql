-- What each account's working orders add up to, per symbol and side: remaining quantity
-- and that quantity at the orders' prices. Kept in the transactions that write orders, so
-- buying power and position limits are read without scanning the orders.

CREATE TABLE account_exposure (
    account_id UUID    NOT NULL REFERENCES accounts (id),
    symbol     TEXT    NOT NULL,
    side       TEXT    NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity   NUMERIC NOT NULL,
    notional   NUMERIC NOT NULL,
    PRIMARY KEY (account_id, symbol, side)
);
