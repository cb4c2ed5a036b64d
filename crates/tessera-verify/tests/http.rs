//! The shared-secret mode against tessera's own secret rule, and the HTTP answers of
//! `VerifyLayer` and `Authenticated`.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::Extension;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use serde_json::Value;
use tessera_config::{JwtSecret, SecretPolicy};
use tessera_token::{KeySet, SigningKey, Subject, TokenCodec, TokenRules};
use tessera_verify::{Authenticated, Claims, ManualClock, Verifier, VerifyLayer};
use tower::ServiceExt as _;

const T0: i64 = 1_796_083_200;

fn rules() -> TokenRules {
    TokenRules {
        issuer: "tessera".into(),
        audience: "tessera".into(),
        leeway_seconds: 30,
    }
}

/// The codec of a tessera configured with `TESSERA_JWT_SECRET=secret` (policy `pad`, the
/// default): the key comes from tessera-config's own rule, exactly as the server builds it.
fn tessera_codec(secret: &str, policy: SecretPolicy) -> TokenCodec {
    let secret = JwtSecret::parse(secret, policy).unwrap();
    let key = SigningKey::from_bytes(secret.key_bytes()).unwrap();
    TokenCodec::new(KeySet::new(key, Vec::new()).unwrap(), rules()).unwrap()
}

fn token(codec: &TokenCodec, now: i64) -> String {
    let roles = ["admin".to_owned()];
    let subject = Subject {
        id: "user-7",
        session_id: "session-7",
        name: "Grace",
        roles: &roles,
    };
    codec.issue(subject, now, 600).unwrap().token
}

fn shared(secret: &str) -> Verifier {
    Verifier::shared_secret(secret, rules())
        .unwrap()
        .with_clock(Arc::new(ManualClock::new(T0)))
}

#[tokio::test]
async fn a_ten_character_secret_verifies_as_tessera_pads_it() {
    let codec = tessera_codec("s3cr3t-10c", SecretPolicy::Pad);
    let claims = shared("s3cr3t-10c")
        .verify(&token(&codec, T0))
        .await
        .unwrap();
    assert_eq!(
        (claims.sub.as_str(), claims.name.as_str()),
        ("user-7", "Grace")
    );
    // The padded key itself is not the secret: another 10 characters fail.
    let refused = shared("s3cr3t-10d").verify(&token(&codec, T0)).await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn long_and_multibyte_secrets_follow_tessera_rule() {
    for secret in [
        "0123456789abcdef0123456789abcdef-and-ignored",
        "0123456789abcdef0123456789abcdef",
        "ééééééééééééééééééééé",
        "ééééééééééééééééééééééééééééééééééé",
    ] {
        let codec = tessera_codec(secret, SecretPolicy::Pad);
        assert!(
            shared(secret).verify(&token(&codec, T0)).await.is_ok(),
            "{secret}"
        );
    }
    // Only the first 32 characters count, as in tessera.
    let codec = tessera_codec("0123456789abcdef0123456789abcdef-one", SecretPolicy::Pad);
    let verifier = shared("0123456789abcdef0123456789abcdef-two");
    assert!(verifier.verify(&token(&codec, T0)).await.is_ok());
    // Policy strict: the whole secret is the key.
    let long = "0123456789abcdef0123456789abcdef-strict";
    let codec = tessera_codec(long, SecretPolicy::Strict);
    let verifier = Verifier::shared_key(long.as_bytes(), rules())
        .unwrap()
        .with_clock(Arc::new(ManualClock::new(T0)));
    assert!(verifier.verify(&token(&codec, T0)).await.is_ok());
    assert!(shared(long).verify(&token(&codec, T0)).await.is_err());
}

#[tokio::test]
async fn previous_secrets_keep_older_tokens_valid() {
    let old = tessera_codec("the-old-secret", SecretPolicy::Pad);
    let current = tessera_codec("the-current-secret", SecretPolicy::Pad);
    let other = tessera_codec("a-third-secret", SecretPolicy::Pad);
    let verifier = Verifier::shared_secrets("the-current-secret", &["the-old-secret"], rules())
        .unwrap()
        .with_clock(Arc::new(ManualClock::new(T0)));
    assert!(verifier.verify(&token(&current, T0)).await.is_ok());
    assert!(verifier.verify(&token(&old, T0)).await.is_ok());
    assert!(verifier.verify(&token(&other, T0)).await.is_err());
    // Without the previous secret the old tokens fail.
    assert!(
        shared("the-current-secret")
            .verify(&token(&old, T0))
            .await
            .is_err()
    );
    // "abc" pads to the key "abc-" pads to: the same key twice is refused.
    let error = Verifier::shared_secrets("abc", &["abc-"], rules()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "two of the shared secrets give the same key"
    );
}

#[test]
fn empty_or_blank_secrets_are_refused_and_debug_hides_the_secret() {
    for secret in ["", "   "] {
        let error = Verifier::shared_secret(secret, rules()).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("the shared secret must not be")
        );
    }
    let verifier = Verifier::shared_secret("super-secret-value", rules()).unwrap();
    let debug = format!("{verifier:?}");
    assert!(!debug.contains("super-secret"), "{debug}");
    let jwks = Verifier::jwks("https://u:p4ss@auth.example/jwks.json", rules()).unwrap();
    let debug = format!("{jwks:?}");
    assert!(
        !debug.contains("p4ss") && debug.contains("auth.example"),
        "{debug}"
    );
}

#[test]
fn bad_urls_and_rules_are_refused_when_building() {
    assert!(Verifier::jwks("not a url", rules()).is_err());
    assert!(Verifier::jwks("ftp://auth.example/jwks.json", rules()).is_err());
    let rules = TokenRules {
        leeway_seconds: 61,
        ..rules()
    };
    assert!(Verifier::jwks("https://auth.example/jwks.json", rules).is_err());
}

async fn me(Authenticated(claims): Authenticated) -> String {
    format!("{} {}", claims.sub, claims.roles.join(","))
}

async fn me_from_extension(Extension(claims): Extension<Claims>) -> String {
    claims.sub.clone()
}

fn app(verifier: &Verifier, layer: bool) -> Router {
    let router = Router::new()
        .route("/me", get(me))
        .route("/sub", get(me_from_extension));
    let router = if layer {
        router.route_layer(VerifyLayer::new(verifier.clone()))
    } else {
        router
    };
    router.with_state(verifier.clone())
}

async fn call(app: &Router, path: &str, authorization: Option<&str>) -> (Response, Value) {
    let mut request = Request::get(path);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, 64 * 1024).await.unwrap();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (Response::from_parts(parts, Body::empty()), json)
}

fn challenge(response: &Response) -> &str {
    response.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn layer_and_extractor_answer_401_with_the_bearer_challenge() {
    let codec = tessera_codec("a-shared-secret", SecretPolicy::Pad);
    let verifier = shared("a-shared-secret");
    let good = format!("Bearer {}", token(&codec, T0));
    let expired = format!("bearer {}", token(&codec, T0 - 700));
    for layer in [true, false] {
        let app = app(&verifier, layer);
        let (response, body) = call(&app, "/me", Some(&good)).await;
        assert_eq!(response.status(), StatusCode::OK, "layer {layer}");
        assert_eq!(body, Value::String("user-7 admin".into()));

        let (response, body) = call(&app, "/me", Some(&expired)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(challenge(&response), "Bearer error=\"invalid_token\"");
        assert_eq!(
            body,
            serde_json::json!({"error": "invalid_token", "reason": "expired"})
        );

        let (response, body) = call(&app, "/me", Some("Bearer x.y.z")).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(body["reason"], "malformed");

        for missing in [None, Some("Basic dXNlcjpwYXNz"), Some("Bearer   ")] {
            let (response, body) = call(&app, "/me", missing).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{missing:?}");
            assert_eq!(challenge(&response), "Bearer");
            assert_eq!(
                body,
                serde_json::json!({"error": "missing_token", "reason": "missing_token"})
            );
        }
    }
    // Behind the layer, handlers can also read the claims as an extension.
    let (response, body) = call(&app(&verifier, true), "/sub", Some(&good)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body, Value::String("user-7".into()));
}

#[tokio::test]
async fn no_key_set_is_503_not_401() {
    let codec = tessera_codec("a-shared-secret", SecretPolicy::Pad);
    // Nobody listens on the discard port: the first fetch fails.
    let verifier = Verifier::jwks("http://127.0.0.1:9/.well-known/jwks.json", rules()).unwrap();
    for layer in [true, false] {
        let app = app(&verifier, layer);
        let bearer = format!("Bearer {}", token(&codec, T0));
        let (response, body) = call(&app, "/me", Some(&bearer)).await;
        assert_eq!(
            response.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "layer {layer}"
        );
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
        assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
        assert_eq!(
            body,
            serde_json::json!({"error": "unavailable", "reason": "key_set_unavailable"})
        );
    }
}
