-- The order an amend hold belongs to (as migrations/postgres/), so that withdrawing an
-- order that was never sent gives back its holds with it. NULL for holds written before
-- this column: they end with the commit that applies their command.
ALTER TABLE order_holds ADD COLUMN order_id TEXT;
CREATE INDEX order_holds_by_order ON order_holds (order_id) WHERE order_id IS NOT NULL;
