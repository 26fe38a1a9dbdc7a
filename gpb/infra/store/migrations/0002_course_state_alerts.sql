-- What gpb last read from Canvas about each course, and the verdicts of the rules.
ALTER TABLE courses ADD COLUMN sis_course_id TEXT;
ALTER TABLE courses ADD COLUMN refreshed_at TEXT;   -- when sections, groups and assignments were last read whole

CREATE TABLE sections (
    course_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    sis_section_id TEXT,
    student_count INTEGER NOT NULL,
    PRIMARY KEY (course_id, id)
);

CREATE TABLE assignment_groups (
    course_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (course_id, id)
);

CREATE TABLE enrollments (
    course_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    section_id TEXT NOT NULL,
    sis_user_id TEXT,
    PRIMARY KEY (course_id, user_id, section_id)
);

CREATE TABLE assignments (
    course_id TEXT NOT NULL,
    id TEXT NOT NULL,
    title TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    sync_enabled INTEGER NOT NULL,
    eligible INTEGER NOT NULL,
    snapshot TEXT NOT NULL,             -- the Assignment as read from Canvas, JSON
    violations TEXT NOT NULL,           -- JSON list of {code, severity, message, fix, section_id}
    state_time_ms INTEGER NOT NULL,     -- event_time of the newest event applied
    evaluated_at TEXT NOT NULL,
    PRIMARY KEY (course_id, id)
);

-- An alert is one (assignment, rule code) while the violation lasts; a new one if it comes back.
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    course_id TEXT NOT NULL,
    assignment_id TEXT NOT NULL,
    code TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL,
    fix TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    resolved_at TEXT
);
CREATE UNIQUE INDEX alerts_one_open ON alerts (course_id, assignment_id, code) WHERE state = 'open';
CREATE INDEX alerts_by_course ON alerts (course_id, state, id);

-- Every opened, updated or resolved alert, in order: what SSE streams and replays.
CREATE TABLE alert_feed (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    course_id TEXT NOT NULL,
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    version INTEGER NOT NULL,
    alert TEXT NOT NULL                 -- the alert JSON as it was at this version
);
CREATE INDEX alert_feed_by_course ON alert_feed (course_id, seq);
CREATE UNIQUE INDEX alert_feed_version ON alert_feed (alert_id, version);

-- Outbound notices, gathered per (assignment, channel) over the coalescing window.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,              -- 'webhook' | 'canvas_inbox'
    course_id TEXT NOT NULL,
    assignment_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    send_after TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TEXT NOT NULL,           -- alerts of the assignment changed since then are its content
    sent_at TEXT,
    sent TEXT                           -- what went out, JSON, for the record
);
CREATE UNIQUE INDEX notifications_one_pending ON notifications (channel, course_id, assignment_id)
    WHERE status = 'pending';
CREATE INDEX notifications_due ON notifications (status, send_after);
