-- When each field of a grade was set (JSON: field -> event_time in ms), for the fields set before
-- state_time_ms: an event that arrives late still sets what no newer event has set.
ALTER TABLE grades ADD COLUMN field_times TEXT NOT NULL DEFAULT '{}';
