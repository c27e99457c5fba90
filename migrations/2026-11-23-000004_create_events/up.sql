-- The event outbox and log. Domain code inserts a row in the same transaction as the change
-- it describes. The relay (one at a time, under an advisory lock) numbers committed rows with
-- `seq` in commit-visible order, publishes them, then stamps `published_at`. `seq` is the
-- cursor clients resume from; it is never reassigned, so a re-publish after a crash is
-- recognised as a duplicate by subscribers.
CREATE SEQUENCE events_seq;

CREATE TABLE events (
    id            BIGSERIAL PRIMARY KEY,
    seq           BIGINT UNIQUE,
    topic         TEXT NOT NULL,
    kind          TEXT NOT NULL,
    payload       JSONB NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at  TIMESTAMPTZ
);

-- The relay's work list: rows not yet numbered, or numbered but not yet published.
CREATE INDEX events_unpublished_idx ON events (id) WHERE published_at IS NULL;
-- Resume: the events of one topic after a cursor.
CREATE INDEX events_topic_seq_idx ON events (topic, seq) WHERE seq IS NOT NULL;
