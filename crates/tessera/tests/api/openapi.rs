//! The OpenAPI document at `/api/openapi.json` and Swagger UI at `/api/docs/`: the document
//! is valid OpenAPI 3.1, every operation in it is served and nothing else is, and Swagger UI
//! loads its assets from this server.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{TestEnv, TestServer};

/// Operations anyone may call; every other one needs a bearer token.
const PUBLIC: [(&str, &str); 9] = [
    ("post", "/api/auth/login"),
    ("post", "/api/auth/refresh"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/api/openapi.json"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/.well-known/oauth-authorization-server"),
    ("get", "/.well-known/openid-configuration"),
];

/// Operations for API clients (HTTP Basic), not for users' bearer tokens.
const FOR_CLIENTS: [(&str, &str); 3] = [
    ("get", "/api/revocations"),
    ("post", "/api/oauth/introspect"),
    ("post", "/api/oauth/revoke"),
];

async fn document(server: &TestServer) -> Value {
    let answer = server.get("/api/openapi.json", None).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.header("content-type"), Some("application/json"));
    answer.body
}

/// Every operation: (method, path template, operation object).
fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            found.push((method.clone(), path.clone(), operation.clone()));
        }
    }
    found
}

/// Every `$ref` anywhere in `value`, with where it was found.
fn references(value: &Value, at: &str, found: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key == "$ref" {
                    found.push((at.to_owned(), inner.as_str().unwrap().to_owned()));
                } else {
                    references(inner, &format!("{at}/{key}"), found);
                }
            }
        }
        Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                references(inner, &format!("{at}/{index}"), found);
            }
        }
        _ => {}
    }
}

/// The path with every `{parameter}` replaced by a UUID that names nothing.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some((before, after)) = rest.split_once('{') {
        out.push_str(before);
        out.push_str("5a1c0de5-0000-4000-8000-000000000000");
        rest = after.split_once('}').unwrap().1;
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_every_reference_resolves() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let document = document(&server).await;

    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        document["openapi"]
    );
    assert_eq!(document["info"]["title"], "tessera");
    assert!(document["info"]["version"].is_string());

    let mut references_found = Vec::new();
    references(&document, "#", &mut references_found);
    assert!(references_found.len() > 50, "{references_found:?}");
    for (at, reference) in &references_found {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{at}: {reference} is not inside the document"));
        assert!(
            document.pointer(pointer).is_some(),
            "{at}: {reference} resolves to nothing"
        );
    }

    let bearer = &document["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"], "http", "{bearer}");
    assert_eq!(bearer["scheme"], "bearer", "{bearer}");
    assert_eq!(bearer["bearerFormat"], "JWT", "{bearer}");

    let operations = operations(&document);
    assert!(operations.len() >= 18, "{operations:?}");
    let mut ids = BTreeSet::new();
    for (method, path, operation) in &operations {
        let name = format!("{} {path}", method.to_uppercase());
        let responses = operation["responses"].as_object().unwrap();
        assert!(!responses.is_empty(), "{name} documents no answer");
        assert!(
            responses.keys().any(|status| status.starts_with('2')),
            "{name} documents no success"
        );
        assert!(
            ids.insert(operation["operationId"].as_str().unwrap().to_owned()),
            "{name}: operationId used twice"
        );
        // Connection refusals and the request timeout can answer any request.
        for status in ["408", "429", "503"] {
            assert!(responses.contains_key(status), "{name} lacks {status}");
        }
        let public = PUBLIC.contains(&(method.as_str(), path.as_str()));
        let for_clients = FOR_CLIENTS.contains(&(method.as_str(), path.as_str()));
        let secured = if for_clients {
            operation["security"] == serde_json::json!([{"client": []}])
        } else {
            operation["security"] == serde_json::json!([{"bearer": []}])
        };
        assert_eq!(
            secured, !public,
            "{name}: security {}",
            operation["security"]
        );
        if secured {
            assert!(responses.contains_key("401"), "{name} lacks 401");
        }
        // Every `{parameter}` of the path is declared.
        let declared: BTreeSet<&str> = operation["parameters"]
            .as_array()
            .map(|parameters| {
                parameters
                    .iter()
                    .filter(|p| p["in"] == "path" && p["required"] == true)
                    .map(|p| p["name"].as_str().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        let in_path: BTreeSet<&str> = path
            .split('{')
            .skip(1)
            .map(|rest| rest.split_once('}').unwrap().0)
            .collect();
        assert_eq!(declared, in_path, "{name}");
        // A JSON body can be refused for its size, type and shape.
        // A form body (the API clients' operations) can be refused for its size.
        let form = operation["requestBody"]["content"]
            .get("application/x-www-form-urlencoded")
            .is_some();
        if form {
            assert!(responses.contains_key("413"), "{name} lacks 413");
        } else if operation.get("requestBody").is_some() {
            for status in ["413", "415", "422"] {
                assert!(responses.contains_key(status), "{name} lacks {status}");
            }
        }
    }

    let refresh = &document["paths"]["/api/auth/refresh"]["post"];
    assert_ne!(refresh["requestBody"]["required"], true);
    assert!(refresh["responses"]["400"].is_object());
    let body = &document["components"]["schemas"]["RefreshBody"];
    assert!(body["properties"]["refresh_token"].is_object());
    assert!(body.get("required").is_none(), "{body}");
    // In cookie mode a token answer leaves `refresh_token` out: a string when present,
    // never null, and not required.
    let tokens = &document["components"]["schemas"]["TokenResponse"];
    assert_eq!(tokens["properties"]["refresh_token"]["type"], "string");
    let required = tokens["required"].as_array().unwrap();
    assert!(
        required.contains(&serde_json::json!("access_token")),
        "{tokens}"
    );
    assert!(
        !required.contains(&serde_json::json!("refresh_token")),
        "{tokens}"
    );
    let error = &document["components"]["schemas"]["ErrorBody"];
    assert_eq!(error["required"], serde_json::json!(["error", "message"]));
    assert_eq!(error["properties"]["reason"]["type"], "string");
}

#[tokio::test]
async fn every_documented_operation_is_served_with_exactly_the_documented_methods() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let document = document(&server).await;
    let operations = operations(&document);

    // Without a token or a body: an answer from the handler or its extractors, never the
    // fallback 404 nor axum's 405.
    for (method, path, _) in &operations {
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = server
            .client
            .request(method.clone(), server.url(&concrete(path)))
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(
            status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {status}"
        );
    }

    // No documented path takes PUT: axum's 405 then lists the methods the path serves.
    for (path, item) in document["paths"].as_object().unwrap() {
        let mut documented: BTreeSet<String> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|m| m.to_uppercase())
            .collect();
        assert!(!documented.contains("PUT"), "{path}");
        if documented.contains("GET") {
            documented.insert("HEAD".to_owned());
        }
        // Every route answers OPTIONS itself (204 with Allow), outside the document.
        documented.insert("OPTIONS".to_owned());
        let response = server
            .client
            .put(server.url(&concrete(path)))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "PUT {path}"
        );
        let allowed: BTreeSet<String> = response.headers()["allow"]
            .to_str()
            .unwrap()
            .split(',')
            .map(|m| m.trim().to_owned())
            .collect();
        assert_eq!(allowed, documented, "{path}");
    }
}

#[tokio::test]
async fn swagger_ui_loads_from_this_server() {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    let get = |path: &str| server.client.get(server.url(path)).send();

    // `/api/docs` redirects to the page; reqwest follows.
    let page = get("/api/docs").await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.url().path(), "/api/docs/");
    let content_type = page.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = page.text().await.unwrap();
    assert!(html.contains("./swagger-ui-bundle.js"), "{html}");
    // Every asset is relative: nothing is loaded from elsewhere.
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );

    for (asset, kind) in [
        ("swagger-ui-bundle.js", "javascript"),
        ("swagger-ui-standalone-preset.js", "javascript"),
        ("swagger-ui.css", "text/css"),
    ] {
        let response = get(&format!("/api/docs/{asset}")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(content_type.contains(kind), "{asset}: {content_type}");
        assert!(response.bytes().await.unwrap().len() > 1000, "{asset}");
    }

    let initializer = get("/api/docs/swagger-initializer.js")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        initializer.contains("\"url\": \"/api/openapi.json\""),
        "{initializer}"
    );
}
