//! The `warden` binary: configuration, wiring (the only place that names concrete adapters) and
//! the command line.

mod bench;
mod config;
mod demo;
mod exabgp_bridge;
mod flows;
mod fuzz;
mod smtp;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use warden_app::auth::Principal;
use warden_app::clock::{Clock, SystemClock};
use warden_app::crypto::Sealer;
use warden_app::enforce::Adapters;
use warden_app::notices::NoticeTemplates;
use warden_app::recheck::FetchPolicy;
use warden_app::scan::{ScanRechecker, ScanService};
use warden_app::{App, Parts, Settings};
use warden_store::{Store, StoreOptions};

use crate::config::Config;

/// Warden: security-violation handling for cloud and hosting providers.
#[derive(Debug, Parser)]
#[command(name = "warden", version)]
struct Cli {
    /// TOML configuration file (see docs/configuration.md). Optional.
    #[arg(long, short, global = true, env = "WARDEN_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL (overrides the configuration): sqlite://PATH or postgres://...
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Data directory (overrides server.data_dir).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP API and the job workers.
    Serve {
        /// Listen address (overrides server.listen), e.g. 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Print the effective configuration (secrets hidden).
    Config,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Audit log maintenance.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Scan a file or a URL with the lexicons and print the verdict (DET-1/DET-2).
    Scan {
        /// A file path, or an http(s) URL to fetch (internal addresses refused).
        target: String,
    },
    /// Lexicon changes (DET-1): they apply to the next scan of every running node.
    Lexicon {
        #[command(subcommand)]
        command: LexiconCommand,
    },
    /// Hand reports in (INT-2).
    Intake {
        #[command(subcommand)]
        command: IntakeCommand,
    },
    /// Fill a fresh data directory with demo data (tenants, resources, cases in every state,
    /// tickets, notices), print the console logins, and serve it over plain HTTP.
    Demo(demo::DemoArgs),
    /// The process ExaBGP runs to export blackholes to BGP (DDOS-7): follows the change feed,
    /// writes ExaBGP `announce`/`withdraw` commands on standard output, confirms what ExaBGP
    /// acknowledged. Token from WARDEN_BRIDGE_TOKEN or --token-file.
    ExabgpBridge(exabgp_bridge::BridgeArgs),
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Bounded fuzz runs on stable Rust: exit 1 and print the packet that made a decoder panic.
    Fuzz {
        #[command(subcommand)]
        command: FuzzCommand,
    },
}

#[derive(Debug, Subcommand)]
enum FuzzCommand {
    /// The flow decoders (DDOS-2): mutations of real exporters' NetFlow v5/v9, IPFIX and sFlow
    /// v5 datagrams, fed to one collector with the production bounds.
    Flows(fuzz::FlowsArgs),
    /// The abuse-desk mail parsers (INT-2): mutations of ARF and X-ARF messages (and of any
    /// `--corpus` directory's files) through MIME, ARF, X-ARF v3 and v4.
    Mail(fuzz::MailArgs),
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk the hash chain; exit 1 naming the first broken event.
    Verify,
    /// Remove events older than a date (refused for anything younger than the retention).
    Purge {
        /// RFC 3339 cut-off, e.g. 2025-01-01T00:00:00Z.
        #[arg(long)]
        before: String,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create a console user; prints a generated one-time password unless --password-stdin.
    CreateUser {
        /// Login handle (a-z, 0-9, '.', '_', '-').
        #[arg(long)]
        login: String,
        /// admin, operator, reviewer, auditor, security_team or tenant.
        #[arg(long)]
        role: String,
        /// The account of a tenant user.
        #[arg(long)]
        account: Option<String>,
        /// The tenant user owns the account (may add sub-users).
        #[arg(long)]
        owner: bool,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Issue an API token and print it once.
    CreateToken {
        /// admin, operator, reviewer, auditor, security_team, tenant, detector or edge.
        #[arg(long)]
        role: String,
        /// The account of a tenant token.
        #[arg(long)]
        account: Option<String>,
        /// A label to recognise the token by.
        #[arg(long, default_value = "cli")]
        label: String,
    },
}

#[derive(Debug, Subcommand)]
enum IntakeCommand {
    /// Read one raw e-mail on standard input and take it in, for an MTA's pipe transport
    /// (docs/intake-mail.md has Postfix and Exim set-ups). Exit 0: stored (the receipt on
    /// standard output), or taken in before; 65 (EX_DATAERR): refused, the reason on standard
    /// error, nothing stored — the MTA bounces it; 75 (EX_TEMPFAIL): storage unreachable,
    /// nothing stored — the MTA keeps the message and retries.
    Mail,
}

#[derive(Debug, Subcommand)]
enum LexiconCommand {
    /// Add or replace a term.
    Add {
        /// Category code, e.g. gambling.
        #[arg(long)]
        category: String,
        /// The term.
        #[arg(long)]
        term: String,
        /// Weight (default 1).
        #[arg(long)]
        weight: Option<f32>,
    },
    /// Remove a term (built-in or added).
    Remove {
        /// Category code.
        #[arg(long)]
        category: String,
        /// The term.
        #[arg(long)]
        term: String,
    },
    /// Show the version and terms per category (or one category's terms).
    List {
        /// Only this category's terms.
        #[arg(long)]
        category: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Report intake over HTTP: reports/s and latency, single and batched, on SQLite and (if
    /// --pg-url or WARDEN_TEST_DATABASE_URL reaches a server) PostgreSQL.
    Intake(bench::IntakeArgs),
    /// Durable timers: arm many, let them fall due at a fixed rate, print the firing lag.
    Timers(bench::TimerArgs),
    /// The enforcement check endpoint under wrk, beside nginx's static 200 (ENF-1).
    Decision(bench::DecisionArgs),
    /// Console pages over HTTP on a million cases (p50/p99), beside the same reads through the
    /// JSON API, on SQLite and (if reachable) PostgreSQL.
    Console(bench::ConsoleArgs),
    /// The flow collector (DDOS-2/3/7): records/s per format on one core, memory per tracked
    /// IP at a million, detection → ExaBGP announce latency, and nfdump's nfcapd beside
    /// Warden's collector on the same replayed NetFlow v9 stream.
    Flows(bench::FlowsArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let mut cfg = Config::load(cli.config.as_deref(), std::env::vars())?;
    if let Some(url) = &cli.database_url {
        cfg.database.url = url.clone();
    }
    if let Some(dir) = &cli.data_dir {
        cfg.server.data_dir = dir.clone();
    }
    Ok(cfg)
}

fn init_logging(cfg: &Config) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{},sqlx=warn", cfg.log.level))
    });
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour for a person at a terminal; a file or a log collector gets plain text.
        .with_ansi(std::io::stderr().is_terminal());
    if cfg.log.format == "json" {
        b.json().init();
    } else {
        b.init();
    }
}

/// Whether a command may create the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Database {
    /// `serve` and `migrate`: create the data directory and database, apply migrations.
    Create,
    /// Every other command: an existing, migrated database or an error naming where it looked
    /// (a command that created an empty database would report on nothing as if all were well).
    Existing,
}

/// Creates a directory (and missing parents) that only its owner may enter: the data
/// directory holds personal data, token hashes and the key (AUD-4).
fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))
}

/// Opens the store (with [`Database::Create`], creating the data directory for SQLite).
async fn open_store(cfg: &Config, database: Database) -> anyhow::Result<Store> {
    let url = cfg.database_url();
    if database == Database::Create && url.starts_with("sqlite:") {
        create_private_dir(&cfg.server.data_dir)?;
    }
    let mut opts = StoreOptions::new(&url);
    opts.max_connections = cfg.database.max_connections;
    opts.sqlite_synchronous = cfg.database.sqlite_synchronous.clone();
    match database {
        Database::Create => Store::open(&opts).await,
        Database::Existing => Store::open_existing(&opts).await,
    }
    .with_context(|| format!("cannot open database {}", warden_store::redact_url(&url)))
}

/// The personal-data sealer: `crypto.key`, or the key file in the data directory (created on
/// first use).
fn load_sealer(cfg: &Config) -> anyhow::Result<Sealer> {
    if cfg.crypto.key.is_empty() {
        create_private_dir(&cfg.server.data_dir)?;
        Ok(Sealer::load_or_create(
            &cfg.server.data_dir.join("warden.key"),
        )?)
    } else {
        Sealer::from_base64(&cfg.crypto.key).context("crypto.key")
    }
}

/// The lifecycle policy, matrix, grading rules and calendar of the configuration.
fn lifecycle_settings(cfg: &Config) -> anyhow::Result<warden_app::lifecycle::LifecycleSettings> {
    Ok(warden_app::lifecycle::LifecycleSettings {
        policy: cfg.lifecycle.clone(),
        matrix: cfg.penalty.clone().unwrap_or_default(),
        grading: cfg.grading.clone(),
        calendar: cfg
            .calendar
            .validate()
            .map_err(|e| anyhow::anyhow!("calendar.{e}"))?,
        review_sla_ms: cfg.review.sla_minutes * 60_000,
    })
}

/// Where notices go (NOT-1..3): the SMTP relay and SMS gateway as configured, each notice
/// kind's channels, the reminder.
fn notice_settings(
    cfg: &Config,
    clock: &Arc<dyn Clock>,
) -> anyhow::Result<warden_app::outbound::NoticeSettings> {
    use warden_app::outbound::{NoticeSettings, default_routes, sms};
    use warden_domain::code::Code;
    let n = &cfg.notices;
    let mut routes = default_routes();
    for (kind, channels) in &n.channels {
        let kind = warden_domain::lifecycle::NoticeKind::from_code(kind)
            .ok_or_else(|| anyhow::anyhow!("notices.channels: unknown notice kind {kind:?}"))?;
        let channels = channels
            .iter()
            .map(|c| {
                warden_store::outbound::Channel::from_code(c)
                    .ok_or_else(|| anyhow::anyhow!("notices.channels: unknown channel {c:?}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        routes.insert(kind, channels);
    }
    let email = match &n.email {
        Some(e) => Some(Arc::new(email_transport(e, clock)?)),
        None => None,
    };
    let sms = match &n.sms {
        Some(s) => Some(Arc::new(
            sms::SmsGateway::new(
                sms::SmsSettings {
                    url: s.url.clone(),
                    secret: warden_app::enforce::webhook_secret(&s.secret).unwrap_or_default(),
                    timeout: Duration::from_millis(s.timeout_ms.max(1)),
                    sign_name: s.sign_name.clone(),
                },
                clock.clone(),
            )
            .map_err(|e| anyhow::anyhow!("notices.sms: {e}"))?,
        )),
        None => None,
    };
    let from_domain = n
        .email
        .as_ref()
        .and_then(|e| {
            e.from
                .rsplit_once('@')
                .map(|(_, d)| d.trim_end_matches('>').trim().to_string())
        })
        .filter(|d| !d.is_empty());
    Ok(NoticeSettings {
        email,
        sms,
        routes,
        reminder_before_ms: n.reminder_before_minutes.saturating_mul(60_000),
        console_url: n.console_url.clone(),
        message_id_domain: n
            .message_id_domain
            .clone()
            .or(from_domain)
            .unwrap_or_else(|| "warden.invalid".into()),
        max_attempts: n.max_attempts,
    })
}

/// The SMTP relay of `[notices.email]`.
fn email_transport(
    e: &crate::config::Email,
    clock: &Arc<dyn Clock>,
) -> anyhow::Result<warden_app::outbound::email::SmtpTransport> {
    use warden_app::outbound::email::{SmtpSettings, SmtpTls, SmtpTransport};
    let tls = match e.tls.as_str() {
        "implicit" => SmtpTls::Implicit,
        "none" => SmtpTls::None,
        _ => SmtpTls::StartTls,
    };
    let extra_root_certs_pem =
        match &e.ca_file {
            Some(path) => Some(std::fs::read_to_string(path).with_context(|| {
                format!("notices.email.ca_file: cannot read {}", path.display())
            })?),
            None => None,
        };
    let settings = SmtpSettings {
        host: e.host.clone(),
        port: e.port.unwrap_or_else(|| tls.default_port()),
        tls,
        username: e.username.clone(),
        password: e.password.clone(),
        from: e.from.clone(),
        reply_to: e.reply_to.clone(),
        timeout: Duration::from_millis(e.timeout_ms.max(1)),
        hello_name: None,
        extra_root_certs_pem,
    };
    Ok(SmtpTransport::new(settings)
        .map_err(|err| anyhow::anyhow!("notices.email: {err}"))?
        .with_clock(clock.clone()))
}

/// The limits and allow-list of report-driven fetches (DET-2).
fn fetch_policy(cfg: &Config) -> FetchPolicy {
    FetchPolicy {
        timeout: Duration::from_millis(cfg.recheck.timeout_ms),
        max_bytes: cfg.recheck.max_bytes,
        max_redirects: 3,
        allowed_networks: cfg
            .recheck
            .allowed_networks
            .iter()
            .filter_map(|n| n.parse().ok())
            .collect(),
        extra_roots_pem: Vec::new(),
    }
}

/// Opens the store (with [`Database::Create`], creating the data directory for SQLite) and
/// wires the app.
async fn open_app(cfg: &Config, database: Database) -> anyhow::Result<App> {
    let store = open_store(cfg, database).await?;
    let sealer = load_sealer(cfg)?;
    let lifecycle = lifecycle_settings(cfg)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let notices = notice_settings(cfg, &clock)?;
    let templates = notice_templates(cfg)?;
    Ok(wire(store, clock, sealer, settings(cfg), fetch_policy(cfg))
        .with_lifecycle(lifecycle)
        .with_notices(notices)
        .with_notice_templates(templates)
        .with_ddos(cfg.ddos.settings()?)
        .with_assessments(cfg.assessments.clone())
        .with_mail(cfg.mail.clone()))
}

/// sysexits(3): the input data was incorrect (the MTA bounces the message).
const EX_DATAERR: u8 = 65;
/// sysexits(3): a temporary failure (the MTA queues the message and tries again).
const EX_TEMPFAIL: u8 = 75;

/// `warden intake mail`: one message on standard input, through [`App::submit_mail`].
async fn intake_mail(cfg: &Config) -> anyhow::Result<u8> {
    use std::io::Read as _;
    let max = cfg.mail.max_message_bytes;
    let mut raw = Vec::new();
    let read = std::io::stdin()
        .take(u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut raw);
    if let Err(e) = read {
        eprintln!("warden intake mail: cannot read the message on standard input: {e}");
        return Ok(EX_TEMPFAIL);
    }
    if raw.len() > max {
        eprintln!(
            "warden intake mail: the message is larger than mail.max_message_bytes ({max} bytes); nothing was stored"
        );
        return Ok(EX_DATAERR);
    }
    let app = match open_app(cfg, Database::Existing).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!(
                "warden intake mail: the database is not reachable ({e:#}); nothing was stored, try again later"
            );
            return Ok(EX_TEMPFAIL);
        }
    };
    match app
        .submit_mail(&Principal::System, warden_app::mail::MailDoor::Pipe, &raw)
        .await
    {
        Ok(r) => {
            println!("{}", serde_json::to_string(&r)?);
            Ok(0)
        }
        Err(
            e @ (warden_app::AppError::Mail(_)
            | warden_app::AppError::Invalid(_)
            | warden_app::AppError::Xarf(_)),
        ) => {
            eprintln!("warden intake mail: refused, nothing was stored: {e}");
            Ok(EX_DATAERR)
        }
        Err(e) => {
            eprintln!("warden intake mail: not stored, try again later: {e}");
            Ok(EX_TEMPFAIL)
        }
    }
}

/// The notice templates: the built-in ones, each replaced by a file of its name in
/// `<data_dir>/templates/notices/` (NOT-1). A broken file stops the start, naming it and the
/// line.
fn notice_templates(cfg: &Config) -> anyhow::Result<Arc<NoticeTemplates>> {
    let templates =
        NoticeTemplates::load(Some(&cfg.server.data_dir)).map_err(anyhow::Error::msg)?;
    for (name, file) in templates.overridden() {
        tracing::info!(template = name, file = %file.display(), "notice template overridden");
    }
    Ok(Arc::new(templates))
}

/// Wires an app: builds its concrete parts — the enforcement adapters over a fresh decision
/// index, the lexicon scanner, the scanning re-checker fetching under `policy` — and hands them
/// over. The one place production wiring names them.
pub(crate) fn wire(
    store: Store,
    clock: Arc<dyn Clock>,
    sealer: Sealer,
    settings: Settings,
    policy: FetchPolicy,
) -> App {
    let index = warden_app::enforce::new_index();
    let adapters = Adapters::new(&settings.adapters_config(), &index, &clock);
    let scanner = Arc::new(ScanService::new(store.clone(), settings.scan_threshold));
    let rechecker = Arc::new(ScanRechecker {
        policy: policy.clone(),
        scan: scanner.clone(),
    });
    let parts = Parts {
        index,
        adapters,
        scanner,
        fetch_policy: policy,
        rechecker,
    };
    App::new(store, clock, sealer, settings, parts)
}

fn settings(cfg: &Config) -> Settings {
    let node_id = if cfg.jobs.node_id.is_empty() {
        let mut r = [0u8; 3];
        let _ = getrandom::getrandom(&mut r);
        format!("node-{}-{}", std::process::id(), hex::encode(r))
    } else {
        cfg.jobs.node_id.clone()
    };
    Settings {
        correlation_window_ms: (cfg.intake.correlation_window_hours * 3_600_000.0) as i64,
        detector_confirm_confidence: cfg.intake.detector_confirm_confidence,
        detector_thresholds: cfg.intake.detector_thresholds.clone(),
        audit_retention_days: cfg.audit.retention_days,
        public_reports_per_minute: cfg.intake.public_reports_per_minute,
        max_batch: cfg.intake.max_batch,
        group_commit: cfg.intake.group_commit(),
        node_id,
        job_lease_ms: cfg.jobs.lease_secs * 1000,
        job_poll_ms: cfg.jobs.poll_interval_ms,
        job_batch: cfg.jobs.batch,
        trusted_proxies: cfg.server.trusted_proxies.clone(),
        scan_threshold: cfg.scan.threshold,
        webhooks: cfg
            .webhooks
            .iter()
            .map(|w| warden_app::enforce::WebhookEndpoint {
                name: w.name.clone(),
                url: w.url.clone(),
                secret: warden_app::enforce::webhook_secret(&w.secret).unwrap_or_default(),
                actions: w.actions.clone(),
                products: w.products.clone(),
            })
            .collect(),
        webhook_max_attempts: cfg.enforcement.max_attempts,
        rpz_file: cfg.enforcement.rpz_file.clone(),
        rpz_reload: cfg.enforcement.rpz_reload.clone(),
        webhook_timeout_ms: cfg.enforcement.webhook_timeout_ms,
        exabgp: cfg.exabgp.iter().map(|x| x.name.clone()).collect(),
        rpz_reload_timeout_ms: cfg.enforcement.rpz_reload_timeout_ms,
        reconcile_ms: cfg.enforcement.reconcile_interval_secs.saturating_mul(1000),
        sessions: warden_app::people::SessionSettings {
            idle_ms: cfg.console.idle_minutes.max(1).saturating_mul(60_000),
            absolute_ms: cfg.console.absolute_hours.max(1).saturating_mul(3_600_000),
            max_failures: cfg.console.max_failed_logins.max(1),
            lockout_ms: cfg.console.lockout_minutes.max(1).saturating_mul(60_000),
            attempts_per_minute: cfg.console.login_attempts_per_minute.max(1),
            secure_cookies: cfg.console.secure_cookies,
        },
        claim_idle_ms: cfg.console.claim_idle_minutes.max(1).saturating_mul(60_000),
    }
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    // The bridge runs under ExaBGP, beside no Warden configuration: it needs none.
    if let Command::ExabgpBridge(args) = cli.command {
        return exabgp_bridge::run(args).await;
    }
    let cfg = load_config(&cli)?;
    match cli.command {
        Command::ExabgpBridge(_) => Ok(0),
        Command::Config => {
            print!("{}", cfg.redacted_toml()?);
            Ok(0)
        }
        Command::Serve { listen } => {
            init_logging(&cfg);
            serve(cfg, listen).await
        }
        Command::Migrate => {
            init_logging(&cfg);
            open_app(&cfg, Database::Create).await?;
            println!("migrations applied");
            Ok(0)
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let app = open_app(&cfg, Database::Existing).await?;
            let v = app.verify_audit(&Principal::System).await?;
            match v.broken {
                None => {
                    println!(
                        "audit chain OK: {} events verified (last seq {})",
                        v.checked, v.last_seq
                    );
                    Ok(0)
                }
                Some(b) => {
                    println!(
                        "audit chain BROKEN at event seq {}: {} ({} events before it verified)",
                        b.seq, b.reason, v.checked
                    );
                    Ok(1)
                }
            }
        }
        Command::Audit {
            command: AuditCommand::Purge { before },
        } => {
            let app = open_app(&cfg, Database::Existing).await?;
            let t = warden_domain::time::Timestamp::parse_rfc3339(&before)?;
            let p = app.purge_audit(&Principal::System, t.millis()).await?;
            println!("purged {} audit events older than {before}", p.removed);
            Ok(0)
        }
        Command::Admin {
            command:
                AdminCommand::CreateUser {
                    login,
                    role,
                    account,
                    owner,
                    password_stdin,
                },
        } => {
            let app = open_app(&cfg, Database::Existing).await?;
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                Some(line.trim_end_matches(['\r', '\n']).to_string())
            } else {
                None
            };
            let u = app
                .create_user(
                    &Principal::System,
                    warden_app::people::NewUser {
                        login,
                        role: warden_domain::identity::Role::parse(&role)?,
                        account_id: account,
                        account_owner: owner,
                        password,
                    },
                )
                .await?;
            if let Some(p) = &u.password {
                println!("{p}");
                eprintln!(
                    "user {} ({}) created; the password above is shown only once and must be changed at the first sign-in",
                    u.user.login,
                    u.user.role.code()
                );
            } else {
                eprintln!("user {} ({}) created", u.user.login, u.user.role.code());
            }
            Ok(0)
        }
        Command::Admin {
            command:
                AdminCommand::CreateToken {
                    role,
                    account,
                    label,
                },
        } => {
            let app = open_app(&cfg, Database::Existing).await?;
            let t = app
                .create_token(&Principal::System, &role, account.as_deref(), &label)
                .await?;
            println!("{}", t.secret);
            eprintln!(
                "token {} ({}) created; the secret above is shown only once",
                t.token.id,
                t.token.role.code()
            );
            Ok(0)
        }
        Command::Scan { target } => {
            let app = open_app(&cfg, Database::Existing).await?;
            let input = if target.starts_with("http://") || target.starts_with("https://") {
                warden_app::scan::ScanInput {
                    text: None,
                    url: Some(target),
                }
            } else {
                let bytes =
                    std::fs::read(&target).with_context(|| format!("cannot read {target}"))?;
                let (text, _) = warden_app::page::decode(&bytes, None);
                let text = if warden_app::page::is_html(None, &text) {
                    warden_app::page::visible_text(&text)
                } else {
                    text
                };
                warden_app::scan::ScanInput {
                    text: Some(text),
                    url: None,
                }
            };
            let v = app.scan(&Principal::System, input).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(0)
        }
        Command::Lexicon { command } => {
            let app = open_app(&cfg, Database::Existing).await?;
            let out = match command {
                LexiconCommand::Add {
                    category,
                    term,
                    weight,
                } => {
                    let input = warden_app::scan::TermInput {
                        category: Some(category),
                        term: Some(term),
                        weight,
                        ..Default::default()
                    };
                    serde_json::to_value(app.put_term(&Principal::System, input, false).await?)?
                }
                LexiconCommand::Remove { category, term } => {
                    let input = warden_app::scan::TermInput {
                        category: Some(category),
                        term: Some(term),
                        ..Default::default()
                    };
                    serde_json::to_value(app.put_term(&Principal::System, input, true).await?)?
                }
                LexiconCommand::List { category } => serde_json::to_value(
                    app.lexicon(&Principal::System, category.as_deref()).await?,
                )?,
            };
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(0)
        }
        Command::Intake {
            command: IntakeCommand::Mail,
        } => intake_mail(&cfg).await,
        Command::Demo(args) => demo::run(cfg, args).await,
        Command::Bench {
            command: BenchCommand::Intake(args),
        } => bench::intake(args).await.map(|()| 0),
        Command::Bench {
            command: BenchCommand::Timers(args),
        } => bench::timers(args).await.map(|()| 0),
        Command::Bench {
            command: BenchCommand::Decision(args),
        } => bench::decision(args).await.map(|()| 0),
        Command::Bench {
            command: BenchCommand::Console(args),
        } => bench::console(args).await.map(|()| 0),
        Command::Bench {
            command: BenchCommand::Flows(args),
        } => bench::flows(args).await.map(|()| 0),
        Command::Fuzz {
            command: FuzzCommand::Flows(args),
        } => Ok(fuzz::flows(&args)),
        Command::Fuzz {
            command: FuzzCommand::Mail(args),
        } => fuzz::mail(&args),
    }
}

/// SQLite serves one node: a second `warden serve` on the same database file would run jobs
/// twice and fight over the file, so it is refused while the first one runs (an OS file lock,
/// released when the process ends, even by kill -9).
fn lock_sqlite(url: &str) -> anyhow::Result<Option<std::fs::File>> {
    use std::io::{Read, Seek, Write};
    let Some(path) = warden_store::sqlite_path(url) else {
        return Ok(None);
    };
    let path = path.display();
    let lock_path = format!("{path}.lock");
    if let Some(parent) = std::path::Path::new(&lock_path).parent() {
        create_private_dir(parent)?;
    }
    let mut o = std::fs::OpenOptions::new();
    o.create(true).truncate(false).read(true).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o
        .open(&lock_path)
        .with_context(|| format!("cannot open the lock file {lock_path}"))?;
    match f.try_lock() {
        Ok(()) => {
            f.set_len(0)?;
            f.rewind()?;
            write!(f, "{}", std::process::id())?;
            f.flush()?;
            Ok(Some(f))
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = f.read_to_string(&mut pid);
            anyhow::bail!(
                "another `warden serve` (pid {}) is using the SQLite database {path}; SQLite serves one node. Stop it first, or set database.url to PostgreSQL to run several nodes",
                pid.trim()
            )
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {lock_path}"))
        }
    }
}

async fn serve(cfg: Config, listen: Option<String>) -> anyhow::Result<u8> {
    let addr = listen.unwrap_or_else(|| cfg.server.listen.clone());
    let _single_node = lock_sqlite(&cfg.database_url())?;
    let app = open_app(&cfg, Database::Create).await?;
    if let Some(t) = app.bootstrap_admin().await? {
        eprintln!(
            "\n  First start: an admin API token was created. It is shown only this once:\n\n    {}\n\n  Use it as 'Authorization: Bearer <token>'. More tokens: POST /api/tokens or 'warden admin create-token'.\n",
            t.secret
        );
    }
    if let Some(u) = app.bootstrap_admin_user().await? {
        eprintln!(
            "  First start: a console admin was created. Sign in at /login as\n\n    login:    {}\n    password: {}\n\n  The password is shown only this once and must be changed at the first sign-in. More users: 'warden admin create-user'.\n",
            u.user.login,
            u.password.as_deref().unwrap_or_default()
        );
    }
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    serve_on(&cfg, app, listener).await
}

/// Serves `app` on `listener` with the job workers, the enforcement follower and (if
/// configured) the enforcement check listener, the flow collector and the SMTP listener, until
/// SIGINT or SIGTERM.
async fn serve_on(cfg: &Config, app: App, listener: tokio::net::TcpListener) -> anyhow::Result<u8> {
    let local = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // DDOS-2: the flow collector, before the HTTP listener is announced, so that whoever waits
    // for "listening" can send flows at once.
    let flows = match cfg.flows.settings()? {
        Some(settings) => {
            let socket = flows::bind(&settings)?;
            let node = settings.node.clone();
            let c = flows::start(settings, socket, app.clone())?;
            tracing::info!(address = %c.local_addr(), node = %node, "flow collector receiving");
            println!("warden flows on udp://{}", c.local_addr());
            Some(c)
        }
        None => None,
    };
    // INT-2: the abuse desk's SMTP listener, announced before the HTTP listener like the flows.
    let smtp = match cfg.smtp.settings(&cfg.mail)? {
        Some(settings) => {
            let l = smtp::bind(&settings).await?;
            let s = smtp::start(settings, l, Arc::new(app.clone()), stop_rx.clone())?;
            tracing::info!(address = %s.local_addr(), "smtp listener accepting");
            println!("warden smtp on smtp://{}", s.local_addr());
            Some(s)
        }
        None => None,
    };
    tracing::info!(address = %local, database = %warden_store::redact_url(&cfg.database_url()), node = %app.settings.node_id, "warden serving");
    println!("warden listening on http://{local}");

    let worker = if cfg.jobs.enabled {
        let app = app.clone();
        let rx = stop_rx.clone();
        Some(tokio::spawn(async move { app.run_worker(rx).await }))
    } else {
        None
    };
    // ENF-2: one reconciliation job stays armed across the cluster (it re-arms itself).
    if cfg.jobs.enabled
        && let Err(e) = app.arm_reconciliation().await
    {
        tracing::error!(error = %e, "arming enforcement reconciliation failed; it is armed at the next start");
    }
    // DDOS-6, AUD-3: one traffic roll-up job stays armed across the cluster (it re-arms itself).
    if cfg.jobs.enabled
        && let Err(e) = app.arm_traffic_rollup().await
    {
        tracing::error!(error = %e, "arming the traffic roll-up failed; it is armed at the next start");
    }
    // ENF-1: the decision index follows the enforcement log (every node, within 100 ms).
    let follower = {
        let app = app.clone();
        let rx = stop_rx.clone();
        tokio::spawn(async move { app.follow_enforcement(rx, Duration::from_millis(100)).await })
    };
    let checks = match &cfg.enforcement.check_listen {
        Some(addr) => {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            println!("warden enforcement checks on http://{}", l.local_addr()?);
            let mut rx = stop_rx.clone();
            Some(tokio::spawn(warden_http::serve_checks(
                l,
                app.clone(),
                async move {
                    let _ = rx.changed().await;
                },
            )))
        }
        None => None,
    };
    let mut rx = stop_rx.clone();
    let server = tokio::spawn(warden_http::serve(listener, app.clone(), async move {
        let _ = rx.changed().await;
    }));

    shutdown_signal().await;
    tracing::info!("shutdown requested; finishing in-flight work");
    let _ = stop_tx.send(true);
    let grace = Duration::from_secs(cfg.server.shutdown_grace_secs);
    if tokio::time::timeout(grace, async {
        let _ = server.await;
        // Every request has its answer; the intake writers stop, committing and answering
        // first whatever is still queued (a report is never acknowledged uncommitted).
        app.close_intake().await;
        if let Some(w) = worker {
            let _ = w.await;
        }
        let _ = follower.await;
        if let Some(c) = checks {
            let _ = c.await;
        }
        if let Some(f) = flows {
            f.shutdown().await;
        }
        if let Some(s) = smtp {
            s.stopped().await;
        }
    })
    .await
    .is_err()
    {
        tracing::warn!("grace period over; leased jobs will be retried after their lease");
    }
    app.store.close().await;
    tracing::info!("stopped");
    Ok(0)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
