-- Enrollments in every state gpb reads (active, invited, completed, inactive): a student who left
-- a section is told apart from a grade removed in Canvas, and no grade is deleted from IC because
-- an enrollment ended. Rows stored before this migration were all active.
ALTER TABLE enrollments ADD COLUMN state TEXT NOT NULL DEFAULT 'active';

-- What IC last confirmed of each line item (title, points, dates, group), as JSON: an edit of the
-- assignment after a sync makes its line items pending. NULL for line items written before this
-- migration, which are sent again with the next result rather than all at once.
ALTER TABLE line_items ADD COLUMN details TEXT;
