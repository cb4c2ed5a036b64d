//! A minimal PEM reader (RFC 7468) for private key files: the label and the DER of the one private
//! key block. The base64 body is decoded strictly (standard alphabet, canonical padding) after
//! removing line breaks and spaces; text outside blocks is ignored, as RFC 7468 allows.
//!
//! Invariant: errors name labels and problems, never any of the file's bytes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::KeyError;

/// The private key forms accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Label {
    /// `PRIVATE KEY`: PKCS#8 `PrivateKeyInfo`.
    Pkcs8,
    /// `EC PRIVATE KEY`: SEC1 `ECPrivateKey`.
    Sec1,
    /// `RSA PRIVATE KEY`: PKCS#1 `RSAPrivateKey`.
    Pkcs1,
}

/// PEM files larger than this are refused before parsing (an RSA 8192 key is about 6.5 KiB).
const MAX_PEM_BYTES: usize = 64 * 1024;

/// Finds the single private key block of `pem` and decodes it. `EC PARAMETERS` blocks (which
/// `openssl ecparam -genkey` writes first) are skipped.
pub(crate) fn private_key_block(pem: &str) -> Result<(Label, Zeroizing<Vec<u8>>), KeyError> {
    if pem.len() > MAX_PEM_BYTES {
        return Err(KeyError::Pem("the file is larger than 64 KiB"));
    }
    let mut found: Option<(Label, Zeroizing<Vec<u8>>)> = None;
    let mut rest = pem;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + "-----BEGIN ".len()..];
        let (label, body) = after
            .split_once("-----")
            .ok_or(KeyError::Pem("a BEGIN line is not terminated"))?;
        let end_line = format!("-----END {label}-----");
        let (body, tail) = body
            .split_once(end_line.as_str())
            .ok_or(KeyError::Pem("a block has no matching END line"))?;
        rest = tail;
        let label = match label {
            "PRIVATE KEY" => Label::Pkcs8,
            "EC PRIVATE KEY" => Label::Sec1,
            "RSA PRIVATE KEY" => Label::Pkcs1,
            "EC PARAMETERS" => continue,
            "ENCRYPTED PRIVATE KEY" => {
                return Err(KeyError::Pem(
                    "the private key is encrypted; store it unencrypted with restricted file permissions",
                ));
            }
            "PUBLIC KEY" | "RSA PUBLIC KEY" | "CERTIFICATE" => {
                return Err(KeyError::Pem(
                    "the file holds a public key or certificate; a private key is needed",
                ));
            }
            _ => {
                return Err(KeyError::Pem(
                    "the file holds a block of an unsupported type",
                ));
            }
        };
        if found.is_some() {
            return Err(KeyError::Pem("the file holds more than one private key"));
        }
        let compact: Zeroizing<String> = Zeroizing::new(
            body.chars()
                .filter(|c| !matches!(c, '\r' | '\n' | ' ' | '\t'))
                .collect(),
        );
        let der = STANDARD
            .decode(compact.as_bytes())
            .map_err(|_| KeyError::Pem("the key block is not valid base64"))?;
        found = Some((label, Zeroizing::new(der)));
    }
    found.ok_or(KeyError::Pem("the file holds no PEM private key block"))
}
