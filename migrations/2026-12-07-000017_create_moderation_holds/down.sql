DROP TABLE moderation_holds;
