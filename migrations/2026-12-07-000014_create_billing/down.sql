DROP TABLE subscriptions;
DROP TABLE billing_customers;
