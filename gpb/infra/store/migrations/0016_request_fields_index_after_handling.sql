-- The index that finds the events still holding Canvas's request fields holds only handled
-- events, like the admin filters' (0015): the fields are removed once an event is days old, when
-- it has long been handled, so storing an event on the request's path no longer updates this
-- index. The old events still waiting, if any, are found through events_waiting.
DROP INDEX events_request_fields_kept;
CREATE INDEX events_request_fields_kept ON events (received_at)
    WHERE payload IS NOT NULL AND request_fields_removed_at IS NULL AND status <> 'accepted';
