//! One outbound queue (NOT-1, NOT-2, ENF-2): everything Warden tells the world beyond its own
//! database — enforcement changes to webhook endpoints, notices by e-mail and SMS — is a message
//! to one endpoint of one channel, stored in the same transaction as what it reports, delivered
//! by the job workers with retries and backoff, dead after its last attempt and re-drivable by
//! an operator. A message keeps its id on every retry and re-drive, so a receiver that keeps ids
//! (a webhook consumer, a mail server's Message-ID, an SMS gateway's request id) sees it once.
//!
//! The transports are leaves: [`email`] speaks SMTP, [`sms`] an HTTP gateway, and the webhook
//! adapter lives with the enforcement plane. Each answers one attempt with `Ok` or a
//! [`SendError`] saying whether another attempt can help.

pub mod email;
pub mod sms;

/// Why one attempt to send a message failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    /// Retrying cannot help (the far end refused this message for good): the message is dead
    /// at once instead of after its last attempt.
    pub permanent: bool,
    /// What happened, for operators. Never a recipient's address or phone number, a password
    /// or a secret.
    pub message: String,
}

impl SendError {
    /// A failure another attempt may overcome (unreachable, timed out, busy, 4xx SMTP reply).
    pub fn transient(message: impl Into<String>) -> SendError {
        SendError {
            permanent: false,
            message: message.into(),
        }
    }

    /// A refusal another attempt would meet again (5xx SMTP reply, a gateway's 4xx).
    pub fn permanent(message: impl Into<String>) -> SendError {
        SendError {
            permanent: true,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.permanent { "refused" } else { "failed" };
        write!(f, "{kind}: {}", self.message)
    }
}
