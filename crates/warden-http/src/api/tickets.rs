//! Tickets (TKT-1, UNB-5, HARM-2): filed by tenants, worked by reviewers with an SLA clock.

use super::prelude::*;

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
) -> ApiResult<Json<Items<TicketView>>> {
    Ok(Json(Items {
        items: app.list_tickets(&who).await?,
    }))
}

async fn close_ticket(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<CloseTicketInput>,
) -> ApiResult<Json<Ticket>> {
    Ok(Json(app.close_ticket(&who, &id, input).await?))
}

/// The endpoints of this area.
pub(super) fn endpoints() -> Vec<Endpoint> {
    Vec::from([
        Endpoint::new(
            route(
                "POST",
                "/api/tickets",
                TENANTS,
                "lifecycle",
                "File a ticket (unblock, regulator, harmful_behaviour, question), optionally linked to a case.",
                "TKT-1, UNB-5",
            )
            .json_body(schema::<TicketInput>)
            .replies(const {
                &[
                    json(201, schema::<Ticket>, "Filed."),
                ]
            }),
            post(file_ticket),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/tickets",
                READERS,
                "lifecycle",
                "Tickets: a tenant's own; for staff the open queue by SLA due time, with overdue and working_ms_left.",
                "TKT-1",
            )
            .replies(const {
                &[
                    json(200, schema::<Items<TicketView>>, "Tickets with SLA clocks."),
                ]
            }),
            get(list_tickets),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/tickets/{id}/close",
                REVIEW_DECIDERS,
                "lifecycle",
                "Close a ticket with a resolution; `lift` lifts the linked case's penalty.",
                "TKT-1, HARM-2",
            )
            .json_body(schema::<CloseTicketInput>)
            .replies(const {
                &[
                    json(200, schema::<Ticket>, "Closed."),
                ]
            }),
            post(close_ticket),
        ),
    ])
}
