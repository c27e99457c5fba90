-- What the peer (PostGraphile) serves: the rows gigmarket shows anonymous visitors, as
-- views in a schema of their own, so both servers answer from the same rows.
--   gigs:     ACTIVE gigs of owners who are not banned (the feed's and gig page's rule);
--   users:    users who are not banned, public columns only;
--   reviews:  published reviews (blind reviews stay hidden until both sides wrote or the
--             window closed, like `reviews_reviewee_public_idx`);
--   gig_packages: as they are.
-- PostgreSQL inlines these views, so the plans use the tables' own indexes. Smart comments
-- give PostGraphile the primary and foreign keys a view cannot declare. Idempotent.
CREATE SCHEMA IF NOT EXISTS gigmarket_peer;

CREATE OR REPLACE VIEW gigmarket_peer.users AS
    SELECT id, username, full_name, avatar_url, headline, bio, created_at
    FROM public.users
    WHERE banned_at IS NULL;
COMMENT ON VIEW gigmarket_peer.users IS E'@primaryKey id';

CREATE OR REPLACE VIEW gigmarket_peer.gigs AS
    SELECT g.id, g.owner_id, g.title, g.description, g.category, g.currency, g.status,
           g.min_price_cents, g.min_delivery_days, g.rating_average, g.rating_count,
           g.created_at, g.published_at
    FROM public.gigs g
    WHERE g.status = 'ACTIVE'
      AND EXISTS (SELECT 1 FROM public.users u WHERE u.id = g.owner_id AND u.banned_at IS NULL);
COMMENT ON VIEW gigmarket_peer.gigs IS
    E'@primaryKey id\n@foreignKey (owner_id) references gigmarket_peer.users (id)';

CREATE OR REPLACE VIEW gigmarket_peer.gig_packages AS
    SELECT gig_id, tier, title, description, price_cents, delivery_days, revisions
    FROM public.gig_packages;
COMMENT ON VIEW gigmarket_peer.gig_packages IS
    E'@primaryKey gig_id,tier\n@foreignKey (gig_id) references gigmarket_peer.gigs (id)';

CREATE OR REPLACE VIEW gigmarket_peer.reviews AS
    SELECT id, reviewee_id, reviewer_id, reviewee_role, rating, comment, published_at
    FROM public.reviews
    WHERE published_at IS NOT NULL;
COMMENT ON VIEW gigmarket_peer.reviews IS
    E'@primaryKey id\n@foreignKey (reviewee_id) references gigmarket_peer.users (id)';
