-- Retention keeps a first copy while a duplicate points at it: finding those must not scan the log.
CREATE INDEX events_duplicates ON events (duplicate_of) WHERE duplicate_of IS NOT NULL;
