-- Launch from Canvas (LTI 1.3): the nonces of id_tokens already used. A nonce is spent once, on
-- whichever replica the launch reaches; rows older than any token that could still carry them
-- are deleted as new ones come.
CREATE TABLE lti_nonces (
    nonce TEXT PRIMARY KEY,
    used_at TEXT NOT NULL
);
CREATE INDEX lti_nonces_by_time ON lti_nonces (used_at);
