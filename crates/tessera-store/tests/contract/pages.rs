//! Pages of users in the store contract (backend-independent): `list_users_page` walks every
//! user exactly once in byte order, searches literally, and respects its limit.

use tessera_store::Store;

use super::{T0, create};

/// The usernames of a page.
async fn page(
    store: &dyn Store,
    after: Option<&str>,
    contains: Option<&str>,
    limit: u32,
) -> Vec<String> {
    store
        .list_users_page(after, contains, limit)
        .await
        .unwrap()
        .into_iter()
        .map(|user| user.username)
        .collect()
}

/// Every page of `limit`, each starting after the last username of the one before, until a
/// page comes back short; checks that no page is longer than `limit`.
async fn walk(store: &dyn Store, contains: Option<&str>, limit: u32) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    loop {
        let names = page(store, all.last().map(String::as_str), contains, limit).await;
        assert!(names.len() <= limit as usize, "{limit}: {names:?}");
        let last = names.len() < limit as usize;
        all.extend(names);
        if last {
            return all;
        }
    }
}

/// Names that a byte-order comparison and a language's collation put in different orders
/// (upper case before lower case, accented letters after `z`, punctuation first), plus
/// enough plain ones for several pages.
fn names() -> Vec<String> {
    let mut names: Vec<String> = [
        "zoe", "émile", "Bob", "alice", "_x", "eve", "a", "Zed", "b-c",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    names.extend((0..16).map(|i| format!("user{i:02}")));
    names
}

pub async fn contract_pages_yield_every_user_once_in_byte_order(store: &dyn Store) {
    let mut wanted = names();
    for name in &wanted {
        create(store, name, T0).await;
    }
    wanted.sort(); // Rust orders strings byte for byte.
    for limit in [1, 2, 3, 7, 24, 25, 26, 1000] {
        assert_eq!(walk(store, None, limit).await, wanted, "limit {limit}");
    }
    // A page is the first `limit` users after the cursor, even one that names no user.
    assert_eq!(page(store, None, None, 3).await, ["Bob", "Zed", "_x"]);
    assert_eq!(page(store, Some("Bob"), None, 2).await, ["Zed", "_x"]);
    assert_eq!(page(store, Some("Bz"), None, 2).await, ["Zed", "_x"]);
    assert_eq!(page(store, Some("zoe"), None, 5).await, ["émile"]);
    assert_eq!(
        page(store, Some("émile"), None, 5).await,
        Vec::<String>::new()
    );
}

pub async fn contract_page_search_is_literal_and_exact(store: &dyn Store) {
    for name in [
        "a%b", "a_b", r"a\b", "axb", "ab", "100%", "x_y_z", "alpha", "beta", "Alpha",
    ] {
        create(store, name, T0).await;
    }
    let search = |text: &'static str| walk(store, Some(text), 1000);
    // Wildcards and escapes of LIKE are ordinary characters.
    assert_eq!(search("%").await, ["100%", "a%b"]);
    assert_eq!(search("_").await, ["a_b", "x_y_z"]);
    assert_eq!(search(r"\").await, [r"a\b"]);
    assert_eq!(search("a_b").await, ["a_b"]);
    assert_eq!(search("a%").await, ["a%b"]);
    assert_eq!(search(r"\b").await, [r"a\b"]);
    // Anywhere in the name, compared exactly (the server normalises both sides).
    assert_eq!(
        search("b").await,
        ["a%b", r"a\b", "a_b", "ab", "axb", "beta"]
    );
    assert_eq!(search("lph").await, ["Alpha", "alpha"]);
    assert_eq!(search("A").await, ["Alpha"]);
    assert_eq!(search("alpha").await, ["alpha"]);
    assert_eq!(search("x_y_z").await, ["x_y_z"]);
    assert_eq!(search("x_y_z_").await, Vec::<String>::new());
    // Searching pages like listing: after the cursor, at most the limit.
    for limit in [1, 2, 5] {
        assert_eq!(
            walk(store, Some("b"), limit).await,
            ["a%b", r"a\b", "a_b", "ab", "axb", "beta"],
            "limit {limit}"
        );
    }
    assert_eq!(page(store, Some(r"a\b"), Some("b"), 2).await, ["a_b", "ab"]);
}

pub async fn contract_empty_pages(store: &dyn Store) {
    assert_eq!(page(store, None, None, 10).await, Vec::<String>::new());
    assert_eq!(
        page(store, Some("a"), Some("a"), 10).await,
        Vec::<String>::new()
    );
    for name in ["alice", "bob"] {
        create(store, name, T0).await;
    }
    assert_eq!(page(store, None, None, 0).await, Vec::<String>::new());
    assert_eq!(
        page(store, None, Some("carol"), 10).await,
        Vec::<String>::new()
    );
    assert_eq!(
        page(store, Some("bob"), None, 10).await,
        Vec::<String>::new()
    );
    assert_eq!(
        page(store, Some("alice"), Some("alice"), 10).await,
        Vec::<String>::new()
    );
    // Text no username can hold (PostgreSQL text has no NUL) is searched for and paged past
    // like any other.
    assert_eq!(
        page(store, None, Some("a\0"), 10).await,
        Vec::<String>::new()
    );
    assert_eq!(page(store, Some("alice\0"), None, 10).await, ["bob"]);
    assert_eq!(page(store, Some("\0"), None, 10).await, ["alice", "bob"]);
    assert_eq!(page(store, Some(""), None, 10).await, ["alice", "bob"]);
    assert_eq!(page(store, None, None, u32::MAX).await, ["alice", "bob"]);
}
