-- Conversations between two or more users, optionally about a task or an order.
CREATE TABLE conversations (
    id               UUID PRIMARY KEY,
    -- For two-party conversations: "<smaller user id>:<larger user id>:<task id or ->:<order id or ->",
    -- unique, so concurrent startConversation calls meet on one row.
    direct_key       TEXT UNIQUE,
    task_id          UUID,
    order_id         UUID,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_message_at  TIMESTAMPTZ
);
CREATE INDEX conversations_task_id_idx ON conversations (task_id) WHERE task_id IS NOT NULL;
CREATE INDEX conversations_order_id_idx ON conversations (order_id) WHERE order_id IS NOT NULL;

CREATE TABLE conversation_participants (
    conversation_id  UUID NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id          UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Read receipt: the newest message this participant has seen.
    last_read_at     TIMESTAMPTZ,
    -- Copied from the conversation so a user's inbox sorts on one index.
    last_message_at  TIMESTAMPTZ,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX conversation_participants_inbox_idx
    ON conversation_participants (user_id, last_message_at DESC NULLS LAST, conversation_id DESC);

CREATE TABLE messages (
    id               UUID PRIMARY KEY,
    conversation_id  UUID NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    sender_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- What participants see: contact details masked while the parties share no order.
    body             TEXT NOT NULL,
    -- The unmasked text, kept for moderation when the filter changed something.
    original_body    TEXT,
    flagged          BOOLEAN NOT NULL DEFAULT FALSE,
    reply_to_id      UUID REFERENCES messages (id) ON DELETE SET NULL,
    attachments      JSONB NOT NULL DEFAULT '[]',
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    edited_at        TIMESTAMPTZ
);
-- Message ids are UUID v7 (time-ordered): the page cursor within a conversation.
CREATE INDEX messages_conversation_id_idx ON messages (conversation_id, id DESC);
CREATE INDEX messages_sender_id_idx ON messages (sender_id);
CREATE INDEX messages_reply_to_id_idx ON messages (reply_to_id) WHERE reply_to_id IS NOT NULL;
CREATE INDEX messages_flagged_idx ON messages (created_at) WHERE flagged;

CREATE TABLE notifications (
    id          UUID PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('NEW_APPLICATION', 'APPLICATION_STATUS', 'NEW_MESSAGE',
                    'ORDER_STATUS', 'PAYMENT', 'CALL_SCHEDULED', 'REVIEW_RECEIVED', 'TASK_NEARBY',
                    'DISPUTE', 'GIG_UPDATE', 'SYSTEM')),
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    data        JSONB NOT NULL DEFAULT '{}',
    read_at     TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX notifications_user_id_idx ON notifications (user_id, id DESC);
CREATE INDEX notifications_unread_idx ON notifications (user_id, id DESC) WHERE read_at IS NULL;
