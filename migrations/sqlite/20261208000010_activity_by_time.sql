-- Orders and fills by time across accounts: the operations dashboard's per-minute
-- activity (store::records::PlatformActivity), as migrations/postgres/.
CREATE INDEX orders_by_time ON orders (created_ns);
CREATE INDEX fills_by_time ON fills (time_ns);
