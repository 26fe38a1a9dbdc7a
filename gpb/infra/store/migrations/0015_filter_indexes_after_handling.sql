-- The admin filters' indexes hold only the events the worker has handled. An event is stored as
-- 'accepted' and enters them when its handler files it under a final status, so storing an event
-- (on the request's path) updates only the de-duplication index and the ones whose keys rise with
-- the id. The events still waiting are the worker's backlog, few at any time: events_waiting lists
-- them, and a query that must see events of every status reads both parts. Each query states the
-- part it reads (gpb/infra/store/event_parts.py): SQLite uses a partial index only then.
DROP INDEX events_by_course;
DROP INDEX events_by_name;
DROP INDEX events_by_status;
DROP INDEX events_by_course_name;
DROP INDEX events_by_course_status;
DROP INDEX events_by_name_status;
CREATE INDEX events_by_course ON events (course_id, id) WHERE status <> 'accepted';
CREATE INDEX events_by_name ON events (event_name, id) WHERE status <> 'accepted';
CREATE INDEX events_by_status ON events (status, id) WHERE status <> 'accepted';
CREATE INDEX events_by_course_name ON events (course_id, event_name, id)
    WHERE status <> 'accepted';
CREATE INDEX events_by_course_status ON events (course_id, status, id)
    WHERE status <> 'accepted';
CREATE INDEX events_by_name_status ON events (event_name, status, id)
    WHERE status <> 'accepted';
CREATE INDEX events_waiting ON events (id) WHERE status = 'accepted';
