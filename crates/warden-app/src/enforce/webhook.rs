//! The webhook adapter (ENF-1): every apply and lift of the actions and products an endpoint
//! asks for is POSTed to it, signed the Standard Webhooks way (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature` = `v1,` base64 HMAC-SHA256 of
//! `{id}.{timestamp}.{body}`). The message id is the same on every retry, so a receiver that
//! keeps ids applies each change once. The endpoint holds a change once it answered 2xx.

use std::time::Duration;

use warden_domain::delivery::ChangeOp;
use warden_domain::penalty::Action;
use warden_domain::resource::Product;
use warden_store::enforcement::EnforcementChange;

use super::adapter::{Adapter, AdapterError, Mode, PushFuture};

/// A webhook endpoint.
#[derive(Clone)]
pub struct WebhookEndpoint {
    /// Name (in the delivery log).
    pub name: String,
    /// Where to POST.
    pub url: String,
    /// HMAC-SHA256 key (from `whsec_<base64>`).
    pub secret: Vec<u8>,
    /// Only these actions (empty: all).
    pub actions: Vec<Action>,
    /// Only these products (empty: all).
    pub products: Vec<Product>,
}

impl std::fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("secret", &"***")
            .finish()
    }
}

impl WebhookEndpoint {
    /// Whether the endpoint asked for this change's action and product.
    pub fn wants(&self, c: &EnforcementChange) -> bool {
        (self.actions.is_empty() || self.actions.contains(&c.action))
            && (self.products.is_empty()
                || c.product
                    .as_ref()
                    .is_some_and(|p| self.products.contains(p)))
    }
}

/// Decodes a Standard Webhooks secret (`whsec_<base64>`, at least 16 bytes).
pub fn webhook_secret(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim().strip_prefix("whsec_").unwrap_or(text.trim()))
        .ok()
        .filter(|k| k.len() >= 16)
}

/// `v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>` (Standard Webhooks).
pub fn webhook_signature(secret: &[u8], msg_id: &str, timestamp: i64, body: &str) -> String {
    use base64::Engine as _;
    use hmac::Mac;
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(format!("{msg_id}.{timestamp}.{body}").as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// The adapter name of an endpoint in delivery records (`webhook:<endpoint>`).
pub fn adapter_name(endpoint: &str) -> String {
    format!("webhook:{endpoint}")
}

/// The job name (dedup key) of one message to one endpoint: the same across retries, re-sends
/// and re-drives.
pub fn delivery_key(endpoint: &str, msg_id: &str) -> String {
    format!("{}:{msg_id}", adapter_name(endpoint))
}

/// The message id of a change: one per action and operation, the same on every retry.
pub fn message_id(c: &EnforcementChange) -> String {
    format!("msg_{}_{}", c.action_id, c.op)
}

/// The message body of a change.
pub fn message_body(c: &EnforcementChange) -> String {
    serde_json::json!({
        "type": match c.op { ChangeOp::Apply => "action.applied", ChangeOp::Lift => "action.lifted" },
        "timestamp": warden_domain::time::Timestamp(c.created_at).to_rfc3339(),
        "data": { "action_id": c.action_id, "case_id": c.case_id, "account_id": c.account_id, "action": c.action, "product": c.product, "target": c.target, "revision": c.revision },
    })
    .to_string()
}

/// The adapter for one endpoint.
#[derive(Debug)]
pub struct WebhookAdapter {
    endpoint: WebhookEndpoint,
    name: String,
    client: reqwest::Client,
    timeout: Duration,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
}

impl WebhookAdapter {
    /// For `endpoint`; each POST gives up after `timeout`.
    pub fn new(
        endpoint: WebhookEndpoint,
        timeout: Duration,
        clock: std::sync::Arc<dyn crate::clock::Clock>,
    ) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        WebhookAdapter {
            name: adapter_name(&endpoint.name),
            endpoint,
            client,
            timeout,
            clock,
        }
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &WebhookEndpoint {
        &self.endpoint
    }

    /// POSTs one change; `Ok(status)` when the endpoint answered (2xx or not), `Err` when it
    /// could not be reached in time.
    pub async fn post(&self, c: &EnforcementChange) -> Result<u16, String> {
        let msg_id = message_id(c);
        let body = message_body(c);
        let ts = self.clock.now().millis().div_euclid(1000);
        let send = self
            .client
            .post(&self.endpoint.url)
            .header("content-type", "application/json")
            .header("webhook-id", &msg_id)
            .header("webhook-timestamp", ts.to_string())
            .header(
                "webhook-signature",
                webhook_signature(&self.endpoint.secret, &msg_id, ts, &body),
            )
            .body(body)
            .send();
        // The client's own timeout covers connecting and the body; this one covers everything.
        match tokio::time::timeout(self.timeout, send).await {
            Err(_) => Err(format!("no answer within {} ms", self.timeout.as_millis())),
            Ok(Err(e)) if e.is_timeout() => {
                Err(format!("no answer within {} ms", self.timeout.as_millis()))
            }
            Ok(Err(e)) => Err(e.without_url().to_string()),
            Ok(Ok(r)) => Ok(r.status().as_u16()),
        }
    }
}

/// What a delivery outcome means for the log.
pub fn outcome_error(outcome: &Result<u16, String>) -> Option<String> {
    match outcome {
        Ok(s) if (200..300).contains(s) => None,
        Ok(s) => Some(format!("HTTP {s}")),
        Err(e) => Some(e.clone()),
    }
}

impl Adapter for WebhookAdapter {
    fn name(&self) -> &str {
        &self.name
    }

    fn mode(&self) -> Mode {
        Mode::Queue
    }

    fn handles(&self, change: &EnforcementChange) -> bool {
        self.endpoint.wants(change)
    }

    fn push<'a>(&'a self, changes: &'a [EnforcementChange]) -> PushFuture<'a> {
        Box::pin(async move {
            for c in changes {
                let outcome = self.post(c).await;
                if let Some(e) = outcome_error(&outcome) {
                    return Err(AdapterError::new(format!("{}: {e}", self.name)));
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_standard_webhooks_example() {
        // The example in the Standard Webhooks specification.
        let secret = webhook_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = webhook_signature(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(webhook_secret("whsec_c2hvcnQ=").is_none());
    }
}
