-- Disputes settled by a mediator: who mediates, where the order goes back to when the
-- dispute is dismissed, how it was resolved and what money each side received; and the
-- evidence the parties add.

-- Where an order stood when its dispute froze it: a dismissed dispute puts it back there.
ALTER TABLE disputes
    ADD COLUMN resumes_status   TEXT CHECK (resumes_status IN ('PAYMENT_CONFIRMED', 'IN_PROGRESS', 'SUBMITTED',
                                    'REVISION_REQUESTED')),
    ADD COLUMN mediator_id      UUID REFERENCES users (id),
    ADD COLUMN assigned_at      TIMESTAMPTZ,
    ADD COLUMN resolved_by      UUID REFERENCES users (id),
    ADD COLUMN resolution_note  TEXT,
    -- RESOLVED_SPLIT: the freelancer's share of the escrow in basis points.
    ADD COLUMN split_bps        INTEGER CHECK (split_bps BETWEEN 1 AND 9999),
    -- What the resolution moved out of escrow to each side (before the platform fee on the
    -- freelancer's side); zero when no escrow was held.
    ADD COLUMN client_cents     BIGINT CHECK (client_cents >= 0),
    ADD COLUMN freelancer_cents BIGINT CHECK (freelancer_cents >= 0),
    ADD CONSTRAINT disputes_split_only_when_split CHECK ((split_bps IS NOT NULL) = (status = 'RESOLVED_SPLIT')),
    ADD CONSTRAINT disputes_mediator_assigned CHECK ((mediator_id IS NULL) = (assigned_at IS NULL));

-- Disputes opened before this migration: the status their order left when it was disputed.
UPDATE disputes d
SET resumes_status = (
    SELECT h.from_status
    FROM order_history h
    WHERE h.order_id = d.order_id
      AND h.action IN ('OPEN_DISPUTE', 'PROVIDER_DISPUTE')
      AND h.from_status IN ('PAYMENT_CONFIRMED', 'IN_PROGRESS', 'SUBMITTED', 'REVISION_REQUESTED')
    ORDER BY h.id DESC
    LIMIT 1
);

CREATE INDEX disputes_mediator_idx ON disputes (mediator_id);
CREATE INDEX disputes_resolved_by_idx ON disputes (resolved_by);
-- The admins' queue: `disputes(status)`, oldest first.
CREATE INDEX disputes_status_idx ON disputes (status, id);

-- What the freelancer's side of an order received on release: the whole amount, or a
-- dispute split's share (clearing and the transfer pay out this less the fee).
ALTER TABLE orders
    ADD COLUMN released_cents BIGINT CHECK (released_cents > 0);
UPDATE orders SET released_cents = amount_cents WHERE status = 'COMPLETED' AND settled_at IS NOT NULL;

CREATE TABLE dispute_evidence (
    id          UUID PRIMARY KEY,
    dispute_id  UUID NOT NULL REFERENCES disputes (id) ON DELETE CASCADE,
    author_id   UUID NOT NULL REFERENCES users (id),
    kind        TEXT NOT NULL CHECK (kind IN ('MESSAGE', 'FILE', 'LINK', 'NOTE')),
    -- MESSAGE: the message of the parties' conversation it points at.
    message_id  UUID REFERENCES messages (id) ON DELETE SET NULL,
    -- LINK: an http(s) URL.
    url         TEXT,
    -- FILE: the stored upload ({ key, name, contentType, size }).
    file        JSONB,
    note        TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((kind = 'LINK') = (url IS NOT NULL)),
    CHECK ((kind = 'FILE') = (file IS NOT NULL)),
    CHECK (kind = 'MESSAGE' OR message_id IS NULL)
);
CREATE INDEX dispute_evidence_dispute_idx ON dispute_evidence (dispute_id, id);
CREATE INDEX dispute_evidence_author_idx ON dispute_evidence (author_id);
CREATE INDEX dispute_evidence_message_idx ON dispute_evidence (message_id);
