-- depends: 0002.timeline-projection
-- The escalation ladder (rules 1 and 2) as consumed from repair.escalations.v1: every raised
-- rung, recorded call and closure, each once by its event id, with both clocks and where it sat
-- in Kafka. The ladder an auditor reads is folded from these rows on request (as of any
-- instant, by recorded_at), as the timeline itself is folded from received_events; they are not
-- kept in received_events, which holds the order's own steps (its /events history).
CREATE TABLE ladder_events (
    event_id        UUID        PRIMARY KEY,
    event_type      TEXT        NOT NULL,
    work_order_id   UUID        NOT NULL,
    escalation_id   UUID        NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    topic           TEXT        NOT NULL,
    kafka_partition INTEGER     NOT NULL,
    kafka_offset    BIGINT      NOT NULL,
    body            JSONB       NOT NULL
);
CREATE INDEX ladder_events_by_order ON ladder_events (work_order_id, recorded_at);
