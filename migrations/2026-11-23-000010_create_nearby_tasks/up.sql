-- Location-first tasks: the public (fuzzed) point and its geohash, the assignee, and the
-- indexes nearby search, broadcast and expiry use.

-- Rows from before this migration get theirs from the server at start-up
-- (task::service::backfill_public_points), which computes the same point as new writes.
-- Everyone but the parties sees a point about 200 m from the real one, fixed per task.
-- Nearby search, distances and broadcasts all use that point, so they reveal nothing more.
ALTER TABLE tasks
    ADD COLUMN public_latitude  DOUBLE PRECISION,
    ADD COLUMN public_longitude DOUBLE PRECISION,
    -- Geohash of the public point; "C" collation so prefixes are byte ranges of the index.
    ADD COLUMN geohash          TEXT COLLATE "C",
    -- The freelancer an order from this task went to, while it stands.
    ADD COLUMN assignee_id      UUID REFERENCES users (id) ON DELETE SET NULL,
    ADD CONSTRAINT tasks_public_point_check
        CHECK ((public_latitude IS NULL) = (public_longitude IS NULL)
           AND (public_latitude IS NULL) = (geohash IS NULL)),
    ADD CONSTRAINT tasks_immediate_check
        CHECK (mode <> 'IMMEDIATE' OR (acceptance_deadline IS NOT NULL AND latitude IS NOT NULL)) NOT VALID;

-- Nearby search: ranges of geohash prefixes over open tasks.
CREATE INDEX tasks_open_geohash_idx ON tasks (geohash) WHERE status = 'OPEN' AND geohash IS NOT NULL;
-- Expiry of first-accept tasks past their deadline.
CREATE INDEX tasks_open_deadline_idx ON tasks (acceptance_deadline) WHERE status = 'OPEN' AND mode = 'IMMEDIATE';
CREATE INDEX tasks_assignee_id_idx ON tasks (assignee_id) WHERE assignee_id IS NOT NULL;

-- Freelancers' own point, for TASK_NEARBY notifications.
ALTER TABLE users ADD COLUMN geohash TEXT COLLATE "C";
CREATE INDEX users_available_geohash_idx ON users (geohash)
    WHERE is_available AND geohash IS NOT NULL AND banned_at IS NULL;

-- Great-circle distance in metres between two WGS84 points: the haversine formula with the
-- mean Earth radius, as the `geo` crate computes it (inlined by the planner).
CREATE FUNCTION gm_distance_m(lat1 DOUBLE PRECISION, lng1 DOUBLE PRECISION, lat2 DOUBLE PRECISION, lng2 DOUBLE PRECISION)
RETURNS DOUBLE PRECISION
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT 2 * 6371008.8 * asin(least(1, sqrt(
        sin(radians(lat2 - lat1) / 2) ^ 2
        + cos(radians(lat1)) * cos(radians(lat2)) * sin(radians(lng2 - lng1) / 2) ^ 2)))
$$;
