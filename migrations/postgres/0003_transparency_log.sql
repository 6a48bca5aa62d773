-- The transparency log: one row per leaf, in append order. A leaf is the canonical
-- manifest.json of a sealed artefact; only its RFC 9162 leaf hash is kept here.
CREATE TABLE log_leaves (
    idx BIGINT PRIMARY KEY CHECK (idx >= 0),
    leaf_hash BYTEA NOT NULL CHECK (octet_length(leaf_hash) = 32),
    artefact_id TEXT NOT NULL UNIQUE,
    appended_at TIMESTAMPTZ NOT NULL
);
