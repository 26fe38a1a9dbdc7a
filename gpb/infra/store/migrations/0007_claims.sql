-- Claims: which gpb process handles an event, runs a sync or sends a notice, and until when. With
-- several replicas on one database, a claim keeps the others off the same work; one whose holder
-- died runs out, and another replica takes the work over. An event's claimed_by stays when its
-- claim ends: it names the process that handled it.
ALTER TABLE events ADD COLUMN claimed_by TEXT;
ALTER TABLE events ADD COLUMN lease_until TEXT;
CREATE INDEX events_claimed ON events (lease_until) WHERE lease_until IS NOT NULL;

ALTER TABLE sync_runs ADD COLUMN claimed_by TEXT;
ALTER TABLE sync_runs ADD COLUMN lease_until TEXT;

ALTER TABLE notifications ADD COLUMN lease_until TEXT;
ALTER TABLE admin_notices ADD COLUMN lease_until TEXT;

-- A scheduled job's run for one slot (a day, a minute): whoever inserts the row runs it.
CREATE TABLE job_slots (
    job TEXT NOT NULL,
    slot TEXT NOT NULL,
    taken_by TEXT NOT NULL,
    taken_at TEXT NOT NULL,
    PRIMARY KEY (job, slot)
);
