//! The signing-key and API-client part of the store contract (backend-independent): the
//! key lifecycle, its conflicts, the feed's `key` changes, removal boundaries, races between
//! two handles, and API clients. Also the SQLite migration of a database at schema 0004
//! (the `changes` table is rebuilt there: its rows and its cursor must survive).

use std::path::Path;

use tessera_store::{
    ApiClient, ChangeKind, KeyState, NewKey, SqliteStore, Store, StoreError, StoredKey,
};
use uuid::Uuid;

use super::{T0, create};

/// Rounds of each key race, all on one database (each round rotates once more).
pub const KEY_RACE_ROUNDS: usize = 25;

fn new_key(kid: &str, state: KeyState) -> NewKey {
    NewKey {
        kid: kid.to_owned(),
        algorithm: "EdDSA".to_owned(),
        public_jwk: format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"x-{kid}","kid":"{kid}"}}"#),
        sealed_private: Some(format!("sealed-private-{kid}").into_bytes()),
        state,
    }
}

/// What a key inserted as `new_key(kid, state)` at `now` is stored as (its id aside).
fn stored(id: Uuid, kid: &str, state: KeyState, now: i64) -> StoredKey {
    let key = new_key(kid, state);
    StoredKey {
        id,
        kid: key.kid,
        algorithm: key.algorithm,
        state,
        public_jwk: key.public_jwk,
        sealed_private: key.sealed_private,
        created_at: now,
        activated_at: (state == KeyState::Current).then_some(now),
        retired_at: None,
        verify_until: None,
        revoked_at: None,
    }
}

/// Every change fed after `cursor` (kind and id, in feed order) and the new cursor.
async fn fed_since(store: &dyn Store, cursor: i64) -> (Vec<(ChangeKind, Uuid)>, i64) {
    let batch = store.changes_since(cursor, 1_000).await.unwrap();
    assert!(!batch.missed, "{batch:?}");
    let fed = batch.changes.iter().map(|c| (c.kind, c.id)).collect();
    (fed, batch.next)
}

/// Checks that exactly one `key` change per id in `ids` (in any order) was fed since
/// `cursor`, and nothing else; answers the new cursor.
async fn expect_key_changes(store: &dyn Store, cursor: i64, ids: &[Uuid], after: &str) -> i64 {
    let (mut fed, next) = fed_since(store, cursor).await;
    let mut expected: Vec<(ChangeKind, Uuid)> =
        ids.iter().map(|id| (ChangeKind::Key, *id)).collect();
    fed.sort_by_key(|(_, id)| *id);
    expected.sort_by_key(|(_, id)| *id);
    assert_eq!(fed, expected, "fed after {after}");
    next
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) -> String {
    match result {
        Err(StoreError::Conflict(message)) => message,
        other => panic!("{what}: expected a conflict, got {other:?}"),
    }
}

async fn key(store: &dyn Store, kid: &str) -> Option<StoredKey> {
    store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .find(|key| key.kid == kid)
}

async fn states(store: &dyn Store) -> Vec<(String, KeyState)> {
    store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|key| (key.kid, key.state))
        .collect()
}

/// next -> current -> retired -> removed, every field and every feed entry checked.
pub async fn contract_key_lifecycle(store: &dyn Store) {
    assert!(store.signing_keys().await.unwrap().is_empty());
    let cursor = store.latest_change().await.unwrap();

    let first = store
        .insert_key(new_key("k1", KeyState::Next), T0)
        .await
        .unwrap();
    assert_eq!(first, stored(first.id, "k1", KeyState::Next, T0));
    assert_eq!(
        store.signing_keys().await.unwrap(),
        std::slice::from_ref(&first)
    );
    let cursor = expect_key_changes(store, cursor, &[first.id], "insert next").await;

    store.activate_key("k1", None, T0 + 10, 0).await.unwrap();
    let mut first_now = first.clone();
    first_now.state = KeyState::Current;
    first_now.activated_at = Some(T0 + 10);
    assert_eq!(store.signing_keys().await.unwrap(), [first_now.clone()]);
    let cursor = expect_key_changes(store, cursor, &[first.id], "first activation").await;

    let second = store
        .insert_key(new_key("k2", KeyState::Next), T0 + 20)
        .await
        .unwrap();
    let cursor = expect_key_changes(store, cursor, &[second.id], "insert second next").await;
    store
        .activate_key("k2", Some("k1"), T0 + 30, T0 + 500)
        .await
        .unwrap();
    let cursor = expect_key_changes(store, cursor, &[first.id, second.id], "rotation").await;
    first_now.state = KeyState::Retired;
    first_now.retired_at = Some(T0 + 30);
    first_now.verify_until = Some(T0 + 500);
    let mut second_now = stored(second.id, "k2", KeyState::Current, T0 + 20);
    second_now.activated_at = Some(T0 + 30);
    // In created_at order.
    assert_eq!(
        store.signing_keys().await.unwrap(),
        [first_now.clone(), second_now.clone()]
    );

    // A retired key that verifies until `now` is kept; one second later it goes.
    assert_eq!(store.remove_expired_keys(T0 + 499, 0).await.unwrap(), 0);
    assert_eq!(store.remove_expired_keys(T0 + 500, 0).await.unwrap(), 0);
    let cursor = expect_key_changes(store, cursor, &[], "removing nothing").await;
    assert_eq!(store.remove_expired_keys(T0 + 501, 0).await.unwrap(), 1);
    assert_eq!(store.signing_keys().await.unwrap(), [second_now.clone()]);
    expect_key_changes(store, cursor, &[first.id], "removal").await;

    // Neither next nor current keys are ever removed, however late.
    store
        .insert_key(new_key("k3", KeyState::Next), T0 + 40)
        .await
        .unwrap();
    assert_eq!(
        store.remove_expired_keys(i64::MAX, i64::MAX).await.unwrap(),
        0
    );
    assert_eq!(
        store.remove_expired_keys(i64::MIN, i64::MIN).await.unwrap(),
        0
    );
    assert_eq!(
        states(store).await,
        [
            ("k2".to_owned(), KeyState::Current),
            ("k3".to_owned(), KeyState::Next)
        ]
    );
}

/// A key inserted as current is active from its insert; none is needed first.
pub async fn contract_key_inserted_current(store: &dyn Store) {
    let cursor = store.latest_change().await.unwrap();
    let key = store
        .insert_key(new_key("only", KeyState::Current), T0)
        .await
        .unwrap();
    assert_eq!(key, stored(key.id, "only", KeyState::Current, T0));
    assert_eq!(key.activated_at, Some(T0));
    assert_eq!(
        store.signing_keys().await.unwrap(),
        std::slice::from_ref(&key)
    );
    expect_key_changes(store, cursor, &[key.id], "insert current").await;

    // A key without a private half (kept elsewhere) round-trips as None.
    let mut public_only = new_key("pub", KeyState::Next);
    public_only.sealed_private = None;
    let inserted = store.insert_key(public_only, T0).await.unwrap();
    assert_eq!(inserted.sealed_private, None);
    assert_eq!(key_of(store, "pub").await.sealed_private, None);
}

async fn key_of(store: &dyn Store, kid: &str) -> StoredKey {
    key(store, kid).await.unwrap()
}

/// Builds retired `old`, current `cur` and next `nxt`.
async fn three_states(store: &dyn Store) {
    store
        .insert_key(new_key("old", KeyState::Current), T0)
        .await
        .unwrap();
    store
        .insert_key(new_key("cur", KeyState::Next), T0 + 1)
        .await
        .unwrap();
    store
        .activate_key("cur", Some("old"), T0 + 2, T0 + 1_000)
        .await
        .unwrap();
    store
        .insert_key(new_key("nxt", KeyState::Next), T0 + 3)
        .await
        .unwrap();
}

/// Revoking works from every state, keeps the rest of the row, is idempotent, and frees the
/// one-current and one-next slots.
pub async fn contract_key_revoke_from_each_state(store: &dyn Store) {
    three_states(store).await;
    assert!(!store.revoke_key("missing", T0 + 5).await.unwrap());

    for (kid, at) in [("nxt", T0 + 10), ("cur", T0 + 11), ("old", T0 + 12)] {
        let before = key_of(store, kid).await;
        let cursor = store.latest_change().await.unwrap();
        assert!(store.revoke_key(kid, at).await.unwrap(), "{kid}");
        let after = key_of(store, kid).await;
        let mut expected = before.clone();
        expected.state = KeyState::Revoked;
        expected.revoked_at = Some(at);
        assert_eq!(after, expected, "{kid}");
        let cursor = expect_key_changes(store, cursor, &[before.id], kid).await;

        // Again: still true, the first revocation time is kept, nothing is written.
        assert!(store.revoke_key(kid, at + 100).await.unwrap());
        assert_eq!(key_of(store, kid).await, expected);
        expect_key_changes(store, cursor, &[], "revoking again").await;
    }
    // A revoked key cannot be activated.
    assert_conflict(store.activate_key("nxt", None, T0 + 20, 0).await, "revoked");

    // With the next and the current key revoked, new ones may take their places.
    store
        .insert_key(new_key("nxt2", KeyState::Next), T0 + 20)
        .await
        .unwrap();
    store
        .insert_key(new_key("cur2", KeyState::Current), T0 + 20)
        .await
        .unwrap();

    // Revoked keys are kept `keep_revoked_secs` after their revocation, then removed (the
    // last one revoked at T0 + 12); the retired-turned-revoked key goes by its revocation.
    assert_eq!(store.remove_expired_keys(T0 + 110, 100).await.unwrap(), 0);
    assert_eq!(store.remove_expired_keys(T0 + 111, 100).await.unwrap(), 1);
    assert_eq!(store.remove_expired_keys(T0 + 112, 100).await.unwrap(), 1);
    assert_eq!(store.remove_expired_keys(T0 + 112, 100).await.unwrap(), 0);
    assert_eq!(store.remove_expired_keys(T0 + 113, 100).await.unwrap(), 1);
    // Same created_at: ordered by kid.
    assert_eq!(
        states(store).await,
        [
            ("cur2".to_owned(), KeyState::Current),
            ("nxt2".to_owned(), KeyState::Next)
        ]
    );
}

/// Every refused key write names what clashed, changes nothing and feeds nothing.
pub async fn contract_key_conflicts(store: &dyn Store) {
    three_states(store).await;
    let keys_before = store.signing_keys().await.unwrap();
    let cursor = store.latest_change().await.unwrap();

    let message = assert_conflict(
        store.insert_key(new_key("n2", KeyState::Next), T0).await,
        "second next",
    );
    assert_eq!(message, "a next signing key already exists");
    let message = assert_conflict(
        store.insert_key(new_key("c2", KeyState::Current), T0).await,
        "second current",
    );
    assert_eq!(message, "a current signing key already exists");
    store.revoke_key("nxt", T0 + 5).await.unwrap();
    let keys_before_dup = store.signing_keys().await.unwrap();
    let cursor_dup = store.latest_change().await.unwrap();
    for kid in ["old", "cur", "nxt"] {
        // The next slot is free now: only the kid clashes.
        let message = assert_conflict(
            store.insert_key(new_key(kid, KeyState::Next), T0).await,
            "duplicate kid",
        );
        assert_eq!(
            message,
            format!("a signing key with kid \"{kid}\" already exists")
        );
    }
    assert_eq!(store.signing_keys().await.unwrap(), keys_before_dup);
    expect_key_changes(store, cursor_dup, &[], "refused inserts").await;
    let revoked = key_of(store, "nxt").await.id;
    let cursor = expect_key_changes(store, cursor, &[revoked], "the revocation").await;

    // Put a next key back for the activation cases.
    let next = store
        .insert_key(new_key("nxt3", KeyState::Next), T0 + 6)
        .await
        .unwrap();
    let cursor = expect_key_changes(store, cursor, &[next.id], "insert").await;
    let keys_before = {
        let mut keys = keys_before;
        keys.retain(|key| key.kid != "nxt");
        keys.push(key_of(store, "nxt").await);
        keys.push(next);
        keys
    };
    assert_eq!(store.signing_keys().await.unwrap(), keys_before);

    let rotated = "another writer rotated the keys";
    for (kid, expected, wanted) in [
        (
            "cur",
            Some("cur"),
            "the signing key \"cur\" is current, not next".to_owned(),
        ),
        (
            "old",
            Some("cur"),
            "the signing key \"old\" is retired, not next".to_owned(),
        ),
        (
            "nxt",
            Some("cur"),
            "the signing key \"nxt\" is revoked, not next".to_owned(),
        ),
        (
            "nope",
            Some("cur"),
            "there is no signing key with kid \"nope\"".to_owned(),
        ),
        (
            "nxt3",
            Some("old"),
            format!("the current signing key is \"cur\", not \"old\": {rotated}"),
        ),
        (
            "nxt3",
            None,
            format!("the current signing key is \"cur\", not none: {rotated}"),
        ),
    ] {
        let message = assert_conflict(
            store.activate_key(kid, expected, T0 + 50, T0 + 60).await,
            &wanted,
        );
        assert_eq!(message, wanted);
    }
    assert_eq!(store.signing_keys().await.unwrap(), keys_before);
    expect_key_changes(store, cursor, &[], "refused activations").await;

    // A new key that would start retired or revoked is refused as invalid.
    for state in [KeyState::Retired, KeyState::Revoked] {
        let error = store
            .insert_key(new_key("bad", state), T0)
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
    }
    assert!(key(store, "bad").await.is_none());

    // The right expectation succeeds.
    store
        .activate_key("nxt3", Some("cur"), T0 + 70, T0 + 80)
        .await
        .unwrap();
    assert_eq!(key_of(store, "nxt3").await.state, KeyState::Current);
}

/// Sealed private keys never show in `Debug`, only their length.
pub async fn contract_key_debug_hides_the_sealed_key(store: &dyn Store) {
    let key = store
        .insert_key(new_key("k1", KeyState::Next), T0)
        .await
        .unwrap();
    let shown = format!("{key:?} {key:#?} {:?}", store.signing_keys().await.unwrap());
    assert!(!shown.contains("sealed-private"), "{shown}");
    let length = "sealed-private-k1".len();
    assert!(
        shown.contains(&format!("<redacted: {length} bytes>")),
        "{shown}"
    );
    assert!(shown.contains("k1") && shown.contains("EdDSA"), "{shown}");
}

/// Two handles (two instances) activate the same next key at once, over and over: exactly
/// one wins each round, the rest are told someone else rotated, and there is never more than
/// one current key.
pub async fn contract_racing_activations_have_one_winner(first: &dyn Store, second: &dyn Store) {
    let mut current = "k0".to_owned();
    first
        .insert_key(new_key(&current, KeyState::Current), T0)
        .await
        .unwrap();
    for round in 1..=KEY_RACE_ROUNDS {
        let next = format!("k{round}");
        let now = T0 + i64::try_from(round).unwrap();
        first
            .insert_key(new_key(&next, KeyState::Next), now)
            .await
            .unwrap();
        let attempts = [first, second, first, second]
            .map(|store| store.activate_key(&next, Some(&current), now, now + 100));
        let outcomes = futures_util::future::join_all(attempts).await;
        let won = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
        assert_eq!(won, 1, "round {round}: {outcomes:?}");
        for outcome in outcomes.into_iter().filter(Result::is_err) {
            assert_conflict(outcome, "the losing activation");
        }
        let keys = second.signing_keys().await.unwrap();
        let currents: Vec<&str> = keys
            .iter()
            .filter(|key| key.state == KeyState::Current)
            .map(|key| key.kid.as_str())
            .collect();
        assert_eq!(currents, [next.as_str()], "round {round}");
        let retired = keys.iter().find(|key| key.kid == current).unwrap();
        assert_eq!(retired.state, KeyState::Retired);
        assert_eq!(retired.verify_until, Some(now + 100));
        current = next;
    }
}

/// Two handles insert a current key each into an empty table at once, over and over: one
/// wins, the other gets a conflict.
pub async fn contract_racing_first_keys_have_one_winner(first: &dyn Store, second: &dyn Store) {
    for round in 0..KEY_RACE_ROUNDS {
        let now = T0 + i64::try_from(round).unwrap();
        let (a, b) = (format!("a{round}"), format!("b{round}"));
        let (one, other) = tokio::join!(
            first.insert_key(new_key(&a, KeyState::Current), now),
            second.insert_key(new_key(&b, KeyState::Current), now),
        );
        let winner = match (one, other) {
            (Ok(won), lost) | (lost, Ok(won)) => {
                assert_conflict(lost, "the losing insert");
                won
            }
            other => panic!("round {round}: no winner: {other:?}"),
        };
        assert_eq!(
            states(first).await,
            [(winner.kid.clone(), KeyState::Current)],
            "round {round}"
        );
        // Empty the table for the next round.
        assert!(second.revoke_key(&winner.kid, now).await.unwrap());
        assert_eq!(second.remove_expired_keys(now + 1, 0).await.unwrap(), 1);
    }
}

fn client(id: &str, name: &str) -> ApiClient {
    ApiClient {
        id: id.to_owned(),
        name: name.to_owned(),
        secret_hash: format!("$argon2id$v=19$secret-hash-of-{id}"),
        created_at: T0,
        disabled_at: None,
    }
}

pub async fn contract_api_clients(store: &dyn Store) {
    assert!(store.list_api_clients().await.unwrap().is_empty());
    let cursor = store.latest_change().await.unwrap();
    let zed = store.create_api_client(client("c-1", "zed")).await.unwrap();
    assert_eq!(zed, client("c-1", "zed"));
    let mut disabled = client("c-2", "Alpha");
    disabled.disabled_at = Some(T0 + 5);
    assert_eq!(
        store.create_api_client(disabled.clone()).await.unwrap(),
        disabled
    );
    let beta = store
        .create_api_client(client("c-3", "beta"))
        .await
        .unwrap();

    assert_eq!(store.api_client("c-1").await.unwrap(), Some(zed.clone()));
    assert_eq!(
        store.api_client("c-2").await.unwrap(),
        Some(disabled.clone())
    );
    assert_eq!(store.api_client("C-1").await.unwrap(), None);
    assert_eq!(store.api_client("").await.unwrap(), None);
    // Ordered by name byte for byte.
    assert_eq!(
        store.list_api_clients().await.unwrap(),
        [disabled.clone(), beta.clone(), zed.clone()]
    );

    let message = assert_conflict(
        store.create_api_client(client("c-1", "other")).await,
        "duplicate id",
    );
    assert_eq!(message, "an API client with id \"c-1\" already exists");
    let message = assert_conflict(
        store.create_api_client(client("c-9", "beta")).await,
        "duplicate name",
    );
    assert_eq!(message, "an API client named \"beta\" already exists");
    assert_eq!(store.list_api_clients().await.unwrap().len(), 3);

    assert!(store.delete_api_client("c-1").await.unwrap());
    assert!(!store.delete_api_client("c-1").await.unwrap());
    assert_eq!(store.api_client("c-1").await.unwrap(), None);
    assert_eq!(store.list_api_clients().await.unwrap(), [disabled, beta]);
    // The id and the name are free again.
    store.create_api_client(client("c-1", "zed")).await.unwrap();
    // API clients are not cached by the servers: their writes do not feed.
    assert_eq!(store.latest_change().await.unwrap(), cursor);
}

pub async fn contract_api_client_debug_hides_the_hash(store: &dyn Store) {
    let created = store.create_api_client(client("c-1", "ci")).await.unwrap();
    let listed = store.list_api_clients().await.unwrap();
    let shown = format!("{created:?} {created:#?} {listed:?}");
    assert!(!shown.contains("secret-hash"), "{shown}");
    assert!(
        shown.contains("<redacted>") && shown.contains("c-1"),
        "{shown}"
    );
}

// ---------------------------------------------------------------------------------------------
// SQLite: migrating a database at schema 0004, whose `changes` table migration 0005 rebuilds.

/// A new SQLite file at `path` with only migrations 0001..=0004 applied (as the previous
/// release left it), from copies of those files.
async fn sqlite_at_0004(path: &Path) -> sqlx::SqlitePool {
    let migrations = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if name.as_str() < "0005" {
            std::fs::copy(entry.path(), migrations.path().join(&name)).unwrap();
        }
    }
    let migrator = sqlx::migrate::Migrator::new(migrations.path())
        .await
        .unwrap();
    assert_eq!(migrator.iter().count(), 4);
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    migrator.run(&pool).await.unwrap();
    pool
}

/// Rows of the feed kept, and the cursor of a reader, survive the rebuild; the counter goes
/// on from where it was, also when pruning had emptied the feed; `key` changes are accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migration_keeps_the_feed_and_its_cursor() {
    // (feed entries pruned, of the five written)
    for pruned in [0_i64, 3, 5] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let raw = sqlite_at_0004(&path).await;
        let mut ids = Vec::new();
        for n in 0..5 {
            let id = Uuid::new_v4();
            sqlx::query(
                "INSERT INTO users (id, username, password_hash, roles, active, created_at, \
                 updated_at) VALUES ($1, $2, 'h', '[]', 1, 0, 0)",
            )
            .bind(id.hyphenated().to_string())
            .bind(format!("user{n}"))
            .execute(&raw)
            .await
            .unwrap();
            ids.push(id);
        }
        sqlx::query("DELETE FROM changes WHERE seq <= $1")
            .bind(pruned)
            .execute(&raw)
            .await
            .unwrap();
        sqlx::query("UPDATE feed_state SET pruned_through = $1")
            .bind(pruned)
            .execute(&raw)
            .await
            .unwrap();
        raw.close().await;

        let store = SqliteStore::open(&path).await.unwrap();
        let applied: Vec<i64> = store.opened().applied.iter().map(|(v, _)| *v).collect();
        assert_eq!(applied, [5, 6], "pruned {pruned}");
        assert_eq!(store.latest_change().await.unwrap(), 5, "pruned {pruned}");
        let (fed, next) = fed_since(&store, pruned).await;
        let expected: Vec<(ChangeKind, Uuid)> = ids[usize::try_from(pruned).unwrap()..]
            .iter()
            .map(|id| (ChangeKind::User, *id))
            .collect();
        assert_eq!(fed, expected, "pruned {pruned}");
        assert_eq!(next, 5);
        let behind = store.changes_since(0, 10).await.unwrap();
        assert_eq!(behind.missed, pruned > 0, "pruned {pruned}");

        // New writes go on after seq 5, users and keys alike.
        let key = store
            .insert_key(new_key("k1", KeyState::Current), T0)
            .await
            .unwrap();
        let user = create(&store, "after", T0).await;
        let batch = store.changes_since(5, 10).await.unwrap();
        let seqs: Vec<(i64, ChangeKind, Uuid)> = batch
            .changes
            .iter()
            .map(|c| (c.seq, c.kind, c.id))
            .collect();
        assert_eq!(
            seqs,
            [(6, ChangeKind::Key, key.id), (7, ChangeKind::User, user.id)],
            "pruned {pruned}"
        );
        // The users' feed triggers were made again.
        store.delete_user(ids[0], None).await.unwrap();
        assert_eq!(store.latest_change().await.unwrap(), 8);
        store.close().await.unwrap();
    }
}
