//! The browser pages and their assets, as a browser fetches them: HTML under the page
//! policy, every referenced asset at its hashed path (immutable), the client at its stable
//! path (revalidated by `ETag`), and nothing inline or from another site.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};

use crate::helpers::{TestEnv, TestServer};

/// Every page, by the path it is served at (the user page reads its `?id=`).
const PAGES: [&str; 6] = [
    "/login",
    "/account",
    "/sessions",
    "/password",
    "/admin/users",
    "/admin/user?id=00000000-0000-0000-0000-000000000000",
];

/// The page policy, as the specification words it.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                        img-src 'self' data:; connect-src 'self'; form-action 'self'; \
                        frame-ancestors 'none'; base-uri 'none'";

/// A fetched file: status, headers and text.
struct Fetched {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Fetched {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }
}

async fn fetch(
    server: &TestServer,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> Fetched {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut request = client.request(method, server.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    Fetched {
        status: response.status(),
        headers: response.headers().clone(),
        text: response.text().await.unwrap(),
    }
}

async fn get(server: &TestServer, path: &str) -> Fetched {
    fetch(server, Method::GET, path, &[]).await
}

/// The values of `attribute="…"` in `html`.
fn attribute_values<'a>(html: &'a str, attribute: &str) -> Vec<&'a str> {
    let needle = format!(" {attribute}=\"");
    html.match_indices(&needle)
        .filter_map(|(at, _)| {
            let rest = &html[at + needle.len()..];
            rest.split('"').next()
        })
        .collect()
}

/// The modules a script imports: the targets of its `import … from '…'`, `import '…'` and
/// `export … from '…'` statements (lines that start so, or `} from '…'` closing a multi-line
/// one), never text in comments.
fn imports(script: &str) -> Vec<&str> {
    let mut found = Vec::new();
    for line in script.lines().map(str::trim_start) {
        let statement = ["import ", "export ", "} from "]
            .iter()
            .any(|start| line.starts_with(start));
        if !statement {
            continue;
        }
        let target = match line.rsplit_once(" from ") {
            Some((_, target)) => target,
            None if line.starts_with("} from ") => &line["} ".len()..],
            None => match line.strip_prefix("import ") {
                Some(target) if target.starts_with(['\'', '"']) => target,
                _ => continue,
            },
        };
        let target = target.trim_start_matches("from ");
        let Some(quote) = target.chars().next().filter(|c| *c == '\'' || *c == '"') else {
            continue;
        };
        if let Some(path) = target[1..].split(quote).next() {
            found.push(path);
        }
    }
    found
}

/// Every asset path the pages reference, directly or through imports, with the text served.
async fn assets_of_pages(server: &TestServer) -> BTreeMap<String, Fetched> {
    let mut pending: Vec<String> = Vec::new();
    for page in PAGES {
        let html = get(server, page).await.text;
        let references: Vec<&str> = attribute_values(&html, "src")
            .into_iter()
            .chain(attribute_values(&html, "href"))
            .filter(|target| target.starts_with("/assets/"))
            .collect();
        assert!(
            references.iter().any(|target| target.ends_with(".js"))
                && references.iter().any(|target| target.ends_with(".css")),
            "{page} loads a script and a stylesheet: {references:?}"
        );
        pending.extend(references.into_iter().map(str::to_owned));
    }
    let mut seen = BTreeMap::new();
    while let Some(path) = pending.pop() {
        if seen.contains_key(&path) {
            continue;
        }
        let fetched = get(server, &path).await;
        for target in imports(&fetched.text) {
            assert!(
                target.starts_with("/assets/"),
                "{path} imports {target}, not a hashed asset"
            );
            pending.push(target.to_owned());
        }
        seen.insert(path, fetched);
    }
    seen
}

async fn server() -> (TestEnv, TestServer) {
    let env = TestEnv::new();
    let server = env.spawn(&[]).await;
    (env, server)
}

#[tokio::test]
async fn every_page_is_html_under_the_page_policy_and_revalidated() {
    let (_env, server) = server().await;
    for page in PAGES {
        for method in [Method::GET, Method::HEAD] {
            let answer = fetch(&server, method.clone(), page, &[]).await;
            assert_eq!(answer.status, StatusCode::OK, "{method} {page}");
            assert_eq!(
                answer.header("content-type"),
                "text/html; charset=utf-8",
                "{page}"
            );
            assert_eq!(answer.header("cache-control"), "no-cache", "{page}");
            assert_eq!(answer.header("content-security-policy"), PAGE_CSP, "{page}");
            if method == Method::GET {
                let html = &answer.text;
                assert!(html.starts_with("<!doctype html>"), "{page}");
                assert!(html.contains("<html lang=\"en\">"), "{page}");
                assert_eq!(html.matches("<h1").count(), 1, "{page}");
                assert!(html.contains("<main"), "{page}");
                assert!(!html.contains("{{"), "{page}: a placeholder left: {html}");
            } else {
                assert!(answer.text.is_empty(), "HEAD {page}");
            }
        }
    }
    let login = get(&server, "/login").await.text;
    for id in ["login-form", "username", "password", "login-error"] {
        assert!(login.contains(&format!("id=\"{id}\"")), "{id}");
    }
    let account = get(&server, "/account").await.text;
    for id in [
        "nav",
        "logout",
        "who",
        "token-remaining",
        "idle-deadline",
        "absolute-deadline",
    ] {
        assert!(account.contains(&format!("id=\"{id}\"")), "{id}");
    }
}

#[tokio::test]
async fn the_root_sends_the_browser_to_the_account_page() {
    let (_env, server) = server().await;
    let answer = get(&server, "/").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.header("location"), "/account");
}

#[tokio::test]
async fn pages_are_not_api_operations() {
    let (_env, server) = server().await;
    assert_eq!(get(&server, "/login").await.status, StatusCode::OK);
    let document = server.get("/api/openapi.json", None).await;
    assert_eq!(document.status, StatusCode::OK);
    let paths = document.body["paths"].as_object().unwrap();
    assert!(paths.contains_key("/api/auth/login"));
    for path in [
        "/",
        "/login",
        "/account",
        "/admin/users",
        "/tessera.js",
        "/assets/{file}",
    ] {
        assert!(
            !paths.contains_key(path),
            "{path} is in the OpenAPI document"
        );
    }
}

#[tokio::test]
async fn every_asset_a_page_references_is_served_immutable_with_its_type() {
    let (_env, server) = server().await;
    let assets = assets_of_pages(&server).await;
    assert!(
        assets
            .keys()
            .any(|path| path.starts_with("/assets/tessera.")),
        "the pages load the client: {:?}",
        assets.keys()
    );
    for (path, answer) in &assets {
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert_eq!(
            answer.header("cache-control"),
            "public, max-age=31536000, immutable",
            "{path}"
        );
        let (_, extension) = path.rsplit_once('.').unwrap();
        let expected = match extension {
            "js" => "text/javascript; charset=utf-8",
            "css" => "text/css; charset=utf-8",
            "svg" => "image/svg+xml",
            _ => panic!("unexpected asset {path}"),
        };
        assert_eq!(answer.header("content-type"), expected, "{path}");
        assert!(!answer.text.is_empty(), "{path}");
        // `/assets/<stem>.<16 hex digits>.<ext>`.
        let hash = path.rsplit('.').nth(1).unwrap();
        assert_eq!(hash.len(), 16, "{path}");
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{path}");
        assert!(
            !answer.text.contains("{{asset:"),
            "{path}: a placeholder left"
        );
        let head = fetch(&server, Method::HEAD, path, &[]).await;
        assert_eq!(head.status, StatusCode::OK, "HEAD {path}");
        assert!(head.text.is_empty(), "HEAD {path}");
    }
}

#[tokio::test]
async fn the_client_at_its_stable_path_is_revalidated_by_its_etag() {
    let (_env, server) = server().await;
    let assets = assets_of_pages(&server).await;
    let (hashed_path, hashed) = assets
        .iter()
        .find(|(path, _)| path.starts_with("/assets/tessera."))
        .unwrap();
    let stable = get(&server, "/tessera.js").await;
    assert_eq!(stable.status, StatusCode::OK);
    assert_eq!(stable.header("cache-control"), "no-cache");
    assert_eq!(
        stable.header("content-type"),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(stable.text, hashed.text, "the same client as {hashed_path}");
    assert!(stable.text.contains("TesseraClient"));
    let etag = stable.header("etag").to_owned();
    let hash = hashed_path.rsplit('.').nth(1).unwrap();
    assert_eq!(
        etag,
        format!("\"{hash}\""),
        "a strong ETag: the quoted content hash"
    );

    for if_none_match in [
        etag.clone(),
        format!("\"other\", {etag}"),
        format!("W/{etag}"),
    ] {
        let again = fetch(
            &server,
            Method::GET,
            "/tessera.js",
            &[("if-none-match", &if_none_match)],
        )
        .await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{if_none_match}");
        assert!(again.text.is_empty());
        assert_eq!(again.header("etag"), etag);
        assert_eq!(again.header("cache-control"), "no-cache");
    }
    let changed = fetch(
        &server,
        Method::GET,
        "/tessera.js",
        &[("if-none-match", "\"0000000000000000\"")],
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(changed.text, stable.text);
    let head = fetch(&server, Method::HEAD, "/tessera.js", &[]).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.header("etag"), etag);
}

#[tokio::test]
async fn an_unknown_asset_is_the_json_404() {
    let (_env, server) = server().await;
    let login = get(&server, "/login").await.text;
    let stylesheet = attribute_values(&login, "href")
        .into_iter()
        .find(|href| href.ends_with(".css"))
        .unwrap()
        .to_owned();
    assert_eq!(get(&server, &stylesheet).await.status, StatusCode::OK);
    // The same name with another hash: an asset that changed since, or never was.
    let (stem, rest) = stylesheet.split_once('.').unwrap();
    let other = if rest.starts_with('0') { '1' } else { '0' };
    let other_hash = format!("{stem}.{other}{}", &rest[1..]);
    for path in [
        other_hash.as_str(),
        &stylesheet.replace(".css", ".js"),
        &stylesheet.replace("/assets/", "/assets/x"),
        "/assets/nope.js",
        "/assets/tessera.0000000000000000.js",
        "/assets/",
        "/assets/a/b.js",
        "/assets/..%2Fpages.rs",
        "/assets/tessera.js",
    ] {
        let answer = server.get(path, None).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            answer.header("content-type"),
            Some("application/json"),
            "{path}"
        );
        assert_eq!(answer.body["error"], "not_found", "{path}");
    }
}

/// What a page or asset must not contain for the page policy to hold and nothing to load
/// from another site; the offending excerpts.
fn forbidden_content(path: &str, text: &str) -> Vec<String> {
    let code;
    let text = if path.ends_with(".js") {
        code = without_comments(text);
        code.as_str()
    } else {
        text
    };
    let lower = text.to_ascii_lowercase();
    let mut found = BTreeSet::new();
    let mut flag = |what: &str, at: usize| {
        let excerpt: String = lower[at..].chars().take(60).collect();
        found.insert(format!("{path}: {what} at `{excerpt}`"));
    };
    for marker in [
        "innerhtml",
        "outerhtml",
        "insertadjacenthtml",
        "document.write",
        "http://",
        "https://",
    ] {
        for (at, _) in lower.match_indices(marker) {
            flag(marker, at);
        }
    }
    if path.ends_with(".js") {
        for marker in [
            "setattribute('on",
            "setattribute(\"on",
            "setattribute('style",
            "setattribute(\"style",
            "eval(",
        ] {
            for (at, _) in lower.match_indices(marker) {
                flag(marker, at);
            }
        }
    }
    if path.ends_with(".css") || path.ends_with(".js") {
        return found.into_iter().collect();
    }
    // HTML: every tag's attributes.
    let mut rest = lower.as_str();
    let mut offset = 0;
    while let Some(start) = rest.find('<') {
        let Some(length) = rest[start..].find('>') else {
            break;
        };
        let tag = &rest[start..start + length];
        let at = offset + start;
        if tag.starts_with("<script") && !tag.contains(" src=") {
            flag("inline script", at);
        }
        for attribute in tag.split_whitespace().skip(1) {
            let name = attribute.split('=').next().unwrap_or_default();
            if name == "style" {
                flag("style attribute", at);
            }
            if name.len() > 2 && name.starts_with("on") && attribute.contains('=') {
                flag("event handler attribute", at);
            }
        }
        if tag.starts_with("<style") {
            flag("inline style element", at);
        }
        // A form submitted before its script is wired (or without it) must not put a
        // password into the URL, the history and the logs: only POST.
        if tag.starts_with("<form") && !tag.contains(" method=\"post\"") {
            flag("form without method=\"post\"", at);
        }
        offset += start + length;
        rest = &rest[start + length..];
    }
    found.into_iter().collect()
}

/// A script without its `/* … */` and `// …` comments (which load nothing: documentation
/// may name URLs). Crude, on purpose: a `//` or `/*` inside a string cuts more, never less,
/// and a URL in code (`'https://…'`) stays.
fn without_comments(script: &str) -> String {
    let mut out = String::with_capacity(script.len());
    let mut rest = script;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = rest[start..]
            .split_once("*/")
            .map_or("", |(_, after)| after);
    }
    out.push_str(rest);
    // A `//` right after `:` is a URL's, not a comment's.
    let comment_start = |line: &str| {
        line.match_indices("//")
            .find(|(at, _)| !line[..*at].ends_with(':'))
            .map(|(at, _)| at)
    };
    out.lines()
        .map(|line| comment_start(line).map_or(line, |at| &line[..at]))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn imports_are_read_from_statements_only() {
    let script = "// import { a } from '/assets/commented.js';\n\
                  /** e.g. `import { TesseraClient } from '/assets/tessera.<hash>.js';` */\n\
                  import { b } from '/assets/b.1.js';\n\
                  import {\n  c,\n} from \"/assets/c.2.js\";\n\
                  import '/assets/d.3.js';\n\
                  export { e } from '/assets/e.4.js';\n\
                  const text = \"x from '/assets/no.js'\";\n";
    assert_eq!(
        imports(script),
        [
            "/assets/b.1.js",
            "/assets/c.2.js",
            "/assets/d.3.js",
            "/assets/e.4.js"
        ]
    );
}

#[test]
fn the_content_check_catches_what_it_forbids() {
    for (path, text) in [
        ("p", "<script>alert(1)</script>"),
        ("p", "<button onclick=\"x()\">"),
        ("p", "<p style=\"color:red\">"),
        ("p", "<style>p{}</style>"),
        (
            "p",
            "<script src=\"https://cdn.example.com/x.js\"></script>",
        ),
        ("a.js", "el.innerHTML = name;"),
        ("a.js", "import x from 'http://cdn.example.com/x.js';"),
        ("a.js", "el.setAttribute('onclick', 'x()');"),
        (
            "p",
            "<form id=\"login-form\"><input type=\"password\"></form>",
        ),
        ("a.css", "@import url(https://fonts.example.com/f.css);"),
        (
            "a.js",
            "/* see https://example.com */ fetch('https://cdn.example.com/x');",
        ),
    ] {
        assert!(!forbidden_content(path, text).is_empty(), "{text}");
    }
    assert!(
        forbidden_content(
            "p",
            "<script type=\"module\" src=\"/assets/a.0.js\"></script><a href=\"/x\">on</a>"
        )
        .is_empty()
    );
    // Documentation in comments loads nothing.
    let documented = "/**\n * new TesseraClient({ baseUrl: 'https://auth.example.com' })\n */\n\
                      const a = 1; // see https://example.com/doc\n";
    assert!(forbidden_content("a.js", documented).is_empty());
}

#[tokio::test]
async fn no_page_or_asset_runs_inline_code_or_loads_from_another_site() {
    let (_env, server) = server().await;
    let mut found = Vec::new();
    for page in PAGES {
        found.extend(forbidden_content(page, &get(&server, page).await.text));
    }
    for (path, asset) in assets_of_pages(&server).await {
        found.extend(forbidden_content(&path, &asset.text));
    }
    found.extend(forbidden_content(
        "/tessera.js",
        &get(&server, "/tessera.js").await.text,
    ));
    assert!(found.is_empty(), "{found:#?}");
}
