ALTER TABLE disputes DROP COLUMN stripe_dispute_id;
ALTER TABLE orders
    DROP COLUMN checkout_attempts,
    DROP COLUMN stripe_payment_intent_id,
    DROP COLUMN stripe_checkout_session_id;
