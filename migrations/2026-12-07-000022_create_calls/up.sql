-- Video calls (seed 000): instant and scheduled calls between members who share a
-- conversation, a task or an order; their participants; and mail attachments for the
-- reminders' calendar files.

CREATE TABLE calls (
    id                UUID PRIMARY KEY,
    -- The unguessable room name (128 random bits); the room URL is the configured provider
    -- base followed by it.
    room_id           TEXT NOT NULL UNIQUE,
    initiator_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    task_id           UUID REFERENCES tasks (id) ON DELETE SET NULL,
    order_id          UUID REFERENCES orders (id) ON DELETE SET NULL,
    title             TEXT NOT NULL CHECK (char_length(title) BETWEEN 1 AND 120),
    status            TEXT NOT NULL CHECK (status IN ('SCHEDULED', 'ACTIVE', 'ENDED', 'CANCELLED')),
    -- The planned start of a scheduled call; the creation time of an instant one.
    starts_at         TIMESTAMPTZ NOT NULL,
    -- The planned length and end of a scheduled call; null for an instant one.
    duration_minutes  INTEGER CHECK (duration_minutes BETWEEN 5 AND 480),
    ends_at           TIMESTAMPTZ,
    started_at        TIMESTAMPTZ,
    ended_at          TIMESTAMPTZ,
    cancelled_at      TIMESTAMPTZ,
    -- Set when the reminder job claimed the call (it sends the reminder once).
    reminded_at       TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((duration_minutes IS NULL) = (ends_at IS NULL)),
    CHECK (ends_at IS NULL OR ends_at > starts_at),
    CHECK (ended_at IS NULL OR started_at IS NOT NULL AND ended_at >= started_at)
);

CREATE INDEX calls_initiator_idx ON calls (initiator_id);
CREATE INDEX calls_task_idx ON calls (task_id) WHERE task_id IS NOT NULL;
CREATE INDEX calls_order_idx ON calls (order_id) WHERE order_id IS NOT NULL;
-- Scheduled calls not yet reminded, by start (the reminder job).
CREATE INDEX calls_reminder_due_idx ON calls (starts_at)
    WHERE status = 'SCHEDULED' AND reminded_at IS NULL;

CREATE TABLE call_participants (
    call_id    UUID NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The call's start, copied (it never changes): a member's calls by start walk one index.
    starts_at  TIMESTAMPTZ NOT NULL,
    -- When this participant first joined.
    joined_at  TIMESTAMPTZ,
    PRIMARY KEY (call_id, user_id)
);

-- A member's calls by start: upcomingCalls, callHistory and the overlap check.
CREATE INDEX call_participants_user_start_idx ON call_participants (user_id, starts_at, call_id);

-- One optional attachment per queued mail (a reminder's calendar file).
ALTER TABLE mail_outbox
    ADD COLUMN attachment_name TEXT,
    ADD COLUMN attachment_content_type TEXT,
    ADD COLUMN attachment_body TEXT,
    ADD CONSTRAINT mail_outbox_attachment_whole CHECK (
        (attachment_name IS NULL) = (attachment_body IS NULL)
        AND (attachment_name IS NULL) = (attachment_content_type IS NULL)
    );
