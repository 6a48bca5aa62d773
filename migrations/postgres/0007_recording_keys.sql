-- The key of an artefact's recordings at rest (seal::rest), wrapped under a key derived from the
-- hub secret, and how long it is kept. Destroying it (retention) clears `wrapped_key` and sets
-- `destroyed_at` in one update; the row stays as the record of the destruction. No foreign key:
-- the key is committed before the artefact's row, so an artefact never exists without it.
CREATE TABLE recording_keys (
    artefact_id TEXT PRIMARY KEY,
    wrapped_key BYTEA,
    retain_until TIMESTAMPTZ NOT NULL,
    destroyed_at TIMESTAMPTZ,
    CHECK ((wrapped_key IS NULL) = (destroyed_at IS NOT NULL))
);
CREATE INDEX recording_keys_due ON recording_keys(retain_until) WHERE destroyed_at IS NULL;
