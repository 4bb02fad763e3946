//! Cases and the triage queue: list, count, read, reports, history, confirm, dismiss; the tenant inbox (INT-4/5, LIFE-5, NOT-1).

use super::prelude::*;

async fn list_cases(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<CasesQuery>,
) -> ApiResult<Json<Page<Case>>> {
    let items = app
        .list_cases(
            &who,
            &case_filter(&q)?,
            q.after.as_deref().unwrap_or_default(),
            page_size(q.limit)?,
        )
        .await?;
    let next_after = items.last().map(|c| c.id.clone());
    Ok(Json(Page { items, next_after }))
}

async fn count_cases(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<CountQuery>,
) -> ApiResult<Json<Count>> {
    let count = app.count_cases(&who, &count_filter(&q)?).await?;
    Ok(Json(Count { count }))
}

async fn get_case(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Case>> {
    Ok(Json(app.get_case(&who, &id).await?))
}

async fn case_reports(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Items<ReportView>>> {
    Ok(Json(Items {
        items: app.case_reports(&who, &id).await?,
    }))
}

async fn case_history(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Items<HistoryEntry>>> {
    Ok(Json(Items {
        items: app.case_history(&who, &id).await?,
    }))
}

async fn confirm_case(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Case>> {
    let input: ConfirmInput = if body.is_empty() {
        ConfirmInput::default()
    } else {
        parse_json(&body)?
    };
    Ok(Json(app.confirm_case(&who, &id, input).await?))
}

async fn dismiss_case(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<TriageInput>,
) -> ApiResult<Json<Case>> {
    Ok(Json(app.dismiss(&who, &id, input).await?))
}

async fn list_notices(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<PageQuery>,
) -> ApiResult<Json<Page<Notice>>> {
    let items = app
        .list_notices(
            &who,
            q.after.as_deref().unwrap_or_default(),
            page_size(q.limit)?,
        )
        .await?;
    let next_after = items.last().map(|n| n.id.clone());
    Ok(Json(Page { items, next_after }))
}

/// The endpoints of this area.
pub(super) fn endpoints() -> Vec<Endpoint> {
    Vec::from([
        Endpoint::new(
            route(
                "GET",
                "/api/cases",
                READERS,
                "cases",
                "List cases (?state=reported is the triage queue; ?unowned=true; ?after=&limit=).",
                "INT-4, INT-5",
            )
            .query(schema::<CasesQuery>)
            .replies(const {
                &[
                    json(200, schema::<Page<Case>>, "A page of cases."),
                ]
            }),
            get(list_cases),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/cases/count",
                READERS,
                "cases",
                "Count cases (same filters as the list).",
                "INT-4",
            )
            .query(schema::<CountQuery>)
            .replies(const {
                &[
                    json(200, schema::<Count>, "How many."),
                ]
            }),
            get(count_cases),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/cases/{id}",
                READERS,
                "cases",
                "One case.",
                "LIFE-5",
            )
            .replies(const {
                &[
                    json(200, schema::<Case>, "The case."),
                ]
            }),
            get(get_case),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/cases/{id}/reports",
                READERS,
                "cases",
                "The reports of a case, with evidence digests (evidence text for staff).",
                "INT-3",
            )
            .replies(const {
                &[
                    json(200, schema::<Items<ReportView>>, "Its reports."),
                ]
            }),
            get(case_reports),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/cases/{id}/history",
                READERS,
                "cases",
                "The case's history: every report and transition with time, role and reason (actors for staff).",
                "LIFE-5",
            )
            .replies(const {
                &[
                    json(200, schema::<Items<HistoryEntry>>, "Its history."),
                ]
            }),
            get(case_history),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/cases/{id}/confirm",
                OPERATORS,
                "cases",
                "Confirm a reported case.",
                "INT-5, LIFE-1",
            )
            .optional_json_body(schema::<ConfirmInput>)
            .replies(const {
                &[
                    json(200, schema::<Case>, "Confirmed and graded."),
                ]
            }),
            post(confirm_case),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/cases/{id}/dismiss",
                OPERATORS,
                "cases",
                "Dismiss a reported case; `reason` is required.",
                "LIFE-5",
            )
            .json_body(schema::<TriageInput>)
            .replies(const {
                &[
                    json(200, schema::<Case>, "Dismissed."),
                ]
            }),
            post(dismiss_case),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/notices",
                READERS,
                "cases",
                "Inbox notices (站内信): tenants see their own; staff see all.",
                "NOT-1, NOT-2",
            )
            .query(schema::<PageQuery>)
            .replies(const {
                &[
                    json( 200, schema::<Page<Notice>>, "A page of the inbox.", ),
                ]
            }),
            get(list_notices),
        ),
    ])
}
