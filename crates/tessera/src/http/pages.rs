//! The browser pages and the static files they load, embedded in the binary.
//!
//! Every file under `crates/tessera/web/`, and the JS client (`clients/js/tessera.js`), is
//! compiled in with `include_str!`: nothing is read from disk or the network at run time. At
//! first use each asset's `{{asset:NAME}}` placeholders are replaced by the hashed paths of
//! the assets they name, dependencies first, and only then is the asset itself hashed, so a
//! page script that imports the client changes path whenever the client changes.
//!
//! What pages share (the `<head>`, the header and its navigation, the closing tags, the
//! table of sessions) is written once, in the partials under `web/partials/`. A page includes one with
//! `{{include:NAME key=value key="a value"}}`, on a line of its own: the partial's text, its
//! last newline dropped and each `{{param:key}}` replaced by the value given, takes the
//! directive's place before the asset placeholders are resolved, so a partial may name
//! assets, even through a parameter (`{{asset:{{param:script}}}}`). Values are written into
//! the HTML as they are. Partials do not include partials, and an include must give exactly
//! the parameters its partial uses.
//!
//! Assets are served at `/assets/<stem>.<hash>.<ext>`, cacheable for a year and immutable;
//! the client also at the stable [`CLIENT_PATH`], revalidated by its `ETag`, for web apps on
//! the same site that import it. Pages are HTML with the page [`PAGE_CSP`] (no inline script
//! or style), revalidated on every load. None of these are API operations: they stay out of
//! the OpenAPI document.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use sha2::{Digest as _, Sha256};

use super::{ApiError, AppState};

/// The client's stable path: revalidated on every use (`no-cache` and a strong `ETag`).
pub const CLIENT_PATH: &str = "/tessera.js";
/// Where the hashed assets are served, one path segment below.
const ASSETS_PREFIX: &str = "/assets/";
/// The routes this module adds: the pages, the assets and the client's stable path.
pub const PAGE_ROUTES: [&str; 9] = [
    "/",
    "/login",
    "/account",
    "/sessions",
    "/password",
    "/admin/users",
    "/admin/user",
    "/assets/{file}",
    CLIENT_PATH,
];
/// The policy of every page: scripts, styles and requests from this origin only, nothing
/// inline, no framing.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                            img-src 'self' data:; connect-src 'self'; form-action 'self'; \
                            frame-ancestors 'none'; base-uri 'none'";
/// `Cache-Control` of a hashed asset: its path changes whenever its content does.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of the pages and the client's stable path.
const REVALIDATE: &str = "no-cache";
/// Hex digits of the content hash in an asset's path (64 bits).
const HASH_HEX_LEN: usize = 16;
/// What opens a placeholder; `}}` closes it.
const PLACEHOLDER_OPEN: &str = "{{asset:";
/// What closes a placeholder, an include or a parameter.
const PLACEHOLDER_CLOSE: &str = "}}";
/// What opens a page's include of a partial; `}}` closes it.
const INCLUDE_OPEN: &str = "{{include:";
/// What opens a parameter in a partial; `}}` closes it.
const PARAM_OPEN: &str = "{{param:";

/// The embedded assets, by name (`tessera.js`, `login.js`, `style.css`).
const ASSET_SOURCES: [(&str, &str); 9] = [
    (
        "tessera.js",
        include_str!("../../../../clients/js/tessera.js"),
    ),
    ("style.css", include_str!("../../web/assets/style.css")),
    ("common.js", include_str!("../../web/assets/common.js")),
    ("login.js", include_str!("../../web/assets/login.js")),
    ("account.js", include_str!("../../web/assets/account.js")),
    ("sessions.js", include_str!("../../web/assets/sessions.js")),
    ("password.js", include_str!("../../web/assets/password.js")),
    (
        "admin-users.js",
        include_str!("../../web/assets/admin-users.js"),
    ),
    (
        "admin-user.js",
        include_str!("../../web/assets/admin-user.js"),
    ),
];

/// The embedded pages, by the path they are served at.
const PAGE_SOURCES: [(&str, &str); 6] = [
    ("/login", include_str!("../../web/pages/login.html")),
    ("/account", include_str!("../../web/pages/account.html")),
    ("/sessions", include_str!("../../web/pages/sessions.html")),
    ("/password", include_str!("../../web/pages/password.html")),
    (
        "/admin/users",
        include_str!("../../web/pages/admin-users.html"),
    ),
    (
        "/admin/user",
        include_str!("../../web/pages/admin-user.html"),
    ),
];

/// The embedded partials, by the name pages include them by.
const PARTIAL_SOURCES: [(&str, &str); 4] = [
    ("head.html", include_str!("../../web/partials/head.html")),
    ("nav.html", include_str!("../../web/partials/nav.html")),
    ("foot.html", include_str!("../../web/partials/foot.html")),
    (
        "sessions-table.html",
        include_str!("../../web/partials/sessions-table.html"),
    ),
];

/// The embedded files, includes and placeholders resolved and hashed at first use.
static EMBEDDED: LazyLock<Result<Assets, AssetError>> =
    LazyLock::new(|| Assets::build(&ASSET_SOURCES, &PARTIAL_SOURCES, &PAGE_SOURCES));

/// Why a set of web files cannot be served; a test checks the embedded set has none.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssetError {
    /// A placeholder names no asset of the set.
    #[error("`{file}` refers to `{name}`, which is not an asset")]
    Unknown {
        /// The file holding the placeholder.
        file: String,
        /// The name it refers to.
        name: String,
    },
    /// A placeholder, an include or a parameter is opened and never closed.
    #[error("`{file}` has an unclosed `{opening}`")]
    Unclosed {
        /// The file holding it.
        file: String,
        /// What opens it: `{{asset:`, `{{include:` or `{{param:`.
        opening: &'static str,
    },
    /// An include names no partial of the set.
    #[error("`{file}` includes `{name}`, which is not a partial")]
    UnknownPartial {
        /// The page holding the include.
        file: String,
        /// The name it includes.
        name: String,
    },
    /// A partial includes another; partials do not nest.
    #[error("the partial `{0}` includes another partial; partials do not nest")]
    NestedInclude(String),
    /// An include's parameter is not `key=value` or `key="value"`, or is given twice.
    #[error("`{file}` passes `{parameter}` to a partial, {reason}")]
    BadParameter {
        /// The page holding the include.
        file: String,
        /// The parameter as written.
        parameter: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A partial uses a parameter its include does not give.
    #[error("`{file}` includes `{partial}` without the parameter `{name}` it uses")]
    MissingParameter {
        /// The page holding the include.
        file: String,
        /// The partial.
        partial: String,
        /// The parameter.
        name: String,
    },
    /// An include gives a parameter its partial does not use.
    #[error("`{file}` passes `{name}` to `{partial}`, which does not use it")]
    UnusedParameter {
        /// The page holding the include.
        file: String,
        /// The partial.
        partial: String,
        /// The parameter.
        name: String,
    },
    /// A page uses a parameter outside any partial.
    #[error("`{file}` uses the parameter `{name}` outside a partial")]
    StrayParameter {
        /// The page.
        file: String,
        /// The parameter.
        name: String,
    },
    /// Assets refer to each other, so none of them can be hashed first.
    #[error("assets refer to each other in a cycle: {0}")]
    Cycle(String),
    /// An asset name without a known extension (`.js`, `.css`, `.svg`).
    #[error("`{0}` has no known extension (.js, .css, .svg)")]
    UnknownType(String),
}

/// One asset, ready to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// `/assets/<stem>.<hash>.<ext>`.
    pub path: String,
    /// The first [`HASH_HEX_LEN`] hex digits of the SHA-256 of [`Asset::body`].
    pub hash: String,
    /// The content, placeholders replaced.
    pub body: String,
    /// `Content-Type`, from the extension.
    pub content_type: &'static str,
}

/// A set of assets and the pages that use them, placeholders resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assets {
    /// By name (`tessera.js`).
    by_name: HashMap<String, Asset>,
    /// The name of each asset, by its hashed file name (`tessera.0123456789abcdef.js`).
    by_file: HashMap<String, String>,
    /// Each page's HTML, by its path.
    pages: HashMap<String, String>,
}

impl Assets {
    /// Resolves `assets` (name, text) in dependency order, hashing each after replacing its
    /// placeholders, then the includes of `pages` (path, HTML) of `partials` (name, HTML)
    /// and then their placeholders.
    pub fn build(
        assets: &[(&str, &str)],
        partials: &[(&str, &str)],
        pages: &[(&str, &str)],
    ) -> Result<Self, AssetError> {
        for (name, text) in partials {
            if text.contains(INCLUDE_OPEN) {
                return Err(AssetError::NestedInclude((*name).to_owned()));
            }
        }
        let partials: HashMap<&str, &str> = partials.iter().copied().collect();
        let pages = pages
            .iter()
            .map(|(path, html)| Ok((*path, include_partials(path, html, &partials)?)))
            .collect::<Result<Vec<_>, AssetError>>()?;
        let names: Vec<&str> = assets.iter().map(|(name, _)| *name).collect();
        let page_texts = pages.iter().map(|(path, html)| (*path, html.as_str()));
        for (file, text) in assets.iter().copied().chain(page_texts) {
            for name in placeholders(file, text)? {
                if !names.contains(&name) {
                    return Err(AssetError::Unknown {
                        file: (*file).to_owned(),
                        name: name.to_owned(),
                    });
                }
            }
        }
        let mut resolved: HashMap<String, Asset> = HashMap::new();
        let mut pending: Vec<(&str, &str)> = assets.to_vec();
        while !pending.is_empty() {
            let mut ready = Vec::new();
            let mut waiting = Vec::new();
            for (name, text) in pending {
                let dependencies = placeholders(name, text)?;
                if dependencies.iter().all(|dep| resolved.contains_key(*dep)) {
                    ready.push((name, text));
                } else {
                    waiting.push((name, text));
                }
            }
            if ready.is_empty() {
                let names: Vec<&str> = waiting.iter().map(|(name, _)| *name).collect();
                return Err(AssetError::Cycle(names.join(", ")));
            }
            for (name, text) in ready {
                let body = substitute(name, text, &resolved)?;
                let hash = content_hash(&body);
                let (path, content_type) = hashed_path(name, &hash)?;
                resolved.insert(
                    name.to_owned(),
                    Asset {
                        path,
                        hash,
                        body,
                        content_type,
                    },
                );
            }
            pending = waiting;
        }
        let by_file = resolved
            .iter()
            .filter_map(|(name, asset)| {
                let file = asset.path.strip_prefix(ASSETS_PREFIX)?;
                Some((file.to_owned(), name.clone()))
            })
            .collect();
        let pages = pages
            .iter()
            .map(|(path, html)| Ok(((*path).to_owned(), substitute(path, html, &resolved)?)))
            .collect::<Result<_, AssetError>>()?;
        Ok(Self {
            by_name: resolved,
            by_file,
            pages,
        })
    }

    /// The asset called `name` (`tessera.js`).
    pub fn asset(&self, name: &str) -> Option<&Asset> {
        self.by_name.get(name)
    }

    /// The asset served at `/assets/<file>`.
    pub fn by_file(&self, file: &str) -> Option<&Asset> {
        self.by_name.get(self.by_file.get(file)?)
    }

    /// The HTML of the page served at `path`.
    pub fn page(&self, path: &str) -> Option<&str> {
        self.pages.get(path).map(String::as_str)
    }
}

/// The names `text`'s placeholders refer to, in order.
fn placeholders<'a>(file: &str, text: &'a str) -> Result<Vec<&'a str>, AssetError> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(PLACEHOLDER_OPEN) {
        let after = &rest[start + PLACEHOLDER_OPEN.len()..];
        let end = after.find(PLACEHOLDER_CLOSE).ok_or(AssetError::Unclosed {
            file: file.to_owned(),
            opening: PLACEHOLDER_OPEN,
        })?;
        names.push(&after[..end]);
        rest = &after[end + PLACEHOLDER_CLOSE.len()..];
    }
    Ok(names)
}

/// `text` with every placeholder replaced by the path of the asset it names.
fn substitute(
    file: &str,
    text: &str,
    resolved: &HashMap<String, Asset>,
) -> Result<String, AssetError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(PLACEHOLDER_OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + PLACEHOLDER_OPEN.len()..];
        let end = after.find(PLACEHOLDER_CLOSE).ok_or(AssetError::Unclosed {
            file: file.to_owned(),
            opening: PLACEHOLDER_OPEN,
        })?;
        let name = &after[..end];
        let asset = resolved.get(name).ok_or_else(|| AssetError::Unknown {
            file: file.to_owned(),
            name: name.to_owned(),
        })?;
        out.push_str(&asset.path);
        rest = &after[end + PLACEHOLDER_CLOSE.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `html` (the page served at `file`) with each `{{include:NAME …}}` replaced by the partial
/// called `NAME`, its parameters filled in.
fn include_partials(
    file: &str,
    html: &str,
    partials: &HashMap<&str, &str>,
) -> Result<String, AssetError> {
    let stray = |text: &str| -> Result<(), AssetError> {
        match text.find(PARAM_OPEN) {
            None => Ok(()),
            Some(start) => {
                let after = &text[start + PARAM_OPEN.len()..];
                let name = after.split(PLACEHOLDER_CLOSE).next().unwrap_or(after);
                Err(AssetError::StrayParameter {
                    file: file.to_owned(),
                    name: name.to_owned(),
                })
            }
        }
    };
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find(INCLUDE_OPEN) {
        stray(&rest[..start])?;
        out.push_str(&rest[..start]);
        let after = &rest[start + INCLUDE_OPEN.len()..];
        let end = after.find(PLACEHOLDER_CLOSE).ok_or(AssetError::Unclosed {
            file: file.to_owned(),
            opening: INCLUDE_OPEN,
        })?;
        let directive = after[..end].trim();
        let (name, arguments) = directive
            .split_once(char::is_whitespace)
            .unwrap_or((directive, ""));
        let partial = partials
            .get(name)
            .ok_or_else(|| AssetError::UnknownPartial {
                file: file.to_owned(),
                name: name.to_owned(),
            })?;
        let parameters = parameters(file, arguments)?;
        out.push_str(&fill(file, name, partial, &parameters)?);
        rest = &after[end + PLACEHOLDER_CLOSE.len()..];
    }
    stray(rest)?;
    out.push_str(rest);
    Ok(out)
}

/// Why a parameter that is not one is refused.
const NOT_KEY_VALUE: &str = "which is not key=value or key=\"value\"";

/// The parameters of an include, `key=value` or `key="a value"` separated by white space, in
/// order.
fn parameters<'a>(file: &str, arguments: &'a str) -> Result<Vec<(&'a str, &'a str)>, AssetError> {
    let bad = |parameter: &str, reason: &'static str| AssetError::BadParameter {
        file: file.to_owned(),
        parameter: parameter.to_owned(),
        reason,
    };
    let mut parameters: Vec<(&str, &str)> = Vec::new();
    let mut rest = arguments.trim_start();
    while !rest.is_empty() {
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let Some((key, value_start)) = rest.split_once('=') else {
            return Err(bad(&rest[..word_end], NOT_KEY_VALUE));
        };
        let valid_key = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_key {
            return Err(bad(&rest[..word_end], NOT_KEY_VALUE));
        }
        let (value, after) = if let Some(quoted) = value_start.strip_prefix('"') {
            let close = quoted
                .find('"')
                .ok_or_else(|| bad(rest, "whose quote is never closed"))?;
            let after = &quoted[close + 1..];
            if !after.is_empty() && !after.starts_with(char::is_whitespace) {
                let end = after.find(char::is_whitespace).unwrap_or(after.len());
                let written = &rest[..rest.len() - after.len() + end];
                return Err(bad(written, "which goes on after its closing quote"));
            }
            (&quoted[..close], after)
        } else {
            let end = value_start
                .find(char::is_whitespace)
                .unwrap_or(value_start.len());
            (&value_start[..end], &value_start[end..])
        };
        if parameters.iter().any(|(given, _)| *given == key) {
            let written = &rest[..rest.len() - after.len()];
            return Err(bad(written, "which the include already gives"));
        }
        parameters.push((key, value));
        rest = after.trim_start();
    }
    Ok(parameters)
}

/// The partial `name` (`text`, included by `file`) with its last newline dropped and each
/// `{{param:key}}` replaced by the value of `key` in `parameters`, all of which it must use.
fn fill(
    file: &str,
    name: &str,
    text: &str,
    parameters: &[(&str, &str)],
) -> Result<String, AssetError> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    let mut used = vec![false; parameters.len()];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(PARAM_OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + PARAM_OPEN.len()..];
        let end = after.find(PLACEHOLDER_CLOSE).ok_or(AssetError::Unclosed {
            file: name.to_owned(),
            opening: PARAM_OPEN,
        })?;
        let key = &after[..end];
        let index = parameters
            .iter()
            .position(|(given, _)| *given == key)
            .ok_or_else(|| AssetError::MissingParameter {
                file: file.to_owned(),
                partial: name.to_owned(),
                name: key.to_owned(),
            })?;
        used[index] = true;
        out.push_str(parameters[index].1);
        rest = &after[end + PLACEHOLDER_CLOSE.len()..];
    }
    out.push_str(rest);
    if let Some(index) = used.iter().position(|used| !used) {
        return Err(AssetError::UnusedParameter {
            file: file.to_owned(),
            partial: name.to_owned(),
            name: parameters[index].0.to_owned(),
        });
    }
    Ok(out)
}

/// The first [`HASH_HEX_LEN`] hex digits of the SHA-256 of `body`.
fn content_hash(body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    let mut hex = String::with_capacity(HASH_HEX_LEN);
    for byte in digest.iter().take(HASH_HEX_LEN / 2) {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// `/assets/<stem>.<hash>.<ext>` and the `Content-Type` of the asset called `name`.
fn hashed_path(name: &str, hash: &str) -> Result<(String, &'static str), AssetError> {
    let unknown = || AssetError::UnknownType(name.to_owned());
    let (stem, extension) = name.rsplit_once('.').ok_or_else(unknown)?;
    let content_type = match extension {
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        _ => return Err(unknown()),
    };
    Ok((
        format!("{ASSETS_PREFIX}{stem}.{hash}.{extension}"),
        content_type,
    ))
}

/// The pages, the hashed assets and the client's stable path.
pub(super) fn routes() -> Router<AppState> {
    let mut router = Router::new()
        .route("/", get(|| async { Redirect::to("/account") }))
        .route("/assets/{file}", get(get_asset))
        .route(CLIENT_PATH, get(get_client));
    for (path, _) in PAGE_SOURCES {
        router = router.route(path, get(move || async move { page(path) }));
    }
    router
}

/// The embedded set, or the 500 that says why it cannot be served.
fn embedded() -> Result<&'static Assets, ApiError> {
    EMBEDDED
        .as_ref()
        .map_err(|error| ApiError::Internal(format!("embedded web files: {error}")))
}

/// A page: HTML with the page policy, revalidated on every load.
fn page(path: &str) -> Result<Response, ApiError> {
    let html = embedded()?.page(path).ok_or(ApiError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, REVALIDATE),
            (header::CONTENT_SECURITY_POLICY, PAGE_CSP),
        ],
        html,
    )
        .into_response())
}

/// `GET /assets/<stem>.<hash>.<ext>`: immutable; any other file is the JSON 404.
async fn get_asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    let asset = embedded()?.by_file(&file).ok_or(ApiError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, IMMUTABLE),
        ],
        asset.body.as_str(),
    )
        .into_response())
}

/// `GET /tessera.js`: the client at its stable path, `304` when `If-None-Match` names it.
async fn get_client(headers: HeaderMap) -> Result<Response, ApiError> {
    let asset = embedded()?
        .asset("tessera.js")
        .ok_or_else(|| ApiError::Internal("the client is not embedded".into()))?;
    let etag = format!("\"{}\"", asset.hash);
    let etag_value = HeaderValue::from_str(&etag)
        .map_err(|_| ApiError::Internal("the client's ETag is not a header value".into()))?;
    let cache = [
        (header::ETAG, etag_value),
        (header::CACHE_CONTROL, HeaderValue::from_static(REVALIDATE)),
    ];
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| none_match_names(value, &etag));
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    Ok((
        cache,
        [(header::CONTENT_TYPE, asset.content_type)],
        asset.body.as_str(),
    )
        .into_response())
}

/// Whether an `If-None-Match` value (`*` or a list of tags, weak or strong) names `etag`;
/// the comparison is weak, as RFC 9110 asks for this header.
fn none_match_names(value: &str, etag: &str) -> bool {
    value
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn built(assets: &[(&str, &str)]) -> Assets {
        Assets::build(
            assets,
            &[],
            &[("/p", "<script src=\"{{asset:page.js}}\"></script>")],
        )
        .unwrap()
    }

    /// The HTML of the page `/p` of `html`, including from `partials`, with `page.js`.
    fn page_of(partials: &[(&str, &str)], html: &str) -> Result<String, AssetError> {
        let assets = Assets::build(&[("page.js", "")], partials, &[("/p", html)])?;
        Ok(assets.page("/p").unwrap().to_owned())
    }

    #[test]
    fn the_embedded_files_resolve_and_every_page_is_there() {
        let assets = EMBEDDED.as_ref().unwrap();
        for (path, _) in PAGE_SOURCES {
            let html = assets.page(path).unwrap();
            assert!(!html.contains(PLACEHOLDER_OPEN), "{path}");
        }
        for (name, _) in ASSET_SOURCES {
            let asset = assets.asset(name).unwrap();
            assert!(!asset.body.contains(PLACEHOLDER_OPEN), "{name}");
            let file = asset.path.strip_prefix(ASSETS_PREFIX).unwrap();
            assert_eq!(assets.by_file(file), Some(asset));
        }
    }

    #[test]
    fn a_dependency_changes_the_hash_of_what_imports_it() {
        let page = "import { x } from '{{asset:lib.js}}';";
        let before = built(&[("page.js", page), ("lib.js", "export const x = 1;")]);
        let after = built(&[("page.js", page), ("lib.js", "export const x = 2;")]);
        let (lib_before, lib_after) = (
            before.asset("lib.js").unwrap(),
            after.asset("lib.js").unwrap(),
        );
        assert_ne!(lib_before.path, lib_after.path);
        let (page_before, page_after) = (
            before.asset("page.js").unwrap(),
            after.asset("page.js").unwrap(),
        );
        assert_ne!(
            page_before.path, page_after.path,
            "the importer follows its import"
        );
        assert_eq!(
            page_after.body,
            format!("import {{ x }} from '{}';", lib_after.path)
        );
        assert!(before.page("/p").unwrap().contains(&page_before.path));
        assert!(after.page("/p").unwrap().contains(&page_after.path));
        // Declared after its importer, lib.js is still resolved first; the same content
        // always gets the same path.
        let again = built(&[("lib.js", "export const x = 1;"), ("page.js", page)]);
        assert_eq!(again.asset("page.js"), before.asset("page.js"));
    }

    #[test]
    fn hashed_paths_keep_the_stem_and_extension_and_carry_the_type() {
        let assets = built(&[("page.js", ""), ("site.css", "a{}"), ("icon.svg", "<svg/>")]);
        let css = assets.asset("site.css").unwrap();
        assert_eq!(css.hash.len(), HASH_HEX_LEN);
        assert_eq!(css.path, format!("/assets/site.{}.css", css.hash));
        assert_eq!(css.content_type, "text/css; charset=utf-8");
        assert_eq!(
            assets.asset("icon.svg").unwrap().content_type,
            "image/svg+xml"
        );
        assert_eq!(
            assets.asset("page.js").unwrap().content_type,
            "text/javascript; charset=utf-8"
        );
    }

    #[test]
    fn broken_sets_are_refused_with_the_reason() {
        let pages: [(&str, &str); 0] = [];
        assert_eq!(
            Assets::build(&[("a.js", "{{asset:b.js}}")], &[], &pages),
            Err(AssetError::Unknown {
                file: "a.js".into(),
                name: "b.js".into()
            })
        );
        assert_eq!(
            Assets::build(&[("a.js", "{{asset:a.js")], &[], &pages),
            Err(AssetError::Unclosed {
                file: "a.js".into(),
                opening: "{{asset:",
            })
        );
        assert_eq!(
            Assets::build(
                &[("a.js", "{{asset:b.js}}"), ("b.js", "{{asset:a.js}}")],
                &[],
                &pages
            ),
            Err(AssetError::Cycle("a.js, b.js".into()))
        );
        assert_eq!(
            Assets::build(&[("a.txt", "")], &[], &pages),
            Err(AssetError::UnknownType("a.txt".into()))
        );
        assert_eq!(
            Assets::build(&[("a.js", "")], &[], &[("/p", "{{asset:nope.css}}")]),
            Err(AssetError::Unknown {
                file: "/p".into(),
                name: "nope.css".into()
            })
        );
    }

    #[test]
    fn an_include_is_replaced_by_its_partial_with_the_parameters_filled_in() {
        let head = (
            "head.html",
            "<title>{{param:title}} · site</title>\n\
             <script src=\"{{asset:{{param:script}}}}\"></script>\n",
        );
        let html = page_of(
            &[head, ("nav.html", "<nav></nav>\n")],
            "{{include:head.html title=\"Your account\" script=page.js}}\n\
             {{include:nav.html}}\n<main></main>\n",
        )
        .unwrap();
        let assets = Assets::build(&[("page.js", "")], &[], &[]).unwrap();
        let script = &assets.asset("page.js").unwrap().path;
        assert_eq!(
            html,
            format!(
                "<title>Your account · site</title>\n<script src=\"{script}\"></script>\n\
                 <nav></nav>\n<main></main>\n"
            ),
            "the partial's own last newline is dropped, the page's kept"
        );
        // A value may be written without quotes, and a parameter used twice.
        assert_eq!(
            page_of(
                &[("p.html", "{{param:x}}{{param:x}}")],
                "{{include:p.html x=ab}}"
            ),
            Ok("abab".into())
        );
    }

    #[test]
    fn the_embedded_pages_share_the_head_and_the_navigation() {
        let assets = EMBEDDED.as_ref().unwrap();
        let style = &assets.asset("style.css").unwrap().path;
        for (path, _) in PAGE_SOURCES {
            let html = assets.page(path).unwrap();
            assert!(
                html.starts_with("<!doctype html>\n<html lang=\"en\">\n<head>\n"),
                "{path}"
            );
            assert!(
                html.contains(&format!("<link rel=\"stylesheet\" href=\"{style}\">")),
                "{path}"
            );
            assert_eq!(html.matches("<title>").count(), 1, "{path}");
            assert!(html.contains(" · tessera</title>"), "{path}");
            let nav = html.contains("<nav id=\"nav\" aria-label=\"Main\" data-current-page=\"/");
            assert_eq!(nav, path != "/login", "{path}");
        }
        for (name, _) in PARTIAL_SOURCES {
            let include = format!("{INCLUDE_OPEN}{name}");
            let used = PAGE_SOURCES.iter().any(|(_, html)| html.contains(&include));
            assert!(used, "no page includes {name}");
        }
        let account = assets.page("/account").unwrap();
        let script = &assets.asset("account.js").unwrap().path;
        assert!(account.contains("<title>Your account · tessera</title>"));
        assert!(account.contains(&format!(
            "<script type=\"module\" src=\"{script}\"></script>"
        )));
    }

    #[test]
    fn broken_includes_are_refused_with_the_reason() {
        let nav = ("nav.html", "<nav>{{param:current}}</nav>");
        let refused = |html: &str| page_of(&[nav], html).unwrap_err();
        assert_eq!(
            refused("{{include:menu.html}}"),
            AssetError::UnknownPartial {
                file: "/p".into(),
                name: "menu.html".into()
            }
        );
        assert_eq!(
            refused("{{include:nav.html current=/a"),
            AssetError::Unclosed {
                file: "/p".into(),
                opening: "{{include:"
            }
        );
        assert_eq!(
            refused("{{include:nav.html}}"),
            AssetError::MissingParameter {
                file: "/p".into(),
                partial: "nav.html".into(),
                name: "current".into()
            }
        );
        assert_eq!(
            refused("{{include:nav.html current=/a curent=/b}}"),
            AssetError::UnusedParameter {
                file: "/p".into(),
                partial: "nav.html".into(),
                name: "curent".into()
            }
        );
        for (html, parameter, reason) in [
            (
                "{{include:nav.html current}}",
                "current",
                "which is not key=value or key=\"value\"",
            ),
            (
                "{{include:nav.html =/a}}",
                "=/a",
                "which is not key=value or key=\"value\"",
            ),
            (
                "{{include:nav.html current=\"/a}}",
                "current=\"/a",
                "whose quote is never closed",
            ),
            (
                "{{include:nav.html current=\"/a\"b}}",
                "current=\"/a\"b",
                "which goes on after its closing quote",
            ),
            (
                "{{include:nav.html current=/a current=/b}}",
                "current=/b",
                "which the include already gives",
            ),
        ] {
            assert_eq!(
                refused(html),
                AssetError::BadParameter {
                    file: "/p".into(),
                    parameter: parameter.into(),
                    reason
                },
                "{html}"
            );
        }
        assert_eq!(
            refused("<p>{{param:current}}</p>"),
            AssetError::StrayParameter {
                file: "/p".into(),
                name: "current".into()
            }
        );
        assert_eq!(
            page_of(&[("a.html", "{{include:b.html}}"), ("b.html", "")], "").unwrap_err(),
            AssetError::NestedInclude("a.html".into())
        );
        assert_eq!(
            page_of(&[("a.html", "{{param:x")], "{{include:a.html}}").unwrap_err(),
            AssetError::Unclosed {
                file: "a.html".into(),
                opening: "{{param:"
            }
        );
        // An asset a partial names must exist, like one a page names.
        assert_eq!(
            page_of(&[("a.html", "{{asset:nope.css}}")], "{{include:a.html}}").unwrap_err(),
            AssetError::Unknown {
                file: "/p".into(),
                name: "nope.css".into()
            }
        );
        assert_eq!(
            AssetError::UnusedParameter {
                file: "/p".into(),
                partial: "nav.html".into(),
                name: "curent".into()
            }
            .to_string(),
            "`/p` passes `curent` to `nav.html`, which does not use it"
        );
        assert_eq!(
            AssetError::Unclosed {
                file: "/p".into(),
                opening: INCLUDE_OPEN
            }
            .to_string(),
            "`/p` has an unclosed `{{include:`"
        );
    }

    #[test]
    fn if_none_match_is_compared_weakly_and_in_lists() {
        let etag = "\"0123\"";
        for value in ["\"0123\"", "W/\"0123\"", "\"x\", \"0123\"", "*"] {
            assert!(none_match_names(value, etag), "{value}");
        }
        for value in ["\"012\"", "0123", "\"x\"", ""] {
            assert!(!none_match_names(value, etag), "{value}");
        }
    }
}
