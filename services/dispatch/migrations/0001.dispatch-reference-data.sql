-- depends: 0001.common-event-store
-- Reference data the repair centers keep: who can be sent, in which vehicle, whom to phone.
CREATE TABLE repair_centers (
    repair_center_id TEXT PRIMARY KEY,
    body             JSONB       NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE crews (
    crew_id          TEXT PRIMARY KEY,
    repair_center_id TEXT        NOT NULL REFERENCES repair_centers,
    body             JSONB       NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE vehicles (
    vehicle_id TEXT PRIMARY KEY,
    crew_id    TEXT        NOT NULL REFERENCES crews,
    body       JSONB       NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per GPS post: a unit retries with the same report id and must get the first answer.
CREATE TABLE device_reports (
    vehicle_id  TEXT        NOT NULL,
    report_id   TEXT        NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    answer      JSONB,
    PRIMARY KEY (vehicle_id, report_id)
);
