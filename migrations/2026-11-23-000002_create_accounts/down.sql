DROP TABLE sign_in_failures;
DROP TABLE password_reset_tokens;
DROP TABLE refresh_tokens;
DROP TABLE credentials;
