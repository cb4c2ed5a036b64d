-- Clients of the token introspection API. Mirrored by the PostgreSQL schema (text columns
-- in the "C" collation, bigint there); keep the two in step.
CREATE TABLE api_clients (
    -- the public client id; compared exactly
    id          TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    -- a name for operators; unique, compared and ordered byte for byte
    name        TEXT    NOT NULL UNIQUE,
    -- the hash of the client's secret, made by the server; the secret is never stored
    secret_hash TEXT    NOT NULL,
    -- unix seconds, supplied by the caller (the store never reads the clock)
    created_at  INTEGER NOT NULL,
    -- set when the client was disabled; NULL while it may call
    disabled_at INTEGER
) STRICT;
