//! Warden's HTTP API (axum). Handlers are thin: extract, call one use case, map the result.
//!
//! Handlers live in [`api`], one file per area, each beside its route-table entry
//! ([`routes::Route`]). The role check is a route layer driven by that table, so every route is
//! checked the same way and a route nobody listed answers 403. Use cases check roles again and
//! apply the tenant scope in storage: the layer is the first of three locks, not the only one.

mod api;
pub mod console;
pub mod error;
pub mod routes;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use warden_app::App;
use warden_app::auth::Principal;

pub use error::ApiError;

/// Largest JSON body on ordinary routes.
pub const MAX_BODY: usize = 2 * 1024 * 1024;
/// Largest body of a bulk import or batch.
pub const MAX_BULK_BODY: usize = 32 * 1024 * 1024;

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// The whole application router.
pub fn router(app: App) -> Router {
    let mut r = Router::new();
    for e in api::endpoints() {
        r = r.route(e.route.path, e.handler);
    }
    r.route_layer(axum::middleware::from_fn_with_state(app.clone(), authorize))
        .merge(console::router(app.clone()))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .fallback(|| async { ApiError::not_found("route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                "method_not_allowed",
                "this route does not accept that method; see /api/openapi.json",
                json!({}),
            )
        })
        .with_state(app)
}

/// Resolves the caller and checks the route table (401 for anonymous callers on token routes,
/// 403 for a role the route does not admit).
async fn authorize(
    State(app): State<App>,
    matched: Option<MatchedPath>,
    mut req: Request,
    next: Next,
) -> Response {
    let ip = client_ip(&app, &req);
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::to_string);
    let who = match bearer {
        Some(secret) => match app.authenticate(&secret).await {
            Ok(p) => p,
            Err(e) => return finish(&app, ApiError::from(e).into_response()),
        },
        None => Principal::Anonymous { ip },
    };
    let path = matched
        .as_ref()
        .map(MatchedPath::as_str)
        .unwrap_or_default();
    let route = routes::find(req.method().as_str(), path);
    let allowed = route.is_some_and(|r| r.access.contains(&who.role_code()));
    if !allowed {
        let e = if matches!(who, Principal::Anonymous { .. }) {
            ApiError::new(
                "unauthenticated",
                "this route needs an API token (Authorization: Bearer ...)",
                json!({}),
            )
        } else {
            ApiError::new(
                "forbidden",
                format!(
                    "the {} role may not use {} {path}",
                    who.role_code(),
                    req.method()
                ),
                json!({}),
            )
        };
        return finish(&app, e.into_response());
    }
    if let Some(e) = route.and_then(|r| unsupported_media(r, &req)) {
        return finish(&app, e.into_response());
    }
    req.extensions_mut().insert(who);
    let resp = next.run(req).await;
    finish(&app, resp)
}

/// 415 when a body comes with a `Content-Type` the route does not read, naming the one it does
/// (a body without one is read as the route's own type). A raw e-mail posted to a JSON route
/// is pointed at the mail door.
fn unsupported_media(route: &routes::Route, req: &Request) -> Option<ApiError> {
    let body = route.body?;
    let sent = req.headers().get(header::CONTENT_TYPE)?;
    let sent = sent.to_str().unwrap_or("(not text)");
    let essence = sent
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if routes::media_accepts(body.media, &essence) {
        return None;
    }
    let hint = if essence == "message/rfc822" && body.media != "message/rfc822" {
        "; to file a raw e-mail, POST it to /api/reports/mail"
    } else {
        ""
    };
    Some(ApiError::new(
        "unsupported_media_type",
        format!(
            "{} {} takes a body of Content-Type {}, not {sent}{hint}",
            route.method, route.path, body.media
        ),
        json!({ "supported": [body.media], "sent": essence }),
    ))
}

/// The client's address: the peer, or — when the peer is a trusted proxy — the last address in
/// `X-Forwarded-For` that is not itself a trusted proxy.
pub(crate) fn client_ip(app: &App, req: &Request) -> String {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let trusted = &app.settings.trusted_proxies;
    match peer {
        Some(p) if trusted.contains(&p) => req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
            .rfind(|a| !trusted.contains(a))
            .unwrap_or(p)
            .to_string(),
        Some(p) => p.to_string(),
        None => String::new(),
    }
}

fn finish(app: &App, resp: Response) -> Response {
    app.metrics.http(resp.status().is_server_error());
    resp
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// The enforcement-point listener (ENF-1): only the check endpoints, the notice page and
/// `/healthz`, no authentication, nothing else reachable — for a listener that edges can reach
/// but the rest of the network cannot.
pub fn check_router(app: App) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/enforcement/check", get(api::enforcement_check))
        .route(
            "/api/enforcement/check/{*path}",
            get(api::enforcement_check_envoy),
        )
        .route("/api/enforcement/notice", get(api::enforcement_notice))
        .fallback(|| async { ApiError::not_found("route") })
        .with_state(app)
}

/// Serves [`check_router`] on `listener` until `shutdown` resolves.
pub async fn serve_checks(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, check_router(app))
        .with_graceful_shutdown(shutdown)
        .await
}
