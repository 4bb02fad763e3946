//! The API's error table: every error has one stable snake_case code and one HTTP status; the
//! body is always `{ "code", "message", "details" }`. Internal causes are logged, never returned.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use warden_app::AppError;

/// Every error code the API returns, with its status and meaning (served in the OpenAPI
/// document).
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
        "malformed_json",
        400,
        "The body is not valid JSON of the expected shape; details name the place.",
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
        "conflict",
        409,
        "The current state does not allow this, or a unique value is taken.",
    ),
    (
        "last_admin_token",
        409,
        "The token is the last admin token; revoking it would lock everyone out of the admin API. Create another admin token first. Nothing was changed.",
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
    ("unavailable", 503, "Storage is not reachable; retry later."),
    (
        "internal",
        500,
        "An unexpected error; it has been logged. Retry, or contact the operators.",
    ),
];

/// An API error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: serde_json::Value,
}

impl ApiError {
    /// A new error.
    pub fn new(
        status: u16,
        code: &'static str,
        message: impl Into<String>,
        details: serde_json::Value,
    ) -> Self {
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            message: message.into(),
            details,
        }
    }

    /// 400 malformed_json.
    pub fn malformed(message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError::new(
            400,
            "malformed_json",
            format!("the request body is not valid: {message}"),
            json!({ "reason": message }),
        )
    }

    /// 404 not_found.
    pub fn not_found(what: &str) -> Self {
        ApiError::new(404, "not_found", format!("{what} not found"), json!({}))
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Unauthenticated => {
                ApiError::new(401, "unauthenticated", e.to_string(), json!({}))
            }
            AppError::Forbidden(_) => ApiError::new(403, "forbidden", e.to_string(), json!({})),
            AppError::NotFound(what) => ApiError::not_found(what),
            AppError::Invalid(ref i) => ApiError::new(
                422,
                "invalid_field",
                e.to_string(),
                json!({ "field": i.field, "reason": i.reason }),
            ),
            AppError::Xarf(ref x) => ApiError::new(
                422,
                "invalid_xarf",
                e.to_string(),
                json!({ "field": x.field, "reason": x.code }),
            ),
            AppError::Conflict(m) => ApiError::new(409, "conflict", m, json!({})),
            AppError::Refused { code, message } => {
                ApiError::new(409, code, message, json!({ "rule": code }))
            }
            AppError::RateLimited => ApiError::new(429, "rate_limited", e.to_string(), json!({})),
            AppError::Store(ref s) => {
                tracing::error!(error = %s, "storage error");
                ApiError::new(
                    503,
                    "unavailable",
                    "storage is not reachable or failed; retry later",
                    json!({}),
                )
            }
            AppError::Crypto(ref c) => {
                tracing::error!(error = %c, "crypto error");
                ApiError::new(
                    500,
                    "internal",
                    "an unexpected error occurred; it has been logged",
                    json!({}),
                )
            }
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
