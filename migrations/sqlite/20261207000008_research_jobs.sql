-- Research jobs (as migrations/postgres/ for Postgres).
CREATE TABLE research_jobs (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('backtest', 'optimization')),
    status     TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    created_ns INTEGER NOT NULL,
    started_ns INTEGER,
    body       TEXT NOT NULL,
    result     TEXT
);
CREATE INDEX research_jobs_by_user ON research_jobs (user_id, kind, created_ns DESC);
CREATE INDEX research_jobs_by_status ON research_jobs (status, created_ns);
