ALTER TABLE ledger_transactions DROP CONSTRAINT ledger_transactions_kind_check;
ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_kind_check
    CHECK (kind IN ('FUND', 'RELEASE', 'REFUND', 'CLEAR'));
DROP TABLE provider_calls;
