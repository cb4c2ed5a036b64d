-- Token signing keys, and the change feed's new kind 'key' that tells every server to
-- reload its key set. Mirrored by the PostgreSQL schema (uuid, bytea, text and bigint
-- columns there); keep the two in step.
CREATE TABLE signing_keys (
    -- uuid in hyphenated lower-case text form, chosen by the store; feed changes carry it
    id             TEXT    NOT NULL PRIMARY KEY,
    -- the key id tokens name in their header; compared exactly
    kid            TEXT    NOT NULL UNIQUE CHECK (kid <> ''),
    -- the JWS algorithm name (EdDSA, ES256, RS256, ...), as the server stored it
    algorithm      TEXT    NOT NULL CHECK (algorithm <> ''),
    -- next: published, never signs; current: signs; retired: verifies until verify_until;
    -- revoked: refused at once
    state          TEXT    NOT NULL CHECK (state IN ('next', 'current', 'retired', 'revoked')),
    -- the public JWK as JSON text: what the key set publishes
    public_jwk     TEXT    NOT NULL,
    -- the private key sealed by the server under its key-encryption secret (never plain);
    -- NULL when the private half is kept elsewhere
    sealed_private BLOB,
    -- unix seconds, supplied by the caller (the store never reads the clock)
    created_at     INTEGER NOT NULL,
    -- when it became current
    activated_at   INTEGER,
    -- when it stopped signing
    retired_at     INTEGER,
    -- a retired key verifies until this time (inclusive) and is removed after it
    verify_until   INTEGER,
    -- when it was revoked
    revoked_at     INTEGER,
    CHECK (state <> 'current' OR activated_at IS NOT NULL),
    CHECK (state <> 'retired' OR (retired_at IS NOT NULL AND verify_until IS NOT NULL)),
    CHECK ((state = 'revoked') = (revoked_at IS NOT NULL))
) STRICT;

-- At most one current key and at most one next key, whoever writes: of two instances
-- racing to create or activate one, the database lets exactly one win.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (state) WHERE state = 'current';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (state) WHERE state = 'next';

-- Widening the CHECK of changes.kind: SQLite cannot alter a CHECK in place, so the table is
-- rebuilt (SQLite's documented way: create the new table, copy, drop the old, rename),
-- inside the migration's transaction. The feed triggers name `changes` and are dropped
-- first (a rename checks every trigger of the schema) and made again below, unchanged. The
-- AUTOINCREMENT counter (sqlite_sequence) is carried over, so no seq is ever handed out
-- twice, not even after pruning emptied the feed; the rename moves its row.
DROP TRIGGER users_feed_insert;
DROP TRIGGER users_feed_update;
DROP TRIGGER users_feed_update_id;
DROP TRIGGER users_feed_delete;
DROP TRIGGER sessions_feed_end;
DROP TRIGGER sessions_feed_delete;

CREATE TABLE changes_new (
    -- the feed position; AUTOINCREMENT never reuses one, even after pruning, and the single
    -- writer makes commit order the order of seq
    seq  INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    -- 'user': drop the user and its sessions; 'session': drop the session; 'key': reload
    -- the signing keys
    kind TEXT    NOT NULL CHECK (kind IN ('user', 'session', 'key')),
    -- uuid of the user, the session or the signing key, in hyphenated lower-case text form
    id   TEXT    NOT NULL,
    -- unix seconds by the database's clock when written; used only by pruning
    at   INTEGER NOT NULL
) STRICT;

INSERT INTO changes_new (seq, kind, id, at) SELECT seq, kind, id, at FROM changes ORDER BY seq;

DELETE FROM sqlite_sequence WHERE name = 'changes_new';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'changes_new', max(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0),
                          COALESCE((SELECT MAX(seq) FROM changes), 0));

DROP TABLE changes;
ALTER TABLE changes_new RENAME TO changes;

CREATE TRIGGER users_feed_insert AFTER INSERT ON users
BEGIN
    INSERT INTO changes (kind, id, at)
    VALUES ('user', NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER users_feed_update AFTER UPDATE ON users
BEGIN
    INSERT INTO changes (kind, id, at)
    VALUES ('user', OLD.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

-- Raw SQL that changes an id: the new id may be cached as absent.
CREATE TRIGGER users_feed_update_id AFTER UPDATE OF id ON users
WHEN NEW.id IS NOT OLD.id
BEGIN
    INSERT INTO changes (kind, id, at)
    VALUES ('user', NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER users_feed_delete AFTER DELETE ON users
BEGIN
    INSERT INTO changes (kind, id, at)
    VALUES ('user', OLD.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

-- A session is fed when it ends; refreshes (last_used_at, idle_expires_at) are not.
CREATE TRIGGER sessions_feed_end AFTER UPDATE OF revoked_at ON sessions
WHEN OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL
BEGIN
    INSERT INTO changes (kind, id, at)
    VALUES ('session', NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

-- Deleting a session that had not ended (a user's cascade, raw SQL); an ended one was fed
-- when it ended.
CREATE TRIGGER sessions_feed_delete AFTER DELETE ON sessions
WHEN OLD.revoked_at IS NULL
BEGIN
    INSERT INTO changes (kind, id, at)
    VALUES ('session', OLD.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

-- Every write of a key is fed, whoever makes it: each server reloads its key set.
CREATE TRIGGER signing_keys_feed_insert AFTER INSERT ON signing_keys
BEGIN
    INSERT INTO changes (kind, id, at)
    VALUES ('key', NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER signing_keys_feed_update AFTER UPDATE ON signing_keys
BEGIN
    INSERT INTO changes (kind, id, at)
    VALUES ('key', OLD.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

-- Raw SQL that changes an id: the new id is fed too.
CREATE TRIGGER signing_keys_feed_update_id AFTER UPDATE OF id ON signing_keys
WHEN NEW.id IS NOT OLD.id
BEGIN
    INSERT INTO changes (kind, id, at)
    VALUES ('key', NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER signing_keys_feed_delete AFTER DELETE ON signing_keys
BEGIN
    INSERT INTO changes (kind, id, at)
    VALUES ('key', OLD.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
