//! The refresh-token parser and the sealed successor: `RefreshToken::parse` accepts exactly
//! the canonical 43-character base64url text of 32 bytes, and `open_successor` never opens a
//! blob it did not seal and never panics.
//!
//! Input: the token text candidate is everything up to the first `\n` (or all of it); what
//! follows is a sealed-successor blob to open under the parsed token.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use tessera_token::RefreshToken;

fuzz_target!(|data: &[u8]| {
    let (text, blob) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    // The reference: base64url without padding that decodes to 32 bytes and encodes back to
    // the very same text (so each value has exactly one text).
    let canonical = URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .filter(|bytes| bytes.len() == 32 && URL_SAFE_NO_PAD.encode(bytes) == text);
    let parsed = RefreshToken::parse(text);
    assert_eq!(
        parsed.is_ok(),
        canonical.is_some(),
        "parse disagrees with strict base64url"
    );
    let Ok(token) = parsed else {
        return;
    };
    assert_eq!(token.expose(), text);
    assert!(
        !format!("{token:?}").contains(text),
        "Debug shows the token"
    );
    let again = RefreshToken::parse(token.expose()).expect("its own text parses");
    assert_eq!(again.lookup_hash(), token.lookup_hash());

    // A blob the fuzzer made never opens: it would have to forge AES-256-GCM.
    assert!(
        token.open_successor(blob).is_err(),
        "a forged sealed successor opened"
    );

    // A real seal opens under its predecessor only, and not after any change.
    let successor = RefreshToken::generate().expect("randomness");
    let sealed = token.seal_successor(&successor).expect("seal");
    let opened = token.open_successor(&sealed).expect("open");
    assert_eq!(opened.lookup_hash(), successor.lookup_hash());
    assert!(
        successor.open_successor(&sealed).is_err(),
        "opened under the wrong token"
    );
    if let Some((&first, rest)) = blob.split_first() {
        let mut tampered = sealed.clone();
        let at = usize::from(first) % tampered.len();
        tampered[at] ^= rest.first().copied().unwrap_or(1).max(1);
        assert!(
            token.open_successor(&tampered).is_err(),
            "a tampered seal opened"
        );
    }
});
