DROP TABLE applications;
DROP TABLE task_invites;
DROP TABLE tasks;
DROP TABLE user_plans;
DROP TABLE plans;
