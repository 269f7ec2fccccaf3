-- The events this service wrote itself: append-only, one stream per aggregate, versioned.
CREATE TABLE events (
    global_position BIGSERIAL PRIMARY KEY,
    stream_id       TEXT        NOT NULL,
    version         INTEGER     NOT NULL CHECK (version > 0),
    event_id        UUID        NOT NULL UNIQUE,
    event_type      TEXT        NOT NULL,
    schema_version  INTEGER     NOT NULL,
    work_order_id   UUID,
    occurred_at     TIMESTAMPTZ NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    body            JSONB       NOT NULL,
    UNIQUE (stream_id, version)
);
CREATE INDEX events_work_order ON events (work_order_id, global_position);

CREATE FUNCTION events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % refused', TG_OP;
END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();

-- Written in the same transaction as the event; the relay publishes and stamps the Kafka offset.
CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    event_id        UUID        NOT NULL UNIQUE REFERENCES events (event_id),
    topic           TEXT        NOT NULL,
    key             TEXT        NOT NULL,
    published_at    TIMESTAMPTZ,
    kafka_partition INTEGER,
    kafka_offset    BIGINT
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- What this service consumed from Kafka: the idempotency record (event_id) and, with its
-- topic/partition/offset and both clocks, the auditor's history.
CREATE TABLE received_events (
    event_id        UUID        PRIMARY KEY,
    event_type      TEXT        NOT NULL,
    work_order_id   UUID,
    occurred_at     TIMESTAMPTZ NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    topic           TEXT        NOT NULL,
    kafka_partition INTEGER     NOT NULL,
    kafka_offset    BIGINT      NOT NULL,
    body            JSONB       NOT NULL
);
CREATE INDEX received_events_work_order ON received_events (work_order_id, occurred_at);
