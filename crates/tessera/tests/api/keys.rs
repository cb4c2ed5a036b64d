//! Signing keys through the real server: every algorithm signs and verifies, the key set is
//! published, a rotation keeps earlier tokens valid while new ones use the new key, a revoked
//! key's tokens are refused at once, previous HS256 secrets verify and never sign, and the
//! keys kept in the database refuse a wrong key-encryption secret or a tampered row at start.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera::keys::KeysError;

use crate::helpers::{
    ADMIN_PASSWORD, Grant, TestEnv, TestServer, assert_token_refused, kid_of as kid,
    token_header as header,
};
use crate::pg::TestDatabase;

const KEK: &str = "a-key-encryption-secret-of-forty-characters";
const SECRET: &str = "TheFirstSecretIsThirtyTwoChars!!";
const SECOND_SECRET: &str = "TheSecondSecretIsThirtyTwoChars!";

async fn asymmetric(env: &TestEnv, algorithm: &str) -> TestServer {
    env.spawn(&[
        ("TESSERA_JWT_ALGORITHM", algorithm),
        ("TESSERA_KEY_ENCRYPTION_SECRET", KEK),
    ])
    .await
}

async fn jwks(server: &TestServer) -> Vec<Value> {
    let answer = server.get("/.well-known/jwks.json", None).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(
        answer.header("content-type"),
        Some("application/jwk-set+json")
    );
    answer.body["keys"].as_array().unwrap().clone()
}

fn kids(keys: &[Value]) -> Vec<String> {
    keys.iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_algorithm_signs_verifies_and_publishes_only_public_keys() {
    for algorithm in ["HS256", "EdDSA", "ES256", "RS256"] {
        let env = TestEnv::new();
        let server = asymmetric(&env, algorithm).await;
        let grant = server.grant("admin", ADMIN_PASSWORD).await;
        let header = header(&grant.access);
        assert_eq!(header["alg"], algorithm, "{header}");
        assert_eq!(header["typ"], "at+jwt", "{header}");
        assert!(header["kid"].as_str().is_some_and(|kid| !kid.is_empty()));
        let me = server.me(&grant.access).await;
        assert_eq!(me.status, StatusCode::OK, "{algorithm}: {me:?}");

        // A flipped bit in the signature is refused.
        let mut tampered = grant.access.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_token_refused(&server.me(&String::from_utf8(tampered).unwrap()).await);

        let keys = jwks(&server).await;
        if algorithm == "HS256" {
            assert!(keys.is_empty(), "HS256 publishes nothing: {keys:?}");
            continue;
        }
        // The current key and the next one, both public only.
        assert_eq!(keys.len(), 2, "{algorithm}: {keys:?}");
        assert!(kids(&keys).contains(&kid(&grant.access)));
        for key in &keys {
            assert_eq!(key["alg"], algorithm);
            assert_eq!(key["use"], "sig");
            for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
                assert!(
                    key.get(private).is_none(),
                    "{algorithm} publishes {private}"
                );
            }
        }
    }
}

#[tokio::test]
async fn tokens_signed_before_a_rotation_stay_valid_while_new_ones_use_the_new_key() {
    let env = TestEnv::new();
    let server = asymmetric(&env, "EdDSA").await;
    let before = server.grant("admin", ADMIN_PASSWORD).await;
    let old_kid = kid(&before.access);
    let published = kids(&jwks(&server).await);
    let next_kid = published.iter().find(|k| **k != old_kid).unwrap().clone();

    // Too early: the next key has not been published for the key set's cache lifetime.
    let refused = server
        .state
        .auth
        .keys
        .rotate(env.clock_now(), false)
        .await
        .unwrap_err();
    assert!(matches!(refused, KeysError::TooYoung { .. }), "{refused:?}");
    assert!(refused.to_string().contains("TESSERA_JWKS_MAX_AGE_SECONDS"));

    env.clock.advance(300);
    let rotation = server
        .state
        .auth
        .keys
        .rotate(env.clock_now(), false)
        .await
        .unwrap();
    assert_eq!(rotation.current, next_kid, "the published next key signs");
    assert_eq!(rotation.retired.as_deref(), Some(old_kid.as_str()));
    server.poll_external_changes().await;

    let after = Grant::from(&server.refresh(&before.refresh).await);
    assert_eq!(kid(&after.access), next_kid);
    let old_token = server.me(&before.access).await;
    assert_eq!(old_token.status, StatusCode::OK, "{old_token:?}");
    let published = kids(&jwks(&server).await);
    assert!(published.contains(&old_kid), "retired keys stay published");
    assert!(published.contains(&rotation.next));
    assert_eq!(published.len(), 3);

    // Past the longest token's life plus the leeway, the retired key goes.
    env.clock.advance(7200 * 60 + 30 + 1);
    server.state.auth.keys.tick(env.clock_now()).await.unwrap();
    server.poll_external_changes().await;
    let published = kids(&jwks(&server).await);
    assert!(!published.contains(&old_kid), "{published:?}");
}

#[tokio::test]
async fn a_revoked_keys_tokens_are_refused_at_once_and_the_next_key_signs() {
    let env = TestEnv::new();
    let server = asymmetric(&env, "ES256").await;
    let grant = server.grant("admin", ADMIN_PASSWORD).await;
    let revoked = kid(&grant.access);
    let rotation = server
        .state
        .auth
        .keys
        .revoke(&revoked, env.clock_now())
        .await
        .unwrap()
        .expect("revoking the current key rotates");
    server.poll_external_changes().await;

    let answer = server.me(&grant.access).await;
    assert_token_refused(&answer);
    assert_eq!(answer.body["reason"], "unknown_key", "{answer:?}");
    assert!(!kids(&jwks(&server).await).contains(&revoked));

    let fresh = server.grant("admin", ADMIN_PASSWORD).await;
    assert_eq!(kid(&fresh.access), rotation.current);
    assert_eq!(server.me(&fresh.access).await.status, StatusCode::OK);

    let again = server
        .state
        .auth
        .keys
        .revoke(&revoked, env.clock_now())
        .await
        .unwrap_err();
    assert!(matches!(again, KeysError::AlreadyRevoked(_)), "{again:?}");
    let unknown = server
        .state
        .auth
        .keys
        .revoke("no-such-kid", env.clock_now())
        .await
        .unwrap_err();
    assert!(matches!(unknown, KeysError::UnknownKid(_)), "{unknown:?}");
}

#[tokio::test]
async fn a_key_change_made_by_another_process_reaches_the_running_server() {
    let env = TestEnv::new();
    let server = asymmetric(&env, "EdDSA").await;
    let grant = server.grant("admin", ADMIN_PASSWORD).await;
    // Another process on the same database: an operator's command.
    let operator = asymmetric(&env, "EdDSA").await;
    operator
        .state
        .auth
        .keys
        .revoke(&kid(&grant.access), env.clock_now())
        .await
        .unwrap();
    server.poll_external_changes().await;
    assert_token_refused(&server.me(&grant.access).await);
    let fresh = server.grant("admin", ADMIN_PASSWORD).await;
    assert_eq!(server.me(&fresh.access).await.status, StatusCode::OK);
    assert_eq!(operator.me(&fresh.access).await.status, StatusCode::OK);
}

#[tokio::test]
async fn previous_hs256_secrets_verify_and_never_sign() {
    let env = TestEnv::new();
    let first = env.spawn(&[("TESSERA_JWT_SECRET", SECRET)]).await;
    let old = first.grant("admin", ADMIN_PASSWORD).await;
    drop(first);

    let second = env
        .spawn(&[
            ("TESSERA_JWT_SECRET", SECOND_SECRET),
            ("TESSERA_JWT_PREVIOUS_SECRETS", SECRET),
        ])
        .await;
    assert_eq!(second.me(&old.access).await.status, StatusCode::OK);
    let new = Grant::from(&second.refresh(&old.refresh).await);
    assert_ne!(kid(&new.access), kid(&old.access));
    // Signed with the new secret, not the previous one.
    let by_new = crate::helpers::codec(SECOND_SECRET, "tessera", 0);
    let by_old = crate::helpers::codec(SECRET, "tessera", 0);
    let now = env.clock_now();
    assert!(by_new.verify(&new.access, now).is_ok());
    assert!(by_old.verify(&new.access, now).is_err());
    assert!(
        jwks(&second).await.is_empty(),
        "secrets are never published"
    );
}

#[tokio::test]
async fn without_previous_secrets_a_secret_change_still_logs_everyone_out() {
    let env = TestEnv::new();
    let first = env.spawn(&[("TESSERA_JWT_SECRET", SECRET)]).await;
    let old = first.grant("admin", ADMIN_PASSWORD).await;
    drop(first);
    let second = env.spawn(&[("TESSERA_JWT_SECRET", SECOND_SECRET)]).await;
    let answer = second.me(&old.access).await;
    assert_token_refused(&answer);
}

#[tokio::test]
async fn an_hs256_token_made_with_the_public_key_as_secret_is_refused() {
    // The algorithm-confusion attack: the public key, published, used as an HMAC secret.
    let env = TestEnv::new();
    let server = asymmetric(&env, "EdDSA").await;
    let grant = server.grant("admin", ADMIN_PASSWORD).await;
    let public = jwks(&server)
        .await
        .into_iter()
        .find(|key| key["kid"] == kid(&grant.access).as_str())
        .unwrap();
    let payload = grant.access.split('.').nth(1).unwrap();
    for secret in [
        URL_SAFE_NO_PAD
            .decode(public["x"].as_str().unwrap())
            .unwrap(),
        public["x"].as_str().unwrap().as_bytes().to_vec(),
        public.to_string().into_bytes(),
    ] {
        let forged_header = json!({"alg": "HS256", "typ": "at+jwt", "kid": kid(&grant.access)});
        let input = format!(
            "{}.{payload}",
            URL_SAFE_NO_PAD.encode(forged_header.to_string())
        );
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret);
        let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
        let forged = format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
        assert_token_refused(&server.me(&forged).await);
    }
}

#[tokio::test]
async fn the_key_encryption_secret_is_required_and_checked_at_start() {
    let env = TestEnv::new();
    let server = asymmetric(&env, "RS256").await;
    drop(server);

    for (settings, expected) in [
        (
            vec![("TESSERA_JWT_ALGORITHM", "RS256")],
            "TESSERA_KEY_ENCRYPTION_SECRET",
        ),
        (
            vec![
                ("TESSERA_JWT_ALGORITHM", "RS256"),
                (
                    "TESSERA_KEY_ENCRYPTION_SECRET",
                    "another-key-encryption-secret-of-40-chars",
                ),
            ],
            "does not open the signing key",
        ),
    ] {
        let error = env.try_spawn(&settings).await.err().unwrap();
        assert!(error.contains(expected), "{error}");
        assert!(!error.contains(KEK), "{error}");
    }
}

#[tokio::test]
async fn a_tampered_stored_key_stops_the_start_naming_it() {
    use sqlx::Connection as _;
    let env = TestEnv::new();
    let server = asymmetric(&env, "EdDSA").await;
    let current = kid(&server.grant("admin", ADMIN_PASSWORD).await.access);
    drop(server);
    let mut connection = sqlx::SqliteConnection::connect(&env.database_url())
        .await
        .unwrap();
    // One bit of the sealed private key flipped.
    sqlx::query(
        "UPDATE signing_keys SET sealed_private = \
         CAST(substr(sealed_private, 1, 40) || X'FF' || substr(sealed_private, 42) AS BLOB) \
         WHERE kid = ?",
    )
    .bind(&current)
    .execute(&mut connection)
    .await
    .unwrap();
    connection.close().await.unwrap();
    let error = env
        .try_spawn(&[
            ("TESSERA_JWT_ALGORITHM", "EdDSA"),
            ("TESSERA_KEY_ENCRYPTION_SECRET", KEK),
        ])
        .await
        .err()
        .unwrap();
    assert!(error.contains(&current), "{error}");
}

#[tokio::test]
async fn the_metadata_names_the_issuer_and_the_key_set_and_nothing_else() {
    let env = TestEnv::new();
    let server = asymmetric(&env, "EdDSA").await;
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let answer = server.get(path, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        assert_eq!(answer.body["issuer"], "tessera");
        let host = server.base.trim_start_matches("http://");
        assert_eq!(
            answer.body["jwks_uri"],
            format!("http://{host}/.well-known/jwks.json")
        );
        assert_eq!(answer.body["response_types_supported"], json!([]));
        for claimed in [
            "authorization_endpoint",
            "token_endpoint",
            "userinfo_endpoint",
            "id_token_signing_alg_values_supported",
        ] {
            assert!(
                answer.body.get(claimed).is_none(),
                "{path} claims {claimed}"
            );
        }
        // A Host that would turn the URLs into another document is refused.
        let answer = server
            .client
            .get(server.url(path))
            .header("host", "evil.example/x?")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    }
    let answer = server.get("/.well-known/jwks.json", None).await;
    assert_eq!(answer.header("cache-control"), Some("public, max-age=300"));
    let etag = answer.header("etag").unwrap().to_owned();
    let again = server
        .client
        .get(server.url("/.well-known/jwks.json"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn two_instances_on_postgres_rotate_on_schedule_exactly_once_and_agree() {
    let database = TestDatabase::create().await;
    let url = database.url(None, None);
    let env = TestEnv::new();
    let settings = [
        ("TESSERA_DATABASE_URL", url.as_str()),
        ("TESSERA_JWT_ALGORITHM", "ES256"),
        ("TESSERA_KEY_ENCRYPTION_SECRET", KEK),
        ("TESSERA_JWT_SECRET", SECRET),
        ("TESSERA_KEY_ROTATION_DAYS", "1"),
    ];
    let (a, b) = tokio::join!(env.spawn(&settings), env.spawn(&settings));
    a.poll_external_changes().await;
    b.poll_external_changes().await;
    assert_eq!(kids(&jwks(&a).await), kids(&jwks(&b).await));
    let first = a.grant("admin", ADMIN_PASSWORD).await;
    for day in 1..=5 {
        env.clock.advance(24 * 60 * 60);
        let now = env.clock_now();
        let (ra, rb) = tokio::join!(a.state.auth.keys.tick(now), b.state.auth.keys.tick(now));
        let rotated = [ra.unwrap(), rb.unwrap()];
        assert_eq!(
            rotated.iter().flatten().count(),
            1,
            "day {day}: exactly one instance rotates: {rotated:?}"
        );
        // Before either has read the feed, a token of the new key verifies on both: it was
        // published as next a day ago.
        let grant = a.grant("admin", ADMIN_PASSWORD).await;
        let signing = rotated.iter().flatten().next().unwrap().current.clone();
        a.poll_external_changes().await;
        let grant = if kid(&grant.access) == signing {
            grant
        } else {
            a.grant("admin", ADMIN_PASSWORD).await
        };
        assert_eq!(kid(&grant.access), signing);
        assert_eq!(b.me(&grant.access).await.status, StatusCode::OK);
        b.poll_external_changes().await;
        assert_eq!(kids(&jwks(&a).await), kids(&jwks(&b).await));
    }
    // The first key retired on day 1 and verifies until its last token expired (5 days and
    // the leeway): still published on day 5.
    assert!(kids(&jwks(&b).await).contains(&kid(&first.access)));
}

#[tokio::test]
async fn token_verify_works_offline_against_a_jwks_file_or_url() {
    use crate::helpers::Binary;
    let env = TestEnv::new();
    let tessera = || {
        Binary::new(env.path())
            .arg(format!("--TESSERA_DATABASE_URL={}", env.database_url()))
            .env("TESSERA_JWT_ALGORITHM", "ES256")
            .env("TESSERA_KEY_ENCRYPTION_SECRET", KEK)
            .env("TESSERA_ADMIN_PASSWORD", ADMIN_PASSWORD)
    };
    let server = tessera()
        .arg("serve")
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .serve();
    let token = server.login("admin", ADMIN_PASSWORD).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!("{}/.well-known/jwks.json", server.base);
    let set = reqwest::get(&url).await.unwrap().text().await.unwrap();
    // Another directory, no database and no key-encryption secret: offline.
    let elsewhere = tempfile::tempdir().unwrap();
    let file = elsewhere.path().join("jwks.json");
    std::fs::write(&file, &set).unwrap();
    let offline = |source: &str, token: &str| {
        Binary::new(elsewhere.path())
            .arg("token")
            .arg("verify")
            .arg("--jwks")
            .arg(source)
            .arg(token)
            .output()
    };
    for source in [file.to_str().unwrap(), url.as_str()] {
        let (code, stdout, stderr) = offline(source, &token);
        assert_eq!(code, 0, "{source}: {stdout}{stderr}");
        assert!(stdout.starts_with("valid by the key set"), "{stdout}");
        assert!(stdout.contains("'admin'"), "{stdout}");
    }
    assert!(
        !elsewhere.path().join("tessera.db").exists(),
        "no database is made"
    );

    let (input, _) = token.rsplit_once('.').unwrap();
    let tampered = format!("{input}.{}", "A".repeat(86));
    let (code, stdout, _) = offline(file.to_str().unwrap(), &tampered);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.starts_with("invalid:"), "{stdout}");

    // A key set that is not one: a clear error, never a panic.
    for (content, expected) in [
        ("not json", "refused"),
        (
            r#"{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA","kid":"k","alg":"ES256"}]}"#,
            "refused",
        ),
        (
            r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"k","alg":"HS256"}]}"#,
            "refused",
        ),
    ] {
        std::fs::write(&file, content).unwrap();
        let (code, stdout, stderr) = offline(file.to_str().unwrap(), &token);
        assert_eq!(code, 1, "{content}: {stdout}{stderr}");
        assert!(stderr.contains(expected), "{content}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let keys: Value = serde_json::from_str(&set).unwrap();
    let first = keys["keys"][0].clone();
    std::fs::write(&file, json!({"keys": [first.clone(), first]}).to_string()).unwrap();
    let (code, _, stderr) = offline(file.to_str().unwrap(), &token);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("duplicate") || stderr.contains("kid"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_pem_key_file_signs_is_published_and_is_not_rotated_by_tessera() {
    let keys =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tessera-token/tests/data/keys");
    let ed25519 = keys.join("ed25519.pem");
    let env = TestEnv::new();
    let server = env
        .spawn(&[
            ("TESSERA_JWT_ALGORITHM", "EdDSA"),
            ("TESSERA_JWT_PRIVATE_KEY_FILE", ed25519.to_str().unwrap()),
        ])
        .await;
    let grant = server.grant("admin", ADMIN_PASSWORD).await;
    assert_eq!(header(&grant.access)["alg"], "EdDSA");
    let published = jwks(&server).await;
    assert_eq!(
        kids(&published),
        vec![kid(&grant.access)],
        "only the file's key"
    );
    // The kid is the RFC 7638 thumbprint of the public key, the same on every instance.
    let jwk = &published[0];
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        jwk["x"].as_str().unwrap()
    );
    let thumbprint = {
        use sha2::Digest as _;
        URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(canonical.as_bytes()))
    };
    assert_eq!(kid(&grant.access), thumbprint);
    let refused = server
        .state
        .auth
        .keys
        .rotate(env.clock_now(), true)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("TESSERA_JWT_PRIVATE_KEY_FILE"),
        "{refused}"
    );
    drop(server);

    // A key of another algorithm, a public key, a missing file: the start stops, naming it.
    for (algorithm, file, expected) in [
        (
            "ES256",
            ed25519.clone(),
            "holds an EdDSA key, but TESSERA_JWT_ALGORITHM is ES256",
        ),
        (
            "EdDSA",
            keys.join("ed25519-public.pem"),
            "TESSERA_JWT_PRIVATE_KEY_FILE",
        ),
        ("RS256", keys.join("rsa1024-pkcs8.pem"), "2048"),
        (
            "EdDSA",
            keys.join("missing.pem"),
            "cannot read TESSERA_JWT_PRIVATE_KEY_FILE",
        ),
    ] {
        let error = env
            .try_spawn(&[
                ("TESSERA_JWT_ALGORITHM", algorithm),
                ("TESSERA_JWT_PRIVATE_KEY_FILE", file.to_str().unwrap()),
            ])
            .await
            .err()
            .unwrap();
        assert!(error.contains(expected), "{file:?}: {error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotations_killed_at_any_moment_leave_one_signing_key_and_a_working_server() {
    use crate::helpers::Binary;
    let env = TestEnv::new();
    let tessera = || {
        Binary::new(env.path())
            .arg(format!("--TESSERA_DATABASE_URL={}", env.database_url()))
            .env("TESSERA_JWT_ALGORITHM", "EdDSA")
            .env("TESSERA_KEY_ENCRYPTION_SECRET", KEK)
            .env("TESSERA_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("TESSERA_JWKS_MAX_AGE_SECONDS", "0")
    };
    let server = tessera()
        .arg("serve")
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .serve();
    let first = server.login("admin", ADMIN_PASSWORD).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // `keys rotate` killed with SIGKILL at moments spread over its whole run (from before it
    // opens the database to after its last write).
    for round in 0..16_u64 {
        let mut child = tessera()
            .arg("keys")
            .arg("rotate")
            .command()
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(round * 13 % 120));
        let _ = child.kill();
        child.wait().unwrap();
        let list = |output: String| {
            output
                .lines()
                .filter(|line| line.split_whitespace().nth(2) == Some("current"))
                .count()
        };
        let (code, stdout, stderr) = tessera().arg("keys").arg("list").output();
        assert_eq!(code, 0, "round {round}: {stderr}");
        assert_eq!(list(stdout.clone()), 1, "round {round}: {stdout}");
        let login = server.login("admin", ADMIN_PASSWORD).await;
        assert_eq!(login.status, StatusCode::OK, "round {round}: {login:?}");
        let token = login.body["access_token"].as_str().unwrap();
        assert_eq!(
            server.me(token).await.status,
            StatusCode::OK,
            "round {round}"
        );
    }
    // Tokens from before every rotation stay valid; a completed rotation leaves a next key.
    assert_eq!(server.me(&first).await.status, StatusCode::OK);
    let (code, _, stderr) = tessera().arg("keys").arg("rotate").output();
    assert_eq!(code, 0, "{stderr}");
    let (_, stdout, _) = tessera().arg("keys").arg("list").output();
    for state in ["current", "next"] {
        let count = stdout
            .lines()
            .filter(|line| line.split_whitespace().nth(2) == Some(state))
            .count();
        assert_eq!(count, 1, "{state}: {stdout}");
    }
    let login = server.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK);
}
