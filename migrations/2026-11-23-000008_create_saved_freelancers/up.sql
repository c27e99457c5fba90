-- Freelancers a user keeps a note of (SPEC: saveFreelancer).
CREATE TABLE saved_freelancers (
    user_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    freelancer_id  UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, freelancer_id),
    CHECK (user_id <> freelancer_id)
);
CREATE INDEX saved_freelancers_freelancer_id_idx ON saved_freelancers (freelancer_id);
CREATE INDEX saved_freelancers_user_newest_idx ON saved_freelancers (user_id, created_at DESC);
