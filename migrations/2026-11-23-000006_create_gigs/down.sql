DROP TABLE saved_gigs;
DROP TABLE gig_media;
DROP TABLE gig_packages;
DROP TABLE gigs;
DROP FUNCTION gm_words(text[]);
