DROP TABLE order_payments;
UPDATE orders SET status = 'PENDING_PAYMENT' WHERE status = 'DEPOSIT_PAID';
UPDATE orders SET funded_at = deposit_paid_at WHERE funded_at IS NULL AND settled_at IS NOT NULL;
ALTER TABLE orders DROP CONSTRAINT orders_settled_funded_check;
ALTER TABLE orders ADD CONSTRAINT orders_check1 CHECK (settled_at IS NULL OR funded_at IS NOT NULL);
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN ('REQUESTED', 'DECLINED', 'PENDING_PAYMENT',
    'PAYMENT_SUBMITTED', 'PAYMENT_CONFIRMED', 'IN_PROGRESS', 'SUBMITTED', 'REVISION_REQUESTED', 'COMPLETED',
    'CANCELLED', 'DISPUTED'));
ALTER TABLE orders
    DROP CONSTRAINT orders_balance_after_deposit_check,
    DROP CONSTRAINT orders_deposit_paid_check,
    DROP CONSTRAINT orders_deposit_check,
    DROP COLUMN deposit_paid_at,
    DROP COLUMN deposit_cents;
ALTER TABLE gigs DROP COLUMN booking_deposit_bps;
