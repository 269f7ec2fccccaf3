-- depends: 0001.timeline-indexes
-- The per-order projection (ADR 0010): each order as the one judge answered at a recorded clock,
-- updated in the transaction of the consumed event (or tick) that caused the judgement.

-- The recorded clock of each partition of the work-orders topic: the latest tick or event
-- recorded_at seen there, and the last offset applied (the replay check stops where live is).
CREATE TABLE partition_clocks (
    kafka_partition INTEGER     PRIMARY KEY,
    clock           TIMESTAMPTZ NOT NULL,
    last_offset     BIGINT      NOT NULL
);

CREATE TABLE order_projection (
    work_order_id   UUID        PRIMARY KEY,
    kafka_partition INTEGER     NOT NULL,
    judged_at       TIMESTAMPTZ NOT NULL,
    policy_version  TEXT        NOT NULL,
    department      TEXT,
    a_at TIMESTAMPTZ, b_at TIMESTAMPTZ, c_at TIMESTAMPTZ, d_at TIMESTAMPTZ,
    e_at TIMESTAMPTZ, f_at TIMESTAMPTZ, g_at TIMESTAMPTZ, h_at TIMESTAMPTZ,
    total_s         DOUBLE PRECISION,
    total_status    TEXT        NOT NULL,
    next_due_at     TIMESTAMPTZ,
    hash            TEXT        NOT NULL
);
CREATE INDEX order_projection_by_a ON order_projection (a_at, department);
CREATE INDEX order_projection_due ON order_projection (kafka_partition, next_due_at)
    WHERE next_due_at IS NOT NULL;

-- A and the department repeat the order's, so that a report reads the segments of a period
-- by index without joining a million orders.
CREATE TABLE order_segments (
    work_order_id UUID    NOT NULL REFERENCES order_projection ON DELETE CASCADE,
    segment       TEXT    NOT NULL,
    a_at          TIMESTAMPTZ,
    department    TEXT,
    status        TEXT    NOT NULL,
    responsible   TEXT,
    duration_s    DOUBLE PRECISION,
    ended         BOOLEAN NOT NULL,
    limit_s       INTEGER NOT NULL,
    PRIMARY KEY (work_order_id, segment)
);
CREATE INDEX order_segments_by_a ON order_segments (a_at, segment);

-- Live breaches: one per order, segment and attempt (the SegmentBreached event id).
CREATE TABLE breaches (
    event_id      UUID        PRIMARY KEY,
    work_order_id UUID        NOT NULL,
    segment       TEXT        NOT NULL,
    attempt       INTEGER     NOT NULL,
    responsible   TEXT,
    limit_s       INTEGER     NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL,
    breached_at   TIMESTAMPTZ NOT NULL,
    status        TEXT        NOT NULL CHECK (status IN ('open', 'closed')),
    closed_at     TIMESTAMPTZ,
    UNIQUE (work_order_id, segment, attempt)
);
CREATE INDEX breaches_open ON breaches (breached_at) WHERE status = 'open';

-- Re-judgements (an explicit, recorded action): each order's answer under another policy
-- version, beside the live one.
CREATE TABLE rejudged_timelines (
    work_order_id  UUID        NOT NULL,
    policy_version TEXT        NOT NULL,
    rejudgement_id UUID        NOT NULL,
    judged_at      TIMESTAMPTZ NOT NULL,
    hash           TEXT        NOT NULL,
    body           JSONB       NOT NULL,
    PRIMARY KEY (work_order_id, policy_version)
);
