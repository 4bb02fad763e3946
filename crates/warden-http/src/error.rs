//! The API's error table: every error has one stable snake_case code and one HTTP status; the
//! body is always `{ "code", "message", "details" }`. Internal causes are logged, never returned.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use warden_app::AppError;

/// Every error code the API returns, with its status and meaning (served in the OpenAPI
/// document). The status of an error is looked up here from its code, so a code and its status
/// cannot disagree between two call sites.
pub const ERROR_CODES: &[(&str, u16, &str)] = &[
    (
        "unauthenticated",
        401,
        "No API token, or an unknown or revoked one.",
    ),
    ("forbidden", 403, "Your role may not use this route."),
    (
        "not_found",
        404,
        "No such object — or not one your account may see.",
    ),
    (
        "method_not_allowed",
        405,
        "The route exists but does not take this method; see /api/openapi.json.",
    ),
    (
        "malformed_json",
        400,
        "The body is not valid JSON of the expected shape; details name the place.",
    ),
    (
        "unsupported_media_type",
        415,
        "The body's Content-Type is not the one the route reads; details.supported names it, and a raw e-mail goes to /api/reports/mail.",
    ),
    (
        "invalid_field",
        422,
        "A field is missing or invalid; details.field names it. Nothing was changed.",
    ),
    (
        "invalid_xarf",
        422,
        "An X-ARF report failed validation; details.field and details.reason say why. Nothing was stored.",
    ),
    (
        "invalid_mail",
        422,
        "An e-mail report was refused: details.part names the MIME part, details.field the field, details.reason why. Nothing of the message was stored; fix it and send it again.",
    ),
    (
        "conflict",
        409,
        "The current state does not allow this, or a unique value is taken.",
    ),
    (
        "not_blocked_yet",
        409,
        "UNB-4/LIFE-1: nothing on this case is blocked (an alerting case: rectify before the deadline).",
    ),
    (
        "level_not_unblockable",
        409,
        "UNB-4: serious and especially serious cases have no console unblock; the message says what to do.",
    ),
    (
        "action_not_unblockable",
        409,
        "UNB-4: the case holds actions marked no_unblock (禁止解封).",
    ),
    (
        "regulator_case",
        409,
        "UNB-4: a case from a regulator notice: delete the content and file a ticket.",
    ),
    (
        "violation_limit",
        409,
        "UNB-4: the account is past the violation-count limit; no console unblock.",
    ),
    (
        "product_needs_ticket",
        409,
        "UNB-5: the product has no console unblock; file a ticket.",
    ),
    (
        "claimed_by_other",
        409,
        "Another staff member has claimed this queue item; wait until it is released or reassigned.",
    ),
    (
        "sign_in_failed",
        401,
        "Wrong login or password (console sign-in).",
    ),
    (
        "login_locked",
        401,
        "The login is locked after too many failed sign-ins (console sign-in).",
    ),
    (
        "request_already_open",
        409,
        "UNB-6: an unblock request is already open for this case.",
    ),
    (
        "self_release_quota_used",
        409,
        "DDOS-5: the self-service early releases of this month are used up; the message names the reset time.",
    ),
    (
        "upgrade_short_of_peak",
        409,
        "DDOS-5: the new protection capacity is short of the attack's peak.",
    ),
    (
        "request_cannot_be_withdrawn",
        409,
        "UNB-3: an unblock request cannot be withdrawn; it will be decided.",
    ),
    (
        "self_service_first",
        409,
        "UNB-3: manual unblock follows a failed self-service attempt.",
    ),
    (
        "last_admin_token",
        409,
        "The token is the last admin token; revoking it would lock everyone out of the admin API. Create another admin token first. Nothing was changed.",
    ),
    (
        "out_of_scope",
        422,
        "ASMT-1/3: an assessment's targets are not all the account's (details.foreign names them, nothing about whose they are) or are the provider's own infrastructure (details.infrastructure). Nothing was stored.",
    ),
    (
        "payload_too_large",
        413,
        "The body is larger than this route accepts.",
    ),
    (
        "rate_limited",
        429,
        "Too many anonymous reports from your address; retry after a minute.",
    ),
    (
        "unavailable",
        503,
        "Storage is not reachable, or Warden is shutting down; retry later.",
    ),
    (
        "fetch_failed",
        502,
        "The URL to scan could not be fetched (it does not resolve, timed out or redirects without end); the message says which. Nothing was stored.",
    ),
    (
        "internal",
        500,
        "An unexpected error; it has been logged under details.error_id. Retry, or contact the operators with that id.",
    ),
];

/// The status of `code` in [`ERROR_CODES`]; a code missing from the table is a fault of ours
/// (500), which the test of the table rules out.
pub fn status_of(code: &str) -> u16 {
    ERROR_CODES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map_or(500, |(_, s, _)| *s)
}

/// An API error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: serde_json::Value,
}

impl ApiError {
    /// A new error; its status comes from [`ERROR_CODES`].
    pub fn new(code: &'static str, message: impl Into<String>, details: serde_json::Value) -> Self {
        ApiError {
            status: StatusCode::from_u16(status_of(code))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            message: message.into(),
            details,
        }
    }

    /// 400 malformed_json.
    pub fn malformed(message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError::new(
            "malformed_json",
            format!("the request body is not valid: {message}"),
            json!({ "reason": message }),
        )
    }

    /// 404 not_found.
    pub fn not_found(what: &str) -> Self {
        ApiError::new("not_found", format!("{what} not found"), json!({}))
    }

    /// 422 invalid_field naming `field`.
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        ApiError::new(
            "invalid_field",
            format!("{field}: {reason}"),
            json!({ "field": field, "reason": reason }),
        )
    }

    /// 500 internal: the cause is logged under a fresh id, which is all the caller sees.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        let id = warden_store::new_id("err", 0);
        tracing::error!(error_id = %id, error = %cause, "internal error");
        ApiError::new(
            "internal",
            format!("an unexpected error occurred; it has been logged as {id}"),
            json!({ "error_id": id }),
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Unauthenticated => ApiError::new("unauthenticated", e.to_string(), json!({})),
            AppError::Forbidden(_) => ApiError::new("forbidden", e.to_string(), json!({})),
            AppError::NotFound(what) => ApiError::not_found(what),
            AppError::Invalid(ref i) => ApiError::new(
                "invalid_field",
                e.to_string(),
                json!({ "field": i.field, "reason": i.reason }),
            ),
            AppError::Xarf(ref x) => ApiError::new(
                "invalid_xarf",
                e.to_string(),
                json!({ "field": x.field, "reason": x.code }),
            ),
            AppError::Mail(ref m) => ApiError::new(
                "invalid_mail",
                e.to_string(),
                json!({ "part": m.part, "field": m.field, "reason": m.code }),
            ),
            AppError::Conflict(m) => ApiError::new("conflict", m, json!({})),
            AppError::Refused { code, message } => {
                ApiError::new(code, message, json!({ "rule": code }))
            }
            AppError::OutOfScope {
                message,
                foreign,
                infrastructure,
            } => ApiError::new(
                "out_of_scope",
                message,
                json!({ "field": "targets", "foreign": foreign, "infrastructure": infrastructure }),
            ),
            AppError::RateLimited => ApiError::new("rate_limited", e.to_string(), json!({})),
            AppError::Store(ref s) => {
                tracing::error!(error = %s, "storage error");
                ApiError::new(
                    "unavailable",
                    "storage is not reachable or failed; retry later",
                    json!({}),
                )
            }
            AppError::Unavailable(m) => ApiError::new("unavailable", m, json!({})),
            AppError::Crypto(ref c) => ApiError::internal(c),
            AppError::Internal(ref m) => ApiError::internal(m),
            AppError::Unreachable(ref m) => ApiError::new("fetch_failed", m.clone(), json!({})),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            axum::Json(
                json!({ "code": self.code, "message": self.message, "details": self.details }),
            ),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                "www-authenticate",
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code the app can refuse with is in the table, with a 4xx status (a missing one
    /// would answer 500).
    #[test]
    fn every_refusal_code_is_in_the_table() {
        use warden_domain::lifecycle::{Refusal, State, TicketLift};
        let ticket = TicketLift::default;
        let refusals = [
            Refusal::NotBlockedYet {
                state: State::Alerting,
            },
            Refusal::LevelNotUnblockable {
                level: None,
                ticket: ticket(),
            },
            Refusal::ActionNotUnblockable { ticket: ticket() },
            Refusal::RegulatorCase { ticket: ticket() },
            Refusal::ViolationLimit {
                count: 9,
                limit: 5,
                ticket: ticket(),
            },
            Refusal::ProductNeedsTicket {
                product: warden_domain::resource::Product::Cos,
                ticket: ticket(),
            },
            Refusal::RequestAlreadyOpen,
        ];
        let mut codes: Vec<&str> = refusals.iter().map(Refusal::code).collect();
        codes.extend([
            "request_cannot_be_withdrawn",
            "self_service_first",
            "self_release_quota_used",
            "upgrade_short_of_peak",
        ]);
        for code in codes {
            let s = status_of(code);
            assert!(
                ERROR_CODES.iter().any(|(c, _, _)| *c == code) && (400..500).contains(&s),
                "{code} -> {s}"
            );
        }
        let mut seen = std::collections::HashSet::new();
        assert!(
            ERROR_CODES.iter().all(|(c, _, _)| seen.insert(*c)),
            "a code twice"
        );
    }

    /// Internal faults are a 500 with an id and nothing of the cause.
    #[test]
    fn internal_faults_are_500_with_an_id_only() {
        let e = ApiError::from(AppError::Internal(
            "job payload col x: secret detail".into(),
        ));
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.code, "internal");
        assert!(!e.message.contains("secret"), "{}", e.message);
        assert!(
            e.details["error_id"]
                .as_str()
                .is_some_and(|i| i.starts_with("err_"))
        );
    }
}
