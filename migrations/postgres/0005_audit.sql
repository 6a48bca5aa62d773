-- What auditors filter artefacts by, and who looked at what.
ALTER TABLE artefacts ADD COLUMN outcome TEXT NOT NULL DEFAULT 'unknown';

-- Every view of an artefact (list, timeline, verification, download) by a signed-in user.
CREATE TABLE access_log (
    id BIGSERIAL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX access_log_by_time ON access_log(at);
