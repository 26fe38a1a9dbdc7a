-- The student's name as Canvas sorts it ("Rivera, Ana"), read with the enrollments, so that pages
-- and the API can say whose grade it is. Student data: shown to the course's teachers, never logged.
ALTER TABLE enrollments ADD COLUMN sortable_name TEXT;
-- A user_updated event looks the student up across courses.
CREATE INDEX enrollments_by_user ON enrollments (user_id);
