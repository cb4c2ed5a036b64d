//! For `bench/keys.sh`: the same service with and without `tessera-verify`, so their
//! request rates compare. `bench_server ADDRESS JWKS_URL` serves `GET /open` (no check) and
//! `GET /protected` (the layer), and prints `listening on ADDRESS` once the keys are loaded.

use axum::{Router, routing::get};
use tessera_verify::{Authenticated, TokenRules, Verifier, VerifyLayer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(address), Some(jwks)) = (args.next(), args.next()) else {
        return Err("usage: bench_server ADDRESS JWKS_URL".into());
    };
    let rules = TokenRules {
        issuer: "tessera".into(),
        audience: "tessera".into(),
        leeway_seconds: 30,
    };
    let verifier = Verifier::jwks(&jwks, rules)?;
    verifier.refresh().await?;
    let protected = Router::new()
        .route("/protected", get(protected))
        .route_layer(VerifyLayer::new(verifier.clone()))
        .with_state(verifier);
    let app = Router::new().route("/open", get(open)).merge(protected);
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn open() -> &'static str {
    "hello\n"
}

async fn protected(Authenticated(claims): Authenticated) -> String {
    format!("hello {}\n", claims.name)
}
