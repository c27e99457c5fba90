-- Orders, their milestones, history, payment proofs, deliverables, board and codes; the
-- freelancer calendar; the double-entry ledger; idempotency keys; the admin audit log.

-- A freelancer's proposal carries the revisions it includes (the order inherits them).
ALTER TABLE applications ADD COLUMN revisions INTEGER NOT NULL DEFAULT 2 CHECK (revisions BETWEEN 0 AND 20);

-- Refuses UPDATE, DELETE and TRUNCATE on append-only tables.
CREATE FUNCTION gm_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TABLE orders (
    id              UUID PRIMARY KEY,
    client_id       UUID NOT NULL REFERENCES users (id),
    freelancer_id   UUID NOT NULL REFERENCES users (id),
    origin          TEXT NOT NULL CHECK (origin IN ('GIG', 'APPLICATION', 'TASK', 'BOOKING')),
    gig_id          UUID REFERENCES gigs (id) ON DELETE SET NULL,
    package_tier    TEXT CHECK (package_tier IN ('BASIC', 'STANDARD', 'PREMIUM')),
    task_id         UUID REFERENCES tasks (id) ON DELETE SET NULL,
    application_id  UUID UNIQUE REFERENCES applications (id) ON DELETE SET NULL,
    title           TEXT NOT NULL,
    requirements    TEXT NOT NULL DEFAULT '',
    amount_cents    BIGINT NOT NULL CHECK (amount_cents > 0),
    currency        TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- The platform fee, fixed when the order is funded.
    fee_bps         INTEGER CHECK (fee_bps BETWEEN 0 AND 10000),
    status          TEXT NOT NULL CHECK (status IN ('REQUESTED', 'DECLINED', 'PENDING_PAYMENT', 'PAYMENT_SUBMITTED',
                        'PAYMENT_CONFIRMED', 'IN_PROGRESS', 'SUBMITTED', 'REVISION_REQUESTED', 'COMPLETED',
                        'CANCELLED', 'DISPUTED')),
    revision_limit  INTEGER NOT NULL CHECK (revision_limit BETWEEN 0 AND 100),
    revisions_used  INTEGER NOT NULL DEFAULT 0 CHECK (revisions_used >= 0),
    on_site         BOOLEAN NOT NULL DEFAULT FALSE,
    scheduled_for   DATE,
    event_location  TEXT,
    due_at          TIMESTAMPTZ,
    -- Money: funded_at when the amount entered escrow, settled_at when it left (released or
    -- refunded), cleared_at when released earnings moved from pending to available.
    funded_at       TIMESTAMPTZ,
    settled_at      TIMESTAMPTZ,
    cleared_at      TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (client_id <> freelancer_id),
    CHECK (settled_at IS NULL OR funded_at IS NOT NULL)
);
CREATE INDEX orders_client_idx ON orders (client_id, id DESC);
CREATE INDEX orders_freelancer_idx ON orders (freelancer_id, id DESC);
CREATE INDEX orders_gig_id_idx ON orders (gig_id);
CREATE INDEX orders_task_id_idx ON orders (task_id);
-- Earnings waiting to clear.
CREATE INDEX orders_uncleared_idx ON orders (settled_at) WHERE status = 'COMPLETED' AND cleared_at IS NULL;

CREATE TABLE order_milestones (
    id            UUID PRIMARY KEY,
    order_id      UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    title         TEXT NOT NULL,
    amount_cents  BIGINT NOT NULL CHECK (amount_cents > 0),
    due_at        TIMESTAMPTZ,
    -- [{ "text": …, "done": bool }]
    checklist     JSONB NOT NULL DEFAULT '[]',
    UNIQUE (order_id, position)
);

CREATE TABLE order_history (
    id           UUID PRIMARY KEY,
    order_id     UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    action       TEXT NOT NULL,
    from_status  TEXT,
    to_status    TEXT NOT NULL,
    actor_id     UUID REFERENCES users (id),
    actor_role   TEXT NOT NULL CHECK (actor_role IN ('CLIENT', 'FREELANCER', 'ADMIN', 'SYSTEM')),
    note         TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX order_history_order_idx ON order_history (order_id, id);
CREATE INDEX order_history_actor_idx ON order_history (actor_id);

CREATE TABLE payment_proofs (
    id            UUID PRIMARY KEY,
    order_id      UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    submitted_by  UUID NOT NULL REFERENCES users (id),
    reference     TEXT NOT NULL,
    payer_name    TEXT NOT NULL,
    amount_cents  BIGINT NOT NULL CHECK (amount_cents > 0),
    currency      TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'SUBMITTED' CHECK (status IN ('SUBMITTED', 'CONFIRMED', 'REJECTED')),
    review_note   TEXT,
    reviewed_by   UUID REFERENCES users (id),
    reviewed_at   TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX payment_proofs_order_idx ON payment_proofs (order_id, id DESC);
CREATE INDEX payment_proofs_submitted_by_idx ON payment_proofs (submitted_by);
CREATE INDEX payment_proofs_reviewed_by_idx ON payment_proofs (reviewed_by);

CREATE TABLE order_deliverables (
    id           UUID PRIMARY KEY,
    order_id     UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    author_id    UUID NOT NULL REFERENCES users (id),
    message      TEXT NOT NULL,
    links        TEXT[] NOT NULL DEFAULT '{}',
    attachments  JSONB NOT NULL DEFAULT '[]',
    -- 0 for the first delivery, n for the delivery after the n-th revision request.
    revision     INTEGER NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX order_deliverables_order_idx ON order_deliverables (order_id, id);
CREATE INDEX order_deliverables_author_idx ON order_deliverables (author_id);

CREATE TABLE order_board_items (
    id          UUID PRIMARY KEY,
    order_id    UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    title       TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'TODO' CHECK (status IN ('TODO', 'DOING', 'DONE')),
    created_by  UUID NOT NULL REFERENCES users (id),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX order_board_items_order_idx ON order_board_items (order_id, id);
CREATE INDEX order_board_items_created_by_idx ON order_board_items (created_by);

-- Start/end codes of on-site orders: hashed, expiring, single use, attempt-limited.
CREATE TABLE order_codes (
    order_id    UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('START', 'END')),
    code_hash   BYTEA NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    used_at     TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, purpose)
);
CREATE INDEX order_codes_expires_idx ON order_codes (expires_at);

CREATE TABLE disputes (
    id           UUID PRIMARY KEY,
    order_id     UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    opened_by    UUID NOT NULL REFERENCES users (id),
    reason       TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'IN_MEDIATION', 'RESOLVED_CLIENT',
                     'RESOLVED_FREELANCER', 'RESOLVED_SPLIT', 'DISMISSED')),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    resolved_at  TIMESTAMPTZ
);
CREATE INDEX disputes_order_idx ON disputes (order_id, id DESC);
CREATE UNIQUE INDEX disputes_one_open_per_order ON disputes (order_id) WHERE status IN ('OPEN', 'IN_MEDIATION');
CREATE INDEX disputes_opened_by_idx ON disputes (opened_by);

-- The freelancer calendar: one row per day that is not simply free. The primary key is
-- what makes a day bookable once.
CREATE TABLE availability_dates (
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day         DATE NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('UNAVAILABLE', 'BOOKED')),
    order_id    UUID REFERENCES orders (id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, day),
    CHECK ((status = 'BOOKED') = (order_id IS NOT NULL))
);
CREATE INDEX availability_dates_order_idx ON availability_dates (order_id);

-- The ledger. Signed amounts: an entry adds to its account's balance; the entries of one
-- transaction sum to zero (checked at commit). EXTERNAL mirrors money outside the platform
-- and is the only account that may go negative.
CREATE TABLE ledger_accounts (
    id             UUID PRIMARY KEY,
    owner_id       UUID REFERENCES users (id),
    kind           TEXT NOT NULL CHECK (kind IN ('USER_AVAILABLE', 'USER_PENDING', 'PLATFORM_ESCROW', 'PLATFORM_FEES', 'EXTERNAL')),
    currency       TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    balance_cents  BIGINT NOT NULL DEFAULT 0,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((owner_id IS NOT NULL) = (kind IN ('USER_AVAILABLE', 'USER_PENDING'))),
    CHECK (kind = 'EXTERNAL' OR balance_cents >= 0)
);
CREATE UNIQUE INDEX ledger_accounts_user_key ON ledger_accounts (owner_id, kind, currency) WHERE owner_id IS NOT NULL;
CREATE UNIQUE INDEX ledger_accounts_platform_key ON ledger_accounts (kind, currency) WHERE owner_id IS NULL;

CREATE TABLE ledger_transactions (
    id               UUID PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('FUND', 'RELEASE', 'REFUND', 'CLEAR')),
    -- One money movement per key, ever: a retried request finds its key and moves nothing.
    idempotency_key  TEXT NOT NULL UNIQUE,
    order_id         UUID REFERENCES orders (id),
    actor_id         UUID REFERENCES users (id),
    memo             TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ledger_transactions_order_idx ON ledger_transactions (order_id);
CREATE INDEX ledger_transactions_actor_idx ON ledger_transactions (actor_id);

CREATE TABLE ledger_entries (
    id              BIGSERIAL PRIMARY KEY,
    transaction_id  UUID NOT NULL REFERENCES ledger_transactions (id),
    account_id      UUID NOT NULL REFERENCES ledger_accounts (id),
    amount_cents    BIGINT NOT NULL CHECK (amount_cents <> 0),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ledger_entries_transaction_idx ON ledger_entries (transaction_id);
CREATE INDEX ledger_entries_account_idx ON ledger_entries (account_id, id DESC);

-- Each entry moves its account's balance at once (the CHECK above refuses overdrafts).
CREATE FUNCTION gm_ledger_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ledger_accounts SET balance_cents = balance_cents + NEW.amount_cents WHERE id = NEW.account_id;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_entries_apply AFTER INSERT ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION gm_ledger_apply();

-- At commit, every transaction touched sums to zero in a single currency.
CREATE FUNCTION gm_ledger_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    total BIGINT;
    currencies INTEGER;
BEGIN
    SELECT COALESCE(SUM(e.amount_cents), 0), COUNT(DISTINCT a.currency)
      INTO total, currencies
      FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id
     WHERE e.transaction_id = NEW.transaction_id;
    IF total <> 0 OR currencies <> 1 THEN
        RAISE EXCEPTION 'ledger transaction % is unbalanced (sum %, % currencies)', NEW.transaction_id, total, currencies
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION gm_ledger_balanced();

CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION gm_append_only();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION gm_append_only();
CREATE TRIGGER ledger_transactions_append_only BEFORE UPDATE OR DELETE ON ledger_transactions
    FOR EACH ROW EXECUTE FUNCTION gm_append_only();
CREATE TRIGGER ledger_transactions_no_truncate BEFORE TRUNCATE ON ledger_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION gm_append_only();

-- Replays of mutations sent with an Idempotency-Key header.
CREATE TABLE idempotency_keys (
    user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    request_hash  BYTEA NOT NULL,
    -- NULL while the first request is still running.
    response      TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- Every admin action.
CREATE TABLE audit_log (
    id           UUID PRIMARY KEY,
    actor_id     UUID NOT NULL REFERENCES users (id),
    action       TEXT NOT NULL,
    target_type  TEXT NOT NULL,
    target_id    UUID NOT NULL,
    reason       TEXT NOT NULL,
    data         JSONB NOT NULL DEFAULT '{}',
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, id DESC);
CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id, id DESC);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION gm_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION gm_append_only();
