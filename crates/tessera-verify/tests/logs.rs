//! What the key-set cache logs. A binary of its own: the test installs a thread-local
//! subscriber, and no other test may touch tracing's callsites first.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use common::{Answer, Issuer, T0, Tessera, reason, rules, set_of};
use tessera_token::Algorithm;
use tessera_verify::{ManualClock, Verifier};

/// Everything logged while the guard lives, as text.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[tokio::test]
async fn fetch_failures_are_logged_clearly_without_credentials() {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let issuer = Issuer::new(Algorithm::EdDsa);
    let tessera = Tessera::start(Answer::Status(StatusCode::BAD_GATEWAY)).await;
    let url = tessera.url.replace("http://", "http://reader:hunter2@");
    let clock = Arc::new(ManualClock::new(T0));
    let verifier = Verifier::jwks(&url, rules())
        .unwrap()
        .with_clock(clock.clone());
    let token = issuer.token(T0);
    assert_eq!(reason(verifier.verify(&token).await), "key_set_unavailable");
    let text = logs.text();
    assert!(
        text.contains("ERROR")
            && text.contains("key set fetch failed; no keys yet")
            && text.contains("key set request answered HTTP 502"),
        "{text}"
    );

    tessera.answer(set_of(&[&issuer]));
    clock.advance(30);
    assert!(verifier.verify(&token).await.is_ok());
    let text = logs.text();
    assert!(
        text.contains("key set loaded") && text.contains(issuer.key.kid()),
        "{text}"
    );

    tessera.answer(Answer::Body("{\"keys\": 7}".into(), None));
    clock.advance(300);
    assert!(verifier.verify(&token).await.is_ok());
    let text = logs.text();
    assert!(
        text.contains("WARN")
            && text.contains("keeping the previous keys")
            && text.contains("is not a valid JWK set"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!text.contains(&token), "{text}");
}
