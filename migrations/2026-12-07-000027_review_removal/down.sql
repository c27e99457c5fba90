DROP INDEX reviews_removed_by_idx;
DROP INDEX reviews_due_idx;
CREATE INDEX reviews_due_idx ON reviews (window_closes_at) WHERE published_at IS NULL;
ALTER TABLE reviews
    DROP CONSTRAINT reviews_removed_not_public,
    DROP CONSTRAINT reviews_removal_complete,
    DROP COLUMN removal_reason,
    DROP COLUMN removed_by,
    DROP COLUMN removed_at;
