//! The confidential vulnerability channel (ASMT-4): anyone reports a vulnerability in the
//! provider's infrastructure; only the security team (and admins) read and handle reports;
//! the reporter follows the status — a tenant through `GET /api/vulnerabilities/mine`, anyone
//! else with the status token returned at submission, posted in a body
//! (`POST /api/vulnerabilities/status`) so that it never stands in a URL or an access log.

use warden_app::vulnerabilities::{
    InboxFilter, StatusTokenInput, VulnerabilityInbox, VulnerabilityInput, VulnerabilityReceipt,
    VulnerabilityStateInput, VulnerabilityView,
};
use warden_store::vulnerabilities::VulnerabilityStatus;

use super::prelude::*;

/// Who reads and handles vulnerability reports.
const SECURITY: crate::routes::Access = &["admin", "security_team"];

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct InboxQuery {
    /// Only reports in this state.
    #[serde(default)]
    #[schemars(with = "Option<warden_domain::vulnerability::VulnerabilityState>")]
    state: Option<String>,
    /// Continue below this id (`next_before` of the previous page).
    #[serde(default)]
    before: Option<String>,
    /// At most this many reports (1 to 500; default 100).
    #[serde(default)]
    #[schemars(range(min = 1, max = 500))]
    limit: Option<i64>,
}

async fn submit(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(input): JsonBody<VulnerabilityInput>,
) -> ApiResult<Response> {
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(app.submit_vulnerability(&who, input).await?),
    )
        .into_response())
}

async fn inbox(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<InboxQuery>,
) -> ApiResult<Json<VulnerabilityInbox>> {
    let limit = match q.limit {
        None => 100,
        Some(n @ 1..=500) => n,
        Some(_) => return Err(ApiError::invalid("limit", "must be 1 to 500")),
    };
    let f = InboxFilter {
        state: q.state,
        before: q.before,
        limit,
    };
    Ok(Json(app.list_vulnerabilities(&who, &f).await?))
}

async fn mine(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Json<Items<VulnerabilityStatus>>> {
    Ok(Json(Items {
        items: app.my_vulnerabilities(&who).await?,
    }))
}

async fn status(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(input): JsonBody<StatusTokenInput>,
) -> ApiResult<Json<VulnerabilityStatus>> {
    Ok(Json(app.vulnerability_status(&who, input).await?))
}

async fn read(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(app.get_vulnerability(&who, &id).await?),
    )
        .into_response())
}

async fn set_state(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<VulnerabilityStateInput>,
) -> ApiResult<Json<VulnerabilityStatus>> {
    Ok(Json(app.set_vulnerability_state(&who, &id, input).await?))
}

/// The endpoints of this area.
pub(super) fn endpoints() -> Vec<Endpoint> {
    Vec::from([
        Endpoint::new(
            route(
                "POST",
                "/api/vulnerabilities",
                ANYONE,
                "vulnerabilities",
                "Report a vulnerability in the provider's infrastructure, confidentially: only the security team reads it. A tenant's report is tied to its account; anyone else gets a status token, once.",
                "ASMT-4",
            )
            .json_body(schema::<VulnerabilityInput>)
            .replies(const {
                &[json(201, schema::<VulnerabilityReceipt>, "Received (and sealed).")]
            }),
            post(submit),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/vulnerabilities",
                SECURITY,
                "vulnerabilities",
                "The security team's inbox, newest first (?state=&before=&limit=), with the count per state. Every read is audited.",
                "ASMT-4, AUD-1",
            )
            .query(schema::<InboxQuery>)
            .replies(const { &[json(200, schema::<VulnerabilityInbox>, "A page of reports.")] }),
            get(inbox),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/vulnerabilities/mine",
                TENANTS,
                "vulnerabilities",
                "The status of the vulnerability reports of the tenant's account: id, state and times, no text.",
                "ASMT-4",
            )
            .replies(const {
                &[json(200, schema::<Items<VulnerabilityStatus>>, "Statuses, newest first.")]
            }),
            get(mine),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/vulnerabilities/status",
                ANYONE,
                "vulnerabilities",
                "The status of the report a status token was given for (the token in the body, never in the URL).",
                "ASMT-4",
            )
            .json_body(schema::<StatusTokenInput>)
            .replies(const { &[json(200, schema::<VulnerabilityStatus>, "Its status.")] }),
            post(status),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/vulnerabilities/{id}",
                SECURITY,
                "vulnerabilities",
                "One vulnerability report with its text. The read is audited (the reader and the id, never the text).",
                "ASMT-4, AUD-1",
            )
            .replies(const { &[json(200, schema::<VulnerabilityView>, "The report.")] }),
            get(read),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/vulnerabilities/{id}/state",
                SECURITY,
                "vulnerabilities",
                "Move a report: received → triaged → fixed, or rejected; fixed and rejected are final.",
                "ASMT-4, AUD-1",
            )
            .json_body(schema::<VulnerabilityStateInput>)
            .replies(const { &[json(200, schema::<VulnerabilityStatus>, "Moved.")] }),
            post(set_state),
        ),
    ])
}
