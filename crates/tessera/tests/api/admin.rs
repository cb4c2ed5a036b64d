//! User administration over HTTP.

use reqwest::StatusCode;
use serde_json::json;
use tessera_api::{CreateUserBody, ErrorCode, MeResponse, User, UserList};

use crate::helpers::{TestEnv, assert_token_refused};

#[tokio::test]
async fn admins_create_list_read_update_and_delete_users() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let admin = server.admin_token().await;

    let created = server
        .post_json(
            "/api/users",
            Some(&admin),
            &serde_json::to_value(CreateUserBody {
                roles: vec!["ops".into(), "billing".into()],
                ..CreateUserBody::new("Erin", "erin-password")
            })
            .unwrap(),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let erin: User = created.json();
    let id = erin.id.to_string();
    assert_eq!(
        created.header("location"),
        Some(format!("/api/users/{id}").as_str())
    );
    assert_eq!(erin.username, "erin");
    assert_eq!(erin.roles, ["billing", "ops"]);
    assert!(erin.active);
    assert!(created.body.get("password_hash").is_none());

    let list = server.get("/api/users", Some(&admin)).await;
    assert_eq!(list.status, StatusCode::OK);
    let users = list.json::<UserList>().users;
    let names: Vec<&str> = users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["admin", "erin"]);

    let one = server.get(&format!("/api/users/{id}"), Some(&admin)).await;
    assert_eq!(one.json::<User>(), erin);

    let duplicate = server
        .post_json(
            "/api/users",
            Some(&admin),
            &json!({ "username": "erin", "password": "another-password" }),
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert_eq!(duplicate.code(), ErrorCode::Conflict);

    let changed = server
        .patch_json(
            &format!("/api/users/{id}"),
            Some(&admin),
            &json!({ "roles": ["admin"], "password": "erin-new-password" }),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
    assert_eq!(
        server.login("erin", "erin-password").await.status,
        StatusCode::UNAUTHORIZED
    );
    let erin = server.token("erin", "erin-new-password").await;
    assert_eq!(
        server.get("/api/users", Some(&erin)).await.status,
        StatusCode::OK
    );

    let deleted = server
        .delete(&format!("/api/users/{id}"), Some(&admin))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_token_refused(&server.me(&erin).await);
    let gone = server.get(&format!("/api/users/{id}"), Some(&admin)).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.code(), ErrorCode::NotFound);
    let again = server
        .delete(&format!("/api/users/{id}"), Some(&admin))
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn non_admins_are_forbidden_and_lose_admin_rights_at_once() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let admin = server.admin_token().await;
    let id = server.create_user(&admin, "frank", "frank-password").await;
    let frank = server.token("frank", "frank-password").await;
    let forbidden = server.get("/api/users", Some(&frank)).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(forbidden.code(), ErrorCode::Forbidden);

    server
        .patch_json(
            &format!("/api/users/{id}"),
            Some(&admin),
            &json!({ "roles": ["admin"] }),
        )
        .await;
    // A role change ends the user's sessions: the old token is refused at once, and a new
    // login carries the new rights.
    assert_token_refused(&server.get("/api/users", Some(&frank)).await);
    let frank = server.token("frank", "frank-password").await;
    assert_eq!(
        server.get("/api/users", Some(&frank)).await.status,
        StatusCode::OK
    );
    server
        .patch_json(
            &format!("/api/users/{id}"),
            Some(&admin),
            &json!({ "roles": [] }),
        )
        .await;
    assert_token_refused(&server.get("/api/users", Some(&frank)).await);
    let frank = server.token("frank", "frank-password").await;
    assert_eq!(
        server.get("/api/users", Some(&frank)).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_last_active_admin_cannot_be_removed() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let admin = server.admin_token().await;
    let me = server.me(&admin).await;
    let id = me.json::<MeResponse>().user.id;
    for change in [json!({ "active": false }), json!({ "roles": ["ops"] })] {
        let answer = server
            .patch_json(&format!("/api/users/{id}"), Some(&admin), &change)
            .await;
        assert_eq!(answer.status, StatusCode::CONFLICT, "{answer:?}");
        assert_eq!(answer.code(), ErrorCode::Conflict);
    }
    let answer = server
        .delete(&format!("/api/users/{id}"), Some(&admin))
        .await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert_eq!(server.me(&admin).await.status, StatusCode::OK);
}

#[tokio::test]
async fn invalid_user_fields_are_rejected_with_what_is_allowed() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let admin = server.admin_token().await;
    let cases = [
        json!({ "username": "has space", "password": "long-enough" }),
        json!({ "username": "ok", "password": "short" }),
        json!({ "username": "ok", "password": "long-enough", "roles": ["Not Allowed"] }),
    ];
    for body in cases {
        let answer = server.post_json("/api/users", Some(&admin), &body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        let error = answer.error();
        assert_eq!(error.error, ErrorCode::InvalidRequest);
        assert!(error.message.contains("must"), "{answer:?}");
    }
    let unknown_field = server
        .post_json(
            "/api/users",
            Some(&admin),
            &json!({ "username": "ok", "password": "long-enough", "is_admin": true }),
        )
        .await;
    assert_eq!(unknown_field.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown_field.code(), ErrorCode::InvalidBody);
    let list = server.get("/api/users", Some(&admin)).await;
    assert_eq!(
        list.json::<UserList>().users.len(),
        1,
        "nothing half-written"
    );
}

/// A deactivation ends the user's sessions whatever the server last read of the user: a
/// session that outlived an earlier deactivation (made by a writer that did not end it, or
/// raced by a concurrent reactivation) must not come back when the user is reactivated.
#[tokio::test]
async fn deactivating_ends_sessions_even_when_the_user_already_looked_inactive() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let admin = server.admin_token().await;
    let id = server.create_user(&admin, "uma", "uma-password-1234").await;
    let uma = server.token("uma", "uma-password-1234").await;
    assert_eq!(server.me(&uma).await.status, StatusCode::OK);

    // Another writer sets uma inactive without ending her session.
    let other = tessera_store::connect(&env.database_url()).await.unwrap();
    let patch = tessera_store::UserPatch {
        active: Some(false),
        ..Default::default()
    };
    other
        .update_user(id.parse().unwrap(), patch, 0)
        .await
        .unwrap();
    other.close().await.unwrap();
    server.poll_external_changes().await;
    assert_token_refused(&server.me(&uma).await);

    let path = format!("/api/users/{id}");
    for active in [false, true] {
        let answer = server
            .patch_json(&path, Some(&admin), &json!({ "active": active }))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    }
    assert_token_refused(&server.me(&uma).await);
}
