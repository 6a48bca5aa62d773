-- Officers' skills, languages and shifts, applicants' acceptable hours, and bookings.

CREATE TABLE officer_profiles (
    user_id    TEXT PRIMARY KEY REFERENCES users(id),
    -- JSON: {"skills": [...], "languages": [...], "schedule": OfficerSchedule}, kept as the
    -- text the hub wrote (TEXT, not JSONB, so it reads back byte for byte).
    profile    TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

ALTER TABLE cases ADD COLUMN applicant_earliest TEXT NOT NULL DEFAULT '08:00';
ALTER TABLE cases ADD COLUMN applicant_latest TEXT NOT NULL DEFAULT '21:00';

CREATE TABLE bookings (
    id         TEXT PRIMARY KEY,
    case_id    TEXT NOT NULL REFERENCES cases(id),
    officer_id TEXT NOT NULL REFERENCES users(id),
    starts_at  TIMESTAMPTZ NOT NULL,
    ends_at    TIMESTAMPTZ NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('booked', 'cancelled')),
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX bookings_by_officer ON bookings(officer_id, starts_at);
-- A case holds at most one live booking.
CREATE UNIQUE INDEX bookings_one_per_case ON bookings(case_id) WHERE status = 'booked';
