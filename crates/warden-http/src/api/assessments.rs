//! Customers' own security assessments (ASMT-1, ASMT-2, ASMT-3, ASMT-5): tenants declare and
//! stop their assessments and confirm a phishing test's disclosure; operators approve or reject
//! plans from a queue with an SLA, and stop assessments.

use warden_app::assessments::{
    AssessmentDetail, AssessmentPage, AssessmentQuery, AssessmentQueue, AssessmentView,
    DeclareInput, DisclosureInput, ReasonInput, RequiredReasonInput,
};

use super::prelude::*;

/// Who may stop an assessment: its tenant, or an operator.
const STOPPERS: Access = &["admin", "operator", "tenant"];

async fn declare(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(input): JsonBody<DeclareInput>,
) -> ApiResult<Response> {
    Ok((
        StatusCode::CREATED,
        Json(app.declare_assessment(&who, input).await?),
    )
        .into_response())
}

async fn list(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<AssessmentQuery>,
) -> ApiResult<Json<AssessmentPage>> {
    Ok(Json(app.list_assessments(&who, &q).await?))
}

async fn queue(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Json<AssessmentQueue>> {
    Ok(Json(app.assessment_queue(&who).await?))
}

async fn get_one(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<AssessmentDetail>> {
    Ok(Json(app.get_assessment(&who, &id).await?))
}

async fn approve(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<ReasonInput>,
) -> ApiResult<Json<AssessmentView>> {
    Ok(Json(app.approve_assessment(&who, &id, input).await?))
}

async fn reject(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<RequiredReasonInput>,
) -> ApiResult<Json<AssessmentView>> {
    Ok(Json(app.reject_assessment(&who, &id, input).await?))
}

async fn stop(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<RequiredReasonInput>,
) -> ApiResult<Json<AssessmentView>> {
    Ok(Json(app.stop_assessment(&who, &id, input).await?))
}

async fn disclosure(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<DisclosureInput>,
) -> ApiResult<Json<AssessmentView>> {
    Ok(Json(app.confirm_disclosure(&who, &id, input).await?))
}

/// The endpoints of this area.
pub(super) fn endpoints() -> Vec<Endpoint> {
    Vec::from([
        Endpoint::new(
            route(
                "POST",
                "/api/assessments",
                TENANTS,
                "assessments",
                "Declare a security assessment of the account's own resources: a vulnerability scan, penetration test or phishing test is in force for its window at once; a stress or destructive test needs a plan and waits for an operator's approval. Targets not all the account's, or the provider's own infrastructure, are refused (422 `out_of_scope`, naming only those targets) and nothing is stored.",
                "ASMT-1, ASMT-2, ASMT-3, ASMT-5",
            )
            .json_body(schema::<DeclareInput>)
            .replies(const {
                &[
                    json(201, schema::<AssessmentView>, "Declared (or waiting for approval)."),
                ]
            }),
            post(declare),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/assessments",
                READERS,
                "assessments",
                "Assessments, newest first (keyset paged with `after`): a tenant's own, every account's for staff; `state` filters (`pending_approval` is the approval queue). Each carries its approval SLA clock and disclosure state.",
                "ASMT-1, ASMT-2, ASMT-5",
            )
            .query(schema::<AssessmentQuery>)
            .replies(const {
                &[
                    json(200, schema::<AssessmentPage>, "A page."),
                ]
            }),
            get(list),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/assessments/queue",
                REVIEWERS,
                "assessments",
                "The staff queue: plans waiting for approval, earliest SLA due first (overdue and working time left), and phishing tests whose disclosure is unconfirmed (overdue ones flagged).",
                "ASMT-2, ASMT-5",
            )
            .replies(const {
                &[
                    json(200, schema::<AssessmentQueue>, "The queue."),
                ]
            }),
            get(queue),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/assessments/{id}",
                READERS,
                "assessments",
                "One assessment with its plan's contact (a staff read is audited) and its history of transitions.",
                "ASMT-1, ASMT-2, AUD-1, AUD-4",
            )
            .replies(const {
                &[
                    json(200, schema::<AssessmentDetail>, "The assessment."),
                ]
            }),
            get(get_one),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/assessments/{id}/approve",
                OPERATORS,
                "assessments",
                "Approve a plan waiting for approval (the reason is optional); during its window, traffic inside the plan is no attack. A decision after the SLA's due time is flagged `decided_late`. 409 when the plan is not pending or its window is over.",
                "ASMT-2",
            )
            .json_body(schema::<ReasonInput>)
            .replies(const {
                &[
                    json(200, schema::<AssessmentView>, "Approved."),
                ]
            }),
            post(approve),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/assessments/{id}/reject",
                OPERATORS,
                "assessments",
                "Reject a plan waiting for approval; `reason` is required (422) and the tenant is told it. 409 when the plan is not pending.",
                "ASMT-2",
            )
            .json_body(schema::<RequiredReasonInput>)
            .replies(const {
                &[
                    json(200, schema::<AssessmentView>, "Rejected."),
                ]
            }),
            post(reject),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/assessments/{id}/stop",
                STOPPERS,
                "assessments",
                "Stop an assessment early (a tenant: its own); `reason` is required (422). From then on its traffic counts as any other. 409 when it is already over.",
                "ASMT-1, ASMT-2",
            )
            .json_body(schema::<RequiredReasonInput>)
            .replies(const {
                &[
                    json(200, schema::<AssessmentView>, "Stopped."),
                ]
            }),
            post(stop),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/assessments/{id}/disclosure",
                TENANTS,
                "assessments",
                "Confirm, after a phishing test's window, that the tested users were told, with the text they were told; the reminders stop. 409 before the window's end or for another kind.",
                "ASMT-5",
            )
            .json_body(schema::<DisclosureInput>)
            .replies(const {
                &[
                    json(200, schema::<AssessmentView>, "Confirmed."),
                ]
            }),
            post(disclosure),
        ),
    ])
}
