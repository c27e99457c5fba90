-- Users: one account acts as client and freelancer. Owned by the profile domain;
-- credentials live apart (see create_accounts) so profile reads never touch secrets.
CREATE TABLE users (
    id                  UUID PRIMARY KEY,
    email               TEXT NOT NULL,
    username            TEXT NOT NULL,
    full_name           TEXT NOT NULL,
    avatar_url          TEXT,
    bio                 TEXT,
    headline            TEXT,
    skills              TEXT[] NOT NULL DEFAULT '{}',
    ai_tools            TEXT[] NOT NULL DEFAULT '{}',
    languages           TEXT[] NOT NULL DEFAULT '{}',
    hourly_rate_cents   BIGINT CHECK (hourly_rate_cents IS NULL OR hourly_rate_cents >= 0),
    currency            TEXT NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    portfolio_urls      TEXT[] NOT NULL DEFAULT '{}',
    location_text       TEXT,
    latitude            DOUBLE PRECISION CHECK (latitude IS NULL OR latitude BETWEEN -90 AND 90),
    longitude           DOUBLE PRECISION CHECK (longitude IS NULL OR longitude BETWEEN -180 AND 180),
    timezone            TEXT,
    travel_radius_km    INTEGER CHECK (travel_radius_km IS NULL OR travel_radius_km BETWEEN 0 AND 20000),
    is_available        BOOLEAN NOT NULL DEFAULT TRUE,
    verification_status TEXT NOT NULL DEFAULT 'NONE'
        CHECK (verification_status IN ('NONE', 'PENDING', 'VERIFIED', 'REJECTED')),
    commission_bps      INTEGER NOT NULL DEFAULT 800 CHECK (commission_bps BETWEEN 0 AND 10000),
    is_admin            BOOLEAN NOT NULL DEFAULT FALSE,
    banned_at           TIMESTAMPTZ,
    ban_reason          TEXT,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((latitude IS NULL) = (longitude IS NULL))
);

-- Emails and usernames are unique regardless of case; lookups use lower().
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));
