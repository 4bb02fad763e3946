//! SMS through an HTTP gateway (NOT-1). One attempt is one signed POST of a template id, its
//! parameters and the rendered text to the provider's gateway; the gateway holds the message
//! once it answered 2xx with `{"accepted": true}`. The request is signed the Standard Webhooks
//! way (the same [`webhook_signature`] as the enforcement webhooks, so a gateway or the bridge in
//! front of it verifies both with one library), and its `webhook-id` is the message id, the same
//! on every retry and re-drive, so a gateway that keeps ids sends each text once.
//!
//! Phone numbers are sealed personal data (AUD-4). This module only ever sees a number the
//! queue unsealed for this one attempt: it never writes one into an error, a log line or its
//! `Debug` output, so a dead message's error can be shown to any operator.
//!
//! Texts are short: [`segments`] counts the segments a phone receives (one 70-character UCS-2
//! segment for a Chinese text, 160 GSM-7 characters for a plain English one), and a text longer
//! than [`MAX_SEGMENTS`] is refused without a request.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::SendError;
use crate::clock::Clock;
use crate::enforce::webhook_signature;

/// The most segments one text may take, with the sign name, as the phone shows it
/// ([`shown_text`]). A longer text is a template fault that retrying cannot mend.
pub const MAX_SEGMENTS: usize = 3;

/// The most bytes of a gateway's answer that are read; the answer is a small JSON object.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The longest message id sent (it is a header value and the gateway's dedup key).
const MAX_MESSAGE_ID: usize = 200;

/// Where and how to reach the SMS gateway.
#[derive(Clone)]
pub struct SmsSettings {
    /// The gateway's endpoint, `http://` or `https://`; requests are POSTed to it as is and
    /// redirects are not followed.
    pub url: String,
    /// The HMAC-SHA256 signing key shared with the gateway (the bytes of a `whsec_<base64>`
    /// secret, see [`crate::enforce::webhook_secret`]); at least 16 bytes. `Debug` shows `***`.
    pub secret: Vec<u8>,
    /// How long one attempt may take: connecting, sending and reading the answer.
    pub timeout: Duration,
    /// The sign name (短信签名, e.g. `某云`) the gateway puts before every text as `【某云】`;
    /// `None` when the gateway's account has a fixed one.
    pub sign_name: Option<String>,
}

impl std::fmt::Debug for SmsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsSettings")
            .field("url", &self.url)
            .field("secret", &"***")
            .field("timeout", &self.timeout)
            .field("sign_name", &self.sign_name)
            .finish()
    }
}

/// One text to one phone.
#[derive(Clone, PartialEq, Eq)]
pub struct Sms {
    /// The message id: the same on every retry and re-drive, the gateway's dedup key
    /// (`webhook-id` and the body's `id`). Printable ASCII, at most 200 characters.
    pub message_id: String,
    /// The recipient in E.164 (`+8613800000000`), unsealed for this attempt only. `Debug`
    /// shows `***`.
    pub phone: String,
    /// The gateway's template id (`case_enforced`).
    pub template: String,
    /// The template's parameters, by name.
    pub params: BTreeMap<String, String>,
    /// The rendered text in `lang`, without the sign name: what gateways that take text send,
    /// and what the length rule ([`MAX_SEGMENTS`]) counts.
    pub text: String,
    /// The text's language (`zh-CN`, `en`).
    pub lang: String,
}

impl std::fmt::Debug for Sms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sms")
            .field("message_id", &self.message_id)
            .field("phone", &"***")
            .field("template", &self.template)
            .field("params", &self.params)
            .field("text", &self.text)
            .field("lang", &self.lang)
            .finish()
    }
}

/// The body POSTed to the gateway.
#[derive(serde::Serialize)]
struct Request<'a> {
    id: &'a str,
    phone: &'a str,
    template: &'a str,
    params: &'a BTreeMap<String, String>,
    text: &'a str,
    lang: &'a str,
    sign_name: Option<&'a str>,
}

/// The gateway's answer to a request it took.
#[derive(serde::Deserialize)]
struct Answer {
    #[serde(default)]
    accepted: Option<bool>,
    #[serde(default)]
    gateway_id: Option<String>,
    #[serde(default)]
    code: Option<serde_json::Value>,
}

/// The SMS gateway adapter: built once from [`SmsSettings`], cheap to share (one connection
/// pool behind an `Arc`).
#[derive(Debug, Clone)]
pub struct SmsGateway {
    settings: Arc<SmsSettings>,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl SmsGateway {
    /// A gateway for `settings`, stamping requests with `clock`'s time. Refuses (naming the
    /// setting, never the secret) a URL that is not `http(s)://host…`, a secret shorter than
    /// 16 bytes, a zero timeout and an empty or bracketed sign name.
    pub fn new(settings: SmsSettings, clock: Arc<dyn Clock>) -> Result<SmsGateway, String> {
        let url = reqwest::Url::parse(&settings.url)
            .map_err(|e| format!("sms gateway url {:?}: {e}", settings.url))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!(
                "sms gateway url {:?} must start with http:// or https:// and name a host",
                settings.url
            ));
        }
        if settings.secret.len() < 16 {
            return Err("sms gateway secret must be at least 16 bytes (whsec_<base64>)".into());
        }
        if settings.timeout.is_zero() {
            return Err("sms gateway timeout must be at least 1 ms".into());
        }
        if let Some(s) = &settings.sign_name {
            let n = s.chars().count();
            if s.trim().is_empty()
                || n > 20
                || s.contains(['【', '】'])
                || s.contains(char::is_control)
            {
                return Err(format!(
                    "sms sign name {s:?} must be 1 to 20 characters without 【】 (the gateway adds them)"
                ));
            }
        }
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("sms gateway client: {e}"))?;
        Ok(SmsGateway {
            settings: Arc::new(settings),
            client,
            clock,
        })
    }

    /// The settings it was built from.
    pub fn settings(&self) -> &SmsSettings {
        &self.settings
    }

    /// One attempt to hand `sms` to the gateway. `Ok` once the gateway answered 2xx with
    /// `{"accepted": true}`. A message that can never be sent (a phone number that is not
    /// E.164, an empty or too long text, a bad message id) is refused as permanent without a
    /// request; so is a gateway's 3xx or 4xx other than 408 and 429. No answer in time, 408,
    /// 429, 5xx, or a 2xx that does not accept the message are transient.
    pub async fn send(&self, sms: &Sms) -> Result<(), SendError> {
        check(sms, self.settings.sign_name.as_deref())?;
        let body = serde_json::to_string(&Request {
            id: &sms.message_id,
            phone: &sms.phone,
            template: &sms.template,
            params: &sms.params,
            text: &sms.text,
            lang: &sms.lang,
            sign_name: self.settings.sign_name.as_deref(),
        })
        .map_err(|e| SendError::permanent(format!("sms body: {e}")))?;
        let ts = self.clock.now().millis().div_euclid(1000);
        let signature = webhook_signature(&self.settings.secret, &sms.message_id, ts, &body);
        let timeout = self.settings.timeout;
        let late = || {
            SendError::transient(format!(
                "sms gateway: no answer within {} ms",
                timeout.as_millis()
            ))
        };
        let attempt = async {
            let response = self
                .client
                .post(&self.settings.url)
                .header("content-type", "application/json")
                .header("webhook-id", &sms.message_id)
                .header("webhook-timestamp", ts.to_string())
                .header("webhook-signature", signature)
                .body(body)
                .send()
                .await
                .map_err(|e| no_answer(e, timeout))?;
            let status = response.status().as_u16();
            let answer = read_bounded(response)
                .await
                .map_err(|e| no_answer(e, timeout))?;
            judge(status, &answer, &sms.message_id)
        };
        // The client's timeouts cover connecting and each read; this one the whole attempt.
        match tokio::time::timeout(timeout, attempt).await {
            Err(_) => Err(late()),
            Ok(outcome) => outcome,
        }
    }
}

/// Refusals that need no request: retrying the same message meets them again.
fn check(sms: &Sms, sign_name: Option<&str>) -> Result<(), SendError> {
    if sms.message_id.is_empty()
        || sms.message_id.len() > MAX_MESSAGE_ID
        || !sms.message_id.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(SendError::permanent(
            "sms message id must be 1 to 200 printable ASCII characters",
        ));
    }
    if !phone_is_valid(&sms.phone) {
        return Err(SendError::permanent(
            "sms recipient is not an E.164 phone number ('+' and 8 to 15 digits)",
        ));
    }
    if sms.template.trim().is_empty() {
        return Err(SendError::permanent("sms has no template id"));
    }
    if sms.text.trim().is_empty() {
        return Err(SendError::permanent("sms has no text"));
    }
    let n = segments(&shown_text(sign_name, &sms.text));
    if n > MAX_SEGMENTS {
        return Err(SendError::permanent(format!(
            "sms text ({}) is {n} segments with its sign name, more than {MAX_SEGMENTS}",
            sms.lang
        )));
    }
    Ok(())
}

/// Whether `p` is an E.164 number: `+` then 8 to 15 digits, the first not 0. Nothing else
/// (spaces, dashes, a national `0` prefix) is accepted: numbers are normalised when stored.
pub fn phone_is_valid(p: &str) -> bool {
    p.strip_prefix('+').is_some_and(|d| {
        (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    })
}

/// The text as the phone shows it: `【sign】text` when the gateway adds a sign name.
pub fn shown_text(sign_name: Option<&str>, text: &str) -> String {
    match sign_name {
        Some(s) => format!("【{s}】{text}"),
        None => text.to_owned(),
    }
}

/// How many segments a phone receives for `text` (0 for an empty one). A text of GSM-7
/// characters alone (plain English) takes 160 septets in one segment or 153 per part, the
/// extension characters (`{ } [ ] ~ \ | ^ €`) two septets each; any other character (Chinese,
/// 【】, emoji) makes the whole text UCS-2: 70 UTF-16 units in one segment or 67 per part.
pub fn segments(text: &str) -> usize {
    let (units, single, part) = match gsm_septets(text) {
        Some(septets) => (septets, 160, 153),
        None => (text.encode_utf16().count(), 70, 67),
    };
    match units {
        0 => 0,
        n if n <= single => 1,
        n => n.div_ceil(part),
    }
}

/// The GSM 03.38 default alphabet (basic table), in code order.
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The characters of the extension table, sent as an escape and the character.
const GSM_EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// The septets `text` takes in GSM-7, or `None` when a character is not in the alphabet.
fn gsm_septets(text: &str) -> Option<usize> {
    text.chars().try_fold(0usize, |n, c| {
        if c != '\u{1b}' && GSM_BASIC.contains(c) {
            Some(n + 1)
        } else if GSM_EXTENSION.contains(c) {
            Some(n + 2)
        } else {
            None
        }
    })
}

/// At most [`MAX_ANSWER_BYTES`] of the answer; a longer one is cut (it cannot be the small
/// JSON a gateway answers and is judged not understood).
async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_ANSWER_BYTES {
            break;
        }
    }
    Ok(body)
}

/// A request that got no answer: always transient. The error names neither the URL's query
/// nor the request.
fn no_answer(e: reqwest::Error, timeout: Duration) -> SendError {
    let e = e.without_url();
    if e.is_timeout() {
        SendError::transient(format!(
            "sms gateway: no answer within {} ms",
            timeout.as_millis()
        ))
    } else {
        let mut cause = String::new();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            cause = s.to_string();
            source = s.source();
        }
        let e = e.to_string();
        let e = if cause.is_empty() || e.contains(&cause) {
            e
        } else {
            format!("{e}: {cause}")
        };
        SendError::transient(format!("sms gateway unreachable: {e}"))
    }
}

/// What the gateway's answer means. The body of a refusal is not quoted: a gateway may echo
/// the phone number in it.
fn judge(status: u16, answer: &[u8], message_id: &str) -> Result<(), SendError> {
    match status {
        200..=299 => {}
        408 | 429 | 500..=599 => {
            return Err(SendError::transient(format!(
                "sms gateway answered HTTP {status}"
            )));
        }
        300..=399 => {
            return Err(SendError::permanent(format!(
                "sms gateway answered HTTP {status} (redirects are not followed: configure the final URL)"
            )));
        }
        _ => {
            return Err(SendError::permanent(format!(
                "sms gateway refused the message: HTTP {status}"
            )));
        }
    }
    let Ok(answer) = serde_json::from_slice::<Answer>(answer) else {
        return Err(SendError::transient(format!(
            "sms gateway answered HTTP {status} without a JSON object {{\"accepted\": true}}"
        )));
    };
    if answer.accepted != Some(true) {
        let said = match answer.accepted {
            Some(false) => "\"accepted\": false",
            None => "no \"accepted\" field",
            Some(true) => "",
        };
        let code = answer.code.as_ref().and_then(safe_code);
        return Err(SendError::transient(match code {
            Some(c) => format!(
                "sms gateway answered HTTP {status} but did not accept the message ({said}, code {c:?})"
            ),
            None => format!(
                "sms gateway answered HTTP {status} but did not accept the message ({said})"
            ),
        }));
    }
    tracing::debug!(
        message_id,
        gateway_id = answer.gateway_id.as_deref().unwrap_or(""),
        "sms accepted by the gateway"
    );
    Ok(())
}

/// A gateway's error code worth quoting: a short token with no long run of digits, which could
/// be a phone number.
fn safe_code(v: &serde_json::Value) -> Option<String> {
    let c = match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let mut run = 0usize;
    let mut longest = 0usize;
    for b in c.bytes() {
        run = if b.is_ascii_digit() { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    (!c.is_empty()
        && c.len() <= 64
        && longest < 6
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')))
    .then_some(c)
}
