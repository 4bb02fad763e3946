//! `warden bench intake`: report intake throughput over real HTTP against an in-process server on
//! a fresh database, one request per report and batched, beside a `/healthz` baseline measured
//! in the same run. Prints figures; asserts nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;
use warden_app::Settings;
use warden_app::auth::Principal;
use warden_app::clock::SystemClock;
use warden_app::crypto::Sealer;
use warden_app::recheck::FetchPolicy;
use warden_app::registry::{AccountInput, IdentifierInput, ResourceInput};
use warden_store::testing::PgDatabase;
use warden_store::{Store, StoreOptions};

mod console;
mod flows;
mod mail;
pub use console::{ConsoleArgs, console};
pub use flows::{FlowsArgs, flows};

/// Options of `warden bench timers`.
#[derive(Debug, clap::Args)]
pub struct TimerArgs {
    /// Timers to arm.
    #[arg(long, default_value_t = 1_000_000)]
    timers: usize,
    /// Timers falling due per second.
    #[arg(long, default_value_t = 10_000)]
    rate: usize,
    /// Engines to measure: `sqlite`, `postgres` or `both`.
    #[arg(long, default_value = "both")]
    engine: String,
}

/// LIFE-4 at scale: arm `timers` timers falling due `rate` per second, run the job worker, and
/// print the lag between due time and firing. The schedule is armed for a fixed epoch and
/// replayed in real time through a shifted clock, so arming time does not count as lag.
pub async fn timers(args: TimerArgs) -> anyhow::Result<()> {
    if !["sqlite", "postgres", "both"].contains(&args.engine.as_str()) {
        anyhow::bail!("--engine must be sqlite, postgres or both");
    }
    if args.rate == 0 || args.timers == 0 {
        anyhow::bail!("--timers and --rate must be positive");
    }
    println!(
        "warden bench timers: {} timers, {} falling due per second",
        args.timers, args.rate
    );
    let dir = tempfile::tempdir()?;
    if args.engine != "postgres" {
        run_timers(
            "sqlite",
            &format!("sqlite://{}/timers.db", dir.path().display()),
            &args,
        )
        .await?;
    }
    if args.engine != "sqlite" {
        match PgDatabase::create().await {
            Some(pg) => {
                let r = run_timers("postgres", &pg.url, &args).await;
                pg.drop_db().await;
                r?;
            }
            None => {
                println!("postgres: skipped (no server reachable; set WARDEN_TEST_DATABASE_URL)")
            }
        }
    }
    Ok(())
}

async fn run_timers(engine: &str, url: &str, args: &TimerArgs) -> anyhow::Result<()> {
    const T0: i64 = 1_000_000_000_000;
    let store = Store::open(&StoreOptions::new(url)).await?;
    let armed = Instant::now();
    let step = 1000.0 / args.rate as f64;
    let mut n = 0;
    while n < args.timers {
        let end = (n + 20_000).min(args.timers);
        let batch: Vec<(String, warden_store::jobs::NewJob)> = (n..end)
            .map(|i| {
                let job = warden_store::jobs::NewJob {
                    kind: warden_store::jobs::JobKind::DiagPing,
                    payload: "{}".into(),
                    run_at: T0 + 2_000 + (i as f64 * step) as i64,
                    dedup_key: Some(format!("deadline:bench_{i}")),
                    max_attempts: 3,
                };
                (format!("job_{i:09}"), job)
            })
            .collect();
        let mut tx = store.begin_write().await?;
        tx.insert_jobs(&batch, T0).await?;
        tx.commit().await?;
        n = end;
    }
    let arm_secs = armed.elapsed().as_secs_f64();
    let clock = Arc::new(warden_app::clock::ShiftedClock::default());
    let settings = Settings {
        job_batch: 1000,
        job_poll_ms: 20,
        job_lease_ms: 120_000,
        node_id: format!("bench-{engine}"),
        ..Settings::default()
    };
    let app = crate::wire(
        store.clone(),
        clock.clone(),
        Sealer::from_key(&[42; 32]),
        settings,
        FetchPolicy::default(),
    );
    clock.set_now(warden_domain::time::Timestamp(T0));
    let started = Instant::now();
    let (stop, rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn({
        let app = app.clone();
        async move { app.run_worker(rx).await }
    });
    let expected = Duration::from_secs_f64(args.timers as f64 / args.rate as f64 + 2.0);
    tokio::time::sleep(expected).await;
    let deadline = Instant::now() + Duration::from_secs(600);
    while store.has_unfinished_jobs().await? {
        if Instant::now() > deadline {
            anyhow::bail!("timers did not all fire within 10 minutes of their schedule");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let run_secs = started.elapsed().as_secs_f64();
    let _ = stop.send(true);
    let _ = worker.await;
    let mut lags = store.job_lags().await?;
    lags.sort_unstable();
    let pct = |p: f64| {
        lags.get(((lags.len() as f64 * p) as usize).min(lags.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!("{engine}:");
    println!(
        "  armed {} timers in {arm_secs:.1} s ({:.0}/s)",
        args.timers,
        args.timers as f64 / arm_secs
    );
    println!(
        "  schedule {:.1} s, all fired after {run_secs:.1} s; fired {}",
        expected.as_secs_f64() - 2.0,
        lags.len()
    );
    println!(
        "  lag due→fired: median {} ms, p99 {} ms, max {} ms (goal: p99 <= 1000 ms)",
        pct(0.5),
        pct(0.99),
        lags.last().copied().unwrap_or_default()
    );
    store.close().await;
    Ok(())
}

/// Options of `warden bench intake`.
#[derive(Debug, clap::Args)]
pub struct IntakeArgs {
    /// Reports sent one per request (and `/healthz` requests for the baseline).
    #[arg(long, default_value_t = 20_000)]
    single: usize,
    /// Reports sent in batches.
    #[arg(long, default_value_t = 50_000)]
    batched: usize,
    /// E-mails (ARF feedback reports) sent one per request.
    #[arg(long, default_value_t = 2_000)]
    mails: usize,
    /// Reports per batch request.
    #[arg(long, default_value_t = 500)]
    batch_size: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Engines to measure: `sqlite`, `postgres` or `both`.
    #[arg(long, default_value = "both")]
    engine: String,
    /// PostgreSQL server to create the throw-away database on (default:
    /// WARDEN_TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres).
    #[arg(long)]
    pg_url: Option<String>,
    /// One transaction per single report, as without `intake.group_commit`.
    #[arg(long)]
    no_group_commit: bool,
    /// `intake.group_commit_writers` (PostgreSQL; SQLite always runs one).
    #[arg(long)]
    group_commit_writers: Option<usize>,
    /// `intake.group_commit_linger_ms`: how long a writer waits for more after a group's
    /// first report.
    #[arg(long, default_value_t = 0)]
    group_commit_linger_ms: u64,
}

struct Figures {
    rate: f64,
    p50: Duration,
    p99: Duration,
}

/// One measured row of the intake table: what was sent, how it went, and the goal in
/// reports/s if there is one. A new door (e-mail, IODEF) is one more row.
struct Row {
    label: String,
    /// What `rate` counts: `reports/s`, `mails/s`.
    unit: &'static str,
    figures: Figures,
    goal: Option<f64>,
}

/// Prints `rows` beside the same run's `/healthz` baseline.
fn print_rows(baseline: &Figures, rows: &[Row]) {
    println!(
        "  {:<34} {:>10} {:<10} {:>9} {:>9} {:>11}  goal",
        "", "rate", "", "p50", "p99", "of /healthz"
    );
    println!(
        "  {:<34} {:>10.0} {:<10} {:>9.2?} {:>9.2?}",
        "GET /healthz (baseline)", baseline.rate, "req/s", baseline.p50, baseline.p99
    );
    for r in rows {
        let goal = match r.goal {
            Some(g) if r.figures.rate >= g => format!(">= {g:.0}/s: met"),
            Some(g) => format!(">= {g:.0}/s: NOT met"),
            None => String::new(),
        };
        println!(
            "  {:<34} {:>10.0} {:<10} {:>9.2?} {:>9.2?} {:>10.1}%  {goal}",
            r.label,
            r.figures.rate,
            r.unit,
            r.figures.p50,
            r.figures.p99,
            100.0 * r.figures.rate / baseline.rate.max(1.0)
        );
    }
}

pub async fn intake(args: IntakeArgs) -> anyhow::Result<()> {
    println!(
        "warden bench intake: {} single, {} batched ({} per request), {} clients, correlation on, group commit {}",
        args.single,
        args.batched,
        args.batch_size,
        args.concurrency,
        if args.no_group_commit {
            "off".to_string()
        } else {
            format!("on (linger {} ms)", args.group_commit_linger_ms)
        }
    );
    if !["sqlite", "postgres", "both"].contains(&args.engine.as_str()) {
        anyhow::bail!("--engine must be sqlite, postgres or both");
    }
    let dir = tempfile::tempdir()?;
    let sqlite_url = format!("sqlite://{}/bench.db", dir.path().display());
    if args.engine != "postgres" {
        run_engine("sqlite", &sqlite_url, &args).await?;
    }
    if args.engine != "sqlite" {
        let pg = match &args.pg_url {
            Some(url) => PgDatabase::create_on(url).await,
            None => PgDatabase::create().await,
        };
        match pg {
            Some(pg) => {
                let r = run_engine("postgres", &pg.url, &args).await;
                pg.drop_db().await;
                r?;
            }
            None => {
                println!(
                    "postgres: skipped (no server reachable; pass --pg-url or set WARDEN_TEST_DATABASE_URL)"
                )
            }
        }
    }
    Ok(())
}

async fn run_engine(engine: &str, url: &str, args: &IntakeArgs) -> anyhow::Result<()> {
    let mut opts = StoreOptions::new(url);
    opts.max_connections = 16;
    let store = Store::open(&opts).await?;
    let mut group_commit = warden_app::group_commit::GroupCommitSettings {
        enabled: !args.no_group_commit,
        linger_ms: args.group_commit_linger_ms,
        ..Default::default()
    };
    if let Some(w) = args.group_commit_writers {
        group_commit.writers = w;
    }
    group_commit.validate().map_err(|e| anyhow::anyhow!(e))?;
    let settings = Settings {
        max_batch: args.batch_size.max(1),
        group_commit,
        ..Settings::default()
    };
    let app = crate::wire(
        store,
        Arc::new(SystemClock),
        Sealer::from_key(&[42; 32]),
        settings,
        FetchPolicy::default(),
    );
    let sys = Principal::System;
    app.create_account(
        &sys,
        AccountInput {
            id: Some("bench".into()),
            name: Some("Bench".into()),
            ..Default::default()
        },
    )
    .await?;
    for i in 0..100 {
        let ids = vec![IdentifierInput {
            kind: "domain".into(),
            value: format!("site{i}.example.com"),
        }];
        let r = ResourceInput {
            account_id: Some("bench".into()),
            product: Some("cvm".into()),
            identifiers: Some(ids),
            ..Default::default()
        };
        app.create_resource(&sys, r).await?;
    }
    let token = app
        .create_token(&sys, "detector", None, "bench")
        .await?
        .secret;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, mut rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(warden_http::serve(listener, app.clone(), async move {
        let _ = rx.changed().await;
    }));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;

    let baseline = drive(
        args.single,
        args.concurrency,
        |_| client.get(format!("{base}/healthz")),
        1,
    )
    .await?;
    let report = |n: usize| {
        // 1 in 4 reports repeats the one before's (target, category): the duplicate path of
        // INT-4, often inside one group or batch. (Until issue 14 the bench said so of a
        // formula that almost never repeated a target.)
        let k = if n % 4 == 3 { n - 1 } else { n };
        json!({ "target": format!("https://site{}.example.com/p/{k}", k % 100), "category": "gambling", "evidence": "<html>casino</html>", "confidence": 0.5 })
    };
    let single = drive(
        args.single,
        args.concurrency,
        |n| {
            client
                .post(format!("{base}/api/reports"))
                .bearer_auth(&token)
                .json(&report(n))
        },
        1,
    )
    .await?;
    let batches = args.batched.div_ceil(args.batch_size.max(1));
    let batched = drive(
        batches,
        args.concurrency.min(4),
        |b| {
            let items: Vec<_> = (0..args.batch_size)
                .map(|i| report(1_000_000 + b * args.batch_size + i))
                .collect();
            client
                .post(format!("{base}/api/reports/batch"))
                .bearer_auth(&token)
                .json(&json!({ "reports": items }))
        },
        args.batch_size,
    )
    .await?;
    // The e-mail row: a typical ARF feedback report per request, each a new message.
    let mails = drive(
        args.mails,
        args.concurrency,
        |n| {
            client
                .post(format!("{base}/api/reports/mail"))
                .bearer_auth(&token)
                .header("content-type", "message/rfc822")
                .body(mail::arf_message(n))
        },
        1,
    )
    .await?;
    let stored = app.store.count_reports().await?;
    let rows = [
        Row {
            label: "POST /api/reports (single)".into(),
            unit: "reports/s",
            figures: single,
            goal: Some(10_000.0),
        },
        Row {
            label: format!("POST /api/reports/batch ({} each)", args.batch_size),
            unit: "reports/s",
            figures: batched,
            goal: Some(50_000.0),
        },
        Row {
            label: "POST /api/reports/mail (ARF, 2 KiB)".into(),
            unit: "mails/s",
            figures: mails,
            goal: None,
        },
    ];
    println!("{engine}:");
    print_rows(&baseline, &rows);
    let g = app.metrics.intake_groups();
    if g.groups > 0 {
        println!(
            "  single reports: {} transactions, {:.1} reports each on average, {} retried one by one",
            g.groups,
            g.reports as f64 / g.groups as f64,
            g.retried
        );
    }
    println!("  reports stored: {stored}");
    let _ = stop.send(true);
    let _ = server.await;
    app.close_intake().await;
    app.store.close().await;
    Ok(())
}

/// Sends `n` requests from `concurrency` clients; `per` reports per request.
async fn drive<F>(n: usize, concurrency: usize, make: F, per: usize) -> anyhow::Result<Figures>
where
    F: Fn(usize) -> reqwest::RequestBuilder + Send + Sync,
{
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let workers = (0..concurrency.max(1)).map(|_| async {
        let mut lat = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= n {
                break;
            }
            let t = Instant::now();
            let resp = make(i).send().await.context("request failed")?;
            let status = resp.status();
            let _ = resp.bytes().await;
            if !status.is_success() {
                anyhow::bail!("unexpected status {status}");
            }
            lat.push(t.elapsed());
        }
        Ok::<_, anyhow::Error>(lat)
    });
    let mut all = Vec::with_capacity(n);
    for r in futures_join(workers).await {
        all.extend(r?);
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Ok(Figures {
        rate: (n * per) as f64 / secs,
        p50: pct(0.50),
        p99: pct(0.99),
    })
}

/// Runs futures concurrently on this task and collects their results in order.
async fn futures_join<I, F, T>(futs: I) -> Vec<T>
where
    I: Iterator<Item = F>,
    F: std::future::Future<Output = T>,
{
    let mut set: Vec<std::pin::Pin<Box<F>>> = futs.map(Box::pin).collect();
    let mut out: Vec<Option<T>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out.get(i).is_some_and(Option::is_none) {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        if let Some(slot) = out.get_mut(i) {
                            *slot = Some(v);
                        }
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// Options of `warden bench decision`.
#[derive(Debug, clap::Args)]
pub struct DecisionArgs {
    /// wrk duration in seconds per run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// wrk connections.
    #[arg(long, default_value_t = 64)]
    connections: u32,
    /// Rules in force (half blocked URLs, half blocked hosts).
    #[arg(long, default_value_t = 100_000)]
    rules: usize,
}

/// ENF-1 over HTTP: the check endpoint under `wrk`, beside nginx serving a static 200 measured
/// in the same run with the same settings. Needs Debian's `wrk` and `nginx`.
pub async fn decision(args: DecisionArgs) -> anyhow::Result<()> {
    use std::process::Command;
    for (bin, pkg) in [("/usr/bin/wrk", "wrk"), ("/usr/sbin/nginx", "nginx-light")] {
        if !std::path::Path::new(bin).exists() {
            anyhow::bail!("{bin} is missing: apt-get install {pkg}");
        }
    }
    let dir = tempfile::tempdir()?;
    let store = Store::open(&StoreOptions::new(format!(
        "sqlite://{}/d.db",
        dir.path().display()
    )))
    .await?;
    let app = crate::wire(
        store,
        Arc::new(SystemClock),
        Sealer::from_key(&[42; 32]),
        Settings::default(),
        FetchPolicy::default(),
    );
    let changes: Vec<warden_enforce::index::Change> = (0..args.rules)
        .map(|i| {
            let kind = if i % 2 == 0 {
                warden_enforce::index::RuleKind::parse(
                    "url_exact",
                    &format!("http://site{}.example/p/{i}", i % 1000),
                )
            } else {
                warden_enforce::index::RuleKind::parse("host", &format!("h{i}.example"))
            };
            kind.map(|kind| {
                warden_enforce::index::Change::Add(warden_enforce::index::Rule {
                    id: format!("act_{i}"),
                    kind,
                    action: "block_url".into(),
                    case_id: format!("case_{i}"),
                    notice: None,
                })
            })
        })
        .collect::<Result<_, _>>()?;
    let built = Instant::now();
    app.index.apply(changes);
    println!(
        "warden bench decision: {} rules loaded in {:.2?}; wrk -t2 -c{} -d{}s",
        args.rules,
        built.elapsed(),
        args.connections,
        args.seconds
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let warden = listener.local_addr()?;
    let (stop, mut rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(warden_http::serve_checks(
        listener,
        app.clone(),
        async move {
            let _ = rx.changed().await;
        },
    ));
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let d = dir.path().display();
    std::fs::create_dir_all(dir.path().join("logs"))?;
    std::fs::write(dir.path().join("index.html"), "ok")?;
    std::fs::write(
        dir.path().join("nginx.conf"),
        format!(
            "master_process off;\nworker_processes 1;\nerror_log {d}/logs/error.log warn;\npid {d}/nginx.pid;\nevents {{ worker_connections 1024; }}\nhttp {{ access_log off; client_body_temp_path {d}/b; proxy_temp_path {d}/p; fastcgi_temp_path {d}/f; uwsgi_temp_path {d}/u; scgi_temp_path {d}/s;\n server {{ listen 127.0.0.1:{port}; location / {{ root {d}; }} }} }}\n"
        ),
    )?;
    let mut nginx = Command::new("/usr/sbin/nginx")
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .arg("-g")
        .arg("daemon off;")
        .spawn()?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let wrk = |url: String, headers: &[&str]| -> anyhow::Result<(f64, String)> {
        let mut c = Command::new("/usr/bin/wrk");
        c.args([
            "-t2",
            &format!("-c{}", args.connections),
            &format!("-d{}s", args.seconds),
            "--latency",
        ]);
        for h in headers {
            c.args(["-H", h]);
        }
        let out = String::from_utf8_lossy(&c.arg(url).output()?.stdout).to_string();
        let rps = out
            .lines()
            .find_map(|l| l.strip_prefix("Requests/sec:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0);
        let p99 = out
            .lines()
            .find(|l| l.trim_start().starts_with("99%"))
            .map(|l| l.trim().trim_start_matches("99%").trim().to_string())
            .unwrap_or_default();
        Ok((rps, p99))
    };
    let (n_rps, n_p99) = wrk(format!("http://127.0.0.1:{port}/index.html"), &[])?;
    let (w_miss, w_miss_p99) = wrk(
        format!("http://{warden}/api/enforcement/check"),
        &[
            "X-Original-URI: /not/blocked",
            "X-Original-Host: www.example.com",
        ],
    )?;
    let (w_hit, w_hit_p99) = wrk(
        format!("http://{warden}/api/enforcement/check"),
        &["X-Original-URI: /p/0", "X-Original-Host: site0.example"],
    )?;
    println!("  nginx static 200                 {n_rps:>10.0} req/s  p99 {n_p99}");
    println!(
        "  warden check (allowed)           {w_miss:>10.0} req/s  p99 {w_miss_p99}  ({:.0}% of nginx)",
        100.0 * w_miss / n_rps.max(1.0)
    );
    println!(
        "  warden check (blocked, 403)      {w_hit:>10.0} req/s  p99 {w_hit_p99}  ({:.0}% of nginx)",
        100.0 * w_hit / n_rps.max(1.0)
    );
    println!("  goal: >= 80% of nginx's static req/s, p99 <= 5 ms");
    let _ = nginx.kill();
    let _ = nginx.wait();
    let _ = stop.send(true);
    let _ = server.await;
    Ok(())
}
