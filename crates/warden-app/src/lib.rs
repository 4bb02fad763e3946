//! Warden's use cases. Each one loads what it needs, lets the domain decide, and stores the new
//! state, its audit event and its timers in ONE transaction; workers carry effects out later.
//!
//! Authorisation lives here too: every use case takes the caller's [`auth::Principal`], and reads
//! go through the storage layer with the principal's [`warden_store::Scope`], so a tenant can
//! only ever see its own account whatever route it came through.
//!
//! One module per area, each an `impl App` block of use cases with its input and view types:
//!
//! - [`intake`]: reports in (INT-1..5), correlation into cases, the per-IP rate limit.
//! - [`group_commit`]: concurrent single reports committed together, each answered with its
//!   own receipt once its group is committed.
//! - [`triage`]: cases, the triage queue and dismissal, case reports and history, reporter
//!   contacts, inbox notices.
//! - [`lifecycle`]: confirm and grade, direct enforcement, deadlines, self-service, manual and
//!   reviewed unblock, the reviewer queue, penalties of a case; the shared machinery every
//!   lifecycle change goes through (load, decide, apply, notify, record actions, SLA clock).
//! - [`ddos`]: telemetry, detection, blackholes (their timer, release by upgrade, self-service
//!   and operator), IP protection and traffic (DDOS-1..6).
//! - [`ddos_retention`]: the hourly traffic series, its roll-up job and the retention of the
//!   minutes and hours (DDOS-6, AUD-3).
//! - [`ddos_read`]: its read side, from the pool and never in a write transaction
//!   (protection, traffic, blackholes, attacks).
//! - [`ddos_rules`]: the rules beside the blackhole: HARM-1 outbound floods and scans, PEN-2
//!   isolation when an attack harms a shared uplink, the ASMT-2 stress-test hook.
//! - [`tickets`]: filing, listing and closing tickets (TKT-1, HARM-2).
//! - [`assessments`]: customers' own security assessments — declaration and scope, plan
//!   approval with its SLA, stop, window end, phishing-test disclosure and its reminders, and
//!   the store-backed stress-test plans the DDoS plane reads (ASMT-1..3, ASMT-5).
//! - [`vulnerabilities`]: the confidential vulnerability channel (ASMT-4): submission by
//!   anyone, the reporter's status, the security team's sealed and audited reads.
//! - [`enforce`]: the enforcement plane: the decision index, the adapters and their
//!   deliveries, reconciliation, the webhook log, the change feed and snapshot.
//! - [`registry`]: accounts and resources, bulk import, owner lookup.
//! - [`scan`]: the lexicon, scans, the scanning re-checker.
//! - [`audit`]: reading, verifying and purging the audit log.
//! - [`auth`]: tokens and principals.
//! - [`people`]: users, passwords, sessions and CSRF tokens of the console.
//! - [`jobs`]: the job worker.
//! - [`work`]: claims on queue items and staff-only notes (working together).
//!
//! Below them, parts that know nothing of [`App`] or [`Settings`]: [`recheck`] (fetching),
//! [`page`], [`notices`] (templates), [`i18n`] (the catalogue), [`metrics`], [`crypto`], [`clock`], [`error`]. The
//! concrete adapters, scanner and re-checker are built by the binary and handed over as
//! [`Parts`].

pub mod assessments;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod crypto;
pub mod ddos;
pub mod ddos_read;
pub mod ddos_retention;
pub mod ddos_rules;
pub mod enforce;
pub mod error;
pub mod group_commit;
pub mod i18n;
pub mod intake;
pub mod jobs;
pub mod lifecycle;
pub mod mail;
pub mod metrics;
pub mod notices;
pub mod outbound;
pub mod page;
pub mod people;
pub mod recheck;
pub mod registry;
pub mod scan;
pub mod tickets;
pub mod triage;
pub mod vulnerabilities;
pub mod work;

use std::collections::HashMap;
use std::sync::Arc;

pub use error::AppError;
use warden_store::Store;
use warden_store::audit::NewAuditEvent;

use crate::auth::Principal;
use crate::clock::Clock;
use crate::crypto::Sealer;

/// Policy and runtime settings the use cases need (the binary maps its config file onto these).
#[derive(Debug, Clone)]
pub struct Settings {
    /// INT-4: reports about the same (resource, target, category) within this window join one case.
    pub correlation_window_ms: i64,
    /// INT-5: detections at or above this confidence confirm their case directly.
    pub detector_confirm_confidence: f64,
    /// INT-5: per-detector thresholds, by token label.
    pub detector_thresholds: HashMap<String, f64>,
    /// AUD-3: audit retention in days (never below 180).
    pub audit_retention_days: i64,
    /// Anonymous reports allowed per source IP per minute.
    pub public_reports_per_minute: u32,
    /// Most reports in one batch request.
    pub max_batch: usize,
    /// How concurrent single reports share transactions.
    pub group_commit: group_commit::GroupCommitSettings,
    /// This node's name (job leases).
    pub node_id: String,
    /// Job lease length.
    pub job_lease_ms: i64,
    /// Job poll interval when idle.
    pub job_poll_ms: u64,
    /// Jobs claimed per round.
    pub job_batch: i64,
    /// Reverse proxies whose `X-Forwarded-For` is believed (for the per-IP rate limit).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// DET-3: a category counts as present at or above this lexicon score.
    pub scan_threshold: f32,
    /// ENF-1: webhook endpoints.
    pub webhooks: Vec<enforce::WebhookEndpoint>,
    /// ENF-2: delivery attempts before a message is dead (re-drivable).
    pub webhook_max_attempts: i64,
    /// ENF-1: where to write the DNS Response Policy Zone on every change (atomically).
    pub rpz_file: Option<std::path::PathBuf>,
    /// Commands run after the zone file changed (e.g. `unbound-control auth_zone_reload`).
    pub rpz_reload: Vec<Vec<String>>,
    /// ENF-2: how long one webhook POST may take.
    pub webhook_timeout_ms: u64,
    /// DDOS-7: the ExaBGP bridges, by name (each an `exabgp:<name>` adapter that confirms
    /// blackholes through the API).
    pub exabgp: Vec<String>,
    /// ENF-2: how long one RPZ reload command may take.
    pub rpz_reload_timeout_ms: u64,
    /// ENF-2: how often what each adapter should hold is compared with what it confirmed.
    pub reconcile_ms: i64,
    /// Console sessions and sign-in limits.
    pub sessions: people::SessionSettings,
    /// A claim on a queue item unused this long is released (ms).
    pub claim_idle_ms: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            correlation_window_ms: 7 * 86_400_000,
            detector_confirm_confidence: 0.9,
            detector_thresholds: HashMap::new(),
            audit_retention_days: 180,
            public_reports_per_minute: 30,
            max_batch: 1000,
            group_commit: group_commit::GroupCommitSettings::default(),
            node_id: "node-1".into(),
            job_lease_ms: 60_000,
            job_poll_ms: 500,
            job_batch: 50,
            trusted_proxies: Vec::new(),
            scan_threshold: 1.0,
            webhooks: Vec::new(),
            webhook_max_attempts: 12,
            rpz_file: None,
            rpz_reload: Vec::new(),
            webhook_timeout_ms: 10_000,
            exabgp: Vec::new(),
            rpz_reload_timeout_ms: 10_000,
            reconcile_ms: 60_000,
            sessions: people::SessionSettings::default(),
            claim_idle_ms: 30 * 60_000,
        }
    }
}

/// Everything a use case needs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct App {
    /// Storage.
    pub store: Store,
    /// The one clock.
    pub clock: Arc<dyn Clock>,
    /// Personal-data sealer (AUD-4).
    pub sealer: Arc<Sealer>,
    /// Settings.
    pub settings: Arc<Settings>,
    /// Metrics.
    pub metrics: Arc<metrics::Metrics>,
    /// Per-IP limiter for anonymous reports.
    pub limiter: Arc<intake::RateLimiter>,
    /// The queue and writers that commit concurrent single reports together.
    pub group_commit: Arc<group_commit::GroupCommit>,
    /// Per-IP limiter for sign-in attempts.
    pub login_limiter: Arc<intake::RateLimiter>,
    /// Wakes job workers when a job is enqueued for now.
    pub job_wakeup: Arc<tokio::sync::Notify>,
    /// Lifecycle policy, matrix, grading rules and calendar.
    pub lifecycle: Arc<lifecycle::LifecycleSettings>,
    /// The re-checker used by deadlines and self-service unblock (DET-3).
    pub rechecker: Arc<dyn recheck::Rechecker>,
    /// The lexicon scanner (DET-1), hot-reloaded per lexicon version.
    pub scanner: Arc<scan::ScanService>,
    /// Limits and allow-list of report-driven fetches (DET-2).
    pub fetch_policy: Arc<recheck::FetchPolicy>,
    /// The decision index of everything in force (ENF-1).
    pub index: Arc<warden_enforce::index::SharedIndex>,
    /// The enforcement adapters (ENF-2).
    pub adapters: Arc<enforce::Adapters>,
    /// Where notices go besides the inbox (NOT-1, NOT-3).
    pub notices: Arc<outbound::NoticeSettings>,
    /// What notices say: the built-in templates, or the provider's overrides (NOT-1).
    pub notice_templates: Arc<notices::NoticeTemplates>,
    /// DDoS protection, the blackhole ladder and detection (DDOS-1..5).
    pub ddos: Arc<ddos::DdosSettings>,
    /// Approved stress-test plans (ASMT-2): traffic inside one is no attack.
    pub stress_plans: Arc<dyn ddos_rules::StressPlans>,
    /// What the HARM-1 and PEN-2 rules reported lately (one report per period).
    pub rule_memory: Arc<ddos_rules::RuleMemory>,
    /// Customers' own security assessments: the provider's infrastructure, the approval SLA,
    /// the disclosure reminders (ASMT-1..3, ASMT-5).
    pub assessments: Arc<assessments::AssessmentSettings>,
    /// The abuse desk's mail: bounds and the reporters' trust (INT-2, INT-6).
    pub mail: Arc<mail::MailSettings>,
    /// DKIM verification of trusted reporters' mail over the configured resolver (INT-6).
    pub dkim: Option<Arc<mail::DkimVerifier>>,
}

impl Settings {
    /// What the enforcement adapters are built from.
    pub fn adapters_config(&self) -> enforce::AdaptersConfig {
        enforce::AdaptersConfig {
            webhooks: self.webhooks.clone(),
            webhook_timeout: std::time::Duration::from_millis(self.webhook_timeout_ms),
            rpz: self.rpz_file.as_ref().map(|file| enforce::RpzConfig {
                file: file.clone(),
                reload: self.rpz_reload.clone(),
                timeout: std::time::Duration::from_millis(self.rpz_reload_timeout_ms),
            }),
            exabgp: self.exabgp.clone(),
        }
    }
}

/// The concrete parts an app is wired with, built by the binary: what enforces, what scans and
/// what re-checks.
#[derive(Debug)]
pub struct Parts {
    /// The decision index of everything in force; `adapters` must include its index adapter.
    pub index: Arc<warden_enforce::index::SharedIndex>,
    /// The enforcement adapters (ENF-2).
    pub adapters: enforce::Adapters,
    /// The lexicon scanner (DET-1).
    pub scanner: Arc<scan::ScanService>,
    /// Limits and allow-list of report-driven fetches (DET-2).
    pub fetch_policy: recheck::FetchPolicy,
    /// The re-checker used by deadlines and self-service unblock (DET-3).
    pub rechecker: Arc<dyn recheck::Rechecker>,
}

impl App {
    /// Wires an app from the parts the binary built.
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        sealer: Sealer,
        settings: Settings,
        parts: Parts,
    ) -> App {
        let limiter = intake::RateLimiter::new(settings.public_reports_per_minute);
        let stress_plans = assessments::StoredStressPlans::new(store.clone(), clock.clone());
        let login_limiter = intake::RateLimiter::new(settings.sessions.attempts_per_minute);
        let group_commit = group_commit::GroupCommit::new(settings.group_commit.clone());
        App {
            group_commit: Arc::new(group_commit),
            clock,
            sealer: Arc::new(sealer),
            settings: Arc::new(settings),
            metrics: Arc::new(metrics::Metrics::default()),
            limiter: Arc::new(limiter),
            login_limiter: Arc::new(login_limiter),
            job_wakeup: Arc::new(tokio::sync::Notify::new()),
            lifecycle: Arc::new(lifecycle::LifecycleSettings::default()),
            rechecker: parts.rechecker,
            scanner: parts.scanner,
            fetch_policy: Arc::new(parts.fetch_policy),
            index: parts.index,
            adapters: Arc::new(parts.adapters),
            notices: Arc::new(outbound::NoticeSettings::default()),
            notice_templates: notices::NoticeTemplates::builtin(),
            ddos: Arc::new(ddos::DdosSettings::default()),
            // ASMT-2: the plans approved through the assessments workflow, read from the store.
            stress_plans: Arc::new(stress_plans),
            rule_memory: Arc::new(ddos_rules::RuleMemory::default()),
            assessments: Arc::new(assessments::AssessmentSettings::default()),
            mail: Arc::new(mail::MailSettings::default()),
            dkim: None,
            store,
        }
    }

    /// For tests: an app with the adapters `settings` configure, the lexicon scanner and the
    /// scanning re-checker under the default fetch policy.
    pub fn for_tests(
        store: Store,
        clock: Arc<dyn Clock>,
        sealer: Sealer,
        settings: Settings,
    ) -> App {
        let index = enforce::new_index();
        let adapters = enforce::Adapters::new(&settings.adapters_config(), &index, &clock);
        let scanner = Arc::new(scan::ScanService::new(
            store.clone(),
            settings.scan_threshold,
        ));
        let parts = Parts {
            index,
            adapters,
            rechecker: Arc::new(scan::ScanRechecker {
                policy: recheck::FetchPolicy::default(),
                scan: scanner.clone(),
            }),
            scanner,
            fetch_policy: recheck::FetchPolicy::default(),
        };
        App::new(store, clock, sealer, settings, parts)
    }

    /// The same app fetching under `policy`, re-checking with the lexicon scanner (DET-3).
    pub fn with_scanning_rechecker(mut self, policy: recheck::FetchPolicy) -> App {
        self.fetch_policy = Arc::new(policy.clone());
        self.rechecker = Arc::new(scan::ScanRechecker {
            policy,
            scan: self.scanner.clone(),
        });
        self
    }

    /// The same app with other lifecycle settings.
    pub fn with_lifecycle(mut self, l: lifecycle::LifecycleSettings) -> App {
        self.lifecycle = Arc::new(l);
        self
    }

    /// The same app sending notices as `n` says (NOT-1, NOT-3).
    pub fn with_notices(mut self, n: outbound::NoticeSettings) -> App {
        self.notices = Arc::new(n);
        self
    }

    /// The same app writing notices from `t` (the built-ins with the data directory's
    /// overrides, NOT-1).
    pub fn with_notice_templates(mut self, t: Arc<notices::NoticeTemplates>) -> App {
        self.notice_templates = t;
        self
    }

    /// The same app with other DDoS settings (DDOS-1..5).
    pub fn with_ddos(mut self, d: ddos::DdosSettings) -> App {
        self.ddos = Arc::new(d);
        self
    }

    /// The same app reading approved stress-test plans from `p` (ASMT-2).
    pub fn with_stress_plans(mut self, p: Arc<dyn ddos_rules::StressPlans>) -> App {
        self.stress_plans = p;
        self
    }

    /// The same app with other assessment settings (ASMT-1..3, ASMT-5).
    pub fn with_assessments(mut self, a: assessments::AssessmentSettings) -> App {
        self.assessments = Arc::new(a);
        self
    }

    /// The same app with other mail settings (INT-2, INT-6).
    pub fn with_mail(mut self, m: mail::MailSettings) -> App {
        self.dkim = m.dkim_verifier();
        self.mail = Arc::new(m);
        self
    }

    /// The same app with another re-checker.
    pub fn with_rechecker(mut self, r: Arc<dyn recheck::Rechecker>) -> App {
        self.rechecker = r;
        self
    }

    /// Now, in ms.
    pub fn now(&self) -> i64 {
        self.clock.now().millis()
    }

    /// An audit event by `who` at now.
    pub(crate) fn event(&self, who: &Principal, action: &str, subject: String) -> NewAuditEvent {
        NewAuditEvent {
            actor: who.actor(),
            role: who.role_code().into(),
            action: action.into(),
            subject,
            at: self.now(),
            details: serde_json::Value::Null,
            ..Default::default()
        }
    }
}

/// SHA-256 digest of a value's JSON, for audit before/after images.
pub fn digest<T: serde::Serialize>(v: &T) -> String {
    warden_domain::sha256_hex(serde_json::to_string(v).unwrap_or_default().as_bytes())
}
