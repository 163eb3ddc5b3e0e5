-- Strategy deployments, candle history and daily report rows.

CREATE TABLE strategies (
    id         UUID PRIMARY KEY,
    account_id UUID NOT NULL REFERENCES accounts (id),
    status     TEXT NOT NULL CHECK (status IN ('running', 'paused', 'stopped')),
    created_ns BIGINT NOT NULL,
    body       JSONB NOT NULL
);
CREATE INDEX strategies_by_account ON strategies (account_id, created_ns);

CREATE TABLE candles (
    symbol    TEXT NOT NULL,
    timeframe TEXT NOT NULL,
    start_ns  BIGINT NOT NULL,
    body      JSONB NOT NULL,
    PRIMARY KEY (symbol, timeframe, start_ns)
);

CREATE TABLE reports (
    account_id UUID NOT NULL REFERENCES accounts (id),
    day        TEXT NOT NULL,
    body       JSONB NOT NULL,
    PRIMARY KEY (account_id, day)
);
