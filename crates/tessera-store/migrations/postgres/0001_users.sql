-- Users of tessera. Mirrors the SQLite schema (TEXT uuids, a JSON text array and
-- 0/1 integers there); keep the two in step.
CREATE TABLE users (
    id            UUID    NOT NULL PRIMARY KEY,
    -- already normalised (lower-case) by the server; compared and ordered
    -- byte for byte, as SQLite does
    username      TEXT    COLLATE "C" NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    -- JSON array of role names, e.g. ["admin"]
    roles         JSONB   NOT NULL CHECK (jsonb_typeof(roles) = 'array'),
    active        BOOLEAN NOT NULL,
    -- unix seconds, supplied by the caller (the store never reads the clock)
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

-- One row whose value grows on every change to the users table, made by any
-- writer (any instance, the CLI, raw SQL). Servers poll it to invalidate
-- their in-memory user caches.
CREATE TABLE user_change_counter (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    value BIGINT  NOT NULL
);

INSERT INTO user_change_counter (id, value) VALUES (1, 0);

CREATE FUNCTION tessera_count_user_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE user_change_counter SET value = value + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_count_change AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION tessera_count_user_change();
