//! Checks the fuzz targets share.

use tessera_config::{
    ConfigErrors, RawSources, Sensitivity, find_setting, render_check, render_errors, resolve,
};

/// Seeds mark secret values with this character, so a leak can be told from a coincidence:
/// no fixed text of tessera contains it.
pub const SECRET_MARK: char = '\u{1F511}';

/// Resolves `sources` and renders the outcome (the `config check` report, or the error
/// listing), asserting that no secret value given in `given` shows in it.
pub fn resolve_and_render(sources: &RawSources, given: &[(String, String)]) {
    let shown = match resolve(sources) {
        Ok(resolved) => {
            let mut shown = render_check(&resolved);
            for warning in &resolved.warnings {
                shown.push_str(warning);
            }
            shown.push_str(&format!("{resolved:?}"));
            shown
        }
        Err(errors) => shown_errors(&errors),
    };
    assert_no_secret_shown(given, &shown);
}

/// Everything a user may see of configuration errors.
pub fn shown_errors(errors: &ConfigErrors) -> String {
    let mut shown = render_errors(errors);
    shown.push_str(&format!("{errors} {errors:?}"));
    shown
}

/// Asserts that no value of a secret setting in `given` appears in `shown`, as typed or
/// escaped. Only values carrying [`SECRET_MARK`] and found in no other given name or value
/// are checked, so a coincidence is never reported as a leak.
pub fn assert_no_secret_shown(given: &[(String, String)], shown: &str) {
    for (index, (name, value)) in given.iter().enumerate() {
        let Some(spec) = find_setting(name) else {
            continue;
        };
        let secret = match spec.sensitivity {
            Sensitivity::Public => None,
            Sensitivity::Secret => Some(value.as_str()),
            Sensitivity::UrlWithCredentials => url_password(value),
        };
        let Some(secret) = secret.filter(|secret| secret.contains(SECRET_MARK)) else {
            continue;
        };
        if value.matches(SECRET_MARK).count() != secret.matches(SECRET_MARK).count() {
            // The mark is also outside the password, where it may show.
            continue;
        }
        let elsewhere = given
            .iter()
            .enumerate()
            .any(|(other, (n, v))| other != index && (n.contains(secret) || v.contains(secret)));
        if elsewhere {
            continue;
        }
        let escaped = format!("{secret:?}");
        let escaped = escaped.trim_matches('"');
        assert!(
            !shown.contains(secret) && !shown.contains(escaped),
            "the secret {name} is shown: {shown}"
        );
    }
}

/// The password a person means in `scheme://user:password@host/…`: everything between the
/// first `:` of the user information and the last `@`, whatever characters it holds (a
/// password typed without percent-encoding may hold `/`, `?` or `#`).
fn url_password(value: &str) -> Option<&str> {
    let (_, rest) = value.split_once("://")?;
    let (user_info, _) = rest.rsplit_once('@')?;
    let (_, password) = user_info.split_once(':')?;
    Some(password)
}
