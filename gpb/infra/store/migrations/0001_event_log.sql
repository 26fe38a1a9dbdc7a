-- The event log: every delivery, refused ones included, with what became of it.
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,          -- ISO-8601 UTC, set by the single writer: rises with id
    status TEXT NOT NULL,
    event_name TEXT,
    event_time TEXT,
    event_time_ms INTEGER,
    shard INTEGER,
    course_id TEXT,
    user_id TEXT,
    content_hash TEXT,
    duplicate_of INTEGER REFERENCES events (id),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    error TEXT,                         -- JSON {"code", "message"}
    payload TEXT,                       -- the decoded event, JSON
    outcome TEXT,                       -- JSON: what handling it changed
    raw TEXT,                           -- a refused body, cut to a bound, for forensics
    source_ip TEXT
);

-- One first copy per content hash; duplicates point at it.
CREATE UNIQUE INDEX events_first_copy ON events (content_hash)
    WHERE content_hash IS NOT NULL AND duplicate_of IS NULL;
-- The admin filters, newest first: each filter and each pair of them walks one index in id order,
-- so a page costs the same in a log of any size.
CREATE INDEX events_by_course ON events (course_id, id);
CREATE INDEX events_by_name ON events (event_name, id);
CREATE INDEX events_by_status ON events (status, id);
CREATE INDEX events_by_course_name ON events (course_id, event_name, id);
CREATE INDEX events_by_course_status ON events (course_id, status, id);
CREATE INDEX events_by_name_status ON events (event_name, status, id);
CREATE INDEX events_by_received ON events (received_at);
CREATE INDEX events_retry_due ON events (next_attempt_at) WHERE status = 'failed';

CREATE TABLE tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    prefix TEXT NOT NULL UNIQUE,
    token_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'instructor')),
    name TEXT,
    course_ids TEXT NOT NULL DEFAULT '[]',   -- JSON list of local course ids
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT
);

-- The courses gpb has heard of, from any event filed under a course.
CREATE TABLE courses (
    id TEXT PRIMARY KEY,
    shard INTEGER,
    name TEXT,
    workflow_state TEXT,
    state_time_ms INTEGER,
    first_seen_at TEXT NOT NULL
);
