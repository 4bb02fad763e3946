//! Reports: one, a batch, X-ARF, and the sealed reporter contact (INT-1..5, AUD-4).

use warden_app::mail::{MailDoor, MailReceipt};

use super::prelude::*;

async fn submit_report(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(body): JsonBody<ReportRequest>,
) -> ApiResult<Response> {
    let r = app.submit_report(&who, body).await?;
    Ok((StatusCode::CREATED, Json(r)).into_response())
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    /// 1 to `intake.max_batch` reports (default 1000), each a `ReportRequest` as
    /// `POST /api/reports` takes it. Each item is read and validated on its own (INT-4): one
    /// that is no valid report — not a JSON object, a field missing, unknown or of the wrong
    /// type, a value out of range — is listed in the 207 answer's `items` with its error
    /// (`field` `reports[i]` or `reports[i].<field>`), and the others are stored. Hence any
    /// JSON value is accepted here as an item.
    #[schemars(schema_with = "batch_items")]
    reports: Vec<serde_json::Value>,
}

/// The batch's items: any JSON value, each checked as a `ReportRequest` on its own.
fn batch_items(_: &mut SchemaGenerator) -> Schema {
    schemars::json_schema!({
        "type": "array",
        "minItems": 1,
        "maxItems": 1000,
        "items": {
            "description": "A report, as `#/components/schemas/ReportRequest`; an item that is not one is refused on its own, in the 207 answer."
        }
    })
}

async fn submit_batch(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(body): JsonBody<BatchBody>,
) -> ApiResult<Response> {
    let reports = body.reports.into_iter().map(parse_item).collect();
    let r = app.submit_batch(&who, reports).await?;
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

/// Largest raw e-mail this route reads (the configured `mail.max_message_bytes`, at most this,
/// refuses a smaller one by name).
const MAX_MAIL_BODY: usize = 64 * 1024 * 1024;

async fn submit_mail(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    body: Bytes,
) -> ApiResult<Response> {
    let r = app.submit_mail(&who, MailDoor::Api, &body).await?;
    let status = if r.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(r)).into_response())
}

async fn reporter_contact(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<ReporterContact>> {
    let reporter_contact = app.reveal_reporter(&who, &id).await?;
    Ok(Json(ReporterContact {
        report_id: id,
        reporter_contact,
    }))
}

/// The endpoints of this area.
pub(super) fn endpoints() -> Vec<Endpoint> {
    Vec::from([
        Endpoint::new(
            route(
                "POST",
                "/api/reports",
                REPORTERS,
                "intake",
                "File one report (anonymous reporters are rate-limited per IP).",
                "INT-1, INT-3, INT-4, INT-5",
            )
            .json_body(schema::<ReportRequest>)
            .replies(const {
                &[
                    json(201, schema::<Receipt>, "Stored."),
                ]
            }),
            post(submit_report),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/reports/batch",
                BATCHERS,
                "intake",
                "File up to max_batch reports; valid ones are stored in one transaction, invalid ones listed.",
                "INT-1, INT-4",
            )
            .json_body(schema::<BatchBody>)
            .replies(const {
                &[
                    json(201, schema::<BatchReceipt>, "Every report stored."),
                    json(207, schema::<BatchReceipt>, "The valid reports stored; the invalid ones listed."),
                ]
            }),
            post(submit_batch).layer(DefaultBodyLimit::max(MAX_BULK_BODY)),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/reports/xarf",
                REPORTERS,
                "intake",
                "File an X-ARF v3 report; it is validated, mapped to a category and kept as evidence with the reporter contact sealed (AUD-4).",
                "INT-2",
            )
            .json_body(schema::<XarfDocument>)
            .replies(const {
                &[
                    json(201, schema::<Receipt>, "Stored."),
                ]
            }),
            post(submit_xarf),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/reports/mail",
                BATCHERS,
                "intake",
                "File a raw e-mail (message/rfc822): its ARF and X-ARF reports become reports on the JSON path's cases; notify-only ones and a muted reporter's are kept without a case. All or nothing: a refused message names the MIME part and field and stores nothing. The same message sent again answers its first receipt (200).",
                "INT-2, INT-3, INT-6",
            )
            .raw_body("message/rfc822")
            .replies(const {
                &[
                    json(201, schema::<MailReceipt>, "Taken in: every report stored."),
                    json(200, schema::<MailReceipt>, "This very message was taken in before: its first receipt, nothing stored again."),
                ]
            }),
            post(submit_mail).layer(DefaultBodyLimit::max(MAX_MAIL_BODY)),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/reports/{id}/reporter-contact",
                OPERATORS,
                "intake",
                "Decrypt a report's reporter contact (audited).",
                "AUD-4",
            )
            .replies(const {
                &[
                    json( 200, schema::<ReporterContact>, "The contact (the read is audited).", ),
                ]
            }),
            get(reporter_contact),
        ),
    ])
}
