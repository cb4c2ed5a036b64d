//! User administration over HTTP.

use reqwest::StatusCode;
use serde_json::json;

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
            &json!({ "username": "Erin", "password": "erin-password", "roles": ["ops", "billing"] }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.header("location"),
        Some(format!("/api/users/{id}").as_str())
    );
    assert_eq!(created.body["username"], "erin");
    assert_eq!(created.body["roles"], json!(["billing", "ops"]));
    assert_eq!(created.body["active"], true);
    assert!(created.body.get("password_hash").is_none());

    let list = server.get("/api/users", Some(&admin)).await;
    assert_eq!(list.status, StatusCode::OK);
    let names: Vec<&str> = list.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "erin"]);

    let one = server.get(&format!("/api/users/{id}"), Some(&admin)).await;
    assert_eq!(one.body["username"], "erin");

    let duplicate = server
        .post_json(
            "/api/users",
            Some(&admin),
            &json!({ "username": "erin", "password": "another-password" }),
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);

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
    assert_eq!(forbidden.body["error"], "forbidden");

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
    let id = me.body["user"]["id"].as_str().unwrap();
    for change in [json!({ "active": false }), json!({ "roles": ["ops"] })] {
        let answer = server
            .patch_json(&format!("/api/users/{id}"), Some(&admin), &change)
            .await;
        assert_eq!(answer.status, StatusCode::CONFLICT, "{answer:?}");
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
        assert!(
            answer.body["message"].as_str().unwrap().contains("must"),
            "{answer:?}"
        );
    }
    let unknown_field = server
        .post_json(
            "/api/users",
            Some(&admin),
            &json!({ "username": "ok", "password": "long-enough", "is_admin": true }),
        )
        .await;
    assert_eq!(unknown_field.status, StatusCode::UNPROCESSABLE_ENTITY);
    let list = server.get("/api/users", Some(&admin)).await;
    assert_eq!(
        list.body["users"].as_array().unwrap().len(),
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
