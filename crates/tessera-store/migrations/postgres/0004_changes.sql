-- The change feed: one row per write that must reach every server's in-memory caches,
-- written by triggers in the same transaction as the change, whoever writes (a server,
-- the CLI, raw SQL). Servers read it from their own cursor. Mirrors the SQLite schema (TEXT
-- uuids and an AUTOINCREMENT key there); keep the two in step.
CREATE TABLE changes (
    -- the feed position, handed out in commit order (see tessera_feed_change)
    seq  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- 'user': drop the user and its sessions; 'session': drop the session
    kind TEXT   NOT NULL CHECK (kind IN ('user', 'session')),
    id   UUID   NOT NULL,
    -- unix seconds by the database's clock when written; used only by pruning
    at   BIGINT NOT NULL
);

-- One row: the highest seq pruning deleted (0 before any), so a reader whose cursor is
-- behind it learns that it missed changes.
CREATE TABLE feed_state (
    id             INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    pruned_through BIGINT  NOT NULL
);

INSERT INTO feed_state (id, pruned_through) VALUES (1, 0);

-- Running servers, as their heartbeats describe them: which feed position each has applied.
CREATE TABLE instances (
    -- random per start
    id           UUID   NOT NULL PRIMARY KEY,
    -- free text for operators (host, address, pid); never a secret; ordered byte for byte
    label        TEXT   COLLATE "C" NOT NULL,
    applied      BIGINT NOT NULL,
    -- unix seconds of the first heartbeat, by the database's clock
    started_at   BIGINT NOT NULL,
    -- unix milliseconds of the latest heartbeat, by the database's clock
    heartbeat_ms BIGINT NOT NULL,
    -- how long after a heartbeat the instance may still serve without another: writers
    -- wait for it that long at most
    lease_ms     BIGINT NOT NULL
);

-- Appends a change of kind TG_ARGV[0] for the row. Runs as a deferred constraint trigger,
-- that is at COMMIT, when the transaction already holds every row lock it will take; it
-- then takes tessera's feed lock (an advisory lock of its own key, held until the commit
-- has finished) before drawing seq. So seqs are drawn in commit order: a reader that saw
-- seq n never later finds a smaller one committed. The holder takes no row lock after it,
-- so it cannot deadlock.
CREATE FUNCTION tessera_feed_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- 0x7465737365726102: distinct from the migration lock (…6101) and from the
    -- two-key locks of the login throttle
    PERFORM pg_advisory_xact_lock(8387236820507844866);
    IF TG_OP = 'INSERT' THEN
        INSERT INTO changes (kind, id, at)
        VALUES (TG_ARGV[0], NEW.id, floor(extract(epoch FROM clock_timestamp()))::bigint);
    ELSE
        INSERT INTO changes (kind, id, at)
        VALUES (TG_ARGV[0], OLD.id, floor(extract(epoch FROM clock_timestamp()))::bigint);
        -- raw SQL that changes an id: the new id may be cached as absent
        IF TG_OP = 'UPDATE' AND NEW.id IS DISTINCT FROM OLD.id THEN
            INSERT INTO changes (kind, id, at)
            VALUES (TG_ARGV[0], NEW.id, floor(extract(epoch FROM clock_timestamp()))::bigint);
        END IF;
    END IF;
    PERFORM pg_notify('tessera_changes', '');
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER users_feed_change AFTER INSERT OR UPDATE OR DELETE ON users
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION tessera_feed_change('user');

-- A session is fed when it ends; refreshes (last_used_at, idle_expires_at) are not.
CREATE CONSTRAINT TRIGGER sessions_feed_end AFTER UPDATE OF revoked_at ON sessions
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION tessera_feed_change('session');

-- Deleting a session that had not ended (a user's cascade, raw SQL); an ended one was fed
-- when it ended.
CREATE CONSTRAINT TRIGGER sessions_feed_delete AFTER DELETE ON sessions
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL)
    EXECUTE FUNCTION tessera_feed_change('session');

-- The change feed replaces the two change counters, which servers used to poll and
-- which emptied whole caches (and whose one-row updates serialised every writer).
DROP TRIGGER users_count_change ON users;
DROP FUNCTION tessera_count_user_change();
DROP TABLE user_change_counter;
DROP TRIGGER sessions_count_revoke ON sessions;
DROP TRIGGER sessions_count_delete ON sessions;
DROP FUNCTION tessera_count_session_change();
DROP TABLE session_change_counter;
