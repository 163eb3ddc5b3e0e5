-- Strategy deployments, candle history and daily report rows (as migrations/ for Postgres).

CREATE TABLE strategies (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    status     TEXT NOT NULL CHECK (status IN ('running', 'paused', 'stopped')),
    created_ns INTEGER NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX strategies_by_account ON strategies (account_id, created_ns);

CREATE TABLE candles (
    symbol    TEXT NOT NULL,
    timeframe TEXT NOT NULL,
    start_ns  INTEGER NOT NULL,
    body      TEXT NOT NULL,
    PRIMARY KEY (symbol, timeframe, start_ns)
);

CREATE TABLE reports (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    day        TEXT NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (account_id, day)
);
