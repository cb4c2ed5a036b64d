-- Clients of the token introspection API. Mirrors the SQLite schema (TEXT and INTEGER
-- there); keep the two in step.
CREATE TABLE api_clients (
    -- the public client id; compared exactly
    id          TEXT   COLLATE "C" NOT NULL PRIMARY KEY CHECK (id <> ''),
    -- a name for operators; unique, compared and ordered byte for byte
    name        TEXT   COLLATE "C" NOT NULL UNIQUE,
    -- the hash of the client's secret, made by the server; the secret is never stored
    secret_hash TEXT   NOT NULL,
    -- unix seconds, supplied by the caller (the store never reads the clock)
    created_at  BIGINT NOT NULL,
    -- set when the client was disabled; NULL while it may call
    disabled_at BIGINT
);
