//! E-mail over SMTP (NOT-1): one notice to one recipient per [`SmtpTransport::send`].
//!
//! The transport is a leaf. The outbound queue decides when to try and how often; this module
//! turns one [`Mail`] into one RFC 5322 message, hands it to the configured relay and answers
//! `Ok` or a [`SendError`] saying whether another attempt can help:
//!
//! - unreachable, timed out, TLS failed, a 4xx reply → transient (the queue retries);
//! - a 5xx reply to the message (550 mailbox unavailable, 554 rejected) and a recipient that is
//!   not an e-mail address → permanent (the message is dead at once);
//! - a refused login (530/534/535/538) is transient although it is a 5xx: it is the relay's
//!   configuration that is wrong, not this message, and every notice would die with it until an
//!   operator fixes the password.
//!
//! The caller makes the Message-ID stable (one per notice and recipient), so a retry or a
//! re-drive sends the same id and a receiver that deduplicates on it shows the notice once.
//! The message is `multipart/alternative` (text/plain, then text/html, both UTF-8 in
//! quoted-printable or base64 as lettre finds shortest), its subject RFC 2047 encoded when it is
//! not ASCII, with `Content-Language` naming the template's language. The MIME boundary is
//! derived from the Message-ID and the `Date` comes from the injected [`Clock`], so the same mail
//! at the same instant is the same bytes ([`SmtpTransport::build_message`] for tests).
//!
//! Connections are encrypted: STARTTLS (required, never opportunistic) or TLS from the first
//! byte, verified against the system's roots plus an optional private CA. Plain SMTP is allowed
//! only to a loopback relay (a local MTA), and that is checked when the transport is built.
//! Error messages never carry the recipient's address (personal data, AUD-4) or the password:
//! a reply's text is passed on with every word that looks like an address taken out.

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::SendError;
use crate::clock::{Clock, SystemClock};

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SmtpTls {
    /// Plain SMTP, then `STARTTLS`, which the server must offer (a server that does not is an
    /// error, never a silent plain-text session). Usually port 587 (submission).
    #[serde(rename = "starttls")]
    StartTls,
    /// TLS from the first byte (SMTPS). Usually port 465.
    #[serde(rename = "implicit")]
    Implicit,
    /// No encryption at all: only for a relay on a loopback address (a local MTA), refused for
    /// any other host when the transport is built. Usually port 25.
    #[serde(rename = "none")]
    None,
}

impl SmtpTls {
    /// The customary port for this kind of connection: 587, 465 or 25.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::StartTls => 587,
            SmtpTls::Implicit => 465,
            SmtpTls::None => 25,
        }
    }
}

/// Where and how to submit mail. Checked once by [`SmtpTransport::new`].
#[derive(Clone)]
pub struct SmtpSettings {
    /// The relay's host name or IP address; also the name its TLS certificate must carry.
    pub host: String,
    /// The relay's port (see [`SmtpTls::default_port`]).
    pub port: u16,
    /// How the connection is protected.
    pub tls: SmtpTls,
    /// Login name for `AUTH` (PLAIN or LOGIN); set together with `password`, or neither.
    pub username: Option<String>,
    /// Password for `AUTH`. A secret: `Debug` prints `***`, and no error repeats it.
    pub password: Option<String>,
    /// The sender, as a mailbox: `Warden <noc@provider.example>` or `noc@provider.example`.
    /// Also the envelope sender (`MAIL FROM`).
    pub from: String,
    /// Where replies should go, as a mailbox; no `Reply-To` header when `None`.
    pub reply_to: Option<String>,
    /// The longest one attempt may take, from connecting to the server's last reply.
    pub timeout: Duration,
    /// The name this host gives in `EHLO`; `[127.0.0.1]` when `None`.
    pub hello_name: Option<String>,
    /// PEM certificates of a private CA to trust besides the system's roots (a company relay,
    /// or the tests' own server).
    pub extra_root_certs_pem: Option<String>,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("from", &self.from)
            .field("reply_to", &self.reply_to)
            .field("timeout", &self.timeout)
            .field("hello_name", &self.hello_name)
            .field(
                "extra_root_certs_pem",
                &self.extra_root_certs_pem.as_ref().map(|_| "<pem>"),
            )
            .finish()
    }
}

/// One notice to one recipient, rendered: what [`SmtpTransport::send`] sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The Message-ID without angle brackets, e.g. `ntc_123.email@warden.invalid`. The caller
    /// keeps it the same on every attempt for this notice and recipient.
    pub message_id: String,
    /// The recipient's address (`tenant@example.com`, or `Name <tenant@example.com>`).
    /// Personal data: never repeated in an error.
    pub to: String,
    /// The subject line, any script; line breaks become spaces.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
    /// The language both bodies are written in, as a language tag: `zh-CN` or `en`.
    pub lang: String,
}

/// Sends [`Mail`] through one configured SMTP relay. Built once; cloning shares it.
#[derive(Clone)]
pub struct SmtpTransport {
    inner: Arc<Inner>,
}

struct Inner {
    smtp: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    timeout: Duration,
    /// `host:port`, for error messages.
    relay: String,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SmtpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpTransport")
            .field("relay", &self.inner.relay)
            .field("from", &self.inner.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpTransport {
    /// Checks `settings` and builds the transport; nothing connects yet. The error names the
    /// setting that is wrong (and never the password).
    pub fn new(settings: SmtpSettings) -> Result<SmtpTransport, String> {
        let host = settings.host.trim();
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "smtp host {:?} is not a host name or IP address",
                settings.host
            ));
        }
        if settings.port == 0 {
            return Err("smtp port must not be 0".into());
        }
        if settings.tls == SmtpTls::None && !is_loopback(host) {
            return Err(format!(
                "smtp tls = \"none\" (plain, unencrypted SMTP) is only allowed for a loopback host \
                 (localhost, 127.0.0.1, ::1), but smtp host is {host:?}: use tls = \"starttls\" \
                 or \"implicit\""
            ));
        }
        if settings.timeout.is_zero() {
            return Err("smtp timeout must be longer than zero".into());
        }
        let from = Mailbox::from_str(settings.from.trim()).map_err(|_| {
            format!(
                "smtp from {:?} is not a mailbox such as \"Warden <noc@provider.example>\"",
                settings.from
            )
        })?;
        let reply_to = match &settings.reply_to {
            None => None,
            Some(r) => Some(Mailbox::from_str(r.trim()).map_err(|_| {
                format!(
                    "smtp reply_to {r:?} is not a mailbox such as \"Abuse desk <abuse@provider.example>\""
                )
            })?),
        };

        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(settings.port)
            .timeout(Some(settings.timeout));

        builder = match (&settings.username, &settings.password) {
            (Some(user), Some(password)) => {
                if user.is_empty() {
                    return Err("smtp username is empty".into());
                }
                builder.credentials(Credentials::new(user.clone(), password.clone()))
            }
            (None, None) => builder,
            (Some(_), None) => return Err("smtp username is set but smtp password is not".into()),
            (None, Some(_)) => return Err("smtp password is set but smtp username is not".into()),
        };

        if let Some(name) = &settings.hello_name {
            let name = name.trim();
            if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!("smtp hello_name {name:?} is not a host name"));
            }
            builder = builder.hello_name(ClientId::Domain(name.to_owned()));
        }

        let tls = match settings.tls {
            SmtpTls::None => {
                if settings.extra_root_certs_pem.is_some() {
                    return Err(
                        "smtp extra_root_certs_pem is set but smtp tls = \"none\" never uses it"
                            .into(),
                    );
                }
                Tls::None
            }
            SmtpTls::StartTls => Tls::Required(tls_parameters(host, &settings)?),
            SmtpTls::Implicit => Tls::Wrapper(tls_parameters(host, &settings)?),
        };
        builder = builder.tls(tls);

        Ok(SmtpTransport {
            inner: Arc::new(Inner {
                smtp: builder.build(),
                from,
                reply_to,
                timeout: settings.timeout,
                relay: format!("{host}:{}", settings.port),
                clock: Arc::new(SystemClock),
            }),
        })
    }

    /// The same transport with `Date` headers read from `clock` (tests use a manual clock).
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> SmtpTransport {
        let inner = &self.inner;
        SmtpTransport {
            inner: Arc::new(Inner {
                smtp: inner.smtp.clone(),
                from: inner.from.clone(),
                reply_to: inner.reply_to.clone(),
                timeout: inner.timeout,
                relay: inner.relay.clone(),
                clock,
            }),
        }
    }

    /// One attempt to hand `mail` to the relay. `Ok` once the relay accepted it (250 after
    /// `DATA`); otherwise whether another attempt can help (see the module's docs).
    pub async fn send(&self, mail: &Mail) -> Result<(), SendError> {
        let message = self.message(mail)?;
        let relay = &self.inner.relay;
        match tokio::time::timeout(self.inner.timeout, self.inner.smtp.send(message)).await {
            Err(_) => Err(SendError::transient(format!(
                "SMTP relay {relay} did not finish within {} ms",
                self.inner.timeout.as_millis()
            ))),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(classify(&e, relay, mail)),
        }
    }

    /// The raw RFC 5322 message [`send`](Self::send) would submit for `mail` now (CRLF line
    /// ends), for tests and snapshots.
    pub fn build_message(&self, mail: &Mail) -> Result<Vec<u8>, SendError> {
        Ok(self.message(mail)?.formatted())
    }

    fn message(&self, mail: &Mail) -> Result<Message, SendError> {
        let id = mail.message_id.trim();
        if !is_message_id(id) {
            return Err(SendError::permanent(format!(
                "message id {id:?} is not a Message-ID (id-left@id-right, without <>)"
            )));
        }
        let to = Mailbox::from_str(mail.to.trim()).map_err(|_| {
            SendError::permanent(format!(
                "the recipient of {id} is not a valid e-mail address"
            ))
        })?;
        if !is_language_tag(&mail.lang) {
            return Err(SendError::permanent(format!(
                "language {:?} of {id} is not a language tag such as zh-CN or en",
                mail.lang
            )));
        }
        let subject: String = mail
            .subject
            .chars()
            .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
            .collect();

        let mut builder = Message::builder()
            .message_id(Some(format!("<{id}>")))
            .date(system_time(self.inner.clock.now().0))
            .from(self.inner.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentLanguage(mail.lang.clone()));
        if let Some(reply_to) = &self.inner.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        let body = MultiPart::alternative()
            .boundary(boundary(id))
            .singlepart(SinglePart::plain(mail.text.clone()))
            .singlepart(SinglePart::html(mail.html.clone()));
        builder.multipart(body).map_err(|e| {
            SendError::permanent(format!(
                "message {id} could not be built: {}",
                redact(&e.to_string(), mail)
            ))
        })
    }
}

/// The `Content-Language` header (RFC 3282).
#[derive(Debug, Clone)]
struct ContentLanguage(String);

impl Header for ContentLanguage {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Content-Language")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ContentLanguage(s.trim().to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

fn tls_parameters(host: &str, settings: &SmtpSettings) -> Result<TlsParameters, String> {
    let mut builder =
        TlsParameters::builder(host.to_owned()).certificate_store(CertificateStore::Default);
    if let Some(pem) = &settings.extra_root_certs_pem {
        if !pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err("smtp extra_root_certs_pem holds no PEM certificate".into());
        }
        let cert = Certificate::from_pem(pem.as_bytes())
            .map_err(|e| format!("smtp extra_root_certs_pem is not valid PEM: {e}"))?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build()
        .map_err(|e| format!("smtp TLS settings for {host:?} are unusable: {e}"))
}

/// Whether plain SMTP to `host` stays on this machine.
fn is_loopback(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.eq_ignore_ascii_case("localhost")
        || IpAddr::from_str(bare).is_ok_and(|ip| ip.is_loopback())
}

/// `id-left "@" id-right` of RFC 5322 §3.6.4, in the dot-atom form.
fn is_message_id(id: &str) -> bool {
    let Some((left, right)) = id.split_once('@') else {
        return false;
    };
    let dot_atom = |s: &str| {
        !s.is_empty()
            && !s.starts_with('.')
            && !s.ends_with('.')
            && !s.contains("..")
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
    };
    id.len() <= 250 && dot_atom(left) && dot_atom(right)
}

/// A language tag as `Content-Language` wants it (`zh-CN`, `en`): letters, digits, hyphens.
fn is_language_tag(lang: &str) -> bool {
    (2..=35).contains(&lang.len())
        && lang
            .split('-')
            .all(|p| !p.is_empty() && p.len() <= 8 && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// The MIME boundary, from the Message-ID: the same mail gives the same bytes. `=_` cannot occur
/// in quoted-printable or base64 text, so the boundary never collides with an encoded body.
fn boundary(message_id: &str) -> String {
    let digest = Sha256::digest(message_id.as_bytes());
    let hex = hex::encode(digest);
    format!("=_warden_{}", hex.get(..32).unwrap_or(&hex))
}

fn system_time(ms: i64) -> SystemTime {
    let since = Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    UNIX_EPOCH.checked_add(since).unwrap_or(UNIX_EPOCH)
}

/// Login refusals: 530 authentication required, 534 mechanism too weak, 535 credentials
/// invalid, 538 encryption required for the mechanism (RFC 4954).
const AUTH_REPLY_CODES: [&str; 4] = ["530", "534", "535", "538"];

fn classify(e: &lettre::transport::smtp::Error, relay: &str, mail: &Mail) -> SendError {
    let detail = redact(&error_detail(e), mail);
    if let Some(code) = e.status() {
        let code = code.to_string();
        if AUTH_REPLY_CODES.contains(&code.as_str()) {
            return SendError::transient(format!(
                "SMTP relay {relay} refused the login ({code}): check the smtp username and \
                 password: {detail}"
            ));
        }
        if e.is_permanent() {
            return SendError::permanent(format!(
                "SMTP relay {relay} refused the message ({code}): {detail}"
            ));
        }
        return SendError::transient(format!(
            "SMTP relay {relay} deferred the message ({code}): {detail}"
        ));
    }
    let lower = detail.to_ascii_lowercase();
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_tls() || lower.contains("certificate") || lower.contains("tls") {
        "TLS failed"
    } else if e.is_client() {
        "client error"
    } else if e.is_response() {
        "unreadable reply"
    } else {
        "unreachable"
    };
    SendError::transient(format!("SMTP relay {relay}: {what}: {detail}"))
}

/// The error and its causes, without lettre's own prefix for replies (the code is said apart).
fn error_detail(e: &lettre::transport::smtp::Error) -> String {
    let mut text = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let said = cause.to_string();
        // Wrappers often repeat their cause's text; say it once.
        if !text.contains(&said) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&said);
        }
        source = cause.source();
    }
    if text.is_empty() {
        text = e.to_string();
    }
    text
}

/// `text` without the recipient's address or anything else that looks like one, on one line,
/// at most 300 characters: a reply may echo `<tenant@example.com>`, and errors are logged and
/// stored (AUD-4).
fn redact(text: &str, mail: &Mail) -> String {
    let mut out = text.to_owned();
    for needle in [mail.to.trim(), address_part(&mail.to)] {
        if !needle.is_empty() {
            out = replace_ignore_case(&out, needle, "<recipient>");
        }
    }
    out = out.replace("<<recipient>>", "<recipient>");
    let words: Vec<String> = out
        .split_whitespace()
        .map(|w| {
            if w.contains('@') {
                "<address>".to_owned()
            } else {
                w.to_owned()
            }
        })
        .collect();
    let joined = words.join(" ");
    if joined.chars().count() > 300 {
        let cut: String = joined.chars().take(300).collect();
        format!("{cut}…")
    } else {
        joined
    }
}

/// `a@b` out of `Name <a@b>`; the trimmed input otherwise.
fn address_part(to: &str) -> &str {
    let to = to.trim();
    match (to.rfind('<'), to.rfind('>')) {
        (Some(open), Some(close)) if open < close => to.get(open + 1..close).unwrap_or(to),
        _ => to,
    }
}

fn replace_ignore_case(haystack: &str, needle: &str, with: &str) -> String {
    let lower_hay = haystack.to_lowercase();
    let lower_needle = needle.to_lowercase();
    // Lower-casing can change byte lengths outside ASCII; fall back to an exact replace then.
    if lower_hay.len() != haystack.len() || lower_needle.len() != needle.len() {
        return haystack.replace(needle, with);
    }
    let mut out = String::with_capacity(haystack.len());
    let mut rest = 0;
    for (at, _) in lower_hay.match_indices(&lower_needle) {
        out.push_str(haystack.get(rest..at).unwrap_or(""));
        out.push_str(with);
        rest = at + needle.len();
    }
    out.push_str(haystack.get(rest..).unwrap_or(""));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SmtpSettings {
        SmtpSettings {
            host: "127.0.0.1".into(),
            port: 2525,
            tls: SmtpTls::None,
            username: None,
            password: None,
            from: "Warden <noc@provider.example>".into(),
            reply_to: None,
            timeout: Duration::from_secs(5),
            hello_name: None,
            extra_root_certs_pem: None,
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let s = SmtpSettings {
            username: Some("noc".into()),
            password: Some("hunter2".into()),
            ..settings()
        };
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.3.4.5",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "192.0.2.1",
            "mail.example.com",
            "localhost.example.com",
            "::2",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn message_ids() {
        assert!(is_message_id("ntc_123.email@warden.invalid"));
        for bad in ["", "no-at", "<a@b>", "a b@c", "a@b@c", "@b", "a@", "a..b@c"] {
            assert!(!is_message_id(bad), "{bad}");
        }
    }

    #[test]
    fn redaction_takes_out_addresses() {
        let mail = Mail {
            message_id: "m@x".into(),
            to: "Tenant <Bob@Example.com>".into(),
            subject: String::new(),
            text: String::new(),
            html: String::new(),
            lang: "en".into(),
        };
        let out = redact(
            "5.1.1 <bob@example.com>: mailbox bob@example.com unknown",
            &mail,
        );
        assert!(!out.to_lowercase().contains("bob"), "{out}");
        assert!(out.contains("mailbox"), "{out}");
    }
}
