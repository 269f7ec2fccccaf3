-- depends: 0001.common-event-store
-- One row per call: the phone system may post the same call twice; it opens one work order.
CREATE TABLE calls (
    call_id       TEXT        PRIMARY KEY,
    work_order_id UUID        NOT NULL UNIQUE,
    event_id      UUID        NOT NULL REFERENCES events (event_id) DEFERRABLE INITIALLY DEFERRED,
    request       JSONB       NOT NULL
);
