//! Verify and issue costs of a realistic access token: ours against `jsonwebtoken` 11 (strictly
//! configured) and against the physical floor (split + base64url + HMAC-SHA256, then + serde);
//! then the same token under EdDSA, ES256 and RS256 (2048 bits), ours against `jsonwebtoken`
//! with the same key, in the same run.
//!
//! `cargo bench -p tessera-token --bench tokens -- --warm-up-time 1 --measurement-time 3` runs the
//! criterion groups, then a short interleaved `Instant` loop that prints ns/op and the ratios
//! tessera/jsonwebtoken and tessera/floor_plus_claims. Under `cargo test` (no `--bench` argument)
//! criterion runs each benchmark once and the timing loop is skipped; so it is with
//! `-- --profile-time 5 verify/tessera`, which runs one benchmark for a profiler.
// Bench code: a failed unwrap is a broken benchmark.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::Criterion;
use tessera_token::{AccessClaims, Algorithm, KeySet, SigningKey, Subject, TokenCodec, TokenRules};

const SECRET: &[u8] = b"bench-secret-0123456789abcdef-0123456789";
const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "https://app.example.com";
const USER_ID: &str = "3f8e2a6c-9b1d-4e7f-8a2b-5c6d7e8f9a0b";
const SESSION_ID: &str = "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f";
const LIFETIME: i64 = 3600;

/// Everything every variant needs, built once outside the measured loops.
struct Fixture {
    codec: TokenCodec,
    /// The instant our codec verifies at: the real time when the fixture was made, so that
    /// `jsonwebtoken` (which reads the clock itself) sees the same token as valid.
    now: i64,
    token: String,
    roles: Vec<String>,
    jwt_decoding_key: jsonwebtoken::DecodingKey,
    jwt_encoding_key: jsonwebtoken::EncodingKey,
    jwt_validation: jsonwebtoken::Validation,
    jwt_header: jsonwebtoken::Header,
    floor_key: hmac::Key,
}

impl Fixture {
    fn new() -> Self {
        let rules = TokenRules {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            leeway_seconds: 0,
        };
        let codec = TokenCodec::new(SigningKey::from_bytes(SECRET).unwrap(), rules).unwrap();
        let now = i64::try_from(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        )
        .unwrap();
        let roles = vec!["admin".to_owned(), "editor".to_owned(), "viewer".to_owned()];
        let token = codec.issue(subject(&roles), now, LIFETIME).unwrap().token;

        // jsonwebtoken as strictly as it goes (see shared/ECOSYSTEM.md): lenient defaults off.
        let mut jwt_validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        jwt_validation.algorithms = vec![jsonwebtoken::Algorithm::HS256];
        jwt_validation.leeway = 0;
        jwt_validation.validate_exp = true;
        jwt_validation.validate_nbf = true;
        jwt_validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        jwt_validation.set_issuer(&[ISSUER]);
        jwt_validation.set_audience(&[AUDIENCE]);
        let mut jwt_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        jwt_header.typ = Some("at+jwt".into());

        Self {
            codec,
            now,
            token,
            roles,
            jwt_decoding_key: jsonwebtoken::DecodingKey::from_secret(SECRET),
            jwt_encoding_key: jsonwebtoken::EncodingKey::from_secret(SECRET),
            jwt_validation,
            jwt_header,
            floor_key: hmac::Key::new(hmac::HMAC_SHA256, SECRET),
        }
    }

    fn verify_tessera(&self, token: &str) -> Option<AccessClaims> {
        self.codec.verify(token, self.now).ok()
    }

    /// The server's path: `verify_cached` for a token it has seen (what every request after a
    /// client's first presents), so only the time claims are checked again.
    fn verify_tessera_cached(&self, token: &str) -> Option<std::sync::Arc<AccessClaims>> {
        self.codec.verify_cached(token, self.now).ok()
    }

    /// `jsonwebtoken::decode` into the typed claims, then the header checks a strict user adds:
    /// `typ` must mark an access token, and no `crit` or key-carrying member may be present.
    fn verify_jsonwebtoken(&self, token: &str) -> Option<AccessClaims> {
        let data = jsonwebtoken::decode::<AccessClaims>(
            token,
            &self.jwt_decoding_key,
            &self.jwt_validation,
        )
        .ok()?;
        let header = &data.header;
        let typ_ok = header
            .typ
            .as_deref()
            .is_some_and(|typ| typ.eq_ignore_ascii_case("at+jwt"));
        let no_key_members = header.crit.is_none()
            && header.jwk.is_none()
            && header.jku.is_none()
            && header.x5u.is_none()
            && header.x5c.is_none();
        (typ_ok && no_key_members).then_some(data.claims)
    }

    /// The physical floor: split, base64url-decode the signature, constant-time HMAC-SHA256 check
    /// over the received `header.payload`. No JSON at all.
    fn verify_floor(&self, token: &str) -> bool {
        let Some((signing_input, signature_b64)) = token.rsplit_once('.') else {
            return false;
        };
        let mut signature = [0_u8; 32];
        match URL_SAFE_NO_PAD.decode_slice(signature_b64, &mut signature) {
            Ok(32) => {}
            _ => return false,
        }
        hmac::verify(&self.floor_key, signing_input.as_bytes(), &signature).is_ok()
    }

    /// The floor plus the payload: base64url, serde into the typed struct, exp/nbf/iss/aud.
    fn verify_floor_plus_claims(&self, token: &str) -> Option<AccessClaims> {
        if !self.verify_floor(token) {
            return None;
        }
        let mut parts = token.split('.');
        let payload = URL_SAFE_NO_PAD.decode(parts.nth(1)?).ok()?;
        let claims: AccessClaims = serde_json::from_slice(&payload).ok()?;
        let valid = self.now < claims.exp
            && claims.nbf <= self.now
            && claims.iss == ISSUER
            && claims.aud == AUDIENCE;
        valid.then_some(claims)
    }

    fn issue_tessera(&self) -> String {
        self.codec
            .issue(subject(&self.roles), self.now, LIFETIME)
            .unwrap()
            .token
    }

    /// The same claims (fresh 128-bit `jti` included) through `jsonwebtoken::encode` with a
    /// prebuilt `EncodingKey`.
    fn issue_jsonwebtoken(&self) -> String {
        let mut jti = [0_u8; 16];
        getrandom::fill(&mut jti).unwrap();
        let claims = AccessClaims {
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            sub: USER_ID.to_owned(),
            sid: SESSION_ID.to_owned(),
            iat: self.now,
            nbf: self.now,
            exp: self.now + LIFETIME,
            jti: URL_SAFE_NO_PAD.encode(jti),
            name: "Ada Lovelace".to_owned(),
            roles: self.roles.clone(),
        };
        jsonwebtoken::encode(&self.jwt_header, &claims, &self.jwt_encoding_key).unwrap()
    }

    /// Every verifier must accept the token and agree on its claims, so no benchmark can
    /// silently measure an error path.
    fn assert_all_accept(&self) {
        let ours = self.verify_tessera(&self.token).expect("tessera rejects");
        let cached = self
            .verify_tessera_cached(&self.token)
            .expect("tessera (cached) rejects");
        assert_eq!(*cached, ours);
        let theirs = self
            .verify_jsonwebtoken(&self.token)
            .expect("jsonwebtoken rejects");
        assert!(self.verify_floor(&self.token), "floor rejects");
        let floor = self
            .verify_floor_plus_claims(&self.token)
            .expect("floor_plus_claims rejects");
        assert_eq!(ours, theirs);
        assert_eq!(ours, floor);
        assert_eq!(ours.roles.len(), 3);
        // Tokens issued by either side verify on ours.
        assert!(self.verify_tessera(&self.issue_tessera()).is_some());
        assert!(self.verify_tessera(&self.issue_jsonwebtoken()).is_some());
        // And a tampered token is refused by every verifier.
        let mut tampered = self.token.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(self.verify_tessera(&tampered).is_none());
        assert!(self.verify_jsonwebtoken(&tampered).is_none());
        assert!(!self.verify_floor(&tampered));
    }
}

/// One asymmetric algorithm: our codec and `jsonwebtoken` with the same key pair.
struct AsymFixture {
    name: &'static str,
    codec: TokenCodec,
    now: i64,
    token: String,
    roles: Vec<String>,
    jwt_decoding_key: jsonwebtoken::DecodingKey,
    jwt_encoding_key: jsonwebtoken::EncodingKey,
    jwt_validation: jsonwebtoken::Validation,
    jwt_header: jsonwebtoken::Header,
    /// Timing-loop iterations per round (RSA signing is ~1000x an HMAC).
    verify_iterations: u32,
    issue_iterations: u32,
}

impl AsymFixture {
    fn new(alg: Algorithm, now: i64) -> Self {
        let (key, jwt_encoding_key, theirs, verify_iterations, issue_iterations) = match alg {
            Algorithm::EdDsa => {
                let key = SigningKey::generate(alg).unwrap();
                let der = key.to_pkcs8_der().unwrap();
                let enc = jsonwebtoken::EncodingKey::from_ed_der(&der);
                (key, enc, jsonwebtoken::Algorithm::EdDSA, 20_000, 20_000)
            }
            Algorithm::Es256 => {
                let key = SigningKey::generate(alg).unwrap();
                let der = key.to_pkcs8_der().unwrap();
                let enc = jsonwebtoken::EncodingKey::from_ec_der(&der);
                (key, enc, jsonwebtoken::Algorithm::ES256, 10_000, 20_000)
            }
            _ => {
                // jsonwebtoken reads RSA private keys as PKCS#1 DER: use the test fixture, whose
                // PEM body is that DER.
                let pem = include_str!("../tests/data/keys/rsa2048-pkcs1.pem");
                let key = SigningKey::from_pem(pem, None).unwrap();
                let body: String = pem
                    .lines()
                    .filter(|line| !line.starts_with("-----"))
                    .collect();
                let der = base64::engine::general_purpose::STANDARD
                    .decode(body)
                    .unwrap();
                let enc = jsonwebtoken::EncodingKey::from_rsa_der(&der);
                (key, enc, jsonwebtoken::Algorithm::RS256, 20_000, 1_000)
            }
        };
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(key.verifying_key().to_jwk().unwrap()).unwrap();
        let rules = TokenRules {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            leeway_seconds: 0,
        };
        let codec = TokenCodec::new(KeySet::from(key.clone()), rules).unwrap();
        let roles = vec!["admin".to_owned(), "editor".to_owned(), "viewer".to_owned()];
        let token = codec.issue(subject(&roles), now, LIFETIME).unwrap().token;
        let mut jwt_validation = jsonwebtoken::Validation::new(theirs);
        jwt_validation.algorithms = vec![theirs];
        jwt_validation.leeway = 0;
        jwt_validation.validate_exp = true;
        jwt_validation.validate_nbf = true;
        jwt_validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        jwt_validation.set_issuer(&[ISSUER]);
        jwt_validation.set_audience(&[AUDIENCE]);
        let mut jwt_header = jsonwebtoken::Header::new(theirs);
        jwt_header.typ = Some("at+jwt".into());
        jwt_header.kid = Some(key.kid().to_owned());
        Self {
            name: alg.as_str(),
            codec,
            now,
            token,
            roles,
            jwt_decoding_key: jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(),
            jwt_encoding_key,
            jwt_validation,
            jwt_header,
            verify_iterations,
            issue_iterations,
        }
    }

    fn verify_tessera(&self, token: &str) -> Option<AccessClaims> {
        self.codec.verify(token, self.now).ok()
    }

    /// As [`Fixture::verify_jsonwebtoken`], with this algorithm's key.
    fn verify_jsonwebtoken(&self, token: &str) -> Option<AccessClaims> {
        let data = jsonwebtoken::decode::<AccessClaims>(
            token,
            &self.jwt_decoding_key,
            &self.jwt_validation,
        )
        .ok()?;
        let header = &data.header;
        let typ_ok = header
            .typ
            .as_deref()
            .is_some_and(|typ| typ.eq_ignore_ascii_case("at+jwt"));
        let no_key_members = header.crit.is_none()
            && header.jwk.is_none()
            && header.jku.is_none()
            && header.x5u.is_none()
            && header.x5c.is_none();
        (typ_ok && no_key_members).then_some(data.claims)
    }

    fn issue_tessera(&self) -> String {
        self.codec
            .issue(subject(&self.roles), self.now, LIFETIME)
            .unwrap()
            .token
    }

    fn issue_jsonwebtoken(&self) -> String {
        let mut jti = [0_u8; 16];
        getrandom::fill(&mut jti).unwrap();
        let claims = AccessClaims {
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            sub: USER_ID.to_owned(),
            sid: SESSION_ID.to_owned(),
            iat: self.now,
            nbf: self.now,
            exp: self.now + LIFETIME,
            jti: URL_SAFE_NO_PAD.encode(jti),
            name: "Ada Lovelace".to_owned(),
            roles: self.roles.clone(),
        };
        jsonwebtoken::encode(&self.jwt_header, &claims, &self.jwt_encoding_key).unwrap()
    }

    /// Both sides accept each other's tokens and refuse a tampered one.
    fn assert_all_accept(&self) {
        let ours = self.verify_tessera(&self.token).expect("tessera rejects");
        let theirs = self
            .verify_jsonwebtoken(&self.token)
            .expect("jsonwebtoken rejects");
        assert_eq!(ours, theirs, "{}", self.name);
        assert!(self.verify_tessera(&self.issue_jsonwebtoken()).is_some());
        assert!(self.verify_jsonwebtoken(&self.issue_tessera()).is_some());
        let mut tampered = self.token.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(self.verify_tessera(&tampered).is_none());
        assert!(self.verify_jsonwebtoken(&tampered).is_none());
    }
}

/// The asymmetric fixtures, one per algorithm.
fn asymmetric(now: i64) -> Vec<AsymFixture> {
    [Algorithm::EdDsa, Algorithm::Es256, Algorithm::Rs256]
        .into_iter()
        .map(|alg| AsymFixture::new(alg, now))
        .collect()
}

fn subject(roles: &[String]) -> Subject<'_> {
    Subject {
        id: USER_ID,
        session_id: SESSION_ID,
        name: "Ada Lovelace",
        roles,
    }
}

fn criterion_benches(c: &mut Criterion, f: &Fixture) {
    let token = f.token.as_str();
    let mut verify = c.benchmark_group("verify");
    verify.bench_function("tessera", |b| b.iter(|| f.verify_tessera(black_box(token))));
    verify.bench_function("tessera_cached", |b| {
        b.iter(|| f.verify_tessera_cached(black_box(token)))
    });
    verify.bench_function("jsonwebtoken", |b| {
        b.iter(|| f.verify_jsonwebtoken(black_box(token)))
    });
    verify.bench_function("floor", |b| b.iter(|| f.verify_floor(black_box(token))));
    verify.bench_function("floor_plus_claims", |b| {
        b.iter(|| f.verify_floor_plus_claims(black_box(token)))
    });
    verify.finish();

    let mut issue = c.benchmark_group("issue");
    issue.bench_function("tessera", |b| b.iter(|| f.issue_tessera()));
    issue.bench_function("jsonwebtoken", |b| b.iter(|| f.issue_jsonwebtoken()));
    issue.finish();
}

fn criterion_asymmetric(c: &mut Criterion, fixtures: &[AsymFixture]) {
    for f in fixtures {
        let token = f.token.as_str();
        let mut verify = c.benchmark_group(format!("verify_{}", f.name));
        verify.bench_function("tessera", |b| b.iter(|| f.verify_tessera(black_box(token))));
        verify.bench_function("jsonwebtoken", |b| {
            b.iter(|| f.verify_jsonwebtoken(black_box(token)))
        });
        verify.finish();
        let mut issue = c.benchmark_group(format!("issue_{}", f.name));
        issue.bench_function("tessera", |b| b.iter(|| f.issue_tessera()));
        issue.bench_function("jsonwebtoken", |b| b.iter(|| f.issue_jsonwebtoken()));
        issue.finish();
    }
}

/// The hand-timed table for the asymmetric algorithms: per algorithm, interleaved rounds of
/// ours and theirs, median round, and the ratios tessera/jsonwebtoken.
fn asymmetric_table(fixtures: &[AsymFixture]) {
    const ROUNDS: usize = 5;
    eprintln!();
    eprintln!("asymmetric: {ROUNDS} interleaved rounds per variant, median round");
    eprintln!(
        "{:<8} {:>14} {:>14} {:>7} {:>14} {:>14} {:>7}",
        "alg", "verify ours", "verify jwt", "ratio", "issue ours", "issue jwt", "ratio"
    );
    for f in fixtures {
        let token = f.token.as_str();
        let variants: [(&dyn Fn() -> bool, u32); 4] = [
            (
                &|| f.verify_tessera(black_box(token)).is_some(),
                f.verify_iterations,
            ),
            (
                &|| f.verify_jsonwebtoken(black_box(token)).is_some(),
                f.verify_iterations,
            ),
            (
                &|| !black_box(f.issue_tessera()).is_empty(),
                f.issue_iterations,
            ),
            (
                &|| !black_box(f.issue_jsonwebtoken()).is_empty(),
                f.issue_iterations,
            ),
        ];
        let mut samples = [const { Vec::new() }; 4];
        for _ in 0..ROUNDS {
            for (index, (run, iterations)) in variants.iter().enumerate() {
                let start = Instant::now();
                let mut accepted = 0_u32;
                for _ in 0..*iterations {
                    accepted += u32::from(run());
                }
                assert_eq!(accepted, *iterations, "{} variant {index} failed", f.name);
                samples[index].push(per_op_ns(start.elapsed(), *iterations));
            }
        }
        let median: Vec<f64> = samples
            .iter_mut()
            .map(|s| {
                s.sort_by(f64::total_cmp);
                s[s.len() / 2]
            })
            .collect();
        eprintln!(
            "{:<8} {:>11.0} ns {:>11.0} ns {:>7.2} {:>11.0} ns {:>11.0} ns {:>7.2}",
            f.name,
            median[0],
            median[1],
            median[0] / median[1],
            median[2],
            median[3],
            median[2] / median[3]
        );
    }
}

/// One variant of the hand-timed table.
struct Variant<'a> {
    name: &'static str,
    run: Box<dyn Fn() -> bool + 'a>,
    samples: Vec<f64>,
}

/// Interleaved rounds of `ITERATIONS` calls per variant; the median round is reported, which
/// resists the noise of other work on the machine better than a mean.
fn timing_table(f: &Fixture) {
    const ITERATIONS: u32 = 200_000;
    const ROUNDS: usize = 5;
    let token = f.token.as_str();
    let mut variants = vec![
        Variant {
            name: "verify/tessera",
            run: Box::new(|| f.verify_tessera(black_box(token)).is_some()),
            samples: Vec::new(),
        },
        Variant {
            name: "verify/tessera_cached",
            run: Box::new(|| f.verify_tessera_cached(black_box(token)).is_some()),
            samples: Vec::new(),
        },
        Variant {
            name: "verify/jsonwebtoken",
            run: Box::new(|| f.verify_jsonwebtoken(black_box(token)).is_some()),
            samples: Vec::new(),
        },
        Variant {
            name: "verify/floor",
            run: Box::new(|| f.verify_floor(black_box(token))),
            samples: Vec::new(),
        },
        Variant {
            name: "verify/floor_plus_claims",
            run: Box::new(|| f.verify_floor_plus_claims(black_box(token)).is_some()),
            samples: Vec::new(),
        },
        Variant {
            name: "issue/tessera",
            run: Box::new(|| !black_box(f.issue_tessera()).is_empty()),
            samples: Vec::new(),
        },
        Variant {
            name: "issue/jsonwebtoken",
            run: Box::new(|| !black_box(f.issue_jsonwebtoken()).is_empty()),
            samples: Vec::new(),
        },
    ];
    for _ in 0..ROUNDS {
        for variant in &mut variants {
            let start = Instant::now();
            let mut accepted = 0_u32;
            for _ in 0..ITERATIONS {
                accepted += u32::from((variant.run)());
            }
            let elapsed = start.elapsed();
            assert_eq!(
                accepted, ITERATIONS,
                "{} failed inside the loop",
                variant.name
            );
            variant.samples.push(per_op_ns(elapsed, ITERATIONS));
        }
    }
    let median = |name: &str| -> f64 {
        let variant = variants.iter().find(|v| v.name == name).unwrap();
        let mut samples = variant.samples.clone();
        samples.sort_by(f64::total_cmp);
        samples[samples.len() / 2]
    };
    eprintln!();
    eprintln!(
        "token: {} bytes; {ROUNDS} interleaved rounds of {ITERATIONS} calls, median round",
        f.token.len()
    );
    eprintln!("{:<28} {:>10}", "variant", "ns/op");
    for variant in &variants {
        eprintln!("{:<28} {:>10.0}", variant.name, median(variant.name));
    }
    let ours = median("verify/tessera");
    eprintln!(
        "ratio tessera/jsonwebtoken      {:>6.2}",
        ours / median("verify/jsonwebtoken")
    );
    eprintln!(
        "ratio tessera/floor_plus_claims {:>6.2}",
        ours / median("verify/floor_plus_claims")
    );
    eprintln!(
        "ratio tessera_cached/jsonwebtoken {:>4.2}",
        median("verify/tessera_cached") / median("verify/jsonwebtoken")
    );
    eprintln!(
        "ratio issue tessera/jsonwebtoken {:>5.2}",
        median("issue/tessera") / median("issue/jsonwebtoken")
    );
}

fn per_op_ns(elapsed: Duration, iterations: u32) -> f64 {
    elapsed.as_secs_f64() * 1e9 / f64::from(iterations)
}

fn main() {
    let fixture = Fixture::new();
    fixture.assert_all_accept();
    let fixtures = asymmetric(fixture.now);
    for asym in &fixtures {
        asym.assert_all_accept();
    }
    let mut criterion = Criterion::default().configure_from_args();
    criterion_benches(&mut criterion, &fixture);
    criterion_asymmetric(&mut criterion, &fixtures);
    criterion.final_summary();
    // `cargo bench` passes `--bench`; `cargo test` (criterion's test mode) does not. Under
    // `--profile-time` (for `perf record`), only the selected criterion benchmark runs.
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|arg| arg == "--bench") && !args.iter().any(|arg| arg == "--profile-time") {
        timing_table(&fixture);
        asymmetric_table(&fixtures);
    }
}
