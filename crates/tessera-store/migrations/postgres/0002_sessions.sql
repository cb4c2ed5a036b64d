-- Login sessions and their refresh tokens. Mirrors the SQLite schema (TEXT
-- uuids, BLOB hashes and INTEGER times there); keep the two in step.
CREATE TABLE sessions (
    -- access tokens carry it as `sid`
    id                  UUID   NOT NULL PRIMARY KEY,
    user_id             UUID   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- unix seconds, supplied by the caller (the store never reads the clock)
    created_at          BIGINT NOT NULL,
    -- the login or the latest refresh
    last_used_at        BIGINT NOT NULL,
    -- moved by every refresh, never past absolute_expires_at
    idle_expires_at     BIGINT NOT NULL,
    absolute_expires_at BIGINT NOT NULL,
    client_ip           TEXT   NOT NULL,
    user_agent          TEXT   NOT NULL,
    -- set once when the session is ended (logout, reuse, password change, ...)
    revoked_at          BIGINT,
    revoke_reason       TEXT,
    CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL)),
    CHECK (idle_expires_at <= absolute_expires_at)
);

CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_idle_expiry ON sessions (idle_expires_at);

-- Every refresh token a session was ever given, stored only as the SHA-256 of
-- the token. A rotated token keeps its successor sealed under a key derived
-- from the rotated token itself, so a client retrying within the grace window
-- gets the same successor and no usable token is stored in plain text.
CREATE TABLE refresh_tokens (
    token_hash BYTEA  NOT NULL PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    session_id UUID   NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    rotated_at BIGINT,
    successor  BYTEA,
    CHECK ((rotated_at IS NULL) = (successor IS NULL))
);

CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);
-- At most one current (not yet rotated) token per session: one successor, ever.
CREATE UNIQUE INDEX refresh_tokens_one_current ON refresh_tokens (session_id)
    WHERE rotated_at IS NULL;

-- Grows whenever a session is ended or deleted, by any writer. Servers poll it
-- to drop their in-memory session caches. Refreshes do not move it.
CREATE TABLE session_change_counter (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    value BIGINT  NOT NULL
);

INSERT INTO session_change_counter (id, value) VALUES (1, 0);

CREATE FUNCTION tessera_count_session_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE session_change_counter SET value = value + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER sessions_count_revoke AFTER UPDATE OF revoked_at ON sessions
    FOR EACH ROW EXECUTE FUNCTION tessera_count_session_change();

CREATE TRIGGER sessions_count_delete AFTER DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION tessera_count_session_change();
