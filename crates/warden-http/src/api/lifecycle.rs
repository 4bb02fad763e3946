//! Penalties and unblocking: direct enforcement, the penalty record, self-service and manual unblock, the reviewer queue (PEN-3, UNB-1..6, HARM-1).

use super::prelude::*;

async fn enforce_case(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<EnforceInput>,
) -> ApiResult<Json<Case>> {
    Ok(Json(app.enforce_case(&who, &id, input).await?))
}

async fn case_penalties(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<warden_app::lifecycle::Penalties>> {
    Ok(Json(app.case_penalties(&who, &id).await?))
}

async fn self_unblock(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<SelfUnblockInput>,
) -> ApiResult<Response> {
    let r = app.self_unblock(&who, &id, input).await?;
    // UNB-2: a failed attempt is recorded but creates no unblock: 200 with `outcome: failed`.
    let status = match r.outcome {
        warden_app::lifecycle::SelfUnblockOutcome::Lifted => StatusCode::CREATED,
        warden_app::lifecycle::SelfUnblockOutcome::Failed => StatusCode::OK,
    };
    Ok((status, Json(r)).into_response())
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
) -> ApiResult<Json<Items<QueuedRequest>>> {
    Ok(Json(Items {
        items: app.unblock_queue(&who).await?,
    }))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    /// Why (required to reject; shown to the tenant), at most 2000 characters.
    #[serde(default)]
    reason: Option<String>,
}

/// The body is optional: `{ "reason": "..." }` or nothing.
/// Body of a rejection: the reason is required and shown to the tenant (UNB-3).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RejectBody {
    /// Why, 1 to 2000 characters, e.g. "the URL still has violating content".
    #[schemars(required, length(min = 1, max = 2000), pattern(r"\S"))]
    reason: Option<String>,
}

async fn approve_unblock(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<UnblockRequest>> {
    let b: ReviewBody = if body.is_empty() {
        ReviewBody { reason: None }
    } else {
        parse_json(&body)?
    };
    Ok(Json(app.review_unblock(&who, &id, true, b.reason).await?))
}

async fn reject_unblock(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<RejectBody>,
) -> ApiResult<Json<UnblockRequest>> {
    Ok(Json(app.review_unblock(&who, &id, false, b.reason).await?))
}

async fn withdraw_unblock(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    app.withdraw_unblock(&who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The endpoints of this area.
pub(super) fn endpoints() -> Vec<Endpoint> {
    Vec::from([
        Endpoint::new(
            route(
                "POST",
                "/api/cases/{id}/enforce",
                OPERATORS,
                "lifecycle",
                "Apply actions directly, e.g. block_network on a machine attacking others; `reason` required.",
                "HARM-1, PEN-3",
            )
            .json_body(schema::<EnforceInput>)
            .replies(const {
                &[
                    json(200, schema::<Case>, "Enforced."),
                ]
            }),
            post(enforce_case),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/cases/{id}/penalties",
                READERS,
                "lifecycle",
                "Level with reasons, deadline, action records and unblock requests of a case.",
                "GRD-2, PEN-3, UNB-6",
            )
            .replies(const {
                &[
                    json( 200, schema::<Penalties>, "Level, deadline, actions and requests.", ),
                ]
            }),
            get(case_penalties),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/cases/{id}/unblock/self",
                TENANTS,
                "lifecycle",
                "Self-service unblock: confirm the rectification commitment; every violating URL is re-checked. 201 with outcome lifted, or 200 with outcome failed and the URLs still violating.",
                "UNB-1, UNB-2, UNB-4",
            )
            .json_body(schema::<SelfUnblockInput>)
            .replies(const {
                &[
                    json(201, schema::<SelfUnblockResult>, "Every URL was clean: lifted."),
                    json(200, schema::<SelfUnblockResult>, "Violating content is still present: failed, with the URLs."),
                ]
            }),
            post(self_unblock),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/cases/{id}/unblock/manual",
                TENANTS,
                "lifecycle",
                "Manual unblock after a failed self-service attempt: into the reviewer queue with a working-time SLA.",
                "UNB-3, UNB-4",
            )
            .replies(const {
                &[
                    json(201, schema::<UnblockRequest>, "In the reviewer queue."),
                ]
            }),
            post(manual_unblock),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/unblock-requests",
                REVIEWERS,
                "lifecycle",
                "The reviewer queue with SLA due times, overdue and working_ms_left.",
                "UNB-3",
            )
            .replies(const {
                &[
                    json( 200, schema::<Items<QueuedRequest>>, "The queue with SLA clocks.", ),
                ]
            }),
            get(unblock_queue),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/unblock-requests/{id}/approve",
                REVIEW_DECIDERS,
                "lifecycle",
                "Approve a manual unblock: every liftable action is lifted. Optional body { reason }, kept and shown to the tenant.",
                "UNB-3",
            )
            .optional_json_body(schema::<ReviewBody>)
            .replies(const {
                &[
                    json(200, schema::<UnblockRequest>, "Approved; liftable actions lifted."),
                ]
            }),
            post(approve_unblock),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/unblock-requests/{id}/reject",
                REVIEW_DECIDERS,
                "lifecycle",
                "Reject a manual unblock; `reason` is required and shown to the tenant.",
                "UNB-3",
            )
            .json_body(schema::<RejectBody>)
            .replies(const {
                &[
                    json(200, schema::<UnblockRequest>, "Rejected."),
                ]
            }),
            post(reject_unblock),
        ),
        Endpoint::new(
            route(
                "DELETE",
                "/api/unblock-requests/{id}",
                TENANTS,
                "lifecycle",
                "Withdraw a request: always refused (request_cannot_be_withdrawn).",
                "UNB-3",
            )
            .replies(const {
                &[
                    empty(204, "Never: a request cannot be withdrawn (409)."),
                ]
            }),
            delete(withdraw_unblock),
        ),
    ])
}
