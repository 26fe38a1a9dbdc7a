-- Undo and automatic syncs.
--
-- `kind` keeps its CHECK ('sync', 'remaster'): SQLite cannot change a CHECK in place. The finer
-- kind of a run is `variant`: NULL for a run a person started, 'auto' or 'nightly' for a sync the
-- scheduler started, 'undo' for a run that takes back the run `undo_of`.
ALTER TABLE sync_runs ADD COLUMN variant TEXT;
ALTER TABLE sync_runs ADD COLUMN undo_of INTEGER;
CREATE INDEX sync_runs_undo_of ON sync_runs (undo_of) WHERE undo_of IS NOT NULL;

-- What IC held before each write of a run (NULL: it held nothing), read just before the write, and
-- what the run wrote. An undo puts `before_value` back where IC still holds `written_value`.
CREATE TABLE run_writes (
    run_id INTEGER NOT NULL REFERENCES sync_runs (id),
    kind TEXT NOT NULL CHECK (kind IN ('lineItem', 'result')),
    sourced_id TEXT NOT NULL,
    course_id TEXT NOT NULL,
    assignment_id TEXT NOT NULL,
    section_id TEXT NOT NULL,
    user_id TEXT,                       -- NULL for a line item
    before_value TEXT,                  -- IC's record as JSON, exactly as IC answered it
    written_value TEXT NOT NULL,        -- what the run wrote, in gpb's comparable form, or 'deleted'
    PRIMARY KEY (run_id, kind, sourced_id)
);
CREATE INDEX run_writes_by_record ON run_writes (course_id, sourced_id);

-- Each course's automatic syncs: the teacher's mode (NULL: the district's default), the nightly
-- time, and the marks that make a round fire once: the last change seen, the change the last
-- automatic run covered, and the last nightly slot taken.
CREATE TABLE auto_sync (
    course_id TEXT PRIMARY KEY,
    mode TEXT CHECK (mode IN ('off', 'after_change', 'nightly')),
    nightly_at TEXT,                    -- HH:MM in GPB_TIME_ZONE
    changed_at TEXT,
    covered_at TEXT,
    nightly_slot TEXT
);
CREATE INDEX auto_sync_changed ON auto_sync (changed_at);

-- Assignments whose automatic runs keep failing: at GPB_AUTO_SYNC_MAX_FAILURES in a row they are
-- left out of automatic runs until the teacher syncs them by hand.
CREATE TABLE auto_sync_failures (
    course_id TEXT NOT NULL,
    assignment_id TEXT NOT NULL,
    failures INTEGER NOT NULL,
    PRIMARY KEY (course_id, assignment_id)
);
