-- Canvas's request fields in a stored event (metadata.user_login, client_ip, user_agent,
-- session_id) are removed once the event is older than GPB_REQUEST_FIELDS_RETENTION_DAYS; this
-- marks the events done, and the index finds the ones left without scanning the log.
ALTER TABLE events ADD COLUMN request_fields_removed_at TEXT;
CREATE INDEX events_request_fields_kept ON events (received_at)
    WHERE payload IS NOT NULL AND request_fields_removed_at IS NULL;

-- Page sessions ended by logging out: a copy of the cookie is refused on every replica until the
-- session would have expired anyway, after which the row goes.
CREATE TABLE ended_sessions (
    id TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL
);
CREATE INDEX ended_sessions_by_expiry ON ended_sessions (expires_at);

-- Failed logins and bearer checks, counted per client address and minute, for the admin alert on
-- token guessing (the throttle itself answers from each process's memory).
CREATE TABLE auth_failures (
    minute TEXT NOT NULL,
    address TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (minute, address)
);
