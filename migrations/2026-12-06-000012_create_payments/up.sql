-- Money through Stripe, first part: the webhook's event log and Connect payout accounts.

-- Each Stripe event we accepted, once. The row is written by the first statement of the
-- transaction that applies the event (INSERT … ON CONFLICT DO NOTHING), so concurrent and
-- repeated deliveries of one event wait for that transaction and then find it here: one
-- effect, whatever the retries.
CREATE TABLE stripe_events (
    id            TEXT PRIMARY KEY CHECK (id <> ''),
    -- Stripe's `type`, e.g. account.updated.
    event_type    TEXT NOT NULL CHECK (event_type <> ''),
    livemode      BOOLEAN NOT NULL,
    -- Stripe's own time of the event (its `created`).
    created       TIMESTAMPTZ NOT NULL,
    received_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    processed_at  TIMESTAMPTZ,
    -- APPLIED (changed our state), STALE (older than the state we hold), UNMATCHED (about
    -- nothing of ours) or IGNORED (a type nobody handles). Set in the same transaction.
    outcome       TEXT CHECK (outcome IN ('APPLIED', 'STALE', 'UNMATCHED', 'IGNORED')),
    CHECK ((outcome IS NULL) = (processed_at IS NULL))
);
-- Pruning old events, newest-first inspection.
CREATE INDEX stripe_events_received_idx ON stripe_events (received_at);

-- A freelancer's Stripe Connect (Express) account, where released escrow is transferred.
-- One per user, created once (the Stripe call carries an idempotency key made from the user
-- id). The flags are Stripe's, as of `state_as_of` (the `created` time of the newest
-- account.updated event applied; null: as the account was created). No cascade: a payout
-- account outlives nothing, but it must not vanish with money on the way to it.
CREATE TABLE payout_accounts (
    user_id            UUID PRIMARY KEY REFERENCES users (id),
    stripe_account_id  TEXT NOT NULL UNIQUE CHECK (stripe_account_id LIKE 'acct\_%'),
    charges_enabled    BOOLEAN NOT NULL DEFAULT false,
    payouts_enabled    BOOLEAN NOT NULL DEFAULT false,
    details_submitted  BOOLEAN NOT NULL DEFAULT false,
    state_as_of        TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
