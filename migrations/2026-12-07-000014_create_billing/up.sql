-- Billing plans through Stripe: each user's Stripe Customer and their subscriptions.

-- A user's Stripe Customer, created once (the create call's idempotency key is made from the
-- user id, and the row is keyed by user). Subscriptions and the billing portal hang off it.
CREATE TABLE billing_customers (
    user_id             UUID PRIMARY KEY REFERENCES users (id),
    stripe_customer_id  TEXT NOT NULL UNIQUE CHECK (stripe_customer_id LIKE 'cus\_%'),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A Stripe subscription of one of our users, as Stripe's webhooks last reported it. The
-- state is Stripe's as of `state_as_of` (the `created` time of the newest event applied): an
-- older event never overwrites it. CANCELED is final for a subscription id. The user is on
-- the subscription's plan only while it is ACTIVE or TRIALING (see src/plan/mod.rs).
CREATE TABLE subscriptions (
    stripe_subscription_id  TEXT PRIMARY KEY CHECK (stripe_subscription_id LIKE 'sub\_%'),
    user_id                 UUID NOT NULL REFERENCES users (id),
    stripe_customer_id      TEXT NOT NULL CHECK (stripe_customer_id <> ''),
    plan_id                 TEXT NOT NULL REFERENCES plans (id),
    status                  TEXT NOT NULL CHECK (status IN ('INCOMPLETE', 'INCOMPLETE_EXPIRED', 'TRIALING',
                                'ACTIVE', 'PAST_DUE', 'UNPAID', 'PAUSED', 'CANCELED')),
    current_period_end      TIMESTAMPTZ,
    cancel_at_period_end    BOOLEAN NOT NULL DEFAULT false,
    state_as_of             TIMESTAMPTZ NOT NULL,
    created_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at              TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- A user's subscriptions, newest first (their plan, `subscription`).
CREATE INDEX subscriptions_user_idx ON subscriptions (user_id, created_at DESC);
-- Which subscriptions are on a plan (and the foreign key's index).
CREATE INDEX subscriptions_plan_id_idx ON subscriptions (plan_id);
