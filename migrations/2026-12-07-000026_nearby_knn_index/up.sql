-- Nearby search by nearest-neighbour order over a GiST index (issue 18).
--
-- A public point becomes a point on the sphere in 3-D Earth-centred coordinates (metres,
-- the mean Earth radius the `geo` crate's haversine uses). The straight-line (chord)
-- distance between two such points grows strictly with the great-circle distance
-- (chord = 2R sin(d / 2R)), so ordering by it is ordering by distance, with no special
-- case at the antimeridian or the poles. `cube` (contrib, shipped with PostgreSQL) indexes
-- those points with GiST: `<@` a box around the search's sphere of chord radius is the
-- index condition, `<->` the nearest-first order the index hands out. The exact
-- great-circle check (gm_distance_m, then the `geo` crate in the server) stays.
CREATE EXTENSION IF NOT EXISTS cube WITH SCHEMA public;

-- Built from 1-D cubes so every step is strict (NULL in, NULL out) and the planner inlines
-- it, in the index and in queries alike.
CREATE FUNCTION gm_earth_point(lat DOUBLE PRECISION, lng DOUBLE PRECISION)
RETURNS public.cube
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT public.cube(public.cube(public.cube(
        6371008.8 * cos(radians(lat)) * cos(radians(lng))),
        6371008.8 * cos(radians(lat)) * sin(radians(lng))),
        6371008.8 * sin(radians(lat)))
$$;

CREATE INDEX tasks_open_earth_idx ON tasks USING gist (gm_earth_point(public_latitude, public_longitude))
    WHERE status = 'OPEN' AND geohash IS NOT NULL;
