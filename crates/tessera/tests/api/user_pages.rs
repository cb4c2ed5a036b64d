//! `GET /api/users` in pages: the `limit`, `after` and `q` parameters and the `Link` header.

use reqwest::StatusCode;
use tessera_store::{NewUser, UserId};

use crate::helpers::{Answer, Binary, TestEnv, TestServer};

/// Adds users straight to the database (no password hashing), as another writer would.
async fn add_users<S: AsRef<str>>(env: &TestEnv, names: &[S]) {
    let store = tessera_store::connect(&env.database_url()).await.unwrap();
    for name in names {
        let user = NewUser {
            id: UserId::new_v4(),
            username: name.as_ref().to_owned(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$not-a-real-hash".to_owned(),
            roles: Vec::new(),
            active: true,
        };
        store.create_user(user, 1_700_000_000).await.unwrap();
    }
}

fn usernames(answer: &Answer) -> Vec<String> {
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    answer.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["username"].as_str().unwrap().to_owned())
        .collect()
}

/// The target of a `Link: <TARGET>; rel="next"` header, if the answer has one.
fn next_link(answer: &Answer) -> Option<String> {
    let link = answer.header("link")?;
    let target = link
        .strip_prefix('<')
        .and_then(|rest| rest.strip_suffix(r#">; rel="next""#))
        .unwrap_or_else(|| panic!("not a next link: {link}"));
    Some(target.to_owned())
}

/// Every page from `first`, following `Link` headers; returns the usernames and the sizes of
/// the pages.
async fn walk(server: &TestServer, token: &str, first: &str) -> (Vec<String>, Vec<usize>) {
    let mut names = Vec::new();
    let mut sizes = Vec::new();
    let mut path = Some(first.to_owned());
    while let Some(current) = path {
        assert!(sizes.len() < 1_000, "the pages never end");
        let answer = server.get(&current, Some(token)).await;
        let page = usernames(&answer);
        sizes.push(page.len());
        names.extend(page);
        path = next_link(&answer);
    }
    (names, sizes)
}

#[tokio::test]
async fn admins_walk_every_page_by_following_link_headers() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let admin = server.admin_token().await;
    let added: Vec<String> = (0..250).map(|i| format!("user{i:03}")).collect();
    add_users(&env, &added).await;
    let mut everyone = added.clone();
    everyone.push("admin".to_owned());
    everyone.sort();

    // 100 a page when no limit is given; the last page carries no link.
    let first = server.get("/api/users", Some(&admin)).await;
    assert_eq!(
        first.header("link"),
        Some(r#"</api/users?limit=100&after=user098>; rel="next""#)
    );
    let (names, sizes) = walk(&server, &admin, "/api/users").await;
    assert_eq!(names, everyone);
    assert_eq!(sizes, [100, 100, 51]);

    for (limit, wanted) in [
        (1, vec![1; 251]),
        (7, [vec![7; 35], vec![6]].concat()),
        (250, vec![250, 1]),
        (251, vec![251]), // exactly full: no link to an empty page
        (1000, vec![251]),
    ] {
        let (names, sizes) = walk(&server, &admin, &format!("/api/users?limit={limit}")).await;
        assert_eq!(names, everyone, "limit {limit}");
        assert_eq!(sizes, wanted, "limit {limit}");
    }

    // A cursor need not name a user; past the last user the page is empty, without a link.
    let (names, _) = walk(&server, &admin, "/api/users?after=user2&limit=20").await;
    assert_eq!(names, everyone[201..]);
    let past = server.get("/api/users?after=zzz", Some(&admin)).await;
    assert_eq!(usernames(&past), Vec::<String>::new());
    assert_eq!(past.header("link"), None);
    // Parameters it does not know are ignored, as they always were.
    let other = server.get("/api/users?limit=2&_=1", Some(&admin)).await;
    assert_eq!(usernames(&other), ["admin", "user000"]);
}

#[tokio::test]
async fn searches_match_normalised_text_literally_and_page_with_it() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let admin = server.admin_token().await;
    add_users(
        &env,
        &[
            "alice", "malice", "bob", "a_b", "axb", "c_d", "e_f", "a@x.org", "b@x.org", "c@x.org",
            "a%b",
        ],
    )
    .await;
    let search = |query: &'static str| {
        let server = &server;
        let admin = &admin;
        async move { walk(server, admin, &format!("/api/users?{query}")).await.0 }
    };

    // Normalised as usernames are: ASCII letters in lower case.
    assert_eq!(search("q=ALI").await, ["alice", "malice"]);
    assert_eq!(search("q=Admin").await, ["admin"]);
    // Literal: `_` and `%` are not wildcards.
    assert_eq!(search("q=a_b").await, ["a_b"]);
    assert_eq!(search("q=_").await, ["a_b", "c_d", "e_f"]);
    assert_eq!(search("q=%25").await, ["a%b"]);
    assert_eq!(search("q=%25b").await, ["a%b"]);
    assert_eq!(search("q=nobody").await, Vec::<String>::new());
    assert_eq!(search("q=%00").await, Vec::<String>::new());
    // Every page keeps the search, percent-encoded in the link.
    assert_eq!(search("q=_&limit=1").await, ["a_b", "c_d", "e_f"]);
    let first = server
        .get("/api/users?q=%40X.org&limit=2", Some(&admin))
        .await;
    assert_eq!(usernames(&first), ["a@x.org", "b@x.org"]);
    assert_eq!(
        first.header("link"),
        Some(r#"</api/users?limit=2&after=b%40x.org&q=%40x.org>; rel="next""#)
    );
    assert_eq!(
        search("q=%40X.org&limit=2").await,
        ["a@x.org", "b@x.org", "c@x.org"]
    );
    let plus = server.get("/api/users?q=a+b", Some(&admin)).await;
    assert_eq!(usernames(&plus), Vec::<String>::new()); // `+` is a space
}

#[tokio::test]
async fn bad_page_parameters_are_400s_naming_the_parameter() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let admin = server.admin_token().await;
    let long = "a".repeat(65);
    let cases = [
        ("limit=0", "`limit` must be a whole number from 1 to 1000"),
        (
            "limit=1001",
            "`limit` must be a whole number from 1 to 1000",
        ),
        ("limit=-1", "`limit` must be a whole number from 1 to 1000"),
        ("limit=1.5", "`limit` must be a whole number from 1 to 1000"),
        ("limit=ten", "`limit` must be a whole number from 1 to 1000"),
        ("limit=", "`limit` must be a whole number from 1 to 1000"),
        (
            "limit=99999999999999999999",
            "`limit` must be a whole number from 1 to 1000",
        ),
        ("limit=1&limit=2", "`limit` may be given only once"),
        ("q=", "`q` must be 1 to 64 characters"),
        (&format!("q={long}"), "`q` must be 1 to 64 characters"),
        ("q=a&q=b", "`q` may be given only once"),
        ("after=a&after=b", "`after` may be given only once"),
    ];
    for (query, wanted) in cases {
        let answer = server
            .get(&format!("/api/users?{query}"), Some(&admin))
            .await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{query}: {answer:?}"
        );
        assert_eq!(
            answer.body["error"], "invalid_request",
            "{query}: {answer:?}"
        );
        let message = answer.body["message"].as_str().unwrap();
        assert!(message.contains(wanted), "{query}: {message}");
        assert!(
            !message.contains("ten") && !message.contains(&long),
            "{message}"
        );
    }
    // The limits themselves are allowed, and 64 characters of search.
    for query in ["limit=1", "limit=1000", &format!("q={}", &long[1..])] {
        let answer = server
            .get(&format!("/api/users?{query}"), Some(&admin))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{query}: {answer:?}");
    }
}

#[tokio::test]
async fn only_admins_may_page_or_search() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let admin = server.admin_token().await;
    server.create_user(&admin, "frank", "frank-password").await;
    let frank = server.token("frank", "frank-password").await;
    for query in ["", "?limit=1", "?q=admin", "?after=a", "?limit=0"] {
        let path = format!("/api/users{query}");
        let forbidden = server.get(&path, Some(&frank)).await;
        assert_eq!(forbidden.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(forbidden.header("link"), None);
        assert!(forbidden.body.get("users").is_none(), "{forbidden:?}");
        let anonymous = server.get(&path, None).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{path}");
    }
}

/// `tessera user list` reads the users page by page (1,000 at a time) and prints each once,
/// in order, across the pages' edges.
#[tokio::test]
async fn the_cli_lists_every_user_across_pages() {
    let env = TestEnv::new();
    tessera_store::SqliteStore::open(&env.path().join("tessera.db"))
        .await
        .unwrap();
    let mut added: Vec<String> = (0..2_001).map(|i| format!("user{i:04}")).collect();
    add_users(&env, &added).await;
    let (code, stdout, stderr) = Binary::new(env.path()).arg("user").arg("list").output();
    assert_eq!(code, 0, "{stderr}");
    let mut lines = stdout.lines();
    assert!(lines.next().unwrap().starts_with("username "), "{stdout}");
    let listed: Vec<String> = lines
        .map(|line| line.split_whitespace().next().unwrap().to_owned())
        .collect();
    added.sort();
    assert_eq!(listed, added);
}
