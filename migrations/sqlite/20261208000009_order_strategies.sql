-- The strategy deployment that placed an order (NULL for a user's own order), so a
-- deployment's fills can be read back for its performance (as migrations/postgres/).
ALTER TABLE orders ADD COLUMN strategy_id TEXT;
CREATE INDEX orders_by_strategy ON orders (strategy_id) WHERE strategy_id IS NOT NULL;
UPDATE orders SET strategy_id = json_extract(body, '$.strategy_id')
 WHERE json_extract(body, '$.strategy_id') IS NOT NULL;
