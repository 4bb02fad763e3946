//! The typed configuration: a TOML file, then `WARDEN_SECTION__KEY` environment overrides, then
//! command-line flags. Every field has a documented default; with no file at all Warden runs on
//! an SQLite database in `./warden-data/`. Reference: docs/configuration.md.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// HTTP server.
    pub server: Server,
    /// Database.
    pub database: Database,
    /// Report intake.
    pub intake: Intake,
    /// Job workers.
    pub jobs: Jobs,
    /// Audit log.
    pub audit: Audit,
    /// Personal-data encryption.
    pub crypto: Crypto,
    /// Logging.
    pub log: Log,
    /// The violation lifecycle (LIFE-1, UNB-4): `grace_ms` (default 86400000 = 24 h),
    /// `violation_limit` (default 5), `self_unblock_products` (default cvm, clb, cdn).
    pub lifecycle: warden_domain::lifecycle::LifecyclePolicy,
    /// Grading rules (GRD-2); see docs/configuration.md for every field and default.
    pub grading: warden_domain::grading::GradingRules,
    /// The working-time calendar for review SLAs (UNB-3): Asia/Shanghai, 09:00–18:00,
    /// weekends, `holidays` and `makeup_workdays` (调休) as "YYYY-MM-DD" lists.
    pub calendar: warden_domain::calendar::WorkCalendar,
    /// The penalty matrix (PEN-1); absent = the 2024 policy's table (SPEC §6).
    pub penalty: Option<warden_domain::penalty::PenaltyMatrix>,
    /// Manual unblock and ticket reviews.
    pub review: Review,
    /// The re-check fetcher (DET-2).
    pub recheck: Recheck,
    /// Content scanning (DET-1/DET-3).
    pub scan: Scan,
    /// Webhook endpoints for applies and lifts (ENF-1): `[[webhooks]]` tables.
    pub webhooks: Vec<Webhook>,
    /// ExaBGP bridges that export blackholes to BGP (DDOS-7): `[[exabgp]]` tables, one per
    /// `warden exabgp-bridge` (docs/operations.md, "BGP blackholes").
    pub exabgp: Vec<Exabgp>,
    /// The enforcement plane's file outputs.
    pub enforcement: Enforcement,
    /// The browser console: sessions and sign-in limits.
    pub console: Console,
    /// Notices beyond the inbox: e-mail, SMS, which kind goes where, reminders (NOT-1..3).
    pub notices: Notices,
    /// DDoS protection and blackholes (DDOS-1..5).
    pub ddos: Ddos,
    /// The flow collector (DDOS-2): NetFlow v5/v9, IPFIX and sFlow v5 over UDP.
    pub flows: Flows,
    /// Customers' own security assessments (ASMT-1..3, ASMT-5): `[assessments.infrastructure]`
    /// `networks` and `domains` (the provider's own, never testable; default none),
    /// `approval_sla_hours` (working hours, default 8), `reminder_hours` (default 24) and
    /// `disclosure_due_hours` (default 72).
    pub assessments: warden_app::assessments::AssessmentSettings,
    /// The abuse desk's mail (INT-2, INT-6): `max_message_bytes` (default 10 MiB),
    /// `max_reports` per message (default 10,000) and `[[mail.reporters]]` (`name`, `domains`,
    /// `trust` = trusted | normal | muted). Reference: docs/intake-mail.md.
    pub mail: warden_app::mail::MailSettings,
    /// The abuse desk's SMTP listener inside `warden serve` (INT-2): absent `listen` = none.
    /// Reference: docs/intake-mail.md, "The SMTP listener".
    pub smtp: Smtp,
}

/// `[smtp]`: the SMTP listener of the abuse desk inside `warden serve` (INT-2), for an MTA that
/// relays `abuse@` to Warden. Without `listen` there is none. Plain SMTP without STARTTLS or
/// AUTH: a loopback or private-network relay's door, never a public MX. Reference:
/// docs/intake-mail.md, "The SMTP listener".
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Smtp {
    /// The TCP address to listen on, e.g. `127.0.0.1:2525`. Default: none (no listener).
    pub listen: Option<String>,
    /// The name in the greeting and the EHLO reply. Default: the host name.
    pub hostname: Option<String>,
    /// Sessions at once (1..=10000); one more is answered 421 4.7.0 and closed. Default 32.
    pub max_connections: usize,
    /// Recipients accepted per message (1..=1000); each one more is answered 452 4.5.3, and
    /// the relay sends the message again for those later. Default 16.
    pub max_recipients: usize,
    /// The largest message, bytes (1024..=`[mail] max_message_bytes`), advertised as `SIZE`.
    /// Default: `[mail] max_message_bytes`.
    pub max_message_bytes: Option<usize>,
    /// How long the listener waits for the client's next line (or for it to read a reply),
    /// seconds (1..=3600). Default 60.
    pub idle_timeout_secs: u64,
    /// How long a whole session may last, seconds (1..=86400). Default 600.
    pub session_timeout_secs: u64,
    /// The recipients accepted: addresses (`abuse@provider.example`) and domains
    /// (`abuse.provider.example`: any address at it), compared without regard to case; any
    /// other recipient is answered 550 5.1.1. Default: none given = every recipient.
    pub accept_recipients: Option<Vec<String>>,
    /// The clients that may connect, by address (an IP or a CIDR); any other is answered
    /// 554 5.7.1 and closed. Default loopback only, `["127.0.0.0/8", "::1/128"]`: a listener
    /// open to the internet must be an explicit choice.
    pub allowed_clients: Vec<String>,
}

impl Default for Smtp {
    fn default() -> Self {
        Smtp {
            listen: None,
            hostname: None,
            max_connections: 32,
            max_recipients: 16,
            max_message_bytes: None,
            idle_timeout_secs: 60,
            session_timeout_secs: 600,
            accept_recipients: None,
            allowed_clients: vec!["127.0.0.0/8".into(), "::1/128".into()],
        }
    }
}

impl Smtp {
    /// The listener's settings, checked (the error names the field); `None` without `listen`.
    /// Every field given is checked with or without `listen`.
    pub fn settings(
        &self,
        mail: &warden_app::mail::MailSettings,
    ) -> anyhow::Result<Option<crate::smtp::SmtpSettings>> {
        let listen = self
            .listen
            .as_ref()
            .map(|l| {
                l.parse::<std::net::SocketAddr>()
                    .with_context(|| format!("smtp.listen {l:?} is not host:port"))
            })
            .transpose()?;
        if !(1..=10_000).contains(&self.max_connections) {
            bail!("smtp.max_connections must be between 1 and 10000");
        }
        if !(1..=1000).contains(&self.max_recipients) {
            bail!("smtp.max_recipients must be between 1 and 1000");
        }
        let max_message_bytes = self.max_message_bytes.unwrap_or(mail.max_message_bytes);
        if !(1024..=mail.max_message_bytes).contains(&max_message_bytes) {
            bail!(
                "smtp.max_message_bytes must be between 1024 and mail.max_message_bytes ({}): the parser refuses anything larger",
                mail.max_message_bytes
            );
        }
        if !(1..=3600).contains(&self.idle_timeout_secs) {
            bail!("smtp.idle_timeout_secs must be between 1 and 3600");
        }
        if !(1..=86_400).contains(&self.session_timeout_secs) {
            bail!("smtp.session_timeout_secs must be between 1 and 86400");
        }
        let accept_recipients = match &self.accept_recipients {
            None => None,
            Some(list) if list.is_empty() => bail!(
                "smtp.accept_recipients must name at least one address or domain (leave it out to accept every recipient)"
            ),
            Some(list) => Some(
                list.iter()
                    .enumerate()
                    .map(|(n, r)| {
                        crate::smtp::Accept::parse(r).with_context(|| {
                            format!(
                                "smtp.accept_recipients[{n}] {r:?} is not an address (local@domain) or a domain"
                            )
                        })
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?,
            ),
        };
        if self.allowed_clients.is_empty() {
            bail!(
                "smtp.allowed_clients must name at least one client address or network (default: loopback)"
            );
        }
        let allowed_clients = self
            .allowed_clients
            .iter()
            .enumerate()
            .map(|(n, a)| {
                parse_net(a).with_context(|| {
                    format!(
                        "smtp.allowed_clients[{n}] {a:?} is not an IP address or a CIDR network"
                    )
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        if let Some(h) = &self.hostname {
            check_hostname(h)?;
        }
        let Some(listen) = listen else {
            return Ok(None);
        };
        let hostname = match &self.hostname {
            Some(h) => h.clone(),
            None => {
                let h = crate::flows::hostname();
                check_hostname(&h)?;
                h
            }
        };
        Ok(Some(crate::smtp::SmtpSettings {
            listen,
            hostname,
            max_connections: self.max_connections,
            max_recipients: self.max_recipients,
            max_message_bytes,
            idle_timeout: std::time::Duration::from_secs(self.idle_timeout_secs),
            session_timeout: std::time::Duration::from_secs(self.session_timeout_secs),
            accept_recipients,
            allowed_clients,
        }))
    }
}

/// The greeting's name: 1 to 255 of a-z, A-Z, 0-9, `.`, `-`, `_` (or an address literal's
/// `[`, `]`, `:`), nothing that could break the reply line.
fn check_hostname(h: &str) -> anyhow::Result<()> {
    let ok = !h.is_empty()
        && h.len() <= 255
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-[]:".contains(&b));
    if !ok {
        bail!(
            "smtp.hostname {h:?} must be 1 to 255 of a-z, A-Z, 0-9, '.', '-' and '_' (set it when the host name is not)"
        );
    }
    Ok(())
}

/// `[flows]`: the UDP flow collector inside `warden serve` (DDOS-2). Without `listen` there is
/// none. Reference: docs/ddos.md, "Flow collection".
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Flows {
    /// The UDP address to receive exports on, e.g. `0.0.0.0:2055`. Default: none (no collector).
    pub listen: Option<String>,
    /// The exporters accepted, by source address (an IP or a CIDR); datagrams from any other
    /// address are counted and dropped unread. Required with `listen`.
    pub exporters: Vec<FlowExporter>,
    /// The provider's own prefixes (CIDR): a record is inbound when its destination is in them,
    /// outbound when its source is. Default empty: every destination is tracked inbound and
    /// nothing outbound.
    pub local_prefixes: Vec<String>,
    /// The averaging window of the collector's rates, seconds (1..=300). Default 10.
    pub window_secs: u32,
    /// How often the rates go to the database, ms (100..=60000). Default 1000.
    pub tick_ms: u64,
    /// Only IPs at or above this many bits per second (either way) are written each tick;
    /// several nodes merge through the database, so the quiet majority stays out. Default
    /// 1000000 (1 Mbit/s).
    pub noise_floor_bps: u64,
    /// IPs tracked at most, in each direction (1..=50000000). Default 100000.
    pub max_ips: usize,
    /// This node's name: its samples are the source `flow:<node>` (a-z, A-Z, 0-9, `.`, `-`,
    /// `_`; at most 64). Default: the host name.
    pub node: Option<String>,
    /// A v9 / IPFIX template not used or resent for this many seconds is forgotten (60..=86400).
    /// Default 1800.
    pub template_expiry_secs: u64,
    /// The socket's receive buffer, bytes (the kernel caps it at `net.core.rmem_max`). Default
    /// 8388608 (8 MiB).
    pub receive_buffer_bytes: usize,
}

impl Default for Flows {
    fn default() -> Self {
        Flows {
            listen: None,
            exporters: Vec::new(),
            local_prefixes: Vec::new(),
            window_secs: 10,
            tick_ms: 1000,
            noise_floor_bps: 1_000_000,
            max_ips: 100_000,
            node: None,
            template_expiry_secs: 1800,
            receive_buffer_bytes: 8 * 1024 * 1024,
        }
    }
}

/// `[[flows.exporters]]`
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FlowExporter {
    /// The exporter's source address, `192.0.2.10`, or a network of them, `192.0.2.0/28`.
    pub address: String,
    /// Imposes this sampling interval (1 in N) on its records, whatever they declare. Default:
    /// what the exporter declares (header, options data or record), else 1.
    #[serde(default)]
    pub sampling_rate: Option<u32>,
}

impl Flows {
    /// The collector's settings, checked (the error names the field); `None` without `listen`.
    pub fn settings(&self) -> anyhow::Result<Option<crate::flows::FlowSettings>> {
        let Some(listen) = &self.listen else {
            return Ok(None);
        };
        let listen: std::net::SocketAddr = listen
            .parse()
            .with_context(|| format!("flows.listen {listen:?} is not host:port"))?;
        if self.exporters.is_empty() {
            bail!(
                "flows.exporters must name at least one exporter: datagrams from any other address are dropped"
            );
        }
        let mut allowed = Vec::new();
        let mut overrides = Vec::new();
        for (n, e) in self.exporters.iter().enumerate() {
            let net = parse_net(&e.address).with_context(|| {
                format!(
                    "flows.exporters[{n}].address {:?} is not an IP address or a CIDR network",
                    e.address
                )
            })?;
            allowed.push(net);
            if let Some(rate) = e.sampling_rate {
                if rate == 0 {
                    bail!("flows.exporters[{n}].sampling_rate must be at least 1 (1 = unsampled)");
                }
                overrides.push((net, rate));
            }
        }
        let local_prefixes = self
            .local_prefixes
            .iter()
            .enumerate()
            .map(|(n, p)| {
                parse_net(p).with_context(|| {
                    format!("flows.local_prefixes[{n}] {p:?} is not a CIDR network")
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        if !(1..=300).contains(&self.window_secs) {
            bail!("flows.window_secs must be between 1 and 300");
        }
        if !(100..=60_000).contains(&self.tick_ms) {
            bail!("flows.tick_ms must be between 100 and 60000");
        }
        if !(1..=50_000_000).contains(&self.max_ips) {
            bail!("flows.max_ips must be between 1 and 50000000");
        }
        if !(60..=86_400).contains(&self.template_expiry_secs) {
            bail!("flows.template_expiry_secs must be between 60 and 86400");
        }
        if !(65_536..=1 << 30).contains(&self.receive_buffer_bytes) {
            bail!("flows.receive_buffer_bytes must be between 65536 and 1073741824");
        }
        let node = match &self.node {
            Some(n) => n.clone(),
            None => crate::flows::hostname(),
        };
        let ok = !node.is_empty()
            && node.len() <= 64
            && node
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !ok {
            bail!(
                "flows.node {node:?} must be 1 to 64 of a-z, A-Z, 0-9, '.', '-' and '_' (set it when the host name is not)"
            );
        }
        Ok(Some(crate::flows::FlowSettings {
            listen,
            collector: warden_flow::CollectorConfig {
                allowed_exporters: allowed,
                sampling_overrides: overrides,
                ..warden_flow::CollectorConfig::default()
            },
            tables: warden_flow::TablesConfig {
                window_secs: self.window_secs,
                max_ips: self.max_ips,
                local_prefixes,
                noise_floor_bps: self.noise_floor_bps,
                ..warden_flow::TablesConfig::default()
            },
            tick: std::time::Duration::from_millis(self.tick_ms),
            node,
            template_expiry_ms: i64::try_from(self.template_expiry_secs).unwrap_or(86_400) * 1000,
            receive_buffer_bytes: self.receive_buffer_bytes,
        }))
    }
}

/// An IP (a host network) or a CIDR network.
fn parse_net(s: &str) -> anyhow::Result<warden_flow::IpNet> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<std::net::IpAddr>() {
        return Ok(warden_flow::IpNet::from(ip));
    }
    Ok(s.parse::<warden_flow::IpNet>()?.trunc())
}

/// `[ddos]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ddos {
    /// DDOS-1: `[ddos.protection]` `basic_bps` (default 2000000000 = 2 Gbps), `regions`
    /// and `ips` tables of per-region and per-IP basic capacities (bps).
    pub protection: warden_domain::blackhole::ProtectionPolicy,
    /// DDOS-3..5: `[ddos.blackhole]` `steps_minutes` (default [120, 240, 480, 720, 1440]),
    /// `size_multiples` (default [4, 10]), `utc_offset_minutes` (default 480) and
    /// `self_service_per_month` (default 3).
    pub blackhole: warden_domain::blackhole::BlackholePolicy,
    /// DDOS-2/3: detection averages an IP's inbound bps over this many seconds (10..=3600).
    /// Default 60.
    pub window_seconds: u32,
    /// HARM-1: `[ddos.harm]` `flood_bps` (default 1000000000), `flood_pps` (500000),
    /// `scan_peers` (1000 distinct hosts within the flow collector's window), `flood_action`
    /// and `scan_action` (`restrict` = open the case and `block_network` at once, `report` =
    /// open the case for an operator; defaults `restrict` and `report`), `repeat_minutes`
    /// (one report per IP and kind per period, default 30).
    pub harm: warden_app::ddos_rules::HarmSettings,
    /// PEN-2: `[ddos.isolation]` `auto_isolate` (default false) and `[[ddos.isolation.uplinks]]`
    /// with `name`, `prefixes` and `threshold_bps`: an attack whose traffic alone reaches an
    /// uplink's threshold harms its other tenants.
    pub isolation: warden_app::ddos_rules::IsolationSettings,
    /// DDOS-6: days the 1-minute traffic series is kept (30..=`traffic_hours_days`); older
    /// minutes are removed once rolled up into hours. Default 30.
    pub traffic_minutes_days: i64,
    /// DDOS-6, AUD-3: days the hourly traffic series is kept (180..=3650). Default 180.
    pub traffic_hours_days: i64,
}

impl Default for Ddos {
    fn default() -> Self {
        let d = warden_app::ddos::DdosSettings::default();
        Ddos {
            protection: d.protection,
            blackhole: d.blackhole,
            window_seconds: d.window_seconds,
            harm: d.harm,
            isolation: d.isolation,
            traffic_minutes_days: d.retention.minutes_days,
            traffic_hours_days: d.retention.hours_days,
        }
    }
}

impl Ddos {
    /// The app's settings, checked; the error names the field (`ddos.blackhole.steps_minutes[2]`).
    pub fn settings(&self) -> anyhow::Result<warden_app::ddos::DdosSettings> {
        let s = warden_app::ddos::DdosSettings {
            protection: self.protection.clone(),
            blackhole: self.blackhole.clone(),
            window_seconds: self.window_seconds,
            harm: self.harm.clone(),
            isolation: self.isolation.clone(),
            retention: warden_app::ddos_retention::TrafficRetention {
                minutes_days: self.traffic_minutes_days,
                hours_days: self.traffic_hours_days,
            },
        };
        s.validate()
            .map_err(|e| anyhow::anyhow!("ddos.{}: {}", e.field, e.reason))?;
        Ok(s)
    }
}

/// `[notices]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Notices {
    /// The console's address as tenants reach it, for the links in mails
    /// (`https://warden.provider.example`). Default: none (mails name the case, no link).
    pub console_url: Option<String>,
    /// NOT-3: the reminder goes out this many minutes before an alerting deadline; 0 turns
    /// reminders off. Default 120.
    pub reminder_before_minutes: i64,
    /// Attempts of one e-mail or SMS (backoff 1 s, 2 s, 4 s... capped at an hour) before it is
    /// dead and waits for an operator to re-drive it. Default 12 (about 70 minutes).
    pub max_attempts: i64,
    /// The right-hand side of Message-IDs. Default: the domain of `email.from`.
    pub message_id_domain: Option<String>,
    /// Per notice kind (`case.enforced`, `case.alerting`, ...), the channels besides the inbox
    /// (`email`, `sms`). Kinds not named keep the default: e-mail.
    pub channels: std::collections::BTreeMap<String, Vec<String>>,
    /// SMTP (NOT-1); absent: no e-mail is sent.
    pub email: Option<Email>,
    /// The SMS gateway (NOT-1); absent: no SMS is sent.
    pub sms: Option<Sms>,
}

impl Default for Notices {
    fn default() -> Self {
        Notices {
            console_url: None,
            reminder_before_minutes: 120,
            max_attempts: 12,
            message_id_domain: None,
            channels: std::collections::BTreeMap::new(),
            email: None,
            sms: None,
        }
    }
}

/// `[notices.email]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Email {
    /// The SMTP relay's host name or address.
    pub host: String,
    /// Its port. Default: 587 for `starttls`, 465 for `implicit`, 25 for `none`.
    #[serde(default)]
    pub port: Option<u16>,
    /// `starttls` (default), `implicit` (TLS from the first byte) or `none` (plain; loopback
    /// relays only).
    #[serde(default = "default_tls")]
    pub tls: String,
    /// SMTP AUTH user, if the relay wants one.
    #[serde(default)]
    pub username: Option<String>,
    /// SMTP AUTH password (secret: `warden config` prints `***`).
    #[serde(default)]
    pub password: Option<String>,
    /// The From address, e.g. `Security <abuse@provider.example>`.
    pub from: String,
    /// Reply-To, if replies go elsewhere.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// How long one delivery may take. Default 30000.
    #[serde(default = "default_smtp_timeout")]
    pub timeout_ms: u64,
    /// A PEM file of extra CA certificates to trust (a private relay's).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn default_tls() -> String {
    "starttls".into()
}

fn default_smtp_timeout() -> u64 {
    30_000
}

/// `[notices.sms]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Sms {
    /// The gateway's endpoint (`https://sms-gateway.provider.example/send`).
    pub url: String,
    /// The signing key, `whsec_` + base64 of at least 16 bytes (secret).
    pub secret: String,
    /// The sign name the gateway puts in 【】 (短信签名), if it wants one from us.
    #[serde(default)]
    pub sign_name: Option<String>,
    /// How long one request may take. Default 10000.
    #[serde(default = "default_sms_timeout")]
    pub timeout_ms: u64,
}

fn default_sms_timeout() -> u64 {
    10_000
}

/// `[console]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Console {
    /// Cookies carry `Secure`, so browsers send them over HTTPS only. Default true; set false
    /// only to use the console over plain HTTP on your own machine (`warden demo` does).
    pub secure_cookies: bool,
    /// A session unused this many minutes ends. Default 30.
    pub idle_minutes: i64,
    /// A session ends this many hours after sign-in, however busy. Default 12.
    pub absolute_hours: i64,
    /// Failed sign-ins in a row that lock a login. Default 5.
    pub max_failed_logins: i64,
    /// How long a locked login stays locked, minutes. Default 15.
    pub lockout_minutes: i64,
    /// Sign-in attempts per source address per minute. Default 10.
    pub login_attempts_per_minute: u32,
    /// A staff member's claim on a queue item is released after this many idle minutes.
    /// Default 30.
    pub claim_idle_minutes: i64,
}

impl Default for Console {
    fn default() -> Self {
        Console {
            secure_cookies: true,
            idle_minutes: 30,
            absolute_hours: 12,
            max_failed_logins: 5,
            lockout_minutes: 15,
            login_attempts_per_minute: 10,
            claim_idle_minutes: 30,
        }
    }
}

/// `[enforcement]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Enforcement {
    /// A separate listener for edges (nginx `auth_request`, Envoy `ext_authz`): only the check
    /// endpoints and the 451 notice page, e.g. `10.0.0.5:8081`. Default: none (they are on the
    /// main listener too).
    pub check_listen: Option<String>,
    /// Write the DNS RPZ here on every change (atomically). Default: none (served at
    /// `GET /api/enforcement/rpz` only).
    pub rpz_file: Option<PathBuf>,
    /// Commands run after the file changed, e.g.
    /// `[["unbound-control", "auth_zone_reload", "rpz.warden."], ["unbound-control", "flush_zone", "."]]`.
    pub rpz_reload: Vec<Vec<String>>,
    /// ENF-2: how long one reload command may run before it is killed and the push retried.
    /// Default 10000.
    pub rpz_reload_timeout_ms: u64,
    /// ENF-2: how long one webhook POST may take (connect, send, answer). Default 10000.
    pub webhook_timeout_ms: u64,
    /// ENF-2: attempts of one delivery (backoff 1 s, 2 s, 4 s... capped at an hour) before it
    /// is marked `failed`; reconciliation keeps re-sending it. Default 12.
    pub max_attempts: i64,
    /// ENF-2: how often what each adapter should hold is compared with what it confirmed, and
    /// the difference re-sent. Default 60.
    pub reconcile_interval_secs: i64,
}

impl Default for Enforcement {
    fn default() -> Self {
        Enforcement {
            check_listen: None,
            rpz_file: None,
            rpz_reload: Vec::new(),
            rpz_reload_timeout_ms: 10_000,
            webhook_timeout_ms: 10_000,
            max_attempts: 12,
            reconcile_interval_secs: 60,
        }
    }
}

/// `[[webhooks]]`
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// Name shown in the delivery log.
    pub name: String,
    /// Where to POST (http or https).
    pub url: String,
    /// Secret. Standard Webhooks signing key, `whsec_<base64 of at least 16 bytes>`.
    pub secret: String,
    /// Only these actions, by code (empty: every action); an unknown code is refused at start.
    #[serde(default)]
    pub actions: Vec<warden_domain::penalty::Action>,
    /// Only these products, by code (empty: every product).
    #[serde(default)]
    pub products: Vec<warden_domain::resource::Product>,
}

/// `[[exabgp]]`: one border that enforces blackholes through an ExaBGP bridge. Its adapter
/// (`exabgp:<name>`) must confirm every blackhole before it counts as applied.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Exabgp {
    /// The bridge's name, as `warden exabgp-bridge --adapter <name>` gives it (a-z, 0-9, `-`,
    /// `_`).
    pub name: String,
}

/// `[scan]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scan {
    /// A category counts as present when the weights of its distinct matched terms add up to at
    /// least this. Default 1.0 (one term of weight 1).
    pub threshold: f32,
}

impl Default for Scan {
    fn default() -> Self {
        Scan { threshold: 1.0 }
    }
}

/// `[review]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Review {
    /// UNB-3: the review SLA in working minutes (never more than one working day). Default 120.
    pub sla_minutes: i64,
}

impl Default for Review {
    fn default() -> Self {
        Review { sla_minutes: 120 }
    }
}

/// `[recheck]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Recheck {
    /// Whole-fetch timeout, ms. Default 10000.
    pub timeout_ms: u64,
    /// Most bytes read per page. Default 2097152 (2 MiB).
    pub max_bytes: usize,
    /// Internal networks (CIDR) that may be fetched anyway. Default none: loopback, private,
    /// link-local and other non-public addresses are refused (DET-2).
    pub allowed_networks: Vec<String>,
}

impl Default for Recheck {
    fn default() -> Self {
        Recheck {
            timeout_ms: 10_000,
            max_bytes: 2 * 1024 * 1024,
            allowed_networks: Vec::new(),
        }
    }
}

/// `[server]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    /// Address to listen on. Default `127.0.0.1:8080`.
    pub listen: String,
    /// Directory for the SQLite database and the generated key (created 0700, its files 0600);
    /// files in its `templates/notices/` replace the built-in notice templates of the same name
    /// (NOT-1). Default `./warden-data`.
    pub data_dir: PathBuf,
    /// Seconds to let in-flight requests and jobs finish on SIGTERM/SIGINT. Default 30.
    pub shutdown_grace_secs: u64,
    /// Reverse proxies (e.g. the nginx in front of Warden) whose `X-Forwarded-For` header names
    /// the client for the anonymous-report rate limit. Default: none (the peer address counts).
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./warden-data"),
            shutdown_grace_secs: 30,
            trusted_proxies: Vec::new(),
        }
    }
}

/// `[database]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    /// `sqlite://PATH` or `postgres://USER@HOST/DB`. Empty (default): `sqlite://<data_dir>/warden.db`.
    pub url: String,
    /// Connection pool size. Default 8.
    pub max_connections: u32,
    /// SQLite `synchronous`: `normal` (default; survives a process crash) or `full` (also a
    /// power loss, slower).
    pub sqlite_synchronous: String,
}

impl Default for Database {
    fn default() -> Self {
        Database {
            url: String::new(),
            max_connections: 8,
            sqlite_synchronous: "normal".into(),
        }
    }
}

/// `[intake]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Intake {
    /// INT-4: reports on the same (resource, target, category) within this many hours join one
    /// case. Default 168 (7 days).
    pub correlation_window_hours: f64,
    /// INT-5: detections with at least this confidence confirm their case. Default 0.9.
    pub detector_confirm_confidence: f64,
    /// INT-5: per-detector thresholds by token label, e.g. `{ "content-scanner" = 0.8 }`.
    pub detector_thresholds: HashMap<String, f64>,
    /// Anonymous reports per source IP per minute. Default 30.
    pub public_reports_per_minute: u32,
    /// Most reports per batch request. Default 1000.
    pub max_batch: usize,
    /// Commit concurrent single reports (`POST /api/reports`, X-ARF) together, each answered
    /// once its group is committed. Default true; false: one transaction per request.
    pub group_commit: bool,
    /// Writer tasks committing groups on PostgreSQL (SQLite always has one). Default 1.
    pub group_commit_writers: usize,
    /// Most reports in one group's transaction. Default 256.
    pub group_commit_max_reports: usize,
    /// Reports that may wait for a writer; more wait for room. Default 4096.
    pub group_commit_queue: usize,
    /// Milliseconds a writer waits for more reports after a group's first one. Default 0:
    /// commit at once (a group is what arrived during the previous commit).
    pub group_commit_linger_ms: u64,
}

impl Intake {
    /// The group-commit settings of the use cases.
    pub fn group_commit(&self) -> warden_app::group_commit::GroupCommitSettings {
        warden_app::group_commit::GroupCommitSettings {
            enabled: self.group_commit,
            writers: self.group_commit_writers,
            max_group: self.group_commit_max_reports,
            queue_depth: self.group_commit_queue,
            linger_ms: self.group_commit_linger_ms,
        }
    }
}

impl Default for Intake {
    fn default() -> Self {
        Intake {
            correlation_window_hours: 168.0,
            detector_confirm_confidence: 0.9,
            detector_thresholds: HashMap::new(),
            public_reports_per_minute: 30,
            max_batch: 1000,
            group_commit: true,
            group_commit_writers: 1,
            group_commit_max_reports: 256,
            group_commit_queue: 4096,
            group_commit_linger_ms: 0,
        }
    }
}

/// `[jobs]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Jobs {
    /// Run job workers in this process. Default true.
    pub enabled: bool,
    /// This node's name in job leases. Default `node-<pid>-<random>`.
    pub node_id: String,
    /// Seconds a claimed job stays leased before another node may take it. Default 60.
    pub lease_secs: i64,
    /// Idle poll interval, ms. Default 500.
    pub poll_interval_ms: u64,
    /// Jobs claimed per round. Default 50.
    pub batch: i64,
}

impl Default for Jobs {
    fn default() -> Self {
        Jobs {
            enabled: true,
            node_id: String::new(),
            lease_secs: 60,
            poll_interval_ms: 500,
            batch: 50,
        }
    }
}

/// `[audit]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Audit {
    /// AUD-3: days audit events are kept at least. Default 180; lower values are refused.
    pub retention_days: i64,
}

impl Default for Audit {
    fn default() -> Self {
        Audit {
            retention_days: 180,
        }
    }
}

/// `[crypto]`
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Crypto {
    /// Secret. Base64 of 32 bytes for AES-256-GCM (AUD-4). Empty (default): read or create
    /// `<data_dir>/warden.key` (mode 0600).
    pub key: String,
}

/// `[log]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// `text` (default) or `json`.
    pub format: String,
    /// Filter, e.g. `info` (default) or `warden=debug,sqlx=warn`.
    pub level: String,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            format: "text".into(),
            level: "info".into(),
        }
    }
}

impl Config {
    /// Loads `file` (if given), applies `WARDEN_SECTION__KEY` variables from `env`, validates.
    pub fn load(
        file: Option<&Path>,
        env: impl Iterator<Item = (String, String)>,
    ) -> anyhow::Result<Config> {
        let mut doc: toml::Table = match file {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read config file {}", p.display()))?;
                text.parse()
                    .with_context(|| format!("config file {} is not valid TOML", p.display()))?
            }
            None => toml::Table::new(),
        };
        for (k, v) in env {
            let Some(rest) = k.strip_prefix("WARDEN_") else {
                continue;
            };
            let Some((section, key)) = rest.split_once("__") else {
                continue;
            };
            let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
            let value = format!("v = {v}")
                .parse::<toml::Table>()
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or(toml::Value::String(v));
            let table = doc
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match table {
                toml::Value::Table(t) => {
                    t.insert(key, value);
                }
                _ => bail!("environment variable {k}: [{section}] is not a section"),
            }
        }
        let cfg: Config = toml::Value::Table(doc)
            .try_into()
            .context("invalid configuration")?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.ddos.settings()?;
        self.flows.settings()?;
        self.assessments
            .validate()
            .map_err(|e| anyhow::anyhow!("assessments.{}: {}", e.field, e.reason))?;
        self.mail
            .validate()
            .map_err(|e| anyhow::anyhow!("mail.{}: {}", e.field, e.reason))?;
        self.smtp.settings(&self.mail)?;
        if self.audit.retention_days < warden_store::audit::MIN_RETENTION_DAYS {
            bail!(
                "audit.retention_days = {} is below the legal minimum of 180 days (AUD-3)",
                self.audit.retention_days
            );
        }
        if !["normal", "full"].contains(&self.database.sqlite_synchronous.as_str()) {
            bail!("database.sqlite_synchronous must be \"normal\" or \"full\"");
        }
        if !(0.0..=1.0).contains(&self.intake.detector_confirm_confidence) {
            bail!("intake.detector_confirm_confidence must be between 0 and 1");
        }
        if self.intake.correlation_window_hours <= 0.0 {
            bail!("intake.correlation_window_hours must be positive");
        }
        self.intake
            .group_commit()
            .validate()
            .map_err(|e| anyhow::anyhow!("intake.{e}"))?;
        if !["text", "json"].contains(&self.log.format.as_str()) {
            bail!("log.format must be \"text\" or \"json\"");
        }
        if self.jobs.lease_secs < 1 || self.jobs.batch < 1 {
            bail!("jobs.lease_secs and jobs.batch must be at least 1");
        }
        let e = &self.enforcement;
        if e.rpz_reload_timeout_ms < 1 || e.webhook_timeout_ms < 1 {
            bail!(
                "enforcement.rpz_reload_timeout_ms and enforcement.webhook_timeout_ms must be at least 1"
            );
        }
        if e.max_attempts < 1 || e.reconcile_interval_secs < 1 {
            bail!(
                "enforcement.max_attempts and enforcement.reconcile_interval_secs must be at least 1"
            );
        }
        let mut names = std::collections::HashSet::new();
        for (n, x) in self.exabgp.iter().enumerate() {
            let ok = !x.name.is_empty()
                && x.name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                });
            if !ok || self.exabgp.iter().filter(|o| o.name == x.name).count() > 1 {
                bail!(
                    "exabgp[{n}].name {:?} must be non-empty, unique and only a-z, 0-9, - and _",
                    x.name
                );
            }
        }
        for (n, w) in self.webhooks.iter().enumerate() {
            if w.name.trim().is_empty() || !names.insert(w.name.as_str()) {
                bail!(
                    "webhooks[{n}].name {:?} must be non-empty and unique",
                    w.name
                );
            }
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                bail!(
                    "webhooks[{n}] ({}): url must start with http:// or https://",
                    w.name
                );
            }
            if warden_app::enforce::webhook_secret(&w.secret).is_none() {
                bail!(
                    "webhooks[{n}] ({}): secret must be whsec_ followed by the base64 of at least 16 bytes",
                    w.name
                );
            }
        }
        self.validate_notices()?;
        self.server
            .listen
            .parse::<std::net::SocketAddr>()
            .with_context(|| format!("server.listen {:?} is not host:port", self.server.listen))?;
        Ok(())
    }

    fn validate_notices(&self) -> anyhow::Result<()> {
        let n = &self.notices;
        if n.reminder_before_minutes < 0 {
            bail!("notices.reminder_before_minutes must be 0 (off) or more");
        }
        if n.max_attempts < 1 {
            bail!("notices.max_attempts must be at least 1");
        }
        if let Some(url) = &n.console_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            bail!("notices.console_url must start with http:// or https://");
        }
        for (kind, channels) in &n.channels {
            if <warden_domain::lifecycle::NoticeKind as warden_domain::code::Code>::from_code(kind)
                .is_none()
            {
                bail!(
                    "notices.channels: unknown notice kind {kind:?} (expected one of {})",
                    <warden_domain::lifecycle::NoticeKind as warden_domain::code::Code>::expected()
                );
            }
            for c in channels {
                if !["email", "sms"].contains(&c.as_str()) {
                    bail!(
                        "notices.channels.{kind:?}: unknown channel {c:?} (expected email or sms; the inbox always has every notice)"
                    );
                }
            }
        }
        if let Some(e) = &n.email {
            if !["starttls", "implicit", "none"].contains(&e.tls.as_str()) {
                bail!(
                    "notices.email.tls must be \"starttls\", \"implicit\" or \"none\", not {:?}",
                    e.tls
                );
            }
            if e.timeout_ms < 1 {
                bail!("notices.email.timeout_ms must be at least 1");
            }
            if e.username.is_some() != e.password.is_some() {
                bail!("notices.email: username and password go together");
            }
        }
        if let Some(s) = &n.sms {
            if !(s.url.starts_with("http://") || s.url.starts_with("https://")) {
                bail!("notices.sms.url must start with http:// or https://");
            }
            if warden_app::enforce::webhook_secret(&s.secret).is_none() {
                bail!(
                    "notices.sms.secret must be whsec_ followed by the base64 of at least 16 bytes"
                );
            }
        }
        Ok(())
    }

    /// The database URL, defaulting to the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!(
                "sqlite://{}",
                self.server.data_dir.join("warden.db").display()
            )
        } else {
            self.database.url.clone()
        }
    }

    /// The configuration as TOML with secrets replaced by `***` (for `warden config`).
    pub fn redacted_toml(&self) -> anyhow::Result<String> {
        let mut c = self.clone();
        if !c.crypto.key.is_empty() {
            c.crypto.key = "***".into();
        }
        for w in &mut c.webhooks {
            w.secret = "***".into();
        }
        if let Some(e) = &mut c.notices.email
            && e.password.is_some()
        {
            e.password = Some("***".into());
        }
        if let Some(sms) = &mut c.notices.sms {
            sms.secret = "***".into();
        }
        c.database.url = warden_store::redact_url(&self.database_url());
        Ok(toml::to_string_pretty(&c)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_webhooks_and_enforcement_settings_are_named() {
        let base = || Config {
            webhooks: vec![Webhook {
                name: "billing".into(),
                url: "https://billing.internal/hook".into(),
                secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
                ..Webhook::default()
            }],
            ..Config::default()
        };
        base().validate().unwrap();
        let mut c = base();
        c.webhooks[0].secret = "hunter2".into();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("webhooks[0] (billing): secret"), "{e}");
        assert!(!e.contains("hunter2"), "the secret is never printed: {e}");
        let mut c = base();
        c.webhooks.push(c.webhooks[0].clone());
        assert!(c.validate().unwrap_err().to_string().contains("unique"));
        let mut c = base();
        c.webhooks[0].url = "ftp://x".into();
        assert!(c.validate().unwrap_err().to_string().contains("url"));
        let mut c = base();
        c.enforcement.reconcile_interval_secs = 0;
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("reconcile_interval_secs")
        );
    }

    #[test]
    fn flows_are_off_by_default_and_bad_fields_are_named() {
        assert!(Config::default().flows.settings().unwrap().is_none());
        let base = || {
            let mut c = Config::default();
            c.flows.listen = Some("127.0.0.1:2055".into());
            c.flows.node = Some("edge-1".into());
            c.flows.exporters = vec![
                FlowExporter {
                    address: "192.0.2.10".into(),
                    sampling_rate: Some(1000),
                },
                FlowExporter {
                    address: "198.51.100.0/28".into(),
                    sampling_rate: None,
                },
            ];
            c.flows.local_prefixes = vec!["203.0.113.0/24".into(), "2001:db8::/32".into()];
            c
        };
        let s = base().flows.settings().unwrap().unwrap();
        assert_eq!(s.collector.allowed_exporters.len(), 2);
        assert_eq!(s.collector.sampling_overrides.len(), 1);
        assert_eq!(s.tables.noise_floor_bps, 1_000_000);
        assert_eq!((s.tables.window_secs, s.tick.as_millis()), (10, 1000));
        type Change = fn(&mut Config);
        let cases: Vec<(Change, &str)> = vec![
            (|c| c.flows.listen = Some("2055".into()), "flows.listen"),
            (|c| c.flows.exporters.clear(), "flows.exporters"),
            (
                |c| c.flows.exporters[1].address = "exporter-1".into(),
                "flows.exporters[1].address",
            ),
            (
                |c| c.flows.exporters[0].sampling_rate = Some(0),
                "flows.exporters[0].sampling_rate",
            ),
            (
                |c| c.flows.local_prefixes.push("203.0.113.0/33".into()),
                "flows.local_prefixes[2]",
            ),
            (|c| c.flows.window_secs = 0, "flows.window_secs"),
            (|c| c.flows.tick_ms = 10, "flows.tick_ms"),
            (|c| c.flows.max_ips = 0, "flows.max_ips"),
            (
                |c| c.flows.template_expiry_secs = 1,
                "flows.template_expiry_secs",
            ),
            (
                |c| c.flows.receive_buffer_bytes = 1,
                "flows.receive_buffer_bytes",
            ),
            (|c| c.flows.node = Some("edge 1".into()), "flows.node"),
        ];
        for (change, field) in cases {
            let mut c = base();
            change(&mut c);
            let e = format!("{:#}", c.validate().unwrap_err());
            assert!(e.contains(field), "{field}: {e}");
        }
        // Environment overrides reach it like every section.
        let c = Config::load(
            None,
            vec![
                ("WARDEN_FLOWS__LISTEN".into(), "127.0.0.1:0".into()),
                (
                    "WARDEN_FLOWS__EXPORTERS".into(),
                    "[{ address = \"127.0.0.1\" }]".into(),
                ),
                ("WARDEN_FLOWS__NODE".into(), "n1".into()),
            ]
            .into_iter(),
        )
        .unwrap();
        assert!(c.flows.settings().unwrap().is_some());
        assert!(c.redacted_toml().unwrap().contains("[flows]"));
    }

    /// INT-2: no SMTP listener unless `listen` is set; loopback clients only and the mail
    /// section's size by default; every bad field refused naming it.
    #[test]
    fn smtp_is_off_by_default_and_bad_fields_are_named() {
        let c = Config::default();
        assert!(c.smtp.settings(&c.mail).unwrap().is_none());
        let base = || {
            let mut c = Config::default();
            c.smtp.listen = Some("127.0.0.1:2525".into());
            c.smtp.hostname = Some("abuse-desk.provider.example".into());
            c
        };
        let c = base();
        let s = c.smtp.settings(&c.mail).unwrap().unwrap();
        assert_eq!(
            (s.max_connections, s.max_recipients, s.max_message_bytes),
            (32, 16, c.mail.max_message_bytes)
        );
        assert_eq!(
            (s.idle_timeout.as_secs(), s.session_timeout.as_secs()),
            (60, 600)
        );
        assert!(s.accept_recipients.is_none());
        assert!(crate::smtp::client_allowed(
            &s.allowed_clients,
            "127.0.0.1".parse().unwrap()
        ));
        assert!(crate::smtp::client_allowed(
            &s.allowed_clients,
            "::1".parse().unwrap()
        ));
        assert!(!crate::smtp::client_allowed(
            &s.allowed_clients,
            "192.0.2.25".parse().unwrap()
        ));
        type Change = fn(&mut Config);
        let cases: Vec<(Change, &str)> = vec![
            (|c| c.smtp.listen = Some("2525".into()), "smtp.listen"),
            (|c| c.smtp.hostname = Some("a b".into()), "smtp.hostname"),
            (|c| c.smtp.max_connections = 0, "smtp.max_connections"),
            (|c| c.smtp.max_recipients = 1001, "smtp.max_recipients"),
            (
                |c| c.smtp.max_message_bytes = Some(c.mail.max_message_bytes + 1),
                "smtp.max_message_bytes",
            ),
            (
                |c| c.smtp.max_message_bytes = Some(100),
                "smtp.max_message_bytes",
            ),
            (|c| c.smtp.idle_timeout_secs = 0, "smtp.idle_timeout_secs"),
            (
                |c| c.smtp.session_timeout_secs = 100_000,
                "smtp.session_timeout_secs",
            ),
            (
                |c| c.smtp.accept_recipients = Some(Vec::new()),
                "smtp.accept_recipients",
            ),
            (
                |c| {
                    c.smtp.accept_recipients =
                        Some(vec!["abuse@provider.example".into(), "not a domain".into()])
                },
                "smtp.accept_recipients[1]",
            ),
            (|c| c.smtp.allowed_clients.clear(), "smtp.allowed_clients"),
            (
                |c| c.smtp.allowed_clients.push("relay.provider.example".into()),
                "smtp.allowed_clients[2]",
            ),
        ];
        for (change, field) in cases {
            let mut c = base();
            change(&mut c);
            let e = format!("{:#}", c.validate().unwrap_err());
            assert!(e.contains(field), "{field}: {e}");
            // Checked with or without a listener, except what only a listener needs.
            c.smtp.listen = None;
            if field != "smtp.listen" {
                assert!(c.validate().is_err(), "{field} without listen");
            }
        }
        // The environment reaches it like every section; `warden config` shows it.
        let c = Config::load(
            None,
            vec![
                ("WARDEN_SMTP__LISTEN".into(), "127.0.0.1:0".into()),
                ("WARDEN_SMTP__MAX_RECIPIENTS".into(), "2".into()),
                (
                    "WARDEN_SMTP__ACCEPT_RECIPIENTS".into(),
                    "[\"abuse@provider.example\", \"abuse.provider.example\"]".into(),
                ),
                (
                    "WARDEN_SMTP__ALLOWED_CLIENTS".into(),
                    "[\"0.0.0.0/0\"]".into(),
                ),
            ]
            .into_iter(),
        )
        .unwrap();
        let s = c.smtp.settings(&c.mail).unwrap().unwrap();
        assert_eq!(s.max_recipients, 2);
        assert_eq!(s.accept_recipients.unwrap().len(), 2);
        assert!(crate::smtp::client_allowed(
            &s.allowed_clients,
            "192.0.2.25".parse().unwrap()
        ));
        assert!(c.redacted_toml().unwrap().contains("[smtp]"));
        let e = Config::load(
            None,
            vec![("WARDEN_SMTP__TLS".into(), "true".into())].into_iter(),
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("tls"), "{e:#}");
    }

    #[test]
    fn env_overrides_file_and_secrets_are_hidden() {
        let env = vec![
            (
                "WARDEN_DATABASE__URL".to_string(),
                "postgres://u:hunter2@db/warden".to_string(),
            ),
            (
                "WARDEN_INTAKE__PUBLIC_REPORTS_PER_MINUTE".to_string(),
                "5".to_string(),
            ),
            ("WARDEN_CRYPTO__KEY".to_string(), "c2VjcmV0".to_string()),
            ("OTHER".to_string(), "x".to_string()),
        ];
        let c = Config::load(None, env.into_iter()).unwrap();
        assert_eq!(c.intake.public_reports_per_minute, 5);
        let shown = c.redacted_toml().unwrap();
        assert!(
            !shown.contains("hunter2") && !shown.contains("c2VjcmV0"),
            "{shown}"
        );
        assert!(shown.contains("postgres://u:***@db/warden"));
    }

    #[test]
    fn bad_values_are_named() {
        let e = Config::load(
            None,
            vec![("WARDEN_AUDIT__RETENTION_DAYS".into(), "30".into())].into_iter(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("180"), "{e}");
        let e = Config::load(
            None,
            vec![("WARDEN_SERVER__NOPE".into(), "1".into())].into_iter(),
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("nope"), "{e:#}");
        assert_eq!(
            Config::default().database_url(),
            "sqlite://./warden-data/warden.db"
        );
    }

    /// DDOS-6, AUD-3: the traffic series are kept 30 days by the minute and 180 by the hour
    /// unless `[ddos]` says longer; shorter is refused naming the key.
    #[test]
    fn traffic_retention_defaults_and_bad_lengths_are_named() {
        let d = Config::default().ddos.settings().unwrap().retention;
        assert_eq!((d.minutes_days, d.hours_days), (30, 180));
        let env = |k: &str, v: &str| vec![(k.to_string(), v.to_string())].into_iter();
        let c = Config::load(None, env("WARDEN_DDOS__TRAFFIC_HOURS_DAYS", "365")).unwrap();
        assert_eq!(c.ddos.settings().unwrap().retention.hours_days, 365);
        for (key, value) in [
            ("WARDEN_DDOS__TRAFFIC_HOURS_DAYS", "90"),
            ("WARDEN_DDOS__TRAFFIC_MINUTES_DAYS", "7"),
            ("WARDEN_DDOS__TRAFFIC_MINUTES_DAYS", "200"),
        ] {
            let e = Config::load(None, env(key, value)).unwrap_err().to_string();
            let field = key.trim_start_matches("WARDEN_DDOS__").to_ascii_lowercase();
            assert!(
                e.contains(&format!("ddos.{field}: must be")),
                "{key}={value}: {e}"
            );
        }
    }
}
