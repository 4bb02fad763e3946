//! SMS through an HTTP gateway (NOT-1). The transport is filled in by the SMS change; this is
//! its shape.

use super::SendError;

/// One text to one phone.
#[derive(Debug, Clone)]
pub struct Sms {
    /// Stable across retries.
    pub message_id: String,
    /// E.164.
    pub phone: String,
    /// Gateway template id.
    pub template: String,
    /// Template parameters.
    pub params: std::collections::BTreeMap<String, String>,
    /// The rendered text.
    pub text: String,
    /// `zh-CN` or `en`.
    pub lang: String,
}

/// An SMS gateway.
#[derive(Debug)]
pub struct SmsGateway;

impl SmsGateway {
    /// Sends one text.
    pub async fn send(&self, _sms: &Sms) -> Result<(), SendError> {
        Err(SendError::transient("SMS is not built yet"))
    }
}
