ALTER TABLE gigs DROP COLUMN rating_sum;
DROP TABLE user_ratings;
DROP TABLE reviews;
