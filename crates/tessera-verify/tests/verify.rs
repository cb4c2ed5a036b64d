//! End-to-end tests over real HTTP: a local axum server plays tessera's
//! `/.well-known/jwks.json` (key sets built with tessera-token's own keys, requests counted),
//! tokens are issued by tessera-token's `TokenCodec` with the same keys, and time is a
//! `ManualClock` — nothing sleeps.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use common::{Answer, Issuer, T0, Tessera, reason, rules, set_of};
use tessera_token::{Algorithm, KeySet, TokenCodec, TokenRules, jwk_set};
use tessera_verify::{FetchError, JwksOptions, MAX_JWKS_BYTES, ManualClock, Rejection, Verifier};
use tokio::sync::Semaphore;

#[tokio::test]
async fn tokens_of_every_published_algorithm_are_accepted() {
    let issuers = [
        Issuer::new(Algorithm::EdDsa),
        Issuer::new(Algorithm::Es256),
        Issuer::new(Algorithm::Rs256),
    ];
    let tessera = Tessera::start(set_of(&issuers.iter().collect::<Vec<_>>())).await;
    let clock = Arc::new(ManualClock::new(T0));
    let verifier = tessera.verifier(&clock);
    for issuer in &issuers {
        let claims = verifier.verify(&issuer.token(T0)).await.unwrap();
        assert_eq!(
            (
                claims.sub.as_str(),
                claims.sid.as_str(),
                claims.name.as_str()
            ),
            ("user-1", "session-1", "Ada")
        );
        assert_eq!(claims.roles, ["user"]);
    }
    assert_eq!(tessera.hits(), 1, "one fetch serves every known kid");
}

#[tokio::test]
async fn bad_tokens_are_refused_with_tessera_reasons() {
    let issuer = Issuer::new(Algorithm::EdDsa);
    let tessera = Tessera::start(set_of(&[&issuer])).await;
    let clock = Arc::new(ManualClock::new(T0));
    let verifier = tessera.verifier(&clock);

    let expired = issuer.token(T0 - 3600);
    assert_eq!(reason(verifier.verify(&expired).await), "expired");

    let other_audience = Issuer {
        key: issuer.key.clone(),
        codec: TokenCodec::new(
            KeySet::new(issuer.key.clone(), Vec::new()).unwrap(),
            TokenRules {
                audience: "billing".into(),
                ..rules()
            },
        )
        .unwrap(),
    };
    assert_eq!(
        reason(verifier.verify(&other_audience.token(T0)).await),
        "wrong_audience"
    );
    let other_issuer = Issuer {
        key: issuer.key.clone(),
        codec: TokenCodec::new(
            KeySet::new(issuer.key.clone(), Vec::new()).unwrap(),
            TokenRules {
                issuer: "someone-else".into(),
                ..rules()
            },
        )
        .unwrap(),
    };
    assert_eq!(
        reason(verifier.verify(&other_issuer.token(T0)).await),
        "wrong_issuer"
    );

    // One bit of the signature flipped (its first character, so no trailing-bit issue).
    let token = issuer.token(T0);
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let first = if signature.starts_with('A') { 'B' } else { 'A' };
    let tampered = format!("{signed}.{first}{}", &signature[1..]);
    assert_eq!(reason(verifier.verify(&tampered).await), "bad_signature");
    // The payload changed under the original signature.
    let mut parts: Vec<&str> = token.split('.').collect();
    let other = issuer.token(T0 + 1);
    parts[1] = other.split('.').nth(1).unwrap();
    assert_eq!(
        reason(verifier.verify(&parts.join(".")).await),
        "bad_signature"
    );
    assert_eq!(reason(verifier.verify("not a token").await), "malformed");

    // The genuine token still passes, and none of the above caused a refetch.
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(tessera.hits(), 1);
}

/// Waits (yielding, never sleeping) until the fake has served `hits` requests.
async fn until_hits(tessera: &Tessera, hits: usize) {
    tokio::time::timeout(Duration::from_secs(20), async {
        while tessera.hits() < hits {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the fake tessera was not asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_kid_from_200_concurrent_requests_causes_one_refetch() {
    let issuer = Issuer::new(Algorithm::EdDsa);
    let stranger = Issuer::new(Algorithm::EdDsa);
    let tessera = Tessera::start(set_of(&[&issuer])).await;
    let clock = Arc::new(ManualClock::new(T0));
    let verifier = tessera.verifier(&clock);
    assert!(verifier.verify(&issuer.token(T0)).await.is_ok());
    assert_eq!(tessera.hits(), 1);

    clock.advance(30);
    // Hold tessera's answer until every request has been started.
    let gate = Arc::new(Semaphore::new(0));
    *tessera.fake.gate.lock().unwrap() = Some(Arc::clone(&gate));
    let token = stranger.token(T0);
    let requests: Vec<_> = (0..200)
        .map(|_| {
            let (verifier, token) = (verifier.clone(), token.clone());
            tokio::spawn(async move { verifier.verify(&token).await })
        })
        .collect();
    until_hits(&tessera, 2).await;
    for _ in 0..1000 {
        tokio::task::yield_now().await;
    }
    gate.add_permits(1000);
    for request in requests {
        assert_eq!(reason(request.await.unwrap()), "unknown_key");
    }
    assert_eq!(
        tessera.hits(),
        2,
        "200 requests with an unknown kid: one refetch"
    );
}

#[tokio::test]
async fn unknown_kids_are_refused_without_a_fetch_until_the_interval_passes() {
    let issuer = Issuer::new(Algorithm::Es256);
    let stranger = Issuer::new(Algorithm::Es256);
    let tessera = Tessera::start(set_of(&[&issuer])).await;
    let clock = Arc::new(ManualClock::new(T0));
    let verifier = tessera.verifier(&clock);
    assert_eq!(
        reason(verifier.verify(&stranger.token(T0)).await),
        "unknown_key"
    );
    assert_eq!(
        tessera.hits(),
        1,
        "the first fetch was the load; no second at once"
    );

    // Another garbage kid, and the same one, within the interval: no fetch.
    let other_stranger = Issuer::new(Algorithm::EdDsa);
    for seconds in [1, 10, 29] {
        clock.set(T0 + seconds);
        assert_eq!(
            reason(verifier.verify(&stranger.token(T0)).await),
            "unknown_key"
        );
        assert_eq!(
            reason(verifier.verify(&other_stranger.token(T0)).await),
            "unknown_key"
        );
        assert_eq!(tessera.hits(), 1, "at +{seconds}s");
    }
    clock.set(T0 + 30);
    assert_eq!(
        reason(verifier.verify(&stranger.token(T0)).await),
        "unknown_key"
    );
    assert_eq!(tessera.hits(), 2, "the interval passed: one refetch");
    assert_eq!(
        reason(verifier.verify(&other_stranger.token(T0)).await),
        "unknown_key"
    );
    assert_eq!(tessera.hits(), 2, "and it starts a new interval");
    // Known keys kept working throughout.
    assert!(verifier.verify(&issuer.token(T0)).await.is_ok());
}

#[tokio::test]
async fn a_custom_refetch_interval_is_honoured() {
    let issuer = Issuer::new(Algorithm::EdDsa);
    let stranger = Issuer::new(Algorithm::EdDsa);
    let tessera = Tessera::start(set_of(&[&issuer])).await;
    let clock = Arc::new(ManualClock::new(T0));
    let options = JwksOptions::default().min_refetch_interval(Duration::from_secs(10));
    let verifier = Verifier::jwks_with(&tessera.url, rules(), options)
        .unwrap()
        .with_clock(clock.clone());
    assert!(verifier.verify(&issuer.token(T0)).await.is_ok());
    clock.set(T0 + 9);
    assert_eq!(
        reason(verifier.verify(&stranger.token(T0)).await),
        "unknown_key"
    );
    assert_eq!(tessera.hits(), 1);
    clock.set(T0 + 10);
    assert_eq!(
        reason(verifier.verify(&stranger.token(T0)).await),
        "unknown_key"
    );
    assert_eq!(tessera.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotated_key_is_accepted_after_one_refetch() {
    let old = Issuer::new(Algorithm::EdDsa);
    let new = Issuer::new(Algorithm::Rs256);
    let tessera = Tessera::start(set_of(&[&old])).await;
    let clock = Arc::new(ManualClock::new(T0));
    let verifier = tessera.verifier(&clock);
    assert!(verifier.verify(&old.token(T0)).await.is_ok());

    // tessera rotates: the new key signs, the old one still verifies.
    tessera.answer(set_of(&[&new, &old]));
    clock.set(T0 + 30);
    let token = new.token(T0 + 30);
    let requests: Vec<_> = (0..50)
        .map(|_| {
            let (verifier, token) = (verifier.clone(), token.clone());
            tokio::spawn(async move { verifier.verify(&token).await })
        })
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap().unwrap().sub, "user-1");
    }
    assert_eq!(tessera.hits(), 2, "one refetch found the new kid");
    assert!(verifier.verify(&old.token(T0)).await.is_ok());

    // The old key leaves the set: once refreshed, its tokens are refused, even one this
    // verifier accepted (and remembered) before.
    tessera.answer(set_of(&[&new]));
    let old_token = old.token(T0);
    assert!(verifier.verify(&old_token).await.is_ok());
    clock.set(T0 + 30 + 300);
    assert_eq!(reason(verifier.verify(&old_token).await), "unknown_key");
    assert_eq!(tessera.hits(), 3);
}

#[tokio::test]
async fn keys_are_refreshed_after_max_age_and_not_before() {
    let old = Issuer::new(Algorithm::EdDsa);
    let new = Issuer::new(Algorithm::EdDsa);
    let keys: Vec<_> = [&old]
        .iter()
        .map(|issuer| issuer.key.verifying_key())
        .collect();
    let tessera = Tessera::start(Answer::Body(
        jwk_set(&keys).to_string(),
        Some("public, max-age=120"),
    ))
    .await;
    let clock = Arc::new(ManualClock::new(T0));
    let verifier = tessera.verifier(&clock);
    assert!(verifier.verify(&old.token(T0)).await.is_ok());
    clock.set(T0 + 119);
    assert!(verifier.verify(&old.token(T0)).await.is_ok());
    assert_eq!(tessera.hits(), 1, "still fresh at 119 s");

    tessera.answer(set_of(&[&new, &old]));
    clock.set(T0 + 120);
    assert!(verifier.verify(&old.token(T0)).await.is_ok());
    assert_eq!(tessera.hits(), 2, "refreshed at max-age");
    // The refresh also started the refetch interval, and the new key is known without one.
    assert!(verifier.verify(&new.token(T0)).await.is_ok());
    assert_eq!(tessera.hits(), 2);
    // No max-age this time: the default five minutes.
    clock.set(T0 + 120 + 299);
    assert!(verifier.verify(&new.token(T0)).await.is_ok());
    assert_eq!(tessera.hits(), 2);
    clock.set(T0 + 120 + 300);
    assert!(verifier.verify(&new.token(T0)).await.is_ok());
    assert_eq!(tessera.hits(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_key_set_is_refreshed_once_while_requests_keep_flowing() {
    let issuer = Issuer::new(Algorithm::EdDsa);
    let tessera = Tessera::start(set_of(&[&issuer])).await;
    let clock = Arc::new(ManualClock::new(T0));
    let verifier = tessera.verifier(&clock);
    let token = issuer.token(T0);
    assert!(verifier.verify(&token).await.is_ok());

    clock.set(T0 + 300);
    // The refresh is held at tessera: the other requests must not wait for it.
    let gate = Arc::new(Semaphore::new(0));
    *tessera.fake.gate.lock().unwrap() = Some(Arc::clone(&gate));
    let refreshing = {
        let (verifier, token) = (verifier.clone(), token.clone());
        tokio::spawn(async move { verifier.verify(&token).await })
    };
    until_hits(&tessera, 2).await;
    for _ in 0..100 {
        assert!(
            verifier.verify(&token).await.is_ok(),
            "old keys in hand are used"
        );
    }
    assert!(
        !refreshing.is_finished(),
        "the 100 requests were served while the refresh was still held"
    );
    assert_eq!(tessera.hits(), 2, "one refresh at a time");
    gate.add_permits(1);
    assert!(refreshing.await.unwrap().is_ok());
    assert_eq!(tessera.hits(), 2);
    clock.set(T0 + 599);
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(tessera.hits(), 2, "fresh again for max-age");
}

#[tokio::test]
async fn a_failed_fetch_keeps_the_previous_keys() {
    let issuer = Issuer::new(Algorithm::EdDsa);
    let tessera = Tessera::start(set_of(&[&issuer])).await;
    let clock = Arc::new(ManualClock::new(T0));
    let verifier = tessera.verifier(&clock);
    let token = issuer.token(T0);
    assert!(verifier.verify(&token).await.is_ok());

    let failures = [
        Answer::Status(StatusCode::INTERNAL_SERVER_ERROR),
        Answer::Body("{\"keys\":[".into(), None),
        Answer::Body("{\"keys\":[]}".into(), None),
        Answer::Body(" ".repeat(MAX_JWKS_BYTES + 1), None),
    ];
    let mut hits = 1;
    let mut now = T0;
    for failure in failures {
        tessera.answer(failure);
        now += 300;
        clock.set(now);
        assert!(
            verifier.verify(&token).await.is_ok(),
            "old keys kept at {now}"
        );
        hits += 1;
        assert_eq!(tessera.hits(), hits, "the stale set was fetched again");
        // After a failure the next attempt waits for the refetch interval, not max-age.
        clock.set(now + 29);
        assert!(verifier.verify(&token).await.is_ok());
        assert_eq!(tessera.hits(), hits);
        now += 30;
        clock.set(now);
        assert!(verifier.verify(&token).await.is_ok());
        hits += 1;
        assert_eq!(tessera.hits(), hits);
    }
}

#[tokio::test]
async fn fetch_errors_say_what_went_wrong() {
    let issuer = Issuer::new(Algorithm::EdDsa);
    let tessera = Tessera::start(Answer::Status(StatusCode::NOT_FOUND)).await;
    let clock = Arc::new(ManualClock::new(T0));
    let verifier = tessera.verifier(&clock);
    assert_eq!(verifier.refresh().await, Err(FetchError::Status(404)));

    tessera.answer(Answer::Body(" ".repeat(MAX_JWKS_BYTES + 1), None));
    assert_eq!(verifier.refresh().await, Err(FetchError::TooLarge));
    tessera.answer(Answer::Body("{\"keys\":[]}".into(), None));
    assert_eq!(verifier.refresh().await, Err(FetchError::NoKeys));
    tessera.answer(Answer::Body("[1, 2".into(), None));
    let Err(FetchError::Invalid(message)) = verifier.refresh().await else {
        panic!("malformed JSON accepted");
    };
    assert!(!message.is_empty());
    // A private key in the set: refused by tessera-token's strict parser.
    let mut jwk = issuer.key.verifying_key().to_jwk().unwrap();
    jwk["d"] = "AAAA".into();
    tessera.answer(Answer::Body(
        serde_json::json!({ "keys": [jwk] }).to_string(),
        None,
    ));
    assert!(matches!(
        verifier.refresh().await,
        Err(FetchError::Invalid(_))
    ));
    // An address nobody listens on: a request error, no panic.
    let nobody = Verifier::jwks("http://127.0.0.1:9/jwks.json", rules()).unwrap();
    let Err(FetchError::Request(message)) = nobody.refresh().await else {
        panic!("no error for a closed port");
    };
    assert!(!message.is_empty());
    assert_eq!(
        reason(nobody.verify(&issuer.token(T0)).await),
        "key_set_unavailable"
    );
    // https with a reqwest built without TLS (as in this workspace): the error says what to do.
    let https = Verifier::jwks("https://127.0.0.1:9/jwks.json", rules()).unwrap();
    let Err(FetchError::Request(message)) = https.refresh().await else {
        panic!("https without TLS did not fail");
    };
    assert!(message.contains("enable its `rustls` feature"), "{message}");
}

#[tokio::test]
async fn without_a_first_key_set_tokens_are_unavailable() {
    let issuer = Issuer::new(Algorithm::EdDsa);
    let tessera = Tessera::start(Answer::Status(StatusCode::SERVICE_UNAVAILABLE)).await;
    let clock = Arc::new(ManualClock::new(T0));
    let verifier = tessera.verifier(&clock);
    let token = issuer.token(T0);
    assert_eq!(verifier.verify(&token).await, Err(Rejection::Unavailable));
    assert_eq!(tessera.hits(), 1);
    // Not retried on every request.
    clock.set(T0 + 29);
    assert_eq!(verifier.verify(&token).await, Err(Rejection::Unavailable));
    assert_eq!(tessera.hits(), 1);
    // tessera is back; after the interval the next request loads the keys.
    tessera.answer(set_of(&[&issuer]));
    clock.set(T0 + 30);
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(tessera.hits(), 2);
}

/// A server that answers 200 with a chunked body that never ends (no `Content-Length`).
async fn endless_body_server() -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0_u8; 4096];
                let _ = stream.read(&mut request).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                            transfer-encoding: chunked\r\n\r\n";
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = format!("400\r\n{}\r\n", " ".repeat(0x400));
                // Until the client hangs up.
                while stream.write_all(chunk.as_bytes()).await.is_ok() {}
            });
        }
    });
    url
}

#[tokio::test]
async fn an_endless_body_is_cut_at_the_size_cap() {
    let url = endless_body_server().await;
    let verifier = Verifier::jwks(&url, rules()).unwrap();
    assert_eq!(verifier.refresh().await, Err(FetchError::TooLarge));
    let issuer = Issuer::new(Algorithm::EdDsa);
    assert_eq!(
        reason(verifier.verify(&issuer.token(T0)).await),
        "key_set_unavailable"
    );
}
