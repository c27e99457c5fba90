DROP TABLE payout_accounts;
DROP TABLE stripe_events;
