//! Warden's HTTP API (axum). Handlers are thin: extract, call one use case, map the result.
//!
//! The role check is a route layer driven by [`routes::ROUTES`], so every route is checked the
//! same way and a route nobody listed answers 403. Use cases check roles again and apply the
//! tenant scope in storage: the layer is the first of three locks, not the only one.

pub mod error;
pub mod routes;

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{
    ConnectInfo, DefaultBodyLimit, FromRequest, MatchedPath, Path, Query, Request, State,
};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use warden_app::App;
use warden_app::auth::Principal;
use warden_app::jobs::PingInput;
use warden_app::lifecycle::{
    CloseTicketInput, ConfirmInput, EnforceInput, SelfUnblockInput, TicketInput,
};
use warden_app::registry::{AccountInput, ResourceInput};
use warden_app::scan::{ScanInput, TermInput};
use warden_app::triage::TriageInput;
use warden_domain::report::ReportRequest;
use warden_store::audit::AuditFilter;
use warden_store::reports::CaseFilter;

pub use error::ApiError;

/// Largest JSON body on ordinary routes.
pub const MAX_BODY: usize = 2 * 1024 * 1024;
/// Largest body of a bulk import or batch.
pub const MAX_BULK_BODY: usize = 32 * 1024 * 1024;

type ApiResult<T> = Result<T, ApiError>;

/// The whole application router.
pub fn router(app: App) -> Router {
    let bulk = Router::new()
        .route("/api/resources/import", post(import_resources))
        .route("/api/reports/batch", post(submit_batch))
        .layer(DefaultBodyLimit::max(MAX_BULK_BODY));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(
            "/api/openapi.json",
            get(|| async { Json(routes::openapi()) }),
        )
        .route(
            "/api/taxonomy",
            get(|| async { Json(json!({ "categories": warden_domain::taxonomy::CATEGORIES })) }),
        )
        .route("/api/whoami", get(whoami))
        .route("/api/reports", post(submit_report))
        .route("/api/reports/xarf", post(submit_xarf))
        .route("/api/reports/{id}/reporter-contact", get(reporter_contact))
        .route("/api/cases", get(list_cases))
        .route("/api/cases/count", get(count_cases))
        .route("/api/cases/{id}", get(get_case))
        .route("/api/cases/{id}/reports", get(case_reports))
        .route("/api/cases/{id}/history", get(case_history))
        .route("/api/cases/{id}/penalties", get(case_penalties))
        .route("/api/cases/{id}/enforce", post(enforce_case))
        .route("/api/cases/{id}/unblock/self", post(self_unblock))
        .route("/api/cases/{id}/unblock/manual", post(manual_unblock))
        .route("/api/unblock-requests", get(unblock_queue))
        .route("/api/unblock-requests/{id}/approve", post(approve_unblock))
        .route("/api/unblock-requests/{id}/reject", post(reject_unblock))
        .route(
            "/api/unblock-requests/{id}",
            axum::routing::delete(withdraw_unblock),
        )
        .route("/api/tickets", post(file_ticket).get(list_tickets))
        .route("/api/tickets/{id}/close", post(close_ticket))
        .route("/api/notices", get(list_notices))
        .route("/api/scan", post(scan))
        .route("/api/enforcement/changes", get(enforcement_changes))
        .route("/api/enforcement/check", get(enforcement_check))
        .route(
            "/api/enforcement/check/{*path}",
            get(enforcement_check_envoy),
        )
        .route("/api/enforcement/notice", get(enforcement_notice))
        .route("/api/decision", get(decision))
        .route("/api/enforcement/rpz", get(rpz_zone))
        .route("/api/enforcement/webhooks", get(webhook_log))
        .route("/api/enforcement/deliveries", get(open_deliveries))
        .route("/api/enforcement/reconcile", post(reconcile_now))
        .route("/api/enforcement/webhooks/redrive", post(webhook_redrive))
        .route("/api/enforcement/snapshot", get(enforcement_snapshot))
        .route("/api/lexicon", get(lexicon))
        .route("/api/lexicon/terms", post(put_term))
        .route("/api/lexicon/terms/remove", post(remove_term))
        .route("/api/cases/{id}/confirm", post(confirm_case))
        .route("/api/cases/{id}/dismiss", post(dismiss_case))
        .route("/api/accounts", post(create_account).get(list_accounts))
        .route("/api/accounts/{id}", get(get_account).patch(update_account))
        .route("/api/accounts/{id}/contacts", get(account_contacts))
        .route("/api/resources", post(create_resource).get(list_resources))
        .route(
            "/api/resources/{id}",
            get(get_resource).patch(update_resource),
        )
        .route("/api/owner", get(owner))
        .route("/api/audit", get(list_audit))
        .route("/api/audit/verify", get(verify_audit))
        .route("/api/tokens", post(create_token).get(list_tokens))
        .route("/api/tokens/{id}", axum::routing::delete(revoke_token))
        .route("/api/admin/jobs/ping", post(ping_jobs))
        .route("/api/admin/jobs", get(job_counts))
        .merge(bulk)
        .route_layer(axum::middleware::from_fn_with_state(app.clone(), authorize))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .fallback(|| async { ApiError::not_found("route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                405,
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
    let allowed = routes::find(req.method().as_str(), path)
        .is_some_and(|r| r.access.contains(&who.role_code()));
    if !allowed {
        let e = if matches!(who, Principal::Anonymous { .. }) {
            ApiError::new(
                401,
                "unauthenticated",
                "this route needs an API token (Authorization: Bearer ...)",
                json!({}),
            )
        } else {
            ApiError::new(
                403,
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
    req.extensions_mut().insert(who);
    let resp = next.run(req).await;
    finish(&app, resp)
}

/// The client's address: the peer, or — when the peer is a trusted proxy — the last address in
/// `X-Forwarded-For` that is not itself a trusted proxy.
fn client_ip(app: &App, req: &Request) -> String {
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

/// A JSON body whose errors name the place: unknown and missing fields become `invalid_field`.
struct JsonBody<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    413,
                    "payload_too_large",
                    "the body is larger than this route accepts",
                    json!({}),
                )
            } else {
                ApiError::malformed(e.body_text())
            }
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        let msg = e.to_string();
        for prefix in ["unknown field `", "missing field `"] {
            if let Some(rest) = msg.split(prefix).nth(1) {
                let field = rest.split('`').next().unwrap_or_default().to_string();
                return ApiError::new(
                    422,
                    "invalid_field",
                    format!("{field}: {msg}"),
                    json!({ "field": field, "reason": msg }),
                );
            }
        }
        ApiError::malformed(msg)
    })
}

/// A query string whose errors are API errors naming the parameter.
struct Q<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for Q<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(Q(v)),
            Err(e) => {
                let msg = e.body_text();
                let field = msg
                    .split(": ")
                    .nth(1)
                    .and_then(|m| m.split(':').next())
                    .unwrap_or("query")
                    .to_string();
                Err(ApiError::new(
                    422,
                    "invalid_field",
                    msg.clone(),
                    json!({ "field": field, "reason": msg }),
                ))
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    account_id: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    unowned: Option<bool>,
}

fn limit(q: &PageQuery) -> i64 {
    q.limit.unwrap_or(100)
}

async fn readyz(State(app): State<App>) -> Response {
    match app.store.ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            ApiError::new(
                503,
                "unavailable",
                "the database does not answer",
                json!({}),
            )
            .into_response()
        }
    }
}

async fn metrics(State(app): State<App>) -> Response {
    let jobs = app.store.job_counts().await.unwrap_or_default();
    let breaches = app.sla_breaches().await.unwrap_or_default();
    let deliveries = app.store.delivery_counts().await.unwrap_or_default();
    let mut text = app.metrics.render(&jobs);
    text.push_str(&warden_app::metrics::Metrics::render_deliveries(
        &deliveries,
    ));
    text.push_str(&format!(
        "# HELP warden_review_sla_breaches Open manual-unblock requests and tickets past their SLA due time (UNB-3, TKT-1).\n# TYPE warden_review_sla_breaches gauge\nwarden_review_sla_breaches {breaches}\n"
    ));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn whoami(Extension(who): Extension<Principal>) -> Json<Value> {
    match who {
        Principal::Token {
            id,
            role,
            account,
            label,
        } => Json(json!({ "token_id": id, "role": role, "account_id": account, "label": label })),
        other => Json(json!({ "role": other.role_code() })),
    }
}

async fn submit_report(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(body): JsonBody<ReportRequest>,
) -> ApiResult<Response> {
    let r = app.submit_report(&who, body).await?;
    Ok((StatusCode::CREATED, Json(r)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    reports: Vec<ReportRequest>,
}

async fn submit_batch(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(body): JsonBody<BatchBody>,
) -> ApiResult<Response> {
    let r = app.submit_batch(&who, body.reports).await?;
    let status = if r.rejected == 0 {
        StatusCode::CREATED
    } else {
        StatusCode::MULTI_STATUS
    };
    Ok((status, Json(r)).into_response())
}

async fn submit_xarf(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    body: Bytes,
) -> ApiResult<Response> {
    let r = app.submit_xarf(&who, &body).await?;
    Ok((StatusCode::CREATED, Json(r)).into_response())
}

async fn reporter_contact(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let c = app.reveal_reporter(&who, &id).await?;
    Ok(Json(json!({ "report_id": id, "reporter_contact": c })))
}

fn case_filter(q: &PageQuery) -> CaseFilter {
    CaseFilter {
        state: q.state.clone(),
        unowned: q.unowned.unwrap_or(false),
    }
}

async fn list_cases(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<PageQuery>,
) -> ApiResult<Json<Value>> {
    let items = app
        .list_cases(
            &who,
            &case_filter(&q),
            q.after.as_deref().unwrap_or_default(),
            limit(&q),
        )
        .await?;
    let next = items.last().map(|c| c.id.clone());
    Ok(Json(json!({ "items": items, "next_after": next })))
}

async fn count_cases(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<PageQuery>,
) -> ApiResult<Json<Value>> {
    let n = app.count_cases(&who, &case_filter(&q)).await?;
    Ok(Json(json!({ "count": n })))
}

async fn get_case(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(app.get_case(&who, &id).await?)))
}

async fn case_reports(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "items": app.case_reports(&who, &id).await? })))
}

#[derive(Debug, Deserialize)]
struct ChangesQuery {
    #[serde(default)]
    since: Option<i64>,
    #[serde(default)]
    wait_ms: Option<u64>,
}

/// nginx `auth_request`: the original request arrives in `X-Original-*` headers; 204 lets it
/// through, 403 (with `X-Warden-Case`) blocks it — nginx then serves the 451 notice page.
async fn enforcement_check(
    State(app): State<App>,
    headers: axum::http::HeaderMap,
    Q(q): Q<CheckQuery>,
) -> Response {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let url = match (
        h("x-original-uri"),
        h("x-original-host").or_else(|| h("host")),
        q.url,
    ) {
        (_, _, Some(u)) => u,
        (Some(uri), Some(host), None) => format!(
            "{}://{host}{uri}",
            h("x-original-proto").unwrap_or_else(|| "http".into())
        ),
        _ => {
            return ApiError::new(
                422,
                "invalid_field",
                "X-Original-URI and X-Original-Host (or ?url=) are required",
                json!({ "field": "X-Original-URI" }),
            )
            .into_response();
        }
    };
    match app.check_url(&url) {
        None => StatusCode::NO_CONTENT.into_response(),
        Some(b) => (
            StatusCode::FORBIDDEN,
            [("x-warden-case", b.case_id), ("x-warden-action", b.action)],
        )
            .into_response(),
    }
}

/// Envoy `ext_authz` (HTTP service, `path_prefix: /api/enforcement/check`): the original path
/// follows the prefix and the original Host is kept; a denial is the 451 notice page itself.
async fn enforcement_check_envoy(
    State(app): State<App>,
    headers: axum::http::HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let rest = uri
        .path()
        .strip_prefix("/api/enforcement/check")
        .unwrap_or("/");
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("http");
    let url = format!(
        "{proto}://{host}{rest}{}",
        uri.query().map(|q| format!("?{q}")).unwrap_or_default()
    );
    match app.check_url(&url) {
        None => StatusCode::OK.into_response(),
        Some(b) => notice_page(&app, &b.case_id, &headers).await,
    }
}

#[derive(Debug, Deserialize)]
struct CheckQuery {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    case: Option<String>,
}

async fn enforcement_notice(
    State(app): State<App>,
    headers: axum::http::HeaderMap,
    Q(q): Q<CheckQuery>,
) -> Response {
    notice_page(&app, q.case.as_deref().unwrap_or_default(), &headers).await
}

/// The HTTP 451 page (RFC 7725) naming the reason and how the owner can act; zh-CN or en by
/// `Accept-Language`. It shows the case id and category only.
async fn notice_page(app: &App, case_id: &str, headers: &axum::http::HeaderMap) -> Response {
    let en = headers
        .get("accept-language")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|l| !l.trim_start().to_ascii_lowercase().starts_with("zh"));
    let case = app
        .store
        .get_case(&warden_store::Scope::All, case_id)
        .await
        .ok()
        .flatten();
    let label = case
        .as_ref()
        .and_then(|c| warden_domain::taxonomy::Category::parse(&c.category).ok())
        .map(|c| {
            if en {
                c.info().label_en
            } else {
                c.info().label_zh
            }
        });
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let (title, reason, act) = if en {
        (
            "Unavailable For Legal Reasons",
            format!(
                "This content is blocked because of a violation: {}.",
                label.unwrap_or("policy violation")
            ),
            "If you own this site: see the violation notice in your console inbox, remove the violating content, then request an unblock from the console (or file a ticket).",
        )
    } else {
        (
            "因法律原因不可用",
            format!(
                "该内容因违规已被屏蔽：{}。",
                label.unwrap_or("违反平台规则")
            ),
            "如果您是网站所有者：请查看控制台站内信中的违规通知，删除违规内容后在控制台申请解封（或提交工单）。",
        )
    };
    let body = format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>451 {title}</title></head><body><h1>451 {title}</h1><p>{}</p><p>{act}</p><p>Case: <code>{}</code></p></body></html>",
        if en { "en" } else { "zh-CN" },
        esc(&reason),
        esc(case.as_ref().map_or("-", |c| c.id.as_str()))
    );
    let status = StatusCode::from_u16(451).unwrap_or(StatusCode::FORBIDDEN);
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::LINK,
                "<https://www.rfc-editor.org/rfc/rfc7725>; rel=\"blocked-by\"",
            ),
        ],
        body,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct DecisionQuery {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    ip: Option<String>,
}

async fn decision(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<DecisionQuery>,
) -> ApiResult<Json<Value>> {
    who.require(
        &[
            warden_domain::identity::Role::Admin,
            warden_domain::identity::Role::Operator,
            warden_domain::identity::Role::Edge,
        ],
        "read decisions",
    )
    .map_err(ApiError::from)?;
    let b = match (q.url, q.host, q.ip) {
        (Some(u), None, None) => app.check_url(&u),
        (None, Some(h), None) => app.check_host(&h),
        (None, None, Some(ip)) => {
            let ip = ip.parse().map_err(|_| {
                ApiError::new(
                    422,
                    "invalid_field",
                    "ip: is not an IP address",
                    json!({ "field": "ip" }),
                )
            })?;
            app.check_ip(ip)
        }
        _ => {
            return Err(ApiError::new(
                422,
                "invalid_field",
                "give exactly one of url, host or ip",
                json!({ "field": "url" }),
            ));
        }
    };
    Ok(Json(match b {
        None => json!({ "blocked": false }),
        Some(b) => {
            json!({ "blocked": true, "case_id": b.case_id, "action": b.action, "rule": b.rule, "notice": format!("/api/enforcement/notice?case={}", b.case_id) })
        }
    }))
}

#[derive(Debug, Deserialize)]
struct WebhookQuery {
    #[serde(default)]
    msg_id: Option<String>,
}

async fn webhook_log(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<WebhookQuery>,
) -> ApiResult<Json<Value>> {
    Ok(Json(app.webhook_log(&who, q.msg_id.as_deref()).await?))
}

#[derive(Debug, Deserialize)]
struct DeliveriesQuery {
    #[serde(default)]
    failed: bool,
}

async fn open_deliveries(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<DeliveriesQuery>,
) -> ApiResult<Json<Value>> {
    Ok(Json(app.open_deliveries(&who, q.failed).await?))
}

async fn reconcile_now(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    Ok(Json(app.reconcile_now(&who).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RedriveBody {
    msg_id: String,
    endpoint: String,
}

async fn webhook_redrive(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(b): JsonBody<RedriveBody>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        app.redrive_webhook(&who, &b.msg_id, &b.endpoint).await?,
    ))
}

async fn rpz_zone(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Response> {
    who.require(
        &[
            warden_domain::identity::Role::Admin,
            warden_domain::identity::Role::Operator,
            warden_domain::identity::Role::Edge,
        ],
        "read the RPZ",
    )
    .map_err(ApiError::from)?;
    let revision = app
        .store
        .enforcement_snapshot()
        .await
        .map_err(|e| ApiError::from(warden_app::AppError::from(e)))?
        .0;
    Ok((
        [(header::CONTENT_TYPE, "text/dns; charset=utf-8")],
        app.render_rpz(revision),
    )
        .into_response())
}

async fn enforcement_changes(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<ChangesQuery>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        app.enforcement_changes(&who, q.since.unwrap_or(0), q.wait_ms.unwrap_or(0))
            .await?,
    ))
}

async fn enforcement_snapshot(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    Ok(Json(app.enforcement_snapshot(&who).await?))
}

async fn scan(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(input): JsonBody<ScanInput>,
) -> ApiResult<Json<Value>> {
    Ok(Json(app.scan(&who, input).await?))
}

#[derive(Debug, Deserialize)]
struct LexiconQuery {
    #[serde(default)]
    category: Option<String>,
}

async fn lexicon(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<LexiconQuery>,
) -> ApiResult<Json<Value>> {
    Ok(Json(app.lexicon(&who, q.category.as_deref()).await?))
}

async fn put_term(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(input): JsonBody<TermInput>,
) -> ApiResult<Json<Value>> {
    Ok(Json(app.put_term(&who, input, false).await?))
}

async fn remove_term(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(input): JsonBody<TermInput>,
) -> ApiResult<Json<Value>> {
    Ok(Json(app.put_term(&who, input, true).await?))
}

async fn case_history(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "items": app.case_history(&who, &id).await? })))
}

async fn list_notices(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<PageQuery>,
) -> ApiResult<Json<Value>> {
    let items = app
        .list_notices(&who, q.after.as_deref().unwrap_or_default(), limit(&q))
        .await?;
    let next = items.last().map(|n| n.id.clone());
    Ok(Json(json!({ "items": items, "next_after": next })))
}

async fn confirm_case(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let input: ConfirmInput = if body.is_empty() {
        ConfirmInput::default()
    } else {
        parse_json(&body)?
    };
    Ok(Json(json!(app.confirm_case(&who, &id, input).await?)))
}

async fn enforce_case(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<EnforceInput>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(app.enforce_case(&who, &id, input).await?)))
}

async fn case_penalties(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(app.case_penalties(&who, &id).await?))
}

async fn self_unblock(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<SelfUnblockInput>,
) -> ApiResult<Response> {
    let r = app.self_unblock(&who, &id, input).await?;
    Ok((StatusCode::CREATED, Json(r)).into_response())
}

async fn manual_unblock(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = app.manual_unblock(&who, &id).await?;
    Ok((StatusCode::CREATED, Json(r)).into_response())
}

async fn unblock_queue(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    Ok(Json(app.unblock_queue(&who).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    #[serde(default)]
    reason: Option<String>,
}

async fn approve_unblock(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        app.review_unblock(&who, &id, true, None).await?
    )))
}

async fn reject_unblock(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<ReviewBody>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        app.review_unblock(&who, &id, false, b.reason).await?
    )))
}

async fn withdraw_unblock(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    app.withdraw_unblock(&who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn file_ticket(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(input): JsonBody<TicketInput>,
) -> ApiResult<Response> {
    Ok((
        StatusCode::CREATED,
        Json(app.file_ticket(&who, input).await?),
    )
        .into_response())
}

async fn list_tickets(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "items": app.list_tickets(&who).await? })))
}

async fn close_ticket(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<CloseTicketInput>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(app.close_ticket(&who, &id, input).await?)))
}

async fn dismiss_case(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<TriageInput>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(app.dismiss(&who, &id, input).await?)))
}

async fn create_account(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(input): JsonBody<AccountInput>,
) -> ApiResult<Response> {
    Ok((
        StatusCode::CREATED,
        Json(app.create_account(&who, input).await?),
    )
        .into_response())
}

async fn list_accounts(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<PageQuery>,
) -> ApiResult<Json<Value>> {
    let items = app
        .list_accounts(&who, q.after.as_deref().unwrap_or_default(), limit(&q))
        .await?;
    let next = items.last().map(|a| a.account.id.clone());
    Ok(Json(json!({ "items": items, "next_after": next })))
}

async fn get_account(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(app.get_account(&who, &id).await?)))
}

async fn update_account(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<AccountInput>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(app.update_account(&who, &id, input).await?)))
}

async fn account_contacts(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(app.reveal_contacts(&who, &id).await?)))
}

async fn create_resource(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(input): JsonBody<ResourceInput>,
) -> ApiResult<Response> {
    Ok((
        StatusCode::CREATED,
        Json(app.create_resource(&who, input).await?),
    )
        .into_response())
}

async fn list_resources(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<PageQuery>,
) -> ApiResult<Json<Value>> {
    let items = app
        .list_resources(
            &who,
            q.account_id.as_deref(),
            q.after.as_deref().unwrap_or_default(),
            limit(&q),
        )
        .await?;
    let next = items.last().map(|r| r.id.clone());
    Ok(Json(json!({ "items": items, "next_after": next })))
}

async fn get_resource(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(app.get_resource(&who, &id).await?)))
}

async fn update_resource(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<ResourceInput>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(app.update_resource(&who, &id, input).await?)))
}

async fn import_resources(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    body: Bytes,
) -> ApiResult<Response> {
    let text =
        std::str::from_utf8(&body).map_err(|_| ApiError::malformed("the body is not UTF-8"))?;
    let report = app.import_resources(&who, text).await?;
    let status = if report.failed == 0 {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    Ok((status, Json(report)).into_response())
}

#[derive(Debug, Deserialize)]
struct OwnerQuery {
    target: Option<String>,
}

async fn owner(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<OwnerQuery>,
) -> ApiResult<Json<warden_app::registry::OwnerAnswer>> {
    let target = q.target.ok_or_else(|| {
        ApiError::new(
            422,
            "invalid_field",
            "target: is required",
            json!({ "field": "target", "reason": "is required" }),
        )
    })?;
    Ok(Json(app.lookup_owner(&who, &target).await?))
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    #[serde(default)]
    after: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    account_id: Option<String>,
}

async fn list_audit(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<AuditQuery>,
) -> ApiResult<Json<Value>> {
    let f = AuditFilter {
        action: q.action,
        subject: q.subject,
        account_id: q.account_id,
    };
    let items = app
        .list_audit(&who, &f, q.after.unwrap_or(0), q.limit.unwrap_or(100))
        .await?;
    let next = items.last().map(|e| e.seq);
    Ok(Json(json!({ "items": items, "next_after": next })))
}

async fn verify_audit(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Response> {
    let v = app.verify_audit(&who).await?;
    let status = if v.broken.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    Ok((status, Json(v)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    role: String,
    #[serde(default)]
    account_id: Option<String>,
    label: String,
}

async fn create_token(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(b): JsonBody<TokenBody>,
) -> ApiResult<Response> {
    let t = app
        .create_token(&who, &b.role, b.account_id.as_deref(), &b.label)
        .await?;
    Ok((StatusCode::CREATED, Json(t)).into_response())
}

async fn list_tokens(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "items": app.list_tokens(&who).await? })))
}

async fn revoke_token(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    app.revoke_token(&who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn ping_jobs(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(b): JsonBody<PingInput>,
) -> ApiResult<Response> {
    let ids = app.enqueue_pings(&who, &b).await?;
    Ok((StatusCode::CREATED, Json(json!({ "job_ids": ids }))).into_response())
}

async fn job_counts(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(app.job_counts(&who).await?)))
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
        .route("/api/enforcement/check", get(enforcement_check))
        .route(
            "/api/enforcement/check/{*path}",
            get(enforcement_check_envoy),
        )
        .route("/api/enforcement/notice", get(enforcement_notice))
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
