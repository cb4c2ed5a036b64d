//! What a client is told when axum's JSON or path extractors refuse its request: the field
//! or parameter by name and what was expected there, never the value it sent (a value in
//! the wrong place may be a password).
//!
//! serde's messages name the value it did not expect (`invalid type: string "hunter2",
//! expected a boolean`); these functions keep the field's path (from `serde_path_to_error`,
//! which axum's `Json` already runs), the kind of value and the expectation, and drop the
//! value. A field name is repeated only when it could be one of ours: short, and made of
//! letters, digits, `_` and `-`.

use std::error::Error as _;

use axum::extract::path::ErrorKind;
use axum::extract::rejection::{JsonRejection, PathRejection};

use super::error::ApiError;

/// The longest field name repeated back in a message.
const MAX_ECHOED_NAME: usize = 32;

type PathError = serde_path_to_error::Error<serde_json::Error>;

/// The [`ApiError`] for a refused JSON body.
pub(super) fn json_rejection(rejection: &JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        JsonRejection::JsonSyntaxError(error) => {
            let detail = error
                .source()
                .and_then(|error| error.source())
                .and_then(|inner| {
                    inner
                        .downcast_ref::<PathError>()
                        .map(|error| error.inner().to_string())
                        .or_else(|| {
                            inner
                                .downcast_ref::<serde_json::Error>()
                                .map(ToString::to_string)
                        })
                });
            // serde_json's syntax messages are fixed texts and a position: nothing of the body.
            ApiError::BadRequest(match detail {
                Some(detail) => format!("request body is not valid JSON: {detail}"),
                None => "request body is not valid JSON".into(),
            })
        }
        JsonRejection::JsonDataError(error) => {
            let shape = error
                .source()
                .and_then(|error| error.source())
                .and_then(|inner| inner.downcast_ref::<PathError>());
            ApiError::Unprocessable(match shape {
                Some(error) => shape_message(error),
                None => "request body does not have the expected fields and types".into(),
            })
        }
        JsonRejection::BytesRejection(_) if rejection.status().as_u16() == 413 => {
            ApiError::PayloadTooLarge
        }
        _ => ApiError::BadRequest("request body could not be read".into()),
    }
}

/// The [`ApiError`] for refused path parameters, naming the parameter.
pub(super) fn path_rejection(rejection: &PathRejection) -> ApiError {
    let PathRejection::FailedToDeserializePathParams(error) = rejection else {
        // The route and the extractor disagree: a bug of ours, not the client's.
        return ApiError::Internal(format!("path parameters: {rejection}"));
    };
    match error.kind() {
        ErrorKind::InvalidUtf8InPathParam { key } => ApiError::BadRequest(format!(
            "path parameter `{key}` is not UTF-8 once percent-decoded"
        )),
        ErrorKind::ParseErrorAtKey {
            key, expected_type, ..
        } => ApiError::BadRequest(format!("path parameter `{key}` must be a {expected_type}")),
        _ => ApiError::BadRequest("the path parameters could not be read".into()),
    }
}

/// `` `path`: what was wrong `` for a body of the wrong shape; no path for the body itself.
fn shape_message(error: &PathError) -> String {
    let what = mismatch(&without_position(error.inner().to_string()));
    match field_path(error.path()) {
        Some(path) => format!("`{path}`: {what}"),
        None => what,
    }
}

/// serde_json's message without its ` at line L column C` suffix (a body of the wrong shape
/// is told by its field, not its position).
fn without_position(mut message: String) -> String {
    if let Some(at) = message.rfind(" at line ") {
        let rest = message.get(at + " at line ".len()..).unwrap_or_default();
        let positional = rest
            .split_once(" column ")
            .is_some_and(|(line, column)| is_number(line) && is_number(column));
        if positional {
            message.truncate(at);
        }
    }
    message
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// The field's path as `roles[1]` or `user.name`; `None` for the body itself.
fn field_path(path: &serde_path_to_error::Path) -> Option<String> {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => {
                out.push('[');
                out.push_str(&index.to_string());
                out.push(']');
            }
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(if is_our_name(key) { key } else { "?" });
            }
            Segment::Unknown => out.push_str(".?"),
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Whether a name sent by the client may be repeated: it looks like one of our field names.
fn is_our_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_ECHOED_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// serde's message for a value of the wrong shape, with the value itself left out and its
/// words made JSON's (an object, an array, a number).
fn mismatch(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((unexpected, expected)) = rest.rsplit_once(", expected ")
        {
            return format!(
                "{prefix}{}, expected {}",
                value_kind(unexpected),
                expected_text(expected)
            );
        }
    }
    if let Some(rest) = message.strip_prefix("invalid length ")
        && let Some((_, expected)) = rest.split_once(", expected ")
    {
        // A derived struct also takes an array of its fields; say what clients should send.
        if expected.starts_with("struct ") {
            return "invalid type: array, expected a JSON object".into();
        }
        return message.to_owned();
    }
    for prefix in ["unknown field `", "unknown variant `"] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((name, rest)) = rest.split_once('`')
        {
            let thing = prefix.trim_end_matches(" `");
            return if is_our_name(name) {
                format!("{thing} `{name}`{rest}")
            } else {
                format!("{thing}{rest}")
            };
        }
    }
    if message.starts_with("missing field `") || message.starts_with("duplicate field `") {
        // Our own field names.
        return message.to_owned();
    }
    if message.contains(['`', '"', '\'']) {
        "a value does not have the expected type".into()
    } else {
        message.to_owned()
    }
}

/// The kind of an unexpected value without the value: `string "x"` → `string`,
/// `integer `5`` → `integer`.
fn value_kind(unexpected: &str) -> &str {
    let quoted_from = [" `", " \""]
        .into_iter()
        .filter_map(|quote| unexpected.find(quote))
        .min();
    let kind = quoted_from
        .and_then(|at| unexpected.get(..at))
        .unwrap_or(unexpected);
    match kind {
        "map" => "object",
        "sequence" => "array",
        "floating point" => "number",
        other if other.contains(['`', '"', '\'']) => "value",
        other => other,
    }
}

/// serde's expectation in JSON's words.
fn expected_text(expected: &str) -> String {
    if expected.starts_with("struct ") {
        return "a JSON object".into();
    }
    expected
        .replace("a sequence", "an array")
        .replace("a map", "an object")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_left_out_and_kinds_kept() {
        let cases = [
            (
                r#"invalid type: string "hunter2", expected a boolean"#,
                "invalid type: string, expected a boolean",
            ),
            (
                "invalid type: integer `73195604`, expected a string",
                "invalid type: integer, expected a string",
            ),
            (
                "invalid type: floating point `1.5`, expected a string",
                "invalid type: number, expected a string",
            ),
            (
                "invalid type: boolean `true`, expected a string",
                "invalid type: boolean, expected a string",
            ),
            (
                "invalid type: null, expected a string",
                "invalid type: null, expected a string",
            ),
            (
                "invalid type: map, expected a sequence",
                "invalid type: object, expected an array",
            ),
            (
                "invalid type: sequence, expected struct LoginBody",
                "invalid type: array, expected a JSON object",
            ),
            (
                r#"invalid type: string "a, expected b", expected a boolean"#,
                "invalid type: string, expected a boolean",
            ),
            (
                "invalid length 0, expected struct LoginBody with 3 elements",
                "invalid type: array, expected a JSON object",
            ),
            ("missing field `password`", "missing field `password`"),
            (
                "unknown field `colour`, expected one of `active`, `roles`, `password`",
                "unknown field `colour`, expected one of `active`, `roles`, `password`",
            ),
            (
                "unknown field `my password is hunter2`, expected `a`",
                "unknown field, expected `a`",
            ),
            (
                "some future message naming `hunter2`",
                "a value does not have the expected type",
            ),
        ];
        for (serde, ours) in cases {
            assert_eq!(mismatch(serde), ours, "{serde}");
        }
    }

    #[test]
    fn the_position_is_cut_only_when_it_is_one() {
        assert_eq!(
            without_position("missing field `a` at line 1 column 9".into()),
            "missing field `a`"
        );
        assert_eq!(
            without_position("odd at line x column y".into()),
            "odd at line x column y"
        );
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        roles: Vec<String>,
        active: bool,
    }

    fn refused(body: &str) -> String {
        let rejection = axum::Json::<Body>::from_bytes(body.as_bytes()).unwrap_err();
        json_rejection(&rejection).to_string()
    }

    #[test]
    fn axum_s_rejections_give_the_field_s_path() {
        assert_eq!(
            refused(r#"{"roles": ["a", 5], "active": true}"#),
            "`roles[1]`: invalid type: integer, expected a string"
        );
        assert_eq!(
            refused(r#"{"roles": [], "active": "hunter2"}"#),
            "`active`: invalid type: string, expected a boolean"
        );
        assert_eq!(refused(r#"{"roles": []}"#), "missing field `active`");
        assert_eq!(
            refused(r#"{"roles": [], "#),
            "request body is not valid JSON: EOF while parsing a value at line 1 column 14"
        );
        assert_eq!(
            refused(r#"{"roles": [], "active": true} x"#),
            "request body is not valid JSON: trailing characters at line 1 column 31"
        );
    }
}
