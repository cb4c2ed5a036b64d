//! The naive baseline for `bench/http.sh`: what a hand-rolled JWT middleware does. One
//! handler checks an HS256 bearer token with `jsonwebtoken` (signature, `exp`, `nbf`, `iss`,
//! `aud`) and answers its claims; there is no user lookup, no session and no middleware.
//!
//! Usage: `naive-jwt-server ADDRESS SECRET ISSUER AUDIENCE`; prints `listening on ADDR`.
//! `GET /healthz` answers without a token, `GET /me` checks one.

use std::process::ExitCode;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Deserialize, Serialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: Value,
    exp: i64,
    nbf: i64,
    iat: i64,
    name: String,
    roles: Vec<String>,
}

struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

async fn get_me(
    State(verifier): State<Arc<Verifier>>,
    headers: HeaderMap,
) -> Result<Json<Value>, StatusCode> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or(StatusCode::UNAUTHORIZED)?;
    let data = decode::<Claims>(token, &verifier.key, &verifier.validation)
        .map_err(|_| StatusCode::UNAUTHORIZED)?;
    Ok(Json(
        json!({ "sub": data.claims.sub, "name": data.claims.name, "roles": data.claims.roles }),
    ))
}

async fn serve(address: &str, verifier: Verifier) -> std::io::Result<()> {
    let app = Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/me", get(get_me))
        .with_state(Arc::new(verifier));
    let listener = tokio::net::TcpListener::bind(address).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, address, secret, issuer, audience] = args.as_slice() else {
        eprintln!("usage: naive-jwt-server ADDRESS SECRET ISSUER AUDIENCE");
        return ExitCode::from(2);
    };
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 30;
    validation.validate_nbf = true;
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    let verifier = Verifier {
        key: DecodingKey::from_secret(secret.as_bytes()),
        validation,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("failed to start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(address, verifier)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("server failed: {error}");
            ExitCode::FAILURE
        }
    }
}
