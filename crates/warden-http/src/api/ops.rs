//! Liveness, readiness, metrics, this document, the taxonomy, who the caller is, and job diagnostics (OPS-2, LIFE-4, TAX).

use super::prelude::*;

async fn readyz(State(app): State<App>) -> Response {
    match app.store.ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            ApiError::new("unavailable", "the database does not answer", json!({})).into_response()
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
    let outbound = app.store.outbound_counts().await.unwrap_or_default();
    text.push_str(&warden_app::metrics::Metrics::render_outbound(&outbound));
    text.push_str(&format!(
        "# HELP warden_review_sla_breaches Open manual-unblock requests and tickets past their SLA due time (UNB-3, TKT-1).\n# TYPE warden_review_sla_breaches gauge\nwarden_review_sla_breaches {breaches}\n"
    ));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn whoami(Extension(who): Extension<Principal>) -> Json<Whoami> {
    Json(match who {
        Principal::Token {
            id,
            role,
            account,
            label,
        } => Whoami {
            role: role.code().to_string(),
            token_id: Some(id),
            account_id: account,
            label: Some(label),
        },
        other => Whoami {
            role: other.role_code().to_string(),
            token_id: None,
            account_id: None,
            label: None,
        },
    })
}

async fn taxonomy() -> Json<Taxonomy> {
    Json(Taxonomy {
        categories: warden_domain::taxonomy::CATEGORIES,
    })
}

async fn ping_jobs(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(b): JsonBody<PingInput>,
) -> ApiResult<Response> {
    let job_ids = app.enqueue_pings(&who, &b).await?;
    Ok((StatusCode::CREATED, Json(JobIds { job_ids })).into_response())
}

async fn job_counts(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Json<JobCounts>> {
    Ok(Json(app.job_counts(&who).await?))
}

/// The endpoints of this area.
pub(super) fn endpoints() -> Vec<Endpoint> {
    Vec::from([
        Endpoint::new(
            route(
                "GET",
                "/healthz",
                ANYONE,
                "ops",
                "Liveness: 200 while the process runs.",
                "OPS-2",
            )
            .replies(const { &[text(200, "text/plain", "The process runs.")] }),
            get(|| async { "ok" }),
        ),
        Endpoint::new(
            route(
                "GET",
                "/readyz",
                ANYONE,
                "ops",
                "Readiness: 200 when the database answers, else 503.",
                "OPS-2",
            )
            .replies(const { &[text(200, "text/plain", "The database answers.")] }),
            get(readyz),
        ),
        Endpoint::new(
            route(
                "GET",
                "/metrics",
                ANYONE,
                "ops",
                "Prometheus metrics (text format).",
                "OPS-2",
            )
            .replies(const { &[text(200, "text/plain", "Prometheus text format.")] }),
            get(metrics),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/openapi.json",
                ANYONE,
                "ops",
                "This document.",
                "OPS-2",
            )
            .replies(const { &[json(200, schema::<serde_json::Value>, "This document.")] }),
            get(|| async { Json(crate::routes::openapi()) }),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/taxonomy",
                ANYONE,
                "intake",
                "Violation categories with zh-CN/en labels, base severity and legal references.",
                "TAX-1..3",
            )
            .replies(const { &[json(200, schema::<Taxonomy>, "Every category.")] }),
            get(taxonomy),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/whoami",
                TOKEN,
                "identity",
                "The caller's token id, role and account.",
                "§1",
            )
            .replies(const { &[json(200, schema::<Whoami>, "The caller.")] }),
            get(whoami),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/admin/jobs/ping",
                ADMINS,
                "ops",
                "Enqueue diagnostic jobs that record which node ran them.",
                "LIFE-4",
            )
            .json_body(schema::<PingInput>)
            .replies(const { &[json(201, schema::<JobIds>, "The jobs enqueued.")] }),
            post(ping_jobs),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/admin/jobs",
                OPERATORS,
                "ops",
                "Job queue counts by state.",
                "LIFE-4",
            )
            .replies(const { &[json(200, schema::<JobCounts>, "Jobs per state.")] }),
            get(job_counts),
        ),
    ])
}
