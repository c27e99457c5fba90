-- Review reminders: each party of a completed order who has not reviewed is reminded once,
-- while the review window is open (the scheduler's remindReviews job).

-- When the order's parties were reminded to review (or the order was passed over because its
-- window had closed); null while a reminder may still be due.
ALTER TABLE orders ADD COLUMN review_reminded_at TIMESTAMPTZ;
-- Orders completed before reminders existed are not reminded now.
UPDATE orders SET review_reminded_at = now() WHERE status = 'COMPLETED';
-- The job's walk: completed orders not yet reminded, by when they completed. Rows leave the
-- index as they are reminded, so it stays as small as the backlog.
CREATE INDEX orders_review_reminder_due_idx ON orders ((COALESCE(settled_at, updated_at)))
    WHERE status = 'COMPLETED' AND review_reminded_at IS NULL;

ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (kind IN ('NEW_APPLICATION',
    'APPLICATION_STATUS', 'NEW_MESSAGE', 'ORDER_STATUS', 'PAYMENT', 'CALL_SCHEDULED', 'REVIEW_RECEIVED',
    'REVIEW_REMINDER', 'TASK_NEARBY', 'DISPUTE', 'GIG_UPDATE', 'SYSTEM'));
