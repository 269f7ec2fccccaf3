-- depends: 0003.dispatch-workflow
-- The rungs of the escalation ladder, due at a time; each fires once (fired_at), whatever the
-- number of instances (FOR UPDATE SKIP LOCKED) or restarts (the raise commits with fired_at).
CREATE TABLE escalation_timers (
    escalation_id          UUID PRIMARY KEY,
    work_order_id          UUID        NOT NULL,
    rule                   TEXT        NOT NULL,
    level                  INTEGER     NOT NULL,
    due_at                 TIMESTAMPTZ NOT NULL,
    waiting_since_event_id UUID        NOT NULL,
    fired_at               TIMESTAMPTZ,
    outcome                TEXT
);
CREATE INDEX escalation_timers_due ON escalation_timers (due_at) WHERE fired_at IS NULL;

-- The escalations raised, as the phoning person reads them.
CREATE TABLE escalations (
    escalation_id UUID PRIMARY KEY,
    work_order_id UUID        NOT NULL,
    raised_at     TIMESTAMPTZ NOT NULL,
    closed_at     TIMESTAMPTZ,
    body          JSONB       NOT NULL
);
CREATE INDEX escalations_open ON escalations (raised_at) WHERE closed_at IS NULL;
CREATE INDEX escalations_work_order ON escalations (work_order_id);
