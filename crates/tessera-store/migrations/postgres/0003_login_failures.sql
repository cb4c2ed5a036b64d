-- Recent failed logins, counted by the login throttle. Kept in the database so that
-- every instance on it (and the command line, which clears them) sees the same
-- counts. Mirrors the SQLite schema (where the rowid plays the part of id); keep
-- the two in step.
CREATE TABLE login_failures (
    -- the order of insertion, to keep only a key's most recent failures
    id   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- 'account': a normalised username, known or not; 'client': an IP address
    kind TEXT   NOT NULL CHECK (kind IN ('account', 'client')),
    key  TEXT   NOT NULL,
    -- unix seconds, supplied by the caller (the store never reads the clock)
    at   BIGINT NOT NULL
);

-- Counting and clearing one key's failures.
CREATE INDEX login_failures_by_key ON login_failures (kind, key, at);
-- Pruning the failures that left the window, whoever they belong to.
CREATE INDEX login_failures_by_time ON login_failures (at);
