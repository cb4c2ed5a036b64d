// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

const ASYMMETRIC: [Algorithm; 3] = [Algorithm::EdDsa, Algorithm::Es256, Algorithm::Rs256];

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/data/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

#[test]
fn empty_key_is_refused() {
    assert_eq!(SigningKey::from_bytes(b"").unwrap_err(), KeyError::Empty);
    assert_eq!(KeyError::Empty.to_string(), "signing key is empty");
}

#[test]
fn algorithm_names_are_the_exact_jws_names() {
    for alg in Algorithm::ALL {
        assert_eq!(alg.as_str().parse::<Algorithm>(), Ok(alg));
        assert_eq!(alg.is_symmetric(), alg == Algorithm::Hs256);
    }
    for wrong in [
        "hs256", "EDDSA", "Ed25519", "es256", "RS384", "PS256", "none", "", " HS256",
    ] {
        assert_eq!(
            wrong.parse::<Algorithm>(),
            Err(KeyError::UnknownAlgorithm),
            "{wrong}"
        );
    }
    assert_eq!(
        KeyError::UnknownAlgorithm.to_string(),
        "unknown algorithm; expected one of HS256, EdDSA, ES256, RS256 (exact spelling)"
    );
}

#[test]
fn hs256_kid_is_derived_from_the_secret() {
    let secret = b"0123456789abcdef0123456789abcdef";
    let key = SigningKey::from_bytes(secret).unwrap();
    // Computed independently: hs- + base64url(first 16 bytes of HMAC-SHA256(secret, label)).
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, secret),
        b"tessera key id",
    );
    let expected = format!("hs-{}", URL_SAFE_NO_PAD.encode(&tag.as_ref()[..16]));
    assert_eq!(key.kid(), expected);
    assert_eq!(key.kid().len(), 25);
    assert_eq!(SigningKey::from_bytes(secret).unwrap().kid(), key.kid());
    assert_ne!(SigningKey::from_bytes(b"other").unwrap().kid(), key.kid());
    assert_eq!(key.algorithm(), Algorithm::Hs256);
    assert!(key.to_pkcs8_der().is_none());
    assert!(key.verifying_key().to_jwk().is_none());
    assert!(key.verifying_key().thumbprint().is_none());
}

#[test]
fn generated_keys_sign_and_verify_with_random_kids() {
    assert_eq!(
        SigningKey::generate(Algorithm::Hs256).unwrap_err(),
        KeyError::Symmetric
    );
    for alg in ASYMMETRIC {
        let key = SigningKey::generate(alg).unwrap();
        let again = SigningKey::generate(alg).unwrap();
        assert_eq!(key.algorithm(), alg);
        assert_eq!(key.kid().len(), 22, "{alg}");
        assert_ne!(key.kid(), again.kid());
        let signature = key.sign(b"message").unwrap();
        let verifying = key.verifying_key();
        assert!(verifying.verify_raw(b"message", &signature), "{alg}");
        assert!(!verifying.verify_raw(b"messagf", &signature), "{alg}");
        assert!(
            !again.verifying_key().verify_raw(b"message", &signature),
            "{alg}"
        );
        let expected_len = match alg {
            Algorithm::EdDsa | Algorithm::Es256 => 64,
            _ => 256,
        };
        assert_eq!(signature.len(), expected_len, "{alg}");
    }
}

#[test]
fn pkcs8_round_trips_and_is_bound_to_its_algorithm() {
    for alg in ASYMMETRIC {
        let key = SigningKey::generate(alg).unwrap();
        let der = key.to_pkcs8_der().unwrap();
        let back = SigningKey::from_pkcs8_der(alg, key.kid(), &der).unwrap();
        assert_eq!(back.kid(), key.kid());
        assert_eq!(back.verifying_key().to_jwk(), key.verifying_key().to_jwk());
        let signature = back.sign(b"m").unwrap();
        assert!(key.verifying_key().verify_raw(b"m", &signature));
        for other in ASYMMETRIC.into_iter().filter(|other| *other != alg) {
            assert_eq!(
                SigningKey::from_pkcs8_der(other, "k", &der).unwrap_err(),
                KeyError::InvalidKey(other),
                "{alg} read as {other}"
            );
        }
        assert_eq!(
            SigningKey::from_pkcs8_der(Algorithm::Hs256, "k", &der).unwrap_err(),
            KeyError::Symmetric
        );
        assert_eq!(
            SigningKey::from_pkcs8_der(alg, "k", b"not der").unwrap_err(),
            KeyError::InvalidKey(alg)
        );
    }
}

#[test]
fn kids_are_short_visible_ascii_without_json_escapes() {
    let der = SigningKey::generate(Algorithm::EdDsa)
        .unwrap()
        .to_pkcs8_der()
        .unwrap();
    let long = "k".repeat(MAX_KID_LEN);
    for good in [
        "a",
        "key-1",
        "hs-abc_DEF",
        "~!#$%&'()*+,-./:;<=>?@[]^`{|}",
        long.as_str(),
    ] {
        assert!(
            SigningKey::from_pkcs8_der(Algorithm::EdDsa, good, &der).is_ok(),
            "{good}"
        );
    }
    let too_long = "k".repeat(MAX_KID_LEN + 1);
    for bad in [
        "",
        "a b",
        "a\"b",
        "a\\b",
        "é",
        "a\nb",
        "\u{0}",
        too_long.as_str(),
    ] {
        assert_eq!(
            SigningKey::from_pkcs8_der(Algorithm::EdDsa, bad, &der).unwrap_err(),
            KeyError::InvalidKid,
            "{bad:?}"
        );
    }
}

#[test]
fn pem_keys_of_every_form_are_read_with_thumbprint_kids() {
    // Expected kids computed with openssl + sha256 from the RFC 7638 member strings.
    let cases = [
        (
            "ed25519.pem",
            Algorithm::EdDsa,
            Some("2dKpDru8C8CWiIsHkLTahHa4DT3tMrhMy96-_PFfUV0"),
        ),
        (
            "p256-sec1.pem",
            Algorithm::Es256,
            Some("KaIH878ss6vSbgD-m65p42_H6KddXiN8EyCAFoZOETE"),
        ),
        (
            "p256-pkcs8.pem",
            Algorithm::Es256,
            Some("KaIH878ss6vSbgD-m65p42_H6KddXiN8EyCAFoZOETE"),
        ),
        ("p256-sec1-with-params.pem", Algorithm::Es256, None),
        ("rsa2048-pkcs8.pem", Algorithm::Rs256, None),
        ("rsa2048-pkcs1.pem", Algorithm::Rs256, None),
    ];
    for (file, alg, kid) in cases {
        let key = SigningKey::from_pem(&fixture(file), None).unwrap();
        assert_eq!(key.algorithm(), alg, "{file}");
        assert_eq!(Some(key.kid().to_owned()), key.verifying_key().thumbprint());
        if let Some(kid) = kid {
            assert_eq!(key.kid(), kid, "{file}");
        }
        let signature = key.sign(b"m").unwrap();
        assert!(key.verifying_key().verify_raw(b"m", &signature), "{file}");
        let named = SigningKey::from_pem(&fixture(file), Some("main")).unwrap();
        assert_eq!(named.kid(), "main");
    }
    // The same RSA key in PKCS#1 and PKCS#8 form has one thumbprint.
    assert_eq!(
        SigningKey::from_pem(&fixture("rsa2048-pkcs1.pem"), None)
            .unwrap()
            .kid(),
        SigningKey::from_pem(&fixture("rsa2048-pkcs8.pem"), None)
            .unwrap()
            .kid()
    );
}

#[test]
fn pem_refusals_say_why() {
    let pem = |file: &str| SigningKey::from_pem(&fixture(file), None).unwrap_err();
    assert_eq!(
        pem("rsa1024-pkcs8.pem"),
        KeyError::Pem("the RSA key is smaller than 2048 bits")
    );
    assert_eq!(pem("rsa2048-e3.pem"), KeyError::RsaExponent);
    assert_eq!(
        pem("p384.pem"),
        KeyError::Pem("the PRIVATE KEY is not an Ed25519, P-256 or RSA key")
    );
    assert_eq!(
        pem("ed25519-public.pem").to_string(),
        "PEM private key refused: the file holds a public key or certificate; a private key is needed"
    );
    assert_eq!(
        pem("ed25519-encrypted.pem"),
        KeyError::Pem(
            "the private key is encrypted; store it unencrypted with restricted file permissions"
        )
    );
    let two = format!("{}{}", fixture("ed25519.pem"), fixture("p256-sec1.pem"));
    assert_eq!(
        SigningKey::from_pem(&two, None).unwrap_err(),
        KeyError::Pem("the file holds more than one private key")
    );
    let garbage = [
        ("", "the file holds no PEM private key block"),
        ("hello", "the file holds no PEM private key block"),
        (
            "-----BEGIN PRIVATE KEY-----\nQQ==\n",
            "a block has no matching END line",
        ),
        ("-----BEGIN PRIVATE KEY", "a BEGIN line is not terminated"),
        (
            "-----BEGIN PRIVATE KEY-----\n%%%\n-----END PRIVATE KEY-----\n",
            "the key block is not valid base64",
        ),
        (
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "the PRIVATE KEY is not an Ed25519, P-256 or RSA key",
        ),
        (
            "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
            "the EC PRIVATE KEY is not a valid P-256 key",
        ),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
            "the RSA PRIVATE KEY is not a valid RSA key",
        ),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
            "the file holds a block of an unsupported type",
        ),
    ];
    for (text, problem) in garbage {
        assert_eq!(
            SigningKey::from_pem(text, None).unwrap_err(),
            KeyError::Pem(problem),
            "{text:?}"
        );
    }
    let huge = "A".repeat(64 * 1024 + 1);
    assert_eq!(
        SigningKey::from_pem(&huge, None).unwrap_err(),
        KeyError::Pem("the file is larger than 64 KiB")
    );
    assert_eq!(
        SigningKey::from_pem(&fixture("ed25519.pem"), Some("bad kid")).unwrap_err(),
        KeyError::InvalidKid
    );
}

/// RFC 7638 §3.1's example key has the thumbprint the RFC gives.
#[test]
fn thumbprint_matches_rfc_7638_example() {
    let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    let public = Public::rs256(&URL_SAFE_NO_PAD.decode(n).unwrap(), &RSA_EXPONENT).unwrap();
    let key = VerifyingKey::new("2011-04-29".to_owned(), public);
    assert_eq!(
        key.thumbprint().unwrap(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn debug_shows_algorithm_and_kid_only() {
    let hs = SigningKey::from_bytes(&[0x41; 32]).unwrap();
    assert_eq!(
        format!("{hs:?}"),
        format!(r#"SigningKey {{ alg: "HS256", kid: "{}" }}"#, hs.kid())
    );
    for alg in ASYMMETRIC {
        let key = SigningKey::generate(alg).unwrap();
        let der = key.to_pkcs8_der().unwrap();
        let jwk = key.verifying_key().to_jwk().unwrap();
        let outputs = [
            format!("{key:?}"),
            format!("{key:#?}"),
            format!("{:?}", key.verifying_key()),
            format!("{:#?}", key.verifying_key()),
        ];
        assert_eq!(
            outputs[0],
            format!(r#"SigningKey {{ alg: "{alg}", kid: "{}" }}"#, key.kid())
        );
        assert_eq!(
            outputs[2],
            format!(r#"VerifyingKey {{ alg: "{alg}", kid: "{}" }}"#, key.kid())
        );
        let der_b64 = URL_SAFE_NO_PAD.encode(&der[der.len() - 24..]);
        for output in &outputs {
            assert!(!output.contains(&der_b64[..16]), "{output}");
            for member in ["x", "n", "d"] {
                if let Some(value) = jwk.get(member).and_then(|v| v.as_str()) {
                    assert!(!output.contains(&value[..16]), "{output}");
                }
            }
        }
    }
}

#[test]
fn clones_share_the_prepared_key() {
    let key = SigningKey::from_bytes(b"0123456789abcdef0123456789abcdef").unwrap();
    let copy = key.clone();
    assert!(Arc::ptr_eq(&key.inner, &copy.inner));
    let verifying = key.verifying_key();
    assert!(Arc::ptr_eq(&verifying.inner, &copy.verifying_key().inner));
    let tag = key.sign(b"message").unwrap();
    assert!(verifying.verify_raw(b"message", &tag));
}
