//! Refresh tokens: generation, strict parsing, the lookup hash, and sealed successors.
//!
//! Known answers come from outside this crate: the lookup hash from `sha256sum`, the sealing key
//! and the sealed blob from Python's `cryptography` (HKDF-SHA256 and AES-256-GCM), so the format
//! is pinned and readable by any standard implementation.

use std::collections::HashSet;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

use super::*;

/// base64url of the bytes 0, 1, ..., 31.
const FIXED_TEXT: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
/// base64url of the bytes 32, 33, ..., 63.
const FIXED_SUCCESSOR_TEXT: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8";
/// `printf '%s' "$FIXED_TEXT" | sha256sum`
const FIXED_LOOKUP_HASH: &str = "ea866a757e4c38babfa8127cbe9a409d3e1f93a00ff1488ff735fcf917afffd0";
/// HKDF-SHA256(salt = SEAL_SALT, ikm = bytes 0..32, info = SEAL_INFO, 32 bytes), from Python.
const FIXED_SEALING_KEY: &str = "7d41d890e0145657f46a483baa6824ba3d9af82798c7fb858a1e8a97ff5cc566";
/// FIXED_SUCCESSOR_TEXT sealed under FIXED_TEXT by Python's AESGCM with nonce a0..ab:
/// `01 || nonce || ciphertext || tag`.
const FIXED_SEALED: &str = concat!(
    "01a0a1a2a3a4a5a6a7a8a9aaab670098cb77d4fe46822fc8a0161e03d3b182420c7ec3404862f8fe403dc25ccc",
    "e2f3938eafd844d4f1ef678520950f25f3da096c2b2d31097bf83e",
);

const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).unwrap())
        .collect()
}

fn fixed() -> RefreshToken {
    RefreshToken::parse(FIXED_TEXT).unwrap()
}

/// `text` with its last character replaced by the one whose 6-bit value is `value ^ mask`.
fn with_last_char_xor(text: &str, mask: usize) -> String {
    let last = text.chars().last().unwrap();
    let index = ALPHABET.find(last).unwrap();
    let mut changed = text[..text.len() - 1].to_owned();
    changed.push(char::from(ALPHABET.as_bytes()[index ^ mask]));
    changed
}

#[test]
fn generate_yields_43_base64url_chars_and_distinct_values() {
    let mut texts = HashSet::new();
    let mut hashes = HashSet::new();
    for _ in 0..256 {
        let token = RefreshToken::generate().unwrap();
        let text = token.expose();
        assert_eq!(text.len(), 43);
        assert!(text.chars().all(|c| ALPHABET.contains(c)), "{text}");
        assert_eq!(URL_SAFE_NO_PAD.decode(text).unwrap().len(), 32);
        assert_eq!(RefreshToken::parse(text).unwrap().expose(), text);
        assert!(hashes.insert(token.lookup_hash()));
        assert!(texts.insert(text.to_owned()));
    }
}

#[test]
fn parse_accepts_exactly_one_text_per_value() {
    let all_zero = "A".repeat(43);
    let all_ones = format!("{}8", "_".repeat(42));
    for good in [FIXED_TEXT, FIXED_SUCCESSOR_TEXT, &all_zero, &all_ones] {
        let token = RefreshToken::parse(good).unwrap();
        assert_eq!(token.expose(), good);
        assert_eq!(token.bytes.to_vec(), URL_SAFE_NO_PAD.decode(good).unwrap());
    }
    assert_eq!(RefreshToken::parse(&all_ones).unwrap().bytes, [0xff; 32]);
    assert_eq!(fixed().bytes, core::array::from_fn(|i| i as u8));
}

#[test]
fn parse_rejects_everything_else() {
    // A value whose standard-alphabet encoding has '+' and '/' where base64url has '-' and '_'.
    let standard = STANDARD_NO_PAD.encode([0xfb_u8; 32]);
    assert_eq!(standard.len(), 43);
    assert!(standard.contains('+') && standard.contains('/'));
    let head = &FIXED_TEXT[..42];
    let cases: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("42 characters", head.to_owned()),
        ("44 characters", format!("{FIXED_TEXT}A")),
        ("one padding character", format!("{head}=")),
        ("padded 44 characters", format!("{FIXED_TEXT}=")),
        ("non-canonical, low bit", with_last_char_xor(FIXED_TEXT, 1)),
        ("non-canonical, bit 2", with_last_char_xor(FIXED_TEXT, 2)),
        ("non-canonical, both", with_last_char_xor(FIXED_TEXT, 3)),
        ("standard alphabet", standard),
        ("plus", format!("+{}", &FIXED_TEXT[1..])),
        (
            "slash",
            format!("{}/{}", &FIXED_TEXT[..10], &FIXED_TEXT[11..]),
        ),
        (
            "inner space",
            format!("{} {}", &FIXED_TEXT[..20], &FIXED_TEXT[21..]),
        ),
        ("leading space", format!(" {head}")),
        ("trailing newline", format!("{head}\n")),
        ("trailing CRLF", format!("{FIXED_TEXT}\r\n")),
        ("tab", format!("{}\t{}", &FIXED_TEXT[..5], &FIXED_TEXT[6..])),
        ("dot", format!("{}.{}", &FIXED_TEXT[..5], &FIXED_TEXT[6..])),
        ("NUL", format!("{head}\0")),
        (
            "non-ASCII, 43 bytes",
            format!("{}\u{e9}", &FIXED_TEXT[..41]),
        ),
        ("non-ASCII, 43 chars", format!("{head}\u{e9}")),
        (
            "full-width letter",
            format!("{}\u{ff21}", &FIXED_TEXT[..40]),
        ),
        ("hex of 32 bytes", hex(&[7; 32])),
        ("percent-encoded", format!("%41{}", &FIXED_TEXT[3..])),
        ("1 MiB", "A".repeat(1 << 20)),
    ];
    for (name, text) in cases {
        let error = RefreshToken::parse(&text).unwrap_err();
        assert_eq!(error, RefreshError::Malformed, "{name}");
        assert_eq!(error.to_string(), "malformed refresh token", "{name}");
    }
}

#[test]
fn lookup_hash_is_sha256_of_the_text() {
    assert_eq!(hex(&fixed().lookup_hash()), FIXED_LOOKUP_HASH);
    let token = RefreshToken::generate().unwrap();
    let expected = digest::digest(&digest::SHA256, token.expose().as_bytes());
    assert_eq!(token.lookup_hash().as_slice(), expected.as_ref());
}

#[test]
fn sealing_key_is_hkdf_and_unrelated_to_the_lookup_hash() {
    let token = fixed();
    let key = token.sealing_key_bytes().unwrap();
    assert_eq!(hex(key.as_ref()), FIXED_SEALING_KEY);
    // Nothing stored or cheaply derived from what is stored gives the key.
    let raw = token.bytes;
    assert_ne!(*key, token.lookup_hash());
    assert_ne!(*key, raw);
    let sha256_of_raw = digest::digest(&digest::SHA256, &raw);
    assert_ne!(key.as_slice(), sha256_of_raw.as_ref());
    for _ in 0..16 {
        let token = RefreshToken::generate().unwrap();
        assert_ne!(*token.sealing_key_bytes().unwrap(), token.lookup_hash());
    }
}

#[test]
fn opens_a_successor_sealed_by_an_independent_implementation() {
    let opened = fixed().open_successor(&unhex(FIXED_SEALED)).unwrap();
    assert_eq!(opened.expose(), FIXED_SUCCESSOR_TEXT);
}

#[test]
fn seal_then_open_round_trips() {
    let predecessor = RefreshToken::generate().unwrap();
    let successor = RefreshToken::generate().unwrap();
    let sealed = predecessor.seal_successor(&successor).unwrap();
    assert_eq!(sealed.len(), SEALED_LEN);
    assert_eq!(sealed.len(), 72);
    assert_eq!(sealed[0], SEALED_VERSION);
    // The successor's text does not appear in the blob.
    let blob = String::from_utf8_lossy(&sealed);
    assert!(!blob.contains(&successor.expose()[..8]));
    let opened = predecessor.open_successor(&sealed).unwrap();
    assert_eq!(opened.expose(), successor.expose());
    assert_eq!(opened.lookup_hash(), successor.lookup_hash());
    // A fresh nonce every time: sealing again gives other bytes that open to the same token.
    let again = predecessor.seal_successor(&successor).unwrap();
    assert_ne!(again, sealed);
    assert_ne!(again[1..1 + NONCE_LEN], sealed[1..1 + NONCE_LEN]);
    let reopened = predecessor.open_successor(&again).unwrap();
    assert_eq!(reopened.expose(), successor.expose());
}

#[test]
fn only_the_predecessor_opens_its_successor() {
    let first = RefreshToken::generate().unwrap();
    let second = RefreshToken::generate().unwrap();
    let third = RefreshToken::generate().unwrap();
    let first_to_second = first.seal_successor(&second).unwrap();
    let second_to_third = second.seal_successor(&third).unwrap();
    // A blob moved to another row, or opened one rotation late or early, does not open.
    for (name, opener, sealed) in [
        ("successor opens its own seal", &second, &first_to_second),
        ("unrelated token", &third, &first_to_second),
        ("older token, later seal", &first, &second_to_third),
        ("the sealed token itself", &third, &second_to_third),
    ] {
        assert_eq!(
            opener.open_successor(sealed).unwrap_err(),
            RefreshError::Sealed,
            "{name}"
        );
    }
    assert_eq!(
        second.open_successor(&second_to_third).unwrap().expose(),
        third.expose()
    );
    // Another token whose lookup hash differs in one bit derives a different key as well.
    let mut near = fixed().bytes;
    near[31] ^= 1;
    let near = RefreshToken::parse(&URL_SAFE_NO_PAD.encode(near)).unwrap();
    assert_eq!(
        near.open_successor(&unhex(FIXED_SEALED)).unwrap_err(),
        RefreshError::Sealed
    );
}

#[test]
fn every_single_bit_flip_of_a_sealed_successor_fails() {
    let predecessor = fixed();
    let sealed = unhex(FIXED_SEALED);
    for at in 0..sealed.len() {
        for bit in 0..8 {
            let mut tampered = sealed.clone();
            tampered[at] ^= 1 << bit;
            assert_eq!(
                predecessor.open_successor(&tampered).unwrap_err(),
                RefreshError::Sealed,
                "byte {at} bit {bit}"
            );
        }
        let mut replaced = sealed.clone();
        replaced[at] ^= 0xff;
        assert!(predecessor.open_successor(&replaced).is_err(), "byte {at}");
    }
}

#[test]
fn truncated_extended_or_reversioned_blobs_fail() {
    let predecessor = fixed();
    let sealed = unhex(FIXED_SEALED);
    for len in 0..sealed.len() {
        assert_eq!(
            predecessor.open_successor(&sealed[..len]).unwrap_err(),
            RefreshError::Sealed,
            "first {len} bytes"
        );
        assert!(predecessor.open_successor(&sealed[len + 1..]).is_err());
    }
    for extra in [0_u8, 1, 0xff] {
        let mut extended = sealed.clone();
        extended.push(extra);
        assert!(predecessor.open_successor(&extended).is_err(), "{extra}");
    }
    for version in [0_u8, 2, 0x7f, 0xff] {
        let mut other = sealed.clone();
        other[0] = version;
        assert!(predecessor.open_successor(&other).is_err(), "{version}");
    }
}

#[test]
fn an_authentic_plaintext_must_still_be_a_refresh_token() {
    let predecessor = fixed();
    let not_tokens = [
        "!".repeat(43),
        with_last_char_xor(FIXED_SUCCESSOR_TEXT, 1),
        format!("{}=", &FIXED_SUCCESSOR_TEXT[..42]),
    ];
    for text in &not_tokens {
        let sealed = predecessor.seal(text.as_bytes()).unwrap();
        assert_eq!(sealed.len(), SEALED_LEN);
        assert_eq!(
            predecessor.open_successor(&sealed).unwrap_err(),
            RefreshError::Sealed,
            "{text}"
        );
    }
    let mut not_utf8 = [b'A'; 43];
    not_utf8[0] = 0xff;
    let sealed = predecessor.seal(&not_utf8).unwrap();
    assert!(predecessor.open_successor(&sealed).is_err());
}

#[test]
fn debug_and_errors_reveal_no_token_material() {
    let token = fixed();
    for output in [format!("{token:?}"), format!("{token:#?}")] {
        assert_eq!(output, "RefreshToken(<redacted>)");
    }
    let cases = [
        (
            RefreshError::Randomness,
            "random number generator failed while creating a refresh token",
        ),
        (RefreshError::Malformed, "malformed refresh token"),
        (
            RefreshError::Sealed,
            "refresh token successor could not be sealed or opened",
        ),
    ];
    for (error, message) in cases {
        assert_eq!(error.to_string(), message);
        assert_eq!(message, message.to_lowercase());
        assert!(!format!("{error:?}").contains(&FIXED_TEXT[..6]));
    }
}
