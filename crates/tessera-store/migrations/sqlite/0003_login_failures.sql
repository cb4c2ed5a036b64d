-- Recent failed logins, counted by the login throttle. Kept in the database so that
-- every instance on it (and the command line, which clears them) sees the same
-- counts. Mirrored by the PostgreSQL schema (text and bigint columns there); keep
-- the two in step.
CREATE TABLE login_failures (
    -- 'account': a normalised username, known or not; 'client': an IP address
    kind TEXT    NOT NULL CHECK (kind IN ('account', 'client')),
    key  TEXT    NOT NULL,
    -- unix seconds, supplied by the caller (the store never reads the clock)
    at   INTEGER NOT NULL
) STRICT;

-- Counting and clearing one key's failures.
CREATE INDEX login_failures_by_key ON login_failures (kind, key, at);
-- Pruning the failures that left the window, whoever they belong to.
CREATE INDEX login_failures_by_time ON login_failures (at);
