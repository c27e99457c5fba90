DROP TABLE saved_freelancers;
