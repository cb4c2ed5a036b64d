-- Token signing keys, and the change feed's new kind 'key' that tells every server to
-- reload its key set. Mirrors the SQLite schema (TEXT uuids, BLOB and INTEGER there); keep
-- the two in step.
CREATE TABLE signing_keys (
    -- chosen by the store; feed changes carry it
    id             UUID   NOT NULL PRIMARY KEY,
    -- the key id tokens name in their header; compared exactly
    kid            TEXT   COLLATE "C" NOT NULL UNIQUE CHECK (kid <> ''),
    -- the JWS algorithm name (EdDSA, ES256, RS256, ...), as the server stored it
    algorithm      TEXT   NOT NULL CHECK (algorithm <> ''),
    -- next: published, never signs; current: signs; retired: verifies until verify_until;
    -- revoked: refused at once
    state          TEXT   NOT NULL CHECK (state IN ('next', 'current', 'retired', 'revoked')),
    -- the public JWK as JSON text: what the key set publishes
    public_jwk     TEXT   NOT NULL,
    -- the private key sealed by the server under its key-encryption secret (never plain);
    -- NULL when the private half is kept elsewhere
    sealed_private BYTEA,
    -- unix seconds, supplied by the caller (the store never reads the clock)
    created_at     BIGINT NOT NULL,
    -- when it became current
    activated_at   BIGINT,
    -- when it stopped signing
    retired_at     BIGINT,
    -- a retired key verifies until this time (inclusive) and is removed after it
    verify_until   BIGINT,
    -- when it was revoked
    revoked_at     BIGINT,
    CHECK (state <> 'current' OR activated_at IS NOT NULL),
    CHECK (state <> 'retired' OR (retired_at IS NOT NULL AND verify_until IS NOT NULL)),
    CHECK ((state = 'revoked') = (revoked_at IS NOT NULL))
);

-- At most one current key and at most one next key, whoever writes: of two instances
-- racing to create or activate one, the database lets exactly one win (the loser waits for
-- the winner's commit, then fails on the index).
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (state) WHERE state = 'current';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (state) WHERE state = 'next';

-- The feed's kinds: 'user': drop the user and its sessions; 'session': drop the session;
-- 'key': reload the signing keys.
ALTER TABLE changes DROP CONSTRAINT changes_kind_check;
ALTER TABLE changes ADD CONSTRAINT changes_kind_check
    CHECK (kind IN ('user', 'session', 'key'));

-- Every write of a key is fed, whoever makes it: each server reloads its key set.
CREATE CONSTRAINT TRIGGER signing_keys_feed_change AFTER INSERT OR UPDATE OR DELETE
    ON signing_keys
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION tessera_feed_change('key');
