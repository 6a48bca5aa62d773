-- The hub node that holds each session's media (config `node_id`). A SQLite database has one
-- node; the column is here so both engines keep the same sessions.
ALTER TABLE sessions ADD COLUMN node TEXT NOT NULL DEFAULT '';
