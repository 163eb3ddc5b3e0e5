-- Command ids the core applied (as migrations/ for Postgres): a command delivered twice
-- is recognised, also after a restart. The newest 100,000 are kept. Appended only, in
-- `seq` order: no index on the (random) ids, so an insert touches the table's last page.
CREATE TABLE applied_commands (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL
);
