-- Users of tessera. Mirrored by the PostgreSQL schema (uuid, text, jsonb,
-- boolean and bigint columns there); keep the two in step.
CREATE TABLE users (
    -- uuid in hyphenated lower-case text form
    id            TEXT    NOT NULL PRIMARY KEY,
    -- already normalised (lower-case) by the server; compared exactly
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    -- JSON array of role names, e.g. ["admin"]
    roles         TEXT    NOT NULL,
    active        INTEGER NOT NULL CHECK (active IN (0, 1)),
    -- unix seconds, supplied by the caller (the store never reads the clock)
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

-- One row whose value grows on every change to the users table, made by any
-- writer (this process, the CLI, raw SQL). Servers poll it to invalidate
-- their in-memory user caches.
CREATE TABLE user_change_counter (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
) STRICT;

INSERT INTO user_change_counter (id, value) VALUES (1, 0);

CREATE TRIGGER users_count_insert AFTER INSERT ON users
BEGIN
    UPDATE user_change_counter SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER users_count_update AFTER UPDATE ON users
BEGIN
    UPDATE user_change_counter SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER users_count_delete AFTER DELETE ON users
BEGIN
    UPDATE user_change_counter SET value = value + 1 WHERE id = 1;
END;
