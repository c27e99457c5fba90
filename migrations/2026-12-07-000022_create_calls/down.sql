ALTER TABLE mail_outbox
    DROP CONSTRAINT mail_outbox_attachment_whole,
    DROP COLUMN attachment_body,
    DROP COLUMN attachment_content_type,
    DROP COLUMN attachment_name;
DROP TABLE call_participants;
DROP TABLE calls;
