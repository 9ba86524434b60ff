//! The admin console's files (`web/`), embedded at compile time and served without a token.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The console's routes: `/` and `/assets/{file}`.
pub(super) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { file("index.html") }))
        .route(
            "/assets/{file}",
            get(|Path(name): Path<String>| async move { file(&name) }),
        )
}

/// The console's files: name, content type, body.
pub(crate) const CONSOLE: &[(&str, &str, &str)] = &[
    ("index.html", HTML, include_str!("../../web/index.html")),
    ("app.css", CSS, include_str!("../../web/app.css")),
    ("app.js", JS, include_str!("../../web/app.js")),
    ("graphql.js", JS, include_str!("../../web/graphql.js")),
    ("ui.js", JS, include_str!("../../web/ui.js")),
    ("signin.js", JS, include_str!("../../web/signin.js")),
    ("orders.js", JS, include_str!("../../web/orders.js")),
    ("order.js", JS, include_str!("../../web/order.js")),
    ("settings.js", JS, include_str!("../../web/settings.js")),
    ("connection.js", JS, include_str!("../../web/connection.js")),
    ("store.js", JS, include_str!("../../web/store.js")),
    ("follow.js", JS, include_str!("../../web/follow.js")),
    ("form.js", JS, include_str!("../../web/form.js")),
    ("jobs.js", JS, include_str!("../../web/jobs.js")),
    ("audit.js", JS, include_str!("../../web/audit.js")),
    ("job.js", JS, include_str!("../../web/job.js")),
    ("alerts.js", JS, include_str!("../../web/alerts.js")),
    ("aftercare.js", JS, include_str!("../../web/aftercare.js")),
];
pub(crate) const HTML: &str = "text/html; charset=utf-8";
pub(crate) const CSS: &str = "text/css; charset=utf-8";
pub(crate) const JS: &str = "text/javascript; charset=utf-8";

fn file(name: &str) -> Response {
    match CONSOLE.iter().find(|(n, _, _)| *n == name) {
        Some((_, mime, body)) => ([(header::CONTENT_TYPE, *mime)], *body).into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}
