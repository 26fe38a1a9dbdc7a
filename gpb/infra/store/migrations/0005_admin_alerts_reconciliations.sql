-- Admin alerts: one per condition code while it holds; a new one if it comes back.
CREATE TABLE admin_alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    fix TEXT NOT NULL,
    details TEXT NOT NULL,              -- JSON object
    state TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
    opened_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    resolved_at TEXT
);
CREATE UNIQUE INDEX admin_alerts_one_open ON admin_alerts (code) WHERE state = 'open';
CREATE INDEX admin_alerts_by_state ON admin_alerts (state, id);

-- The outbox of admin alerts' openings and resolutions, one row per channel.
CREATE TABLE admin_notices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id INTEGER NOT NULL REFERENCES admin_alerts (id),
    channel TEXT NOT NULL,
    change TEXT NOT NULL CHECK (change IN ('opened', 'resolved')),
    alert TEXT NOT NULL,                -- the alert JSON as it was at that change
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    send_after TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX admin_notices_due ON admin_notices (status, send_after);

-- The health job reads the runs that finished lately, every minute.
CREATE INDEX sync_runs_by_finished ON sync_runs (finished_at);

-- A course may opt in to a remaster after each nightly reconciliation.
ALTER TABLE courses ADD COLUMN nightly_remaster INTEGER NOT NULL DEFAULT 0;

-- One course's reconciliation: what was repaired from Canvas and what drifted in IC.
CREATE TABLE reconciliations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    course_id TEXT NOT NULL,
    started_by TEXT NOT NULL,           -- the trigger: 'nightly' | 'command'
    status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    repaired_grades INTEGER NOT NULL,
    drift_count INTEGER NOT NULL,
    report TEXT NOT NULL                -- JSON: repaired, drift, ic_checked, errors, remaster
);
CREATE INDEX reconciliations_by_course ON reconciliations (course_id, id);
