// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

const KEK: &[u8] = b"key-encryption-secret-0123456789abcdef";

fn keys() -> Vec<SigningKey> {
    [Algorithm::EdDsa, Algorithm::Es256, Algorithm::Rs256]
        .into_iter()
        .map(|alg| SigningKey::generate(alg).unwrap())
        .collect()
}

#[test]
fn sealed_keys_open_to_the_same_key() {
    for key in keys() {
        let sealed = seal_private_key(KEK, &key).unwrap();
        assert_eq!(sealed[0], VERSION);
        let opened = open_private_key(KEK, key.algorithm(), key.kid(), &sealed).unwrap();
        assert_eq!(opened.kid(), key.kid());
        assert_eq!(
            opened.verifying_key().to_jwk(),
            key.verifying_key().to_jwk()
        );
        // Fresh salt and nonce each time.
        assert_ne!(seal_private_key(KEK, &key).unwrap(), sealed);
        // The plaintext DER does not appear in the sealed bytes.
        let der = key.to_pkcs8_der().unwrap();
        assert!(!sealed.windows(16).any(|w| w == &der[der.len() - 16..]));
    }
}

#[test]
fn every_wrong_input_is_unsealable() {
    for key in keys() {
        let (alg, kid) = (key.algorithm(), key.kid());
        let sealed = seal_private_key(KEK, &key).unwrap();
        let mut wrong_kek = KEK.to_vec();
        wrong_kek[0] ^= 1;
        assert_eq!(
            open_private_key(&wrong_kek, alg, kid, &sealed).unwrap_err(),
            KeyError::Unsealable
        );
        for index in 0..sealed.len() {
            for bit in [0x01, 0x80] {
                let mut flipped = sealed.clone();
                flipped[index] ^= bit;
                assert_eq!(
                    open_private_key(KEK, alg, kid, &flipped).unwrap_err(),
                    KeyError::Unsealable,
                    "{alg} byte {index}"
                );
            }
        }
        for len in [0, 1, HEADER_LEN, HEADER_LEN + TAG_LEN, sealed.len() - 1] {
            assert_eq!(
                open_private_key(KEK, alg, kid, &sealed[..len]).unwrap_err(),
                KeyError::Unsealable
            );
        }
        let mut longer = sealed.clone();
        longer.push(0);
        assert_eq!(
            open_private_key(KEK, alg, kid, &longer).unwrap_err(),
            KeyError::Unsealable
        );
        let other_kid = format!("{kid}x");
        assert_eq!(
            open_private_key(KEK, alg, &other_kid, &sealed).unwrap_err(),
            KeyError::Unsealable
        );
        for other in Algorithm::ALL.into_iter().filter(|other| *other != alg) {
            assert_eq!(
                open_private_key(KEK, other, kid, &sealed).unwrap_err(),
                KeyError::Unsealable,
                "{alg} opened as {other}"
            );
        }
    }
}

/// Another key's sealed bytes under this key's kid: the AAD binds the blob to its row.
#[test]
fn sealed_blobs_do_not_move_between_keys() {
    let a = SigningKey::generate(Algorithm::EdDsa).unwrap();
    let b = SigningKey::generate(Algorithm::EdDsa).unwrap();
    let sealed_b = seal_private_key(KEK, &b).unwrap();
    assert_eq!(
        open_private_key(KEK, a.algorithm(), a.kid(), &sealed_b).unwrap_err(),
        KeyError::Unsealable
    );
}

#[test]
fn hs256_and_short_keks_are_refused() {
    let hs = SigningKey::from_bytes(b"0123456789abcdef0123456789abcdef").unwrap();
    assert_eq!(seal_private_key(KEK, &hs).unwrap_err(), KeyError::Symmetric);
    let key = SigningKey::generate(Algorithm::EdDsa).unwrap();
    assert_eq!(
        seal_private_key(&KEK[..31], &key).unwrap_err(),
        KeyError::KekTooShort
    );
    assert!(seal_private_key(&KEK[..32], &key).is_ok());
    assert_eq!(
        KeyError::Unsealable.to_string(),
        "sealed private key could not be opened"
    );
}
