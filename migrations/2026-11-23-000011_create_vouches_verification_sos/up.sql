-- Trust and safety: peer vouches (seed 003), identity verification with private documents
-- and SOS alerts on active orders (seed 004).

-- One user vouches for another's skill in an area. Skill areas are stored normalised (lower
-- case, single spaces) so that "LED tech" and "led  tech" are one vouch; a repeat vouch
-- updates the message of the existing row.
CREATE TABLE vouches (
    id          UUID PRIMARY KEY,
    voucher_id  UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    vouchee_id  UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    skill_area  TEXT NOT NULL CHECK (skill_area <> '' AND length(skill_area) <= 40),
    message     TEXT CHECK (message IS NULL OR length(message) <= 500),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (voucher_id <> vouchee_id),
    CONSTRAINT vouches_once UNIQUE (voucher_id, vouchee_id, skill_area)
);
-- A user's vouches newest first, and the per-skill summary.
CREATE INDEX vouches_vouchee_idx ON vouches (vouchee_id, id DESC);

-- One submission of identity documents and its review. At most one is PENDING per user.
CREATE TABLE verification_requests (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status       TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'VERIFIED', 'REJECTED')),
    reviewer_id  UUID REFERENCES users (id),
    review_note  TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    reviewed_at  TIMESTAMPTZ,
    CHECK ((status = 'PENDING') = (reviewed_at IS NULL))
);
CREATE INDEX verification_requests_user_idx ON verification_requests (user_id, id DESC);
CREATE INDEX verification_requests_status_idx ON verification_requests (status, id DESC);
CREATE INDEX verification_requests_reviewer_idx ON verification_requests (reviewer_id);
CREATE UNIQUE INDEX verification_requests_one_pending ON verification_requests (user_id) WHERE status = 'PENDING';

-- The files of a request. They live in the private store (never under the public uploads
-- route) and are fetched through short-lived signed links.
CREATE TABLE verification_documents (
    id            UUID PRIMARY KEY,
    request_id    UUID NOT NULL REFERENCES verification_requests (id) ON DELETE CASCADE,
    storage_key   TEXT NOT NULL,
    file_name     TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size_bytes    BIGINT NOT NULL CHECK (size_bytes > 0),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX verification_documents_request_idx ON verification_documents (request_id, id);

-- An emergency raised by a party of an active order. At most one unresolved alert per user
-- and order: raising again answers the open one.
CREATE TABLE sos_alerts (
    id               UUID PRIMARY KEY,
    order_id         UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    raised_by        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    latitude         DOUBLE PRECISION NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude        DOUBLE PRECISION NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    message          TEXT CHECK (message IS NULL OR length(message) <= 1000),
    status           TEXT NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'ACKNOWLEDGED', 'RESOLVED')),
    acknowledged_by  UUID REFERENCES users (id),
    acknowledged_at  TIMESTAMPTZ,
    resolved_by      UUID REFERENCES users (id),
    resolved_at      TIMESTAMPTZ,
    resolution_note  TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX sos_alerts_order_idx ON sos_alerts (order_id);
CREATE INDEX sos_alerts_raised_by_idx ON sos_alerts (raised_by);
CREATE INDEX sos_alerts_acknowledged_by_idx ON sos_alerts (acknowledged_by);
CREATE INDEX sos_alerts_resolved_by_idx ON sos_alerts (resolved_by);
CREATE INDEX sos_alerts_status_idx ON sos_alerts (status, id DESC);
CREATE UNIQUE INDEX sos_alerts_one_unresolved ON sos_alerts (order_id, raised_by) WHERE status <> 'RESOLVED';

-- SOS alerts notify every admin: find them without scanning all users.
CREATE INDEX users_admins_idx ON users (id) WHERE is_admin;
