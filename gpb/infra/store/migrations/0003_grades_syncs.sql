-- What Canvas says of each grade, as the events and remasters left it.
CREATE TABLE grades (
    course_id TEXT NOT NULL,
    assignment_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    score REAL,
    grade TEXT,
    excused INTEGER NOT NULL,
    missing INTEGER NOT NULL,
    late INTEGER NOT NULL,
    posted INTEGER NOT NULL,
    student_sis_id TEXT,
    graded_at TEXT,
    state_time_ms INTEGER NOT NULL,
    PRIMARY KEY (course_id, assignment_id, user_id)
);

-- What IC confirmed for each result gpb wrote: the other side of the pending delta.
CREATE TABLE confirmed (
    course_id TEXT NOT NULL,
    assignment_id TEXT NOT NULL,
    section_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    score REAL,
    excused INTEGER NOT NULL,
    missing INTEGER NOT NULL,
    late INTEGER NOT NULL,
    confirmed_at TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    PRIMARY KEY (course_id, assignment_id, section_id, user_id)
);

CREATE TABLE line_items (
    course_id TEXT NOT NULL,
    assignment_id TEXT NOT NULL,
    section_id TEXT NOT NULL,
    sourced_id TEXT NOT NULL,
    confirmed_at TEXT NOT NULL,
    PRIMARY KEY (course_id, assignment_id, section_id)
);

CREATE TABLE sync_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    course_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('sync', 'remaster')),
    dry_run INTEGER NOT NULL,
    status TEXT NOT NULL,
    requested_by TEXT,
    assignment_ids TEXT,                -- JSON list, or NULL for "all eligible"
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    progress_done INTEGER NOT NULL DEFAULT 0,
    progress_total INTEGER NOT NULL DEFAULT 0,
    report TEXT                         -- JSON, once finished
);
-- At most one real run queued or running per course: the 409 rests on this, not on a read.
CREATE UNIQUE INDEX sync_runs_one_active ON sync_runs (course_id)
    WHERE dry_run = 0 AND status IN ('queued', 'running');
CREATE INDEX sync_runs_by_course ON sync_runs (course_id, id);
CREATE INDEX sync_runs_by_status ON sync_runs (status);

-- What IC confirmed within one run, so that a resumed run sends none of it again.
CREATE TABLE run_confirmations (
    run_id INTEGER NOT NULL REFERENCES sync_runs (id),
    sourced_id TEXT NOT NULL,
    value TEXT NOT NULL,                -- the confirmed value as JSON, or 'deleted'
    PRIMARY KEY (run_id, sourced_id)
);
