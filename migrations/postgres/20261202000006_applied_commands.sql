-- Command ids the core applied: a command delivered twice is recognised, also after a
-- restart. The newest 100,000 are kept. Appended only, in `seq` order.
CREATE TABLE applied_commands (
    seq      BIGSERIAL PRIMARY KEY,
    event_id UUID NOT NULL
);
