-- An admin took a gig or a task out of public view (`deactivateGig`, `deactivateTask`). While
-- the hold stands its owner cannot put it back (no ACTIVE gig, no republished task); orders
-- already made from it go on. The who and why are also in the audit log.
CREATE TABLE moderation_holds (
    target_type  TEXT NOT NULL CHECK (target_type IN ('GIG', 'TASK')),
    target_id    UUID NOT NULL,
    actor_id     UUID NOT NULL REFERENCES users (id),
    reason       TEXT NOT NULL CHECK (char_length(reason) BETWEEN 3 AND 2000),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (target_type, target_id)
);
-- Every foreign key is indexed.
CREATE INDEX moderation_holds_actor_idx ON moderation_holds (actor_id);
