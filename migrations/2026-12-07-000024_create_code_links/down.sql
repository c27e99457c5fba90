DELETE FROM dispute_evidence WHERE kind IN ('PR', 'CI');
ALTER TABLE dispute_evidence
    DROP CONSTRAINT dispute_evidence_check_kind,
    DROP CONSTRAINT dispute_evidence_pull_request_kind,
    DROP COLUMN check_id,
    DROP COLUMN pull_request_id,
    DROP CONSTRAINT dispute_evidence_kind_check;
ALTER TABLE dispute_evidence
    ADD CONSTRAINT dispute_evidence_kind_check CHECK (kind IN ('MESSAGE', 'FILE', 'LINK', 'NOTE'));
DROP TABLE github_deliveries;
DROP TABLE ci_checks;
DROP TABLE pull_requests;
DROP TABLE code_links;
