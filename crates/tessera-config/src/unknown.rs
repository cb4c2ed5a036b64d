//! Names in tessera's namespace that are not settings: which are errors, which are warnings and
//! which are ignored, and the real name each one most likely meant.
//!
//! The rule, by where the name is given:
//! - command line: every unknown `TESSERA_*` or `AYANOVA_*` name is an error (start-up stops);
//! - config file: an unknown `TESSERA_*` name is an error; an `AYANOVA_*` name that is one of
//!   AyaNova's own settings ([`AYANOVA_SETTINGS`]) is ignored silently, so tessera can read
//!   AyaNova's config.json; any other `AYANOVA_*` name is an error;
//! - environment: an unknown `TESSERA_*` name is a warning; an `AYANOVA_*` name is ignored
//!   silently (AyaNova's environment holds many), unless it is close to a setting tessera reads,
//!   which is a warning.
//!
//! Suggestions compare names by their words (split on `_`, the `TESSERA_`/`AYANOVA_` prefix
//! dropped): equal words, words sharing their first four letters (`EXPIRY`, `EXPIRATION`),
//! abbreviations (`DB`, `DATABASE`) and words one or two edits apart count, so `JWT_EXPIRY`
//! suggests `TESSERA_JWT_EXPIRATION_MINUTES`. A name whose words match nothing is compared
//! letter by letter instead (`TESSERA_JWTSECRET`).
//!
//! Invariant: nothing here sees or shows a value, only names.

use crate::Source;
use crate::error::{ConfigError, show_plain};
use crate::sources::RawSources;
use crate::table::{FILE_SUFFIX, file_names, find_file_setting, find_setting, setting_names};

/// AyaNova's own server settings that tessera does not use, each with tessera's setting for the
/// same thing when there is one. AyaNova reads them from the same three places, so AyaNova's
/// config.json and environment hold them: there they are ignored silently.
pub(crate) const AYANOVA_SETTINGS: &[(&str, Option<&str>)] = &[
    ("AYANOVA_USE_URLS", Some("TESSERA_LISTEN")),
    ("AYANOVA_DB_CONNECTION", Some("TESSERA_DATABASE_URL")),
    ("AYANOVA_DEFAULT_TRANSLATION", None),
    ("AYANOVA_DATA_PATH", None),
    ("AYANOVA_LOG_PATH", None),
    ("AYANOVA_LOG_LEVEL", Some("TESSERA_LOG")),
    ("AYANOVA_SET_SUPERUSER_PW", None),
    ("AYANOVA_ATTACHMENT_FILES_PATH", None),
    ("AYANOVA_BACKUP_FILES_PATH", None),
    ("AYANOVA_TEMP_FILES_PATH", None),
    ("AYANOVA_BACKUP_PG_DUMP_PATH", None),
    ("AYANOVA_PERMANENTLY_ERASE_DATABASE", None),
];

/// Where the settings, and the AyaNova settings tessera ignores, are listed.
pub(crate) const SETTINGS_LIST: &str = "docs/SETTINGS.md";

/// The AyaNova setting named `key`, and tessera's setting for the same thing.
fn ayanova_setting(key: &str) -> Option<(&'static str, Option<&'static str>)> {
    AYANOVA_SETTINGS
        .iter()
        .copied()
        .find(|(name, _)| *name == key)
}

/// The errors and warnings about unknown names in every source, in source order (command line,
/// environment, config file); a name repeated in one source is reported once.
pub(crate) fn unknown_names(sources: &RawSources) -> (Vec<ConfigError>, Vec<String>) {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut seen: Vec<(&str, Source)> = Vec::new();
    let file_origin = sources
        .file
        .as_ref()
        .map(|file| Source::ConfigFile(file.path.clone()));
    let cli = sources
        .cli
        .iter()
        .map(|(key, _)| (key, Source::CommandLine));
    let env = sources
        .env
        .iter()
        .map(|(key, _)| (key, Source::Environment));
    let file = sources
        .file
        .iter()
        .zip(file_origin)
        .flat_map(|(file, origin)| {
            file.entries
                .iter()
                .map(move |(key, _)| (key, origin.clone()))
        });
    for (key, origin) in cli.chain(env).chain(file) {
        let known = find_setting(key).is_some() || find_file_setting(key).is_some();
        if known || seen.iter().any(|(k, o)| *k == key && *o == origin) {
            continue;
        }
        seen.push((key, origin.clone()));
        match judge(key, &origin) {
            Verdict::Ignore => {}
            Verdict::Warn(text) => warnings.push(text),
            Verdict::Refuse(text) => errors.push(ConfigError::about(key, Some(origin), text)),
        }
    }
    (errors, warnings)
}

/// What to do about one unknown name.
enum Verdict {
    Ignore,
    Warn(String),
    Refuse(String),
}

fn judge(key: &str, origin: &Source) -> Verdict {
    let ayanova = key.starts_with("AYANOVA_");
    if let Some((name, ours)) = ayanova_setting(key) {
        if *origin != Source::CommandLine {
            return Verdict::Ignore;
        }
        let instead = match ours {
            Some(ours) => format!("tessera's own is {ours}"),
            None => format!("tessera has no such setting (see {SETTINGS_LIST})"),
        };
        return Verdict::Refuse(format!(
            "{name} in {origin} is an AyaNova setting tessera does not use; {instead}"
        ));
    }
    let without_suffix = key.strip_suffix(FILE_SUFFIX);
    if let Some((base, spec)) =
        without_suffix.and_then(|base| find_setting(base).map(|spec| (base, spec)))
    {
        let text = format!(
            "unknown setting {key} in {origin}; only secret settings accept NAME{FILE_SUFFIX} (the \
             path of a file holding the value), and {} is not secret: give its value directly, \
             as {}",
            spec.name, base,
        );
        return match origin {
            Source::Environment => Verdict::Warn(text),
            _ => Verdict::Refuse(text),
        };
    }
    let suggestion = closest_setting(key);
    if ayanova && *origin == Source::Environment && suggestion.is_none() {
        return Verdict::Ignore;
    }
    let hint = match suggestion {
        Some(name) if ayanova_setting(name).is_some() => {
            format!("did you mean {name} (an AyaNova setting tessera ignores)?")
        }
        Some(name) => format!("did you mean {name}?"),
        None if ayanova => format!(
            "it is neither a tessera setting nor one of the AyaNova settings tessera ignores, \
             both listed in {SETTINGS_LIST}"
        ),
        None => format!("the settings are listed in {SETTINGS_LIST}"),
    };
    let text = format!("unknown setting {} in {origin}; {hint}", show_plain(key));
    match origin {
        Source::Environment => Verdict::Warn(text),
        _ => Verdict::Refuse(text),
    }
}

/// Word similarity from which a known name is suggested (twice the matched words over the
/// words of both names).
const SUGGEST_FROM_WORDS: f64 = 0.5;
/// Letter similarity (normalized edit distance, without `_`) from which a known name is
/// suggested when no name shares words.
const SUGGEST_FROM_LETTERS: f64 = 0.75;

/// The known name `key` most likely meant, when one is close enough.
///
/// Candidates are every setting name and alias, the `NAME_FILE` names of the secret settings,
/// and, for an `AYANOVA_*` key, AyaNova's own
/// settings too. Case is ignored. Among equally close names, the one with the key's prefix
/// wins, then the main name (table order).
pub(crate) fn closest_setting(key: &str) -> Option<&'static str> {
    let (prefix, wanted) = split_name(key);
    let wanted_letters: String = wanted.concat();
    let candidates = setting_names()
        .chain(file_names().iter().map(|file| file.file_name))
        .chain(
            AYANOVA_SETTINGS
                .iter()
                .map(|(name, _)| *name)
                .filter(|_| prefix == Some("AYANOVA")),
        );
    let mut best: Option<(Score, &'static str)> = None;
    for name in candidates {
        let (their_prefix, known) = split_name(name);
        let score = Score {
            words: word_score(&wanted, &known),
            letters: strsim::normalized_damerau_levenshtein(&wanted_letters, &known.concat()),
            same_prefix: prefix.is_some() && prefix == their_prefix,
        };
        if best.as_ref().is_none_or(|(top, _)| score.beats(top)) {
            best = Some((score, name));
        }
    }
    let (score, name) = best?;
    (score.words >= SUGGEST_FROM_WORDS || score.letters >= SUGGEST_FROM_LETTERS).then_some(name)
}

/// How close a known name is to the key.
struct Score {
    words: f64,
    letters: f64,
    same_prefix: bool,
}

impl Score {
    /// Whether this score is strictly better: words first (when either shares words), then
    /// letters, then the key's own prefix.
    fn beats(&self, other: &Score) -> bool {
        let words = |score: &Score| {
            if score.words >= SUGGEST_FROM_WORDS {
                score.words
            } else {
                0.0
            }
        };
        let key = |score: &Score| (words(score), score.letters, score.same_prefix);
        let (mine, theirs) = (key(self), key(other));
        match mine.0.total_cmp(&theirs.0) {
            std::cmp::Ordering::Equal => match mine.1.total_cmp(&theirs.1) {
                std::cmp::Ordering::Equal => mine.2 && !theirs.2,
                order => order.is_gt(),
            },
            order => order.is_gt(),
        }
    }
}

/// The name's prefix (`TESSERA` or `AYANOVA`, also when misspelt) and its other words, upper
/// case. A name without a recognisable prefix is all words.
fn split_name(name: &str) -> (Option<&'static str>, Vec<String>) {
    let mut words: Vec<String> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_ascii_uppercase)
        .collect();
    let prefix = words.first().and_then(|first| {
        ["TESSERA", "AYANOVA"]
            .into_iter()
            .find(|prefix| first == prefix || strsim::damerau_levenshtein(first, prefix) <= 2)
    });
    if prefix.is_some() {
        words.remove(0);
    }
    (prefix, words)
}

/// Twice the sum of each wanted word's best match, over the number of words in both names
/// (1.0 for the same words in any order, 0.0 for no word in common).
fn word_score(wanted: &[String], known: &[String]) -> f64 {
    let total = wanted.len() + known.len();
    if total == 0 {
        return 0.0;
    }
    let matched: f64 = wanted
        .iter()
        .map(|word| {
            known
                .iter()
                .map(|other| word_similarity(word, other))
                .fold(0.0, f64::max)
        })
        .sum();
    2.0 * matched / total as f64
}

/// How alike two words are, from 0.0 to 1.0: 1.0 when equal, 0.8 when they share their first
/// four letters, 0.7 when one abbreviates the other, else their normalized edit distance when
/// it is 0.75 or more (or a single edit in words of three letters or more).
fn word_similarity(a: &str, b: &str) -> f64 {
    if a == b {
        return 1.0;
    }
    let mut best: f64 = 0.0;
    let common = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    if common >= 4 {
        best = 0.8;
    }
    if abbreviates(a, b) || abbreviates(b, a) {
        best = best.max(0.7);
    }
    let edits = strsim::damerau_levenshtein(a, b);
    let longest = a.len().max(b.len());
    let close = strsim::normalized_damerau_levenshtein(a, b);
    if close >= 0.75 || (edits == 1 && longest >= 3) {
        best = best.max(close.max(0.75));
    }
    best
}

/// Whether `short` (two to four letters) abbreviates `long`: same first letter, and its letters
/// appear in `long` in order (`DB` in `DATABASE`, `PW` in `PASSWORD`, `SECS` in `SECONDS`).
fn abbreviates(short: &str, long: &str) -> bool {
    if !(2..=4).contains(&short.len()) || short.len() >= long.len() {
        return false;
    }
    if short.bytes().next() != long.bytes().next() {
        return false;
    }
    let mut rest = long.bytes();
    short.bytes().all(|wanted| rest.any(|byte| byte == wanted))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::SETTINGS;

    #[test]
    fn suggestions_follow_the_words_of_the_name() {
        for (typed, meant) in [
            ("TESSERA_JWT_EXPIRY", "TESSERA_JWT_EXPIRATION_MINUTES"),
            ("JWT_EXPIRY", "TESSERA_JWT_EXPIRATION_MINUTES"),
            ("TESSERA_SECRET", "TESSERA_JWT_SECRET"),
            ("TESSERA_DB_URL", "TESSERA_DATABASE_URL"),
            ("TESSERA_LISTEN_ADDR", "TESSERA_LISTEN"),
            ("TESSERA_JWT_SECERT", "TESSERA_JWT_SECRET"),
            ("TESSERA_JWT_ISUER", "TESSERA_JWT_ISSUER"),
            ("TESSERA_LISTN", "TESSERA_LISTEN"),
            ("TESSERA_jwt_secret", "TESSERA_JWT_SECRET"),
            ("TESSERA_JWT_EXPIRATION", "TESSERA_JWT_EXPIRATION_MINUTES"),
            ("TESSERA_JWTSECRET", "TESSERA_JWT_SECRET"),
            (
                "TESSERA_EXPIRATION_JWT_MINUTES",
                "TESSERA_JWT_EXPIRATION_MINUTES",
            ),
            ("TESSRA_LOG", "TESSERA_LOG"),
            ("TESSERA_ADMIN_PASSWD", "TESSERA_ADMIN_PASSWORD"),
            ("AYANOVA_JWT_SECERT", "AYANOVA_JWT_SECRET"),
            ("AYANOVA_SECRET", "AYANOVA_JWT_SECRET"),
            ("AYANOVA_DB_CONECTION", "AYANOVA_DB_CONNECTION"),
        ] {
            assert_eq!(closest_setting(typed), Some(meant), "{typed}");
        }
    }

    #[test]
    fn a_name_far_from_every_setting_gets_no_suggestion() {
        for typed in [
            "TESSERA_ZZZ",
            "TESSERA_FOO_BAR",
            "AYANOVA_QUUX",
            "HELP",
            "TESSERA_",
        ] {
            assert_eq!(closest_setting(typed), None, "{typed}");
        }
        assert_eq!(
            closest_setting("TESSERA_DB_CONNECTION"),
            None,
            "AyaNova's names are suggested for AYANOVA_* names only"
        );
    }

    #[test]
    fn every_name_with_one_letter_dropped_suggests_itself() {
        for spec in SETTINGS {
            for name in spec.names() {
                let start = name.find('_').map_or(0, |at| at + 1);
                for (at, letter) in name.char_indices().skip(start) {
                    if letter == '_' {
                        continue;
                    }
                    let mut typed = name.to_owned();
                    typed.remove(at);
                    if find_setting(&typed).is_some() {
                        continue;
                    }
                    let got = closest_setting(&typed);
                    assert!(
                        got.is_some_and(|got| spec.is_named(got)),
                        "{typed} suggests {got:?}, not {name}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_name_with_two_letters_swapped_suggests_itself() {
        for spec in SETTINGS {
            for name in spec.names() {
                let bytes = name.as_bytes();
                let start = name.find('_').map_or(0, |at| at + 1);
                for at in start..bytes.len().saturating_sub(1) {
                    let mut typed = bytes.to_vec();
                    typed.swap(at, at + 1);
                    let typed = String::from_utf8(typed).unwrap();
                    if typed == name || find_setting(&typed).is_some() {
                        continue;
                    }
                    let got = closest_setting(&typed);
                    assert!(
                        got.is_some_and(|got| spec.is_named(got)),
                        "{typed} suggests {got:?}, not {name}"
                    );
                }
            }
        }
    }

    #[test]
    fn words_are_alike_by_prefix_abbreviation_or_a_few_edits() {
        assert_eq!(word_similarity("JWT", "JWT"), 1.0);
        assert!(word_similarity("EXPIRY", "EXPIRATION") >= 0.8);
        assert!(word_similarity("DB", "DATABASE") >= 0.7);
        assert!(word_similarity("SECERT", "SECRET") >= 0.75);
        assert_eq!(word_similarity("EXPIRY", "SECRET"), 0.0);
        assert_eq!(word_similarity("DB", "URL"), 0.0);
        assert!(abbreviates("PW", "PASSWORD"));
        assert!(!abbreviates("WP", "PASSWORD"));
        assert!(!abbreviates("DATABASES", "DATABASE"));
    }

    #[test]
    fn ayanova_settings_are_not_tessera_settings_and_name_real_ones() {
        for (name, ours) in AYANOVA_SETTINGS {
            assert!(name.starts_with("AYANOVA_"), "{name}");
            assert!(find_setting(name).is_none(), "{name} is tessera's");
            if let Some(ours) = ours {
                assert!(find_setting(ours).is_some(), "{ours}");
            }
        }
    }
}
