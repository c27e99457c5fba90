-- Booking deposits: a gig may ask a share of the price up front when it is booked; the
-- booking is then paid in two stages, the deposit once the freelancer accepts and the
-- balance before the work starts, each into escrow on its own.

-- The share of the price a booking of the gig pays first, in basis points (1 to 9,999);
-- NULL: bookings are paid in one payment.
ALTER TABLE gigs
    ADD COLUMN booking_deposit_bps INTEGER CHECK (booking_deposit_bps BETWEEN 1 AND 9999);

-- deposit_cents: the deposit the order asks, fixed when the booking is requested (NULL: one
-- payment of the whole amount); deposit_paid_at: when the deposit entered escrow (the fee
-- rate is fixed then). funded_at stays "the whole amount is in escrow": for a two-stage
-- order, when the balance arrived.
ALTER TABLE orders
    ADD COLUMN deposit_cents BIGINT,
    ADD COLUMN deposit_paid_at TIMESTAMPTZ,
    ADD CONSTRAINT orders_deposit_check CHECK (deposit_cents IS NULL OR (deposit_cents > 0 AND deposit_cents < amount_cents)),
    ADD CONSTRAINT orders_deposit_paid_check CHECK (deposit_paid_at IS NULL OR deposit_cents IS NOT NULL),
    ADD CONSTRAINT orders_balance_after_deposit_check
        CHECK (deposit_cents IS NULL OR funded_at IS NULL OR deposit_paid_at IS NOT NULL);

ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN ('REQUESTED', 'DECLINED', 'PENDING_PAYMENT',
    'PAYMENT_SUBMITTED', 'DEPOSIT_PAID', 'PAYMENT_CONFIRMED', 'IN_PROGRESS', 'SUBMITTED', 'REVISION_REQUESTED',
    'COMPLETED', 'CANCELLED', 'DISPUTED'));

-- funded_at now means the whole amount is in escrow; a two-stage order holds escrow from
-- its deposit on, and may be settled (cancelled and refunded) with only the deposit paid.
ALTER TABLE orders DROP CONSTRAINT orders_check1;
ALTER TABLE orders ADD CONSTRAINT orders_settled_funded_check
    CHECK (settled_at IS NULL OR funded_at IS NOT NULL OR deposit_paid_at IS NOT NULL);

-- Every payment that entered an order's escrow, one per stage (FULL for an order paid at
-- once; DEPOSIT then BALANCE for a booking with a deposit), with the Stripe payment intent
-- that made it (NULL: a manual payment the freelancer or an admin confirmed). A refund goes
-- back to each payment on its own: one Refund per payment intent.
CREATE TABLE order_payments (
    order_id                  UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    stage                     TEXT NOT NULL CHECK (stage IN ('FULL', 'DEPOSIT', 'BALANCE')),
    amount_cents              BIGINT NOT NULL CHECK (amount_cents > 0),
    stripe_payment_intent_id  TEXT UNIQUE CHECK (stripe_payment_intent_id LIKE 'pi\_%'),
    paid_at                   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (order_id, stage)
);
INSERT INTO order_payments (order_id, stage, amount_cents, stripe_payment_intent_id, paid_at)
SELECT id, 'FULL', amount_cents, stripe_payment_intent_id, funded_at FROM orders WHERE funded_at IS NOT NULL;
