//! `warden demo` (issue 10): fills a fresh data directory with a small, realistic data set and
//! serves it, so that a new user sees the console with something in it.
//!
//! The data is made the way real data is: through the use cases, as the people who would have
//! done it (anonymous reporters, a detector, the operator, the reviewer, each tenant), so every
//! case carries its audit events, inbox notices, actions and timers exactly as if it had lived.
//! Only two things are staged:
//!
//! - **Time.** Deadlines, SLA clocks and "reported three days ago" need days to pass. The app
//!   runs on a [`ShiftedClock`] set a few days into the past and moved forward step by step; the
//!   job worker fires the deadlines as the clock passes them. The last step sets it to the real
//!   now, where it stays (a shifted clock with no shift is the real clock), and the same app then
//!   serves.
//! - **The web.** The demo's sites do not exist (documentation addresses such as 203.0.113.0/24
//!   and `example.com` names), so re-checks go to a [`DemoRechecker`] that fetches nothing and
//!   answers from a script. Warden never fetches anything for the demo.
//!
//! Made-up penalties must never reach a real enforcement point either: the demo drops the
//! configured webhooks and RPZ file (the decision index inside Warden still follows them).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use warden_app::App;
use warden_app::auth::Principal;
use warden_app::clock::{Clock, ShiftedClock, SystemClock};
use warden_app::lifecycle::{ConfirmInput, EnforceInput, SelfUnblockInput, SelfUnblockOutcome};
use warden_app::people::NewUser;
use warden_app::recheck::{Fetched, Rechecker, Verdict};
use warden_app::registry::{AccountInput, IdentifierInput, ResourceInput};
use warden_app::tickets::{CloseTicketInput, TicketInput};
use warden_app::triage::TriageInput;
use warden_domain::identity::Role;
use warden_domain::lifecycle::State;
use warden_domain::report::{RegulatorNotice, ReportRequest};
use warden_domain::time::Timestamp;
use warden_store::Scope;
use warden_store::reports::CaseFilter;

use crate::Database;
use crate::config::Config;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// Options of `warden demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Listen address of the console (overrides server.listen), e.g. 127.0.0.1:8080.
    #[arg(long)]
    listen: Option<String>,
    /// Fill the data directory and exit instead of serving it.
    #[arg(long)]
    no_serve: bool,
}

/// The re-checker of the demo (DET-3). There is no real site behind the demo's URLs, so it
/// fetches nothing: it answers from what the demo script says about each page. While the data
/// is filled, a page is "still violating" until the script marks it fixed ([`Self::fix`]). Once
/// the demo is served, every page not fixed is found still violating at its first re-check and
/// clean from its second on, so that someone trying the console sees a self-service unblock fail
/// (naming the URL, UNB-2) and then, "after rectifying", succeed. Demo data only: a real
/// deployment re-checks with [`warden_app::scan::ScanRechecker`].
#[derive(Debug, Default)]
pub struct DemoRechecker {
    pages: Mutex<Pages>,
}

#[derive(Debug, Default)]
struct Pages {
    fixed: HashSet<String>,
    checked: HashSet<String>,
    serving: bool,
}

impl DemoRechecker {
    /// The tenant rectified the page at `url`: its re-checks are clean from now on.
    fn fix(&self, url: &str) {
        if let Ok(mut p) = self.pages.lock() {
            p.fixed.insert(url.to_string());
        }
    }

    /// From now on a page is rectified after its first re-check (see the type's doc).
    fn serving(&self) {
        if let Ok(mut p) = self.pages.lock() {
            p.serving = true;
        }
    }

    fn clean(&self, url: &str) -> bool {
        let Ok(mut p) = self.pages.lock() else {
            return false;
        };
        if p.fixed.contains(url) {
            return true;
        }
        if p.serving && !p.checked.insert(url.to_string()) {
            p.fixed.insert(url.to_string());
            return true;
        }
        false
    }
}

impl Rechecker for DemoRechecker {
    fn recheck<'a>(
        &'a self,
        url: &'a str,
        markers: &'a [String],
        category: &'a str,
    ) -> Pin<Box<dyn Future<Output = Verdict> + Send + 'a>> {
        Box::pin(async move {
            let text = if self.clean(url) {
                "demo page: the violating content was removed"
            } else {
                "demo page: the violating content is still there"
            };
            let evidence = Fetched {
                url: url.to_string(),
                final_url: url.to_string(),
                address: "none: the demo re-checker fetches nothing".into(),
                status: 200,
                body: text.as_bytes().to_vec(),
                sha256: warden_domain::sha256_hex(text.as_bytes()),
                truncated: false,
                content_type: Some("text/plain; charset=utf-8".into()),
                charset: "utf-8".into(),
                text: text.into(),
            };
            if text.ends_with("removed") {
                return Verdict::Clean {
                    evidence: Some(evidence),
                };
            }
            let mut found: Vec<String> = markers.iter().map(|m| format!("marker:{m}")).collect();
            if found.is_empty() {
                found.push(format!("{category} (demo)"));
            }
            Verdict::Violating { found, evidence }
        })
    }
}

/// A login the demo created, with its password.
#[derive(Debug, Clone)]
struct Login {
    login: String,
    password: String,
    role: Role,
    account: Option<String>,
    note: String,
    principal: Principal,
}

/// What was filled, for the summary.
#[derive(Debug)]
struct Filled {
    logins: Vec<Login>,
    admin_token: String,
    states: Vec<(State, i64)>,
    tenants: usize,
    resources: usize,
    tickets: usize,
    notices: i64,
    audit_events: i64,
}

/// `warden demo`: refuse a data directory that holds a database, fill a fresh one, print the
/// logins, serve (or, with `--no-serve`, say how to).
pub async fn run(mut cfg: Config, args: DemoArgs) -> anyhow::Result<u8> {
    // Over plain HTTP on the user's machine a browser would not send `Secure` cookies back.
    cfg.console.secure_cookies = false;
    // Made-up penalties stay inside Warden (see the module doc).
    cfg.webhooks.clear();
    cfg.enforcement.rpz_file = None;
    cfg.enforcement.rpz_reload.clear();
    let url = cfg.database_url();
    refuse_unless_fresh(&cfg, &url).await?;
    let _single_node = crate::lock_sqlite(&url)?;
    let store = crate::open_store(&cfg, Database::Create).await?;
    let sealer = crate::load_sealer(&cfg)?;
    let lifecycle = crate::lifecycle_settings(&cfg)?;
    let clock = Arc::new(ShiftedClock::default());
    let rechecker = Arc::new(DemoRechecker::default());
    let app = crate::wire(
        store,
        clock.clone(),
        sealer,
        crate::settings(&cfg),
        crate::fetch_policy(&cfg),
    )
    .with_lifecycle(lifecycle)
    .with_rechecker(rechecker.clone());

    eprintln!(
        "warden demo: filling {} ...",
        warden_store::redact_url(&url)
    );
    let started = Instant::now();
    let filled = {
        let (stop, rx) = tokio::sync::watch::channel(false);
        let worker = tokio::spawn({
            let app = app.clone();
            let rx = rx.clone();
            async move { app.run_worker(rx).await }
        });
        let follower = tokio::spawn({
            let app = app.clone();
            async move { app.follow_enforcement(rx, Duration::from_millis(20)).await }
        });
        let filled = Script::new(app.clone(), clock.clone(), rechecker.clone())
            .run()
            .await;
        let _ = stop.send(true);
        let _ = worker.await;
        let _ = follower.await;
        filled?
    };
    rechecker.serving();
    eprintln!(
        "warden demo: done in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let addr = args
        .listen
        .clone()
        .unwrap_or_else(|| cfg.server.listen.clone());
    if args.no_serve {
        print_summary(&filled, &url, &format!("http://{addr}"));
        println!("Start it with (plain HTTP on this machine, so without Secure cookies):\n");
        println!(
            "    WARDEN_CONSOLE__SECURE_COOKIES=false cargo run --release -- serve{}\n",
            dir_flag(&cfg)
        );
        println!(
            "(or `warden serve`). Served that way, re-checks go to the real fetcher, which finds nothing behind the"
        );
        println!(
            "demo's names and documentation addresses: self-service unblocks then fail as \"could not confirm\"."
        );
        println!();
        app.store.close().await;
        return Ok(0);
    }
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    print_summary(&filled, &url, &format!("http://{local}"));
    println!(
        "Secure cookies are off: the demo is served over plain HTTP on this machine. Stop it with Ctrl-C;"
    );
    println!(
        "start it again with `WARDEN_CONSOLE__SECURE_COOKIES=false cargo run --release -- serve{}`.\n",
        dir_flag(&cfg)
    );
    crate::init_logging(&cfg);
    crate::serve_on(&cfg, app, listener).await
}

fn dir_flag(cfg: &Config) -> String {
    if !cfg.database.url.is_empty() {
        return " --database-url <the same URL>".into();
    }
    if cfg.server.data_dir == std::path::Path::new("./warden-data") {
        String::new()
    } else {
        format!(" --data-dir {}", cfg.server.data_dir.display())
    }
}

/// Refuses a database that already exists (SQLite) or already holds Warden's schema
/// (PostgreSQL), naming it: the demo never writes made-up cases next to real ones.
async fn refuse_unless_fresh(cfg: &Config, url: &str) -> anyhow::Result<()> {
    if let Some(path) = warden_store::sqlite_path(url) {
        if path.exists() {
            let dir = path
                .parent()
                .map_or_else(|| path.display().to_string(), |d| d.display().to_string());
            anyhow::bail!(
                "{dir} already holds a Warden database ({}); `warden demo` fills a fresh data directory only. Run it with another one, e.g. `warden demo --data-dir ./warden-demo`, or remove {dir} if it is an old demo",
                path.display()
            );
        }
        return Ok(());
    }
    let mut opts = warden_store::StoreOptions::new(url);
    opts.max_connections = cfg.database.max_connections;
    let store = warden_store::Store::connect(&opts)
        .await
        .with_context(|| format!("cannot open database {}", warden_store::redact_url(url)))?;
    let has = store.has_schema().await;
    store.close().await;
    if has? {
        anyhow::bail!(
            "the database {} already holds a Warden database; `warden demo` fills a fresh one only. Create an empty database for the demo and pass it with --database-url",
            warden_store::redact_url(url)
        );
    }
    Ok(())
}

fn print_summary(f: &Filled, url: &str, base: &str) {
    let total: i64 = f.states.iter().map(|(_, n)| n).sum();
    let states: Vec<String> = f
        .states
        .iter()
        .map(|(s, n)| format!("{} {n}", s.code()))
        .collect();
    println!();
    println!("Warden demo data in {}:", warden_store::redact_url(url));
    println!(
        "  {} tenants with {} resources; {total} cases ({});",
        f.tenants,
        f.resources,
        states.join(", ")
    );
    println!(
        "  {} tickets, {} inbox notices, {} audit events (the chain verifies: `warden audit verify`).",
        f.tickets, f.notices, f.audit_events
    );
    println!();
    println!("Console: {base}/  (sign in at {base}/login)");
    println!();
    println!(
        "  {:<11} {:<18} {:<9} what to look at",
        "login", "password", "role"
    );
    for l in &f.logins {
        println!(
            "  {:<11} {:<18} {:<9} {}",
            l.login,
            l.password,
            l.role.code(),
            l.note
        );
    }
    println!();
    println!(
        "Admin API token (Authorization: Bearer <token>; see docs/api.md): {}",
        f.admin_token
    );
    println!(
        "These passwords and the token are shown only now. Demo users need not change their password."
    );
    println!();
}

/// A password for a demo user: 16 characters from an alphabet without look-alikes.
fn password() -> anyhow::Result<String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = String::new();
    while out.len() < 16 {
        let mut b = [0u8; 32];
        getrandom::getrandom(&mut b).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        // Rejection sampling keeps every character equally likely.
        let limit = (256 / ALPHABET.len() * ALPHABET.len()) as u8;
        for x in b.iter().filter(|x| **x < limit) {
            if out.len() < 16
                && let Some(c) = ALPHABET.get(usize::from(*x) % ALPHABET.len())
            {
                out.push(char::from(*c));
            }
        }
    }
    Ok(out)
}

/// One step of the story, at its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// acme: two people report the shop's gallery page.
    GalleryReported,
    /// The operator confirms it: a first offence, alerting.
    GalleryConfirmed,
    /// The deadline passes with the page unchanged: enforced.
    GalleryDeadline,
    /// acme's self-service unblock fails: the page still violates.
    GallerySelfUnblockFails,
    /// acme asks for a manual unblock; nobody reviews it in time (overdue).
    GalleryManualRequest,
    /// lotus: a trusted detector's sure detection is confirmed and graded by the worker.
    BlogPostDetected,
    /// Its deadline passes unchanged: enforced.
    BlogPostDeadline,
    /// lotus removes the post; self-service unblock lifts everything.
    BlogPostFixedAndLifted,
    /// lotus: another general case, not a first offence: enforced at once.
    OldPostEnforced,
    /// lotus: a public report about licensed video is dismissed.
    VideoReported,
    /// The operator dismisses it.
    VideoDismissed,
    /// lotus: an unsure detection waits in triage...
    TrailerDetected,
    /// ...and is detected again (a duplicate).
    TrailerDetectedAgain,
    /// northwind: an operator opens a spam case; alerting.
    ForumSpam,
    /// northwind removes the thread before the deadline.
    ForumSpamRemoved,
    /// The deadline re-check finds it clean: resolved.
    ForumSpamDeadline,
    /// northwind's game server scans other tenants: restricted (HARM-1).
    ScanningRestricted,
    /// northwind files a ticket after cleaning the machine.
    ScanningTicket,
    /// The reviewer lifts the restriction through the ticket (HARM-2).
    ScanningLifted,
    /// northwind: a regulator's notice; enforced at once.
    RegulatorNotice,
    /// northwind deletes the content and files a ticket (UNB-4), still open.
    RegulatorTicket,
    /// acme: a gambling banner on the CDN: serious, enforced at once.
    CasinoBanner,
    /// acme asks by ticket to bring the domain back.
    CasinoTicket,
    /// The reviewer answers without lifting.
    CasinoTicketAnswered,
    /// acme: a bucket object, a destructive action with the evidence kept (PEN-4).
    BucketObject,
    /// Someone reports a phishing page nobody registered (unowned, in triage).
    PhishingUnowned,
    /// acme: three people report the same lucky draw (duplicates, in triage).
    LuckyDrawFirst,
    /// The second report.
    LuckyDrawSecond,
    /// The third report.
    LuckyDrawThird,
    /// acme: a spam-mail detection on a DNS-hosted domain, in triage.
    SpamMailDetected,
    /// globex: an unsure crawler detection on the load balancer, in triage.
    CrawlerDetected,
    /// globex: a question ticket.
    GlobexQuestion,
    /// globex: a rumour, a first offence: alerting with its deadline ahead.
    RumourAlerting,
}

/// A demo resource: id, account, product, name and identifiers (kind, value).
type ResourceSpec = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

struct Script {
    app: App,
    clock: Arc<ShiftedClock>,
    pages: Arc<DemoRechecker>,
    logins: Vec<Login>,
    cases: HashMap<&'static str, String>,
    tickets: HashMap<&'static str, String>,
    requests: HashMap<&'static str, String>,
    detector: Principal,
    resources: usize,
    tickets_filed: usize,
}

const GALLERY: &str = "https://shop.example.com/gallery/summer";
const BLOG_POST: &str = "https://blog.example.net/posts/2048";
const OLD_POST: &str = "https://blog.example.net/archive/2019/lucky-pills";
const VIDEO: &str = "https://video.example.net/v/8812";
const TRAILER: &str = "https://video.example.net/v/9001-trailer";
const FORUM: &str = "https://play.example.org/forum/thread-17";
const LEAK: &str = "https://play.example.org/news/player-list";
const CASINO: &str = "https://static.example.com/promo/casino.html";
const BUCKET_OBJECT: &str = "cos://acme-media-1250000000/uploads/banner-17.jpg";
const PHISHING: &str = "https://secure-login.example.org/verify";
const LUCKY_DRAW: &str = "https://shop.example.com/lucky-draw";
const RUMOUR: &str = "https://news.example.com/2026/breaking-story";

impl Script {
    fn new(app: App, clock: Arc<ShiftedClock>, pages: Arc<DemoRechecker>) -> Script {
        Script {
            app,
            clock,
            pages,
            logins: Vec::new(),
            cases: HashMap::new(),
            tickets: HashMap::new(),
            requests: HashMap::new(),
            detector: Principal::System,
            resources: 0,
            tickets_filed: 0,
        }
    }

    /// Plans the story around the real now, fills it, and leaves the clock at the real now.
    async fn run(mut self) -> anyhow::Result<Filled> {
        let now = SystemClock.now().millis();
        let grace = self.app.lifecycle.policy.grace_ms.max(60_000);
        let calendar = &self.app.lifecycle.calendar;
        let sla = self.app.lifecycle.review_sla_ms;
        // The manual request must be overdue now whatever the weekday or holidays: the latest
        // submission, inside working hours and at least two days ago, whose due time passed an
        // hour ago.
        let mut manual = now - 2 * DAY;
        while calendar.sla_due(Timestamp(manual), sla, 1).millis() > now - HOUR
            || calendar.working_time_between(Timestamp(manual), Timestamp(manual + HOUR)) < HOUR
        {
            manual -= HOUR;
            if manual < now - 60 * DAY {
                anyhow::bail!("the review calendar has no working time in the last 60 days");
            }
        }
        let t0 = manual - grace - 2 * DAY;
        let plan = plan(t0, now, manual, grace);
        self.clock.set_now(Timestamp(t0));
        let admin_token = self.setup().await?;
        for (at, step) in plan {
            if at > self.app.now() {
                self.clock.set_now(Timestamp(at));
            }
            self.settle().await?;
            self.step(step)
                .await
                .with_context(|| format!("demo step {step:?}"))?;
            self.settle().await?;
        }
        if now > self.app.now() {
            self.clock.set_now(Timestamp(now));
        }
        // From here on the shifted clock reads the real time.
        if SystemClock.now().millis() > self.app.now() {
            self.clock.set_now(SystemClock.now());
        }
        self.settle().await?;
        self.vulnerabilities().await?;
        self.summary(admin_token).await
    }

    /// Two confidential vulnerability reports for the security team's inbox (ASMT-4): one from
    /// a tenant, already triaged, and one from an anonymous reporter.
    async fn vulnerabilities(&self) -> anyhow::Result<()> {
        use warden_app::vulnerabilities::{VulnerabilityInput, VulnerabilityStateInput};
        use warden_domain::vulnerability::Confidential;
        let text = |t: &str| Some(Confidential::new(t));
        let r = self
            .app
            .submit_vulnerability(
                &self.who("acme")?,
                VulnerabilityInput {
                    title: text("Console session cookie readable by a script"),
                    description: text(
                        "The console's session cookie lacks HttpOnly on the legacy login page, so a script injected there could read it.",
                    ),
                    details: text("Open /legacy/login, run document.cookie in the browser console."),
                    component: text("legacy-login.provider.example"),
                    severity: Some("high".into()),
                },
            )
            .await?;
        self.app
            .set_vulnerability_state(
                &Principal::System,
                &r.id,
                VulnerabilityStateInput {
                    state: Some("triaged".into()),
                },
            )
            .await?;
        self.app
            .submit_vulnerability(
                &Principal::Anonymous {
                    ip: "198.51.100.200".into(),
                },
                VulnerabilityInput {
                    title: text("对象存储签名接口可重放"),
                    description: text("签名后的上传地址在过期后仍可使用，可被重放写入他人存储桶。"),
                    details: None,
                    component: text("203.0.113.80 (cos-sign)"),
                    severity: Some("critical".into()),
                },
            )
            .await?;
        Ok(())
    }

    /// Waits until every job due now has run and the enforcement points confirmed what is in
    /// force (so each step sees the consequences of the one before).
    async fn settle(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            self.app.job_wakeup.notify_waiters();
            let now = self.app.now();
            let due = self.app.store.next_due().await?.is_some_and(|t| t <= now);
            let running = self.app.store.job_counts().await?.running > 0;
            let open = !self.app.store.delivery_counts().await?.is_empty();
            if !due && !running && !open {
                return Ok(());
            }
            if Instant::now() > deadline {
                anyhow::bail!(
                    "the demo's jobs did not settle within a minute (jobs due: {due}, running: {running}, deliveries open: {open})"
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn setup(&mut self) -> anyhow::Result<String> {
        let app = self.app.clone();
        let sys = Principal::System;
        let token = app
            .bootstrap_admin()
            .await?
            .map(|t| t.secret)
            .unwrap_or_default();
        let accounts: [(&str, &str, &str, &str); 4] = [
            (
                "acme",
                "示例商城 Acme Shop",
                "zh-CN",
                "ops@acme.example.com",
            ),
            (
                "lotus",
                "蓝莲花传媒 Blue Lotus Media",
                "zh-CN",
                "admin@lotus.example.net",
            ),
            (
                "northwind",
                "Northwind Games",
                "en",
                "it@northwind.example.org",
            ),
            (
                "globex",
                "环球主机 Globex Hosting",
                "zh-CN",
                "noc@globex.example.com",
            ),
        ];
        for (id, name, lang, email) in accounts {
            app.create_account(
                &sys,
                AccountInput {
                    id: Some(id.into()),
                    name: Some(name.into()),
                    email: Some(email.into()),
                    phone: Some("+86 10 5555 0100".into()),
                    lang: Some(lang.into()),
                },
            )
            .await?;
        }
        let resources: [ResourceSpec; 12] = [
            (
                "acme-web",
                "acme",
                "cvm",
                "shop web server",
                &[
                    ("public_ip", "203.0.113.10"),
                    ("internal_ip", "10.0.1.10"),
                    ("domain", "shop.example.com"),
                ],
            ),
            (
                "acme-cdn",
                "acme",
                "cdn",
                "static assets (CDN)",
                &[("domain", "static.example.com")],
            ),
            (
                "acme-media",
                "acme",
                "cos",
                "product images",
                &[("bucket_key", "acme-media-1250000000")],
            ),
            (
                "acme-dns",
                "acme",
                "dns",
                "mail domain",
                &[("domain", "acme-shop.example.net")],
            ),
            (
                "lotus-blog",
                "lotus",
                "cvm",
                "blog server",
                &[
                    ("public_ip", "198.51.100.20"),
                    ("domain", "blog.example.net"),
                ],
            ),
            (
                "lotus-video",
                "lotus",
                "cdn",
                "video site (CDN)",
                &[("domain", "video.example.net")],
            ),
            (
                "lotus-vod",
                "lotus",
                "vod",
                "video on demand",
                &[("vod_id", "5285890799999000001")],
            ),
            (
                "nw-game-1",
                "northwind",
                "cvm",
                "game server 1",
                &[("public_ip", "192.0.2.30"), ("domain", "play.example.org")],
            ),
            (
                "nw-api",
                "northwind",
                "apigw",
                "player API",
                &[("apigw_service", "service-7x2k9q")],
            ),
            (
                "nw-dns",
                "northwind",
                "dnspod",
                "northwind zone",
                &[("domain", "northwind.example.org")],
            ),
            (
                "gx-vps-7",
                "globex",
                "cvm",
                "customer VPS 7",
                &[
                    ("public_ip", "203.0.113.70"),
                    ("domain", "news.example.com"),
                ],
            ),
            (
                "gx-lb",
                "globex",
                "clb",
                "load balancer",
                &[("public_ip", "203.0.113.71")],
            ),
        ];
        for (id, account, product, name, ids) in resources {
            app.create_resource(
                &sys,
                ResourceInput {
                    id: Some(id.into()),
                    account_id: Some(account.into()),
                    product: Some(product.into()),
                    name: Some(name.into()),
                    region: Some("ap-guangzhou".into()),
                    identifiers: Some(
                        ids.iter()
                            .map(|(kind, value)| IdentifierInput {
                                kind: (*kind).into(),
                                value: (*value).into(),
                            })
                            .collect(),
                    ),
                },
            )
            .await?;
            self.resources += 1;
        }
        let people: [(&str, Role, Option<&str>, bool, &str); 9] = [
            (
                "admin",
                Role::Admin,
                None,
                false,
                "everything staff see; users and keys",
            ),
            (
                "operator",
                Role::Operator,
                None,
                false,
                "/staff: the triage queue, cases, confirm, dismiss, enforce",
            ),
            (
                "reviewer",
                Role::Reviewer,
                None,
                false,
                "/staff/reviews: manual unblock requests (one overdue)",
            ),
            (
                "auditor",
                Role::Auditor,
                None,
                false,
                "/staff/audit: search, verify and export the audit log",
            ),
            (
                "security",
                Role::SecurityTeam,
                None,
                false,
                "/staff/vulnerabilities: the confidential vulnerability reports (ASMT-4)",
            ),
            (
                "acme",
                Role::Tenant,
                Some("acme"),
                true,
                "/console of 示例商城 (account owner): blocked, overdue review, tickets",
            ),
            (
                "lotus",
                Role::Tenant,
                Some("lotus"),
                false,
                "/console of 蓝莲花传媒: try the self-service unblock",
            ),
            (
                "northwind",
                Role::Tenant,
                Some("northwind"),
                false,
                "/console of Northwind Games (English notices): regulator ticket",
            ),
            (
                "globex",
                Role::Tenant,
                Some("globex"),
                false,
                "/console of 环球主机: a deadline counting down",
            ),
        ];
        for (login, role, account, owner, note) in people {
            let password = password()?;
            let u = app
                .create_user(
                    &sys,
                    NewUser {
                        login: login.into(),
                        role,
                        account_id: account.map(str::to_string),
                        account_owner: owner,
                        password: Some(password.clone()),
                    },
                )
                .await?;
            self.logins.push(Login {
                login: login.into(),
                password,
                role,
                account: account.map(str::to_string),
                note: note.into(),
                principal: Principal::Token {
                    id: u.user.id.clone(),
                    role,
                    account: u.user.account_id.clone(),
                    label: u.user.login.clone(),
                },
            });
        }
        let det = app
            .create_token(&sys, "detector", None, "content-scanner")
            .await?;
        self.detector = Principal::Token {
            id: det.token.id,
            role: Role::Detector,
            account: None,
            label: det.token.label,
        };
        Ok(token)
    }

    fn who(&self, login: &str) -> anyhow::Result<Principal> {
        self.logins
            .iter()
            .find(|l| l.login == login)
            .map(|l| l.principal.clone())
            .ok_or_else(|| anyhow::anyhow!("no demo login {login}"))
    }

    fn case(&self, key: &str) -> anyhow::Result<String> {
        self.cases
            .get(key)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("the demo has no case {key} yet"))
    }

    async fn report(
        &mut self,
        key: &'static str,
        who: &Principal,
        req: ReportRequest,
    ) -> anyhow::Result<String> {
        let r = self.app.submit_report(who, req).await?;
        // Anonymous reporters are not told the case; the store knows it.
        let case = match r.case_id {
            Some(c) => c,
            None => {
                self.app
                    .store
                    .get_report(&Scope::All, &r.report_id)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("report {} was not stored", r.report_id))?
                    .case_id
            }
        };
        self.cases.insert(key, case.clone());
        Ok(case)
    }

    fn public(ip: &str) -> Principal {
        Principal::Anonymous { ip: ip.into() }
    }

    async fn expect(&self, key: &str, state: State) -> anyhow::Result<()> {
        let id = self.case(key)?;
        let c = self.app.get_case(&Principal::System, &id).await?;
        if c.state != state {
            anyhow::bail!(
                "the demo expected case {key} ({id}) to be {state}, it is {} ({}); is the configured policy unusual?",
                c.state,
                c.state_reason.unwrap_or_default()
            );
        }
        Ok(())
    }

    async fn confirm(&self, key: &str, input: ConfirmInput) -> anyhow::Result<()> {
        let op = self.who("operator")?;
        self.app.confirm_case(&op, &self.case(key)?, input).await?;
        Ok(())
    }

    async fn ticket(
        &mut self,
        key: &'static str,
        tenant: &str,
        kind: &str,
        case: Option<&str>,
        subject: &str,
        body: &str,
    ) -> anyhow::Result<()> {
        let case_id = match case {
            Some(k) => Some(self.case(k)?),
            None => None,
        };
        let t = self
            .app
            .file_ticket(
                &self.who(tenant)?,
                TicketInput {
                    kind: Some(kind.into()),
                    case_id,
                    subject: Some(subject.into()),
                    body: Some(body.into()),
                },
            )
            .await?;
        self.tickets.insert(key, t.id);
        self.tickets_filed += 1;
        Ok(())
    }

    async fn self_unblock(&self, key: &str, tenant: &str) -> anyhow::Result<SelfUnblockOutcome> {
        let r = self
            .app
            .self_unblock(
                &self.who(tenant)?,
                &self.case(key)?,
                SelfUnblockInput {
                    commitment_confirmed: true,
                },
            )
            .await?;
        Ok(r.outcome)
    }

    async fn step(&mut self, step: Step) -> anyhow::Result<()> {
        let app = self.app.clone();
        let general = |reason: &str| ConfirmInput {
            reason: Some(reason.into()),
            ..Default::default()
        };
        match step {
            Step::GalleryReported => {
                for ip in ["198.51.100.201", "198.51.100.202"] {
                    self.report("gallery", &Self::public(ip), ReportRequest {
                        target: Some(GALLERY.into()),
                        category: Some("porn_vulgar".into()),
                        description: Some("商城的图库页面里有色情图片。 The shop's gallery shows explicit pictures.".into()),
                        evidence: Some("<html><body><h1>Summer gallery</h1><p>成人视频 免费观看</p></body></html>".into()),
                        ..Default::default()
                    })
                    .await?;
                }
            }
            Step::GalleryConfirmed => {
                self.confirm(
                    "gallery",
                    ConfirmInput {
                        reason: Some("explicit pictures confirmed on the page".into()),
                        markers: Some(vec!["成人视频".into()]),
                        ..Default::default()
                    },
                )
                .await?;
                self.expect("gallery", State::Alerting).await?;
            }
            Step::GalleryDeadline => self.expect("gallery", State::Enforced).await?,
            Step::GallerySelfUnblockFails => {
                let outcome = self.self_unblock("gallery", "acme").await?;
                if outcome != SelfUnblockOutcome::Failed {
                    anyhow::bail!("the gallery's self-service unblock should have failed");
                }
            }
            Step::GalleryManualRequest => {
                let r = app
                    .manual_unblock(&self.who("acme")?, &self.case("gallery")?)
                    .await?;
                self.requests.insert("gallery", r.id);
                self.expect("gallery", State::UnblockRequested).await?;
            }
            Step::BlogPostDetected => {
                self.report(
                    "blog_post",
                    &self.detector.clone(),
                    ReportRequest {
                        target: Some(BLOG_POST.into()),
                        category: Some("porn_vulgar".into()),
                        description: Some("content scanner: explicit images, score 0.97".into()),
                        evidence: Some("<p>成人视频 在线</p>".into()),
                        confidence: Some(0.97),
                        views: Some(3400),
                        ..Default::default()
                    },
                )
                .await?;
                self.settle().await?;
                self.expect("blog_post", State::Alerting).await?;
            }
            Step::BlogPostDeadline => self.expect("blog_post", State::Enforced).await?,
            Step::BlogPostFixedAndLifted => {
                self.pages.fix(BLOG_POST);
                let outcome = self.self_unblock("blog_post", "lotus").await?;
                if outcome != SelfUnblockOutcome::Lifted {
                    anyhow::bail!("the blog post's self-service unblock should have lifted it");
                }
                self.expect("blog_post", State::Lifted).await?;
            }
            Step::OldPostEnforced => {
                self.report(
                    "old_post",
                    &Self::public("203.0.113.250"),
                    ReportRequest {
                        target: Some(OLD_POST.into()),
                        category: Some("spam_ads".into()),
                        description: Some("博客旧文章里的保健品垃圾广告。".into()),
                        ..Default::default()
                    },
                )
                .await?;
                self.confirm(
                    "old_post",
                    ConfirmInput {
                        markers: Some(vec!["lucky pills".into()]),
                        ..general("spam advertising in an old post")
                    },
                )
                .await?;
                self.expect("old_post", State::Enforced).await?;
            }
            Step::VideoReported => {
                self.report(
                    "video",
                    &Self::public("198.51.100.77"),
                    ReportRequest {
                        target: Some(VIDEO.into()),
                        category: Some("infringement".into()),
                        description: Some("This video is a pirated copy of our film.".into()),
                        reporter_contact: Some("legal@studio.example.com".into()),
                        ..Default::default()
                    },
                )
                .await?;
            }
            Step::VideoDismissed => {
                app.dismiss(
                    &self.who("operator")?,
                    &self.case("video")?,
                    TriageInput {
                        reason: Some(
                            "the tenant holds a distribution licence for this film (checked with the rights holder)"
                                .into(),
                        ),
                    },
                )
                .await?;
                self.expect("video", State::Dismissed).await?;
            }
            Step::TrailerDetected | Step::TrailerDetectedAgain => {
                self.report(
                    "trailer",
                    &self.detector.clone(),
                    ReportRequest {
                        target: Some(TRAILER.into()),
                        category: Some("violence_terror".into()),
                        description: Some("content scanner: gore, low confidence".into()),
                        confidence: Some(if step == Step::TrailerDetected {
                            0.45
                        } else {
                            0.52
                        }),
                        ..Default::default()
                    },
                )
                .await?;
            }
            Step::ForumSpam => {
                self.report(
                    "forum",
                    &self.who("operator")?,
                    ReportRequest {
                        target: Some(FORUM.into()),
                        category: Some("spam_ads".into()),
                        description: Some(
                            "Found in a routine sweep: a forum thread full of betting-site adverts."
                                .into(),
                        ),
                        ..Default::default()
                    },
                )
                .await?;
                self.confirm(
                    "forum",
                    ConfirmInput {
                        markers: Some(vec!["best odds".into()]),
                        ..general("advert spam")
                    },
                )
                .await?;
                self.expect("forum", State::Alerting).await?;
            }
            Step::ForumSpamRemoved => self.pages.fix(FORUM),
            Step::ForumSpamDeadline => self.expect("forum", State::Resolved).await?,
            Step::ScanningRestricted => {
                self.report(
                    "scanning",
                    &self.detector.clone(),
                    ReportRequest {
                        target: Some("192.0.2.30".into()),
                        category: Some("scanning".into()),
                        description: Some(
                            "traffic monitor: 192.0.2.30 probed port 22 on 4,096 addresses of other tenants in 10 minutes"
                                .into(),
                        ),
                        confidence: Some(0.8),
                        ..Default::default()
                    },
                )
                .await?;
                app.enforce_case(
                    &self.who("operator")?,
                    &self.case("scanning")?,
                    EnforceInput {
                        actions: Some(vec!["block_network".into()]),
                        no_unblock: false,
                        reason: Some("outbound SSH scanning of other tenants (HARM-1)".into()),
                    },
                )
                .await?;
                self.expect("scanning", State::Enforced).await?;
            }
            Step::ScanningTicket => {
                self.ticket(
                    "scanning",
                    "northwind",
                    "harmful_behaviour",
                    Some("scanning"),
                    "Game server cleaned",
                    "A leaked SSH key let someone install a scanner. We rebuilt the server from a clean image and rotated every key. Please restore its network access.",
                )
                .await?;
            }
            Step::ScanningLifted => {
                let id = self.tickets.get("scanning").cloned().unwrap_or_default();
                app.close_ticket(
                    &self.who("reviewer")?,
                    &id,
                    CloseTicketInput {
                        resolution: Some(
                            "Checked: no more outbound scanning since the rebuild. Network access restored."
                                .into(),
                        ),
                        lift: true,
                    },
                )
                .await?;
                self.expect("scanning", State::Lifted).await?;
            }
            Step::RegulatorNotice => {
                self.report(
                    "leak",
                    &self.who("operator")?,
                    ReportRequest {
                        target: Some(LEAK.into()),
                        category: Some("privacy".into()),
                        description: Some(
                            "网信办通知：该页面公开了玩家的姓名、手机号和身份证号。".into(),
                        ),
                        source: Some("regulator".into()),
                        regulator: Some(RegulatorNotice {
                            authority: "网信办".into(),
                            document_number: "网信函〔2026〕58号".into(),
                            legal_basis: "《中华人民共和国个人信息保护法》第十条".into(),
                        }),
                        ..Default::default()
                    },
                )
                .await?;
                self.confirm(
                    "leak",
                    general("regulator notice; personal data of players"),
                )
                .await?;
                self.expect("leak", State::Enforced).await?;
            }
            Step::RegulatorTicket => {
                self.ticket(
                    "leak",
                    "northwind",
                    "regulator",
                    Some("leak"),
                    "Player list deleted",
                    "We deleted the page and the database export behind it, and informed the affected players. May play.example.org be unblocked, and what else is needed?",
                )
                .await?;
            }
            Step::CasinoBanner => {
                self.report(
                    "casino",
                    &Self::public("203.0.113.251"),
                    ReportRequest {
                        target: Some(CASINO.into()),
                        category: Some("gambling".into()),
                        description: Some("CDN 上的赌场广告横幅。".into()),
                        evidence: Some("<div class=banner>在线赌场 首充送 100%</div>".into()),
                        ..Default::default()
                    },
                )
                .await?;
                self.confirm("casino", general("online casino advertising"))
                    .await?;
                self.expect("casino", State::Enforced).await?;
            }
            Step::CasinoTicket => {
                self.ticket(
                    "casino",
                    "acme",
                    "unblock",
                    Some("casino"),
                    "static.example.com 恢复加速",
                    "横幅是第三方广告平台投放的，已经删除并停用该平台。请恢复 static.example.com 的加速。",
                )
                .await?;
            }
            Step::CasinoTicketAnswered => {
                let id = self.tickets.get("casino").cloned().unwrap_or_default();
                app.close_ticket(
                    &self.who("reviewer")?,
                    &id,
                    CloseTicketInput {
                        resolution: Some(
                            "赌博内容属于严重违规，加速域名下线不能通过控制台解封。请在 30 天后提交复核工单。 Serious cases are not unblocked early; file a review ticket in 30 days."
                                .into(),
                        ),
                        lift: false,
                    },
                )
                .await?;
            }
            Step::BucketObject => {
                self.report(
                    "bucket",
                    &self.who("operator")?,
                    ReportRequest {
                        target: Some(BUCKET_OBJECT.into()),
                        category: Some("porn_vulgar".into()),
                        description: Some(
                            "An explicit image uploaded to the product-image bucket.".into(),
                        ),
                        evidence: Some(
                            "image/jpeg banner-17.jpg, 412 KiB, reviewed by the operator".into(),
                        ),
                        ..Default::default()
                    },
                )
                .await?;
                self.confirm("bucket", general("explicit image in a public bucket"))
                    .await?;
                self.expect("bucket", State::Enforced).await?;
            }
            Step::PhishingUnowned => {
                self.report(
                    "phishing",
                    &Self::public("198.51.100.90"),
                    ReportRequest {
                        target: Some(PHISHING.into()),
                        category: Some("fraud_phishing".into()),
                        description: Some("A fake bank login page sent to me by SMS.".into()),
                        reporter_contact: Some("+86 139 0000 0000".into()),
                        ..Default::default()
                    },
                )
                .await?;
            }
            Step::LuckyDrawFirst | Step::LuckyDrawSecond | Step::LuckyDrawThird => {
                let (ip, text) = match step {
                    Step::LuckyDrawFirst => (
                        "198.51.100.11",
                        "抽奖页面要求先付“手续费”才能领奖，是骗局。",
                    ),
                    Step::LuckyDrawSecond => {
                        ("198.51.100.12", "I paid the 'fee' and never got the prize.")
                    }
                    _ => ("198.51.100.13", "又一个人被骗了，请处理。"),
                };
                self.report(
                    "lucky_draw",
                    &Self::public(ip),
                    ReportRequest {
                        target: Some(LUCKY_DRAW.into()),
                        category: Some("fraud".into()),
                        description: Some(text.into()),
                        views: Some(12_000),
                        ..Default::default()
                    },
                )
                .await?;
            }
            Step::SpamMailDetected => {
                self.report(
                    "spam_mail",
                    &self.detector.clone(),
                    ReportRequest {
                        target: Some("mail.acme-shop.example.net".into()),
                        category: Some("spam_mail".into()),
                        description: Some(
                            "mail monitor: 18,000 messages to unknown recipients in an hour".into(),
                        ),
                        confidence: Some(0.7),
                        ..Default::default()
                    },
                )
                .await?;
            }
            Step::CrawlerDetected => {
                self.report(
                    "crawler",
                    &self.detector.clone(),
                    ReportRequest {
                        target: Some("203.0.113.71".into()),
                        category: Some("malicious_crawler".into()),
                        description: Some(
                            "traffic monitor: 900 requests per second to one tenant's shop".into(),
                        ),
                        confidence: Some(0.6),
                        ..Default::default()
                    },
                )
                .await?;
            }
            Step::GlobexQuestion => {
                self.ticket(
                    "question",
                    "globex",
                    "question",
                    None,
                    "Stress test next week",
                    "We want to load-test our own load balancer 203.0.113.71 next Tuesday. What do we need to file?",
                )
                .await?;
            }
            Step::RumourAlerting => {
                self.report(
                    "rumour",
                    &Self::public("203.0.113.252"),
                    ReportRequest {
                        target: Some(RUMOUR.into()),
                        category: Some("rumor".into()),
                        description: Some("编造的地震预警消息，正在被大量转发。".into()),
                        ..Default::default()
                    },
                )
                .await?;
                self.confirm(
                    "rumour",
                    ConfirmInput {
                        markers: Some(vec!["地震预警".into()]),
                        ..general("fabricated earthquake warning")
                    },
                )
                .await?;
                self.expect("rumour", State::Alerting).await?;
            }
        }
        Ok(())
    }

    async fn summary(self, admin_token: String) -> anyhow::Result<Filled> {
        let store = &self.app.store;
        let mut states = Vec::new();
        for s in State::ALL {
            let n = store
                .count_cases(
                    &Scope::All,
                    &CaseFilter {
                        state: Some(s),
                        ..Default::default()
                    },
                )
                .await?;
            if n > 0 {
                states.push((s, n));
            }
        }
        let tenants: BTreeMap<&str, ()> = self
            .logins
            .iter()
            .filter_map(|l| l.account.as_deref().map(|a| (a, ())))
            .collect();
        let mut notices = 0;
        for a in tenants.keys() {
            notices += store
                .count_unread_notices(&Scope::Account((*a).to_string()))
                .await?;
        }
        let audit_events = self.app.verify_audit(&Principal::System).await?.checked;
        Ok(Filled {
            tenants: tenants.len(),
            logins: self.logins,
            admin_token,
            states,
            resources: self.resources,
            tickets: self.tickets_filed,
            notices,
            audit_events,
        })
    }
}

/// The story's steps at their times: `t0` a few days ago, `manual` the overdue manual
/// request, `now` the real now, `grace` the configured alerting period.
fn plan(t0: i64, now: i64, manual: i64, grace: i64) -> Vec<(i64, Step)> {
    let minute = 60_000;
    let mut p = vec![
        (t0 + HOUR, Step::GalleryReported),
        (t0 + 2 * HOUR, Step::GalleryConfirmed),
        (t0 + 2 * HOUR + grace + minute, Step::GalleryDeadline),
        (t0 + 4 * HOUR + grace, Step::GallerySelfUnblockFails),
        (manual, Step::GalleryManualRequest),
        (t0 + 3 * HOUR, Step::BlogPostDetected),
        (t0 + 3 * HOUR + grace + minute, Step::BlogPostDeadline),
        (t0 + 9 * HOUR + grace, Step::BlogPostFixedAndLifted),
        (t0 + 11 * HOUR + grace, Step::OldPostEnforced),
        (t0 + DAY + HOUR, Step::VideoReported),
        (t0 + DAY + 3 * HOUR, Step::VideoDismissed),
        (t0 + DAY + HOUR + minute, Step::TrailerDetected),
        (t0 + DAY + 5 * HOUR, Step::TrailerDetectedAgain),
        (t0 + 4 * HOUR, Step::ForumSpam),
        (t0 + 4 * HOUR + grace / 2, Step::ForumSpamRemoved),
        (t0 + 4 * HOUR + grace + minute, Step::ForumSpamDeadline),
        (t0 + 2 * DAY, Step::ScanningRestricted),
        (t0 + 2 * DAY + 5 * HOUR, Step::ScanningTicket),
        (t0 + 3 * DAY, Step::ScanningLifted),
        (manual - DAY, Step::RegulatorNotice),
        (manual - DAY + 4 * HOUR, Step::RegulatorTicket),
        (t0 + DAY, Step::CasinoBanner),
        (t0 + DAY + 6 * HOUR, Step::CasinoTicket),
        (t0 + 2 * DAY + 2 * HOUR, Step::CasinoTicketAnswered),
        (t0 + 2 * DAY + 8 * HOUR, Step::BucketObject),
        (now - 6 * HOUR, Step::PhishingUnowned),
        (now - 5 * HOUR, Step::LuckyDrawFirst),
        (now - 4 * HOUR, Step::LuckyDrawSecond),
        (now - 2 * HOUR - 30 * minute, Step::LuckyDrawThird),
        (now - 3 * HOUR, Step::SpamMailDetected),
        (now - HOUR, Step::CrawlerDetected),
        (now - 2 * HOUR, Step::GlobexQuestion),
        (now - (grace / 8).min(3 * HOUR), Step::RumourAlerting),
    ];
    p.sort_by_key(|(at, _)| *at);
    p
}
