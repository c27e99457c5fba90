DROP INDEX users_admins_idx;
DROP TABLE sos_alerts;
DROP TABLE verification_documents;
DROP TABLE verification_requests;
DROP TABLE vouches;
