-- Money through Stripe, second part: the outbox of provider calls, and the ledger kinds of
-- money leaving the platform.

-- A call to the payment provider that a committed change asked for (a transfer of released
-- earnings to a connected account, a refund to the card that paid). It is written in the
-- change's own transaction, together with the ledger movement it mirrors, and made afterwards
-- by a worker that claims due rows with SKIP LOCKED and retries with backoff. The idempotency
-- key is sent with every attempt, so Stripe does the work once whatever the retries.
CREATE TABLE provider_calls (
    id                  UUID PRIMARY KEY,
    kind                TEXT NOT NULL CHECK (kind IN ('TRANSFER', 'REFUND')),
    idempotency_key     TEXT NOT NULL UNIQUE CHECK (idempotency_key <> ''),
    order_id            UUID REFERENCES orders (id),
    -- Who the money goes to: the freelancer of a transfer, the client of a refund.
    user_id             UUID NOT NULL REFERENCES users (id),
    amount_cents        BIGINT NOT NULL CHECK (amount_cents > 0),
    currency            TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- What the call acts on: the connected account (acct_…) of a transfer, the payment
    -- intent (pi_…) of a refund.
    target              TEXT NOT NULL CHECK (target <> ''),
    status              TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED')),
    attempts            INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- When a worker may next try (a claim pushes it forward, so a crashed worker's claim
    -- lapses by itself).
    next_attempt_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error          TEXT,
    -- Stripe's id of what the call made (tr_…, re_…).
    provider_object_id  TEXT,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at        TIMESTAMPTZ,
    CHECK ((status = 'PENDING') = (completed_at IS NULL)),
    CHECK (status <> 'SUCCEEDED' OR provider_object_id IS NOT NULL)
);
CREATE INDEX provider_calls_due_idx ON provider_calls (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX provider_calls_order_idx ON provider_calls (order_id) WHERE order_id IS NOT NULL;
-- Every foreign key is indexed (deleting or locking a user must not scan the outbox).
CREATE INDEX provider_calls_user_idx ON provider_calls (user_id);

-- PAYOUT: a user's available balance leaves for their connected account (a transfer);
-- REVERSAL: a provider call Stripe finally refused (a transfer, a card refund): the amount
-- comes back to the user's available balance;
-- CHARGEBACK: a card dispute took an order's money back out of the platform.
ALTER TABLE ledger_transactions DROP CONSTRAINT ledger_transactions_kind_check;
ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_kind_check
    CHECK (kind IN ('FUND', 'RELEASE', 'REFUND', 'CLEAR', 'PAYOUT', 'REVERSAL', 'CHARGEBACK'));
