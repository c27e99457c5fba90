-- Plans: how many tasks a user may post per calendar month (NULL = unlimited).
CREATE TABLE plans (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    monthly_post_limit  INTEGER CHECK (monthly_post_limit IS NULL OR monthly_post_limit >= 0),
    price_cents         BIGINT NOT NULL CHECK (price_cents >= 0),
    currency            TEXT NOT NULL DEFAULT 'USD'
);
INSERT INTO plans (id, name, monthly_post_limit, price_cents) VALUES
    ('free', 'Free', 3, 0),
    ('pro', 'Pro', NULL, 1900);

-- A user's plan; a user without a row is on the free plan.
CREATE TABLE user_plans (
    user_id     UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    plan_id     TEXT NOT NULL REFERENCES plans (id),
    started_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX user_plans_plan_id_idx ON user_plans (plan_id);

-- Work a client posts.
CREATE TABLE tasks (
    id                   UUID PRIMARY KEY,
    poster_id            UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title                TEXT NOT NULL,
    description          TEXT NOT NULL,
    category             TEXT NOT NULL,
    skills_required      TEXT[] NOT NULL DEFAULT '{}',
    ai_tools_preferred   TEXT[] NOT NULL DEFAULT '{}',
    budget_type          TEXT NOT NULL CHECK (budget_type IN ('FIXED', 'HOURLY')),
    budget_min_cents     BIGINT NOT NULL CHECK (budget_min_cents > 0),
    budget_max_cents     BIGINT NOT NULL,
    currency             TEXT NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    duration             TEXT NOT NULL CHECK (duration IN ('LESS_THAN_A_WEEK', 'ONE_TO_FOUR_WEEKS', 'ONE_TO_THREE_MONTHS', 'MORE_THAN_THREE_MONTHS')),
    location_type        TEXT NOT NULL CHECK (location_type IN ('REMOTE', 'ONSITE', 'HYBRID')),
    address              TEXT,
    latitude             DOUBLE PRECISION CHECK (latitude IS NULL OR latitude BETWEEN -90 AND 90),
    longitude            DOUBLE PRECISION CHECK (longitude IS NULL OR longitude BETWEEN -180 AND 180),
    mode                 TEXT NOT NULL DEFAULT 'STANDARD' CHECK (mode IN ('STANDARD', 'IMMEDIATE')),
    acceptance_deadline  TIMESTAMPTZ,
    status               TEXT NOT NULL CHECK (status IN ('DRAFT', 'OPEN', 'ASSIGNED', 'IN_PROGRESS', 'COMPLETED', 'CANCELLED', 'EXPIRED')),
    milestone_plan       JSONB NOT NULL DEFAULT '[]',
    nda_required         BOOLEAN NOT NULL DEFAULT FALSE,
    ip_transfer          BOOLEAN NOT NULL DEFAULT FALSE,
    template_key         TEXT,
    attachments          JSONB NOT NULL DEFAULT '[]',
    applications_count   INTEGER NOT NULL DEFAULT 0,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at         TIMESTAMPTZ,
    search               TSVECTOR GENERATED ALWAYS AS (
                             setweight(to_tsvector('english', title), 'A') ||
                             setweight(to_tsvector('english', gm_words(skills_required)), 'B') ||
                             setweight(to_tsvector('english', description), 'C')) STORED,
    CHECK (budget_max_cents >= budget_min_cents),
    CHECK ((latitude IS NULL) = (longitude IS NULL))
);
CREATE INDEX tasks_open_newest_idx ON tasks (published_at DESC, id DESC) WHERE status = 'OPEN';
CREATE INDEX tasks_open_category_idx ON tasks (category, published_at DESC) WHERE status = 'OPEN';
CREATE INDEX tasks_search_idx ON tasks USING GIN (search);
CREATE INDEX tasks_skills_idx ON tasks USING GIN (skills_required);
CREATE INDEX tasks_ai_tools_idx ON tasks USING GIN (ai_tools_preferred);
CREATE INDEX tasks_budget_idx ON tasks (budget_max_cents) WHERE status = 'OPEN';
CREATE INDEX tasks_poster_id_idx ON tasks (poster_id, created_at DESC);
-- Posts per month for the plan limit.
CREATE INDEX tasks_poster_published_idx ON tasks (poster_id, published_at) WHERE published_at IS NOT NULL;

CREATE TABLE task_invites (
    task_id        UUID NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    freelancer_id  UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message        TEXT NOT NULL DEFAULT '',
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, freelancer_id)
);
CREATE INDEX task_invites_freelancer_id_idx ON task_invites (freelancer_id, created_at DESC);

CREATE TABLE applications (
    id                   UUID PRIMARY KEY,
    task_id              UUID NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    freelancer_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    cover_letter         TEXT NOT NULL,
    proposed_rate_cents  BIGINT NOT NULL CHECK (proposed_rate_cents > 0),
    proposed_timeline    TEXT NOT NULL,
    portfolio_items      TEXT[] NOT NULL DEFAULT '{}',
    ai_tools_to_use      TEXT[] NOT NULL DEFAULT '{}',
    milestones           JSONB NOT NULL DEFAULT '[]',
    status               TEXT NOT NULL DEFAULT 'PENDING'
                             CHECK (status IN ('PENDING', 'REVIEWING', 'SHORTLISTED', 'REJECTED', 'ACCEPTED', 'WITHDRAWN')),
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (task_id, freelancer_id)
);
CREATE INDEX applications_task_id_idx ON applications (task_id, status, id DESC);
CREATE INDEX applications_freelancer_id_idx ON applications (freelancer_id, id DESC);
