-- Code links (seed 002, Module F): repositories and preview URLs linked to an order or one of
-- its milestones, the pull requests and CI checks GitHub reports about linked repositories,
-- the GitHub deliveries already applied, and pull requests and checks as dispute evidence.

CREATE TABLE code_links (
    id              UUID PRIMARY KEY,
    order_id        UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    -- Null: linked to the whole order.
    milestone_id    UUID REFERENCES order_milestones (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('REPOSITORY', 'PREVIEW')),
    -- REPOSITORY: `owner/name` as the party wrote it, and its lower case (GitHub's names are
    -- case-insensitive), which deliveries are matched on.
    repository      TEXT,
    repository_key  TEXT,
    -- PREVIEW: an http(s) URL.
    url             TEXT,
    created_by      UUID NOT NULL REFERENCES users (id),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((kind = 'REPOSITORY') = (repository IS NOT NULL)),
    CHECK ((kind = 'REPOSITORY') = (repository_key IS NOT NULL)),
    CHECK (repository_key = lower(repository)),
    CHECK ((kind = 'PREVIEW') = (url IS NOT NULL))
);
-- A repository (a preview URL) is linked once per order.
CREATE UNIQUE INDEX code_links_repository_once ON code_links (order_id, repository_key) WHERE kind = 'REPOSITORY';
CREATE UNIQUE INDEX code_links_preview_once ON code_links (order_id, url) WHERE kind = 'PREVIEW';
CREATE INDEX code_links_order_idx ON code_links (order_id, id);
CREATE INDEX code_links_milestone_idx ON code_links (milestone_id);
CREATE INDEX code_links_created_by_idx ON code_links (created_by);
-- Deliveries find the orders linking their repository.
CREATE INDEX code_links_repository_idx ON code_links (repository_key);

-- One row per pull request of a linked repository, as the newest delivery about it left it.
CREATE TABLE pull_requests (
    id              UUID PRIMARY KEY,
    repository      TEXT NOT NULL,
    repository_key  TEXT NOT NULL CHECK (repository_key = lower(repository)),
    number          INTEGER NOT NULL CHECK (number > 0),
    github_id       BIGINT NOT NULL,
    title           TEXT NOT NULL,
    url             TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('OPEN', 'CLOSED', 'MERGED')),
    head_sha        TEXT NOT NULL,
    author_login    TEXT NOT NULL DEFAULT '',
    -- The combined state of the checks on head_sha, kept to notice when it changes.
    checks_state    TEXT NOT NULL DEFAULT 'NONE' CHECK (checks_state IN ('NONE', 'PENDING', 'PASSING', 'FAILING')),
    -- GitHub's `updated_at` of the pull request: an older delivery never overwrites a newer one.
    updated_at      TIMESTAMPTZ NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL,
    UNIQUE (repository_key, number)
);
CREATE INDEX pull_requests_head_idx ON pull_requests (repository_key, head_sha);

-- One row per CI check of a commit of a linked repository: the latest check run per name, the
-- latest check suite per app, the latest commit status per context.
CREATE TABLE ci_checks (
    id              UUID PRIMARY KEY,
    repository_key  TEXT NOT NULL,
    head_sha        TEXT NOT NULL,
    source          TEXT NOT NULL CHECK (source IN ('CHECK_RUN', 'CHECK_SUITE', 'STATUS')),
    name            TEXT NOT NULL,
    -- GitHub's id of the run, suite or status: a newer run of the same check has a larger one.
    github_id       BIGINT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('QUEUED', 'IN_PROGRESS', 'SUCCESS', 'FAILURE', 'NEUTRAL',
        'CANCELLED', 'SKIPPED', 'TIMED_OUT', 'ACTION_REQUIRED', 'STALE', 'STARTUP_FAILURE', 'ERROR')),
    -- 0 queued, 1 in progress, 2 finished: a run never goes back.
    progress        SMALLINT NOT NULL CHECK (progress BETWEEN 0 AND 2),
    url             TEXT,
    -- GitHub's time of this state (completed_at, started_at or updated_at).
    status_at       TIMESTAMPTZ NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL,
    UNIQUE (repository_key, head_sha, source, name)
);

-- Each GitHub delivery (X-GitHub-Delivery) applied once.
CREATE TABLE github_deliveries (
    id           TEXT PRIMARY KEY,
    event        TEXT NOT NULL,
    action       TEXT,
    repository   TEXT,
    outcome      TEXT NOT NULL CHECK (outcome IN ('APPLIED', 'UNCHANGED', 'IGNORED')),
    received_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX github_deliveries_received_idx ON github_deliveries (received_at);

-- Pull requests and checks as dispute evidence.
ALTER TABLE dispute_evidence DROP CONSTRAINT dispute_evidence_kind_check;
ALTER TABLE dispute_evidence
    ADD CONSTRAINT dispute_evidence_kind_check CHECK (kind IN ('MESSAGE', 'FILE', 'LINK', 'NOTE', 'PR', 'CI')),
    ADD COLUMN pull_request_id UUID REFERENCES pull_requests (id) ON DELETE SET NULL,
    ADD COLUMN check_id UUID REFERENCES ci_checks (id) ON DELETE SET NULL,
    ADD CONSTRAINT dispute_evidence_pull_request_kind CHECK (kind = 'PR' OR pull_request_id IS NULL),
    ADD CONSTRAINT dispute_evidence_check_kind CHECK (kind = 'CI' OR check_id IS NULL);
CREATE INDEX dispute_evidence_pull_request_idx ON dispute_evidence (pull_request_id);
CREATE INDEX dispute_evidence_check_idx ON dispute_evidence (check_id);
