-- Research jobs (backtests, optimisations; see store::records::ResearchJobs). `body` is
-- the job without its result (status, progress, times, error as the API shows them); the
-- columns beside it are what the queries select on.
CREATE TABLE research_jobs (
    id         UUID PRIMARY KEY,
    user_id    UUID NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('backtest', 'optimization')),
    status     TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    created_ns BIGINT NOT NULL,
    started_ns BIGINT,
    body       JSONB NOT NULL,
    result     JSONB
);
CREATE INDEX research_jobs_by_user ON research_jobs (user_id, kind, created_ns DESC);
CREATE INDEX research_jobs_by_status ON research_jobs (status, created_ns);
