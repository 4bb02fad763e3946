//! The abuse desk's SMTP listener inside `warden serve` (INT-2): the third door for e-mail
//! reports, beside `POST /api/reports/mail` and `warden intake mail`. An MTA relays `abuse@`
//! here (Postfix: `abuse@provider.example smtp:[127.0.0.1]:2525` in its transport map), and
//! every message goes through [`App::submit_mail`] like the other doors': one transaction,
//! all or nothing, once per message. Reference: docs/intake-mail.md, "The SMTP listener".
//!
//! # What is answered when
//!
//! The reply to the end of DATA is the message's fate, given only after `submit_mail` has
//! returned: `250 2.0.0 Ok: <mail_id>` once it is committed (a message taken in before is
//! `250` too, with its first id), `554 5.6.0 <reason naming the part>` for a message that is
//! not a readable report (permanent: the relay bounces it to the sender, nothing stored), and
//! `451 4.3.0` for a fault of storage (temporary: the relay keeps the message and retries, and
//! the retry is stored once because a message is known by its bytes' SHA-256). The bytes are
//! taken in exactly as received after dot-unstuffing — no `Received:` field is added — so that
//! a relay's retry after a lost `250` is the same message.
//!
//! Everything a client can make the listener hold is bounded: connections
//! (`max_connections`, then 421 4.7.0 at once), command lines (1000 octets, the text-line
//! limit), the message (`max_message_bytes`: a `SIZE=` over it is 552 at MAIL; data over it is
//! read to the end of DATA and dropped, then 552 5.3.4), recipients (`max_recipients`, then
//! 452 4.5.3), waiting (`idle_timeout_secs` per line, `session_timeout_secs` in all, then
//! 421 4.4.2) and errors (20 refused commands, then 421 4.7.0). Only `allowed_clients` may
//! connect (default loopback): there is no STARTTLS and no AUTH, so this is a relay's door on
//! loopback or a private network, never a public MX.
//!
//! Nothing of a message is logged — not its text, not the envelope's or the header's
//! addresses (personal data, AUD-4) — only counts, ids and reasons; every outcome and refusal
//! is counted in `warden_smtp_events_total` (`warden_app::metrics::SmtpEvent`).
//!
//! # Why our own protocol code
//!
//! `mailin`, the maintained SMTP state machine under `mailin-embedded`, was read first (0.6.5):
//! its `Handler` is synchronous, so the reply to DATA cannot wait for an async `submit_mail`
//! (it would have to be faked and replaced); its MAIL parser refuses the null reverse path
//! `<>` (bounces and many feedback loops use it) and any `SIZE=` parameter, and it has no
//! bounds on line length or message size of its own. What Warden needs is the small receiving
//! half of RFC 5321 — EHLO/HELO, MAIL with SIZE and BODY, RCPT, DATA with dot-unstuffing, RSET,
//! NOOP, QUIT, VRFY (252), HELP — with the extensions SIZE (RFC 1870), 8BITMIME (RFC 6152,
//! bytes are taken as they come), PIPELINING (RFC 2920: replies in order, input read ahead is
//! kept) and ENHANCEDSTATUSCODES (RFC 2034), written here over tokio in a few hundred lines
//! that the bounds can be read from.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ipnet::IpNet;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use warden_app::App;
use warden_app::AppError;
use warden_app::auth::Principal;
use warden_app::mail::MailDoor;
use warden_app::metrics::SmtpEvent;

/// The longest command line, CRLF included: RFC 5321's text-line limit (a command line may be
/// 512; a few clients send longer parameters).
pub const MAX_COMMAND_LINE: usize = 1000;

/// Commands refused (syntax, sequence, unknown) before the session is closed.
const MAX_ERRORS: u32 = 20;

/// The longest reason text in a reply, characters.
const MAX_REASON_CHARS: usize = 400;

/// The listener's settings, from `[smtp]` (checked there).
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// The TCP address to listen on.
    pub listen: SocketAddr,
    /// The name in the greeting and the EHLO reply.
    pub hostname: String,
    /// Sessions at once.
    pub max_connections: usize,
    /// Recipients accepted per message.
    pub max_recipients: usize,
    /// The largest message, bytes after dot-unstuffing.
    pub max_message_bytes: usize,
    /// Waiting for one line, or for the client to take one reply.
    pub idle_timeout: Duration,
    /// A whole session.
    pub session_timeout: Duration,
    /// The recipients accepted; `None`: every one.
    pub accept_recipients: Option<Vec<Accept>>,
    /// The clients that may connect.
    pub allowed_clients: Vec<IpNet>,
}

/// One `accept_recipients` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accept {
    /// This address, lower-cased.
    Address(String),
    /// Any address at this domain, lower-cased (not its subdomains).
    Domain(String),
}

impl Accept {
    /// `local@domain` or `domain`.
    pub fn parse(s: &str) -> anyhow::Result<Accept> {
        let s = s.trim().to_ascii_lowercase();
        let domain_ok = |d: &str| {
            !d.is_empty()
                && d.len() <= 253
                && d.split('.').all(|l| {
                    !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
        };
        match s.rsplit_once('@') {
            Some((local, domain)) => {
                let local_ok = !local.is_empty()
                    && local.len() <= 64
                    && local
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && !b"<>(),;:@\"[]\\".contains(&b));
                anyhow::ensure!(local_ok && domain_ok(domain), "not an address");
                Ok(Accept::Address(s))
            }
            None => {
                anyhow::ensure!(domain_ok(&s), "not a domain");
                Ok(Accept::Domain(s))
            }
        }
    }
}

/// Whether `ip` may connect: it is in one of `allowed` (an IPv4 client seen through an IPv6
/// socket, `::ffff:192.0.2.1`, as its IPv4 address).
pub fn client_allowed(allowed: &[IpNet], ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    allowed.iter().any(|n| n.contains(&ip))
}

/// Whether a forward path (what is between `<` and `>` of RCPT TO) is accepted.
fn recipient_accepted(accept: Option<&[Accept]>, path: &str) -> bool {
    let Some(list) = accept else {
        return true;
    };
    // An obsolete source route (`@relay.example:user@domain`) is ignored (RFC 5321 §4.1.1.3).
    let address = match path.strip_prefix('@') {
        Some(_) => path.split_once(':').map_or(path, |(_, a)| a),
        None => path,
    }
    .to_ascii_lowercase();
    let domain = address
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('.'));
    list.iter().any(|a| match a {
        Accept::Address(x) => *x == address,
        Accept::Domain(d) => domain == Some(d.as_str()),
    })
}

/// What became of a message handed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// Committed, or taken in before (`duplicate`).
    Stored {
        /// The message's id (`mail_...`).
        mail_id: String,
        /// Taken in before: this is its first id, nothing stored again.
        duplicate: bool,
        /// Case reports stored.
        stored: usize,
        /// Reports kept without a case.
        held: usize,
    },
    /// Not a readable report; nothing stored. Permanent.
    Refused {
        /// Stable reason (`truncated`, `no_report`, ...).
        code: &'static str,
        /// Where (`part 2 (message/feedback-report)`).
        part: Option<String>,
        /// The field at fault, if one is.
        field: Option<String>,
        /// In words, naming the part (for the reply, never logged).
        message: String,
    },
    /// Not stored for a fault of storage. Temporary.
    Deferred {
        /// The cause, for the log (never in the reply).
        error: String,
    },
}

/// Where the listener hands messages: [`App::submit_mail`] in `warden serve`, a recorder in the
/// protocol's tests.
pub trait Intake: Send + Sync + 'static {
    /// Takes one message in.
    fn submit(&self, raw: Vec<u8>) -> impl Future<Output = Submitted> + Send;
    /// Counts an outcome or refusal.
    fn count(&self, event: SmtpEvent);
}

impl Intake for App {
    async fn submit(&self, raw: Vec<u8>) -> Submitted {
        match self
            .submit_mail(&Principal::System, MailDoor::Smtp, &raw)
            .await
        {
            Ok(r) => Submitted::Stored {
                mail_id: r.mail_id,
                duplicate: r.duplicate,
                stored: r.stored,
                held: r.held,
            },
            Err(AppError::Mail(e)) => Submitted::Refused {
                code: e.code,
                part: e.part,
                field: e.field,
                message: e.message,
            },
            // As the pipe command: a report the JSON path's checks refuse is the message's
            // fault too, and a retry would be refused again.
            Err(e @ AppError::Invalid(_)) => Submitted::Refused {
                code: "invalid",
                part: None,
                field: None,
                message: e.to_string(),
            },
            Err(e @ AppError::Xarf(_)) => Submitted::Refused {
                code: "invalid_xarf",
                part: None,
                field: None,
                message: e.to_string(),
            },
            Err(e) => Submitted::Deferred {
                error: e.to_string(),
            },
        }
    }

    fn count(&self, event: SmtpEvent) {
        self.metrics.smtp(event);
    }
}

/// Binds the listener's socket.
pub async fn bind(settings: &SmtpSettings) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("smtp.listen: cannot listen on tcp {}", settings.listen))
}

/// A running listener.
#[derive(Debug)]
pub struct SmtpListener {
    local: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpListener {
    /// The address it listens on (the port when `listen` said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Waits until it has stopped: after the stop signal it accepts nothing more, and each
    /// session ends at its next read with 421 4.3.2 (a message being stored is stored and
    /// answered first).
    pub async fn stopped(self) {
        let _ = self.task.await;
    }
}

/// Starts accepting on `listener`, handing messages to `intake`, until `stop` turns true.
pub fn start<I: Intake>(
    settings: SmtpSettings,
    listener: tokio::net::TcpListener,
    intake: Arc<I>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<SmtpListener> {
    let local = listener.local_addr()?;
    let task = tokio::spawn(accept_loop(Arc::new(settings), listener, intake, stop));
    Ok(SmtpListener { local, task })
}

async fn accept_loop<I: Intake>(
    settings: Arc<SmtpSettings>,
    listener: tokio::net::TcpListener,
    intake: Arc<I>,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let mut sessions = tokio::task::JoinSet::new();
    let host = settings.hostname.clone();
    while !*stop.borrow() {
        let accepted = tokio::select! {
            _ = stop.changed() => break,
            a = listener.accept() => a,
        };
        while sessions.try_join_next().is_some() {}
        let (sock, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors, most likely: wait rather than spin.
                tracing::warn!(error = %e, "smtp: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if !client_allowed(&settings.allowed_clients, peer.ip()) {
            intake.count(SmtpEvent::ClientDenied);
            tracing::warn!(peer = %peer.ip(), "smtp: connection from a client outside smtp.allowed_clients refused");
            turn_away(
                sock,
                &format!("554 5.7.1 {host} Access denied: not an allowed client\r\n"),
            );
            continue;
        }
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            intake.count(SmtpEvent::ConnectionLimit);
            tracing::info!(
                max_connections = settings.max_connections,
                "smtp: connection refused, too many at once"
            );
            turn_away(
                sock,
                &format!("421 4.7.0 {host} Too many connections, try again later\r\n"),
            );
            continue;
        };
        let (settings, intake, stop) = (settings.clone(), intake.clone(), stop.clone());
        sessions.spawn(async move {
            let _slot = slot;
            session(sock, &settings, &*intake, stop).await;
        });
    }
    drop(listener);
    while sessions.join_next().await.is_some() {}
}

/// Answers a client turned away at connect and closes. One short write to a fresh socket,
/// whose send buffer is empty, never waits: no task is spawned for it, so a flood of
/// connections costs no more than the accepts. (The socket is taken off the reactor first: it
/// has not told tokio yet that it is writable.)
fn turn_away(sock: tokio::net::TcpStream, line: &str) {
    if let Ok(mut s) = sock.into_std() {
        let _ = std::io::Write::write(&mut s, line.as_bytes());
    }
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The client closed the connection, or it broke.
    Closed,
    /// QUIT.
    Quit,
    /// No line within `idle_timeout`.
    Idle,
    /// `session_timeout` over.
    Expired,
    /// The server is stopping.
    Shutdown,
    /// Too many refused commands.
    Errors,
}

/// A line read.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// Its bytes without the line end; `crlf`: it ended in CR LF (else a bare LF).
    Complete { bytes: Vec<u8>, crlf: bool },
    /// Longer than allowed: read to its end and dropped.
    TooLong { crlf: bool },
}

/// Reads one line of at most `max` bytes (line end included); `None` at the end of the stream
/// (a last line without LF is dropped with it). A longer line is consumed to its LF without
/// being kept.
async fn read_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    max: usize,
) -> std::io::Result<Option<Line>> {
    let mut buf = Vec::new();
    let mut too_long = false;
    let mut last: Option<u8> = None;
    loop {
        let avail = r.fill_buf().await?;
        if avail.is_empty() {
            return Ok(None);
        }
        let (used, end) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let before = if i == 0 {
                    last
                } else {
                    avail.get(i - 1).copied()
                };
                (i + 1, Some(before == Some(b'\r')))
            }
            None => (avail.len(), None),
        };
        let chunk = avail.get(..used).unwrap_or_default();
        last = chunk.last().copied();
        if !too_long {
            if buf.len() + chunk.len() > max {
                too_long = true;
                buf = Vec::new();
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        r.consume(used);
        if let Some(crlf) = end {
            if too_long {
                return Ok(Some(Line::TooLong { crlf }));
            }
            let keep = buf.len().saturating_sub(if crlf { 2 } else { 1 });
            buf.truncate(keep);
            return Ok(Some(Line::Complete { bytes: buf, crlf }));
        }
    }
}

/// One reply line.
fn reply(code: u16, text: &str) -> String {
    format!("{code} {text}\r\n")
}

/// A reason fit for one reply line: printable ASCII, at most [`MAX_REASON_CHARS`].
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(MAX_REASON_CHARS)
        .collect()
}

/// The open transaction: MAIL given.
#[derive(Debug, Default)]
struct Transaction {
    /// Recipients accepted.
    recipients: usize,
    /// RCPT given at least once (accepted or not).
    rcpt_tried: bool,
}

/// What a command asks for next.
enum Step {
    /// Send this reply.
    Reply(String),
    /// Send this reply, counted as a refused command.
    Bad(String),
    /// 354, then read the message.
    Data,
    /// 221 and close.
    Quit,
}

/// One session on `stream`, to its end.
async fn session<S, I>(stream: S, s: &SmtpSettings, intake: &I, stop: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Send + Unpin,
    I: Intake,
{
    let (r, w) = tokio::io::split(stream);
    let mut c = Conn {
        r: BufReader::new(r),
        w,
        s,
        deadline: Instant::now() + s.session_timeout,
        stop,
        greeted: false,
        tx: None,
        errors: 0,
        messages: 0,
    };
    let end = match c.dialogue(intake).await {
        Ok(()) => End::Quit,
        Err(e) => e,
    };
    let host = &s.hostname;
    let last = match end {
        End::Closed | End::Quit => None,
        End::Idle | End::Expired => {
            intake.count(SmtpEvent::Timeout);
            Some(reply(421, &format!("4.4.2 {host} Error: timeout exceeded")))
        }
        End::Shutdown => Some(reply(421, &format!("4.3.2 {host} Service shutting down"))),
        End::Errors => Some(reply(421, &format!("4.7.0 {host} Error: too many errors"))),
    };
    if let Some(l) = last {
        let _ = c.send(&l).await;
    }
    let _ = tokio::time::timeout(s.idle_timeout, c.w.shutdown()).await;
    tracing::debug!(end = ?end, messages = c.messages, errors = c.errors, "smtp: session ended");
}

struct Conn<'a, R, W> {
    r: BufReader<R>,
    w: W,
    s: &'a SmtpSettings,
    deadline: Instant,
    stop: watch::Receiver<bool>,
    greeted: bool,
    tx: Option<Transaction>,
    errors: u32,
    messages: u64,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Conn<'_, R, W> {
    async fn dialogue<I: Intake>(&mut self, intake: &I) -> Result<(), End> {
        let greeting = reply(220, &format!("{} ESMTP Warden abuse desk", self.s.hostname));
        self.send(&greeting).await?;
        loop {
            let step = match self.line(MAX_COMMAND_LINE).await? {
                Line::TooLong { .. } => Step::Bad(reply(
                    500,
                    "5.5.2 Line too long (at most 1000 octets with CRLF)",
                )),
                Line::Complete { bytes, .. } => self.command(&bytes, intake),
            };
            match step {
                Step::Reply(r) => self.send(&r).await?,
                Step::Bad(r) => {
                    intake.count(SmtpEvent::BadCommand);
                    self.errors += 1;
                    self.send(&r).await?;
                    if self.errors >= MAX_ERRORS {
                        return Err(End::Errors);
                    }
                }
                Step::Quit => {
                    let bye = reply(221, &format!("2.0.0 {} Bye", self.s.hostname));
                    self.send(&bye).await?;
                    return Ok(());
                }
                Step::Data => {
                    self.send(&reply(354, "End data with <CR><LF>.<CR><LF>"))
                        .await?;
                    let message = self.data().await?;
                    self.tx = None;
                    let r = self.deliver(message, intake).await;
                    self.send(&r).await?;
                }
            }
        }
    }

    /// The reply to one command line.
    fn command<I: Intake>(&mut self, line: &[u8], intake: &I) -> Step {
        let line = String::from_utf8_lossy(line);
        let (verb, arg) = match line.split_once(' ') {
            Some((v, a)) => (v, a.trim()),
            None => (line.trim(), ""),
        };
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" | "HELO" if arg.is_empty() => Step::Bad(reply(
                501,
                &format!("5.5.4 Syntax: {} hostname", verb.to_ascii_uppercase()),
            )),
            "EHLO" => {
                self.greeted = true;
                self.tx = None;
                let host = &self.s.hostname;
                let max = self.s.max_message_bytes;
                Step::Reply(format!(
                    "250-{host}\r\n250-SIZE {max}\r\n250-8BITMIME\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n"
                ))
            }
            "HELO" => {
                self.greeted = true;
                self.tx = None;
                Step::Reply(reply(250, &self.s.hostname))
            }
            "MAIL" => self.mail(arg, intake),
            "RCPT" => self.rcpt(arg, intake),
            "DATA" => match &self.tx {
                None => Step::Bad(reply(503, "5.5.1 Error: need MAIL command")),
                Some(t) if t.recipients == 0 && t.rcpt_tried => {
                    Step::Bad(reply(554, "5.5.1 Error: no valid recipients"))
                }
                Some(t) if t.recipients == 0 => {
                    Step::Bad(reply(503, "5.5.1 Error: need RCPT command"))
                }
                Some(_) => Step::Data,
            },
            "RSET" => {
                self.tx = None;
                Step::Reply(reply(250, "2.0.0 Ok"))
            }
            "NOOP" => Step::Reply(reply(250, "2.0.0 Ok")),
            "QUIT" => Step::Quit,
            "VRFY" => Step::Reply(reply(
                252,
                "2.5.0 Cannot VRFY user, but will accept message and attempt delivery",
            )),
            "HELP" => Step::Reply(reply(
                214,
                "2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP (RFC 5321)",
            )),
            "EXPN" | "STARTTLS" | "AUTH" | "BDAT" | "ETRN" | "TURN" | "ATRN" | "SEND" | "SOML"
            | "SAML" => Step::Bad(reply(502, "5.5.1 Error: command not implemented")),
            _ => Step::Bad(reply(500, "5.5.2 Error: command not recognized")),
        }
    }

    fn mail<I: Intake>(&mut self, arg: &str, intake: &I) -> Step {
        if !self.greeted {
            return Step::Bad(reply(503, "5.5.1 Error: send HELO/EHLO first"));
        }
        if self.tx.is_some() {
            return Step::Bad(reply(503, "5.5.1 Error: nested MAIL command"));
        }
        let Some((_, params)) = path_after(arg, "FROM:") else {
            return Step::Bad(reply(501, "5.5.4 Syntax: MAIL FROM:<address>"));
        };
        for p in params.split_whitespace() {
            let (key, value) = p.split_once('=').unwrap_or((p, ""));
            match key.to_ascii_uppercase().as_str() {
                "SIZE" => match value.parse::<u64>() {
                    Ok(n) if n > self.s.max_message_bytes as u64 => {
                        intake.count(SmtpEvent::TooLarge);
                        tracing::info!(
                            limit = self.s.max_message_bytes,
                            declared = n,
                            "smtp: message refused at MAIL, declared over the size limit (552)"
                        );
                        return Step::Reply(reply(
                            552,
                            &format!(
                                "5.3.4 Message size exceeds fixed limit of {} bytes",
                                self.s.max_message_bytes
                            ),
                        ));
                    }
                    Ok(_) => {}
                    Err(_) => return Step::Bad(reply(501, "5.5.4 Bad SIZE parameter")),
                },
                "BODY"
                    if value.eq_ignore_ascii_case("7BIT")
                        || value.eq_ignore_ascii_case("8BITMIME") => {}
                "BODY" => return Step::Bad(reply(501, "5.5.4 Bad BODY parameter")),
                _ => return Step::Bad(reply(555, "5.5.4 Unsupported MAIL parameter")),
            }
        }
        self.tx = Some(Transaction::default());
        Step::Reply(reply(250, "2.1.0 Ok"))
    }

    fn rcpt<I: Intake>(&mut self, arg: &str, intake: &I) -> Step {
        let Some(tx) = &mut self.tx else {
            return Step::Bad(reply(503, "5.5.1 Error: need MAIL command"));
        };
        let Some((path, params)) = path_after(arg, "TO:") else {
            return Step::Bad(reply(501, "5.5.4 Syntax: RCPT TO:<address>"));
        };
        if path.is_empty() {
            return Step::Bad(reply(501, "5.1.3 Bad recipient address syntax"));
        }
        if !params.trim().is_empty() {
            return Step::Bad(reply(555, "5.5.4 Unsupported RCPT parameter"));
        }
        tx.rcpt_tried = true;
        if !recipient_accepted(self.s.accept_recipients.as_deref(), path) {
            intake.count(SmtpEvent::RecipientRefused);
            tracing::info!("smtp: recipient outside smtp.accept_recipients refused (550)");
            return Step::Reply(reply(
                550,
                "5.1.1 Recipient not accepted by this abuse desk",
            ));
        }
        if tx.recipients >= self.s.max_recipients {
            intake.count(SmtpEvent::TooManyRecipients);
            tracing::info!(
                max_recipients = self.s.max_recipients,
                "smtp: recipient over the limit deferred (452)"
            );
            return Step::Reply(reply(452, "4.5.3 Error: too many recipients"));
        }
        tx.recipients += 1;
        Step::Reply(reply(250, "2.1.5 Ok"))
    }

    /// The message after 354, dot-unstuffed; `None` when it was over the size limit (read to
    /// its end and dropped).
    async fn data(&mut self) -> Result<Option<Vec<u8>>, End> {
        let max = self.s.max_message_bytes;
        let mut message = Vec::new();
        let mut over = false;
        // The end is <CRLF>.<CRLF>: a "." line after a bare LF is text (no smuggled end).
        let mut after_crlf = true;
        loop {
            let room = if over {
                MAX_COMMAND_LINE
            } else {
                max.saturating_sub(message.len())
                    .saturating_add(3)
                    .max(MAX_COMMAND_LINE)
            };
            match self.line(room).await? {
                Line::TooLong { crlf } => {
                    over = true;
                    message = Vec::new();
                    after_crlf = crlf;
                }
                Line::Complete { bytes, crlf } => {
                    if after_crlf && crlf && bytes == b"." {
                        return Ok((!over).then_some(message));
                    }
                    after_crlf = crlf;
                    if over {
                        continue;
                    }
                    let text = match bytes.strip_prefix(b".") {
                        Some(rest) if !rest.is_empty() => rest,
                        _ => &bytes,
                    };
                    let end: &[u8] = if crlf { b"\r\n" } else { b"\n" };
                    if message.len() + text.len() + end.len() > max {
                        over = true;
                        message = Vec::new();
                        continue;
                    }
                    message.extend_from_slice(text);
                    message.extend_from_slice(end);
                }
            }
        }
    }

    /// Hands the message in and words its fate.
    async fn deliver<I: Intake>(&mut self, message: Option<Vec<u8>>, intake: &I) -> String {
        let max = self.s.max_message_bytes;
        let Some(raw) = message else {
            intake.count(SmtpEvent::TooLarge);
            tracing::info!(
                limit = max,
                "smtp: message over the size limit dropped (552)"
            );
            return reply(
                552,
                &format!(
                    "5.3.4 Message too big for this system (limit {max} bytes); nothing was stored"
                ),
            );
        };
        let bytes = raw.len();
        match intake.submit(raw).await {
            Submitted::Stored {
                mail_id,
                duplicate,
                stored,
                held,
            } => {
                self.messages += 1;
                intake.count(if duplicate {
                    SmtpEvent::Duplicate
                } else {
                    SmtpEvent::Accepted
                });
                tracing::info!(mail = %mail_id, duplicate, stored, held, bytes, "smtp: message taken in");
                reply(250, &format!("2.0.0 Ok: {}", one_line(&mail_id)))
            }
            Submitted::Refused {
                code,
                part,
                field,
                message,
            } => {
                intake.count(SmtpEvent::Refused);
                tracing::info!(
                    reason = code,
                    part = part.as_deref().unwrap_or(""),
                    field = field.as_deref().unwrap_or(""),
                    bytes,
                    "smtp: message refused, nothing stored (554)"
                );
                reply(
                    554,
                    &format!("5.6.0 {}; nothing was stored", one_line(&message)),
                )
            }
            Submitted::Deferred { error } => {
                intake.count(SmtpEvent::Deferred);
                tracing::warn!(error = %error, bytes, "smtp: message not stored, the relay is told to retry (451)");
                reply(
                    451,
                    "4.3.0 Temporary failure storing the message; nothing was stored, try again later",
                )
            }
        }
    }

    /// The next line within the idle timeout and the session's deadline, unless the server stops.
    async fn line(&mut self, max: usize) -> Result<Line, End> {
        if *self.stop.borrow() {
            return Err(End::Shutdown);
        }
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(End::Expired);
        }
        let (wait, late) = if self.s.idle_timeout < left {
            (self.s.idle_timeout, End::Idle)
        } else {
            (left, End::Expired)
        };
        tokio::select! {
            _ = self.stop.changed() => Err(End::Shutdown),
            r = tokio::time::timeout(wait, read_line(&mut self.r, max)) => match r {
                Err(_) => Err(late),
                Ok(Ok(Some(l))) => Ok(l),
                Ok(Ok(None) | Err(_)) => Err(End::Closed),
            },
        }
    }

    /// Writes a reply; a client that does not take it within the idle timeout is gone.
    async fn send(&mut self, text: &str) -> Result<(), End> {
        let w = &mut self.w;
        let write = async {
            w.write_all(text.as_bytes()).await?;
            w.flush().await
        };
        match tokio::time::timeout(self.s.idle_timeout, write).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(End::Closed),
        }
    }
}

/// `FROM:<path> params` (or `TO:`), the keyword without regard to case and a space after the
/// colon tolerated: the path between the brackets and the rest.
fn path_after<'a>(arg: &'a str, keyword: &str) -> Option<(&'a str, &'a str)> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg.get(keyword.len()..)?.trim_start();
    let rest = rest.strip_prefix('<')?;
    let (path, params) = rest.split_once('>')?;
    Some((path, params))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::io::{AsyncReadExt, DuplexStream};

    use super::*;

    /// Keeps what it is given and answers what the test says.
    #[derive(Default)]
    struct Recorder {
        messages: Mutex<Vec<Vec<u8>>>,
        answer: Mutex<Option<Submitted>>,
        events: Mutex<Vec<SmtpEvent>>,
    }

    impl Intake for Recorder {
        async fn submit(&self, raw: Vec<u8>) -> Submitted {
            self.messages.lock().unwrap().push(raw);
            self.answer
                .lock()
                .unwrap()
                .clone()
                .unwrap_or(Submitted::Stored {
                    mail_id: "mail_1".into(),
                    duplicate: false,
                    stored: 1,
                    held: 0,
                })
        }

        fn count(&self, event: SmtpEvent) {
            self.events.lock().unwrap().push(event);
        }
    }

    fn settings() -> SmtpSettings {
        SmtpSettings {
            listen: "127.0.0.1:0".parse().unwrap(),
            hostname: "desk.provider.example".into(),
            max_connections: 2,
            max_recipients: 2,
            max_message_bytes: 1024,
            idle_timeout: Duration::from_secs(5),
            session_timeout: Duration::from_secs(30),
            accept_recipients: Some(vec![
                Accept::parse("abuse@provider.example").unwrap(),
                Accept::parse("abuse.provider.example").unwrap(),
            ]),
            allowed_clients: vec!["127.0.0.0/8".parse().unwrap()],
        }
    }

    /// A client over an in-memory stream: it sends, and reads replies whole.
    struct Client {
        io: BufReader<DuplexStream>,
        _stop: watch::Sender<bool>,
        done: tokio::task::JoinHandle<()>,
    }

    impl Client {
        fn start(s: SmtpSettings, intake: Arc<Recorder>) -> Client {
            let (ours, theirs) = tokio::io::duplex(64 * 1024);
            let (stop_tx, stop) = watch::channel(false);
            let done = tokio::spawn(async move { session(theirs, &s, &*intake, stop).await });
            Client {
                io: BufReader::new(ours),
                _stop: stop_tx,
                done,
            }
        }

        /// Sends (a session that has ended takes nothing: the reply read next tells).
        async fn send(&mut self, bytes: &[u8]) {
            let _ = self.io.get_mut().write_all(bytes).await;
        }

        /// One reply, all its lines (`250-...` up to `250 ...`).
        async fn reply(&mut self) -> String {
            let mut all = String::new();
            loop {
                let mut l = String::new();
                let n = self.io.read_line(&mut l).await.unwrap();
                assert!(n > 0, "closed after {all:?}");
                all.push_str(&l);
                if l.as_bytes().get(3) != Some(&b'-') {
                    return all;
                }
            }
        }

        async fn says(&mut self, cmd: &str, expect: &str) -> String {
            self.send(format!("{cmd}\r\n").as_bytes()).await;
            let r = self.reply().await;
            assert!(r.starts_with(expect), "{cmd} -> {r:?}, expected {expect}");
            r
        }

        async fn closed(mut self) {
            let mut rest = Vec::new();
            self.io.read_to_end(&mut rest).await.unwrap();
            self.done.await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_message_is_taken_in_dot_unstuffed_and_answered_with_its_id() {
        let rec = Arc::new(Recorder::default());
        let mut c = Client::start(settings(), rec.clone());
        assert!(
            c.reply()
                .await
                .starts_with("220 desk.provider.example ESMTP")
        );
        let ehlo = c.says("EHLO relay.provider.example", "250-").await;
        for ext in [
            "SIZE 1024",
            "8BITMIME",
            "PIPELINING",
            "250 ENHANCEDSTATUSCODES",
        ] {
            assert!(ehlo.contains(ext), "{ehlo}");
        }
        c.says("MAIL FROM:<> BODY=8BITMIME SIZE=300", "250 2.1.0")
            .await;
        c.says("RCPT TO:<Abuse@Provider.Example>", "250 2.1.5")
            .await;
        c.says("DATA", "354").await;
        c.send(b"Subject: x\r\n\r\n..leading dot\r\n.\r\nNOOP\r\n")
            .await;
        assert_eq!(c.reply().await, "250 2.0.0 Ok: mail_1\r\n");
        assert_eq!(
            rec.messages.lock().unwrap()[0],
            b"Subject: x\r\n\r\n.leading dot\r\n".to_vec(),
            "dot-unstuffed, ended at the first <CRLF>.<CRLF>"
        );
        // What followed the end is a command again.
        assert!(c.reply().await.starts_with("250 2.0.0 Ok"));
        // "." after a bare LF is text, not the end of the message (no smuggled second one).
        c.says("MAIL FROM:<fbl@reporter.example>", "250").await;
        c.says("RCPT TO:<x@abuse.provider.example>", "250").await;
        c.says("DATA", "354").await;
        c.send(b"A: b\n.\r\nMAIL FROM:<x@y.example>\r\n.\r\n").await;
        assert_eq!(c.reply().await, "250 2.0.0 Ok: mail_1\r\n");
        assert_eq!(
            rec.messages.lock().unwrap()[1],
            b"A: b\n.\r\nMAIL FROM:<x@y.example>\r\n".to_vec()
        );
        c.says("QUIT", "221 2.0.0").await;
        c.closed().await;
        let events = rec.events.lock().unwrap().clone();
        assert_eq!(
            events.iter().filter(|e| **e == SmtpEvent::Accepted).count(),
            2
        );
    }

    #[tokio::test]
    async fn sequence_syntax_and_unknown_commands_are_refused_by_their_codes() {
        let rec = Arc::new(Recorder::default());
        let mut c = Client::start(settings(), rec.clone());
        c.reply().await;
        c.says("MAIL FROM:<a@b.example>", "503 5.5.1").await;
        c.says("EHLO", "501 5.5.4").await;
        c.says("HELO relay.example", "250 desk.provider.example")
            .await;
        c.says("RCPT TO:<abuse@provider.example>", "503 5.5.1")
            .await;
        c.says("DATA", "503 5.5.1").await;
        c.says("MAIL TO:<a@b.example>", "501 5.5.4").await;
        c.says("MAIL FROM:<a@b.example> SIZE=big", "501 5.5.4")
            .await;
        c.says("MAIL FROM:<a@b.example> AUTH=<>", "555 5.5.4").await;
        c.says("MAIL FROM:<a@b.example>", "250").await;
        c.says("MAIL FROM:<a@b.example>", "503 5.5.1").await;
        c.says("DATA", "503 5.5.1").await;
        c.says("RCPT TO:<>", "501 5.1.3").await;
        c.says("RCPT TO:<abuse@provider.example> NOTIFY=NEVER", "555")
            .await;
        c.says("RCPT TO:<someone@elsewhere.example>", "550 5.1.1")
            .await;
        c.says("RCPT TO:<abuse@sub.abuse.provider.example>", "550 5.1.1")
            .await;
        c.says("DATA", "554 5.5.1").await;
        c.says("RSET", "250 2.0.0").await;
        c.says("NOOP", "250 2.0.0").await;
        c.says("VRFY abuse", "252").await;
        c.says("HELP", "214").await;
        c.says("EXPN staff", "502 5.5.1").await;
        c.says("STARTTLS", "502 5.5.1").await;
        c.says("BOGUS", "500 5.5.2").await;
        let long = format!("NOOP {}", "x".repeat(MAX_COMMAND_LINE));
        c.says(&long, "500 5.5.2 Line too long").await;
        c.says("NOOP", "250").await;
        c.says("QUIT", "221").await;
        c.closed().await;
        assert!(rec.messages.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn sizes_and_recipients_are_bounded() {
        let rec = Arc::new(Recorder::default());
        let mut c = Client::start(settings(), rec.clone());
        c.reply().await;
        c.says("EHLO relay.example", "250").await;
        c.says("MAIL FROM:<a@b.example> SIZE=1025", "552 5.3.4")
            .await;
        c.says("MAIL FROM:<a@b.example> SIZE=1024", "250").await;
        c.says("RCPT TO:<abuse@provider.example>", "250").await;
        c.says("RCPT TO:<a@abuse.provider.example>", "250").await;
        c.says("RCPT TO:<b@abuse.provider.example>", "452 4.5.3")
            .await;
        c.says("DATA", "354").await;
        // Over the limit in lines of 100: read to the end, dropped, 552.
        let line = format!("{}\r\n", "y".repeat(98));
        for _ in 0..20 {
            c.send(line.as_bytes()).await;
        }
        c.send(b".\r\n").await;
        let r = c.reply().await;
        assert!(r.starts_with("552 5.3.4"), "{r}");
        // One line longer than the whole limit: the same.
        c.says("MAIL FROM:<a@b.example>", "250").await;
        c.says("RCPT TO:<abuse@provider.example>", "250").await;
        c.says("DATA", "354").await;
        c.send(format!("{}\r\n.\r\n", "z".repeat(5000)).as_bytes())
            .await;
        let r = c.reply().await;
        assert!(r.starts_with("552 5.3.4"), "{r}");
        // Exactly the limit is taken.
        c.says("MAIL FROM:<a@b.example>", "250").await;
        c.says("RCPT TO:<abuse@provider.example>", "250").await;
        c.says("DATA", "354").await;
        c.send(format!("{}\r\n.\r\n", "w".repeat(1022)).as_bytes())
            .await;
        assert_eq!(c.reply().await, "250 2.0.0 Ok: mail_1\r\n");
        assert_eq!(rec.messages.lock().unwrap().len(), 1);
        assert_eq!(rec.messages.lock().unwrap()[0].len(), 1024);
        c.says("QUIT", "221").await;
        c.closed().await;
        let events = rec.events.lock().unwrap().clone();
        let n = |e| events.iter().filter(|x| **x == e).count();
        assert_eq!(
            (n(SmtpEvent::TooLarge), n(SmtpEvent::TooManyRecipients)),
            (3, 1)
        );
    }

    #[tokio::test]
    async fn refusals_are_permanent_and_storage_faults_temporary() {
        let rec = Arc::new(Recorder::default());
        *rec.answer.lock().unwrap() = Some(Submitted::Refused {
            code: "truncated",
            part: Some("part 2 (message/feedback-report)".into()),
            field: None,
            message: "part 2 (message/feedback-report): the part ends early\r\nX".into(),
        });
        let mut c = Client::start(settings(), rec.clone());
        c.reply().await;
        // Pipelined: the whole transaction in one write, the replies in order.
        c.send(b"EHLO r.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<abuse@provider.example>\r\nDATA\r\n")
            .await;
        for expect in ["250-", "250 2.1.0", "250 2.1.5", "354"] {
            let r = c.reply().await;
            assert!(r.starts_with(expect), "{r}");
        }
        c.send(b"Subject: cut\r\n.\r\n").await;
        assert_eq!(
            c.reply().await,
            "554 5.6.0 part 2 (message/feedback-report): the part ends early??X; nothing was stored\r\n"
        );
        *rec.answer.lock().unwrap() = Some(Submitted::Deferred {
            error: "storage: database is locked".into(),
        });
        c.says("MAIL FROM:<a@b.example>", "250").await;
        c.says("RCPT TO:<abuse@provider.example>", "250").await;
        c.says("DATA", "354").await;
        c.send(b"Subject: again\r\n.\r\n").await;
        let r = c.reply().await;
        assert!(r.starts_with("451 4.3.0"), "{r}");
        assert!(!r.contains("locked"), "the cause stays in the log: {r}");
        c.says("QUIT", "221").await;
        c.closed().await;
    }

    #[tokio::test]
    async fn an_idle_client_is_told_and_closed() {
        let rec = Arc::new(Recorder::default());
        let mut s = settings();
        s.idle_timeout = Duration::from_millis(300);
        let mut c = Client::start(s.clone(), rec.clone());
        c.reply().await;
        c.says("EHLO r.example", "250").await;
        // Nothing more: after the idle timeout, 421 4.4.2 and the end.
        let r = c.reply().await;
        assert!(r.starts_with("421 4.4.2 desk.provider.example"), "{r}");
        c.closed().await;
        assert_eq!(*rec.events.lock().unwrap(), vec![SmtpEvent::Timeout]);
        // The session's deadline holds however busy the client keeps it.
        s.idle_timeout = Duration::from_secs(5);
        s.session_timeout = Duration::from_millis(800);
        let mut c = Client::start(s, rec.clone());
        c.reply().await;
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let mut r = String::new();
            c.send(b"NOOP\r\n").await;
            c.io.read_line(&mut r).await.unwrap();
            if r.starts_with("421") {
                assert!(r.starts_with("421 4.4.2"), "{r}");
                return c.closed().await;
            }
        }
        panic!("the session outlived its timeout");
    }

    #[tokio::test]
    async fn a_stopping_server_ends_sessions_with_421() {
        let rec = Arc::new(Recorder::default());
        let (ours, theirs) = tokio::io::duplex(4096);
        let (stop_tx, stop) = watch::channel(false);
        let s = settings();
        let done = tokio::spawn(async move { session(theirs, &s, &*rec, stop).await });
        let mut io = BufReader::new(ours);
        let mut l = String::new();
        io.read_line(&mut l).await.unwrap();
        stop_tx.send(true).unwrap();
        l.clear();
        io.read_line(&mut l).await.unwrap();
        assert!(l.starts_with("421 4.3.2"), "{l}");
        done.await.unwrap();
    }

    #[test]
    fn only_allowed_clients_may_connect() {
        let loopback: Vec<IpNet> = vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(client_allowed(&loopback, ip("127.0.0.1")));
        assert!(client_allowed(&loopback, ip("127.0.0.53")));
        assert!(client_allowed(&loopback, ip("::1")));
        assert!(
            client_allowed(&loopback, ip("::ffff:127.0.0.1")),
            "IPv4 through an IPv6 socket"
        );
        assert!(!client_allowed(&loopback, ip("192.0.2.25")));
        assert!(!client_allowed(&loopback, ip("2001:db8::25")));
        assert!(!client_allowed(&loopback, ip("::ffff:192.0.2.25")));
        let relays: Vec<IpNet> = vec![
            "198.51.100.0/28".parse().unwrap(),
            "2001:db8:1::/48".parse().unwrap(),
        ];
        assert!(client_allowed(&relays, ip("198.51.100.14")));
        assert!(!client_allowed(&relays, ip("198.51.100.16")));
        assert!(client_allowed(&relays, ip("2001:db8:1:2::9")));
        assert!(
            !client_allowed(&relays, ip("127.0.0.1")),
            "loopback only when listed"
        );
        assert!(!client_allowed(&[], ip("127.0.0.1")));
    }

    #[test]
    fn recipients_match_by_address_or_domain_without_regard_to_case() {
        let list = vec![
            Accept::parse("Abuse@Provider.Example").unwrap(),
            Accept::parse("abuse.provider.example").unwrap(),
        ];
        let ok = |p: &str| recipient_accepted(Some(&list), p);
        assert!(ok("abuse@provider.example"));
        assert!(ok("ABUSE@provider.example"));
        assert!(
            ok("@relay.example:abuse@provider.example"),
            "source route ignored"
        );
        assert!(ok("anyone@abuse.provider.example"));
        assert!(ok("anyone@abuse.provider.example."));
        assert!(!ok("postmaster@provider.example"));
        assert!(!ok("x@sub.abuse.provider.example"));
        assert!(!ok("abuse"));
        assert!(recipient_accepted(None, "anyone@anywhere.example"));
        for bad in [
            "",
            "a b@x.example",
            "@x.example",
            "x@",
            "x@-..example",
            "<a@b.example>",
        ] {
            assert!(Accept::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn lines_are_bounded_and_their_ends_told_apart() {
        let mut r = BufReader::with_capacity(4, &b"ab\r\ncd\nefghijkl\r\nmn"[..]);
        assert_eq!(
            read_line(&mut r, 10).await.unwrap(),
            Some(Line::Complete {
                bytes: b"ab".to_vec(),
                crlf: true
            })
        );
        assert_eq!(
            read_line(&mut r, 10).await.unwrap(),
            Some(Line::Complete {
                bytes: b"cd".to_vec(),
                crlf: false
            })
        );
        // The CR of "efghijkl\r\n" falls in another buffer fill than its LF.
        assert_eq!(
            read_line(&mut r, 6).await.unwrap(),
            Some(Line::TooLong { crlf: true })
        );
        assert_eq!(read_line(&mut r, 10).await.unwrap(), None, "no LF: dropped");
    }
}
