-- Officer certificates issued by the office CA, and their revocation.
CREATE TABLE officer_certificates (
    serial INTEGER PRIMARY KEY CHECK (serial > 0),
    officer_id TEXT NOT NULL REFERENCES users(id),
    der BLOB NOT NULL,
    not_before TEXT NOT NULL,
    not_after TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    revoked_at TEXT,
    reason INTEGER
);
CREATE INDEX officer_certificates_by_officer ON officer_certificates (officer_id);
