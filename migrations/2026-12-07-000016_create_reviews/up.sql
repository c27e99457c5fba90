-- Two-sided, blind reviews of completed orders, and the rating aggregates they feed.

CREATE TABLE reviews (
    id                 UUID PRIMARY KEY,
    order_id           UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    -- The gig of a gig order, on the review of its freelancer only (it feeds the gig's rating).
    gig_id             UUID REFERENCES gigs (id) ON DELETE SET NULL,
    reviewer_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reviewee_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The side of the order the reviewee was on.
    reviewee_role      TEXT NOT NULL CHECK (reviewee_role IN ('FREELANCER', 'CLIENT')),
    rating             SMALLINT NOT NULL CHECK (rating BETWEEN 1 AND 5),
    quality            SMALLINT NOT NULL CHECK (quality BETWEEN 1 AND 5),
    communication      SMALLINT NOT NULL CHECK (communication BETWEEN 1 AND 5),
    timeliness         SMALLINT NOT NULL CHECK (timeliness BETWEEN 1 AND 5),
    comment            TEXT NOT NULL CHECK (char_length(comment) <= 2000),
    -- The comment as written when the safety filter masked something (for moderation).
    comment_original   TEXT,
    reply              TEXT CHECK (char_length(reply) <= 2000),
    replied_at         TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- When the review window of the order closes: a lone review is published then.
    window_closes_at   TIMESTAMPTZ NOT NULL,
    -- Null while hidden (blind): set when both parties reviewed or the window closed.
    published_at       TIMESTAMPTZ,
    CHECK (reviewer_id <> reviewee_id),
    CHECK ((reply IS NULL) = (replied_at IS NULL)),
    UNIQUE (order_id, reviewer_id)
);

-- A user's public reviews, newest first (userReviews, User.reviews: one walk per user).
CREATE INDEX reviews_reviewee_public_idx ON reviews (reviewee_id, published_at DESC, id DESC)
    WHERE published_at IS NOT NULL;
-- A gig's public reviews, newest first.
CREATE INDEX reviews_gig_public_idx ON reviews (gig_id, published_at DESC, id DESC)
    WHERE published_at IS NOT NULL AND gig_id IS NOT NULL;
-- Hidden reviews by the end of their window (publish_due).
CREATE INDEX reviews_due_idx ON reviews (window_closes_at) WHERE published_at IS NULL;
CREATE INDEX reviews_reviewer_idx ON reviews (reviewer_id);

-- Rating aggregates of public reviews per reviewee and side, kept as exact sums and counts,
-- updated in the transaction that publishes a review.
CREATE TABLE user_ratings (
    user_id            UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role               TEXT NOT NULL CHECK (role IN ('FREELANCER', 'CLIENT')),
    count              INTEGER NOT NULL DEFAULT 0 CHECK (count >= 0),
    rating_sum         BIGINT NOT NULL DEFAULT 0,
    quality_sum        BIGINT NOT NULL DEFAULT 0,
    communication_sum  BIGINT NOT NULL DEFAULT 0,
    timeliness_sum     BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, role)
);

-- The gig's exact sum beside its existing average and count.
ALTER TABLE gigs ADD COLUMN rating_sum BIGINT NOT NULL DEFAULT 0;
