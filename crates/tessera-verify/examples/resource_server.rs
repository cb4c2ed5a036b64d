//! A service with one route only tessera's users can call.
//! Run: `TESSERA_JWKS_URL=http://127.0.0.1:8080/.well-known/jwks.json \
//!       cargo run -p tessera-verify --example resource_server`, then
//! `curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/hello`.

use axum::{Router, routing::get};
use tessera_verify::{Authenticated, TokenRules, Verifier, VerifyLayer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("TESSERA_JWKS_URL")?;
    // tessera's TESSERA_JWT_ISSUER and TESSERA_JWT_AUDIENCE (both "tessera" by default).
    let rules = TokenRules {
        issuer: "tessera".into(),
        audience: "tessera".into(),
        leeway_seconds: 30,
    };
    let verifier = Verifier::jwks(&url, rules)?;
    if let Err(error) = verifier.refresh().await {
        eprintln!("tessera's keys are not available yet: {error}");
    }
    let app = Router::new()
        .route("/hello", get(hello))
        .route_layer(VerifyLayer::new(verifier.clone()))
        .with_state(verifier);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app).await?;
    Ok(())
}

async fn hello(Authenticated(claims): Authenticated) -> String {
    format!(
        "hello {} (roles: {})\n",
        claims.name,
        claims.roles.join(", ")
    )
}
