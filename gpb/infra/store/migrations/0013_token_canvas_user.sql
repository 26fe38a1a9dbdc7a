-- The Canvas user a token belongs to: fixes made from gpb act as that user in Canvas when
-- GPB_CANVAS_ACT_AS_USER is on (Canvas's as_user_id). Null: the token names no Canvas user.
ALTER TABLE tokens ADD COLUMN canvas_user_id TEXT;
