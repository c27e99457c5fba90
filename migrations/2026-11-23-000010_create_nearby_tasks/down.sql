DROP FUNCTION IF EXISTS gm_distance_m(DOUBLE PRECISION, DOUBLE PRECISION, DOUBLE PRECISION, DOUBLE PRECISION);
DROP INDEX IF EXISTS users_available_geohash_idx;
ALTER TABLE users DROP COLUMN IF EXISTS geohash;
DROP INDEX IF EXISTS tasks_assignee_id_idx;
DROP INDEX IF EXISTS tasks_open_deadline_idx;
DROP INDEX IF EXISTS tasks_open_geohash_idx;
ALTER TABLE tasks
    DROP CONSTRAINT IF EXISTS tasks_immediate_check,
    DROP CONSTRAINT IF EXISTS tasks_public_point_check,
    DROP COLUMN IF EXISTS assignee_id,
    DROP COLUMN IF EXISTS geohash,
    DROP COLUMN IF EXISTS public_longitude,
    DROP COLUMN IF EXISTS public_latitude;
