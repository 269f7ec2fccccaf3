-- depends: 0002.common-idempotency-keys
-- Access tokens as consumed from repair.access.v1 (ADR 0011): the SHA-256 of each token, its
-- role, scope and expiry; never the token. A revocation is a row of its own, so that it counts
-- whichever of the two events is applied first.
CREATE TABLE access_tokens (
    token_id         TEXT        PRIMARY KEY,
    token_hash       TEXT        NOT NULL,
    role             TEXT        NOT NULL,
    repair_center_id TEXT,
    vehicle_id       TEXT,
    expires_at       TIMESTAMPTZ NOT NULL,
    issued_by        TEXT        NOT NULL,
    issued_at        TIMESTAMPTZ NOT NULL
);

CREATE TABLE access_revocations (
    token_id   TEXT        PRIMARY KEY,
    revoked_at TIMESTAMPTZ NOT NULL,
    revoked_by TEXT        NOT NULL
);
