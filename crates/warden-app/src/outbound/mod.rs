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

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use warden_domain::identity::Role;
use warden_domain::lifecycle::NoticeKind;
use warden_store::jobs::{Job, JobKind, NewJob};
use warden_store::outbound::{
    Channel, NewOutbound, Outbound, OutboundAttempt, OutboundFilter, OutboundState,
};

use crate::App;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};

/// Who may read and re-drive the outbound queue.
const OPERATORS: &[Role] = &[Role::Admin, Role::Operator];

/// The timer name of a message's delivery job: one per message, whatever its retries.
pub fn job_key(outbound_id: &str) -> String {
    format!("out:{outbound_id}")
}

/// Where notices go besides the inbox, and with what (NOT-1, NOT-3).
#[derive(Debug, Clone)]
pub struct NoticeSettings {
    /// The SMTP relay; `None`: no e-mail is sent.
    pub email: Option<Arc<email::SmtpTransport>>,
    /// The SMS gateway; `None`: no SMS is sent.
    pub sms: Option<Arc<sms::SmsGateway>>,
    /// Per notice kind, the channels beside the inbox (the inbox always has the notice, NOT-2).
    pub routes: BTreeMap<NoticeKind, Vec<Channel>>,
    /// NOT-3: how long before an alerting deadline the reminder goes out (ms).
    pub reminder_before_ms: i64,
    /// The console's address as tenants reach it (`https://warden.provider.example`), for the
    /// links in mails; `None`: mails name the case without a link.
    pub console_url: Option<String>,
    /// The right-hand side of Message-IDs (`<ntc_….email@warden.provider.example>`).
    pub message_id_domain: String,
    /// Attempts before an e-mail or SMS is dead (re-drivable).
    pub max_attempts: i64,
}

impl Default for NoticeSettings {
    fn default() -> Self {
        NoticeSettings {
            email: None,
            sms: None,
            routes: default_routes(),
            reminder_before_ms: 2 * 3_600_000,
            console_url: None,
            message_id_domain: "warden.invalid".into(),
            max_attempts: 12,
        }
    }
}

/// The seeds' channels: violation notices go to the inbox and by e-mail ("发至…站内信箱及您的
/// 邮箱"); blackhole notices also by SMS ("以短信、邮件、站内信方式", DDOS-3).
pub fn default_routes() -> BTreeMap<NoticeKind, Vec<Channel>> {
    NoticeKind::ALL
        .iter()
        .map(|k| {
            let channels = match k {
                NoticeKind::BlackholeStarted
                | NoticeKind::BlackholeExtended
                | NoticeKind::BlackholeReleased => vec![Channel::Sms, Channel::Email],
                _ => vec![Channel::Email],
            };
            (*k, channels)
        })
        .collect()
}

impl NoticeSettings {
    /// The channels a notice of `kind` goes to beside the inbox, of those configured.
    pub fn channels(&self, kind: NoticeKind) -> Vec<Channel> {
        self.routes
            .get(&kind)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .copied()
            .filter(|c| match c {
                Channel::Email => self.email.is_some(),
                Channel::Sms => self.sms.is_some(),
                Channel::Webhook => false,
            })
            .collect()
    }
}

/// What an e-mail or SMS of a notice says, rendered when the notice is stored (so every retry
/// sends the same words). No recipient: that is read, sealed, when the message goes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoticeMessage {
    /// The notice.
    pub notice_id: String,
    /// Its kind.
    pub kind: NoticeKind,
    /// `zh-CN` or `en`.
    pub lang: String,
    /// E-mail subject (the notice's title).
    pub subject: String,
    /// E-mail text part.
    pub text: String,
    /// E-mail HTML part.
    pub html: String,
    /// The SMS gateway's template id.
    pub sms_template: String,
    /// Its parameters.
    pub sms_params: BTreeMap<String, String>,
    /// The SMS text.
    pub sms_text: String,
}

/// A message with its attempts (operators).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct OutboundView {
    /// The message.
    #[serde(flatten)]
    pub message: Outbound,
    /// Its attempts, newest first.
    pub attempts: Vec<OutboundAttempt>,
}

/// A page of messages.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct OutboundPage {
    /// Newest first.
    pub items: Vec<Outbound>,
    /// Pass as `after` for the next (older) page; `null` on the last.
    pub next_after: Option<String>,
}

/// What one attempt came to: the endpoint's status code when it answered, and the outcome.
pub(crate) struct Attempted {
    pub(crate) status: Option<i64>,
    pub(crate) result: Result<(), SendError>,
}

impl App {
    /// Queues `m` (or puts it back to pending under its id) and its delivery job, in `tx`.
    pub(crate) async fn queue_outbound(
        &self,
        tx: &mut warden_store::WriteTx,
        m: &NewOutbound,
        max_attempts: i64,
        now: i64,
    ) -> AppResult<String> {
        tx.put_outbound(m, now).await?;
        let job = NewJob {
            kind: JobKind::OutboundDeliver,
            payload: serde_json::json!({ "id": m.id }).to_string(),
            run_at: now,
            dedup_key: Some(job_key(&m.id)),
            max_attempts,
        };
        Ok(tx
            .enqueue(&job, &warden_store::new_id("job", now), now)
            .await?)
    }

    /// One attempt at one message (the `outbound.deliver` job): send it, record the attempt and
    /// where the message stands. A transient failure returns `Err`, so the job backs off and
    /// runs again; a permanent one, or the last attempt, leaves the message dead for an
    /// operator to re-drive. A message already sent (a job run twice after a lost lease) is not
    /// sent again.
    pub(crate) async fn deliver_outbound(&self, job: &Job) -> AppResult<()> {
        let id = serde_json::from_str::<serde_json::Value>(&job.payload)
            .ok()
            .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string))
            .ok_or_else(|| AppError::Internal("unreadable outbound job payload".into()))?;
        self.attempt_outbound(&id, job.attempts, job.max_attempts)
            .await
    }

    /// Attempt `attempt` of `max_attempts` at message `id` (see [`App::deliver_outbound`]).
    pub(crate) async fn attempt_outbound(
        &self,
        id: &str,
        attempt: i64,
        max_attempts: i64,
    ) -> AppResult<()> {
        let Some(m) = self.store.get_outbound(id).await? else {
            return Ok(());
        };
        if m.state == OutboundState::Sent {
            return Ok(());
        }
        let attempted = match m.channel {
            Channel::Webhook => self.send_webhook_message(&m).await,
            Channel::Email => self.send_email_message(&m).await,
            Channel::Sms => self.send_sms_message(&m).await,
        };
        let now = self.now();
        let last = attempt >= max_attempts;
        let state = match &attempted.result {
            Ok(()) => OutboundState::Sent,
            Err(e) if e.permanent || last => OutboundState::Dead,
            Err(_) => OutboundState::Pending,
        };
        let error = attempted.result.as_ref().err().map(|e| e.message.clone());
        let mut tx = self.store.begin_write().await?;
        tx.lock_chain().await?;
        tx.record_outbound_attempt(
            &OutboundAttempt {
                id: warden_store::new_id("oat", now),
                outbound_id: m.id.clone(),
                attempt,
                status: attempted.status,
                error: error.clone(),
                at: now,
            },
            state,
        )
        .await?;
        if m.channel == Channel::Webhook {
            self.webhook_attempted(&mut tx, &m, error.as_deref(), state == OutboundState::Dead)
                .await?;
        }
        if state == OutboundState::Dead {
            let mut ev = self.event(
                &Principal::System,
                "outbound.dead",
                format!("outbound:{}", m.id),
            );
            ev.account_id = m.account_id.clone();
            ev.details = serde_json::json!({ "channel": m.channel, "endpoint": m.endpoint, "subject": m.subject, "attempts": attempt, "error": error });
            tx.append_audit(ev).await?;
        }
        tx.commit().await?;
        match attempted.result {
            Ok(()) => Ok(()),
            // Dead for good: the job is done, the message waits for a re-drive.
            Err(e) if e.permanent => Ok(()),
            Err(e) => Err(AppError::Conflict(format!(
                "{} {}: {e}",
                m.channel, m.endpoint
            ))),
        }
    }

    /// E-mail: the account's address, read sealed now (a corrected address is used by the next
    /// attempt or a re-drive), and the words rendered when the notice was stored.
    async fn send_email_message(&self, m: &Outbound) -> Attempted {
        let fail = |e: SendError| Attempted {
            status: None,
            result: Err(e),
        };
        let Some(transport) = self.notices.email.clone() else {
            return fail(SendError::transient(
                "e-mail is not configured on this node ([notices.email])",
            ));
        };
        let msg: NoticeMessage = match serde_json::from_str(&m.payload) {
            Ok(p) => p,
            Err(e) => return fail(SendError::permanent(format!("unreadable message: {e}"))),
        };
        let to = match self.contact(m, Contact::Email).await {
            Ok(to) => to,
            Err(e) => return fail(e),
        };
        let mail = email::Mail {
            message_id: format!("{}.email@{}", msg.notice_id, self.notices.message_id_domain),
            to,
            subject: msg.subject,
            text: msg.text,
            html: msg.html,
            lang: msg.lang,
        };
        Attempted {
            status: None,
            result: transport.send(&mail).await,
        }
    }

    /// SMS: the account's phone, read sealed now, and the short text rendered with the notice.
    async fn send_sms_message(&self, m: &Outbound) -> Attempted {
        let fail = |e: SendError| Attempted {
            status: None,
            result: Err(e),
        };
        let Some(gateway) = self.notices.sms.clone() else {
            return fail(SendError::transient(
                "SMS is not configured on this node ([notices.sms])",
            ));
        };
        let msg: NoticeMessage = match serde_json::from_str(&m.payload) {
            Ok(p) => p,
            Err(e) => return fail(SendError::permanent(format!("unreadable message: {e}"))),
        };
        let phone = match self.contact(m, Contact::Phone).await {
            Ok(p) => p,
            Err(e) => return fail(e),
        };
        let sms = sms::Sms {
            message_id: m.id.clone(),
            phone,
            template: msg.sms_template,
            params: msg.sms_params,
            text: msg.sms_text,
            lang: msg.lang,
        };
        Attempted {
            status: None,
            result: gateway.send(&sms).await,
        }
    }

    /// The account's sealed e-mail address or phone, opened to send (AUD-4: counted, not an
    /// audit event per message). Missing is permanent until someone adds it and re-drives.
    async fn contact(&self, m: &Outbound, which: Contact) -> Result<String, SendError> {
        let account = m
            .account_id
            .as_deref()
            .ok_or_else(|| SendError::permanent("the message names no account"))?;
        let a = self
            .store
            .get_account(&warden_store::Scope::All, account)
            .await
            .map_err(|e| SendError::transient(format!("reading the account: {e}")))?
            .ok_or_else(|| SendError::permanent(format!("account {account} no longer exists")))?;
        let (sealed, what) = match which {
            Contact::Email => (a.email_enc, "an e-mail address"),
            Contact::Phone => (a.phone_enc, "a phone number"),
        };
        let sealed = sealed.ok_or_else(|| {
            SendError::permanent(format!(
                "account {account} has no {what} on file; add one, then re-drive the message"
            ))
        })?;
        let plain = self.sealer.open(&sealed).map_err(|e| {
            SendError::permanent(format!("the sealed contact cannot be opened: {e}"))
        })?;
        self.metrics.personal_data_read("notice");
        String::from_utf8(plain).map_err(|_| SendError::permanent("the sealed contact is not text"))
    }

    /// Messages, newest first (operators): filter by channel, state and subject; the filter's
    /// `before` pages.
    pub async fn list_outbound(
        &self,
        who: &Principal,
        filter: &OutboundFilter,
        limit: i64,
    ) -> AppResult<OutboundPage> {
        who.require(OPERATORS, "read the outbound queue")?;
        let limit = limit.clamp(1, 500);
        let mut items = self.store.list_outbound(filter, limit + 1).await?;
        let next_after = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|m| m.seq.to_string())
        } else {
            None
        };
        Ok(OutboundPage { items, next_after })
    }

    /// One message with its attempts (operators).
    pub async fn outbound_message(&self, who: &Principal, id: &str) -> AppResult<OutboundView> {
        who.require(OPERATORS, "read the outbound queue")?;
        let message = self
            .store
            .get_outbound(id)
            .await?
            .ok_or(AppError::NotFound("outbound message"))?;
        let attempts = self.store.outbound_attempts(id, 100).await?;
        Ok(OutboundView { message, attempts })
    }

    /// Re-drives a dead message (operators): back to pending under the same id, attempted
    /// again at once; audited.
    pub async fn redrive_outbound(&self, who: &Principal, id: &str) -> AppResult<OutboundView> {
        who.require(OPERATORS, "re-drive outbound messages")?;
        let now = self.now();
        let mut tx = self.store.begin_write().await?;
        tx.lock_chain().await?;
        let m = tx
            .get_outbound(id)
            .await?
            .ok_or(AppError::NotFound("outbound message"))?;
        if m.state != OutboundState::Dead {
            return Err(AppError::Conflict(format!(
                "the message is {}, not dead: only a dead message is re-driven",
                m.state
            )));
        }
        let new = NewOutbound {
            id: m.id.clone(),
            channel: m.channel,
            endpoint: m.endpoint.clone(),
            subject: m.subject.clone(),
            account_id: m.account_id.clone(),
            payload: m.payload.clone(),
        };
        let max = self.max_attempts(m.channel);
        let job_id = self.queue_outbound(&mut tx, &new, max, now).await?;
        if m.channel == Channel::Webhook {
            self.webhook_redriven(&mut tx, &m, now).await?;
        }
        let mut ev = self.event(who, "outbound.redrive", format!("outbound:{}", m.id));
        ev.account_id = m.account_id.clone();
        ev.details =
            serde_json::json!({ "channel": m.channel, "endpoint": m.endpoint, "job_id": job_id });
        tx.append_audit(ev).await?;
        tx.commit().await?;
        self.job_wakeup.notify_waiters();
        self.outbound_message(who, id).await
    }

    /// Attempts a message of `channel` gets before it is dead.
    pub(crate) fn max_attempts(&self, channel: Channel) -> i64 {
        match channel {
            Channel::Webhook => self.settings.webhook_max_attempts,
            Channel::Email | Channel::Sms => self.notices.max_attempts,
        }
    }
}

/// Which contact a channel needs.
#[derive(Debug, Clone, Copy)]
enum Contact {
    Email,
    Phone,
}

impl App {
    /// Writes a notice of `kind` to `account`'s inbox in the account's language (zh-CN when it
    /// has none), rendered from `facts`, and fans it out like [`App::send_notice`] — for the
    /// notices no case lifecycle writes (blackholes, assessments, advisories). `case_id` is the
    /// case the inbox entry links, if any.
    pub(crate) async fn notify_account(
        &self,
        tx: &mut warden_store::WriteTx,
        account: &str,
        case_id: Option<&str>,
        kind: warden_domain::lifecycle::NoticeKind,
        facts: &crate::notices::NoticeFacts<'_>,
    ) -> AppResult<()> {
        use crate::i18n::Lang;
        let lang = tx
            .account_lang(account)
            .await?
            .map_or(Lang::Zh, |l| Lang::from_tag(&l).unwrap_or(Lang::En));
        let rendered = self
            .notice_templates
            .render(kind, lang, facts)
            .map_err(|e| {
                crate::error::AppError::Internal(format!("rendering notice {}: {e}", kind.code()))
            })?;
        let now = self.now();
        let n = warden_store::lifecycle::Notice {
            id: warden_store::new_id("ntc", now),
            account_id: account.to_string(),
            case_id: case_id.map(str::to_string),
            template: kind,
            lang: lang.tag().to_string(),
            title: rendered.title.clone(),
            body: rendered.text.clone(),
            created_at: now,
            read_at: None,
        };
        tx.insert_notice(&n).await?;
        self.send_notice(tx, &n, &rendered, facts.resource_name, now)
            .await
    }

    /// Fans a notice just stored in the inbox out to the channels its kind goes to (NOT-1), in
    /// the same transaction: if the notice is kept, so are its messages (NOT-2). `rendered` is
    /// the notice as the templates wrote it: the mail's subject, text and HTML parts and the
    /// SMS text, so every retry sends the same words.
    pub(crate) async fn send_notice(
        &self,
        tx: &mut warden_store::WriteTx,
        n: &warden_store::lifecycle::Notice,
        rendered: &crate::notices::RenderedNotice,
        resource_name: &str,
        now: i64,
    ) -> AppResult<()> {
        let channels = self.notices.channels(n.template);
        if channels.is_empty() {
            return Ok(());
        }
        let case = n.case_id.as_deref().unwrap_or("-");
        let msg = NoticeMessage {
            notice_id: n.id.clone(),
            kind: n.template,
            lang: n.lang.clone(),
            subject: rendered.title.clone(),
            text: rendered.text.clone(),
            html: rendered.html.clone(),
            sms_template: n.template.code().replace('.', "_"),
            sms_params: BTreeMap::from([
                ("resource".to_string(), resource_name.to_string()),
                ("case".to_string(), case.to_string()),
            ]),
            sms_text: rendered.sms.clone(),
        };
        let payload = serde_json::to_string(&msg).unwrap_or_default();
        for channel in channels {
            let endpoint = match channel {
                Channel::Email => "smtp",
                Channel::Sms => "gateway",
                Channel::Webhook => continue,
            };
            let m = NewOutbound {
                id: format!("{channel}:{}", n.id),
                channel,
                endpoint: endpoint.into(),
                subject: format!("notice:{}", n.id),
                account_id: Some(n.account_id.clone()),
                payload: payload.clone(),
            };
            self.queue_outbound(tx, &m, self.max_attempts(channel), now)
                .await?;
        }
        Ok(())
    }
}

/// A notice with its messages, one per channel it went to (staff).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct NoticeDeliveries {
    /// The inbox notice.
    pub notice: warden_store::lifecycle::Notice,
    /// Its e-mail and SMS messages with their state; empty where it went to the inbox only.
    pub messages: Vec<Outbound>,
}

impl App {
    /// The notices of a case, oldest first, each with where its messages stand (staff: the
    /// case page shows whether the tenant was told, and how).
    pub async fn case_notices(
        &self,
        who: &Principal,
        case_id: &str,
    ) -> AppResult<Vec<NoticeDeliveries>> {
        who.require(
            &[Role::Admin, Role::Operator, Role::Reviewer],
            "read the deliveries of notices",
        )?;
        let case = self.get_case(who, case_id).await?;
        let notices = self.store.notices_of_case(&case.id, 200).await?;
        let subjects: Vec<String> = notices.iter().map(|n| format!("notice:{}", n.id)).collect();
        let mut messages = self.store.outbound_about(&subjects).await?;
        Ok(notices
            .into_iter()
            .map(|notice| {
                let subject = format!("notice:{}", notice.id);
                let (mine, rest): (Vec<Outbound>, Vec<Outbound>) =
                    messages.drain(..).partition(|m| m.subject == subject);
                messages = rest;
                NoticeDeliveries {
                    notice,
                    messages: mine,
                }
            })
            .collect())
    }
}
