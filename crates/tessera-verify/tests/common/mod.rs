//! The fake tessera (a local axum server publishing a JWK set, counting requests) and token
//! issuers built with tessera-token's own keys, shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tessera_token::{Algorithm, KeySet, SigningKey, Subject, TokenCodec, TokenRules, jwk_set};
use tessera_verify::{JwksOptions, ManualClock, Rejection, Verifier};
use tokio::sync::Semaphore;

/// 2026-12-01T00:00:00Z.
pub const T0: i64 = 1_796_083_200;

pub fn rules() -> TokenRules {
    TokenRules {
        issuer: "tessera".into(),
        audience: "tessera".into(),
        leeway_seconds: 0,
    }
}

/// What the fake tessera answers on its JWKS route.
#[derive(Clone)]
pub enum Answer {
    /// 200 with this body and, when given, this `Cache-Control`.
    Body(String, Option<&'static str>),
    /// This status, empty body.
    Status(StatusCode),
}

/// The fake tessera: its answer, how many requests it served, and an optional gate that
/// holds every answer until the test adds permits.
pub struct Fake {
    pub answer: Mutex<Answer>,
    pub hits: AtomicUsize,
    pub gate: Mutex<Option<Arc<Semaphore>>>,
}

pub struct Tessera {
    pub fake: Arc<Fake>,
    pub url: String,
}

impl Tessera {
    pub async fn start(answer: Answer) -> Self {
        let fake = Arc::new(Fake {
            answer: Mutex::new(answer),
            hits: AtomicUsize::new(0),
            gate: Mutex::new(None),
        });
        let app = Router::new()
            .route("/.well-known/jwks.json", get(jwks))
            .with_state(Arc::clone(&fake));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { fake, url }
    }

    pub fn answer(&self, answer: Answer) {
        *self.fake.answer.lock().unwrap() = answer;
    }

    pub fn hits(&self) -> usize {
        self.fake.hits.load(Ordering::SeqCst)
    }

    /// A verifier of this tessera's key set on `clock`.
    pub fn verifier(&self, clock: &Arc<ManualClock>) -> Verifier {
        Verifier::jwks_with(&self.url, rules(), JwksOptions::default())
            .unwrap()
            .with_clock(clock.clone())
    }
}

async fn jwks(State(fake): State<Arc<Fake>>) -> Response {
    fake.hits.fetch_add(1, Ordering::SeqCst);
    let gate = fake.gate.lock().unwrap().clone();
    if let Some(gate) = gate {
        gate.acquire().await.unwrap().forget();
    }
    let answer = fake.answer.lock().unwrap().clone();
    match answer {
        Answer::Body(body, cache_control) => {
            let mut response = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
            if let Some(value) = cache_control {
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
            }
            response
        }
        Answer::Status(status) => status.into_response(),
    }
}

/// A key of tessera's and the codec that issues tokens with it.
pub struct Issuer {
    pub key: SigningKey,
    pub codec: TokenCodec,
}

impl Issuer {
    pub fn new(alg: Algorithm) -> Self {
        Self::with_rules(alg, rules())
    }

    pub fn with_rules(alg: Algorithm, rules: TokenRules) -> Self {
        let key = SigningKey::generate(alg).unwrap();
        let codec = TokenCodec::new(KeySet::new(key.clone(), Vec::new()).unwrap(), rules).unwrap();
        Self { key, codec }
    }

    /// A token issued at `now`, valid for an hour.
    pub fn token(&self, now: i64) -> String {
        let roles = ["user".to_owned()];
        let subject = Subject {
            id: "user-1",
            session_id: "session-1",
            name: "Ada",
            roles: &roles,
        };
        self.codec.issue(subject, now, 3600).unwrap().token
    }
}

/// The JWKS body publishing these keys.
pub fn set_of(keys: &[&Issuer]) -> Answer {
    let keys: Vec<_> = keys
        .iter()
        .map(|issuer| issuer.key.verifying_key())
        .collect();
    Answer::Body(jwk_set(&keys).to_string(), None)
}

pub fn reason(result: Result<tessera_verify::Claims, Rejection>) -> &'static str {
    match result {
        Ok(claims) => panic!("accepted: {claims:?}"),
        Err(rejection) => rejection.reason(),
    }
}
