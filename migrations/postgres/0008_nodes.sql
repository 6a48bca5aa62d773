-- Several hub nodes on one database (src/cluster.rs).

-- The node that holds each session's media (config `node_id`).
ALTER TABLE sessions ADD COLUMN node TEXT NOT NULL DEFAULT '';
CREATE INDEX sessions_open_by_node ON sessions(node) WHERE status = 'open';

-- Every node that has run against this database: where clients reach it, and when it last
-- showed it was alive (the database's clock, so nodes' clocks need not agree). A node whose
-- heartbeat is older than `node_lost_after_secs` is marked `lost` by one of the others, which
-- then marks its open sessions interrupted.
CREATE TABLE nodes (
    id           TEXT PRIMARY KEY,
    public_url   TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('live', 'draining', 'stopped', 'lost')),
    started_at   TIMESTAMPTZ NOT NULL,
    heartbeat_at TIMESTAMPTZ NOT NULL
);

-- The walk-in queue every node serves, in arrival order (`pos`). `node` is where the applicant
-- is connected. An officer's node claims a row with SELECT … FOR UPDATE SKIP LOCKED and
-- deletes it in the same transaction, so one applicant is never handed to two officers.
CREATE TABLE desk_queue (
    case_id        TEXT PRIMARY KEY REFERENCES cases(id),
    pos            BIGSERIAL NOT NULL,
    node           TEXT NOT NULL,
    service        TEXT NOT NULL,
    skill          TEXT NOT NULL,
    lang           TEXT NOT NULL,
    tz             TEXT NOT NULL,
    applicant_name TEXT NOT NULL,
    booked_officer TEXT,
    booked_at      TIMESTAMPTZ,
    since          TIMESTAMPTZ NOT NULL
);
CREATE INDEX desk_queue_by_node ON desk_queue(node);
