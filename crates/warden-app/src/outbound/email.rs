//! E-mail over SMTP (NOT-1). The transport is filled in by the SMTP change; this is its shape.

use super::SendError;

/// One mail to one recipient.
#[derive(Debug, Clone)]
pub struct Mail {
    /// Message-ID without `<>`; stable across retries.
    pub message_id: String,
    /// Recipient.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Plain-text part.
    pub text: String,
    /// HTML part.
    pub html: String,
    /// `zh-CN` or `en`.
    pub lang: String,
}

/// An SMTP relay.
#[derive(Debug)]
pub struct SmtpTransport;

impl SmtpTransport {
    /// Sends one mail.
    pub async fn send(&self, _mail: &Mail) -> Result<(), SendError> {
        Err(SendError::transient("SMTP is not built yet"))
    }
}
