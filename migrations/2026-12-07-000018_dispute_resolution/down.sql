DROP TABLE dispute_evidence;
ALTER TABLE orders DROP COLUMN released_cents;
DROP INDEX disputes_status_idx;
DROP INDEX disputes_resolved_by_idx;
DROP INDEX disputes_mediator_idx;
ALTER TABLE disputes
    DROP CONSTRAINT disputes_mediator_assigned,
    DROP CONSTRAINT disputes_split_only_when_split,
    DROP COLUMN freelancer_cents,
    DROP COLUMN client_cents,
    DROP COLUMN split_bps,
    DROP COLUMN resolution_note,
    DROP COLUMN resolved_by,
    DROP COLUMN assigned_at,
    DROP COLUMN mediator_id,
    DROP COLUMN resumes_status;
