//! The JSON request bodies of the HTTP API (login, refresh, user create and update), through
//! the real body limit, extractors, body types, handler checks and error mapping
//! (`tessera::http::fuzzing::parse_body`). Never a panic, never a 5xx; a refusal is a small
//! fixed JSON error that echoes nothing of the body.
//!
//! The first byte chooses the route (`% 4`) and the content type (`/ 4 % 6`); the content type
//! of the last choice is read from the input up to the first `\n`. The rest is the body.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tessera::http::fuzzing::{BodyRoute, parse_body};

const CONTENT_TYPES: [Option<&[u8]>; 5] = [
    Some(b"application/json"),
    Some(b"application/json; charset=utf-8"),
    Some(b"application/problem+json"),
    Some(b"text/plain"),
    None,
];
const ERROR_CODES: [&str; 4] = [
    "invalid_request",
    "payload_too_large",
    "unsupported_media_type",
    "invalid_body",
];

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let route = BodyRoute::ALL[usize::from(choice) % BodyRoute::ALL.len()];
    let (content_type, body) = match CONTENT_TYPES.get(usize::from(choice / 4) % 6) {
        Some(content_type) => (*content_type, rest),
        None => match rest.iter().position(|&b| b == b'\n') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (Some(rest), &[][..]),
        },
    };
    let answer = runtime().block_on(parse_body(route, content_type, body.to_vec()));
    assert!(
        (200..500).contains(&answer.status),
        "{route:?} answered {} to a client's body",
        answer.status
    );
    if route == BodyRoute::Refresh && body.is_empty() {
        assert_eq!(
            answer.status, 200,
            "an empty refresh body falls back to the cookie"
        );
    }
    if !body.is_empty() && matches!(content_type, None | Some(b"text/plain")) {
        assert_eq!(answer.status, 415, "{route:?} took a body that is not JSON");
    }
    if answer.status == 200 {
        assert!(answer.body.is_empty());
        return;
    }
    assert!(
        answer.body.len() < 256,
        "an error body of {} bytes",
        answer.body.len()
    );
    let text = std::str::from_utf8(&answer.body).expect("an error body is UTF-8");
    let code = ERROR_CODES
        .iter()
        .find(|code| text.starts_with(&format!("{{\"error\":\"{code}\",\"message\":\"")));
    assert!(code.is_some(), "an unexpected error body: {text}");
    assert!(
        !text.contains(tessera_fuzz::SECRET_MARK),
        "an error echoes the body: {text}"
    );
});
