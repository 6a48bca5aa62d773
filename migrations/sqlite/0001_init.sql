-- globallink schema, SQLite dialect. Times are RFC 3339 text in UTC.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('officer', 'auditor')),
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE logins (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id),
    expires_at TEXT NOT NULL
);

CREATE TABLE cases (
    id                TEXT PRIMARY KEY,
    service           TEXT NOT NULL,
    applicant_name    TEXT NOT NULL,
    applicant_tz      TEXT NOT NULL,
    applicant_lang    TEXT NOT NULL,
    created_by        TEXT NOT NULL REFERENCES users(id),
    created_at        TEXT NOT NULL,
    invite_hash       TEXT NOT NULL UNIQUE,
    invite_expires_at TEXT NOT NULL
);

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    case_id    TEXT NOT NULL REFERENCES cases(id),
    officer_id TEXT NOT NULL REFERENCES users(id),
    status     TEXT NOT NULL CHECK (status IN ('open', 'closed', 'interrupted')),
    started_at TEXT NOT NULL,
    ended_at   TEXT
);
CREATE INDEX sessions_by_case ON sessions(case_id);

-- The evidence chain. (session_id, seq) is the primary key, so a chain can never fork.
CREATE TABLE events (
    session_id TEXT NOT NULL REFERENCES sessions(id),
    seq        INTEGER NOT NULL,
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
    size            INTEGER NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX artefacts_by_case ON artefacts(case_id);
