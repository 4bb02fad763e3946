//! Use-case errors. The HTTP layer maps each variant to one stable code and status
//! (`warden_http::error`); internal causes are logged there and never returned.

use warden_domain::resource::InvalidInput;
use warden_store::StoreError;

/// What went wrong in a use case.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No or an unknown token.
    #[error("missing or invalid API token")]
    Unauthenticated,
    /// The role may not do this.
    #[error("your role may not {0}")]
    Forbidden(&'static str),
    /// Not there — or not yours (tenants cannot tell the difference).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Bad input; nothing was changed.
    #[error("{0}")]
    Invalid(#[from] InvalidInput),
    /// A rejected X-ARF report.
    #[error("invalid X-ARF report: {0}")]
    Xarf(#[from] warden_domain::xarf::XarfError),
    /// A rejected e-mail (INT-2): the part and the field; nothing of it stored.
    #[error("invalid e-mail report: {0}")]
    Mail(crate::mail::MailRefusal),
    /// The state does not allow the operation.
    #[error("{0}")]
    Conflict(String),
    /// The policy refuses the request; `code` names the rule (UNB-4: `level_not_unblockable`...).
    #[error("{message}")]
    Refused {
        /// Stable code.
        code: &'static str,
        /// The rule, for the tenant.
        message: String,
    },
    /// ASMT-1/3: an assessment's targets are not all the account's, or some are the
    /// provider's own infrastructure. Names the targets only, never whose they are.
    #[error("{message}")]
    OutOfScope {
        /// In words.
        message: String,
        /// Targets (as declared) not (all) the account's.
        foreign: Vec<String>,
        /// Targets in the provider's infrastructure.
        infrastructure: Vec<String>,
    },
    /// Too many anonymous requests.
    #[error("too many reports from your address; try again in a minute")]
    RateLimited,
    /// Storage failed.
    #[error("storage: {0}")]
    Store(StoreError),
    /// A sealed value could not be opened.
    #[error("crypto: {0}")]
    Crypto(#[from] crate::crypto::CryptoError),
    /// Something that cannot happen with consistent data (a job payload that does not parse, a
    /// write that stored nothing): a fault of Warden's, logged with an id, never shown.
    #[error("internal: {0}")]
    Internal(String),
    /// Warden cannot do it now (intake is shutting down, a group's commit failed); the
    /// request may be sent again. The words are for the caller.
    #[error("{0}")]
    Unavailable(&'static str),
    /// A site Warden was asked to fetch could not be reached (does not resolve, times out,
    /// redirects without end): the request was fine, the far end was not.
    #[error("{0}")]
    Unreachable(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => AppError::Conflict(m),
            // Stored data this version cannot read is a fault of ours, not an outage.
            e @ (StoreError::UnknownCode { .. } | StoreError::Corrupt(_)) => {
                AppError::Internal(e.to_string())
            }
            other => AppError::Store(other),
        }
    }
}

/// Result alias.
pub type AppResult<T> = Result<T, AppError>;
