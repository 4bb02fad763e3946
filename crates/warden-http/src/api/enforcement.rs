//! The enforcement plane (ENF-1/2): the edge checks, the 451 notice page, decisions, the change feed and snapshot, the RPZ, webhook deliveries and reconciliation.

use super::prelude::*;

/// The request headers of the nginx check: the original request, as `auth_request` passes it.
#[derive(Debug, schemars::JsonSchema)]
#[allow(dead_code)] // documentation of the headers read by hand below
struct CheckHeaders {
    /// The original request's path and query (`$request_uri`): `/` then visible ASCII.
    #[serde(rename = "X-Original-URI")]
    #[schemars(required, pattern(r"^/[!-~]*$"))]
    uri: String,
    /// The original `Host` (`$host:$server_port`, or `$http_host`); this request's `Host` if
    /// left out. A host name or IP address, with an optional port.
    #[serde(rename = "X-Original-Host")]
    #[schemars(extend("format" = "authority"))]
    host: Option<String>,
    /// The original scheme (`$scheme`); `http` if left out.
    #[serde(rename = "X-Original-Proto")]
    #[schemars(extend("enum" = ["http", "https"]))]
    proto: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(crate) struct NoticeQuery {
    /// The case whose notice to show.
    #[serde(default)]
    case: Option<String>,
}

/// nginx `auth_request`: the original request arrives in `X-Original-*` headers; 204 lets it
/// through, 403 (with `X-Warden-Case`) blocks it — nginx then serves the 451 notice page.
/// A request it cannot read (no `X-Original-URI`, a host that is no host) is 422: to nginx an
/// error, so the request fails closed. Tools ask `GET /api/decision?url=` instead.
pub(crate) async fn enforcement_check(
    State(app): State<App>,
    headers: axum::http::HeaderMap,
) -> Response {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let invalid = |field: &str, why: &str| ApiError::invalid(field, why).into_response();
    let Some(uri) = h("x-original-uri") else {
        return invalid(
            "X-Original-URI",
            "is required: the original request's path and query, as nginx's $request_uri",
        );
    };
    if !uri.starts_with('/') || !uri.bytes().all(|b| b.is_ascii_graphic()) {
        return invalid(
            "X-Original-URI",
            "must be a path and query: `/` then visible ASCII characters",
        );
    }
    let Some(host) = h("x-original-host").or_else(|| h("host")) else {
        return invalid(
            "X-Original-Host",
            "is required when the request has no Host",
        );
    };
    let proto = h("x-original-proto").unwrap_or_else(|| "http".into());
    if proto != "http" && proto != "https" {
        return invalid("X-Original-Proto", "must be http or https");
    }
    let url = format!("{proto}://{host}{uri}");
    match app.check_url(&url) {
        Err(e) => unparsable("X-Original-Host", &e).into_response(),
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Ok(Some(b)) => (
            StatusCode::FORBIDDEN,
            [("x-warden-case", b.case_id), ("x-warden-action", b.action)],
        )
            .into_response(),
    }
}

/// A `?url=` or `?host=` with a control character is refused, naming the parameter: the
/// canonicaliser would drop leading and trailing ones as a browser's address bar does, but a
/// query parameter is no address bar, and an answer "not blocked" for what was not read is
/// taken for "checked and clean".
fn readable(field: &str, value: &str) -> ApiResult<()> {
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// 422 for a URL or host the decision index cannot normalise, naming where it came from.
fn unparsable(field: &str, e: &impl std::fmt::Display) -> ApiError {
    ApiError::invalid(field, e.to_string())
}

/// Envoy `ext_authz` (HTTP service, `path_prefix: /api/enforcement/check`): the original path
/// follows the prefix and the original Host is kept; a denial is the 451 notice page itself.
pub(crate) async fn enforcement_check_envoy(
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
        // Envoy denies with any status but 200: an unparsable request fails closed.
        Err(e) => unparsable("path", &e).into_response(),
        Ok(None) => StatusCode::OK.into_response(),
        Ok(Some(b)) => notice_page(&app, &b.case_id, &headers).await,
    }
}

pub(crate) async fn enforcement_notice(
    State(app): State<App>,
    headers: axum::http::HeaderMap,
    Q(q): Q<NoticeQuery>,
) -> Response {
    notice_page(&app, q.case.as_deref().unwrap_or_default(), &headers).await
}

/// The HTTP 451 page (RFC 7725) naming the reason and how the owner can act; zh-CN or en by
/// `Accept-Language`. It shows the case id and category only, and only of a case that blocks
/// something in the decision index: for any other id the page is the unknown case's.
pub(crate) async fn notice_page(
    app: &App,
    case_id: &str,
    headers: &axum::http::HeaderMap,
) -> Response {
    // A visitor's browser names its languages; a request without the header (a crawler, a
    // script) gets the page in Chinese, the language of the sites this policy governs.
    let lang = match headers.get("accept-language").and_then(|v| v.to_str().ok()) {
        Some(l) => crate::console::Lang::from_accept(l),
        None => crate::console::Lang::Zh,
    };
    // Only a case with a rule in force gets its notice; any other answers as an unknown one.
    let case = app.blocking_case(case_id).await.ok().flatten();
    let body = crate::console::notice_451(lang, case.as_ref().map(|c| (c.id.as_str(), c.category)));
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

/// Exactly one of `url`, `host` and `ip`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
struct DecisionQuery {
    /// An http or https URL (no control characters).
    #[serde(default)]
    #[schemars(extend("format" = "http-url"))]
    url: Option<String>,
    /// A host name or IP address; an internationalised name in Unicode or as `xn--` labels.
    /// Refused (422 naming `host`) when it is none: control characters, or characters no
    /// domain name has (format, private-use, unassigned, spaces).
    #[serde(default)]
    #[schemars(extend("format" = "host"))]
    host: Option<String>,
    /// An IPv4 or IPv6 address.
    #[serde(default)]
    #[schemars(extend("format" = "ip-address"))]
    ip: Option<String>,
}

async fn decision(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<DecisionQuery>,
) -> ApiResult<Json<DecisionView>> {
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
        (Some(u), None, None) => {
            readable("url", &u)?;
            app.check_url(&u).map_err(|e| unparsable("url", &e))?
        }
        (None, Some(h), None) => {
            readable("host", &h)?;
            app.check_host(&h).map_err(|e| unparsable("host", &e))?
        }
        (None, None, Some(ip)) => {
            let ip = ip.parse().map_err(|_| {
                ApiError::new(
                    "invalid_field",
                    "ip: is not an IP address",
                    json!({ "field": "ip" }),
                )
            })?;
            app.check_ip(ip)
        }
        _ => {
            return Err(ApiError::new(
                "invalid_field",
                "give exactly one of url, host or ip",
                json!({ "field": "url" }),
            ));
        }
    };
    Ok(Json(match b {
        None => DecisionView {
            blocked: false,
            case_id: None,
            action: None,
            rule: None,
            notice: None,
        },
        Some(b) => DecisionView {
            blocked: true,
            notice: Some(format!("/api/enforcement/notice?case={}", b.case_id)),
            case_id: Some(b.case_id),
            action: Some(b.action),
            rule: Some(b.rule),
        },
    }))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct WebhookQuery {
    /// Only this message (its `webhook-id`).
    #[serde(default)]
    msg_id: Option<String>,
}

async fn webhook_log(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<WebhookQuery>,
) -> ApiResult<Json<warden_app::enforce::WebhookLog>> {
    Ok(Json(app.webhook_log(&who, q.msg_id.as_deref()).await?))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct DeliveriesQuery {
    /// Only deliveries whose retries are exhausted.
    #[serde(default)]
    failed: bool,
}

async fn open_deliveries(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<DeliveriesQuery>,
) -> ApiResult<Json<warden_app::enforce::OpenDeliveries>> {
    Ok(Json(app.open_deliveries(&who, q.failed).await?))
}

async fn reconcile_now(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Json<warden_app::enforce::Reconciliation>> {
    Ok(Json(app.reconcile_now(&who).await?))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RedriveBody {
    /// The message (its `webhook-id`).
    msg_id: String,
    /// The endpoint's name.
    endpoint: String,
}

async fn webhook_redrive(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(b): JsonBody<RedriveBody>,
) -> ApiResult<Json<warden_app::enforce::Redriven>> {
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

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct ChangesQuery {
    /// Changes after this revision (default 0: from the start).
    #[serde(default)]
    #[schemars(range(min = 0))]
    since: Option<i64>,
    /// Wait up to this many milliseconds (at most 30000) for a first change.
    #[serde(default)]
    #[schemars(range(max = 30000))]
    wait_ms: Option<u64>,
}

async fn enforcement_changes(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<ChangesQuery>,
) -> ApiResult<Json<ChangeFeed>> {
    let since = q.since.unwrap_or(0);
    if since < 0 {
        return Err(ApiError::invalid("since", "must be a revision, 0 or more"));
    }
    let wait_ms = q.wait_ms.unwrap_or(0);
    if wait_ms > 30_000 {
        return Err(ApiError::invalid("wait_ms", "must be at most 30000"));
    }
    Ok(Json(app.enforcement_changes(&who, since, wait_ms).await?))
}

async fn enforcement_snapshot(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Json<Snapshot>> {
    Ok(Json(app.enforcement_snapshot(&who).await?))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ConfirmBody {
    /// The pulling adapter, as named in delivery records (`exabgp:<name>`).
    adapter: String,
    /// The feed revision up to which the point holds every change: 0 or more.
    #[schemars(range(min = 0, max = i64::MAX))]
    revision: i64,
}

async fn enforcement_confirm(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(b): JsonBody<ConfirmBody>,
) -> ApiResult<Json<Confirmed>> {
    Ok(Json(
        app.confirm_pulled(&who, &b.adapter, b.revision).await?,
    ))
}

/// The endpoints of this area.
pub(super) fn endpoints() -> Vec<Endpoint> {
    Vec::from([
        Endpoint::new(
            route(
                "GET",
                "/api/enforcement/check",
                ANYONE,
                "enforcement",
                "nginx auth_request check: the original request in X-Original-URI/Host/Proto; 204 allowed, 403 + X-Warden-Case blocked, 422 unreadable (nginx then fails the request closed). Reveals nothing but the decision.",
                "ENF-1",
            )
            .headers(schema::<CheckHeaders>)
            .replies(const {
                &[
                    empty(204, "Not blocked."),
                    empty(403, "Blocked: X-Warden-Case and X-Warden-Action name why."),
                ]
            }),
            get(enforcement_check),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/enforcement/check/{*path}",
                ANYONE,
                "enforcement",
                "Envoy ext_authz (HTTP service with this path prefix): 200 allowed, 451 notice page blocked.",
                "ENF-1",
            )
            .replies(const {
                &[
                    empty(200, "Not blocked."),
                    text(451, "text/html", "Blocked: the notice page."),
                ]
            }),
            get(enforcement_check_envoy),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/enforcement/notice",
                ANYONE,
                "enforcement",
                "The HTTP 451 notice page for ?case= (RFC 7725), zh-CN/en by Accept-Language.",
                "ENF-1, NOT-1",
            )
            .query(schema::<NoticeQuery>)
            .replies(const {
                &[
                    text(451, "text/html", "The notice page (RFC 7725)."),
                ]
            }),
            get(enforcement_notice),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/decision",
                EDGES,
                "enforcement",
                "Is this ?url=, ?host= or ?ip= blocked, and why (action, case, notice link).",
                "ENF-1",
            )
            .query(schema::<DecisionQuery>)
            .replies(const {
                &[
                    json( 200, schema::<DecisionView>, "Whether it is blocked, and why.", ),
                ]
            }),
            get(decision),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/enforcement/webhooks",
                OPERATORS,
                "enforcement",
                "Webhook endpoints and the delivery log (every attempt; ?msg_id= for one message with its state).",
                "ENF-1, ENF-2",
            )
            .query(schema::<WebhookQuery>)
            .replies(const {
                &[
                    json(200, schema::<WebhookLog>, "Endpoints, messages and attempts."),
                ]
            }),
            get(webhook_log),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/enforcement/webhooks/redrive",
                OPERATORS,
                "enforcement",
                "Re-drive a dead delivery (same message id).",
                "ENF-2",
            )
            .json_body(schema::<RedriveBody>)
            .replies(const {
                &[
                    json(200, schema::<Redriven>, "Queued again."),
                ]
            }),
            post(webhook_redrive),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/enforcement/deliveries",
                OPERATORS,
                "enforcement",
                "Deliveries no enforcement point has confirmed yet (?failed=true: only those whose retries ran out; reconciliation re-sends them).",
                "ENF-2, PEN-3",
            )
            .query(schema::<DeliveriesQuery>)
            .replies(const {
                &[
                    json(200, schema::<OpenDeliveries>, "What is not confirmed yet."),
                ]
            }),
            get(open_deliveries),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/enforcement/reconcile",
                OPERATORS,
                "enforcement",
                "Reconcile now (it also runs every enforcement.reconcile_interval_secs): re-send what an adapter never confirmed, send what is in force to endpoints configured later, retire deliveries of removed endpoints.",
                "ENF-2",
            )
            .replies(const {
                &[
                    json(200, schema::<Reconciliation>, "What was re-sent."),
                ]
            }),
            post(reconcile_now),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/enforcement/rpz",
                EDGES,
                "enforcement",
                "The DNS Response Policy Zone: suspend_resolution domains answer NXDOMAIN; SOA serial = revision.",
                "ENF-1",
            )
            .replies(const {
                &[
                    text(200, "text/dns", "The zone file."),
                ]
            }),
            get(rpz_zone),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/enforcement/changes",
                EDGES,
                "enforcement",
                "Every apply and lift after ?since=REV, oldest first; ?wait_ms= long-polls (at most 30 s) until there is one.",
                "ENF-1",
            )
            .query(schema::<ChangesQuery>)
            .replies(const {
                &[
                    json(200, schema::<ChangeFeed>, "Changes after since."),
                ]
            }),
            get(enforcement_changes),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/enforcement/snapshot",
                EDGES,
                "enforcement",
                "Everything in force, with the revision it is current at.",
                "ENF-1",
            )
            .replies(const {
                &[
                    json(200, schema::<Snapshot>, "Everything in force."),
                ]
            }),
            get(enforcement_snapshot),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/enforcement/confirm",
                EDGES,
                "enforcement",
                "A point that pulls the feed itself (the ExaBGP bridge) holds every change of its adapter up to a revision: its deliveries are confirmed and the actions settled (applied or lifted once every point confirmed).",
                "ENF-2, PEN-3, DDOS-7",
            )
            .json_body(schema::<ConfirmBody>)
            .replies(const {
                &[
                    json(200, schema::<Confirmed>, "What the confirmation closed."),
                ]
            }),
            post(enforcement_confirm),
        ),
    ])
}
