//! `warden bench console` (issue 10 item 8): the console's busiest pages over real HTTP on a
//! database of a million cases, beside the same reads through the JSON API in the same run.
//!
//! The data is bulk-inserted through the store (accounts, one resource each, cases with one
//! report, their audit events and an inbox notice per graded case, so that a case page's
//! history and a tenant's inbox have realistic tables to search), then an in-process server is
//! started and each page is fetched one request at a time, signed in as a person would be
//! (`POST /login` with the CSRF token of `GET /login`).
//! On PostgreSQL the fill ends with `VACUUM ANALYZE`, as autovacuum would soon after such a
//! load. Prints p50/p99 per page; asserts nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use warden_app::Settings;
use warden_app::auth::Principal;
use warden_app::clock::{Clock, SystemClock};
use warden_app::crypto::Sealer;
use warden_app::people::NewUser;
use warden_app::recheck::FetchPolicy;
use warden_domain::identity::Role;
use warden_domain::lifecycle::{NoticeKind, State};
use warden_domain::resource::Product;
use warden_domain::taxonomy::Category;
use warden_store::accounts::Account;
use warden_store::audit::NewAuditEvent;
use warden_store::lifecycle::Notice;
use warden_store::reports::{Case, Report};
use warden_store::resources::Resource;
use warden_store::testing::PgDatabase;
use warden_store::{Store, StoreOptions};

/// Options of `warden bench console`.
#[derive(Debug, clap::Args)]
pub struct ConsoleArgs {
    /// Cases to fill.
    #[arg(long, default_value_t = 1_000_000)]
    cases: usize,
    /// Tenant accounts the cases belong to (one of them, the "large tenant", holds 1% of them).
    #[arg(long, default_value_t = 3_000)]
    accounts: usize,
    /// Requests per measured page (fewer when a page is so slow that 30 s pass first).
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// Engines to measure: `sqlite`, `postgres` or `both`.
    #[arg(long, default_value = "both")]
    engine: String,
    /// PostgreSQL server to create the throw-away database on (default:
    /// WARDEN_TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres).
    #[arg(long)]
    pg_url: Option<String>,
}

const PASSWORD: &str = "bench console password";

/// The states of the filled cases, by weight out of 100.
const STATES: [(State, usize); 7] = [
    (State::Reported, 15),
    (State::Alerting, 5),
    (State::Enforced, 25),
    (State::UnblockRequested, 3),
    (State::Lifted, 25),
    (State::Resolved, 17),
    (State::Dismissed, 10),
];

const CATEGORIES: [Category; 5] = [
    Category::PornVulgar,
    Category::Gambling,
    Category::SpamAds,
    Category::Fraud,
    Category::Rumor,
];

pub async fn console(args: ConsoleArgs) -> anyhow::Result<()> {
    if !["sqlite", "postgres", "both"].contains(&args.engine.as_str()) {
        anyhow::bail!("--engine must be sqlite, postgres or both");
    }
    if args.cases == 0 || args.accounts < 2 || args.requests == 0 {
        anyhow::bail!("--cases and --requests must be positive, --accounts at least 2");
    }
    println!(
        "warden bench console: {} cases over {} accounts, {} requests per page, one at a time",
        args.cases, args.accounts, args.requests
    );
    let dir = tempfile::tempdir()?;
    if args.engine != "postgres" {
        run(
            "sqlite",
            &format!("sqlite://{}/console.db", dir.path().display()),
            &args,
        )
        .await?;
    }
    if args.engine != "sqlite" {
        let pg = match &args.pg_url {
            Some(url) => PgDatabase::create_on(url).await,
            None => PgDatabase::create().await,
        };
        match pg {
            Some(pg) => {
                let r = run("postgres", &pg.url, &args).await;
                pg.drop_db().await;
                r?;
            }
            None => println!(
                "postgres: skipped (no server reachable; pass --pg-url or set WARDEN_TEST_DATABASE_URL)"
            ),
        }
    }
    Ok(())
}

fn account_id(a: usize) -> String {
    format!("t{a:05}")
}

/// The account of case `i`: one in a hundred belongs to the large tenant `t00000`, the rest
/// spread over the others.
fn account_of(i: usize, accounts: usize) -> usize {
    if i.is_multiple_of(100) {
        0
    } else {
        1 + (i.wrapping_mul(2_654_435_761) >> 7) % (accounts - 1)
    }
}

fn state_of(i: usize) -> State {
    let mut k = (i.wrapping_mul(40_503) >> 3) % 100;
    for (s, w) in STATES {
        if k < w {
            return s;
        }
        k -= w;
    }
    State::Lifted
}

/// Bulk-fills accounts, resources, cases, reports and audit events; returns the case ids.
async fn fill(store: &Store, args: &ConsoleArgs, t0: i64) -> anyhow::Result<Vec<String>> {
    let mut tx = store.begin_write().await?;
    for a in 0..args.accounts {
        let id = account_id(a);
        tx.insert_account(&Account {
            id: id.clone(),
            name: format!("Tenant {a}"),
            email_enc: None,
            phone_enc: None,
            lang: "zh-CN".into(),
            created_at: t0,
            updated_at: t0,
        })
        .await?;
        let r = Resource {
            id: format!("r{a:05}"),
            account_id: id,
            product: Product::Cvm,
            name: format!("web server {a}"),
            region: "ap-guangzhou".into(),
            identifiers: Vec::new(),
            created_at: t0,
            updated_at: t0,
        };
        tx.insert_resource(&r, &[]).await?;
    }
    tx.commit().await?;
    // 180 days of cases, oldest first, so that ids (time-ordered) follow opened_at.
    let span = 180 * 86_400_000_i64;
    let step = (span / i64::try_from(args.cases).unwrap_or(i64::MAX)).max(1);
    let mut ids = Vec::with_capacity(args.cases);
    let batch = 5_000;
    let mut i = 0;
    while i < args.cases {
        let end = (i + batch).min(args.cases);
        let mut cases = Vec::with_capacity(end - i);
        let mut reports = Vec::with_capacity(end - i);
        let mut events = Vec::with_capacity(2 * (end - i));
        let mut notices = Vec::with_capacity(end - i);
        for n in i..end {
            let a = account_of(n, args.accounts);
            let at = t0 + i64::try_from(n).unwrap_or_default() * step;
            let category = CATEGORIES
                .get(n % CATEGORIES.len())
                .copied()
                .unwrap_or(Category::SpamAds);
            let target = format!("https://site{a}.example.com/p/{n}");
            let state = state_of(n);
            let resource = format!("r{a:05}");
            let id = format!("case_{at:012x}_{n:012x}");
            let rid = format!("rpt_{at:012x}_{n:012x}");
            let source = ["public", "detector", "operator"]
                .get(n % 3)
                .copied()
                .unwrap_or("public");
            cases.push(Case {
                id: id.clone(),
                account_id: Some(account_id(a)),
                resource_id: Some(resource.clone()),
                target: target.clone(),
                category,
                state,
                source: source.into(),
                correlation_key: warden_app::intake::correlation_key(
                    Some(&resource),
                    &target,
                    category,
                ),
                report_count: 1,
                duplicate_count: 0,
                views: 0,
                state_reason: None,
                opened_at: at,
                last_report_at: at,
                updated_at: at,
            });
            let evidence = format!("<html><body>page {n}</body></html>").into_bytes();
            reports.push(Report {
                id: rid.clone(),
                case_id: id.clone(),
                account_id: Some(account_id(a)),
                source: source.into(),
                format: "json".into(),
                category,
                target,
                description: "bench".into(),
                evidence_sha256: Some(warden_domain::sha256_hex(&evidence)),
                evidence: Some(evidence),
                reporter_contact_enc: None,
                submitted_by: "tok_bench".into(),
                confidence: None,
                views: None,
                received_at: at,
            });
            events.push(NewAuditEvent {
                actor: "tok_bench".into(),
                role: "detector".into(),
                action: "report.create".into(),
                subject: format!("report:{rid}"),
                account_id: Some(account_id(a)),
                details: serde_json::json!({ "case_id": id }),
                at,
                ..Default::default()
            });
            let notice = match state {
                State::Alerting => Some(NoticeKind::Alerting),
                State::Enforced | State::UnblockRequested => Some(NoticeKind::Enforced),
                State::Lifted => Some(NoticeKind::Lifted),
                State::Resolved => Some(NoticeKind::Resolved),
                State::Reported | State::Confirmed | State::Dismissed => None,
            };
            if let Some(template) = notice {
                notices.push(Notice {
                    id: format!("ntc_{at:012x}_{n:012x}"),
                    account_id: account_id(a),
                    case_id: Some(id.clone()),
                    template,
                    lang: "zh-CN".into(),
                    title: format!("【{}】case {n}", template.code()),
                    body: "您的资源存在违规内容，请在期限内整改。Your resource shows violating content; rectify it before the deadline.".repeat(3),
                    created_at: at + 60_000,
                    read_at: None,
                });
            }
            if state != State::Reported {
                events.push(NewAuditEvent {
                    actor: "tok_bench_operator".into(),
                    role: "operator".into(),
                    action: format!("case.{}", state.code()),
                    subject: format!("case:{id}"),
                    account_id: Some(account_id(a)),
                    details: serde_json::json!({ "from": "reported", "to": state.code() }),
                    at: at + 60_000,
                    ..Default::default()
                });
            }
            ids.push(id);
        }
        let mut tx = store.begin_write().await?;
        tx.insert_cases(&cases).await?;
        tx.insert_reports(&reports).await?;
        tx.append_audits(events).await?;
        for notice in &notices {
            tx.insert_notice(notice).await?;
        }
        tx.commit().await?;
        i = end;
    }
    Ok(ids)
}

/// A signed-in browser: the session and pre-session cookies of `POST /login`.
async fn sign_in(client: &reqwest::Client, base: &str, login: &str) -> anyhow::Result<String> {
    let form = client.get(format!("{base}/login")).send().await?;
    let pre = cookies(&form);
    let html = form.text().await?;
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("GET /login has no CSRF token")?
        .to_string();
    let body = format!(
        "csrf={}&login={}&password={}",
        urlencode(&csrf),
        urlencode(login),
        urlencode(PASSWORD)
    );
    let resp = client
        .post(format!("{base}/login"))
        .header("cookie", pre.join("; "))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await?;
    let mut all = pre;
    all.extend(cookies(&resp));
    if !all.iter().any(|c| c.starts_with("wdn_session=")) {
        anyhow::bail!(
            "signing in as {login} failed: HTTP {} without a session cookie",
            resp.status()
        );
    }
    Ok(all.join("; "))
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn cookies(resp: &reqwest::Response) -> Vec<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter(|kv| kv.split_once('=').is_some_and(|(_, v)| !v.is_empty()))
        .map(str::to_string)
        .collect()
}

/// How one page or endpoint is asked for.
enum Auth<'a> {
    Cookie(&'a str),
    Bearer(&'a str),
}

struct Latency {
    p50: Duration,
    p99: Duration,
    n: usize,
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>8.1} {:>8.1}  ({:>3})",
            self.p50.as_secs_f64() * 1000.0,
            self.p99.as_secs_f64() * 1000.0,
            self.n
        )
    }
}

/// Fetches `path(i)` one request at a time, `n` times or for 30 s, whichever ends first (at
/// least 5); every answer must be 200.
async fn measure(
    client: &reqwest::Client,
    base: &str,
    auth: Auth<'_>,
    n: usize,
    path: impl Fn(usize) -> String,
) -> anyhow::Result<Latency> {
    let started = Instant::now();
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        if i >= 5 && started.elapsed() > Duration::from_secs(30) {
            break;
        }
        let p = path(i);
        let req = client.get(format!("{base}{p}"));
        let req = match auth {
            Auth::Cookie(c) => req.header("cookie", c),
            Auth::Bearer(t) => req.bearer_auth(t),
        };
        let t = Instant::now();
        let resp = req.send().await.with_context(|| format!("GET {p}"))?;
        let status = resp.status();
        let _ = resp.bytes().await?;
        lat.push(t.elapsed());
        if status != reqwest::StatusCode::OK {
            anyhow::bail!("GET {p} answered {status}");
        }
    }
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Ok(Latency {
        p50: pct(0.5),
        p99: pct(0.99),
        n: lat.len(),
    })
}

async fn run(engine: &str, url: &str, args: &ConsoleArgs) -> anyhow::Result<()> {
    let mut opts = StoreOptions::new(url);
    opts.max_connections = 8;
    let store = Store::open(&opts).await?;
    let now = SystemClock.now().millis();
    let filled = Instant::now();
    let ids = fill(&store, args, now - 181 * 86_400_000).await?;
    store.settle_after_bulk_load().await?;
    let fill_secs = filled.elapsed().as_secs_f64();
    let mut settings = Settings::default();
    settings.sessions.secure_cookies = false;
    settings.sessions.attempts_per_minute = 100;
    let app = crate::wire(
        store,
        Arc::new(SystemClock),
        Sealer::from_key(&[42; 32]),
        settings,
        FetchPolicy::default(),
    );
    let sys = Principal::System;
    let typical = account_id(1);
    let large = account_id(0);
    for (login, role, account) in [
        ("bench-operator", Role::Operator, None),
        ("bench-tenant", Role::Tenant, Some(typical.clone())),
        ("bench-large", Role::Tenant, Some(large.clone())),
    ] {
        app.create_user(
            &sys,
            NewUser {
                login: login.into(),
                role,
                account_id: account,
                account_owner: false,
                password: Some(PASSWORD.into()),
            },
        )
        .await?;
    }
    let op_token = app
        .create_token(&sys, "operator", None, "bench")
        .await?
        .secret;
    let tenant_token = app
        .create_token(&sys, "tenant", Some(&typical), "bench")
        .await?
        .secret;
    let large_token = app
        .create_token(&sys, "tenant", Some(&large), "bench")
        .await?
        .secret;
    let per_tenant = |a: usize| {
        (0..args.cases)
            .filter(|i| account_of(*i, args.accounts) == a)
            .count()
    };
    let (typical_n, large_n) = (per_tenant(1), per_tenant(0));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, mut rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(warden_http::serve(listener, app.clone(), async move {
        let _ = rx.changed().await;
    }));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let op = sign_in(&client, &base, "bench-operator").await?;
    let tenant = sign_in(&client, &base, "bench-tenant").await?;
    let large_tenant = sign_in(&client, &base, "bench-large").await?;
    // Case pages of cases spread over the whole table, the same ones for page and API.
    let pick = |i: usize| {
        ids.get(i.wrapping_mul(7_919_993) % ids.len().max(1))
            .cloned()
            .unwrap_or_default()
    };
    let n = args.requests;
    let c = &client;
    let rows: Vec<(String, Latency, String, Latency)> = vec![
        (
            "triage queue      /staff".into(),
            measure(c, &base, Auth::Cookie(&op), n, |_| "/staff".into()).await?,
            "GET /api/cases?state=reported&limit=50".into(),
            measure(c, &base, Auth::Bearer(&op_token), n, |_| {
                "/api/cases?state=reported&limit=50".into()
            })
            .await?,
        ),
        (
            "staff case list   /staff/cases".into(),
            measure(c, &base, Auth::Cookie(&op), n, |_| "/staff/cases".into()).await?,
            "GET /api/cases?limit=50".into(),
            measure(c, &base, Auth::Bearer(&op_token), n, |_| {
                "/api/cases?limit=50".into()
            })
            .await?,
        ),
        (
            format!("tenant dashboard  /console ({typical_n} cases)"),
            measure(c, &base, Auth::Cookie(&tenant), n, |_| "/console".into()).await?,
            "GET /api/cases?limit=50 (tenant)".into(),
            measure(c, &base, Auth::Bearer(&tenant_token), n, |_| {
                "/api/cases?limit=50".into()
            })
            .await?,
        ),
        (
            format!("tenant dashboard  /console ({large_n} cases)"),
            measure(c, &base, Auth::Cookie(&large_tenant), n, |_| {
                "/console".into()
            })
            .await?,
            "GET /api/cases?limit=50 (tenant)".into(),
            measure(c, &base, Auth::Bearer(&large_token), n, |_| {
                "/api/cases?limit=50".into()
            })
            .await?,
        ),
        (
            format!("tenant inbox      /console/inbox ({typical_n} cases)"),
            measure(c, &base, Auth::Cookie(&tenant), n, |_| {
                "/console/inbox".into()
            })
            .await?,
            "GET /api/notices?limit=50 (tenant)".into(),
            measure(c, &base, Auth::Bearer(&tenant_token), n, |_| {
                "/api/notices?limit=50".into()
            })
            .await?,
        ),
        (
            "case page         /staff/cases/{id}".into(),
            measure(c, &base, Auth::Cookie(&op), n, |i| {
                format!("/staff/cases/{}", pick(i))
            })
            .await?,
            "GET /api/cases/{id}".into(),
            measure(c, &base, Auth::Bearer(&op_token), n, |i| {
                format!("/api/cases/{}", pick(i))
            })
            .await?,
        ),
        (
            "  (its history)".into(),
            Latency {
                p50: Duration::ZERO,
                p99: Duration::ZERO,
                n: 0,
            },
            "GET /api/cases/{id}/history".into(),
            measure(c, &base, Auth::Bearer(&op_token), n, |i| {
                format!("/api/cases/{}/history", pick(i))
            })
            .await?,
        ),
    ];
    println!(
        "{engine}: filled {} cases with a report, their audit events and inbox notices in {fill_secs:.0} s",
        ids.len()
    );
    println!(
        "  {:<44} {:>8} {:>8}  {:>5}   {:<40} {:>8} {:>8}  {:>5}",
        "console page", "p50 ms", "p99 ms", "(n)", "JSON API", "p50 ms", "p99 ms", "(n)"
    );
    for (page, pl, api, al) in &rows {
        let page_fig = if pl.n == 0 {
            format!("{:>8} {:>8}  {:>5}", "", "", "")
        } else {
            pl.to_string()
        };
        println!("  {page:<44} {page_fig}   {api:<40} {al}");
    }
    println!("  goal: p99 <= 100 ms");
    let _ = stop.send(true);
    let _ = server.await;
    app.store.close().await;
    Ok(())
}
