//! The answers for connections the server will not serve, written straight to the socket
//! before it is closed: no request is read and no router runs for them.
//!
//! Each is a whole HTTP/1.1 response with the usual `{"error", "message"}` body,
//! `Retry-After: 1`, the headers every answer carries for browsers (see
//! `super::with_browser_security_headers`) and `Connection: close`. This module must never
//! answer anything but these fixed bytes.

/// Why a connection is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `TESSERA_MAX_CONNECTIONS` connections are open: `503`.
    ServerFull,
    /// The client's address holds `TESSERA_MAX_CONNECTIONS_PER_CLIENT` connections: `429`.
    ClientFull,
}

const SERVER_FULL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\n\
retry-after: 1\r\n\
cache-control: no-store\r\n\
x-content-type-options: nosniff\r\n\
referrer-policy: no-referrer\r\n\
x-frame-options: DENY\r\n\
cross-origin-opener-policy: same-origin\r\n\
content-security-policy: default-src 'none'; frame-ancestors 'none'\r\n\
connection: close\r\n\
content-length: 89\r\n\
\r\n\
{\"error\":\"too_many_connections\",\"message\":\"the server is at capacity; retry in 1 second\"}";

const CLIENT_FULL: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\n\
content-type: application/json\r\n\
retry-after: 1\r\n\
cache-control: no-store\r\n\
x-content-type-options: nosniff\r\n\
referrer-policy: no-referrer\r\n\
x-frame-options: DENY\r\n\
cross-origin-opener-policy: same-origin\r\n\
content-security-policy: default-src 'none'; frame-ancestors 'none'\r\n\
connection: close\r\n\
content-length: 96\r\n\
\r\n\
{\"error\":\"too_many_connections\",\"message\":\"too many connections from your address; retry later\"}";

impl Refusal {
    /// The whole response, status line to body.
    pub fn response(self) -> &'static [u8] {
        match self {
            Refusal::ServerFull => SERVER_FULL,
            Refusal::ClientFull => CLIENT_FULL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_well_formed_responses() {
        for (refusal, status) in [(Refusal::ServerFull, 503), (Refusal::ClientFull, 429)] {
            let text = std::str::from_utf8(refusal.response()).unwrap();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{head}");
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length: "))
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(length, body.len(), "{head}");
            let json: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(json["error"], "too_many_connections");
            assert!(head.contains("\r\nretry-after: 1"));
            assert!(head.contains("\r\nconnection: close"));
            let csp = format!("\r\ncontent-security-policy: {}\r\n", super::super::API_CSP);
            assert!(head.contains(&csp), "{head}");
            assert!(head.contains("\r\nx-frame-options: DENY\r\n"), "{head}");
            assert!(
                head.contains("\r\nreferrer-policy: no-referrer\r\n"),
                "{head}"
            );
        }
    }
}
