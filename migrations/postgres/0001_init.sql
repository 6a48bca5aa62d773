-- globallink schema, PostgreSQL dialect. Same tables, keys and meaning as migrations/sqlite;
-- times are TIMESTAMPTZ (microseconds), counters BIGINT.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('officer', 'auditor')),
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE logins (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id),
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE cases (
    id                TEXT PRIMARY KEY,
    service           TEXT NOT NULL,
    applicant_name    TEXT NOT NULL,
    applicant_tz      TEXT NOT NULL,
    applicant_lang    TEXT NOT NULL,
    created_by        TEXT NOT NULL REFERENCES users(id),
    created_at        TIMESTAMPTZ NOT NULL,
    invite_hash       TEXT NOT NULL UNIQUE,
    invite_expires_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    case_id    TEXT NOT NULL REFERENCES cases(id),
    officer_id TEXT NOT NULL REFERENCES users(id),
    status     TEXT NOT NULL CHECK (status IN ('open', 'closed', 'interrupted')),
    started_at TIMESTAMPTZ NOT NULL,
    ended_at   TIMESTAMPTZ
);
CREATE INDEX sessions_by_case ON sessions(case_id);

-- The evidence chain. (session_id, seq) is the primary key, so a chain can never fork.
CREATE TABLE events (
    session_id TEXT NOT NULL REFERENCES sessions(id),
    seq        BIGINT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
);

CREATE TABLE artefacts (
    id              TEXT PRIMARY KEY,
    case_id         TEXT NOT NULL REFERENCES cases(id),
    session_id      TEXT NOT NULL UNIQUE REFERENCES sessions(id),
    file_name       TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    size            BIGINT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX artefacts_by_case ON artefacts(case_id);
