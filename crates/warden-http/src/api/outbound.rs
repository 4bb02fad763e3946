//! The outbound queue (NOT-1, NOT-2, ENF-2): every webhook delivery, e-mail and SMS with its
//! state and attempts; dead messages are re-driven here.

use warden_app::outbound::{OutboundPage, OutboundView};
use warden_domain::code::Code;
use warden_store::outbound::{Channel, OutboundFilter, OutboundState};

use super::prelude::*;

/// Which messages: paging plus filters.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct OutboundQuery {
    /// Only this channel: `webhook`, `email` or `sms`.
    #[serde(default)]
    #[schemars(with = "Option<Channel>")]
    channel: Option<String>,
    /// Only this state: `pending`, `sent` or `dead`.
    #[serde(default)]
    #[schemars(with = "Option<OutboundState>")]
    state: Option<String>,
    /// Only the messages about this (`notice:<notice id>`, `change:<action id>:<op>`).
    #[serde(default)]
    #[schemars(length(min = 1, max = 200))]
    subject: Option<String>,
    /// Continue after this position (`next_after` of the previous page).
    #[serde(default)]
    #[schemars(pattern(r"^[0-9]{1,18}$"))]
    after: Option<String>,
    /// At most this many (1 to 500; default 100).
    #[serde(default)]
    #[schemars(range(min = 1, max = 500))]
    limit: Option<i64>,
}

fn code<T: Code>(field: &str, value: Option<&str>) -> ApiResult<Option<T>> {
    match value {
        None => Ok(None),
        Some(v) => T::from_code(v)
            .map(Some)
            .ok_or_else(|| ApiError::invalid(field, format!("must be one of {}", T::expected()))),
    }
}

async fn list_outbound(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<OutboundQuery>,
) -> ApiResult<Json<OutboundPage>> {
    let before = match q.after.as_deref() {
        None => None,
        Some(a) => Some(
            Some(a)
                .filter(|a| (1..=18).contains(&a.len()) && a.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|a| a.parse::<i64>().ok())
                .ok_or_else(|| {
                    ApiError::invalid("after", "must be the next_after of a previous page")
                })?,
        ),
    };
    let limit = match q.limit {
        None => 100,
        Some(n @ 1..=500) => n,
        Some(_) => return Err(ApiError::invalid("limit", "must be 1 to 500")),
    };
    let subject = q.subject;
    if subject
        .as_ref()
        .is_some_and(|s| s.is_empty() || s.chars().count() > 200)
    {
        return Err(ApiError::invalid("subject", "must be 1 to 200 characters"));
    }
    let filter = OutboundFilter {
        channel: code::<Channel>("channel", q.channel.as_deref())?,
        state: code::<OutboundState>("state", q.state.as_deref())?,
        subject,
        before,
    };
    Ok(Json(app.list_outbound(&who, &filter, limit).await?))
}

async fn get_outbound(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<OutboundView>> {
    Ok(Json(app.outbound_message(&who, &id).await?))
}

async fn redrive_outbound(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<OutboundView>> {
    Ok(Json(app.redrive_outbound(&who, &id).await?))
}

/// The endpoints of this area.
pub(super) fn endpoints() -> Vec<Endpoint> {
    Vec::from([
        Endpoint::new(
            route(
                "GET",
                "/api/outbound",
                OPERATORS,
                "enforcement",
                "Outbound messages, newest first: webhook deliveries, e-mails and SMS with their state (pending, sent, dead) and attempts so far; ?subject=notice:<id> for one notice's messages per channel.",
                "NOT-1, NOT-2, ENF-2",
            )
            .query(schema::<OutboundQuery>)
            .replies(const {
                &[
                    json(200, schema::<OutboundPage>, "A page of messages."),
                ]
            }),
            get(list_outbound),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/outbound/{id}",
                OPERATORS,
                "enforcement",
                "One message with every attempt (status code and error). Recipients are never shown: they are read, sealed, when the message goes.",
                "NOT-2, ENF-2",
            )
            .replies(const {
                &[
                    json(200, schema::<OutboundView>, "The message and its attempts."),
                ]
            }),
            get(get_outbound),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/outbound/{id}/redrive",
                OPERATORS,
                "enforcement",
                "Re-drive a dead message: back to pending under the same id (the receiver can tell a repeat), attempted at once; 409 unless it is dead.",
                "NOT-2, ENF-2",
            )
            .replies(const {
                &[
                    json(200, schema::<OutboundView>, "Queued again."),
                ]
            }),
            post(redrive_outbound),
        ),
    ])
}
