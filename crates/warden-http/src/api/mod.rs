//! The API's handlers, one file per area. Each file holds its handlers and, at its end, its
//! endpoints: the route-table entry (path, roles, summary, request and response schemas) beside
//! the handler it routes to, so every path is written once. [`endpoints`] gathers them; the
//! router, the role check, the OpenAPI document and the isolation test all read that one list.
//!
//! A new area (console pages, notices, DDoS, assessments, intake formats) is one more file here
//! and one more line in [`endpoints`].

mod assessments;
mod audit;
mod auth;
mod cases;
mod ddos;
mod enforcement;
mod intake;
mod lifecycle;
mod ops;
mod outbound;
mod registry;
mod scan;
mod tickets;
mod vulnerabilities;

pub(crate) use enforcement::{enforcement_check, enforcement_check_envoy, enforcement_notice};

use crate::routes::Endpoint;

/// Every endpoint of the API, area by area.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    [
        ops::endpoints(),
        intake::endpoints(),
        cases::endpoints(),
        lifecycle::endpoints(),
        tickets::endpoints(),
        assessments::endpoints(),
        vulnerabilities::endpoints(),
        enforcement::endpoints(),
        ddos::endpoints(),
        outbound::endpoints(),
        scan::endpoints(),
        registry::endpoints(),
        audit::endpoints(),
        auth::endpoints(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// What every handler file uses.
pub(crate) mod prelude {
    pub(crate) use axum::body::Bytes;
    pub(crate) use axum::extract::{DefaultBodyLimit, Path, State};
    pub(crate) use axum::http::{StatusCode, header};
    pub(crate) use axum::response::{IntoResponse, Response};
    pub(crate) use axum::routing::{delete, get, patch, post};
    pub(crate) use axum::{Extension, Json};
    pub(crate) use serde::Deserialize;
    pub(crate) use serde_json::json;
    pub(crate) use warden_app::App;
    pub(crate) use warden_app::auth::{IssuedToken, Principal};
    pub(crate) use warden_app::enforce::{
        ChangeFeed, Confirmed, OpenDeliveries, Reconciliation, Redriven, Snapshot, WebhookLog,
    };
    pub(crate) use warden_app::intake::{BatchReceipt, Receipt};
    pub(crate) use warden_app::jobs::PingInput;
    pub(crate) use warden_app::lifecycle::{
        ConfirmInput, EnforceInput, Penalties, QueuedRequest, SelfUnblockInput, SelfUnblockResult,
    };
    pub(crate) use warden_app::registry::{
        AccountInput, AccountView, Contacts, ImportReport, ResourceInput,
    };
    pub(crate) use warden_app::scan::{LexiconView, ScanInput, ScanResult, TermChange, TermInput};
    pub(crate) use warden_app::tickets::{CloseTicketInput, TicketInput, TicketView};
    pub(crate) use warden_app::triage::{HistoryEntry, ReportView, TriageInput};
    pub(crate) use warden_domain::report::ReportRequest;
    pub(crate) use warden_store::audit::{AuditFilter, Verification};
    pub(crate) use warden_store::jobs::JobCounts;
    pub(crate) use warden_store::lifecycle::Notice;
    pub(crate) use warden_store::reports::Case;
    pub(crate) use warden_store::resources::Resource;
    pub(crate) use warden_store::tokens::Token;
    pub(crate) use warden_store::unblock::{Ticket, UnblockRequest};

    pub(crate) use super::views::*;
    pub(crate) use super::{
        CasesQuery, CountQuery, JsonBody, PageQuery, Q, ResourcesQuery, case_filter, count_filter,
        page_size, parse_item, parse_json,
    };
    pub(crate) use crate::routes::{
        ADMINS, ANYONE, AUDITORS, Access, BATCHERS, EDGES, Endpoint, OPERATORS, PROTECTORS,
        READERS, REPORTERS, REVIEW_DECIDERS, REVIEWERS, SCANNERS, TENANTS, TOKEN, empty, json,
        route, schema, shaped, text,
    };
    pub(crate) use crate::{ApiError, ApiResult, MAX_BULK_BODY};
    pub(crate) use schemars::{Schema, SchemaGenerator};
}

/// Response shapes the handlers build around use-case results.
pub(crate) mod views {
    use schemars::JsonSchema;
    use serde::Serialize;

    /// A page of a list; pass `next_after` as `after` for the next page (`null`: the last).
    #[derive(Debug, Serialize, JsonSchema)]
    #[schemars(rename = "Page_of_{T}")]
    pub(crate) struct Page<T> {
        /// This page.
        pub(crate) items: Vec<T>,
        /// The id to continue after, if there may be more.
        pub(crate) next_after: Option<String>,
    }

    /// A whole list.
    #[derive(Debug, Serialize, JsonSchema)]
    #[schemars(rename = "Items_of_{T}")]
    pub(crate) struct Items<T> {
        /// The items.
        pub(crate) items: Vec<T>,
    }

    /// A count.
    #[derive(Debug, Serialize, JsonSchema)]
    pub(crate) struct Count {
        /// How many.
        pub(crate) count: i64,
    }

    /// Ids of enqueued jobs.
    #[derive(Debug, Serialize, JsonSchema)]
    pub(crate) struct JobIds {
        /// The jobs.
        pub(crate) job_ids: Vec<String>,
    }

    /// The caller (§1).
    #[derive(Debug, Serialize, JsonSchema)]
    pub(crate) struct Whoami {
        /// `anonymous` or the token's role.
        pub(crate) role: String,
        /// The token.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(crate) token_id: Option<String>,
        /// The account of a tenant token.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(crate) account_id: Option<String>,
        /// The token's label.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(crate) label: Option<String>,
    }

    /// The violation taxonomy (TAX-1..3).
    #[derive(Debug, Serialize, JsonSchema)]
    pub(crate) struct Taxonomy {
        /// Every category with labels, base severity and legal references.
        pub(crate) categories: &'static [warden_domain::taxonomy::CategoryInfo],
    }

    /// A report's reporter contact, decrypted (AUD-4; the read is audited).
    #[derive(Debug, Serialize, JsonSchema)]
    pub(crate) struct ReporterContact {
        /// The report.
        pub(crate) report_id: String,
        /// The contact, if the reporter left one.
        pub(crate) reporter_contact: Option<String>,
    }

    /// Whether a URL, host or IP is blocked, and why (ENF-1).
    #[derive(Debug, Serialize, JsonSchema)]
    pub(crate) struct DecisionView {
        /// Blocked or not.
        pub(crate) blocked: bool,
        /// The case that blocks it.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(crate) case_id: Option<String>,
        /// The action in force.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(crate) action: Option<String>,
        /// The rule that matched.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(crate) rule: Option<String>,
        /// The notice page to show.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(crate) notice: Option<String>,
    }

    /// A page of the audit log; pass `next_after` as `after` for the next page.
    #[derive(Debug, Serialize, JsonSchema)]
    pub(crate) struct AuditPage {
        /// This page.
        pub(crate) items: Vec<warden_app::audit::AuditEntry>,
        /// The sequence number to continue after.
        pub(crate) next_after: Option<i64>,
    }

    /// An X-ARF v3 report (INT-2), validated by Warden against the X-ARF schema; see
    /// <https://github.com/abusix/xarf>. Its schema is what the validator accepts
    /// ([`warden_domain::xarf::document_schema`]).
    #[derive(Debug)]
    pub(crate) struct XarfDocument;

    impl JsonSchema for XarfDocument {
        fn schema_name() -> std::borrow::Cow<'static, str> {
            "XarfV3Report".into()
        }

        fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
            schemars::Schema::try_from(warden_domain::xarf::document_schema())
                .unwrap_or_else(|_| schemars::json_schema!({ "type": "object" }))
        }
    }
}

use axum::body::Bytes;
use axum::extract::{FromRequest, Query, Request};
use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use warden_store::reports::CaseFilter;

use crate::{ApiError, ApiResult};

/// A JSON body whose errors name the place: unknown and missing fields become `invalid_field`.
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    "payload_too_large",
                    "the body is larger than this route accepts",
                    json!({}),
                )
            } else {
                ApiError::malformed(e.body_text())
            }
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses a JSON object body of type `T`.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    // Every body is one JSON object: an array, a string or a number is refused as a whole
    // rather than read by a type that happens to accept a sequence.
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(ApiError::invalid(
            "body",
            "must be a JSON object ({...}), not an array or a bare value",
        ));
    }
    let first_try =
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(bytes));
    let err = match first_try {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    // JSON has one number type: `3.0` is the integer 3 to JSON Schema, so an integral float
    // where an integer is expected is read as that integer, not refused.
    if err.inner().is_data()
        && err.inner().to_string().contains("floating point")
        && let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(bytes)
        && integral_floats_to_integers(&mut v)
        && let Ok(t) = serde_path_to_error::deserialize(v)
    {
        return Ok(t);
    }
    Err(body_error(&err))
}

/// The API error for a body serde refused: bad JSON is 400; a field of the wrong type, a
/// missing or an unknown one is 422 naming the field by its path (`identifiers[0].kind`).
fn body_error(err: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = err.inner();
    if !inner.is_data() {
        return ApiError::malformed(inner.to_string());
    }
    let (field, reason) = field_error(err);
    ApiError::invalid(if field.is_empty() { "body" } else { &field }, reason)
}

/// One item of a JSON array read on its own (a batch's reports): the item as a `T`, or the
/// problem with it, the field named relative to the item (empty: the item as a whole). An item
/// must be a JSON object; serde would read an array as a struct's fields in order.
pub(crate) fn parse_item<T: DeserializeOwned>(
    mut item: serde_json::Value,
) -> Result<T, warden_domain::resource::InvalidInput> {
    use warden_domain::resource::InvalidInput;
    if !item.is_object() {
        return Err(InvalidInput::new(
            "",
            "must be a JSON object (a report), not an array or a bare value",
        ));
    }
    integral_floats_to_integers(&mut item);
    serde_path_to_error::deserialize(item).map_err(|e| {
        let (field, reason) = field_error(&e);
        InvalidInput::new(field, reason)
    })
}

/// The field (by its path; empty for the value as a whole) and the reason of a data error.
fn field_error<E: serde::de::Error + std::fmt::Display>(
    err: &serde_path_to_error::Error<E>,
) -> (String, String) {
    let msg = err.inner().to_string();
    let path = err.path().to_string();
    // serde names a missing or unknown field in its message, one level below the path.
    let named = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|prefix| msg.split(prefix).nth(1))
        .and_then(|rest| rest.split('`').next())
        .map(str::to_string);
    let field = match (named, path.as_str()) {
        (Some(f), "." | "") => f,
        (Some(f), p) if !msg.starts_with("unknown field") => format!("{p}.{f}"),
        (_, "." | "") => String::new(),
        (_, p) => p.to_string(),
    };
    // The position serde adds ("at line 1 column 12") means nothing to the caller of a field.
    let reason = msg.split(" at line ").next().unwrap_or(&msg).to_string();
    (field, reason)
}

/// Rewrites every float with no fractional part (within ±2^53) as an integer; whether any was.
fn integral_floats_to_integers(v: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            #[allow(clippy::cast_possible_truncation)] // integral and within ±2^53: exact
            Some(f) if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 => {
                *v = Value::from(f as i64);
                true
            }
            _ => false,
        },
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |any, i| integral_floats_to_integers(i) | any),
        Value::Object(map) => map
            .values_mut()
            .fold(false, |any, i| integral_floats_to_integers(i) | any),
        _ => false,
    }
}

/// A query string whose errors are API errors naming the parameter.
pub(crate) struct Q<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for Q<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(Q(v)),
            Err(e) => {
                let msg = e.body_text();
                let field = msg
                    .split(": ")
                    .nth(1)
                    .and_then(|m| m.split(':').next())
                    .unwrap_or("query")
                    .to_string();
                Err(ApiError::new(
                    "invalid_field",
                    msg.clone(),
                    json!({ "field": field, "reason": msg }),
                ))
            }
        }
    }
}

/// Paging: `?after=<id>&limit=<n>`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct PageQuery {
    /// Continue after this id (`next_after` of the previous page).
    #[serde(default)]
    pub(crate) after: Option<String>,
    /// At most this many items (1 to 1000; default 100).
    #[serde(default)]
    #[schemars(range(min = 1, max = 1000))]
    pub(crate) limit: Option<i64>,
}

/// The page size asked for: 100 by default, 1 to 1000, else 422 naming `limit`.
pub(crate) fn page_size(limit: Option<i64>) -> ApiResult<i64> {
    match limit {
        None => Ok(100),
        Some(n @ 1..=1000) => Ok(n),
        Some(_) => Err(ApiError::invalid("limit", "must be 1 to 1000")),
    }
}

/// Cases: paging plus filters.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct CasesQuery {
    /// Continue after this id (`next_after` of the previous page).
    #[serde(default)]
    pub(crate) after: Option<String>,
    /// At most this many items (1 to 1000; default 100).
    #[serde(default)]
    #[schemars(range(min = 1, max = 1000))]
    pub(crate) limit: Option<i64>,
    /// Only cases in this state (`reported` is the triage queue).
    #[serde(default)]
    #[schemars(with = "Option<warden_domain::lifecycle::State>")]
    pub(crate) state: Option<String>,
    /// Only unowned cases (RES-2).
    #[serde(default)]
    pub(crate) unowned: Option<bool>,
}

/// Counting cases: the filters of a cases query, without paging.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct CountQuery {
    /// Only cases in this state (`reported` is the triage queue).
    #[serde(default)]
    #[schemars(with = "Option<warden_domain::lifecycle::State>")]
    pub(crate) state: Option<String>,
    /// Only unowned cases (RES-2).
    #[serde(default)]
    pub(crate) unowned: Option<bool>,
}

/// The storage filter of a cases query; an unknown state is refused naming the parameter.
pub(crate) fn case_filter(q: &CasesQuery) -> ApiResult<CaseFilter> {
    count_filter(&CountQuery {
        state: q.state.clone(),
        unowned: q.unowned,
    })
}

/// The storage filter of a count; an unknown state is refused naming the parameter.
pub(crate) fn count_filter(q: &CountQuery) -> ApiResult<CaseFilter> {
    let state = q
        .state
        .as_deref()
        .map(warden_domain::lifecycle::State::parse)
        .transpose()
        .map_err(|e| ApiError::from(warden_app::AppError::from(e)))?;
    Ok(CaseFilter {
        state,
        unowned: q.unowned.unwrap_or(false),
        ..Default::default()
    })
}

/// Resources: paging plus the account.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct ResourcesQuery {
    /// Continue after this id (`next_after` of the previous page).
    #[serde(default)]
    pub(crate) after: Option<String>,
    /// At most this many items (1 to 1000; default 100).
    #[serde(default)]
    #[schemars(range(min = 1, max = 1000))]
    pub(crate) limit: Option<i64>,
    /// Only this account's resources (staff; tenants see their own).
    #[serde(default)]
    pub(crate) account_id: Option<String>,
}
