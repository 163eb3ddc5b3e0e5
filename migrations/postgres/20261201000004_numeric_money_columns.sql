-- Money and quantities of fills, positions and orders as NUMERIC columns, for SQL that
-- sums or filters them (reconciliation, reporting). They are generated from the exact
-- decimal strings in `body`, which stays the one thing the application writes, so the
-- two can never disagree.

ALTER TABLE fills
    ADD COLUMN price    NUMERIC GENERATED ALWAYS AS ((body ->> 'price')::numeric) STORED,
    ADD COLUMN quantity NUMERIC GENERATED ALWAYS AS ((body ->> 'quantity')::numeric) STORED,
    ADD COLUMN fee      NUMERIC GENERATED ALWAYS AS ((body ->> 'fee')::numeric) STORED;

ALTER TABLE positions
    ADD COLUMN quantity      NUMERIC GENERATED ALWAYS AS ((body ->> 'quantity')::numeric) STORED,
    ADD COLUMN average_price NUMERIC GENERATED ALWAYS AS ((body ->> 'average_price')::numeric) STORED,
    ADD COLUMN realized_pnl  NUMERIC GENERATED ALWAYS AS ((body ->> 'realized_pnl')::numeric) STORED,
    ADD COLUMN fees          NUMERIC GENERATED ALWAYS AS ((body ->> 'fees')::numeric) STORED;

ALTER TABLE orders
    ADD COLUMN quantity        NUMERIC GENERATED ALWAYS AS ((body ->> 'quantity')::numeric) STORED,
    ADD COLUMN filled_quantity NUMERIC GENERATED ALWAYS AS ((body ->> 'filled_quantity')::numeric) STORED;
