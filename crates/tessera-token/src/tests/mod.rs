//! Crate-level tests of the whole verify and issue paths. They live inside the crate so that the
//! claims check can be called on its own (RFC 7515 A.1's expiry); everything else goes through
//! the public API. Hostile tokens are forged by hand in `support`.

mod hostile_encoding;
mod hostile_headers;
mod issuing;
mod keys;
mod recent;
mod rfc7515_a1;
mod support;
