-- array_to_string is only STABLE (it could depend on element output functions); for text[]
-- it is deterministic, so this wrapper may feed generated columns.
CREATE FUNCTION gm_words(text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT array_to_string($1, ' ') $$;

-- Gigs: a freelancer's service listing, sold in up to three packages.
CREATE TABLE gigs (
    id                 UUID PRIMARY KEY,
    owner_id           UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title              TEXT NOT NULL,
    description        TEXT NOT NULL,
    category           TEXT NOT NULL,
    tags               TEXT[] NOT NULL DEFAULT '{}',
    currency           TEXT NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    status             TEXT NOT NULL DEFAULT 'DRAFT' CHECK (status IN ('DRAFT', 'ACTIVE', 'PAUSED', 'ARCHIVED')),
    -- Denormalised from the packages (kept in step by the service, in the same transaction)
    -- so price and delivery filters and sorts use plain indexes.
    min_price_cents    BIGINT NOT NULL CHECK (min_price_cents >= 0),
    min_delivery_days  INTEGER NOT NULL CHECK (min_delivery_days > 0),
    views_count        BIGINT NOT NULL DEFAULT 0,
    -- Filled by reviews once they exist.
    rating_average     DOUBLE PRECISION,
    rating_count       INTEGER NOT NULL DEFAULT 0,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at       TIMESTAMPTZ,
    search             TSVECTOR GENERATED ALWAYS AS (
                           setweight(to_tsvector('english', title), 'A') ||
                           setweight(to_tsvector('english', gm_words(tags)), 'B') ||
                           setweight(to_tsvector('english', description), 'C')) STORED
);
-- The public feed: newest active gigs (keyset on published_at, id).
CREATE INDEX gigs_active_newest_idx ON gigs (published_at DESC, id DESC) WHERE status = 'ACTIVE';
CREATE INDEX gigs_active_category_idx ON gigs (category, published_at DESC, id DESC) WHERE status = 'ACTIVE';
CREATE INDEX gigs_active_price_idx ON gigs (min_price_cents, id) WHERE status = 'ACTIVE';
CREATE INDEX gigs_active_rating_idx ON gigs ((COALESCE(rating_average, 0)) DESC, id DESC) WHERE status = 'ACTIVE';
CREATE INDEX gigs_search_idx ON gigs USING GIN (search);
CREATE INDEX gigs_tags_idx ON gigs USING GIN (tags);
CREATE INDEX gigs_owner_id_idx ON gigs (owner_id, created_at DESC);

CREATE TABLE gig_packages (
    gig_id         UUID NOT NULL REFERENCES gigs (id) ON DELETE CASCADE,
    tier           TEXT NOT NULL CHECK (tier IN ('BASIC', 'STANDARD', 'PREMIUM')),
    title          TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    price_cents    BIGINT NOT NULL CHECK (price_cents > 0),
    delivery_days  INTEGER NOT NULL CHECK (delivery_days BETWEEN 1 AND 365),
    revisions      INTEGER NOT NULL CHECK (revisions BETWEEN 0 AND 100),
    PRIMARY KEY (gig_id, tier)
);

CREATE TABLE gig_media (
    id            UUID PRIMARY KEY,
    gig_id        UUID NOT NULL REFERENCES gigs (id) ON DELETE CASCADE,
    url           TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    position      INTEGER NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX gig_media_gig_id_idx ON gig_media (gig_id, position);

CREATE TABLE saved_gigs (
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    gig_id      UUID NOT NULL REFERENCES gigs (id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, gig_id)
);
CREATE INDEX saved_gigs_gig_id_idx ON saved_gigs (gig_id);
CREATE INDEX saved_gigs_user_newest_idx ON saved_gigs (user_id, created_at DESC);
