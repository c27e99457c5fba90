DELETE FROM notifications WHERE kind = 'REVIEW_REMINDER';
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (kind IN ('NEW_APPLICATION',
    'APPLICATION_STATUS', 'NEW_MESSAGE', 'ORDER_STATUS', 'PAYMENT', 'CALL_SCHEDULED', 'REVIEW_RECEIVED',
    'TASK_NEARBY', 'DISPUTE', 'GIG_UPDATE', 'SYSTEM'));
DROP INDEX orders_review_reminder_due_idx;
ALTER TABLE orders DROP COLUMN review_reminded_at;
