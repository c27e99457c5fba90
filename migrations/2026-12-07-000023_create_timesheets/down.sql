DROP TABLE time_entries;
DROP TABLE timesheets;
DROP TABLE hourly_terms;
ALTER TABLE orders DROP COLUMN billed_cents;
