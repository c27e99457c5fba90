-- Reviews an admin removed (one by one, or all of a member's when suspending them): kept for
-- the record, public to nobody, out of every aggregate.
ALTER TABLE reviews
    ADD COLUMN removed_at     TIMESTAMPTZ,
    ADD COLUMN removed_by     UUID REFERENCES users (id),
    ADD COLUMN removal_reason TEXT,
    ADD CONSTRAINT reviews_removal_complete
        CHECK ((removed_at IS NULL) = (removed_by IS NULL) AND (removed_at IS NULL) = (removal_reason IS NULL)),
    ADD CONSTRAINT reviews_removed_not_public CHECK (removed_at IS NULL OR published_at IS NULL);

-- Who removed what (the foreign key's index; few rows are ever removed).
CREATE INDEX reviews_removed_by_idx ON reviews (removed_by) WHERE removed_by IS NOT NULL;

-- A removed review is never published by the window job.
DROP INDEX reviews_due_idx;
CREATE INDEX reviews_due_idx ON reviews (window_closes_at) WHERE published_at IS NULL AND removed_at IS NULL;
