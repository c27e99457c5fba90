DROP TABLE events;
DROP SEQUENCE events_seq;
