-- The officer's signature on an artefact: at most one, made after the hub sealed it.
CREATE TABLE artefact_signatures (
    artefact_id TEXT PRIMARY KEY REFERENCES artefacts(id),
    officer_id TEXT NOT NULL REFERENCES users(id),
    serial BIGINT NOT NULL,
    signed_at TIMESTAMPTZ NOT NULL
);
