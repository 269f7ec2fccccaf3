-- depends: 0001.common-event-store
-- One way to be idempotent (ADR 0006): every keyed write claims its natural key here, in the same
-- transaction as the event it records, with the request as first posted and the answer it got.
-- A retry with the same request is answered from here; another request under the key is 409.
CREATE TABLE idempotency_keys (
    scope      TEXT        NOT NULL,
    key        TEXT        NOT NULL,
    request    JSONB       NOT NULL,
    answer     JSONB,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
