-- The change feed: one row per write that must reach every server's in-memory caches,
-- written by triggers in the same transaction as the change, whoever writes (a server,
-- the CLI, raw SQL). Servers read it from their own cursor. Mirrored by the PostgreSQL
-- schema (uuid columns, a sequence handed out in commit order there); keep the two in step.
CREATE TABLE changes (
    -- the feed position; AUTOINCREMENT never reuses one, even after pruning, and the single
    -- writer makes commit order the order of seq
    seq  INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    -- 'user': drop the user and its sessions; 'session': drop the session
    kind TEXT    NOT NULL CHECK (kind IN ('user', 'session')),
    -- uuid of the user or the session, in hyphenated lower-case text form
    id   TEXT    NOT NULL,
    -- unix seconds by the database's clock when written; used only by pruning
    at   INTEGER NOT NULL
) STRICT;

-- One row: the highest seq pruning deleted (0 before any), so a reader whose cursor is
-- behind it learns that it missed changes.
CREATE TABLE feed_state (
    id             INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    pruned_through INTEGER NOT NULL
) STRICT;

INSERT INTO feed_state (id, pruned_through) VALUES (1, 0);

-- Running servers, as their heartbeats describe them: which feed position each has applied.
CREATE TABLE instances (
    -- uuid in hyphenated lower-case text form, random per start
    id           TEXT    NOT NULL PRIMARY KEY,
    -- free text for operators (host, address, pid); never a secret
    label        TEXT    NOT NULL,
    applied      INTEGER NOT NULL,
    -- unix seconds of the first heartbeat, by the database's clock
    started_at   INTEGER NOT NULL,
    -- unix milliseconds of the latest heartbeat, by the database's clock
    heartbeat_ms INTEGER NOT NULL,
    -- how long after a heartbeat the instance may still serve without another: writers
    -- wait for it that long at most
    lease_ms     INTEGER NOT NULL
) STRICT;

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

-- The change feed replaces the two change counters, which servers used to poll and
-- which emptied whole caches.
DROP TRIGGER users_count_insert;
DROP TRIGGER users_count_update;
DROP TRIGGER users_count_delete;
DROP TABLE user_change_counter;
DROP TRIGGER sessions_count_revoke;
DROP TRIGGER sessions_count_delete;
DROP TABLE session_change_counter;
