-- Reservations made atomically with the order (see store::records::OrderLimits).
--
-- `reserve_price`: the price at which a market or stop order's remainder is reserved. It
-- is recorded at placement and kept for as long as the order works. Limit orders reserve
-- at their limit price.
--
-- `order_holds`: what an amend adds to an order's reservation. It is held from the
-- request until the core's commit that applies the amend command (`command_id`).
ALTER TABLE orders ADD COLUMN reserve_price NUMERIC;

CREATE TABLE order_holds (
    command_id UUID    PRIMARY KEY,
    account_id UUID    NOT NULL REFERENCES accounts (id),
    symbol     TEXT    NOT NULL,
    side       TEXT    NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity   NUMERIC NOT NULL,
    notional   NUMERIC NOT NULL
);
