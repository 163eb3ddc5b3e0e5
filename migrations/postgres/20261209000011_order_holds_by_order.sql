-- The order an amend hold belongs to, so that withdrawing an order that was never sent
-- (store::records::OrderRecords::withdraw_order) gives back its holds with it. NULL for
-- holds written before this column: they end, as every hold does, with the commit that
-- applies their command.
ALTER TABLE order_holds ADD COLUMN order_id UUID;
CREATE INDEX order_holds_by_order ON order_holds (order_id) WHERE order_id IS NOT NULL;
