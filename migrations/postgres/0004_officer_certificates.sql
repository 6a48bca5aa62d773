-- Officer certificates issued by the office CA, and their revocation.
CREATE TABLE officer_certificates (
    serial BIGINT PRIMARY KEY CHECK (serial > 0),
    officer_id TEXT NOT NULL REFERENCES users(id),
    der BYTEA NOT NULL,
    not_before TIMESTAMPTZ NOT NULL,
    not_after TIMESTAMPTZ NOT NULL,
    issued_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ,
    -- RFC 5280 reason code (BIGINT like every integer here, so both stores read it as i64).
    reason BIGINT
);
CREATE INDEX officer_certificates_by_officer ON officer_certificates (officer_id);
