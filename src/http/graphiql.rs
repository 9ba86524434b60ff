//! GraphiQL, served from the binary: `GET /graphiql` is the page, `GET /graphiql/assets/{file}`
//! its files. Everything is vendored in `assets/graphiql/` (GraphiQL 3's UMD build with React 18,
//! with their licenses; `assets/graphiql/VENDOR.md` says which versions and how to update them)
//! and embedded at compile time, so the page makes no request to any other host. The page has no
//! inline script or style: `init.js` asks for the admin token (kept in sessionStorage under the
//! console's key) and points GraphiQL at `POST /graphql` and `ws /graphql/ws`.
//!
//! What the page needs from a Content-Security-Policy: `default-src 'self'` plus
//! `img-src 'self' data:` and `font-src 'self' data:` (GraphiQL's stylesheet inlines its fonts and
//! a few icons as data: URLs). The page also states that policy in a `<meta>` tag.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The vendored files: name, content type, body.
const FILES: &[(&str, &str, &str)] = &[
    (
        "index.html",
        HTML,
        include_str!("../../assets/graphiql/index.html"),
    ),
    ("init.js", JS, include_str!("../../assets/graphiql/init.js")),
    (
        "page.css",
        CSS,
        include_str!("../../assets/graphiql/page.css"),
    ),
    (
        "graphiql.min.js",
        JS,
        include_str!("../../assets/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        CSS,
        include_str!("../../assets/graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        JS,
        include_str!("../../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        JS,
        include_str!("../../assets/graphiql/react-dom.production.min.js"),
    ),
    (
        "LICENSE-graphiql",
        TEXT,
        include_str!("../../assets/graphiql/LICENSE-graphiql"),
    ),
    (
        "LICENSE-react",
        TEXT,
        include_str!("../../assets/graphiql/LICENSE-react"),
    ),
    (
        "VENDOR.md",
        TEXT,
        include_str!("../../assets/graphiql/VENDOR.md"),
    ),
];
const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// `GET /graphiql`: the page (no token needed to load it; its queries need one).
pub(super) async fn page() -> Response {
    file("index.html")
}

/// `GET /graphiql/assets/{file}`.
pub(super) async fn asset(Path(name): Path<String>) -> Response {
    file(&name)
}

fn file(name: &str) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, mime, body)) => ([(header::CONTENT_TYPE, *mime)], *body).into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vendored_file_is_served_as_on_disk() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/graphiql");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let (_, _, body) = FILES
                .iter()
                .find(|(n, _, _)| *n == name)
                .unwrap_or_else(|| panic!("assets/graphiql/{name} is not in FILES"));
            assert_eq!(*body, std::fs::read_to_string(dir.join(&name)).unwrap());
        }
    }

    #[test]
    fn the_page_has_no_inline_script_or_style_and_loads_only_its_own_files() {
        let (_, _, html) = FILES[0];
        assert!(!html.contains("<style"), "no <style> element");
        assert!(!html.contains(" style="), "no style attribute");
        let handler = html.match_indices(" on").any(|(i, _)| {
            let rest = html[i + 3..].trim_start_matches(|c: char| c.is_ascii_alphabetic());
            rest.len() < html.len() - i - 3 && rest.starts_with('=')
        });
        assert!(!handler, "no inline event handler");
        for (i, _) in html.match_indices("<script") {
            let tag = &html[i..i + html[i..].find('>').unwrap()];
            assert!(tag.contains(" src=\"/graphiql/assets/"), "{tag}");
        }
        for (i, _) in html.match_indices("=\"/") {
            let url = &html[i + 2..i + 2 + html[i + 2..].find('"').unwrap()];
            if let Some(name) = url.strip_prefix("/graphiql/assets/") {
                assert!(
                    FILES.iter().any(|(n, _, _)| *n == name),
                    "{url} is not served"
                );
            } else {
                assert_eq!(url, "/", "only its own files and the console's page: {url}");
            }
        }
        assert!(!html.contains("http://") && !html.contains("https://"));
    }
}
