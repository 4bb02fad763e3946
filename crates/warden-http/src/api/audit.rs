//! The audit log (AUD-1..3): entries and verification.

use super::prelude::*;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct AuditQuery {
    /// Continue after this sequence number (`next_after` of the previous page).
    #[serde(default)]
    after: Option<i64>,
    /// At most this many events (1 to 1000; default 100).
    #[serde(default)]
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<i64>,
    /// Only this action, e.g. `case.confirm`.
    #[serde(default)]
    action: Option<String>,
    /// Only this subject, e.g. `case:<id>`.
    #[serde(default)]
    subject: Option<String>,
    /// Only this account.
    #[serde(default)]
    account_id: Option<String>,
}

async fn list_audit(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    let f = AuditFilter {
        action: q.action,
        subject: q.subject,
        account_id: q.account_id,
        ..Default::default()
    };
    let items = app
        .list_audit(&who, &f, q.after.unwrap_or(0), page_size(q.limit)?)
        .await?;
    let next_after = items.last().map(|e| e.seq);
    Ok(Json(AuditPage { items, next_after }))
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

/// The endpoints of this area.
pub(super) fn endpoints() -> Vec<Endpoint> {
    Vec::from([
        Endpoint::new(
            route(
                "GET",
                "/api/audit",
                AUDITORS,
                "audit",
                "Audit events (?after=&limit=&action=&subject=&account_id=).",
                "AUD-1",
            )
            .query(schema::<AuditQuery>)
            .replies(const { &[json(200, schema::<AuditPage>, "A page of events.")] }),
            get(list_audit),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/audit/verify",
                AUDITORS,
                "audit",
                "Walk the hash chain; names the first broken event.",
                "AUD-2",
            )
            .replies(
                const {
                    &[
                        json(200, schema::<Verification>, "The chain verifies."),
                        json(
                            409,
                            schema::<Verification>,
                            "The chain is broken; the first bad event is named.",
                        ),
                    ]
                },
            ),
            get(verify_audit),
        ),
    ])
}
