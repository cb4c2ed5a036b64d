//! `tessera token verify`: takes the token as pasted (a `Bearer ` prefix, surrounding
//! whitespace) or from standard input (`-`), and checks it as the server would, at one instant
//! read once from the system clock, saying when a token is accepted only thanks to the leeway.

use std::io::BufRead;
use std::process::ExitCode;
use std::sync::Arc;

use tessera_config::{SecretAdjustment, Settings};
use tessera_token::VerifyError;

use crate::app;
use crate::auth::AccessError;
use crate::clock::{Clock as _, ManualClock, SystemClock, rfc3339};

/// The longest line `token verify -` reads from standard input.
pub(super) const STDIN_LIMIT: usize = 8 * 1024;

/// The argument that asks for the token on standard input.
const FROM_STDIN: &str = "-";

/// The token the argument names: the argument itself, or for `-` the first line of `stdin`;
/// either way without a `Bearer ` prefix and surrounding whitespace. The error is a complete
/// message for the operator.
pub(super) fn obtain(argument: &str, stdin: impl BufRead) -> Result<String, String> {
    let raw = if argument == FROM_STDIN {
        read_line(stdin)?
    } else {
        argument.to_owned()
    };
    let token = without_bearer(&raw);
    if token.is_empty() {
        return Err(if argument == FROM_STDIN {
            "standard input holds no token: give the token on its first line".to_owned()
        } else {
            "no token given: pass the token, or - to read it from standard input".to_owned()
        });
    }
    Ok(token.to_owned())
}

/// The first line of `stdin`, refused past [`STDIN_LIMIT`] bytes or when it is not UTF-8.
fn read_line(stdin: impl BufRead) -> Result<String, String> {
    let mut line = Vec::new();
    let limit = u64::try_from(STDIN_LIMIT + 1).unwrap_or(u64::MAX);
    stdin
        .take(limit)
        .read_until(b'\n', &mut line)
        .map_err(|error| format!("failed to read the token from standard input: {error}"))?;
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    if line.len() > STDIN_LIMIT {
        return Err(format!(
            "the first line of standard input is longer than {STDIN_LIMIT} bytes (8 KiB); an \
             access token is at most {} bytes",
            tessera_token::MAX_TOKEN_BYTES
        ));
    }
    String::from_utf8(line).map_err(|_| "standard input is not UTF-8 text".to_owned())
}

/// `token` without surrounding whitespace and a leading `Bearer ` (any case), as copied from
/// an `Authorization` header; a lone `Bearer` is no token at all.
fn without_bearer(token: &str) -> &str {
    let token = token.trim();
    match token.split_at_checked("bearer".len()) {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("bearer")
                && (rest.is_empty() || rest.starts_with(char::is_whitespace)) =>
        {
            rest.trim_start()
        }
        _ => token,
    }
}

/// Checks `token` as the server would: exit 0 when it is accepted, 1 with the reason otherwise.
pub(super) async fn verify(settings: &Settings, token: &str) -> anyhow::Result<ExitCode> {
    // One instant for the check and for what is said about it.
    let now = SystemClock.now();
    let auth = app::authenticator(settings, Arc::new(ManualClock::new(now))).await?;
    let checked = auth.check(token).await;
    auth.close().await;
    let leeway = i64::from(settings.jwt_leeway_seconds);
    match checked {
        Ok(access) => {
            let exp = access.claims.exp;
            let when = if exp > now {
                format!(
                    "expires {} (in {})",
                    rfc3339(exp),
                    human_duration(exp - now)
                )
            } else {
                format!(
                    "expired {} ago ({}), still accepted within the {} leeway \
                     (TESSERA_JWT_LEEWAY_SECONDS)",
                    human_duration(now - exp),
                    rfc3339(exp),
                    human_duration(leeway)
                )
            };
            println!(
                "valid: user '{}' ({}), roles [{}], {when}",
                access.user.username,
                access.user.id,
                access.user.roles.join(", "),
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(AccessError::Store(error)) => {
            Err(anyhow::Error::new(error).context("failed to look up the token's user"))
        }
        Err(reason) => {
            match reason {
                AccessError::Token(VerifyError::Expired { .. }) => println!(
                    "invalid: {reason}, beyond the {} leeway (TESSERA_JWT_LEEWAY_SECONDS)",
                    human_duration(leeway)
                ),
                _ => println!("invalid: {reason}"),
            }
            if settings.jwt_secret.adjustment() == SecretAdjustment::Generated {
                println!(
                    "note: no TESSERA_JWT_SECRET/AYANOVA_JWT_SECRET is set, so a random key was used and no server-issued token can verify"
                );
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Checks `token` offline against a key set — a JWKS file, or a URL (tessera's
/// `/.well-known/jwks.json`) — and the settings' issuer, audience and leeway: the signature and
/// the claims only, not the user or the session. Exit 0 when valid, 1 with the reason.
pub(super) async fn verify_offline(
    settings: &Settings,
    token: &str,
    source: &str,
) -> anyhow::Result<ExitCode> {
    let now = SystemClock.now();
    let rules = crate::keys::token_rules(settings);
    let claims = if source.starts_with("http://") || source.starts_with("https://") {
        let verifier = tessera_verify::Verifier::jwks(source, rules)
            .map_err(|error| anyhow::anyhow!("--jwks {source}: {error}"))?
            .with_clock(Arc::new(tessera_verify::ManualClock::new(now)));
        verifier
            .refresh()
            .await
            .map_err(|error| anyhow::anyhow!("could not fetch the key set at {source}: {error}"))?;
        verifier
            .verify(token)
            .await
            .map(tessera_verify::Claims::into_inner)
            .map_err(|rejection| rejection.to_string())
    } else {
        let text = std::fs::read(source)
            .map_err(|error| anyhow::anyhow!("cannot read the key set {source}: {error}"))?;
        let keys = tessera_token::parse_jwk_set(&text)
            .map_err(|error| anyhow::anyhow!("the key set {source} is refused: {error}"))?;
        let keys = tessera_token::KeySet::verify_only(keys)
            .map_err(|error| anyhow::anyhow!("the key set {source} is refused: {error}"))?;
        let codec = tessera_token::TokenCodec::new(keys, rules)?;
        codec
            .verify(token, now)
            .map(Arc::new)
            .map_err(|error| error.to_string())
    };
    match claims {
        Ok(claims) => {
            println!(
                "valid by the key set (signature and claims; the user and session are not                  checked offline): user {} ('{}'), session {}, roles [{}], expires {}",
                claims.sub,
                claims.name,
                claims.sid,
                claims.roles.join(", "),
                rfc3339(claims.exp)
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(reason) => {
            println!("invalid: {reason}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// "4d 23h 59m 10s" for a number of seconds.
fn human_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m, s) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60, s % 60);
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "m"), (s, "s")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if parts.is_empty() {
        "0s".to_owned()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_would_write_them() {
        assert_eq!(human_duration(0), "0s");
        assert_eq!(human_duration(-5), "0s");
        assert_eq!(human_duration(432_000), "5d");
        assert_eq!(human_duration(93_784), "1d 2h 3m 4s");
    }

    #[test]
    fn a_pasted_authorization_value_is_the_token() {
        for pasted in [
            "eyJ.a.b",
            "  eyJ.a.b\n",
            "Bearer eyJ.a.b",
            "bearer eyJ.a.b",
            "BEARER \t eyJ.a.b \r\n",
        ] {
            assert_eq!(
                obtain(pasted, std::io::empty()).unwrap(),
                "eyJ.a.b",
                "{pasted:?}"
            );
        }
        // Not a scheme: left for the verifier to refuse.
        assert_eq!(without_bearer("Bearereyj"), "Bearereyj");
        assert_eq!(without_bearer("Bear"), "Bear");
        assert_eq!(without_bearer("Bearer"), "");
        assert_eq!(without_bearer("éééééé x"), "éééééé x");
        assert!(
            obtain("Bearer  ", std::io::empty())
                .unwrap_err()
                .contains("no token given")
        );
    }

    #[test]
    fn standard_input_gives_one_line_of_at_most_8_kib() {
        let read = |input: &[u8]| obtain("-", input);
        assert_eq!(read(b"Bearer eyJ.a.b\nignored\n").unwrap(), "eyJ.a.b");
        assert_eq!(read(b"eyJ.a.b").unwrap(), "eyJ.a.b");
        let longest = "a".repeat(STDIN_LIMIT);
        assert_eq!(read(format!("{longest}\r\n").as_bytes()).unwrap(), longest);
        let error = read(format!("{longest}a\n").as_bytes()).unwrap_err();
        assert!(error.contains("longer than 8192 bytes (8 KiB)"), "{error}");
        assert!(
            read(b"")
                .unwrap_err()
                .contains("standard input holds no token")
        );
        assert!(
            read(b"\n")
                .unwrap_err()
                .contains("standard input holds no token")
        );
        assert_eq!(
            read(b"\xff\xfe\n").unwrap_err(),
            "standard input is not UTF-8 text"
        );
    }
}
