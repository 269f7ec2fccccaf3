-- depends: 0002.dispatch-device-reports-to-idempotency-keys
-- The repair center's workflow (issue 6). Every table here is a projection kept in the
-- transaction that records the events it follows, so it never disagrees with them.

-- Where each order stands (domain.board): the inboxes, the vehicles' queues.
CREATE TABLE order_board (
    work_order_id    UUID PRIMARY KEY,
    repair_center_id TEXT,
    status           TEXT        NOT NULL,
    is_open          BOOLEAN     NOT NULL,
    vehicle_id       TEXT,
    oldest_at        TIMESTAMPTZ,
    entry            JSONB       NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX order_board_inbox ON order_board (repair_center_id, status, oldest_at) WHERE is_open;
CREATE INDEX order_board_queue ON order_board (vehicle_id) WHERE is_open;

-- Recalls by vehicle, so that a unit that was offline learns what was taken off it.
CREATE TABLE vehicle_recalls (
    event_id      UUID PRIMARY KEY,
    vehicle_id    TEXT        NOT NULL,
    work_order_id UUID        NOT NULL,
    recalled_at   TIMESTAMPTZ NOT NULL,
    recall        JSONB       NOT NULL
);
CREATE INDEX vehicle_recalls_vehicle ON vehicle_recalls (vehicle_id, recalled_at);

-- What each vehicle says of itself: availability (rule 6), unit fault (rule 7), last position.
CREATE TABLE vehicle_status (
    vehicle_id   TEXT PRIMARY KEY,
    unavailable  JSONB,
    device_fault JSONB,
    position     JSONB,
    position_at  TIMESTAMPTZ
);

-- Orders that found no suitable standby vehicle (rule 5), for the capacity alerts' sliding window.
CREATE TABLE dispatch_blocks (
    event_id      UUID PRIMARY KEY,
    work_order_id UUID        NOT NULL,
    group_key     TEXT        NOT NULL,
    blocked_at    TIMESTAMPTZ NOT NULL,
    alerted       BOOLEAN     NOT NULL DEFAULT false
);
CREATE INDEX dispatch_blocks_window ON dispatch_blocks (group_key, blocked_at) WHERE NOT alerted;

CREATE TABLE capacity_alerts (
    alert_id         UUID PRIMARY KEY,
    repair_center_id TEXT        NOT NULL,
    raised_at        TIMESTAMPTZ NOT NULL,
    body             JSONB       NOT NULL
);
CREATE INDEX capacity_alerts_raised ON capacity_alerts (raised_at);
