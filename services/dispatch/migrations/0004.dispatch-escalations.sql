-- depends: 0003.dispatch-workflow
-- The escalation ladder (communication rules 1 and 2). Every table here is kept in the
-- transaction that records the events it follows, so it never disagrees with them.

-- The rungs of the ladder, due at a time taken from the events' own stamps. Each fires once
-- (fired_at), whatever the number of instances (FOR UPDATE SKIP LOCKED) or restarts (the raise
-- commits with fired_at, or not at all). The event that ends the wait settles the rung early
-- (fired_at, outcome 'not needed: ...'); a missed level-1 call brings level 2's due_at forward.
CREATE TABLE escalation_timers (
    escalation_id          UUID PRIMARY KEY,
    work_order_id          UUID        NOT NULL,
    rule                   TEXT        NOT NULL CHECK (rule IN ('not_received', 'not_taken')),
    level                  INTEGER     NOT NULL CHECK (level IN (1, 2)),
    due_at                 TIMESTAMPTZ NOT NULL,
    waiting_since_event_id UUID        NOT NULL,
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    fired_at               TIMESTAMPTZ,
    outcome                TEXT,
    CHECK ((fired_at IS NULL) = (outcome IS NULL))
);
CREATE INDEX escalation_timers_due ON escalation_timers (due_at) WHERE fired_at IS NULL;
CREATE INDEX escalation_timers_work_order ON escalation_timers (work_order_id)
    WHERE fired_at IS NULL;

-- The escalations raised, as the phoning person reads them. ``body`` is the EscalationRaised
-- payload (rule, level, notify, contacts, due_at, waiting_since_event_id).
CREATE TABLE escalations (
    escalation_id      UUID PRIMARY KEY,
    work_order_id      UUID        NOT NULL,
    raised_event_id    UUID        NOT NULL UNIQUE REFERENCES events (event_id),
    correlation_id     UUID        NOT NULL,
    due_at             TIMESTAMPTZ NOT NULL,
    raised_at          TIMESTAMPTZ NOT NULL,
    closed_at          TIMESTAMPTZ,
    closed_by_event_id UUID,
    close_reason       TEXT,
    body               JSONB       NOT NULL
);
CREATE INDEX escalations_open ON escalations (due_at) WHERE closed_at IS NULL;
CREATE INDEX escalations_work_order ON escalations (work_order_id);
CREATE INDEX escalations_due ON escalations (due_at);

-- Every phone call recorded against an escalation (EscalationCallRecorded), oldest first.
CREATE TABLE escalation_calls (
    escalation_id UUID        NOT NULL REFERENCES escalations,
    call_id       TEXT        NOT NULL,
    event_id      UUID        NOT NULL UNIQUE REFERENCES events (event_id),
    called_at     TIMESTAMPTZ NOT NULL,
    phone         TEXT        NOT NULL,
    reached       BOOLEAN     NOT NULL,
    note          TEXT,
    recorded_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (escalation_id, call_id)
);
