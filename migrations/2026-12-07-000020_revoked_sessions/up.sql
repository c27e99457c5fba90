-- Session families (sign-ins) whose access tokens are refused before they expire: a refresh
-- token of the family was reused (theft detection). Rows older than an access token's
-- lifetime are of no use and are pruned when new ones are written.
CREATE TABLE revoked_sessions (
    family_id  uuid        PRIMARY KEY,
    revoked_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX revoked_sessions_revoked_at ON revoked_sessions (revoked_at);
