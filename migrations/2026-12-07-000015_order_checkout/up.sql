-- Escrow through Stripe Checkout: which Checkout Session and which payment intent paid an
-- order, and which card dispute opened a dispute.

-- The Checkout Session last made for the order (replaced when the client asks again after
-- the previous one expired or failed), the payment intent that paid it (set by the webhook
-- that funds the escrow; a refund on cancel goes back to it), and how many sessions were
-- asked for (part of the idempotency key of the next one).
ALTER TABLE orders
    ADD COLUMN stripe_checkout_session_id TEXT UNIQUE CHECK (stripe_checkout_session_id LIKE 'cs\_%'),
    ADD COLUMN stripe_payment_intent_id   TEXT UNIQUE CHECK (stripe_payment_intent_id LIKE 'pi\_%'),
    ADD COLUMN checkout_attempts          INTEGER NOT NULL DEFAULT 0 CHECK (checkout_attempts >= 0);

-- A dispute opened by the card issuer (charge.dispute.created): Stripe's dispute id, once.
ALTER TABLE disputes
    ADD COLUMN stripe_dispute_id TEXT UNIQUE CHECK (stripe_dispute_id LIKE 'dp\_%');
